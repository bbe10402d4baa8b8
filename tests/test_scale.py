"""What keeps the console fast at scale (issue 4), checked on small copies of the fixtures.

The timings themselves are in benchmarks/bench.py; these tests pin the means:
no SQLAlchemy on a plain open, the ix_tui_* indexes and the plans that use
them, cancellable reads, checkpoints off the writer's path, rows before
counts in the log view, and a first frame that already shows rows.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.apphelpers import SIZE, clock, settle
from tract_tui.exceptions import QueryCancelledError
from tract_tui.review import ReviewService, parse_filter
from tract_tui.storage.connection import CHECKPOINT_ROWS, ConnectionPool
from tract_tui.storage.indexes import TUI_INDEX_NAMES, tui_indexes_missing
from tract_tui.storage.open import open_database


def indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}


def plan(path: Path, sql: str, params: tuple[object, ...] = ()) -> str:
    with sqlite3.connect(path) as conn:
        return " / ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


def build_indexes(path: Path) -> None:
    svc = ReviewService.open(path)
    try:
        svc.ensure_indexes()
    finally:
        svc.close()


def test_first_open_adds_every_tui_index_then_opens_without_sqlalchemy(v5_db: Path) -> None:
    assert tui_indexes_missing(str(v5_db)) == list(TUI_INDEX_NAMES)
    open_database(v5_db).dispose()  # opening builds none: on a large file that takes seconds
    assert tui_indexes_missing(str(v5_db)) == list(TUI_INDEX_NAMES)
    progress: list[tuple[int, int, str]] = []
    svc = ReviewService.open(v5_db)
    try:
        assert svc.ensure_indexes(progress=lambda *p: progress.append(p)) == len(TUI_INDEX_NAMES)
        assert svc.ensure_indexes() == 0
    finally:
        svc.close()
    assert [p[0] for p in progress] == list(range(len(TUI_INDEX_NAMES) + 1))
    assert set(TUI_INDEX_NAMES) <= indexes(v5_db)
    assert tui_indexes_missing(str(v5_db)) == []
    code = (
        "import sys\n"
        "from tract_tui.review import ReviewService, parse_filter\n"
        "svc = ReviewService.open(sys.argv[1])\n"
        "assert svc.count_proposals() == 10\n"
        "svc.list_log(parse_filter('locked', 'log'))\n"
        "svc.log_stats()\n"
        "svc.approve(svc.list_proposals(limit=1)[0].proposal_id)\n"
        "svc.close()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy')\n"
        "assert not bad, bad[:5]\n"
    )
    subprocess.run([sys.executable, "-c", code, str(v5_db)], check=True)


def test_listings_use_the_tui_indexes(v5_db: Path) -> None:
    build_indexes(v5_db)
    counts = plan(
        v5_db,
        "SELECT tract_id, policy_name, count(*) FROM policy_proposals WHERE status = 'pending'"
        " GROUP BY tract_id, policy_name",
    )
    assert "COVERING INDEX ix_tui_proposals_status_tract_policy" in counts
    assert "TEMP B-TREE FOR GROUP BY" not in counts
    pending = plan(
        v5_db,
        "SELECT * FROM policy_proposals WHERE status = 'pending'"
        " ORDER BY created_at, proposal_id, rowid LIMIT 100",
    )
    assert "ix_tui_proposals_status_time" in pending and "TEMP B-TREE" not in pending
    for col, index in (
        ("policy_name", "ix_tui_log_policy_time"),
        ("outcome", "ix_tui_log_outcome_time"),
        ('"trigger"', "ix_tui_log_trigger_time"),
    ):
        sql = (
            f"SELECT * FROM policy_log WHERE {col} IN (?)"
            " ORDER BY created_at DESC, id DESC LIMIT 100"
        )
        got = plan(v5_db, sql, ("x",))
        assert index in got and "TEMP B-TREE" not in got, got
    newest = plan(v5_db, "SELECT * FROM policy_log ORDER BY created_at DESC, id DESC LIMIT 100")
    assert "ix_tui_log_time" in newest and "TEMP B-TREE" not in newest


def test_a_cancelled_read_stops_with_query_cancelled(v5_db: Path) -> None:
    svc = ReviewService.open(v5_db)
    try:
        with pytest.raises(QueryCancelledError):
            svc.count_log(parse_filter("locked", "log"), cancelled=lambda: True)
        with pytest.raises(QueryCancelledError):
            svc.log_stats(cancelled=lambda: True)
        assert svc.count_log() == 34
    finally:
        svc.close()
    # a long statement stops at the next poll, and the connection stays usable
    pool = ConnectionPool(str(v5_db))
    polls: list[int] = []

    def interrupt() -> bool:
        polls.append(1)
        return len(polls) > 2

    try:
        with pytest.raises(QueryCancelledError), pool.read(interrupt) as c:
            c.execute(
                "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n"
                " WHERE x < 100000000) SELECT count(*) FROM n"
            ).fetchone()
        assert len(polls) == 3
        with pool.read() as c:
            assert c.execute("SELECT count(*) FROM policy_log").fetchone()[0] == 34
    finally:
        pool.close()


def test_log_rank_counts_newer_rows_up_to_a_cap(v5_db: Path) -> None:
    svc = ReviewService.open(v5_db, clock=clock)
    try:
        flt = parse_filter("-outcome:skipped", "log")
        rows = svc.list_log(flt, limit=50)
        for i, row in enumerate(rows):
            assert svc.log_rank((row.created_at_raw, row.id), flt) == i
            assert svc.log_rank((row.created_at_raw, row.id), flt, cap=3) == min(i, 3)
    finally:
        svc.close()


def test_text_only_stats_equal_the_indexed_path(v5_db: Path) -> None:
    """Free words take the two-scan path; its figures match the range counts' shape."""
    svc = ReviewService.open(v5_db, clock=clock)
    try:
        for text in ("Token", "-Token", "o3-mini", "nothing-matches-this"):
            stats = svc.log_stats(parse_filter(text, "log"), buckets=10)
            assert stats.total == svc.count_log(parse_filter(text, "log")) == sum(stats.buckets)
            assert stats.total == sum(stats.by_outcome.values())
        plain = svc.log_stats(buckets=10)
        # a word every row matches: the same buckets as no filter at all
        everything = svc.log_stats(parse_filter("-zzzz-not-there", "log"), buckets=10)
        assert everything == plain
    finally:
        svc.close()


def test_checkpoints_run_off_the_writers_path(v5_db: Path) -> None:
    """Every write wakes one checkpoint thread: never in the COMMIT, never far behind it."""
    open_database(v5_db).dispose()
    pool = ConnectionPool(str(v5_db))
    ran: list[str] = []
    real = pool.checkpoint

    def checkpoint() -> None:
        ran.append(threading.current_thread().name)
        real()

    pool.checkpoint = checkpoint  # type: ignore[method-assign]
    try:
        for _ in range(CHECKPOINT_ROWS + 2):
            with pool.write() as conn:
                assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
                conn.execute(
                    "UPDATE policy_proposals SET reason = reason WHERE rowid IN"
                    " (SELECT rowid FROM policy_proposals LIMIT 2)"
                )
            assert threading.current_thread().name not in ran
        deadline = time.monotonic() + 10
        while not ran and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ran and set(ran) == {"tract-tui checkpoint"}  # in its own thread
        with pool.read() as conn:  # and the WAL's frames reached the file
            busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            assert busy == 0 and log == done
    finally:
        pool.close()


async def test_first_frame_shows_rows_when_preloaded(v5_db: Path) -> None:
    from tract_tui.app import ReviewApp

    svc = ReviewService.open(v5_db, clock=clock)
    app = ReviewApp(v5_db, service=svc, clock=clock)
    app.preload()
    try:
        async with app.run_test(size=SIZE) as pilot:
            table = app.query_one("#proposals-table")
            assert table.row_count == 10 and table.cache.get(0) is not None  # no worker yet
            await settle(pilot)
            assert "10 pending" in str(app.query_one("#counts").render())
    finally:
        svc.close()


async def test_log_rows_come_before_their_count(v5_db: Path) -> None:
    """A filter whose first page is full shows it at once and corrects the total later.

    No live polls: the console's own index build is a change its watcher sees, and a poll
    that landed inside the reload below (it did once, under a full parallel run) reloaded
    the log a second time.
    """
    from tract_tui.app import ReviewApp
    from tract_tui.app.logview import LogPane

    app = ReviewApp(v5_db, clock=clock, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        log = app.query_one(LogPane)
        log.table.cache.page_size = 5  # 34 rows: the first page is full, the count follows
        seen: list[int] = []
        real = log.table.correct_total

        def correct_total(total: int) -> None:
            seen.append(log.table.row_count)
            real(total)

        log.table.correct_total = correct_total  # type: ignore[method-assign]
        log.reload(keep_position=False)
        await settle(pilot)
        assert seen == [5] and log.table.row_count == 34, (seen, log.table.row_count)
        assert [r.id for r in log.table.cache.rows()[:5]] == [
            e.id for e in app.service.list_log(limit=5)
        ]


async def test_a_burst_of_binding_changes_rebuilds_the_footer_once(v5_db: Path) -> None:
    """Textual's Footer recomposes per refresh_bindings (~20 ms each); ours once per frame."""
    from tract_tui.app import ReviewApp
    from tract_tui.app.footer import CoalescingFooter

    app = ReviewApp(v5_db, clock=clock, poll_interval=3600)  # no live refresh in the count
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        footer = app.query_one(CoalescingFooter)
        rebuilt: list[int] = []
        original = footer._relabel  # the rebuild: keys relabelled in place (or recomposed)

        async def counting() -> bool:
            rebuilt.append(1)
            return await original()

        footer._relabel = counting  # type: ignore[method-assign]
        footer._built_from = None  # as if the keys had changed (a rebuild is due)
        for _ in range(6):
            app.screen.refresh_bindings()
        await settle(pilot)
        assert len(rebuilt) == 1
        footer._built_from = None
        app.screen.refresh_bindings()  # a later change is not lost
        await settle(pilot)
        assert len(rebuilt) == 2
        app.screen.refresh_bindings()  # no change at all: no rebuild
        await settle(pilot)
        assert len(rebuilt) == 2
        keys = " ".join(str(k.render()) for k in footer.query("FooterKey"))
        assert "Approve" in keys and "Quit" in keys


def test_importing_the_console_package_does_not_import_textual() -> None:
    """run_console reads the first page while Textual is imported: it must not be yet."""
    code = (
        "import sys\n"
        "import tract_tui.app\n"
        "from tract_tui.app.paging import preload_first_page\n"
        "assert 'textual' not in sys.modules, 'textual imported'\n"
        "assert tract_tui.app.ReviewApp.__name__ == 'ReviewApp'\n"
        "assert 'textual' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_launch_imports_no_module_the_first_frame_does_not_need() -> None:
    """What the console and the command line import before the first rows: each module
    below was imported there once, and each cost a launch milliseconds (dataclasses
    defined, hashlib's OpenSSL loaded by the search cache); each is imported where first
    used."""
    later = [
        "tract_tui.models.context",
        "tract_tui.models.policy",
        "tract_tui.review.context",
        "tract_tui.review.effect",
        "tract_tui.review.effect_compress",
        "tract_tui.review.tractcache",
        "tract_tui.review.impact",
        "tract_tui.storage.context",
        "tract_tui.storage.search",
    ]
    code = (
        "import sys\n"
        "import tract_tui.cli, tract_tui.app.app\n"
        f"early = [m for m in {later!r} if m in sys.modules]\n"
        "assert not early, f'imported before the first frame: {early}'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_launch_defines_no_dataclass_of_ours() -> None:
    """Each ``@dataclass`` costs ~0.45 ms when its module is imported (its methods are
    compiled with exec): the launch defined 29, 12 ms of a ~170 ms floor. The values it
    needs are :class:`~tract_tui.models.record.Record` subclasses instead; Settings (saved
    with ``asdict``) is the one left."""
    code = (
        "import sys, dataclasses\n"
        "import tract_tui.cli, tract_tui.app.app, tract_tui.app\n"
        "found = sorted(f'{m.__name__}.{n}' for m in list(sys.modules.values())\n"
        "    if m.__name__.startswith('tract_tui')\n"
        "    for n, v in vars(m).items() if isinstance(v, type) and dataclasses.is_dataclass(v)\n"
        "    and v.__module__ == m.__name__)\n"
        "assert found == ['tract_tui.settings.Settings'], found\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_building_the_indexes_leaves_no_wal_and_waits_for_an_older_reader(v5_db: Path) -> None:
    """Issue 14, a console killed at 10M rows: six indexes built back to back left a 2.1 GB
    WAL (it never started over: no checkpoint ran between them), and the next open
    recovered all of it. After each index the WAL is copied and cut to zero bytes, once
    readers of older snapshots are done (a reader still in it is waited for, not cut off)."""
    wal = Path(f"{v5_db}-wal")
    svc = ReviewService.open(v5_db)
    try:
        assert svc.ensure_indexes() == len(TUI_INDEX_NAMES)
        assert wal.stat().st_size == 0, "a kill now would leave no WAL to recover"
        pool = svc.pool
        reader = sqlite3.connect(v5_db)
        reader.execute("BEGIN")  # a snapshot older than the next write
        seen = reader.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        with pool.write() as conn:
            conn.execute("CREATE TABLE scratch (n)")
        assert pool.empty_wal(give_up=0.3) is False  # the reader still needs the WAL
        assert wal.stat().st_size > 0
        assert reader.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == seen
        emptied: list[bool] = []
        waiter = threading.Thread(target=lambda: emptied.append(pool.empty_wal(give_up=10)))
        waiter.start()
        time.sleep(0.3)
        assert emptied == []  # still waiting for the reader
        reader.rollback()
        reader.close()
        waiter.join(10)
        assert emptied == [True] and wal.stat().st_size == 0
    finally:
        svc.close()
