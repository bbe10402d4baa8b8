"""What the reviewer is told is true: output that degrades, reports per ID, a full disk named.

Issue 15: a CLI that committed must never then say "file left unchanged"
(an encoding error after the commit), a bulk decision always reports each
ID, a full disk is "disk full" (not "damaged"), and a file name is text
like any other: it never reaches the terminal as escape sequences.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.apphelpers import SIZE, clock, pending_ids, settle, status_of
from tract_tui.app import ReviewApp
from tract_tui.cli import main
from tract_tui.review.service import ReviewService
from tract_tui.storage.errors import BUSY_TIMEOUT_ENV

ROOT = Path(__file__).parent.parent
ESC = "\x1b"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tract_tui", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**os.environ, "COLUMNS": "120", **env}, encoding="utf-8", errors="replace",
    )  # fmt: skip


def test_an_ascii_terminal_gets_every_report_after_the_commit(v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    approved = run("approve", str(v5_db), ids[0][:8], PYTHONIOENCODING="ascii")
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.startswith(f"approved {ids[0]}") and "-" in approved.stdout
    assert status_of(v5_db, ids[0]) == "approved"
    listed = run("list", str(v5_db), PYTHONIOENCODING="ascii")
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    assert listed.stdout.isascii() and "..." in listed.stdout  # the ellipsis, made plain
    shown = run("list", str(v5_db), "--json", PYTHONIOENCODING="ascii")
    assert shown.returncode == 0 and len(json.loads(shown.stdout)) == 9


def test_a_lock_part_way_through_a_bulk_approve_reports_every_id(
    v5_db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ReviewService.open(v5_db).close()
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "150")
    ids = pending_ids(v5_db)[:4]
    holder: list[sqlite3.Connection] = []
    real = ReviewService.decide

    def decide_then_lock(self: ReviewService, pid: str, status: str, note: str | None = None):
        decision = real(self, pid, status, note)
        if not holder:  # after the first decision, another process takes the lock
            conn = sqlite3.connect(v5_db, isolation_level=None, check_same_thread=False)
            conn.execute("BEGIN IMMEDIATE")
            holder.append(conn)
        return decision

    monkeypatch.setattr(ReviewService, "decide", decide_then_lock)
    try:
        code = main(["approve", str(v5_db), *ids, "--json"])
    finally:
        for conn in holder:
            conn.rollback()
            conn.close()
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 1
    assert [r["decided"] for r in report] == [True, False, False, False]
    assert all("locked by another process" in r["error"] for r in report[1:])
    assert [status_of(v5_db, i) for i in ids] == ["approved", "pending", "pending", "pending"]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Path:
    """A 1 MB tmpfs (root may mount one; skipped where the machine does not allow it)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(directory: Path) -> Path:
    """Fill the disk to the last block; returns the filler file (delete it to free space)."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        except OSError:
            pass
    return filler


async def test_a_full_disk_is_named_and_the_console_keeps_running(
    v5_db: Path, tiny_disk: Path
) -> None:
    path = tiny_disk / "agent.db"
    shutil.copy(v5_db, path)
    ReviewService.open(path).close()
    ids = pending_ids(path)
    app = ReviewApp(path, clock=clock, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)  # open (its -wal and -shm exist), then the disk fills up
        filler = fill(tiny_disk)
        cli = run("approve", str(path), ids[1][:8])
        assert cli.returncode in (1, 2), cli
        assert "disk is full" in cli.stderr and "damaged" not in cli.stderr, cli.stderr
        await pilot.press("a")
        await settle(pilot)
        assert any("disk is full" in n.message for n in app._notifications)
        filler.unlink()  # space again: the same file works
        await pilot.press("a")
        await settle(pilot)
        assert app.is_running
    assert status_of(path, ids[0]) == "approved"


async def test_a_file_name_with_escape_sequences_never_reaches_the_terminal(
    v5_db: Path, tmp_path: Path
) -> None:
    hostile = tmp_path / f"{ESC}]0;PWNED\x07{ESC}[41mRED.db"
    shutil.copy(v5_db, hostile)
    app = ReviewApp(hostile, clock=clock, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert ESC not in app.sub_title and "\x07" not in app.sub_title
        assert "RED.db" in app.sub_title
    missing = tmp_path / f"{ESC}[2Jgone.db"
    r = run("list", str(missing))
    assert r.returncode == 2 and ESC not in r.stderr and "gone.db" in r.stderr


def test_a_file_name_with_escapes_in_a_real_terminal(v5_db: Path, tmp_path: Path) -> None:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed (CI installs it)")
    hostile = tmp_path / f"{ESC}]0;PWNED\x07{ESC}[41mRED.db"
    shutil.copy(v5_db, hostile)
    name = f"tt-{uuid.uuid4().hex[:8]}"
    binary = Path(sys.executable).parent / "tract-tui"
    subprocess.run([tmux, "new-session", "-d", "-s", name, "-x", "120", "-y", "30",
                    "--", str(binary), str(hostile)], check=True)  # fmt: skip
    try:
        for _ in range(100):
            screen = subprocess.run([tmux, "capture-pane", "-p", "-t", name],
                                    capture_output=True, text=True).stdout  # fmt: skip
            if "pending" in screen:
                break
            subprocess.run(["sleep", "0.1"])
        title = subprocess.run([tmux, "display-message", "-p", "-t", name, "#{pane_title}"],
                               capture_output=True, text=True).stdout  # fmt: skip
        assert "PWNED" not in title
        assert "RED.db" in screen
    finally:
        subprocess.run([tmux, "kill-session", "-t", name], capture_output=True)
