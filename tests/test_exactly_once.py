"""Exactly once, for real: no action runs twice, no decision is reported done and then lost.

Each test reproduces a way it used to go wrong (issue 15) with real
processes, threads and files.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tract_tui import api
from tract_tui.api import open_queue
from tract_tui.exceptions import DatabaseMovedError, ResultNotRecordedError
from tract_tui.review.service import ReviewService
from tract_tui.storage.errors import BUSY_TIMEOUT_ENV

ROOT = Path(__file__).parent.parent

HOLD = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def hold_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the write lock for ``seconds`` (returns once it holds it)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def status(path: Path, pid: str) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute(
            "SELECT status FROM policy_proposals WHERE proposal_id=?", (pid,)
        ).fetchone()[0])  # fmt: skip


def approved_one(path: Path) -> str:
    svc = ReviewService.open(path)
    try:
        pid = svc.list_proposals(limit=1)[0].proposal_id
        svc.approve(pid)
        return pid
    finally:
        svc.close()


class Watch:
    """Every status a proposal passes through, read every few milliseconds by a thread."""

    def __init__(self, path: Path, pid: str) -> None:
        self.path, self.pid = path, pid
        self.seen: list[str] = [status(path, pid)]  # before anything can change it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(path, pid), daemon=True)
        self._thread.start()

    def _run(self, path: Path, pid: str) -> None:
        conn = sqlite3.connect(path)
        while not self._stop.is_set():
            now = conn.execute(
                "SELECT status FROM policy_proposals WHERE proposal_id=?", (pid,)
            ).fetchone()[0]
            if not self.seen or self.seen[-1] != now:
                self.seen.append(now)
            time.sleep(0.003)
        conn.close()

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join()
        last = status(self.path, self.pid)  # the final one, however fast it came
        if self.seen[-1] != last:
            self.seen.append(last)
        return self.seen


def test_a_lock_while_recording_success_is_waited_out_not_sent_round_again(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "200")
    pid = approved_one(v5_db)
    watch = Watch(v5_db, pid)
    with open_queue(v5_db) as queue:
        claim = next(queue.claim_approved("support-agent"))
        with claim:
            holder = hold_lock(v5_db, 1.0)  # longer than the busy timeout: one attempt fails
            claim.commit_hash = "c-1"
        holder.wait(timeout=30)
        assert claim.state == "executed"
    assert watch.stop() == ["approved", "executing", "executed"]  # never approved again
    with sqlite3.connect(v5_db) as conn:
        rows = conn.execute(
            "SELECT outcome, commit_hash FROM policy_log WHERE \"trigger\" = 'execute'"
        ).fetchall()
    assert rows == [("executed", "c-1")]


def test_a_result_that_cannot_be_recorded_keeps_the_claim_and_says_so(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "100")
    monkeypatch.setattr(api, "RECORD_ATTEMPTS", 2)
    monkeypatch.setattr(api, "RECORD_BACKOFF", 0.05)
    pid = approved_one(v5_db)
    holder = None
    with open_queue(v5_db) as queue:
        claim = next(queue.claim_approved("support-agent"))
        with pytest.raises(ResultNotRecordedError, match="stays 'executing'"), claim:
            holder = hold_lock(v5_db, 3.0)
        assert claim.state == "unrecorded"
        claim.release()  # refused: it ran
    assert holder is not None
    holder.wait(timeout=30)
    assert status(v5_db, pid) == "executing"  # closing the queue did not give it back
    with open_queue(v5_db) as other:
        assert list(other.claim_approved("support-agent")) == []  # never handed out again


def test_closing_the_queue_from_another_thread_leaves_a_running_claim_alone(
    v5_db: Path,
) -> None:
    pid = approved_one(v5_db)
    queue = open_queue(v5_db)
    claim = next(queue.claim_approved("support-agent"))
    inside, closed = threading.Event(), threading.Event()
    seen: list[str] = []

    def agent() -> None:
        with claim:
            inside.set()
            closed.wait(10)
            seen.append(status(v5_db, pid))  # while the body still runs
            claim.commit_hash = "c-2"

    worker = threading.Thread(target=agent)
    worker.start()
    inside.wait(10)
    queue.close()  # another thread closes the queue meanwhile
    closed.set()
    worker.join(10)
    assert seen == ["executing"] and claim.state == "executed"
    assert status(v5_db, pid) == "executed"


def test_a_claim_from_a_dropped_iterator_is_still_held(v5_db: Path) -> None:
    pid = approved_one(v5_db)
    with open_queue(v5_db) as queue, open_queue(v5_db) as second_agent:
        claim = next(queue.claim_approved("support-agent"))
        gc.collect()  # the iterator is gone
        assert status(v5_db, pid) == "executing"
        assert list(second_agent.claim_approved("support-agent")) == []  # nobody else gets it
        with claim:
            pass
    assert status(v5_db, pid) == "executed"


def test_a_moved_database_refuses_later_decisions_and_keeps_earlier_ones(
    v5_db: Path, tmp_path: Path
) -> None:
    svc = ReviewService.open(v5_db)
    ids = [p.proposal_id for p in svc.list_proposals(limit=3)]
    moved = tmp_path / "moved.db"
    try:
        svc.approve(ids[0])  # before the move: reported done, must stay done
        os.rename(v5_db, moved)
        for pid in ids[1:]:
            with pytest.raises(DatabaseMovedError, match="moved"):
                svc.approve(pid)
    finally:
        svc.close()
    assert not Path(f"{moved}-wal").exists()
    with sqlite3.connect(moved) as conn:
        statuses = dict(conn.execute(
            "SELECT proposal_id, status FROM policy_proposals WHERE proposal_id IN (?, ?, ?)", ids
        ).fetchall())  # fmt: skip
    # the moved file alone (no -wal beside it, checked above) holds the decision made
    # before the move: it did not stay only in the WAL left under the old name (SQLite
    # never checkpoints a moved database on close, so that WAL is orphaned)
    assert statuses == {ids[0]: "approved", ids[1]: "pending", ids[2]: "pending"}


def test_a_replaced_database_is_refused_too(v5_db: Path, tmp_path: Path) -> None:
    svc = ReviewService.open(v5_db)
    pid = svc.list_proposals(limit=1)[0].proposal_id
    try:
        copy = tmp_path / "copy.db"
        copy.write_bytes(v5_db.read_bytes())
        os.replace(copy, v5_db)  # another file now sits at the path
        with pytest.raises(DatabaseMovedError, match="replaced"):
            svc.approve(pid)
    finally:
        svc.close()
    assert status(v5_db, pid) == "pending"


def test_undo_is_refused_once_an_agent_acted_even_if_it_is_approved_again(v5_db: Path) -> None:
    from tract_tui.exceptions import UndoRefusedError

    svc = ReviewService.open(v5_db)
    try:
        pid = svc.list_proposals(limit=1)[0].proposal_id
        decision = svc.approve(pid)
        with open_queue(v5_db) as queue:  # an agent claims it and fails part-way
            claim = next(queue.claim_approved("support-agent"))
            with pytest.raises(RuntimeError), claim:
                raise RuntimeError("half done")
        assert status(v5_db, pid) == "approved"  # approved again, for a retry ...
        with pytest.raises(UndoRefusedError, match="already acted"):
            svc.undo(decision)  # ... but the reviewer's undo is refused: it was acted on
    finally:
        svc.close()
    assert status(v5_db, pid) == "approved"


# VmHWM, not ru_maxrss: the latter keeps the parent's high-water mark across fork and exec.
MEMORY = """
import sys
from tract_tui.cli import main
sys.stdout = open("/dev/null", "w")
code = main(sys.argv[1:])
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(code, int(hwm) // 1024, file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["list"], ["list", "--json"], ["show", "wide00"]])
def test_memory_does_not_grow_with_the_width_of_rows(
    v5_db: Path, tmp_path: Path, args: list[str]
) -> None:
    """Listings read a bounded prefix of long values; --json streams one row at a time."""
    wide = tmp_path / "wide.db"
    if not wide.exists():
        wide.write_bytes(v5_db.read_bytes())
        blob = "x" * (8 * 1024 * 1024)  # 16 MB a row, as in the report (680 MB / 41 rows)
        with sqlite3.connect(wide) as conn:
            conn.executemany(
                "INSERT INTO policy_proposals VALUES (?, 't', 'p', 'annotate', ?, ?, 'pending',"
                " '2026-02-20 10:00:00.000000', NULL)",
                [(f"wide{i:02d}", f'{{"blob": "{blob}"}}', blob) for i in range(16)],
            )
    command = [args[0], str(wide), *args[1:]]
    done = subprocess.run([sys.executable, "-c", MEMORY, *command], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)  # fmt: skip
    code, peak = done.stderr.split()[-2:]
    assert code == "0", done.stderr
    # 16 rows of 16 MB each (~270 MB on disk): reading them whole at once would need more
    assert int(peak) < 200, f"{args}: peak {peak} MB"


def test_a_pool_used_after_a_move_creates_no_file_there_and_its_decision_reaches_the_moved_one(
    v5_db: Path, tmp_path: Path
) -> None:
    """The race behind a CI failure, made certain: the checkpoint after a decision ran
    only after the file was moved, through a new connection made by name, which created
    an empty database at the old path and left the decision out of the moved file."""
    from tract_tui.storage.connection import ConnectionPool

    pid = ReviewService.open(v5_db).list_proposals(limit=1)[0].proposal_id
    pool = ConnectionPool(str(v5_db))
    old_reader = sqlite3.connect(v5_db)  # a snapshot older than the decision: no
    old_reader.execute("BEGIN")  # checkpoint can copy the decision while it lasts
    old_reader.execute("SELECT count(*) FROM policy_proposals").fetchone()
    moved = tmp_path / "moved.db"
    try:
        with pool.write() as conn:
            conn.execute(
                "UPDATE policy_proposals SET status = 'approved' WHERE proposal_id = ?", (pid,)
            )
        time.sleep(0.2)  # the background checkpoint has run (and copied nothing)
        with pool.read():  # the pool's only connection is in use...
            os.rename(v5_db, moved)
            pool.checkpoint()  # ...so this one would need a new connection: it skips
            with pytest.raises(DatabaseMovedError), pool.read():
                pass  # a read needing a new connection fails; it creates nothing either
            assert not v5_db.exists()
        old_reader.rollback()
        old_reader.close()
    finally:
        pool.close()  # the last checkpoint, through the connection that knows the file
    assert not v5_db.exists()
    assert status(moved, pid) == "approved"
