"""History: who decided each proposal, read from the rows tract-tui logged, never guessed.

The fixtures are the tract library's own files: it approved one proposal
and rejected one itself (no log row), so those are "outside tract-tui".
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.apphelpers import SIZE, clock, settle
from tract_tui.app import ReviewApp
from tract_tui.app.historyview import HistoryPane
from tract_tui.app.modals import ZoomScreen
from tract_tui.review.service import ReviewService

LIBRARY_EXECUTED = "7efd5d07d5384fbc"
LIBRARY_REJECTED = "cb26c8519d7d4391"
BRANCH = "8fa060b067bf49ac"
ANNOTATE = "36eca1041bb84cb0"


def cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tract_tui", *map(str, args)],
                          capture_output=True, text=True)  # fmt: skip


def test_library_decisions_are_outside_and_ours_name_the_reviewer(fixture_copy) -> None:
    db = fixture_copy(8)
    assert cli("approve", db, ANNOTATE, "--note", "looks right").returncode == 0
    with ReviewService.open(db, read_only=True) as svc:
        rows = {r.proposal_id: r for r in svc.list_history()}
        ours = svc.history_detail(ANNOTATE)
    assert next(iter(rows)) == ANNOTATE  # the latest decision first
    assert rows[LIBRARY_EXECUTED].decided.outside and rows[LIBRARY_REJECTED].decided.outside
    mine = rows[ANNOTATE].decided
    assert not mine.outside and mine.note == "looks right" and mine.outcome == "approved"
    assert [(e.trigger, e.outcome) for e in ours.trail] == [("review", "approved")]


def test_an_execution_after_our_rejection_is_a_conflict_everywhere(fixture_copy) -> None:
    db = fixture_copy(8)
    assert cli("reject", db, BRANCH, "--reason", "not a tangent").returncode == 0
    # what the library's approve does next, unconditionally (tract/policy/evaluator.py)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE policy_proposals SET status='executed', resolved_at="
                     "'2030-01-01 00:00:00.000000' WHERE proposal_id=?", (BRANCH,))  # fmt: skip
    conn.close()
    with ReviewService.open(db, read_only=True) as svc:
        decided = svc.history_detail(BRANCH).decided
    assert decided.conflict and decided.outcome == "rejected"
    listed = json.loads(cli("list", db, "--filter", "status:executed", "--json").stdout)
    flags = {p["proposal_id"]: p["conflict"] for p in listed}
    assert flags[BRANCH] is True and flags[LIBRARY_EXECUTED] is False
    pending = json.loads(cli("list", db, "--json").stdout)
    assert pending and all(p["conflict"] is False for p in pending)


async def test_history_view_and_a_log_rows_proposal(fixture_copy) -> None:
    db = fixture_copy(8)
    assert cli("reject", db, BRANCH, "--reason", "not a tangent").returncode == 0
    app = ReviewApp(db, clock=clock, poll_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        pane = app.query_one(HistoryPane)
        assert app.focused is pane.table
        assert next(r.proposal_id for r in pane.table.cache.rows()) == BRANCH
        detail = str(pane.query_one("#history-detail").render())
        assert "rejected by" in detail and "note: not a tangent" in detail
        await pilot.press("j")
        await settle(pilot)
        detail = str(pane.query_one("#history-detail").render())
        assert "outside tract-tui" in detail
        await pilot.press("2")  # the log: its newest row is our rejection
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ZoomScreen)
        assert BRANCH in str(app.screen.query_one("#zoom-title").render())
        assert "not a tangent" in str(app.screen.query_one("#zoom-text").render())


def test_filter_narrows_the_history(fixture_copy) -> None:
    db: Path = fixture_copy(8)
    with ReviewService.open(db, read_only=True) as svc:
        from tract_tui.review.filters import parse_filter

        rejected = svc.list_history(parse_filter("status:rejected", "proposals"))
        assert [r.proposal_id for r in rejected] == [LIBRARY_REJECTED]
        assert svc.count_history() == 2


def library_decides(db: Path, pid: str, status: str) -> None:
    """What the tract library's approve or reject does after its check: an UPDATE without a
    condition on the status (tract/policy/evaluator.py), stamped later than ours."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE policy_proposals SET status=?, resolved_at="
                     "'2030-01-01 00:00:00.000000' WHERE proposal_id=?", (status, pid))  # fmt: skip
    conn.close()


def test_an_approval_the_library_overwrote_with_a_rejection_is_a_conflict_everywhere(
    fixture_copy,
) -> None:
    db = fixture_copy(8)
    assert cli("approve", db, BRANCH, "--note", "go").returncode == 0
    library_decides(db, BRANCH, "rejected")  # its reject read the row while it was pending
    with ReviewService.open(db, read_only=True) as svc:
        decided = svc.history_detail(BRANCH).decided
    assert decided.conflict and decided.outcome == "approved" and decided.by
    from tract_tui.app.historyview import decided_text

    said = str(decided_text(decided, "rejected"))
    assert "CONFLICT: rejected although tract-tui logged its approval" in said
    listed = json.loads(cli("list", db, "--filter", "status:rejected", "--json").stdout)
    flags = {p["proposal_id"]: p["conflict"] for p in listed}
    assert flags == {BRANCH: True, LIBRARY_REJECTED: False}


def test_an_undone_decision_stands_no_more(fixture_copy) -> None:
    """Rejected, undone, then approved and executed by the library: no conflict (the
    rejection was taken back) and decided outside tract-tui (no decision of ours stands).
    Both were wrong: any rejection row made a conflict, and the undone one was named as
    the decision."""
    db = fixture_copy(8)
    with ReviewService.open(db) as svc:
        svc.undo(svc.reject(BRANCH, "not now"))
        svc.undo(svc.approve(ANNOTATE, "yes"))  # approved, undone, then approved again

        svc.approve(ANNOTATE, "yes after all")
    library_decides(db, BRANCH, "executed")
    with ReviewService.open(db, read_only=True) as svc:
        branch = svc.history_detail(BRANCH).decided
        annotate = svc.history_detail(ANNOTATE).decided
    assert not branch.conflict and branch.outside
    assert not annotate.conflict and annotate.note == "yes after all"
    listed = json.loads(cli("list", db, "--filter", "status:executed", "--json").stdout)
    assert not any(p["conflict"] for p in listed)
