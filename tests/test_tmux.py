"""The real binary in a real terminal (tmux): approve one, reject one with a typed reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.apphelpers import pending_ids, review_logs, status_of

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(
    TMUX is None and not os.environ.get("CI"), reason="tmux is not installed (CI installs it)"
)


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out at line {sys._getframe(1).f_lineno}")


class Tmux:
    def __init__(self, command: list[str], size: tuple[int, int] = (120, 36)) -> None:
        self.name = f"tt-{uuid.uuid4().hex[:8]}"
        shell = " ".join(f"'{c}'" for c in command)
        subprocess.run(
            [
                TMUX or "tmux",
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                str(size[0]),
                "-y",
                str(size[1]),
                f"{shell}; sleep 30",
            ],
            check=True,
            env={**os.environ, "TERM": "xterm-256color"},
        )

    def screen(self) -> str:
        out = subprocess.run(
            [TMUX or "tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        )
        return out.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([TMUX or "tmux", "send-keys", "-t", self.name, *keys], check=True)

    def kill(self) -> None:
        subprocess.run([TMUX or "tmux", "kill-session", "-t", self.name], capture_output=True)


def test_approve_and_reject_in_a_real_terminal(v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    binary = Path(sys.executable).parent / "tract-tui"
    term = Tmux([str(binary), str(v5_db)])
    try:
        wait_for(lambda: "10 pending" in term.screen() and ids[0][:8] in term.screen())
        term.keys("a")
        wait_for(lambda: status_of(v5_db, ids[0]) == "approved")
        wait_for(lambda: "9 pending" in term.screen())
        term.keys("r")
        wait_for(lambda: "Enter rejects" in term.screen())
        term.keys("-l", "too risky [bold]now[/]")
        term.keys("Enter")
        wait_for(lambda: status_of(v5_db, ids[1]) == "rejected")
        wait_for(lambda: "8 pending" in term.screen())
        term.keys("q")
        wait_for(lambda: "pending" not in term.screen())
    finally:
        term.kill()
    assert [status_of(v5_db, i) for i in ids[:3]] == ["approved", "rejected", "pending"]
    outcomes = [(r[2], r[3].split(": ", 1)[-1]) for r in review_logs(v5_db)]
    assert outcomes[0][0] == "approved"
    assert outcomes[1] == ("rejected", "too risky [bold]now[/]")


def test_a_full_review_at_80x24(v5_db: Path) -> None:
    """Filter, zoom, mark a range, bulk approve, undo, copy, quit with Ctrl+C: at 80x24."""
    annotates = [
        pid for pid in pending_ids(v5_db)
        if subprocess.run([sys.executable, "-m", "tract_tui", "show", str(v5_db), pid],
                          capture_output=True, text=True).stdout.count("action    annotate")
    ]  # fmt: skip
    assert len(annotates) == 3
    binary = Path(sys.executable).parent / "tract-tui"
    term = Tmux([str(binary), str(v5_db)], size=(80, 24))
    try:
        run_full_review(term, v5_db, annotates)
    except AssertionError as e:
        raise AssertionError(f"{e}; the screen was:\n" + term.screen()) from None
    finally:
        term.kill()
    assert [o for _p, _t, o, *_ in review_logs(v5_db)] == ["approved"] * 3 + ["reopened"] * 3


def press_until(term: Tmux, key: str, check: Callable[[], bool], tries: int = 5) -> None:
    """Press ``key`` until ``check`` holds (for a key that does nothing when pressed again)."""
    for _ in range(tries):
        term.keys(key)
        try:
            wait_for(check, timeout=3.0)
            return
        except AssertionError:
            continue
    raise AssertionError(f"{key} never took effect")


def run_full_review(term: Tmux, v5_db: Path, annotates: list[str]) -> None:
    if True:
        wait_for(lambda: "10 pending" in term.screen())
        term.keys("/")
        term.keys("-l", "action:annotate")
        term.keys("Enter")
        wait_for(lambda: "filter: action:annotate" in term.screen())
        term.keys("Enter")  # zoom
        wait_for(lambda: f"annotate proposal {annotates[0]}" in term.screen())
        # The zoom takes keys once mounted, which on a loaded machine can come well after
        # its title is drawn: End (idempotent) until its body has scrolled, then Escape.
        top = term.screen()
        press_until(term, "End", lambda: term.screen() != top)
        term.keys("Escape")
        wait_for(lambda: "filter: action:annotate" in term.screen())
        term.keys("v", "j", "j", "v")  # mark a range of three
        wait_for(lambda: "3 marked" in term.screen())
        term.keys("a")
        wait_for(lambda: "Approve 3 marked proposals?" in term.screen())
        term.keys("y")
        wait_for(lambda: all(status_of(v5_db, p) == "approved" for p in annotates))
        term.keys("u")  # one u undoes the whole bulk decision
        wait_for(lambda: all(status_of(v5_db, p) == "pending" for p in annotates))
        # The undo reloads the list; a `y` that lands while its rows are being read finds no
        # row to copy (a CI rehearsal on two workers hit that window). Copying is idempotent.
        press_until(term, "y", lambda: "Copied" in term.screen())
        term.keys("C-c")
        wait_for(lambda: "pending" not in term.screen())


#: Runs the console as ``tract-tui PATH`` does, writes the rows its table drew before the
#: first frame with rows, as "index width" lines, to argv[2], and quits.
FIRST_FRAME_PROBE = """
import sys
import tract_tui.app as console
from tract_tui.app import table as table_module
from tract_tui.app.app import ReviewApp

drawn = []
row_strip = table_module.VirtualTable._row_strip

def spy(self, row, index, shown, base, width):
    before = len(self._strips)
    strip = row_strip(self, row, index, shown, base, width)
    if len(self._strips) != before:
        drawn.append((index, width))
    return strip

table_module.VirtualTable._row_strip = spy
init = ReviewApp.__init__

def patched(self, *args, **kwargs):
    init(self, *args, **kwargs)

    def first_frame():
        if not drawn:  # a first page later than PRELOAD_WAIT (a loaded machine): its frame
            self.set_timer(0.02, first_frame)
            return
        with open(sys.argv[2], "w") as out:
            out.writelines(f"{i} {w}\\n" for i, w in drawn)
        self.exit()

    self.first_frame_hooks.append(first_frame)

ReviewApp.__init__ = patched
console.run_console(sys.argv[1])
"""


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (200, 50)])
def test_the_first_frame_draws_each_row_once(
    v5_db: Path, tmp_path: Path, size: tuple[int, int]
) -> None:
    """In a real terminal the first Resize comes after the first layout: the detail pane's
    width and the stacked layout, set on it, laid the screen out again and drew every row a
    second time at the new width before the first frame (12 ms of a 140 ms first frame).
    Pilot cannot show it: there the size is known before the first layout."""
    out = tmp_path / "drawn.txt"
    term = Tmux([sys.executable, "-c", FIRST_FRAME_PROBE, str(v5_db), str(out)], size)
    try:
        wait_for(lambda: out.exists() and out.stat().st_size > 0)
    finally:
        term.kill()
    drawn = [tuple(map(int, line.split())) for line in out.read_text().splitlines()]
    assert len(drawn) == 10, drawn  # the fixture's ten pending proposals, each once
    assert len({w for _, w in drawn}) == 1, drawn
