"""The log's search index (tract_tui/storage/search.py): a prefilter that never changes an answer.

Every test runs on real SQLite files (copies of the v5 fixture) with the
cache in a temporary directory (the autouse ``search_cache_dir`` fixture).
What is checked:

1. with the index, every log listing, count, rank and stats equals the same
   call with ``TRACT_TUI_SEARCH_INDEX=0`` (hypothesis: words of 1-12
   characters, unicode, mixed case, ``%``, ``_``, backslashes, quotes, NULs,
   several and negated words, with policy/outcome/since filters), on an
   index that lags behind the table (rows added and deleted since);
2. staleness: new rows are found, deleted rows are not returned, ids handed
   out again after the newest rows were deleted are found and rebuild the
   index, another database copied over the path is handled;
3. a broken cache (a file where its directory should be, garbage bytes,
   another format, no trigram tokenizer) leaves search correct; a read-only
   open searches and builds the cache and leaves the database byte-identical;
4. two processes catching up at once index each row once;
5. the plan of a rare word's listing looks the candidates up by id;
6. the console catches the index up in the background.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.apphelpers import SIZE, clock, settle
from tract_tui.cli import main
from tract_tui.models.review import LogEntry
from tract_tui.review.filters import Filter, Term, parse_filter
from tract_tui.review.service import ReviewService
from tract_tui.storage import search
from tract_tui.storage.search import SearchIndex, index_path, trigrams

EXAMPLES = int(os.environ.get("TRACT_TUI_PROPERTY_EXAMPLES", "60"))
SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
START = datetime(2026, 1, 20, 9, 0, 0)

# --- data -------------------------------------------------------------------------------------

PIECES = [
    "database is locked",
    "Timeout after 30s",
    "disk full",
    "ÉCOLE naïve straße",
    "école NAÏVE STRASSE",
    "日本語のテキスト",
    "emoji 🚀 launch 👩‍💻",
    "100% done",
    "50%_off",
    "a_b_c",
    "back\\slash C:\\tmp\\x",
    'a "quoted" word',
    "it's 'single'",
    "MiXeD CaSe Words",
    "tab\there",
    "[bold]markup[/]",
    "\x1b[31mred\x1b[0m",
    "nul\x00byte after nul",
    "Σίσυφος ΣΊΣΥΦΟΣ",
    "\u0130stanbul \u0131i",  # dotted capital I, dotless small i
    "x",
    "ab",
]


def make_rows(n: int, seed: int, start: datetime = START) -> list[tuple[Any, ...]]:
    """``n`` log rows (the columns of INSERT_LOG) with mixed text, a minute apart."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        parts = rnd.sample(PIECES, rnd.randint(0, 3))
        token = f"{rnd.getrandbits(32):08x}"
        reason = None if rnd.random() < 0.08 else " ".join([*parts, token])
        error = rnd.choice([None, None, None, *PIECES])
        rows.append(
            (
                rnd.choice(["support-agent", "ops", "billing"]),
                rnd.choice(["auto-pin", "compress-old", "branch-eu"]),
                rnd.choice(["commit", "compile", "review"]),
                rnd.choice(["annotate", "compress", None]),
                reason,
                rnd.choice(["proposed", "error", "skipped", "executed"]),
                None,
                error,
                (start + timedelta(minutes=i)).isoformat(sep=" ", timespec="microseconds"),
            )
        )
    return rows


ROWS = make_rows(600, seed=4)
TEXTS = sorted({t for r in ROWS for t in (r[4], r[7]) if t})

INSERT_LOG = (
    'INSERT INTO policy_log (tract_id, policy_name, "trigger", action_type, reason, outcome,'
    " commit_hash, error_message, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert(path: Path, rows: list[tuple[Any, ...]]) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.executemany(INSERT_LOG, rows)


def execute(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(sql, params).fetchall()


def new_db(fixture_copy: Callable[..., Path], rows: list[tuple[Any, ...]], name: str) -> Path:
    """A migrated copy of tract-v5.db with ``rows`` added to its log."""
    path = fixture_copy(5, name)
    ReviewService.open(path).close()
    insert(path, rows)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def index_off() -> Iterator[None]:
    before = os.environ.get("TRACT_TUI_SEARCH_INDEX")
    os.environ["TRACT_TUI_SEARCH_INDEX"] = "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ["TRACT_TUI_SEARCH_INDEX"]
        else:
            os.environ["TRACT_TUI_SEARCH_INDEX"] = before


def ids(rows: list[LogEntry]) -> list[int]:
    return [r.id for r in rows]


def key(row: LogEntry) -> tuple[str, int]:
    return (row.created_at_raw, row.id)


def answers(svc: ReviewService, flt: Filter) -> dict[str, Any]:
    """Everything the log view and the CLI ask of a filter."""
    page = svc.list_log(flt, limit=7)
    out: dict[str, Any] = {
        "page": ids(page),
        "end": ids(svc.list_log(flt, from_end=True, limit=5)),
        "at": ids(svc.log_at(3, 5, flt)),
        "count": svc.count_log(flt),
        "stats": svc.log_stats(flt, buckets=7),
    }
    if page:
        out["after"] = ids(svc.list_log(flt, after=key(page[-1]), limit=7))
        out["before"] = ids(svc.list_log(flt, before=key(page[-1]), limit=3))
        out["rank"] = svc.log_rank(key(page[-1]), flt)
        out["rank_capped"] = svc.log_rank(key(page[-1]), flt, cap=3)
    return out


def same_answers(svc: ReviewService, flt: Filter) -> dict[str, Any]:
    got = answers(svc, flt)
    with index_off():
        expected = answers(svc, flt)
    assert got == expected, flt.to_text()
    return got


def uses_index(svc: ReviewService, flt: Filter, *, listing: bool = True) -> bool:
    """Whether the service narrows this filter with the index's candidates."""
    with svc.pool.read() as conn:
        return svc._log_where(flt, conn, listing=listing).not_indexed


def words(*values: str) -> Filter:
    return Filter(tuple(Term(None, v) for v in values))


@pytest.fixture
def lagging_db(fixture_copy: Callable[..., Path]) -> Path:
    """600 rows indexed, then 40 more rows (not indexed) and the 30 oldest deleted."""
    path = new_db(fixture_copy, ROWS, "lagging.db")
    svc = ReviewService.open(path)
    try:
        assert svc.update_search_index() >= len(ROWS)
        insert(path, make_rows(40, seed=9, start=START + timedelta(days=1)))
        assert svc.gc_log(START + timedelta(minutes=30)) == 30
    finally:
        svc.close()
    return path


# --- 1. the same answers with and without the index -------------------------------------------


@st.composite
def stored_words(draw: st.DrawFn) -> str:
    """A piece of a stored text (so it matches something), maybe with its case changed."""
    text = draw(st.sampled_from(TEXTS))
    size = draw(st.integers(1, 12))
    at = draw(st.integers(0, max(len(text) - 1, 0)))
    word = text[at : at + size]
    if draw(st.booleans()):  # flip the case of some letters (LIKE folds ASCII only)
        word = "".join(c.swapcase() if draw(st.booleans()) else c for c in word)
    return word or "x"


free_words = st.one_of(
    stored_words(),
    st.text(min_size=1, max_size=12),
    st.sampled_from(
        ["%", "_", "\\", '"', "'", "%_", "a%b", "\\%", "🚀", "ß", "SS", "\uff21\uff22\uff43"]
    ),
)


@st.composite
def filters(draw: st.DrawFn) -> Filter:
    terms = [Term(None, draw(free_words), negated=draw(st.booleans())) for _ in range(3)]
    terms = terms[: draw(st.integers(1, 3))]
    if all(t.negated for t in terms):
        terms.append(Term(None, draw(free_words)))
    extra = draw(
        st.sampled_from(
            [
                [],
                [Term("policy", "auto-pin")],
                [Term("outcome", "error"), Term("outcome", "skipped")],
                [Term("outcome", "error", negated=True)],
                [Term("since", "2026-01-20T12:00")],
                [Term("until", "2026-01-20T15:00"), Term("tract", "ops")],
            ]
        )
    )
    return Filter(tuple(terms + extra))


def test_every_answer_equals_the_scan(lagging_db: Path) -> None:
    svc = ReviewService.open(lagging_db, clock=clock)
    used = []

    @settings(SETTINGS, max_examples=EXAMPLES)
    @given(flt=filters())
    def check(flt: Filter) -> None:
        same_answers(svc, flt)
        used.append(uses_index(svc, flt))

    try:
        check()
    finally:
        svc.close()
    assert any(used), "the index was never used"


@pytest.mark.parametrize(
    "text",
    [
        "locked",
        "LOCKED",
        "Ecole",
        "école",
        "ÉCOLE",
        "straße",
        "STRASSE",
        "日本語",
        "🚀 l",
        "100%",
        "%",
        "50%_",
        "a_b",
        "_b_",
        "\\",
        "C:\\tmp",
        '"quoted"',
        '"it\'s"',
        "'single'",
        "mixed case",
        "[bold]",
        "\x1b[31m",
        "nul",
        "after nul",
        "byte",
        "σίσυφος",
        "ΣΊΣ",
        "i̇stanbul",
        "x",
        "ab",
        "locked timeout",
        "locked -timeout",
        "-locked disk",
        '"disk full"',
        "policy:auto-pin locked",
        "outcome:error outcome:skipped full",
        "since:2026-01-20T12:00 launch",
        "-tract:ops naïve",
    ],
)
def test_tricky_words_equal_the_scan(lagging_db: Path, text: str) -> None:
    svc = ReviewService.open(lagging_db, clock=clock)
    try:
        flt = parse_filter(text, "log")
        same_answers(svc, flt)
        if any(len(w) >= 3 and "\x00" not in w for w in flt.words):
            assert uses_index(svc, flt, listing=False), text
    finally:
        svc.close()


def test_a_word_with_a_nul_or_too_short_is_not_looked_up(lagging_db: Path) -> None:
    assert trigrams(["ab", "x"]) == []
    assert trigrams(["nul\x00byte"]) == []
    assert trigrams(["abcd", "abc"]) == ["abc", "bcd"]
    assert search.match_query(['a"b', "c d"]) == '"a""b" AND "c d"'
    svc = ReviewService.open(lagging_db, clock=clock)
    try:
        for flt in (words("ab"), words("nul\x00byte"), words("x", "-y")):
            same_answers(svc, flt)
            assert not uses_index(svc, flt)
    finally:
        svc.close()


def test_cli_log_equals_the_scan_and_does_not_build_the_index(
    fixture_copy: Callable[..., Path],
) -> None:
    path = new_db(fixture_copy, ROWS, "cli.db")

    def log_json(*args: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["log", str(path), "--json", "--limit", "0", *args]) == 0
        return out.getvalue()

    log_json("--filter", "locked")
    assert not index_path(path).exists()  # one-shot commands never pay for the build
    ReviewService.open(path).update_search_index()
    insert(path, make_rows(5, seed=11, start=START + timedelta(days=3)))  # not indexed yet
    for text in ("locked", "disk -locked", "école", "100%", "a_b"):
        got = log_json("--filter", text)
        with index_off():
            assert got == log_json("--filter", text)
        assert json.loads(got), text


# --- 2. staleness -----------------------------------------------------------------------------


def test_rows_added_after_the_index_are_found(fixture_copy: Callable[..., Path]) -> None:
    path = new_db(fixture_copy, ROWS[:100], "added.db")
    svc = ReviewService.open(path)
    try:
        svc.update_search_index()
        indexed = svc.search.indexed_max() if svc.search else 0
        new = make_rows(1, seed=12, start=START + timedelta(days=2))[0]
        insert(path, [(*new[:4], "brand-new needle", *new[5:])])
        found = svc.list_log(words("needle"))
        assert [e.reason for e in found] == ["brand-new needle"] and found[0].id > indexed
        assert uses_index(svc, words("needle")) and svc.count_log(words("needle")) == 1
        assert svc.update_search_index() == 1
        assert svc.search is not None and svc.search.indexed_max() == found[0].id
        assert ids(svc.list_log(words("needle"))) == [found[0].id]
    finally:
        svc.close()


def test_deleted_rows_are_not_returned(fixture_copy: Callable[..., Path]) -> None:
    path = new_db(fixture_copy, ROWS, "gc.db")
    svc = ReviewService.open(path, clock=clock)
    try:
        svc.update_search_index()
        assert svc.count_log(words("locked")) > 0
        token = next(r[4] for r in ROWS[:100] if r[4]).split()[-1]  # gone after the gc
        assert svc.count_log(words(token)) == 1
    finally:
        svc.close()
    # the CLI's gc (what a reviewer runs), then the service's
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["gc", str(path), "--before", "2026-01-20T12:00"]) == 0
    svc = ReviewService.open(path, clock=clock)
    try:
        assert uses_index(svc, words(token)) and svc.count_log(words(token)) == 0
        svc.gc_log(START + timedelta(days=30))  # everything
        for text in ("locked", "disk full", "école", token):
            assert svc.list_log(parse_filter(text, "log")) == []
            assert svc.count_log(parse_filter(text, "log")) == 0
            assert svc.log_stats(parse_filter(text, "log")).total == 0
        left = execute(path, "SELECT count(*) FROM policy_log")[0][0]  # the fixture's own
        assert svc.update_search_index() == left  # its indexed_max row is gone: rebuilt
    finally:
        svc.close()


def reuse_newest_ids(path: Path, deleted: int, texts: list[str]) -> list[int]:
    """Delete the ``deleted`` newest rows, insert rows with ``texts``: their new ids."""
    execute(
        path,
        "DELETE FROM policy_log WHERE id IN (SELECT id FROM policy_log ORDER BY id DESC LIMIT ?)",
        (deleted,),
    )
    rows = make_rows(len(texts), seed=13, start=START + timedelta(days=5))
    insert(path, [(*r[:4], t, *r[5:7], None, r[8]) for r, t in zip(rows, texts, strict=True)])
    return [
        r[0]
        for r in execute(path, "SELECT id FROM policy_log ORDER BY id DESC LIMIT ?", (len(texts),))
    ]


@pytest.mark.parametrize(("deleted", "inserted"), [(5, 3), (5, 5), (5, 9)])
def test_ids_handed_out_again_are_found_and_rebuild_the_index(
    fixture_copy: Callable[..., Path], deleted: int, inserted: int
) -> None:
    """Fewer rows (the witness row is gone), as many (it differs), more (it differs too)."""
    path = new_db(fixture_copy, ROWS, "reused.db")
    svc = ReviewService.open(path, clock=clock)
    try:
        svc.update_search_index()
        assert svc.search is not None
        before = svc.search.indexed_max()
        texts = [f"second life {i} zebra" for i in range(inserted)]
        new_ids = reuse_newest_ids(path, deleted, texts)
        assert min(new_ids) <= before  # ids below indexed_max were handed out again
        found = svc.list_log(words("zebra"), limit=50)
        assert sorted(ids(found)) == sorted(new_ids)
        assert svc.count_log(words("zebra")) == inserted
        same_answers(svc, words("zebra"))
        same_answers(svc, words("locked"))
        assert not uses_index(svc, words("zebra"))  # stale: the reads scan
        total = execute(path, "SELECT count(*) FROM policy_log")[0][0]
        assert svc.update_search_index() == total  # the witness asked for a rebuild
        assert uses_index(svc, words("zebra"))
        assert sorted(ids(svc.list_log(words("zebra"), limit=50))) == sorted(new_ids)
        same_answers(svc, words("second life"))
    finally:
        svc.close()


def test_another_database_copied_over_the_path(fixture_copy: Callable[..., Path]) -> None:
    path = new_db(fixture_copy, ROWS, "same-path.db")
    other = new_db(fixture_copy, make_rows(700, seed=21), "other.db")
    insert(other, [(*ROWS[0][:4], "only in the other file: okapi", *ROWS[0][5:])])
    svc = ReviewService.open(path, clock=clock)
    svc.update_search_index()
    svc.close()
    shutil.copy(other, path)  # both closed: no -wal beside either
    svc = ReviewService.open(path, clock=clock)
    try:
        assert len(svc.list_log(words("okapi"))) == 1
        for text in ("locked", "école", "100%", "okapi"):
            same_answers(svc, parse_filter(text, "log"))
        rows = execute(path, "SELECT count(*) FROM policy_log")[0][0]
        assert svc.update_search_index() == rows  # the witness saw another file: rebuilt
        assert uses_index(svc, words("okapi"))
        for text in ("locked", "école", "okapi"):
            same_answers(svc, parse_filter(text, "log"))
    finally:
        svc.close()


def test_an_index_of_mostly_deleted_rows_is_rebuilt_smaller(
    fixture_copy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "DEAD_ROWS", 100)
    path = new_db(fixture_copy, make_rows(3000, seed=41), "dead.db")
    svc = ReviewService.open(path, clock=clock)
    svc.update_search_index()
    before = index_path(path).stat().st_size
    svc.gc_log(START + timedelta(minutes=2500))  # the oldest rows: the witness stays
    assert svc.update_search_index() == 0  # this process checked once already
    svc.close()
    svc = ReviewService.open(path, clock=clock)  # the next console session
    try:
        left = execute(path, "SELECT count(*) FROM policy_log")[0][0]
        assert svc.update_search_index() == left
        assert index_path(path).stat().st_size * 2 < before
        for text in ("locked", "école", "a_b"):
            assert uses_index(svc, words(text), listing=False)
            same_answers(svc, words(text))
    finally:
        svc.close()


# --- 3. broken caches and read-only files -----------------------------------------------------


def test_a_file_where_the_cache_directory_should_be(
    lagging_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    monkeypatch.setenv("TRACT_TUI_CACHE_DIR", str(blocker))
    svc = ReviewService.open(lagging_db, clock=clock)
    try:
        assert svc.update_search_index() == 0
        for text in ("locked", "école -disk", "100%"):
            same_answers(svc, parse_filter(text, "log"))
    finally:
        svc.close()
    assert blocker.read_text() == "x"


def test_garbage_in_the_cache_file_is_replaced(lagging_db: Path) -> None:
    path = index_path(lagging_db)
    assert path.is_file()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"not an index\x00" * 4096)
    svc = ReviewService.open(lagging_db, clock=clock)
    try:
        assert not uses_index(svc, words("locked"))
        same_answers(svc, words("locked"))
        rows = execute(lagging_db, "SELECT count(*) FROM policy_log")[0][0]
        assert svc.update_search_index() == rows  # deleted and rebuilt
        assert uses_index(svc, words("locked"))
        same_answers(svc, words("locked"))
    finally:
        svc.close()


def test_a_cache_of_another_format_is_rebuilt(lagging_db: Path) -> None:
    path = index_path(lagging_db)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE meta SET value = 0 WHERE key = 'format'")
    svc = ReviewService.open(lagging_db, clock=clock)
    try:
        assert not uses_index(svc, words("locked"))
        assert (
            svc.update_search_index()
            == execute(lagging_db, "SELECT count(*) FROM policy_log")[0][0]
        )
        assert uses_index(svc, words("locked"))
        same_answers(svc, words("locked"))
    finally:
        svc.close()


def test_no_trigram_tokenizer_means_scanning(
    lagging_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SQLite without FTS5's trigram tokenizer (here: a tokenizer that does not exist)."""
    index_path(lagging_db).unlink()
    monkeypatch.setattr(search, "_FTS", search._FTS.replace("trigram", "no_such_tokenizer"))
    svc = ReviewService.open(lagging_db, clock=clock)
    try:
        assert svc.update_search_index() == 0
        assert not uses_index(svc, words("locked"))
        same_answers(svc, words("locked"))
    finally:
        svc.close()


def test_disabled_index_is_never_written(lagging_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index_path(lagging_db).unlink()
    monkeypatch.setenv("TRACT_TUI_SEARCH_INDEX", "0")
    svc = ReviewService.open(lagging_db, clock=clock)
    try:
        assert svc.update_search_index() == 0
        assert svc.count_log(words("locked")) > 0
    finally:
        svc.close()
    assert not index_path(lagging_db).exists()


def test_read_only_open_searches_and_builds_without_touching_the_file(
    fixture_copy: Callable[..., Path],
) -> None:
    path = new_db(fixture_copy, ROWS, "readonly.db")
    before = sha256(path)
    svc = ReviewService.open(path, read_only=True, clock=clock)
    try:
        assert svc.read_only
        assert svc.update_search_index() == execute(path, "SELECT count(*) FROM policy_log")[0][0]
        for text in ("locked", "école -disk", "100%", "policy:auto-pin full"):
            same_answers(svc, parse_filter(text, "log"))
        assert uses_index(svc, words("locked"))
    finally:
        svc.close()
    assert sha256(path) == before


# --- 4. two processes catching up at once -----------------------------------------------------

CATCH_UP = """
import os, sys, time
from tract_tui.storage.search import SearchIndex
go = sys.argv[2]
while not os.path.exists(go):
    time.sleep(0.001)
print(SearchIndex(sys.argv[1]).update(batch=int(sys.argv[3])))
"""


def test_two_processes_catching_up_index_each_row_once(
    fixture_copy: Callable[..., Path], tmp_path: Path
) -> None:
    path = new_db(fixture_copy, make_rows(6000, seed=31), "twice.db")
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CATCH_UP, str(path), str(go), "200"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)  # both started and waiting
    go.touch()
    counts = [int(p.communicate(timeout=120)[0]) for p in procs]
    rows = execute(path, "SELECT count(*) FROM policy_log")[0][0]
    print(f"rows indexed by each process: {counts}")
    assert sum(counts) == rows  # each row by exactly one of them
    with contextlib.closing(sqlite3.connect(index_path(path))) as cache:
        assert cache.execute("SELECT count(*) FROM log_fts_docsize").fetchone()[0] == rows
    svc = ReviewService.open(path, clock=clock)
    try:
        assert svc.search is not None
        assert svc.search.indexed_max() == execute(path, "SELECT max(id) FROM policy_log")[0][0]
        for text in ("locked", "école", "a_b"):
            assert uses_index(svc, words(text), listing=False)
            same_answers(svc, words(text))
    finally:
        svc.close()


def test_a_cancelled_catch_up_keeps_whole_batches(fixture_copy: Callable[..., Path]) -> None:
    path = new_db(fixture_copy, ROWS, "cancel.db")
    index = SearchIndex(path)
    all_ids = [r[0] for r in execute(path, "SELECT id FROM policy_log ORDER BY id")]

    def cancelled() -> bool:  # three batches in (polled inside the batches too)
        return index.indexed_max() >= all_ids[250]

    done = index.update(cancelled=cancelled, batch=100)
    assert 0 < done < len(all_ids) and done % 100 == 0
    assert index.indexed_max() == all_ids[done - 1]
    svc = ReviewService.open(path, clock=clock)
    try:
        same_answers(svc, words("locked"))  # half indexed: the rest is scanned
        assert svc.update_search_index() + done == len(all_ids)
    finally:
        svc.close()


def test_while_the_index_is_young_a_page_of_a_common_word_is_scanned(
    fixture_copy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Few rows indexed, many not: a common word's first page is found sooner newest first."""
    from tract_tui.storage import log as service_module

    monkeypatch.setattr(service_module, "TAIL_ROWS", 0)
    rows = [(*r[:4], f"common row {i}", *r[5:7], None, r[8]) for i, r in enumerate(ROWS)]
    rows[-1] = (*rows[-1][:4], "common but rare-ish", *rows[-1][5:])
    path = new_db(fixture_copy, rows, "young.db")
    index = SearchIndex(path)
    all_ids = [r[0] for r in execute(path, "SELECT id FROM policy_log ORDER BY id")]
    index.update(cancelled=lambda: index.indexed_max() > 0, batch=100)  # one batch
    assert index.indexed_max() == all_ids[99]
    svc = ReviewService.open(path, clock=clock)
    try:
        assert not uses_index(svc, words("common"))  # a page: the scan is sooner
        assert uses_index(svc, words("common"), listing=False)  # a count reads every row
        assert uses_index(svc, words("rare-ish"))  # in no indexed row: only the rest is read
        for text in ("common", "rare-ish"):
            same_answers(svc, words(text))
    finally:
        svc.close()


# --- 5. the plan ------------------------------------------------------------------------------


def test_a_rare_word_is_looked_up_by_id(lagging_db: Path) -> None:
    svc = ReviewService.open(lagging_db, clock=clock)
    statements: list[str] = []
    real_connect = svc.pool.connect

    def connect() -> sqlite3.Connection:
        conn = real_connect()
        conn.set_trace_callback(statements.append)
        return conn

    svc.pool.connect = connect  # type: ignore[method-assign]
    svc.pool.close()  # forget idle connections made before the trace
    token = next(r[4] for r in ROWS[100:] if r[4]).split()[-1]  # a hex id: one row
    try:
        for flt in (words(token), parse_filter(f"policy:auto-pin {token}", "log")):
            statements.clear()
            svc.list_log(flt)
            svc.count_log(flt)
            svc.log_stats(flt)
            svc.log_rank(("2026-01-20 10:00:00.000000", 1), flt, cap=5)
            queries = [s for s in statements if "FROM policy_log" in s and "LIKE" in s]
            assert len(queries) >= 4
            with contextlib.closing(sqlite3.connect(lagging_db)) as conn:
                for sql in queries:
                    plan = " / ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql))
                    assert "SEARCH policy_log USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
                    assert "SCAN policy_log" not in plan, plan
                    assert "USING INDEX" not in plan, plan
    finally:
        svc.close()


# --- 6. the console ---------------------------------------------------------------------------


async def test_the_console_catches_the_index_up_in_the_background(lagging_db: Path) -> None:
    from textual.widgets import Input

    from tract_tui.app import ReviewApp
    from tract_tui.app.logview import LogPane

    app = ReviewApp(lagging_db, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.service.search is not None
        newest = execute(lagging_db, "SELECT max(id) FROM policy_log")[0][0]
        assert app.service.search.indexed_max() < newest  # 40 rows added since
        await pilot.press("2")
        await settle(pilot)
        log = app.query_one(LogPane)
        assert log.table.row_count > 0
        assert app.service.search.indexed_max() == newest
        # an agent writes; the live refresh shows the row and indexes it
        insert(
            lagging_db,
            [(*ROWS[0][:4], "late arrival wombat", *ROWS[0][5:8], "2026-02-25 11:59:00.000000")],
        )
        app.refresh_views()
        await settle(pilot)
        assert app.service.search.indexed_max() == newest + 1
        log.query_one("#log-filter", Input).value = "wombat"
        log.apply_filter()
        await settle(pilot)
        assert log.table.row_count == 1
