"""The first open of a large file tract-tui never indexed (issue 14 at 10M rows).

Its exact oldest-pending-first page is a full scan (0.6-0.85 s over 1.5M
proposals). The console shows the pending proposals inserted first at once,
found by seeks in the tract library's (tract_id, status) index, says so on
its status line, reads the exact page after its first frame and builds its
indexes after that. These tests build files whose insertion order is not
their time order, so the exact page differs from the first one shown.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.apphelpers import SIZE, clock, pending_ids, rows, settle, status_of
from tract_tui.app import ReviewApp
from tract_tui.app import proposals as proposals_view
from tract_tui.app.app import PROVISIONAL_LINE
from tract_tui.app.paging import PAGE_SIZE, Listing, preload_first_page
from tract_tui.app.proposals import ProposalsPane
from tract_tui.review.service import ReviewService
from tract_tui.storage import indexes
from tract_tui.storage import proposals as storage

INSERT = (
    "INSERT INTO policy_proposals (proposal_id, tract_id, policy_name, action_type,"
    " action_params_json, reason, status, created_at) VALUES (?, ?, ?, ?, '{}', ?, ?, ?)"
)


def never_indexed(path: Path, extra: int) -> None:
    """``extra`` more proposals, mostly pending, spread over tracts (one without a tract
    id where the schema allows it); every 7th inserted with a time older than every row
    before it, and every 5th decided. tract-tui's indexes dropped."""
    with sqlite3.connect(path) as conn:
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE 'ix_tui_%'"
        ).fetchall():
            conn.execute(f'DROP INDEX "{name}"')
        for i in range(extra):
            day = 1 if i % 7 == 6 else 20 + i // 60
            when = f"2026-02-{day:02d} {i // 60 % 24:02d}:{i % 60:02d}:00.000000"
            status = "approved" if i % 5 == 4 else "pending"
            conn.execute(INSERT, (f"p{i:05d}", f"tract-{i % 4}", "auto-pin", "pin",
                                  f"extra {i}", status, when))  # fmt: skip


def inserted_first(path: Path, limit: int) -> list[str]:
    return [
        r[0]
        for r in rows(
            path,
            "SELECT proposal_id FROM (SELECT proposal_id, created_at, rowid AS r"
            " FROM policy_proposals WHERE status='pending' ORDER BY rowid LIMIT ?)"
            " ORDER BY created_at, proposal_id, r",
            (limit,),
        )
    ]


@pytest.fixture
def big(v5_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The v5 fixture with 260 more proposals, counted as "large" (the threshold lowered)."""
    never_indexed(v5_db, 260)
    monkeypatch.setattr(storage, "PROVISIONAL_FROM_ROWS", 100)
    return v5_db


def test_the_rows_inserted_first_are_found_by_seeks(big: Path) -> None:
    """Exactly the ``limit`` lowest-rowid pending rows, in listing order; each case where the
    exact page is cheap or these rows are not, None."""
    with sqlite3.connect(big) as conn:
        for limit in (1, 7, 100, 10_000):
            found = storage.first_inserted_pending(conn, limit)
            assert found is not None
            assert [p.proposal_id for p in found] == inserted_first(big, limit)
        exact = [r[0] for r in conn.execute(
            "SELECT proposal_id FROM policy_proposals WHERE status='pending'"
            " ORDER BY created_at, proposal_id, rowid LIMIT 100")]  # fmt: skip
        assert [p.proposal_id for p in storage.first_inserted_pending(conn, 100) or []] != exact
        assert storage.first_inserted_pending(conn, 100, max_tracts=3) is None  # 4 tracts
        conn.execute(indexes.TUI_INDEXES[0])  # tract-tui's index: the exact page is cheap
        assert indexes.TUI_INDEX_NAMES[0] == storage.OLDEST_PENDING_INDEX
        assert storage.first_inserted_pending(conn, 100) is None
        conn.execute(f"DROP INDEX {storage.OLDEST_PENDING_INDEX}")
        conn.execute(f"DROP INDEX {storage.LIBRARY_STATUS_INDEX}")  # a file without it
        assert storage.first_inserted_pending(conn, 100) is None


def test_a_small_file_reads_its_exact_page_at_once(v5_db: Path) -> None:
    never_indexed(v5_db, 20)
    service = ReviewService.open(v5_db)
    try:
        first = preload_first_page(service)
        assert first is not None
        watcher, listing = first
        watcher.close()
        assert not listing.provisional
        assert [p.proposal_id for p in listing.pages[0]] == pending_ids(v5_db)[:PAGE_SIZE]
    finally:
        service.close()


def held_exact_read(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The console's first exact read waits for the returned event (later ones do not)."""
    release = threading.Event()
    original: Callable[..., Any] = proposals_view.read_listing
    calls: list[int] = []

    def held(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            assert release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(proposals_view, "read_listing", held)
    return release


def provisional_console(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[ReviewApp, ReviewService, Listing, threading.Event]:
    """A console whose first page, read before it starts, is the rows inserted first; its
    exact read waits for the returned event."""
    release = held_exact_read(monkeypatch)
    service = ReviewService.open(path)
    first = preload_first_page(service)
    assert first is not None and first[1].provisional
    app = ReviewApp(path, clock=clock, service=service, poll_interval=0.2)
    app.preload(first)
    return app, service, first[1], release


async def test_the_first_screen_shows_the_rows_inserted_first_then_the_exact_page(
    big: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, service, _listing, release = provisional_console(big, monkeypatch)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.3)
            pane = app.query_one(ProposalsPane)
            shown = [r.proposal_id for r in pane.table.cache.rows()]
            assert shown == inserted_first(big, PAGE_SIZE)
            assert str(app.query_one("#status").render()) == PROVISIONAL_LINE
            # the counts come on their own (a GROUP BY scan, seconds at 10M): never "0 pending"
            assert not str(app.query_one("#counts").render()).startswith("0 pending")
            assert not rows(big, "SELECT name FROM sqlite_master WHERE name LIKE 'ix_tui_%'")
            release.set()
            await settle(pilot)
            await pilot.pause(0.3)
            await settle(pilot)
            exact = pending_ids(big)
            assert exact[:PAGE_SIZE] != shown
            assert [r.proposal_id for r in pane.table.cache.rows()] == exact[: len(shown)]
            assert pane.table.row_count == len(exact)
            assert pane.table.cursor == 0
            assert str(app.query_one("#status").render()) == ""
            assert f"{len(exact)} pending in" in str(app.query_one("#counts").render())
            built = rows(big, "SELECT name FROM sqlite_master WHERE name LIKE 'ix_tui_%'")
            assert len(built) == len(indexes.TUI_INDEX_NAMES)
    finally:
        service.close()


async def test_a_decision_on_a_row_inserted_first_decides_that_very_proposal(
    big: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys act on what is on screen, exact page or not: the highlighted proposal is the one
    decided, the cursor then follows the exact listing, and the indexes are still built."""
    app, service, listing, release = provisional_console(big, monkeypatch)
    app.settings.confirm = {k: False for k in app.settings.confirm}  # decide at once
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.3)
            pane = app.query_one(ProposalsPane)
            await pilot.press("down", "down")
            target = pane.table.cursor_row
            assert target is not None
            await pilot.press("a")
            await pilot.pause(0.3)
            release.set()
            await settle(pilot)
            await pilot.pause(0.3)
            await settle(pilot)
            assert status_of(big, target.proposal_id) == "approved"
            assert sum(status_of(big, p.proposal_id) == "approved" for p in listing.pages[0]) == 1
            exact = pending_ids(big)
            assert [r.proposal_id for r in pane.table.cache.rows()] == exact[:PAGE_SIZE]
            assert str(app.query_one("#status").render()) == ""
            built = rows(big, "SELECT name FROM sqlite_master WHERE name LIKE 'ix_tui_%'")
            assert len(built) == len(indexes.TUI_INDEX_NAMES)
    finally:
        service.close()
