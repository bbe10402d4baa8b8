"""What a reviewer chose, kept between runs, in the platform's own places (no Textual here).

- Settings (the theme, which action types ask before approving) live in
  ``settings.json`` in the user's config directory: ``~/.config/tract-tui`` on
  Linux, ``~/Library/Application Support/tract-tui`` on macOS, ``%APPDATA%``
  on Windows (platformdirs decides), or ``$TRACT_TUI_CONFIG_DIR``.
- The demo database lives in the user's data directory, the log's search
  cache in the user's cache directory (``$TRACT_TUI_CACHE_DIR`` overrides).

A settings file that is missing, unreadable or not what we wrote means the
defaults; saving writes a new file and renames it into place, so a crash
never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import platformdirs

APP = "tract-tui"
#: Action types that ask before they are approved: they replace or move context away.
DESTRUCTIVE = ("compress", "archive")


def _platform(path: Path, fallback: str) -> Path:
    """platformdirs' answer; a relative one (a relative ``$XDG_*``, which the XDG spec says to
    ignore) falls back to the spec's default under the home directory."""
    return path if path.is_absolute() else Path.home() / fallback / APP


def config_dir() -> Path:
    explicit = os.environ.get("TRACT_TUI_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    return _platform(platformdirs.user_config_path(APP), ".config")


def data_dir() -> Path:
    explicit = os.environ.get("TRACT_TUI_DATA_DIR")
    if explicit:
        return Path(explicit)
    return _platform(platformdirs.user_data_path(APP), ".local/share")


def cache_dir() -> Path:
    explicit = os.environ.get("TRACT_TUI_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return _platform(platformdirs.user_cache_path(APP), ".cache")


@dataclass
class Settings:
    """The reviewer's choices. ``confirm`` says which action types ask before approval:
    the destructive ones by name, and ``unknown`` for any type tract-tui does not know."""

    theme: str | None = None
    confirm: dict[str, bool] = field(
        default_factory=lambda: {"compress": True, "archive": True, "unknown": True}
    )

    def asks_before(self, action_type: str) -> bool:
        """Does approving this action type need a confirmation?"""
        known = ("compress", "archive", "annotate", "branch")
        key = action_type if action_type in known else "unknown"
        return bool(self.confirm.get(key, key != "annotate" and key != "branch"))


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load() -> Settings:
    """The saved settings, or the defaults when there are none (or they cannot be read)."""
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Settings()
    out = Settings()
    if isinstance(data, dict):
        if isinstance(data.get("theme"), str):
            out.theme = data["theme"]
        confirm = data.get("confirm")
        if isinstance(confirm, dict):
            out.confirm.update({str(k): bool(v) for k, v in confirm.items()})
    return out


def save(settings: Settings) -> None:
    """Write the settings atomically; an unwritable config directory is not an error."""
    path = settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(settings), f, indent=2)
        os.replace(tmp, path)
    except OSError:
        pass
