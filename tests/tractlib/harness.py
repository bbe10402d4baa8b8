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


class Library:
    """One library process answering oracle tasks one at a time (``oracle.py -``).

    For a test that changes a file with the library between its own looks
    at it: starting the library per step would cost a second each.
    """

    def __init__(self, version: str) -> None:
        self.process = subprocess.Popen(
            [str(python_for(version)), str(HERE / "oracle.py"), "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip

    def ask(self, task: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(task) + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        assert "crash" not in answer, answer["crash"]
        return answer

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
