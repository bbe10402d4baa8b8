"""A filter that found nothing because a free word named a policy, a tract, a status...

Free words search only the reason (and a log row's error message); the
console's empty line and the CLI's stderr then name the term probably meant.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from textual.widgets import Input

from tests.apphelpers import SIZE, clock, settle
from tract_tui.app import ReviewApp
from tract_tui.app.hints import explain_no_match
from tract_tui.app.historyview import HistoryPane
from tract_tui.app.logview import LogPane
from tract_tui.app.proposals import ProposalsPane
from tract_tui.app.table import VirtualTable
from tract_tui.review.filters import Term, parse_filter, suggest_term

KNOWN = {"policy": ["auto-compress", "Auto Pin"], "tract": ["support-agent"], "status": ["pending"]}


def test_a_word_naming_a_value_suggests_its_term_with_the_value_as_stored() -> None:
    assert suggest_term(parse_filter("auto-compress"), KNOWN) == (
        "auto-compress",
        Term("policy", "auto-compress"),
    )
    found = suggest_term(parse_filter('"auto pin" tokens'), KNOWN)
    assert found == ("auto pin", Term("policy", "Auto Pin"))
    assert found[1].to_text() == 'policy:"Auto Pin"'
    assert suggest_term(parse_filter("timeout SUPPORT-AGENT"), KNOWN) == (
        "SUPPORT-AGENT",
        Term("tract", "support-agent"),
    )


def test_no_suggestion_for_other_words_negated_words_or_a_term_already_there() -> None:
    assert suggest_term(parse_filter("timeout"), KNOWN) is None
    assert suggest_term(parse_filter("-auto-compress"), KNOWN) is None
    assert suggest_term(parse_filter("policy:auto-compress auto-compress"), KNOWN) is None
    assert suggest_term(parse_filter("policy:auto-compress"), KNOWN) is None
    assert suggest_term(parse_filter("auto"), KNOWN) is None  # whole values only


def empty_lines(table: VirtualTable) -> list[str]:
    return [table.render_line(1 + i).text.strip() for i in range(3)]


async def typed(pilot, box: str, text: str) -> None:
    await pilot.press("slash")
    pilot.app.query_one(box, Input).value = text
    await pilot.press("enter")
    await settle(pilot)


async def test_the_console_names_the_term_a_free_word_meant_in_each_list(v5_db: Path) -> None:
    app = ReviewApp(v5_db, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.query_one(ProposalsPane).table
        await typed(pilot, "#proposals-filter", "auto-compress")
        assert table.row_count == 0
        assert empty_lines(table) == [
            "No proposals match this filter.",
            "'auto-compress' is a policy: try policy:auto-compress",
            "(free words search only the reason)",
        ]
        await typed(pilot, "#proposals-filter", "policy:auto-compress")  # the hint was right
        assert table.row_count == 3
        await typed(pilot, "#proposals-filter", "nothing-like-this")  # no hint to give
        assert empty_lines(table) == ["No proposals match this filter.", "", ""]

        await pilot.press("2")
        await settle(pilot)
        log = app.query_one(LogPane).table
        await typed(pilot, "#log-filter", "ERROR")
        assert log.row_count == 0
        assert empty_lines(log)[1:] == [
            "'ERROR' is a log outcome: try outcome:error",
            "(free words search only the reason or the error message)",
        ]

        await pilot.press("4")
        await settle(pilot)
        history = app.query_one(HistoryPane).table
        await typed(pilot, "#history-filter", "rejected")
        assert history.row_count == 0
        assert empty_lines(history)[1] == "'rejected' is a status: try status:rejected"
        await typed(pilot, "#history-filter", "status:rejected")
        assert history.row_count > 0


async def test_a_hint_never_lands_under_a_newer_filter(v5_db: Path) -> None:
    """The answer for a filter no longer on screen is kept, not shown."""
    app = ReviewApp(v5_db, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.query_one(ProposalsPane)
        await typed(pilot, "#proposals-filter", "nothing-like-this")
        base = ["No proposals match this filter.", "", ""]
        assert empty_lines(pane.table) == base
        meant = parse_filter("auto-compress")
        args = (pane.table, app.service, meant, "proposals", "No proposals match this filter.")
        explain_no_match(*args, lambda: pane.filter)  # typed meanwhile: another filter shown
        await settle(pilot)
        assert empty_lines(pane.table) == base
        explain_no_match(*args, lambda: meant)  # on screen: shown, from what was kept
        assert empty_lines(pane.table)[1] == "'auto-compress' is a policy: try policy:auto-compress"


async def test_a_hostile_value_in_the_hint_is_plain_text(v5_db: Path) -> None:
    name = "[bold red]evil[/]"
    with sqlite3.connect(v5_db) as conn:
        conn.execute("UPDATE policy_proposals SET policy_name = ? WHERE status='pending'", (name,))
    app = ReviewApp(v5_db, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.query_one(ProposalsPane).table
        await typed(pilot, "#proposals-filter", '"[BOLD RED]evil[/]"')
        assert table.row_count == 0
        assert empty_lines(table)[1] == f"'[BOLD RED]evil[/]' is a policy: try policy:\"{name}\""


def test_the_command_line_says_it_on_stderr_and_lists_as_before(v5_db: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "tract_tui", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    found = run("list", str(v5_db), "--filter", "auto-compress")
    assert (found.returncode, found.stdout) == (0, "no proposals match\n")
    assert found.stderr == (
        "tract-tui: note: 'auto-compress' is a policy: try --filter policy:auto-compress"
        " (free words search only the reason)\n"
    )
    found = run("log", str(v5_db), "--filter", "'auto pin'")
    assert (found.returncode, found.stdout, found.stderr) == (0, "no log rows match\n", "")
    found = run("log", str(v5_db), "--filter", "error")
    assert found.stderr.endswith("try --filter outcome:error (free words search only the"
                                 " reason or the error message)\n")  # fmt: skip
    found = run("list", str(v5_db), "--filter", "auto-compress", "--json")
    assert (found.returncode, found.stdout, found.stderr) == (0, "[]\n", "")
