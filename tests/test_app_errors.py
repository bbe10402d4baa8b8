"""Errors reach the reviewer as notices; the console keeps running and loses nothing.

Real second connections hold the write lock (BEGIN IMMEDIATE), real triggers
RAISE, real foreign columns refuse inserts: every failure must end as a
notice on a running console, with the undo entry kept and the file as it was.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apphelpers import SIZE, clock, pending_ids, rows, settle, status_of
from tract_tui.app import ReviewApp
from tract_tui.app.modals import ConfirmScreen, RejectPrompt
from tract_tui.app.proposals import ProposalsPane
from tract_tui.review.service import ReviewService
from tract_tui.storage.errors import BUSY_TIMEOUT_ENV


class Holder:
    """Another process's connection holding the write lock (BEGIN IMMEDIATE) until released."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def notes(app: ReviewApp) -> list[str]:
    return [n.message for n in app._notifications]


async def press(pilot, *keys: str) -> None:
    await pilot.press(*keys)
    await settle(pilot)
    await pilot.pause(0.3)  # the busy timeout is 200 ms here
    await settle(pilot)


@pytest.fixture
def ready(v5_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ReviewService.open(v5_db).close()
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "200")
    return v5_db


async def test_approve_reject_bulk_and_undo_under_a_held_lock_leave_notices(ready: Path) -> None:
    ids = pending_ids(ready)
    app = ReviewApp(ready, clock=clock, poll_interval=3600)
    app.settings.confirm = {k: False for k in app.settings.confirm}
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.query_one(ProposalsPane)
        await press(pilot, "a")  # decided before the lock: something to undo
        assert status_of(ready, ids[0]) == "approved" and len(pane.undo_stack) == 1
        holder = Holder(ready)
        try:
            await press(pilot, "a")
            assert any("locked by another process" in n for n in notes(app)), notes(app)
            await press(pilot, "r")
            assert isinstance(app.screen, RejectPrompt)
            await press(pilot, "enter")
            await press(pilot, "space", "space", "a")
            assert isinstance(app.screen, ConfirmScreen)
            await press(pilot, "y")
            bulk = [n for n in notes(app) if "Approved 0 of 2" in n]
            assert bulk and "locked by another process" in bulk[0], notes(app)
            before = len(notes(app))
            await press(pilot, "u")
            assert any("Undo failed" in n and "locked" in n for n in notes(app)[before:])
            assert len(pane.undo_stack) == 1  # the failed undo kept its entry
        finally:
            holder.release()
        await press(pilot, "u")  # and it works once the lock is gone
        assert status_of(ready, ids[0]) == "pending" and pane.undo_stack == []
        assert app.is_running
        await pilot.press("q")
    assert app.return_code == 0
    assert [status_of(ready, i) for i in ids] == ["pending"] * len(ids)


async def test_a_trigger_that_raises_is_a_notice_and_nothing_is_written(ready: Path) -> None:
    with sqlite3.connect(ready) as conn:
        conn.execute(
            "CREATE TRIGGER no_reviews BEFORE INSERT ON policy_log WHEN NEW.\"trigger\" = 'review'"
            " BEGIN SELECT RAISE(ABORT, 'reviews are frozen by the operator'); END"
        )
    ids = pending_ids(ready)
    app = ReviewApp(ready, clock=clock, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "a")
        assert any("reviews are frozen by the operator" in n for n in notes(app)), notes(app)
        assert app.is_running
    assert status_of(ready, ids[0]) == "pending"  # the UPDATE rolled back with the INSERT


def run_console(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tract_tui", str(path)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("ddl", "said"),
    [
        ("ALTER TABLE policy_log ADD COLUMN reviewer TEXT NOT NULL DEFAULT 'x'", None),
        ("ALTER TABLE policy_log ADD COLUMN reviewer TEXT", None),
        ("ALTER TABLE policy_proposals DROP COLUMN resolved_at", "no column resolved_at"),
    ],
)
def test_foreign_policy_columns_open_or_are_refused_in_one_line(
    v5_db: Path, ddl: str, said: str | None
) -> None:
    with sqlite3.connect(v5_db) as conn:
        conn.execute(ddl)
    if said is None:  # a column tract-tui can live with: it opens and decides
        svc = ReviewService.open(v5_db)
        try:
            svc.approve(pending_ids(v5_db)[0])
        finally:
            svc.close()
        return
    before = v5_db.read_bytes()
    r = run_console(v5_db)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r
    assert said in r.stderr and "Traceback" not in r.stderr
    assert v5_db.read_bytes() == before


def test_a_not_null_column_tract_tui_cannot_fill_opens_read_only_only(v5_db: Path) -> None:
    with sqlite3.connect(v5_db) as conn:  # SQLite cannot ALTER this in: the table is rebuilt
        (ddl,) = conn.execute("SELECT sql FROM sqlite_master WHERE name='policy_log'").fetchone()
        conn.execute("ALTER TABLE policy_log RENAME TO old_log")
        conn.execute(ddl.replace("PRIMARY KEY (id)", "reviewer TEXT NOT NULL, PRIMARY KEY (id)"))
        cols = [r[1] for r in conn.execute("PRAGMA table_info(old_log)")]
        conn.execute(
            f"INSERT INTO policy_log ({', '.join(cols)}, reviewer)"
            f" SELECT {', '.join(cols)}, 'someone' FROM old_log"
        )
        conn.execute("DROP TABLE old_log")
    r = run_console(v5_db)
    assert r.returncode == 2 and "reviewer" in r.stderr and "--read-only" in r.stderr, r
    svc = ReviewService.open(v5_db, read_only=True)
    try:
        assert svc.count_proposals() == 10
    finally:
        svc.close()
    assert rows(v5_db, "SELECT count(*) FROM policy_log WHERE trigger='review'") == [(0,)]
