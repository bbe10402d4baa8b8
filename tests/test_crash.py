"""SIGKILL at random moments: a migration or a decision is all there or not there at all.

Each trial forks a child (from a forkserver that has tract-tui imported, so a
trial costs milliseconds, not a Python start-up), lets it start migrating a
copy of tract-v1.db / tract-v4.db (or deciding / expiring proposals in a v5
copy), and kills it with SIGKILL after a random delay. Then, opening the file
as the next program would (SQLite recovers the WAL):

- ``PRAGMA integrity_check`` is ``ok``;
- a migration left the file at its old version with exactly its old tables
  and rows, or at v5 with all its old rows plus the new, empty tables;
- a decision left the proposal pending with no log row, or decided with
  exactly one; an expiry left every proposal either pending without a log
  row or expired with exactly one.

Half the trials run the child "slowed": an SQLite progress handler sleeps
every few hundred VM steps, stretching the transaction so that kills land
inside it; the other half run at full speed, so kills also land in the
commit, the checkpoint and the close. The child reports when its write
transaction began and when it asked to commit, so the test can check that
kills really landed mid-way, not only before or after.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, untrailed_rows
from tract_tui.review.service import EXPIRE_BATCH
from tract_tui.storage.schema import MIGRATION_TABLES

TRIALS = 24
SLOW_EVERY = 25  # VM instructions between the slowed child's sleeps
SLOW_SLEEP = 0.0002

_ctx = multiprocessing.get_context("forkserver")
_ctx.set_forkserver_preload(["tests.test_crash"])


# --- in the child ---------------------------------------------------------------------------


def _instrument(events: Connection, slow: bool) -> Callable[[], None]:
    """Make every new sqlite3 connection report BEGIN IMMEDIATE / COMMIT on ``events``
    (and, if ``slow``, sleep every few VM steps) once the returned ``arm()`` is called.

    Installed before the database is opened, so pooled connections have it too.
    """
    real_connect = sqlite3.connect
    armed = [False]

    def trace(statement: str) -> None:
        if not armed[0]:
            return
        head = statement.lstrip()[:16].upper()
        if head.startswith("BEGIN IMMEDIATE"):
            events.send_bytes(b"B")
        elif head.startswith("COMMIT"):
            events.send_bytes(b"C")

    def progress() -> int:
        if armed[0]:
            time.sleep(SLOW_SLEEP)
        return 0

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real_connect(*args, **kwargs)
        conn.set_trace_callback(trace)
        if slow:
            conn.set_progress_handler(progress, SLOW_EVERY)
        return conn

    sqlite3.connect = connect  # type: ignore[assignment]
    sqlite3.dbapi2.connect = connect  # type: ignore[assignment]  # what SQLAlchemy calls

    def arm() -> None:
        armed[0] = True
        events.send_bytes(b"R")

    return arm


def child_migrate(path: str, events: Connection, slow: bool) -> None:
    from tract_tui.storage.open import open_database

    arm = _instrument(events, slow)
    arm()
    open_database(path).engine.dispose()
    events.send_bytes(b"D")


def child_decide(path: str, events: Connection, slow: bool, what: str, pid: str) -> None:
    from datetime import timedelta

    from tract_tui.review.service import ReviewService

    arm = _instrument(events, slow)
    svc = ReviewService.open(path, reviewer="crash-test")
    arm()
    if what == "approve":
        svc.approve(pid, note="crash")
    elif what == "reject":
        svc.reject(pid, reason="crash")
    else:
        svc.expire(timedelta(seconds=0))
    events.send_bytes(b"D")
    svc.close()


# --- in the test ----------------------------------------------------------------------------


def run_and_kill(target: Callable[..., None], args: tuple[Any, ...], delay: float) -> str:
    """Run ``target`` in a forked child, SIGKILL it ``delay`` s after it is ready.

    Returns what the child reported: R ready, B began a write transaction,
    C asked to commit, D done.
    """
    reader, writer = _ctx.Pipe(duplex=False)
    proc = _ctx.Process(target=target, args=(*args[:1], writer, *args[1:]))
    proc.start()
    writer.close()
    seen = b""
    assert reader.poll(30), "the child never got ready"
    seen += reader.recv_bytes()
    assert seen == b"R"
    time.sleep(delay)
    proc.kill()
    proc.join(10)
    while reader.poll(0):
        try:
            seen += reader.recv_bytes()
        except EOFError:
            break
    reader.close()
    return seen.decode()


def timed(target: Callable[..., None], args: tuple[Any, ...]) -> dict[str, float]:
    """When (seconds after "ready") ``target`` began writing (B), committed (C), was done (D)."""
    reader, writer = _ctx.Pipe(duplex=False)
    proc = _ctx.Process(target=target, args=(*args[:1], writer, *args[1:]))
    proc.start()
    writer.close()
    assert reader.poll(30)
    assert reader.recv_bytes() == b"R"
    start = time.monotonic()
    marks: dict[str, float] = {}
    while "D" not in marks:
        assert reader.poll(30), "the child never finished"
        marks.setdefault(reader.recv_bytes().decode(), time.monotonic() - start)
    proc.join(10)
    assert proc.exitcode == 0
    assert "B" in marks and "C" in marks, marks
    return marks


def kill_delay(rng: random.Random, marks: dict[str, float]) -> float:
    """A third of the kills anywhere, a third inside the write transaction, a third after it."""
    third = rng.randrange(3)
    if third == 0:
        return rng.uniform(0, marks["D"] * 1.2)
    if third == 1:
        return rng.uniform(marks["B"], marks["C"] + 0.002)
    return rng.uniform(marks["C"], marks["D"] + 0.005)


def q(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return untrailed_rows(conn.execute(sql, params).fetchall())
    finally:
        conn.close()


def snapshot(path: Path) -> dict[str, str]:
    """A digest of every table's rows (``_trace_meta`` without its schema_version row)."""
    out = {}
    names = [r[0] for r in q(path, "SELECT name FROM sqlite_master WHERE type='table'")]
    for name in names:
        where = " WHERE key != 'schema_version'" if name == "_trace_meta" else ""
        rows = sorted(repr(r) for r in q(path, f'SELECT * FROM "{name}"{where}'))
        out[name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


def integrity_ok(path: Path) -> None:
    assert q(path, "PRAGMA integrity_check") == [("ok",)]


def clear(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize("version", [1, 4])
def test_migration_killed_at_random_moments(version: int, tmp_path: Path) -> None:
    source = tmp_path / "pristine.db"  # never open the committed fixture itself
    shutil.copy(FIXTURES / f"tract-v{version}.db", source)
    before = snapshot(source)
    new_tables = set().union(*(MIGRATION_TABLES[v] for v in range(version + 1, 6)))
    path = tmp_path / "victim.db"
    durations = {}
    for slow in (False, True):
        shutil.copy(source, path)
        durations[slow] = timed(child_migrate, (str(path), slow))
        clear(path)
    rng = random.Random(version)
    outcomes: Counter[str] = Counter()
    # The random trials, then (a loaded machine runs slower than the timing above, so
    # the kills meant for after the commit can all land before it) later and later
    # ones until both outcomes were seen: a migration that never commits still fails.
    late = (1.5**k for k in range(1, 13))
    trial = 0
    while trial < TRIALS or not (outcomes["v5"] and outcomes["old, killed mid-transaction"]):
        slow = trial % 2 == 1
        delay = kill_delay(rng, durations[slow])
        if trial >= TRIALS:
            marks = durations[slow]
            stretch = next(late, None)
            assert stretch is not None, outcomes
            delay = (rng.uniform(marks["B"], marks["C"]) if outcomes["v5"]
                     else marks["D"] * stretch)  # fmt: skip
        trial += 1
        shutil.copy(source, path)
        seen = run_and_kill(child_migrate, (str(path), slow), delay)
        integrity_ok(path)
        found = q(path, "SELECT value FROM _trace_meta WHERE key='schema_version'")
        after = snapshot(path)
        if found == [(str(version),)]:
            assert after == before, f"trial {trial}: old version but rows/tables changed"
            outcomes["old, killed mid-transaction" if "B" in seen else "old"] += 1
        else:
            assert found == [("5",)], found
            assert set(after) == set(before) | new_tables
            assert {k: after[k] for k in before} == before, f"trial {trial}: old rows changed"
            for table in new_tables:
                assert q(path, f'SELECT count(*) FROM "{table}"') == [(0,)]
            outcomes["v5"] += 1
        clear(path)
    print(f"\nv{version} migration kills: {dict(outcomes)} in {trial} (durations {durations})")


PENDING = "ab18"  # a prefix of a pending proposal in tract-v5.db


@pytest.mark.parametrize("what", ["approve", "reject", "expire"])
def test_decision_killed_at_random_moments(what: str, tmp_path: Path) -> None:
    from tract_tui.review.service import ReviewService

    base = tmp_path / "base.db"
    shutil.copy(FIXTURES / "tract-v5.db", base)
    svc = ReviewService.open(base)  # migrated and indexed before the trials
    pid = svc.resolve_id(PENDING)
    svc.close()
    if what == "expire":  # enough proposals for several expiry batches (one transaction each)
        with sqlite3.connect(base) as conn:
            conn.executemany(
                "INSERT INTO policy_proposals VALUES (?, 'crash', 'p', 'annotate', '{}', 'r', "
                "'pending', '2026-01-01 00:00:00.000000', NULL)",
                [(f"crash{i:04d}",) for i in range(250)],
            )
        conn.close()
    pending = [
        r[0] for r in q(base, "SELECT proposal_id FROM policy_proposals WHERE status='pending'")
    ]
    logs_before = q(base, "SELECT count(*) FROM policy_log")[0][0]
    path = tmp_path / "victim.db"
    durations = {}
    for slow in (False, True):
        clear(path)
        shutil.copy(base, path)
        durations[slow] = timed(child_decide, (str(path), slow, what, pid))
    rng = random.Random(what)
    outcomes: Counter[str] = Counter()
    trials = TRIALS if what != "expire" else TRIALS // 2
    for trial in range(trials):
        slow = trial % 2 == 1
        clear(path)
        shutil.copy(base, path)
        seen = run_and_kill(
            child_decide, (str(path), slow, what, pid), kill_delay(rng, durations[slow])
        )
        integrity_ok(path)
        new_logs = q(
            path,
            "SELECT outcome, reason, policy_name FROM policy_log ORDER BY id LIMIT -1 OFFSET ?",
            (logs_before,),
        )
        status = dict(
            q(
                path,
                "SELECT proposal_id, status FROM policy_proposals WHERE proposal_id IN "
                f"({','.join('?' * len(pending))})",
                tuple(pending),
            )
        )
        if what == "expire":
            expired = [p for p in pending if status[p] == "expired"]
            assert all(status[p] in ("pending", "expired") for p in pending)
            assert len(new_logs) == len(expired), (trial, seen, len(new_logs), len(expired))
            assert all(outcome == "expired" for outcome, _, _ in new_logs)
            key = "none" if not expired else "all" if len(expired) == len(pending) else "some"
            if key == "some":  # only whole batches (one transaction each) are ever done
                assert "C" in seen and len(expired) % EXPIRE_BATCH == 0, len(expired)
        else:
            decided = "approved" if what == "approve" else "rejected"
            if status[pid] == "pending":
                assert new_logs == [], (trial, seen)
                key = "pending, killed mid-transaction" if "B" in seen else "pending"
            else:
                assert status[pid] == decided
                assert len(new_logs) == 1 and new_logs[0][0] == decided, new_logs
                assert new_logs[0][1].endswith("crash")
                key = decided
            resolved = q(
                path, "SELECT resolved_at FROM policy_proposals WHERE proposal_id=?", (pid,)
            )
            assert (resolved[0][0] is None) == (status[pid] == "pending")
            others = {p: s for p, s in status.items() if p != pid}
            assert set(others.values()) == {"pending"}
        outcomes[key] += 1
    clear(path)
    print(f"\n{what} kills: {dict(outcomes)} (durations {durations})")
    if what == "expire":
        assert outcomes["none"] and outcomes["some"] + outcomes["all"], outcomes
    else:
        assert outcomes["pending, killed mid-transaction"] and len(outcomes) >= 2, outcomes
