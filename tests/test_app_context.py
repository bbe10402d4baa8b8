"""The effect in the detail pane and the context view (3), through Pilot, on library files."""

from __future__ import annotations

from pathlib import Path

from tests.apphelpers import SIZE, clock, settle
from tract_tui.app import ReviewApp
from tract_tui.app.contextview import ContextPane
from tract_tui.app.modals import ZoomScreen
from tract_tui.app.proposals import ProposalsPane
from tract_tui.review.service import ReviewService

ANNOTATE = "36eca1041bb84cb0"  # support-agent: skip the 53-token tool result 74dd284e
TARGET = "74dd284ead757aee5933cdb4ad852c293d8765ad74ce73add6ae2530b5905561"


def app_for(path: Path) -> ReviewApp:
    return ReviewApp(path, clock=clock, poll_interval=0.2)


async def goto(pilot, pid: str) -> None:
    pane = pilot.app.query_one(ProposalsPane)
    for _ in range(pane.table.row_count):
        if pane.table.cursor_row.proposal_id == pid:
            return
        await pilot.press("j")
        await settle(pilot, 2)
    raise AssertionError(f"{pid} not listed")


async def test_the_detail_leads_with_the_verdict_and_the_diff(fixture_copy) -> None:
    db = fixture_copy(8)
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, ANNOTATE)
        await settle(pilot)
        detail = str(app.query_one("#detail").render())
        lines = [line.strip() for line in detail.splitlines()]
        verdict = lines.index("hides 1 message, \u221253 tokens (74dd284e)")
        assert lines[verdict + 1].startswith("context on main: 9 messages, 115 tokens")
        assert any(line.startswith("\u2212 tool") and "53t" in line for line in lines)
        await pilot.press("enter")  # zoomed: every message in full
        await settle(pilot)
        assert isinstance(app.screen, ZoomScreen)
        zoomed = str(app.screen.query_one("#zoom-text").render())
        assert "smtp ok" in zoomed and "Thanks, and can you check order 88413 too?" in zoomed


async def test_context_view_lists_what_the_library_compiles(fixture_copy) -> None:
    db = fixture_copy(8)
    with ReviewService.open(db, read_only=True) as svc:
        expected = svc.context("research-agent")
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        pane = app.query_one(ContextPane)
        assert app.focused is pane.table
        rows = [r for _, r in pane.table.cache.rows()]
        assert [r.message for r in rows if r.shown] == list(expected.messages)
        assert [r.priority for r in rows if not r.shown] == ["SKIP"]
        summary = str(pane.query_one("#ctx-summary").render())
        assert "research-agent · main" in summary and "8 messages, 117 tokens" in summary
        await pilot.press("h")  # hidden commits out of the list
        await settle(pilot)
        assert [r for _, r in pane.table.cache.rows()] == [r for r in rows if r.shown]


async def test_c_opens_the_proposals_context_on_its_target(fixture_copy) -> None:
    db = fixture_copy(8)
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, ANNOTATE)
        await pilot.press("c")
        await settle(pilot)
        pane = app.query_one(ContextPane)
        _, row = pane.table.cursor_row
        assert app.focused is pane.table, app.focused
        assert row.message.commit_hash == TARGET and row.shown
        assert "support-agent" in str(pane.query_one("#ctx-summary").render())
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ZoomScreen)
        body = str(app.screen.query_one("#zoom-text").render())
        assert TARGET in body and '"smtp ok"' in body


async def test_enter_on_a_log_row_opens_it_and_stays_open(fixture_copy) -> None:
    """The Enter that opens a row must not also reach the zoom's own "Enter closes" key."""
    db = fixture_copy(8)
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ZoomScreen)
        assert str(app.screen.query_one("#zoom-title").render()).startswith("log row ")
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ZoomScreen)


def test_counts_on_a_short_terminal_with_several_tracts() -> None:
    """At 80x24 the counts get one line: the total, never a crash (it once raised)."""
    from tract_tui.app.proposals import counts_text
    from tract_tui.models.review import PendingCount

    counts = [PendingCount("support-agent", "a", 3), PendingCount("research-agent", "b", 4)]
    assert str(counts_text(counts, 7, 1, 80)) == "7 pending in 2 tracts"
    assert str(counts_text(counts[:1], 3, 1, 80)).splitlines()[1].startswith("support-agent")
