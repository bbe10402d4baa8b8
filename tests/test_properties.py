"""Property tests: arbitrary rows render and print; keyset paging never skips or repeats.

1. Arbitrary proposal and log rows (any text, control characters, bidi
   controls and NULs included; params that are JSON or not; statuses,
   outcomes and timestamps that mean nothing) go through the console's render
   functions and every command (tables and --json) without an exception, the
   human output carries no control character, and --json carries every stored
   value exactly. A few examples also run the real console through Pilot.
2. Keyset paging (``ReviewService.list_proposals`` / ``list_log`` with
   ``after=``) while rows are being inserted. What is guaranteed:

   - no row is ever returned twice, and rows come strictly in key order
     (proposals oldest first by (created_at, proposal_id), the log newest
     first by (created_at, id));
   - every row that existed when paging started is returned, exactly once;
   - a row inserted meanwhile is returned if and only if its key is beyond
     the cursor (the last key returned) at the moment it was inserted, so the
     log, paged newest first, never returns rows written while paging (they
     are newer than the cursor), and the proposals, paged oldest first,
     return exactly those added ahead of the cursor.

   First with inserts interleaved between page fetches (deterministic, so
   hypothesis can shrink), then against another process inserting as fast as
   it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.apphelpers import SIZE, clock, settle
from tests.conftest import FIXTURES
from tract_tui.app import ReviewApp
from tract_tui.app.logview import LogPane
from tract_tui.app.proposals import ProposalsPane
from tract_tui.app.render import detail_text, log_cells, proposal_cells
from tract_tui.cli import main
from tract_tui.models.review import parse_params
from tract_tui.review.service import ReviewService

CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
NASTY = "\x00\x07\x08\x1b\x7f\x85\x9b\u200b\u200f\u2028\u202e\u2066\ufeff\U000e0041"
EXAMPLES = int(os.environ.get("TRACT_TUI_PROPERTY_EXAMPLES", "60"))
SETTINGS = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# --- strategies -------------------------------------------------------------------------------

any_text = st.text(max_size=40) | st.text(
    alphabet=st.sampled_from(NASTY) | st.characters(blacklist_categories=("Cs",)),
    min_size=1,
    max_size=40,
)
markup = st.sampled_from(
    [
        "[bold red]x[/]",
        "[link=https://e.x]y[/link]",
        "\x1b[31m",
        "\x1b]8;;https://e.x\x07z\x1b]8;;\x07",
    ]
)
field = st.one_of(any_text, markup, st.tuples(any_text, markup, any_text).map("".join))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(any_text, kids, max_size=3),
    max_leaves=8,
)
params = st.one_of(
    st.none(),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
    any_text,
    st.sampled_from(["123", "1e5", "null", "NaN", "[" * 300 + "]" * 300, "{", '"x"']),
)
timestamps = st.one_of(
    st.datetimes().map(lambda d: d.isoformat(sep=" ", timespec="microseconds")),
    st.sampled_from(["2026-02-25 11:00:00.000000", "", "12", "yesterday", "2026-13-45"]),
    any_text,
)
statuses = st.sampled_from(["pending", "approved", "rejected", "executed", "expired"]) | any_text
outcomes = st.sampled_from(["proposed", "error", "executed", "approved"]) | any_text
ids = st.text(
    alphabet=st.characters(blacklist_categories=("Zs", "Cs")) | st.sampled_from(NASTY),
    min_size=1,
    max_size=24,
).filter(lambda s: s == s.strip() and not s.startswith("-"))


@st.composite
def proposal_rows(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "proposal_id": "zz" + draw(ids),
        "tract_id": draw(field),
        "policy_name": draw(field),
        "action_type": draw(st.sampled_from(["annotate", "branch", "archive", "compress"]) | field),
        "action_params_json": draw(params),
        "reason": draw(st.none() | field),
        "status": draw(statuses),
        "created_at": draw(timestamps),
    }


@st.composite
def log_rows(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "tract_id": draw(field),
        "policy_name": draw(field),
        "trigger": draw(field),
        "action_type": draw(st.none() | field),
        "reason": draw(st.none() | field),
        "outcome": draw(outcomes),
        "commit_hash": draw(st.none() | any_text),
        "error_message": draw(st.none() | field),
        "created_at": draw(timestamps),
    }


# --- helpers --------------------------------------------------------------------------------


def fresh_db(tmp: Path, name: str = "props.db") -> Path:
    path = tmp / name
    shutil.copy(FIXTURES / "tract-v5.db", path)
    path.chmod(0o644)
    ReviewService.open(path).close()  # migrated and indexed once
    return path


def insert(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> int:
    cols = ", ".join(f'"{c}"' for c in row)
    marks = ", ".join("?" for _ in row)
    cur = conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values()))
    assert cur.lastrowid is not None
    return cur.lastrowid


def stored(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> dict[str, Any]:
    conn.row_factory = sqlite3.Row
    try:
        return dict(conn.execute(sql, params).fetchone())
    finally:
        conn.row_factory = None


def as_text(value: Any) -> Any:
    """How a stored value reaches the JSON output (numbers from NUMERIC affinity as text)."""
    return value if value is None or isinstance(value, str) else str(value)


def cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def inert(text: str, where: str) -> None:
    found = CONTROL.search(text)
    assert found is None, f"{where}: {found.group()!r}" if found else ""


# --- 1. arbitrary rows render and print ---------------------------------------------------------


def test_arbitrary_rows_render_and_print(tmp_path: Path) -> None:
    path = fresh_db(tmp_path)

    @settings(SETTINGS, max_examples=EXAMPLES)
    @given(p=proposal_rows(), e=log_rows())
    def check(p: dict[str, Any], e: dict[str, Any]) -> None:
        conn = sqlite3.connect(path)
        try:
            with conn:
                insert(conn, "policy_proposals", p)
                log_id = insert(conn, "policy_log", e)
            row = stored(
                conn, "SELECT * FROM policy_proposals WHERE proposal_id=?", (p["proposal_id"],)
            )
            log = stored(conn, "SELECT * FROM policy_log WHERE id=?", (log_id,))
            # the console's render functions
            svc = ReviewService.open(path)
            try:
                detail = svc.get_detail(p["proposal_id"])
                entry = next(x for x in svc.list_log(limit=500) if x.id == log_id)
            finally:
                svc.close()
            now = clock()
            for text in [
                *proposal_cells(detail.proposal, now, False),
                *log_cells(entry),
                detail_text(detail, now),
            ]:
                inert(text.plain, "console")
                assert not any("link" in str(s.style) for s in text.spans)
            # every command; human output inert, --json exact
            status = as_text(row["status"])
            # a status the filter language can name lists it; any other is only shown
            listable = re.fullmatch(r"[A-Za-z0-9_.-]+", status or "") is not None
            flt = f"--filter=status:{status}" if listable else "--filter=status:pending"
            results = {
                "list": cli("list", path, flt),
                "show": cli("show", path, "--", p["proposal_id"]),
                "log": cli("log", path, "--limit", "0"),
                "list --json": cli("list", path, "--json", flt),
                "show --json": cli("show", path, "--json", "--", p["proposal_id"]),
                "log --json": cli("log", path, "--json", "--limit", "0"),
            }
            for what, (code, out, err) in results.items():
                assert code == 0, (what, err)
                inert(out.replace("\n", ""), what)
            listed = [
                x
                for x in json.loads(results["list --json"][1])
                if x["proposal_id"] == p["proposal_id"]
            ]
            assert len(listed) == (1 if listable or status == "pending" else 0), flt
            for got in (*listed, json.loads(results["show --json"][1])):
                for key, column in (
                    ("tract_id", "tract_id"),
                    ("policy_name", "policy_name"),
                    ("action_type", "action_type"),
                    ("reason", "reason"),
                    ("status", "status"),
                ):
                    assert got[key] == as_text(row[column]), key
                value, problem = parse_params(as_text(row["action_params_json"]))
                expected = value if problem is None else as_text(row["action_params_json"])
                assert got["params"] == expected
            (got_log,) = [x for x in json.loads(results["log --json"][1]) if x["id"] == log_id]
            for key in (
                "tract_id",
                "policy_name",
                "trigger",
                "action_type",
                "reason",
                "outcome",
                "commit_hash",
                "error_message",
            ):
                assert got_log[key] == as_text(log[key]), key
        finally:
            with conn:  # leave the file as it was for the next example
                conn.execute(
                    "DELETE FROM policy_proposals WHERE proposal_id=?", (p["proposal_id"],)
                )
                conn.execute("DELETE FROM policy_log WHERE id > 34")
            conn.close()

    check()


def test_arbitrary_rows_in_the_console(tmp_path: Path) -> None:
    """The real console over a few arbitrary rows: move over each, open the log."""
    path = fresh_db(tmp_path)
    counter = iter(range(10**6))

    async def drive(count: int) -> None:
        app = ReviewApp(path, clock=clock, poll_interval=3600)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, 2)
            table = app.query_one(ProposalsPane).table
            for _ in range(min(count, 12)):
                await pilot.press("j")
            await settle(pilot, 2)
            text = "".join(
                "".join(seg.text for seg in table.render_line(y)) for y in range(table.size.height)
            )
            inert(text, "proposals table")
            inert(str(app.query_one("#detail").render()), "detail")
            await pilot.press("2")
            await settle(pilot, 2)
            log = app.query_one(LogPane).table
            text = "".join(
                "".join(seg.text for seg in log.render_line(y)) for y in range(log.size.height)
            )
            inert(text, "log table")
            await pilot.press("q")
        assert app.return_code == 0

    @settings(SETTINGS, max_examples=4)
    @given(
        ps=st.lists(proposal_rows(), min_size=1, max_size=4), es=st.lists(log_rows(), max_size=4)
    )
    def check(ps: list[dict[str, Any]], es: list[dict[str, Any]]) -> None:
        conn = sqlite3.connect(path)
        added: list[str] = []
        try:
            with conn:
                for p in ps:
                    added.append(f"{next(counter)}{p['proposal_id']}")
                    row = {**p, "status": "pending", "proposal_id": added[-1]}
                    insert(conn, "policy_proposals", row)
                for e in es:
                    insert(conn, "policy_log", e)
            asyncio.run(drive(len(ps)))
        finally:
            with conn:
                conn.executemany(
                    "DELETE FROM policy_proposals WHERE proposal_id=?", [(a,) for a in added]
                )
                conn.execute("DELETE FROM policy_log WHERE id > 34")
            conn.close()

    check()


# --- 2. keyset paging while rows are inserted ---------------------------------------------------

# few distinct timestamps: many ties, broken by the id
stamps = st.sampled_from(
    [
        "2026-02-25 10:00:00.000000",
        "2026-02-25 10:00:00.000001",
        "2026-02-25 11:30:00.000000",
        "2026-02-26 00:00:00.000000",
        "12",
        "9",
        "zzz",
    ]
)


def key_after(
    conn: sqlite3.Connection, table: str, rowid: Any, cursor: tuple[Any, Any], *, descending: bool
) -> bool:
    """Does the row sort beyond ``cursor`` in the listing's order? (SQLite decides.)"""
    col = "proposal_id" if table == "policy_proposals" else "id"
    op = "<" if descending else ">"
    found = conn.execute(
        f"SELECT count(*) FROM {table} WHERE {col} = ? AND (created_at, {col}) {op} (?, ?)",
        (rowid, *cursor),
    ).fetchone()[0]
    return bool(found)


@settings(SETTINGS, max_examples=40)
@given(
    initial=st.lists(stamps, min_size=0, max_size=25),
    page_size=st.integers(1, 6),
    inserts=st.lists(st.lists(stamps, max_size=4), max_size=12),
)
def test_proposal_paging_while_inserting(
    initial: list[str], page_size: int, inserts: list[list[str]]
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.db"
        svc = ReviewService.open(path, create=True)
        conn = sqlite3.connect(path)
        serial = iter(range(10**6))

        def add(stamp: str) -> str:
            pid = f"p{next(serial):04d}"
            with conn:
                conn.execute(
                    "INSERT INTO policy_proposals VALUES (?, 't', 'p', 'annotate', '{}', 'r', "
                    "'pending', ?, NULL)",
                    (pid, stamp),
                )
            return pid

        try:
            existing = {add(s) for s in initial}
            seen: list[str] = []
            keys: list[tuple[Any, str]] = []
            expected_new: set[str] = set()
            unexpected_new: set[str] = set()
            after: tuple[Any, str] | None = None
            batches = iter(inserts)
            while True:
                page = svc.list_proposals(after=after, limit=page_size)
                seen += [p.proposal_id for p in page]
                keys += [(p.created_at_raw, p.proposal_id) for p in page]
                if len(page) < page_size:
                    break
                after = (page[-1].created_at_raw, page[-1].proposal_id)
                for stamp in next(batches, []):  # another writer, between two pages
                    pid = add(stamp)
                    beyond = key_after(conn, "policy_proposals", pid, after, descending=False)
                    (expected_new if beyond else unexpected_new).add(pid)
            assert len(seen) == len(set(seen)), "a row came twice"
            assert existing <= set(seen), "a row that was there from the start was skipped"
            assert expected_new <= set(seen), "a row added ahead of the cursor was skipped"
            assert not unexpected_new & set(seen), "a row added behind the cursor came back"
            # strictly ascending, as SQLite orders them
            order = [
                r[0]
                for r in conn.execute(
                    "SELECT proposal_id FROM policy_proposals ORDER BY created_at, proposal_id"
                )
            ]
            assert seen == [pid for pid in order if pid in set(seen)]
        finally:
            conn.close()
            svc.close()


@settings(SETTINGS, max_examples=40)
@given(
    initial=st.lists(stamps, min_size=0, max_size=25),
    page_size=st.integers(1, 6),
    inserts=st.lists(st.lists(stamps | st.just("2099-01-01 00:00:00.000000"), max_size=4)),
)
def test_log_paging_while_rows_arrive(
    initial: list[str], page_size: int, inserts: list[list[str]]
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "l.db"
        svc = ReviewService.open(path, create=True)
        conn = sqlite3.connect(path)

        def add(stamp: str) -> int:
            with conn:
                cur = conn.execute(
                    'INSERT INTO policy_log (tract_id, policy_name, "trigger", outcome, '
                    "created_at) VALUES ('t', 'p', 'commit', 'proposed', ?)",
                    (stamp,),
                )
            assert cur.lastrowid is not None
            return cur.lastrowid

        try:
            existing = {add(s) for s in initial}
            seen: list[int] = []
            expected_new: set[int] = set()
            unexpected_new: set[int] = set()
            after: tuple[Any, int] | None = None
            batches = iter(inserts)
            while True:
                page = svc.list_log(after=after, limit=page_size)
                seen += [e.id for e in page]
                if len(page) < page_size:
                    break
                after = (page[-1].created_at_raw, page[-1].id)
                for stamp in next(batches, []):  # another writer, between two pages
                    new = add(stamp)
                    beyond = key_after(conn, "policy_log", new, after, descending=True)
                    (expected_new if beyond else unexpected_new).add(new)
                    if stamp.startswith("2099") and str(after[0]) < "2099":
                        assert not beyond  # newer than the cursor: never paged into
            assert len(seen) == len(set(seen)), "a row came twice"
            assert existing <= set(seen), "a row that was there from the start was skipped"
            assert expected_new <= set(seen), "a row added ahead of the cursor was skipped"
            assert not unexpected_new & set(seen), "a row added behind the cursor came back"
            order = [
                r[0]
                for r in conn.execute("SELECT id FROM policy_log ORDER BY created_at DESC, id DESC")
            ]
            assert seen == [i for i in order if i in set(seen)]
        finally:
            conn.close()
            svc.close()


WRITER = """
import os, random, sqlite3, sys, time
path, table, go, stop = sys.argv[1:5]
rng = random.Random(7)
conn = sqlite3.connect(path, timeout=5)
n = 0
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
while not os.path.exists(stop):
    with conn:
        for _ in range(5):
            n += 1
            if table == "policy_proposals":
                stamp = f"2026-02-{rng.randint(10, 28):02d} 10:00:00.{rng.randint(0, 9):06d}"
                conn.execute(
                    "INSERT INTO policy_proposals VALUES (?, 't', 'p', 'annotate', '{}', 'r', "
                    "'pending', ?, NULL)", (f"w{n:07d}", stamp))
            else:
                stamp = f"2099-01-01 00:00:00.{n:06d}"
                conn.execute(
                    "INSERT INTO policy_log (tract_id, policy_name, \\"trigger\\", outcome, "
                    "created_at) VALUES ('t', 'p', 'commit', 'proposed', ?)", (stamp,))
    if n == 5:
        print("writing", flush=True)
print(n, flush=True)
"""


def test_paging_while_another_process_inserts(tmp_path: Path) -> None:
    """The first page is read, then another process inserts as fast as it can while the
    rest is paged 7 rows at a time."""
    path = tmp_path / "live.db"
    svc = ReviewService.open(path, create=True)
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO policy_proposals VALUES (?, 't', 'p', 'annotate', '{}', 'r', 'pending', "
            "?, NULL)",
            [(f"a{i:05d}", f"2026-02-{10 + i % 19:02d} 10:00:00.{i % 7:06d}") for i in range(3000)],
        )
        conn.executemany(
            'INSERT INTO policy_log (tract_id, policy_name, "trigger", outcome, created_at) '
            "VALUES ('t', 'p', 'commit', 'proposed', ?)",
            [(f"2026-02-{10 + i % 19:02d} 10:00:00.{i % 7:06d}",) for i in range(3000)],
        )
    initial = {
        "policy_proposals": {
            r[0] for r in conn.execute("SELECT proposal_id FROM policy_proposals")
        },
        "policy_log": {r[0] for r in conn.execute("SELECT id FROM policy_log")},
    }
    conn.close()
    try:
        for table in ("policy_proposals", "policy_log"):
            go, stop = tmp_path / f"go-{table}", tmp_path / f"stop-{table}"
            writer = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(path), table, str(go), str(stop)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
            keys: list[tuple[Any, Any]] = []
            try:
                after: Any = None
                while True:
                    if table == "policy_proposals":
                        page: list[Any] = svc.list_proposals(after=after, limit=7)
                        page_keys = [(p.created_at_raw, p.proposal_id) for p in page]
                    else:
                        page = svc.list_log(after=after, limit=7)
                        page_keys = [(e.created_at_raw, e.id) for e in page]
                    keys += page_keys
                    if after is None:  # paging has started: now the other process writes
                        go.touch()
                        assert writer.stdout.readline().strip() == "writing"
                    if len(page) < 7:
                        break
                    after = page_keys[-1]
            finally:
                stop.touch()
                written = int(writer.communicate(timeout=30)[0].strip())
            got = [k[1] for k in keys]
            assert written > 0
            assert len(got) == len(set(got)), "a row came twice"
            if table == "policy_proposals":
                assert initial[table] <= set(got), "a row there from the start was skipped"
                assert keys == sorted(keys), "out of order"
            else:
                assert set(got) == initial[table], "an old row skipped, or a newer one paged into"
                assert keys == sorted(keys, reverse=True), "out of order"
    finally:
        svc.close()
