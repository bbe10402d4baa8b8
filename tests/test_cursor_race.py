"""A key that moves the cursor while a reload runs is never undone by it.

Every view reloads in a worker (a live change, a decision, the exact page of
a first open, the index build's own writes) and puts the cursor back on the
row it was on when the reload *started*. A key pressed while it ran was then
lost: CI saw ``G k k up`` end one row short. Here each reload is held at its
first query until the keys are in, so the race happens every time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.apphelpers import SIZE, clock, pending_ids, settle
from tests.test_api import add_proposals
from tract_tui.app import ReviewApp
from tract_tui.app.contextview import ContextPane
from tract_tui.app.historyview import HistoryPane
from tract_tui.app.logview import LogPane
from tract_tui.app.proposals import ProposalsPane


class Gate:
    """Holds the next call of one service method (in its worker thread) until opened."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, service: Any, name: str) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        original = getattr(service, name)

        def held(*args: Any, **kwargs: Any) -> Any:
            if not self.entered.is_set():
                self.entered.set()
                assert self.opened.wait(10), "the gate was never opened"
            return original(*args, **kwargs)

        monkeypatch.setattr(service, name, held)

    async def wait_entered(self, pilot: Any) -> None:
        """Until the worker holds (the event loop must run for it to start)."""
        for _ in range(1000):
            if self.entered.is_set():
                return
            await pilot.pause(0.01)
        raise AssertionError("the reload never reached its first query")


async def keys_during_reload(
    pilot: Any, monkeypatch: pytest.MonkeyPatch, pane: Any, method: str, *keys: str
) -> None:
    """``keys`` pressed while ``pane``'s reload is held at ``method``; then it lands."""
    gate = Gate(monkeypatch, pilot.app.service, method)
    pane.reload()
    await gate.wait_entered(pilot)
    await pilot.press(*keys)
    gate.opened.set()
    await settle(pilot)


def app_for(path: Path) -> ReviewApp:
    return ReviewApp(path, clock=clock, poll_interval=3600)  # no live poll: one reload, ours


async def test_keys_during_a_proposals_reload_stay_on_the_page(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = pending_ids(v5_db)
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.query_one(ProposalsPane)
        await pilot.press("G")
        await keys_during_reload(pilot, monkeypatch, pane, "count_proposals", "k", "k")
        assert pane.table.cursor == 7
        assert pane.table.cursor_row.proposal_id == ids[7]


async def test_a_key_to_another_page_during_a_reload_reloads_from_there(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``g`` from the last page while a reload reads it: the row now under the cursor is
    not on the page read, so the reload starts again from it."""
    add_proposals(v5_db, 250)
    ids = pending_ids(v5_db)
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.query_one(ProposalsPane)
        await pilot.press("G")
        await settle(pilot)
        assert pane.table.cursor == len(ids) - 1
        await keys_during_reload(pilot, monkeypatch, pane, "count_proposals", "g", "j")
        assert pane.table.cursor == 1
        assert pane.table.cursor_row.proposal_id == ids[1]


async def test_keys_during_a_log_reload_are_kept(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        pane = app.query_one(LogPane)
        await pilot.press("G")
        last = pane.table.cursor
        wanted = pane.table.cache.get(last - 2).id
        await keys_during_reload(pilot, monkeypatch, pane, "log_rank", "k", "k")
        assert pane.table.cursor == last - 2
        assert pane.table.cursor_row.id == wanted


@pytest.mark.parametrize(
    ("tab", "pane_type", "method", "key"),
    [
        ("4", HistoryPane, "count_history", lambda row: row.proposal_id),
        ("3", ContextPane, "context_view", lambda row: row[1].message.commit_hash),
    ],
    ids=["history", "context"],
)
async def test_keys_during_a_reload_of_a_tab_are_kept(
    v5_db: Path,
    monkeypatch: pytest.MonkeyPatch,
    tab: str,
    pane_type: type[Any],
    method: str,
    key: Callable[[Any], object],
) -> None:
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(tab)
        await settle(pilot)
        pane = app.query_one(pane_type)
        assert pane.table.row_count >= 3
        wanted = key(pane.table.cache.get(2))
        await keys_during_reload(pilot, monkeypatch, pane, method, "j", "j")
        assert pane.table.cursor == 2
        assert key(pane.table.cursor_row) == wanted
