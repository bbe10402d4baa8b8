"""Shared test helpers: every test works on a COPY of a fixture database."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session", autouse=True)
def committed_fixtures_untouched() -> Iterator[None]:
    """No test may open the committed fixtures themselves (only copies)."""
    before = {p.name: sha256(p) for p in FIXTURES.glob("*.db")}
    yield
    assert {p.name: sha256(p) for p in FIXTURES.glob("*.db")} == before
    strays = [p.name for p in FIXTURES.iterdir() if p.suffix not in (".db", ".json")]
    assert not strays, f"a test opened a committed fixture in place: {strays}"


@pytest.fixture(autouse=True)
def search_cache_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The log's search cache goes to a temporary directory, never ~/.cache.

    An environment variable, so the CLI subprocesses a test starts inherit it.
    """
    path = tmp_path_factory.mktemp("tract-tui-cache")
    monkeypatch.setenv("TRACT_TUI_CACHE_DIR", str(path))
    # settings (theme, confirmations) too: a test never reads or writes the user's own
    monkeypatch.setenv("TRACT_TUI_CONFIG_DIR", str(tmp_path_factory.mktemp("tract-tui-config")))
    monkeypatch.delenv("TRACT_TUI_SEARCH_INDEX", raising=False)
    return path


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Callable[[int], Path]:
    """Return a function copying tract-vN.db into tmp_path (never touch the committed files)."""

    def copy(version: int = 5, name: str | None = None) -> Path:
        dest = tmp_path / (name or f"tract-v{version}.db")
        shutil.copy(FIXTURES / f"tract-v{version}.db", dest)
        dest.chmod(0o644)
        return dest

    return copy


@pytest.fixture
def v5_db(fixture_copy: Callable[[int], Path]) -> Path:
    return fixture_copy(5)


def untrailed(value: object) -> object:
    """A policy_log reason without tract-tui's proposal trailer (other values unchanged).

    Tests that compare reasons compare what the reviewer wrote; the trailer
    (the proposal's id, see models/review.proposal_trailer) is checked on its own.
    """
    from tract_tui.models.review import split_trailer

    return split_trailer(value)[0] if isinstance(value, str) else value


def untrailed_rows(rows: list[Any]) -> list[Any]:
    return [tuple(untrailed(v) for v in r) for r in rows]
