"""The console through Textual's Pilot, checked against the database rows."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from textual.widgets import ContentSwitcher, Input

from tests.apphelpers import SIZE, clock, pending_ids, review_logs, rows, settle, status_of
from tract_tui.app import ReviewApp
from tract_tui.app import app as app_module
from tract_tui.app.logview import LogPane
from tract_tui.app.modals import ConfirmScreen, ErrorScreen, HelpScreen, RejectPrompt
from tract_tui.app.proposals import ProposalsPane
from tract_tui.review.service import reviewer_name


def app_for(path: Path, **kw) -> ReviewApp:
    kw.setdefault("poll_interval", 0.2)
    return ReviewApp(path, clock=clock, **kw)


def pane(app: ReviewApp) -> ProposalsPane:
    return app.query_one(ProposalsPane)


async def test_lists_pending_oldest_first_with_counts(v5_db: Path) -> None:
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = pane(app).table
        assert table.row_count == 10
        assert [r.proposal_id for r in table.cache.rows()] == pending_ids(v5_db)
        counts = str(app.query_one("#counts").render())
        assert "10 pending" in counts and "support-agent" in counts
        detail = str(app.query_one("#detail").render())
        assert "annotate" in detail and "proposed priority" in detail
        assert pending_ids(v5_db)[0] in detail


async def test_approve_moves_to_next(v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert status_of(v5_db, ids[0]) == "approved"
        assert pane(app).table.cursor_row.proposal_id == ids[1]
        assert pane(app).table.row_count == 9
    logs = review_logs(v5_db)
    assert len(logs) == 1
    _policy, trigger, outcome, reason, action, tract = logs[0]
    assert (trigger, outcome, action, tract) == ("review", "approved", "annotate", "support-agent")
    assert reviewer_name() in reason
    resolved = rows(
        v5_db, "SELECT resolved_at FROM policy_proposals WHERE proposal_id=?", (ids[0],)
    )[0][0]
    assert resolved.startswith("2026-02-25 12:00:00")


async def test_reject_with_reason(v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "r")
        await settle(pilot)
        assert isinstance(app.screen, RejectPrompt)
        await pilot.press(*"not now", "enter")
        await settle(pilot)
        assert status_of(v5_db, ids[1]) == "rejected"
        assert pane(app).table.cursor_row.proposal_id == ids[2]
    ((_, _, outcome, reason, _, _),) = review_logs(v5_db)
    assert outcome == "rejected" and reason.endswith(": not now")
    assert reviewer_name() in reason


async def test_reject_without_reason(v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r", "enter")
        await settle(pilot)
    assert status_of(v5_db, ids[0]) == "rejected"
    ((_, _, outcome, reason, _, _),) = review_logs(v5_db)
    assert outcome == "rejected" and reason == f"by {reviewer_name()}"


async def test_reject_cancel_writes_nothing(v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r", *"meh", "escape")
        await settle(pilot)
        assert not isinstance(app.screen, RejectPrompt)
        assert pane(app).table.cursor_row.proposal_id == ids[0]
    assert status_of(v5_db, ids[0]) == "pending"
    assert review_logs(v5_db) == []


async def test_conflict_when_another_process_decided_first(v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    app = app_for(v5_db, poll_interval=3600)  # no live refresh: the row is stale on screen
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        with sqlite3.connect(v5_db) as other:
            other.execute(
                "UPDATE policy_proposals SET status='rejected' WHERE proposal_id=?", (ids[0],)
            )
        await pilot.press("a")
        await settle(pilot)
        notes = [n.message for n in app._notifications]
        assert any("already rejected" in m and "nothing was changed" in m for m in notes)
    assert status_of(v5_db, ids[0]) == "rejected"
    assert review_logs(v5_db) == []


async def test_undo_last_decision(v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert status_of(v5_db, ids[0]) == "approved"
        await pilot.press("u")
        await settle(pilot)
        assert status_of(v5_db, ids[0]) == "pending"
        assert pane(app).table.row_count == 10
        assert pane(app).undo_stack == []
    outcomes = [r[2] for r in review_logs(v5_db)]
    assert outcomes == ["approved", "reopened"]
    assert (
        rows(v5_db, "SELECT resolved_at FROM policy_proposals WHERE proposal_id=?", (ids[0],))[0][0]
        is None
    )


async def test_undo_refused_when_someone_executed_it(v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        with sqlite3.connect(v5_db) as other:
            other.execute(
                "UPDATE policy_proposals SET status='executed' WHERE proposal_id=?", (ids[0],)
            )
        await pilot.press("u")
        await settle(pilot)
        assert any("now executed" in n.message for n in app._notifications)
    assert status_of(v5_db, ids[0]) == "executed"


async def test_bulk_approve_with_confirmation(v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    app = app_for(v5_db, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "space")
        assert pane(app).marked == set(ids[:3])
        with sqlite3.connect(v5_db) as other:  # one of them decided elsewhere meanwhile
            other.execute(
                "UPDATE policy_proposals SET status='approved' WHERE proposal_id=?", (ids[1],)
            )
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.body)
        assert "flag-large-tool-output" in body and "auto-branch" in body
        await pilot.press("y")
        await settle(pilot)
        assert pane(app).marked == set()
        message = app._notifications
        assert any(
            "Approved 2 of 3" in n.message and "already approved" in n.message for n in message
        )
    assert [status_of(v5_db, i) for i in ids[:3]] == ["approved", "approved", "approved"]
    assert len(review_logs(v5_db)) == 2


async def test_bulk_reject_cancelled(v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "r")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert pane(app).marked == set(ids[:2])
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, RejectPrompt)
        await pilot.press(*"dup", "enter")
        await settle(pilot)
    assert [status_of(v5_db, i) for i in ids[:2]] == ["rejected", "rejected"]
    assert all(r[3].endswith(": dup") for r in review_logs(v5_db))


async def test_navigation_keys(v5_db: Path) -> None:
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = pane(app).table
        await pilot.press("G")
        assert table.cursor == 9
        await pilot.press("k", "k", "up")
        assert table.cursor == 6
        await pilot.press("g")
        assert table.cursor == 0
        await pilot.press("j", "down")
        assert table.cursor == 2
        await settle(pilot)
        assert pending_ids(v5_db)[2] in str(app.query_one("#detail").render())
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("2")
        await settle(pilot)
        assert app.query_one("#tabs", ContentSwitcher).current == "log"
        await pilot.press("1")
        assert app.query_one("#tabs", ContentSwitcher).current == "proposals"
        await pilot.press("q")
    assert app.return_code == 0


async def test_bindings_dim_when_they_cannot_act(v5_db: Path) -> None:
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        p = pane(app)
        assert p.check_action("undo", ()) is None
        assert p.check_action("approve", ()) is True
        await pilot.press("a")
        await settle(pilot)
        assert p.check_action("undo", ()) is True


async def test_live_update_keeps_cursor(v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "j")
        await settle(pilot)
        assert pane(app).table.cursor_row.proposal_id == ids[3]
        with sqlite3.connect(v5_db) as other:
            other.execute(
                "INSERT INTO policy_proposals VALUES ('00new', 'support-agent', 'auto-pin', "
                "'annotate', '{}', 'older than all', 'pending', '2026-01-01 00:00:00.000000', NULL)"
            )
            other.execute(
                "UPDATE policy_proposals SET status='rejected' WHERE proposal_id=?", (ids[0],)
            )
        for _ in range(20):
            await asyncio.sleep(0.1)
            await settle(pilot, 1)
            if (
                pane(app).table.row_count == 10
                and pane(app).table.cache.rows()[0].proposal_id == "00new"
            ):
                break
        assert pane(app).table.cache.rows()[0].proposal_id == "00new"
        assert pane(app).table.cursor_row.proposal_id == ids[3]


async def test_log_filters(v5_db: Path) -> None:
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        log = app.query_one(LogPane)
        assert log.table.row_count == 34
        first = log.table.cache.rows()[0]
        assert first.created_at_raw == rows(v5_db, "SELECT max(created_at) FROM policy_log")[0][0]

        async def typed(text: str) -> int:
            await pilot.press("slash")
            inp = app.query_one("#log-filter")
            inp.value = text
            await pilot.press("enter")
            await settle(pilot)
            return log.table.row_count

        def count(where: str) -> int:
            return rows(v5_db, f"SELECT count(*) FROM policy_log WHERE {where}")[0][0]

        assert await typed("outcome:error") == count("outcome='error'") == 4
        assert await typed("-outcome:error") == count("outcome!='error'")
        assert await typed("policy:auto-pin") == count("policy_name='auto-pin'")
        assert await typed("trigger:compile") == count("trigger='compile'")
        assert await typed("tract:support-agent") == count("tract_id='support-agent'")
        assert await typed("since:2026-02-18 until:2026-02-18") == count(
            "created_at >= '2026-02-18' AND created_at < '2026-02-19'"
        )
        assert await typed("since:2d") == count("created_at >= '2026-02-23 12:00:00'")
        assert await typed("o3-mini") == count("error_message LIKE '%o3-mini%'") == 2
        assert await typed("outcome:proposed Token") == count(
            "outcome='proposed' AND reason LIKE '%Token%'"
        )
        stats = str(app.query_one("#log-stats").render())
        expected = count("outcome='proposed' AND reason LIKE '%Token%'")
        assert f"{expected} rows" in stats
        assert await typed("bogus:1") == log.table.row_count  # unchanged
        assert "unknown filter key" in str(app.query_one("#log-error").render())
        await typed("")
        # the selects combine with the typed filter
        from textual.widgets import Select

        app.query_one("#f-outcome", Select).value = "executed"
        await settle(pilot)
        assert log.table.row_count == count("outcome='executed'")
        app.query_one("#f-tract", Select).value = "support-agent"
        await settle(pilot)
        assert log.table.row_count == count("outcome='executed' AND tract_id='support-agent'")


async def test_read_only_file(v5_db: Path) -> None:
    os.chmod(v5_db, 0o444)
    before = v5_db.read_bytes()
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "READ-ONLY" in str(app.query_one("#banner").render())
        assert pane(app).check_action("approve", ()) is None
        assert pane(app).check_action("undo", ()) is None
        assert pane(app).check_action("mark", ()) is None
        await pilot.press("a", "r")
        await settle(pilot)
        assert not isinstance(app.screen, RejectPrompt)
    assert v5_db.read_bytes() == before
    assert review_logs(v5_db) == []


async def test_read_only_flag_below_v5_says_so(fixture_copy) -> None:
    path = fixture_copy(4)
    before = path.read_bytes()
    app = app_for(path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ErrorScreen)
        assert "must be migrated" in app.screen.message
        await pilot.press("q")
    assert app.return_code == 2
    assert path.read_bytes() == before


async def test_refused_file_shows_error_screen(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database")
    app = app_for(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ErrorScreen)
        assert "not a SQLite database" in app.screen.message
    assert path.read_text() == "not a database"


async def test_migrates_old_fixture_on_open(fixture_copy) -> None:
    path = fixture_copy(2)
    app = app_for(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert pane(app).table.row_count == 0
        assert "No pending proposals" in app.query_one("#proposals-table").empty_text
    assert rows(path, "SELECT value FROM _trace_meta WHERE key='schema_version'") == [("5",)]


@pytest.mark.parametrize(
    "hostile",
    [
        "[bold red]URGENT[/] [link=https://evil.example]click[/link]",
        "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 nul\x00 bell\x07",
    ],
)
async def test_hostile_reason_is_inert(v5_db: Path, hostile: str) -> None:
    with sqlite3.connect(v5_db) as conn:
        conn.execute(
            "UPDATE policy_proposals SET reason=? WHERE proposal_id=?",
            (hostile, pending_ids(v5_db)[0]),
        )
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        detail = app.query_one("#detail").render()
        plain = str(detail)
        assert "\x1b" not in plain and "\x00" not in plain and "\x07" not in plain
        if "[bold" in hostile:
            assert "[bold red]URGENT[/]" in plain  # shown literally
            spans = getattr(detail, "spans", [])
            assert not any("link" in str(s.style) for s in spans)
        else:
            assert "␛[31mred" in plain


async def test_fast_keys_are_queued_not_dropped(v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    app = app_for(v5_db)
    app.settings.confirm = {k: False for k in app.settings.confirm}  # ids[2] is a compress
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a", "a", "a")  # faster than the decisions and reloads
        await settle(pilot, 8)
        assert pane(app).table.cursor_row.proposal_id == ids[3]
    assert [status_of(v5_db, i) for i in ids[:4]] == ["approved"] * 3 + ["pending"]
    assert len(review_logs(v5_db)) == 3


async def test_clicking_a_tab_shows_its_view(v5_db: Path) -> None:
    from tract_tui.app.tabbar import TabBar

    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.click(TabBar, offset=(13, 0))  # " Proposals " is cells 0-10, " Log " 11-15
        await settle(pilot)
        assert app.query_one("#tabs", ContentSwitcher).current == "log"
        assert app.query_one(TabBar).active == "log"
        assert app.focused is app.query_one(LogPane).table
        await pilot.click(TabBar, offset=(4, 1))  # the underline below a label works too
        await settle(pilot)
        assert app.query_one("#tabs", ContentSwitcher).current == "proposals"
        assert app.focused is app.query_one(ProposalsPane).table
        await pilot.click(TabBar, offset=(60, 0))  # past the labels: nothing
        await settle(pilot)
        assert app.query_one("#tabs", ContentSwitcher).current == "proposals"


def test_log_stats_line_counts_one_row_in_the_singular() -> None:
    from tract_tui.app.logview import stats_text
    from tract_tui.models.review import LogStats

    one = stats_text(LogStats(1, {"skipped": 1}, [1], None, None), 1).plain
    assert one.startswith("1 row ") and "rows" not in one
    many = stats_text(LogStats(1234, {"skipped": 1234}, [1234], None, None), 1234).plain
    assert many.startswith("1,234 rows")


async def test_log_view_is_built_and_read_hidden_before_the_first_2(v5_db: Path) -> None:
    """Issue 14: shortly after the first frame the log view exists, hidden, with its rows.

    The first ``2`` then only shows it; the stats (a full pass on a large log)
    wait until it is on screen.
    """
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await asyncio.sleep(app_module.PREBUILD_LOG_AFTER + 0.2)
        await settle(pilot)
        pane = app.query_one(LogPane)
        assert app.query_one("#tabs", ContentSwitcher).current == "proposals"
        assert app.focused is app.query_one(ProposalsPane).table
        assert pane.table.cache.get(0) is not None  # the first rows, read while hidden
        assert "rows" not in str(pane.query_one("#log-stats").render())  # not yet counted
        await pilot.press("2")
        await settle(pilot)
        assert app.focused is pane.table
        assert "rows" in str(pane.query_one("#log-stats").render())


async def test_the_first_2_draws_the_log_before_its_stats_and_count_start(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stats, the exact count and the search catch-up (full passes over the log) start
    after the frame that shows the prebuilt view: started with the key, they took the CPU
    from that frame, and the first ``2`` grew with the log (129 / 164 / 203 ms at 10k /
    100k / 1M rows, against 84-88 ms for every later ``2``)."""
    from tract_tui.app.table import VirtualTable

    drawn: list[int] = []
    started_after: list[int] = []
    render_lines = VirtualTable.render_lines
    after_rows = LogPane._after_rows

    def counting_render(self: VirtualTable, crop):  # type: ignore[no-untyped-def]
        if self.id == "log-table":
            drawn.append(1)
        return render_lines(self, crop)

    def noting_start(self: LogPane, *args) -> None:  # type: ignore[no-untyped-def]
        started_after.append(len(drawn))
        after_rows(self, *args)

    monkeypatch.setattr(VirtualTable, "render_lines", counting_render)
    monkeypatch.setattr(LogPane, "_after_rows", noting_start)
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await asyncio.sleep(app_module.PREBUILD_LOG_AFTER + 0.2)
        await settle(pilot)
        assert app.query_one(LogPane).table.cache.get(0) is not None  # prebuilt, hidden
        assert started_after == [] and drawn == []
        await pilot.press("2")
        await settle(pilot)
        assert started_after and started_after[0] > 0, "stats started before the log was drawn"
        assert "rows" in str(app.query_one("#log-stats").render())


async def test_2_while_the_log_view_is_being_built(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``2`` that lands between the prebuild's mount and its compose still shows rows."""
    monkeypatch.setattr(app_module, "PREBUILD_LOG_AFTER", 3600)  # the test builds it
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.built("log") is None
        app.prebuild_log()
        app.action_show_tab("log")  # same tick: the pane is not composed yet
        await settle(pilot)
        pane = app.query_one(LogPane)
        assert pane.table.cache.get(0) is not None
        assert app.focused is pane.table


@pytest.mark.parametrize("delay", [0, 0.002, 0.02])
async def test_quitting_while_the_log_view_is_being_mounted(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch, delay: float
) -> None:
    """The prebuild's mount met the shutdown (a CI run quit at 0.4 s): the log pane and
    Textual's Select found their children gone and raised. Shutdown waits for the mount."""
    monkeypatch.setattr(app_module, "PREBUILD_LOG_AFTER", 3600)  # the test calls it
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.prebuild_log()
        await asyncio.sleep(delay)
    assert app.return_code in (None, 0)


async def test_the_log_is_built_after_a_zoom_that_was_open_at_its_time(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zoom (a modal screen) open when the prebuild comes: it waits, it does not crash."""
    monkeypatch.setattr(app_module, "PREBUILD_LOG_AFTER", 3600)  # the test calls it
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # zoom
        await settle(pilot)
        assert app.screen is not app.screen_stack[0]
        app.prebuild_log()
        await settle(pilot)
        await pilot.press("escape")
        await asyncio.sleep(1.2)
        await settle(pilot)
        assert app.screen is app.screen_stack[0]
        pane = app.query_one(LogPane)
        assert pane.table.cache.get(0) is not None
        assert app.focused is app.query_one(ProposalsPane).table


async def test_a_word_typed_fast_after_slash_goes_into_the_filter_never_to_the_keys(
    v5_db: Path,
) -> None:
    """``/`` then ``act`` as a terminal delivers a fast typist (or a paste): all four keys
    arrive before ``/`` is handled. The ``a`` once approved the highlighted proposal and the
    ``c`` opened the context view; the word belongs in the filter box."""
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        send_keys(app, "slash", "a", "c", "t")
        await settle(pilot)
        assert app.current_tab == "proposals"
        assert app.query_one("#proposals-filter", Input).value == "act"
    with sqlite3.connect(v5_db) as conn:
        approved = conn.execute(
            "SELECT count(*) FROM policy_proposals WHERE status = 'approved'"
        ).fetchone()[0]
    assert approved == 0


def send_keys(app: ReviewApp, *keys: str) -> None:
    """Keys as a fast typist's terminal delivers them: all queued before the first is handled."""
    from textual import events

    chars = {"enter": "\r", "space": " ", "slash": "/"}
    for key in keys:
        char = chars.get(key, key if len(key) == 1 else None)
        app._driver.send_message(events.Key(key, char))  # type: ignore[union-attr]


async def test_a_reason_typed_fast_after_r_lands_in_the_prompt(v5_db: Path) -> None:
    """``r`` then ``a b``: the letters met the prompt before its box had the focus and were
    dropped (the reason lost its start). They belong in the reason; nothing is approved."""
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = app.query_one(ProposalsPane).table.cursor_row.proposal_id
        send_keys(app, "r", "a", "space", "b")
        await settle(pilot)
        assert app.screen.query_one("#reason", Input).value == "a b"
        await pilot.press("escape")
        await settle(pilot)
        send_keys(app, "r", "a", "space", "b", "enter")  # the Enter too: it rejects
        await settle(pilot)
        assert app.screen is app.screen_stack[0]
    with sqlite3.connect(v5_db) as conn:
        decided = conn.execute(
            "SELECT proposal_id, status FROM policy_proposals WHERE status IN"
            " ('approved', 'rejected') AND proposal_id = ?",
            (first,),
        ).fetchall()
        approved = conn.execute(
            "SELECT count(*) FROM policy_proposals WHERE status = 'approved'"
        ).fetchone()[0]
    conn.close()
    assert decided == [(first, "rejected")] and approved == 0
    ((_, _, outcome, reason, _, _),) = review_logs(v5_db)
    assert outcome == "rejected" and reason.endswith(": a b")


async def test_keys_typed_fast_after_enter_go_to_the_zoom(v5_db: Path) -> None:
    """Enter then ``a``: the zoom was pushed only once its content was read, so the ``a``
    approved the proposal being zoomed. The zoom opens at once and takes the keys."""
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        send_keys(app, "enter", "a", "j")
        await settle(pilot)
        assert type(app.screen).__name__ == "ZoomScreen"
        assert "reading" not in str(app.screen.query_one("#zoom-text").render())
        table = app.query_one(ProposalsPane).table
        assert table.cursor == 0
        send_keys(app, "escape", "j", "enter", "escape", "j")  # back, down, zoom, back, down
        await settle(pilot)
        assert app.screen is app.screen_stack[0] and table.cursor == 2
    with sqlite3.connect(v5_db) as conn:
        approved = conn.execute(
            "SELECT count(*) FROM policy_proposals WHERE status = 'approved'"
        ).fetchone()[0]
    conn.close()
    assert approved == 0


async def test_the_footer_is_rebuilt_only_when_its_keys_change_and_restyles_no_key(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each footer rebuild (every focus change) restyled each key twice (Textual's FooterKey
    is born ``compact`` and bound to the footer's ``False``), and a refresh that changed no
    key rebuilt it anyway: tens of milliseconds inside a filter applied with Enter or a
    first ``2``. A rebuild now restyles no key; an unchanged set of keys is kept as is."""
    from textual.widgets._footer import FooterKey

    from tract_tui.app.footer import CoalescingFooter

    restyled: list[object] = []
    original = ReviewApp.update_styles

    def spy(self: ReviewApp, node: object, animate: bool = True) -> None:
        if isinstance(node, FooterKey):
            restyled.append(node)
        original(self, node, animate=animate)

    monkeypatch.setattr(ReviewApp, "update_styles", spy)
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        footer = app.query_one(CoalescingFooter)
        keys = list(footer.query(FooterKey))
        assert "Approve" in [k.description for k in keys]
        restyled.clear()
        app.screen.refresh_bindings()  # nothing changed: the same key widgets stay
        await settle(pilot)
        assert list(footer.query(FooterKey)) == keys
        await pilot.press("slash")  # the filter box's keys: new labels
        await settle(pilot)
        rebuilt = list(footer.query(FooterKey))
        assert rebuilt and "Approve" not in [k.description for k in rebuilt]
        assert shown(footer) == wanted(app)
        assert restyled == [], f"{len(restyled)} footer keys restyled while being built"
        assert not any(k.has_class("-compact") for k in rebuilt)
        await pilot.press("escape")  # back to the table: its keys again
        await settle(pilot)
        assert "Approve" in [k.description for k in footer.query(FooterKey)]
        assert shown(footer) == wanted(app)


def shown(footer: object) -> list[tuple[str, str, str, bool, str]]:
    """What the footer's keys say, in order: key, label, action, disabled, tooltip."""
    from textual.widgets._footer import FooterKey

    keys = footer.query(FooterKey)  # type: ignore[attr-defined]
    return [(k.key_display, k.description, k.action, k.has_class("-disabled"),
             str(k.tooltip or "")) for k in keys]  # fmt: skip


def wanted(app: ReviewApp) -> list[tuple[str, str, str, bool, str]]:
    """What Textual's own Footer.compose would show for the bindings active now."""
    first: dict[str, tuple[str, str, str, bool, str]] = {}
    for _node, b, enabled, tooltip in app.screen.active_bindings.values():
        if b.show:
            first.setdefault(b.action, (app.get_key_display(b), b.description, b.action,
                                        not enabled, tooltip or ""))  # fmt: skip
    return list(first.values())


async def test_the_footer_relabels_its_keys_in_place_through_every_view(v5_db: Path) -> None:
    """Issue 14: a focus change recomposed the footer (every key widget removed and mounted
    again, 20-30 ms inside a first ``2`` or a filter applied with Enter). The key widgets
    now take their new labels in place; what they show is what Textual's Footer would."""
    from textual.widgets._footer import FooterKey

    from tract_tui.app.footer import CoalescingFooter

    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        footer = app.query_one(CoalescingFooter)
        first = list(footer.query(FooterKey))
        for keys in (["2"], ["slash"], ["escape"], ["3"], ["4"], ["1"], ["space"], ["slash"]):
            await pilot.press(*keys)
            await settle(pilot)
            await pilot.pause(0.05)
            assert shown(footer) == wanted(app), keys
        kept = list(footer.query(FooterKey))
        assert any(k is f for k, f in zip(kept, first, strict=False)), "no key widget kept"


async def test_a_slow_first_page_does_not_keep_the_screen_blank(v5_db: Path) -> None:
    """Issue 14 at 10M rows: a first open of a file tract-tui never indexed reads its oldest
    pending proposals by a full scan (1.3-2.8 s there), and the screen stayed blank until
    it ended. The screen now comes first with a line saying what is being read; the rows
    follow, and only then are tract-tui's indexes built (both at once slowed the scan)."""
    import threading

    from tract_tui.app.paging import preload_first_page
    from tract_tui.review.service import ReviewService

    with sqlite3.connect(v5_db) as conn:  # as tract-tui never saw it
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE 'ix_tui_%'"
        ).fetchall():
            conn.execute(f'DROP INDEX "{name}"')
    service = ReviewService.open(v5_db)
    read = threading.Event()

    def slow_first_page(cancelled):  # type: ignore[no-untyped-def]
        while not read.wait(0.01):
            if cancelled():
                return None
        return preload_first_page(service)

    app = ReviewApp(v5_db, clock=clock, service=service, poll_interval=0.2)
    app.preload_later(slow_first_page)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.3)
            status = app.query_one("#status")
            assert "Reading the oldest pending proposals" in str(status.render())
            assert pane(app).table.row_count == 0
            assert not rows(v5_db, "SELECT name FROM sqlite_master WHERE name LIKE 'ix_tui_%'")
            read.set()
            await settle(pilot)
            await pilot.pause(0.3)
            await settle(pilot)
            assert [r.proposal_id for r in pane(app).table.cache.rows()] == pending_ids(v5_db)
            assert "Reading" not in str(status.render())
            built = rows(v5_db, "SELECT name FROM sqlite_master WHERE name LIKE 'ix_tui_%'")
            assert built, "the indexes are built once the first page is in"
            await pilot.press("a")  # the console works as usual from here
            await settle(pilot)
            assert len(review_logs(v5_db)) == 1
    finally:
        service.close()


async def test_a_key_typed_right_after_1_acts_on_the_proposals(v5_db: Path) -> None:
    """``1`` then ``a`` at once, from another view: the ``a`` reached the hidden view that
    still had the focus (the focus moved only after the queued keys) and was lost."""
    ids = pending_ids(v5_db)
    app = app_for(v5_db)
    app.settings.confirm = {k: False for k in app.settings.confirm}  # decide at once
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        send_keys(app, "1", "a")
        await settle(pilot)
        assert app.focused is pane(app).table
        assert status_of(v5_db, ids[0]) == "approved"


async def test_the_log_view_is_prebuilt_only_after_the_index_build(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: the hidden log view's first page and drop-downs, read without tract-tui's
    indexes, are full scans of the log (seconds at 1M rows) that slowed the index build
    and kept its WAL from starting over. The prebuild now waits for the build; a ``2``
    meanwhile still shows the log at once."""
    monkeypatch.setattr(app_module, "PREBUILD_LOG_AFTER", 0.05)
    blocker = sqlite3.connect(v5_db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer: the build waits for the lock
    app = app_for(v5_db)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.5)
            assert not app.indexes_settled
            assert app.built("log") is None, "prebuilt while the indexes were being built"
            blocker.execute("COMMIT")
            await settle(pilot)
            await pilot.pause(0.3)
            await settle(pilot)
            assert app.indexes_settled and app.built("log") is not None
            assert rows(v5_db, "SELECT 1 FROM sqlite_master WHERE name LIKE 'ix_tui_%'")
    finally:
        blocker.close()


async def test_a_2_during_the_index_build_shows_the_log(v5_db: Path) -> None:
    blocker = sqlite3.connect(v5_db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    app = app_for(v5_db)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.3)  # not settle(): the index build waits for the lock
            await pilot.press("2")
            await pilot.pause(0.5)
            assert not app.indexes_settled
            assert app.current_tab == "log"
            assert app.built("log") is not None
    finally:
        blocker.rollback()
        blocker.close()


async def test_a_key_bound_on_the_lists_acts_where_it_arrives(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14, decision p50: a key's binding was looked up only after the key had bubbled
    from the focused table through six ancestors to the app (2.75 ms of 4.8). It now runs
    at the table; a key bound nowhere still goes up (the app sees only that one)."""
    from textual import events

    reached: list[str] = []
    original = ReviewApp.on_key

    def spy(self: ReviewApp, event: events.Key) -> None:
        reached.append(event.key)
        original(self, event)

    monkeypatch.setattr(ReviewApp, "on_key", spy)
    ids = pending_ids(v5_db)
    app = app_for(v5_db)
    app.settings.confirm = {k: False for k in app.settings.confirm}  # decide at once
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "a", "x", "2", "1")
        await settle(pilot)
        assert app.current_tab == "proposals"
    assert reached == ["x"]
    assert [(pid, status_of(v5_db, pid)) for pid in ids[:3]] == [
        (ids[0], "pending"), (ids[1], "approved"), (ids[2], "pending")
    ]  # fmt: skip
