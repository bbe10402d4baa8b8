"""What a key redraws: no more than what it changed (issue 14's filters and first ``2``).

Each of these redraws cost tens of milliseconds inside a filter applied with
Enter, and none showed anything new: a whole-screen repaint for every focus
change (Textual's ``Screen.focused`` repaints), a layout of the whole screen
for every new row count (assigning ``virtual_size`` lays out), and every row
of a table drawn again when only its cursor row shows the focus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual._compositor import Compositor
from textual.screen import Screen
from textual.widgets import Input

from tests.apphelpers import SIZE, clock, settle
from tract_tui.app import ReviewApp
from tract_tui.app.logview import LogPane
from tract_tui.app.redraw import MainScreen
from tract_tui.app.table import VirtualTable


async def show_log(pilot: Any) -> LogPane:
    """The log view, shown and settled."""
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    return pilot.app.query_one(LogPane)  # type: ignore[no-any-return]


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[object]:
    """Every call of ``owner.name`` from now on, by the instance it was called on."""
    calls: list[object] = []
    original = getattr(owner, name)

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return calls


async def test_a_focus_change_repaints_only_the_widgets_it_restyles(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/`` moves the focus to the filter box, Enter back to the table; Textual repainted the
    whole screen each time (30-37 ms at 120x36), and the table drew all its rows again. Now
    no full repaint, only the table's cursor row is drawn anew, and the screen shows the same
    as a full repaint would."""
    from tract_tui.app import table as table_module

    # no live reread and no new time slot for relative ages: they draw rows anew by design
    monkeypatch.setattr(table_module, "STRIP_TTL", 10**9)
    app = ReviewApp(v5_db, clock=clock, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        full = count_calls(monkeypatch, Compositor, "render_full_update")
        table = app.query_one("#proposals-table", VirtualTable)
        drawn: list[object] = []
        cells = table.cells
        table.cells = lambda row: drawn.append(row) or cells(row)  # type: ignore[func-returns-value]
        await pilot.press("slash")
        await settle(pilot)
        assert isinstance(app.focused, Input)
        # the table's rows were kept; only the cursor row, which shows the focus, drawn anew
        assert drawn and {id(r) for r in drawn} == {id(table.cursor_row)}, len(drawn)
        app.screen.set_focus(table)  # back, as Enter in the box does (Escape also clears it)
        await settle(pilot)
        assert app.focused is table
        assert {id(r) for r in drawn} == {id(table.cursor_row)}, len(drawn)
        assert full == []
        shown = app.export_screenshot()
        app.screen.refresh()  # what a full repaint draws: the same
        await settle(pilot)
        assert app.export_screenshot() == shown


def test_textual_still_declares_focused_as_the_reactive_main_screen_overrides() -> None:
    """MainScreen redeclares ``focused`` without the repaint; if Textual renames it or makes
    it something else, the override would silently add an unrelated attribute."""
    from textual.reactive import Reactive

    assert isinstance(Screen.__dict__.get("focused"), Reactive)
    assert isinstance(MainScreen.__dict__["focused"], Reactive)
    assert callable(getattr(Screen, "_watch_focused", None))  # the footer's bindings follow it


async def test_a_new_row_count_lays_out_only_when_the_scrollbar_appears_or_goes(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Filters that change the log's row count: a layout (and full redraw) of the screen
    only when the scrollbar has to appear or go; the scrollbar and the scroll position
    follow the new count every time."""
    app = ReviewApp(v5_db, clock=clock, poll_interval=0.2)
    async with app.run_test(size=(120, 24)) as pilot:
        log = await show_log(pilot)
        table = log.table
        visible = table.scrollable_content_region.height - 1
        layouts = count_calls(monkeypatch, Screen, "_refresh_layout")

        async def apply(typed: str) -> tuple[int, bool]:
            box = log.query_one("#log-filter", Input)
            box.value = typed  # the box's own layout (Textual's Input lays out per change)
            await settle(pilot)
            layouts.clear()
            log.apply_filter()
            await settle(pilot)
            return table.row_count, table.show_vertical_scrollbar

        await pilot.press("G")  # scrolled to the bottom of the whole log
        await settle(pilot)
        assert table.scroll_y > 0
        steps = ["-outcome:error", "outcome:error", "nothing-matches-this", "", "-outcome:error"]
        for typed in steps:
            before = table.show_vertical_scrollbar
            count, scrollbar = await apply(typed)
            assert scrollbar == (count + 1 > table.scrollable_content_region.height)
            assert 0 <= table.scroll_y <= table.max_scroll_y
            assert table.cursor < max(count, 1)
            if scrollbar == before:
                assert layouts == [], f"{typed!r}: {count} rows laid the screen out"
            else:
                assert layouts, f"{typed!r}: the scrollbar changed without a layout"
        assert visible < 34  # the whole log (34 rows) needs the scrollbar; 4 errors do not


async def test_a_line_of_text_lays_out_when_its_new_text_needs_another_height(
    v5_db: Path,
) -> None:
    """update_steady skips the layout only when the height stays: the log's stats line (auto
    height, at most 3 lines) grows and shrinks with its text at 80 columns."""
    from rich.text import Text
    from textual.widgets import Static

    from tract_tui.app.redraw import update_steady

    app = ReviewApp(v5_db, clock=clock, poll_interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        stats = app.query_one("#log-stats", Static)
        for words, lines in ((40, 3), (25, 2), (3, 1), (3, 1)):
            update_steady(stats, Text(" ".join(["word"] * words)))
            await pilot.pause()
            await pilot.pause()
            assert stats.size.height == lines, (words, stats.size.height)
            assert "word" in app.export_screenshot()


async def test_the_drop_downs_take_their_slots_after_the_first_frame_and_nothing_moves(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first ``2`` draws a cheap slot where each drop-down goes (the drop-downs, drawn
    for the first time, were a third of it); the drop-downs replace them right after, in
    the same places, filled, and the filter box does not move. A filter typed before they
    come works."""
    from textual.widgets import Select

    from tract_tui.app.logview import SELECTS, SelectSlot

    held: list[LogPane] = []
    original = LogPane.mount_selects

    async def hold(self: LogPane) -> None:
        held.append(self)

    monkeypatch.setattr(LogPane, "mount_selects", hold)
    app = ReviewApp(v5_db, clock=clock, poll_interval=0.2)
    async with app.run_test(size=(120, 24)) as pilot:
        log = await show_log(pilot)
        assert held == [log] and not log.query(Select)
        slots = [s.region for s in log.query(SelectSlot)]
        assert [s.prompt for s in log.query(SelectSlot)] == list(SELECTS)
        box = log.query_one("#log-filter", Input)
        where = box.region
        box.value = "outcome:error"
        log.apply_filter()
        await settle(pilot)
        assert log.table.row_count == 4
        await original(log)
        await settle(pilot)
        assert not log.query(SelectSlot)
        selects = list(log.query(Select))
        assert [s.id for s in selects] == [f"f-{k}" for k in SELECTS]
        assert [s.region for s in selects] == slots and box.region == where
        assert log.table.row_count == 4  # the typed filter stands
        outcome = log.query_one("#f-outcome", Select)  # filled: a value it lacks would raise
        outcome.value = "error"
        await settle(pilot)
        assert log.current_filter().to_text().count("outcome:error") == 2
