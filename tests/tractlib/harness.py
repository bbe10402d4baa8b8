"""Finding the real tract library, and asking it questions, from tract-tui's own tests.

The library is installed in interpreters of its own (one per schema version:
v5, v6 and v8 all install as ``tract-ai 0.1.0``), never beside tract-tui's
test environment. ``.ci/run`` makes them (``.venv-tract-v5`` ...) and sets
``TRACT_TUI_REQUIRE_TRACT=1``: there a missing interpreter fails the tests
instead of skipping them. Elsewhere they skip, saying why.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent.parent
HERE = Path(__file__).parent
VERSIONS = ("v5", "v6", "v8")
#: "v5=/path/to/python,v6=..." overrides where each version's interpreter is.
PYTHONS_ENV = "TRACT_TUI_TRACT_PYTHONS"
REQUIRE_ENV = "TRACT_TUI_REQUIRE_TRACT"


def pythons() -> dict[str, Path]:
    found = {v: ROOT / f".venv-tract-{v}" / "bin" / "python" for v in VERSIONS}
    for item in os.environ.get(PYTHONS_ENV, "").split(","):
        if "=" in item:
            version, path = item.split("=", 1)
            found[version.strip()] = Path(path.strip())
    return {v: p for v, p in found.items() if p.exists()}


def python_for(version: str) -> Path:
    """The interpreter with tract ``version`` installed; skip (or fail in CI) without one."""
    path = pythons().get(version)
    if path is None:
        message = (
            f"the real tract library ({version}) is not installed: .ci/run installs it from "
            f"../shared/tract-wheels into .venv-tract-{version} (or set {PYTHONS_ENV})"
        )
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_script(version: str, script: str, *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [str(python_for(version)), str(HERE / script), *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"{script} ({version}) failed:\n{done.stderr[-3000:]}")
    return done.stdout


def ask(version: str, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The library's answers to oracle tasks (tests/tractlib/oracle.py)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(tasks, f)
    try:
        answers: list[dict[str, Any]] = json.loads(run_script(version, "oracle.py", f.name))
    finally:
        os.unlink(f.name)
    crashed = [a["crash"] for a in answers if "crash" in a]
    assert not crashed, crashed[0]
    return answers
