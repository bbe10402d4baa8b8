"""The layering contract, size limits, and the Textual internals the console leans on.

Like Harlequin's import-linter contract, read from the source itself (every
import statement, module level or inside a function), so a layer cannot
quietly reach up or sideways:

- models and exceptions import neither SQLAlchemy nor Textual (nor storage,
  review, app or cli);
- storage and review never import Textual (nor app or cli); storage never
  imports review;
- app and cli import neither ``sqlite3`` nor ``sqlalchemy``: they call the
  review service.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "tract_tui"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60

#: layer -> (modules or packages below tract_tui it covers, import prefixes it may not use)
CONTRACT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "models": (
        ("models", "exceptions"),
        ("sqlalchemy", "textual", "tract_tui.storage", "tract_tui.review", "tract_tui.app",
         "tract_tui.cli"),
    ),
    "storage": (
        ("storage",),
        ("textual", "tract_tui.review", "tract_tui.app", "tract_tui.cli", "tract_tui.present"),
    ),
    "review": (("review",), ("textual", "tract_tui.app", "tract_tui.cli", "tract_tui.present")),
    "front ends": (("app", "cli", "present"), ("sqlite3", "sqlalchemy")),
}  # fmt: skip


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def layer_of(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, relative ones made absolute."""
    package = ".".join(("tract_tui", *path.relative_to(PACKAGE).parent.parts))
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
    return found


@pytest.mark.parametrize("layer", list(CONTRACT))
def test_import_contract(layer: str) -> None:
    covered, forbidden = CONTRACT[layer]
    broken = [
        f"{path.relative_to(PACKAGE)}:{line} imports {name}"
        for path in modules()
        if layer_of(path) in covered
        for line, name in imported(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert not broken, "\n".join(broken)


def test_the_contract_covers_every_module() -> None:
    covered = {m for mods, _ in CONTRACT.values() for m in mods}
    allowed_elsewhere = {"__init__", "__main__", "api", "demo", "execute", "settings", "text"}
    loose = {layer_of(p) for p in modules()} - covered - allowed_elsewhere
    assert not loose, f"modules no layer of the contract covers: {loose}"


def test_no_module_or_function_is_too_long() -> None:
    """600 lines a module, 60 a function: each file one concern, each function one job."""
    long: list[str] = []
    for path in modules():
        source = path.read_text()
        lines = source.count("\n") + 1
        if lines > MAX_MODULE_LINES:
            long.append(f"{path.relative_to(PACKAGE)}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {n}")
    assert not long, "\n".join(long)


def test_layers_below_the_console_load_no_textual_at_run_time() -> None:
    code = (
        "import sys, tract_tui.models, tract_tui.storage, tract_tui.exceptions, tract_tui.review,"
        " tract_tui.api, tract_tui.cli;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual');"
        "assert not bad, bad[:5];"
        "import tract_tui.models as m;"
        "bad = [n for n in sys.modules if n.split('.')[0] == 'sqlalchemy'];"
        "assert not bad, 'opening nothing needs no SQLAlchemy: ' + repr(bad[:5])"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_textual_internals_we_override_still_exist() -> None:
    """CoalescingFooter overrides Footer internals; a Textual release that renames them must
    fail here, loudly, instead of quietly bringing the per-change footer rebuilds back."""
    from textual.screen import Screen
    from textual.widgets import Footer

    from tract_tui.app.footer import CoalescingFooter

    assert callable(getattr(Footer, "bindings_changed", None)), "Footer.bindings_changed"
    assert "_bindings_ready" in Footer._reactives, "Footer._bindings_ready"
    screen_source = Path(sys.modules[Screen.__module__].__file__ or "").read_text()
    assert "self.bindings_updated_signal" in screen_source, "Screen.bindings_updated_signal"
    assert CoalescingFooter.bindings_changed is not Footer.bindings_changed
    source = Path(sys.modules[Footer.__module__].__file__ or "").read_text()
    assert "bindings_updated_signal.subscribe(self, self.bindings_changed)" in source
    from textual.widgets._footer import FooterKey  # CoalescingFooter.compose presets it

    assert "compact" in FooterKey._reactives, "FooterKey.compact"
    assert ".data_bind(compact=Footer.compact)" in source, "Footer.compose binds compact"
    from textual.app import App

    assert callable(getattr(App, "_shutdown", None)), "App._shutdown (ReviewApp waits in it)"


def test_the_binding_lookup_run_early_is_the_one_textual_runs_last() -> None:
    """ReviewApp.run_binding_early calls App._check_bindings where the key arrives; it must
    still be the lookup App._on_key makes once a key has bubbled up (else keys would act
    differently on the lists than elsewhere)."""
    import inspect

    from textual.app import App

    assert "await self._check_bindings(event.key)" in inspect.getsource(App._on_key)
    assert list(inspect.signature(App._check_bindings).parameters) == ["self", "key", "priority"]
