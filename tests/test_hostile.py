"""Hostile and broken input: refused cleanly, shown harmlessly, never written.

Broken files (a test per case): the command line exits 2 with one line on
stderr, the console shows its error screen (driven through Pilot), and the
file is byte-identical afterwards, with no -wal/-shm left beside it that was
not there before. Then the special cases: a read-only file (opens read-only,
says so), a file held by another process's exclusive transaction (waits up
to the busy timeout, then says so), a -wal file that cannot be written.

Hostile rows (a test per case): every command prints them (tables and
--json) and the console opens, moves over the row, shows its detail and the
log without crashing; --json carries every stored string exactly, the tables
and the console carry no control character (no ESC, no C0/C1, no bidi
override) and show markup as text.

Runs as root in CI, where permission bits do not stop writes: the
unwritable -wal is exercised with the immutable attribute (``chattr +i``,
which stops root too; skipped where the filesystem or container does not
allow it) and with a directory in the -wal's place, besides the mode bits
that tract-tui honours on purpose.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.apphelpers import SIZE, clock, settle
from tests.conftest import sha256
from tract_tui.app import ReviewApp
from tract_tui.app.logview import LogPane
from tract_tui.app.modals import ErrorScreen
from tract_tui.app.proposals import ProposalsPane
from tract_tui.app.render import detail_text, log_cells, proposal_cells
from tract_tui.cli import main
from tract_tui.exceptions import ReadOnlyDatabaseError
from tract_tui.models.review import parse_params
from tract_tui.review.service import ReviewService
from tract_tui.storage.engine import create_trace_engine, init_db
from tract_tui.storage.errors import BUSY_TIMEOUT_ENV

ROOT = Path(__file__).parent.parent
ENV = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "TERM")}
ENV["COLUMNS"] = "160"
#: What must never reach a terminal from the human output (newline aside).
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
SIDE = ("-wal", "-shm", "-journal")


def run(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tract_tui", *map(str, args)],
        capture_output=True,
        text=True,
        env={**ENV, **(env or {})},
        cwd=ROOT,
        timeout=120,
    )


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """``main()`` in this process (the same code as the binary, minus its start-up)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tract-tui: ") and "Traceback" not in err, err
    assert not CONTROL.search(lines[0]), lines[0]
    return lines[0]


def side_files(path: Path) -> dict[str, bool]:
    return {s: os.path.lexists(f"{path}{s}") for s in SIDE}


def q(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def set_version(path: Path, value: str | None) -> None:
    conn = sqlite3.connect(path)
    with conn:
        if value is None:
            conn.execute("DELETE FROM _trace_meta WHERE key='schema_version'")
        else:
            conn.execute("UPDATE _trace_meta SET value=? WHERE key='schema_version'", (value,))
    conn.close()


def app_for(path: Path, **kw: Any) -> ReviewApp:
    kw.setdefault("poll_interval", 3600)
    return ReviewApp(path, clock=clock, **kw)


async def error_screen(path: Path, **kw: Any) -> str:
    """Open ``path`` in the console: it must show the error screen; q quits with 2."""
    app = app_for(path, **kw)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ErrorScreen), app.screen
        message = app.screen.message
        shown = str(app.screen.query_one("Static.title").render())
        assert "Cannot open" in shown
        await pilot.press("q")
    assert app.return_code == 2
    return message


# --- broken files, a test per case ---------------------------------------------------------


def _make(case: str, tmp: Path, fixture_copy: Callable[..., Path]) -> Path:
    if case == "missing":
        return tmp / "nope.db"
    if case == "directory":
        path = tmp / "adir.db"
        path.mkdir()
        return path
    if case == "empty":
        path = tmp / "empty.db"
        path.write_bytes(b"")
        return path
    if case == "text":
        path = tmp / "notes.db"
        path.write_text("hello, not a database\n" * 50)
        return path
    if case == "png":
        path = tmp / "image.db"
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(300))
        return path
    if case == "truncated":
        full = fixture_copy(5, "whole.db").read_bytes()
        path = tmp / "truncated.db"
        path.write_bytes(full[: len(full) // 3])
        return path
    if case == "foreign":
        path = tmp / "other-app.db"
        conn = sqlite3.connect(path)
        with conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
            conn.execute("INSERT INTO users (name) VALUES ('ada')")
        conn.close()
        return path
    versions = {"v13": "13", "v13-read-only": "13", "vabc": "abc", "no-version-row": None}
    path = fixture_copy(5, f"{case}.db")
    set_version(path, versions[case])
    if case.endswith("read-only"):
        path.chmod(0o444)
    return path


BROKEN = {
    "missing": "no such file",
    "directory": "is a directory",
    "empty": "is empty, not a tract database (use --create",
    "text": "is not a SQLite database",
    "png": "is not a SQLite database",
    "truncated": "SQLite file is truncated",
    "foreign": "SQLite database of another application",
    "v13": "tract schema 13 is newer than this tract-tui knows",
    "v13-read-only": "tract schema 13 is newer than this tract-tui knows",
    "vabc": "schema_version is 'abc', not a number",
    "no-version-row": "has no schema_version row",
}


@pytest.mark.parametrize("case", list(BROKEN))
async def test_broken_file_is_refused_and_left_untouched(
    case: str,
    tmp_path: Path,
    fixture_copy: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _make(case, tmp_path, fixture_copy)
    digest = sha256(path) if path.is_file() else None
    sides = side_files(path)
    listing = sorted(os.listdir(tmp_path))
    # the binary: one line on stderr, exit 2, nothing on stdout
    r = run("list", path)
    assert r.returncode == 2 and r.stdout == "", r
    line = one_error_line(r.stderr)
    assert str(path) in line and BROKEN[case] in line, line
    # a writing command, in process
    code, out, err = cli(capsys, "approve", path, "ab18", "--note", "x")
    assert (code, out) == (2, "") and BROKEN[case] in one_error_line(err)
    # the console: its error screen, then exit 2
    assert BROKEN[case] in await error_screen(path)
    # untouched: same bytes, no new side files, nothing created
    if digest is not None:
        assert sha256(path) == digest
    assert side_files(path) == sides
    assert sorted(os.listdir(tmp_path)) == listing
    if case == "missing":
        assert not path.exists()


@pytest.mark.parametrize("case", ["missing", "empty"])
def test_create_makes_a_new_database_only_when_asked(case: str, tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    if case == "empty":
        path.write_bytes(b"")
    svc = ReviewService.open(path, create=True)
    try:
        assert svc.count_proposals() == 0
    finally:
        svc.close()
    assert q(path, "SELECT value FROM _trace_meta WHERE key='schema_version'") == [("5",)]


async def test_read_only_file_opens_read_only_and_says_so(
    v5_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v5_db.chmod(0o444)
    digest = sha256(v5_db)
    try:
        listing = run("list", v5_db, "--json")
        assert listing.returncode == 0 and len(json.loads(listing.stdout)) == 10
        code, _, err = cli(capsys, "approve", v5_db, "ab18")
        assert code == 2 and "read-only" in one_error_line(err)
        app = app_for(v5_db)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert "READ-ONLY" in str(app.query_one("#banner").render())
            assert app.query_one(ProposalsPane).table.row_count == 10
            await pilot.press("a")
            await settle(pilot)
        assert sha256(v5_db) == digest
        # SQLite needs the -wal/-shm to read a WAL file safely next to writers; a
        # read-only connection can create them but not remove them: nothing is in them
        wal = Path(f"{v5_db}-wal")
        assert not wal.exists() or wal.stat().st_size == 0
    finally:
        v5_db.chmod(0o644)
    assert q(v5_db, "SELECT count(*) FROM policy_proposals WHERE status='pending'") == [(10,)]


# --- another process holds the file ----------------------------------------------------------

HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
conn.close()
"""


class Holder:
    """Another process holding ``BEGIN EXCLUSIVE`` on a file until :meth:`release`."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.communicate("", timeout=30)


async def test_held_file_needing_migration_waits_then_says_so(
    fixture_copy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = fixture_copy(4)
    digest = sha256(path)
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "500")
    holder = Holder(path)
    try:
        start = time.monotonic()
        r = run("list", path, env={BUSY_TIMEOUT_ENV: "500"})
        waited = time.monotonic() - start
        assert r.returncode == 2 and r.stdout == ""
        line = one_error_line(r.stderr)
        assert "locked by another process" in line and "waited 0.5 s" in line, line
        assert waited >= 0.5
        message = await error_screen(path)
        assert "locked by another process" in message
    finally:
        holder.release()
    assert sha256(path) == digest
    assert not any(side_files(path).values())
    assert q(path, "SELECT value FROM _trace_meta WHERE key='schema_version'") == [("4",)]


async def test_held_file_decisions_wait_then_say_so(
    v5_db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ReviewService.open(v5_db).close()  # at v5 with its indexes: opening needs no write
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "400")
    holder = Holder(v5_db)
    try:
        # reading is not blocked (WAL): the listing works while the lock is held
        code, out, _ = cli(capsys, "list", v5_db, "--json")
        assert code == 0 and len(json.loads(out)) == 10
        start = time.monotonic()
        code, out, err = cli(capsys, "approve", v5_db, "ab18")
        assert time.monotonic() - start >= 0.4
        # a bulk decision reports each ID, decided or not, and exits 1 (not 2: nothing
        # was wrong with the input)
        assert code == 1 and "locked by another process" in one_error_line(err)
        app = app_for(v5_db)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.query_one(ProposalsPane).table.row_count == 10
            await pilot.press("a")
            await settle(pilot)
            await pilot.pause(0.5)
            await settle(pilot)
            notes = [n.message for n in app._notifications]
            assert any("locked by another process" in n for n in notes), notes
            await pilot.press("q")
        assert app.return_code == 0  # a notice, not a crash
    finally:
        holder.release()
    assert q(v5_db, "SELECT count(*) FROM policy_proposals WHERE status='pending'") == [(10,)]
    assert q(v5_db, "SELECT count(*) FROM policy_log WHERE trigger='review'") == [(0,)]


# --- a -wal that cannot be written -------------------------------------------------------

WAL_WRITER = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA wal_autocheckpoint = 0")
conn.execute(
    "INSERT INTO policy_proposals VALUES ('walonly', 't', 'p', 'annotate', '{}', "
    "'only in the WAL', 'pending', '2000-01-01 00:00:00.000000', NULL)"
)
os._exit(0)  # no close, no checkpoint: the row lives in the -wal only
"""


def wal_only_row(path: Path) -> Path:
    """Leave a -wal holding a committed row the main file does not have yet."""
    subprocess.run([sys.executable, "-c", WAL_WRITER, str(path)], check=True, timeout=60)
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0
    return wal


def immutable(path: Path, on: bool) -> bool:
    """chattr +i / -i; False where the filesystem or the container does not allow it."""
    try:
        r = subprocess.run(
            ["chattr", "+i" if on else "-i", str(path)], capture_output=True, timeout=30
        )
    except FileNotFoundError:
        return False
    return r.returncode == 0


@pytest.mark.parametrize("how", ["mode-bits", "immutable", "directory"])
async def test_unwritable_wal_is_refused_with_a_clear_message(
    how: str, v5_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ReviewService.open(v5_db).close()
    wal = Path(f"{v5_db}-wal")
    if how == "directory":
        wal.mkdir()
        expected = "is not a regular file"
    else:
        wal_only_row(v5_db)
        expected = "cannot be written"
        if how == "mode-bits":
            wal.chmod(0o444)
        elif not immutable(wal, True):
            pytest.skip("chattr +i is not available here (filesystem or capabilities)")
    try:
        if how == "immutable":
            with pytest.raises(PermissionError):  # even root cannot write it
                open(wal, "ab").close()
        digests = {p: sha256(p) for p in (v5_db, wal) if p.is_file()}
        r = run("list", v5_db)
        assert r.returncode == 2 and r.stdout == ""
        line = one_error_line(r.stderr)
        assert f"{v5_db}-wal" in line and expected in line, line
        code, _, err = cli(capsys, "approve", v5_db, "ab18")
        assert code == 2 and expected in one_error_line(err)
        assert expected in await error_screen(v5_db)
        if how == "immutable":
            # below our own check, SQLite itself fails to write; the message says why
            engine = create_trace_engine(v5_db)
            try:
                with pytest.raises(ReadOnlyDatabaseError, match="-wal"):
                    init_db(engine)
            finally:
                engine.dispose()
        if how != "directory":
            # the message's way out: read-only, which reads the WAL's row too
            app = app_for(v5_db, read_only=True)
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)
                table = app.query_one(ProposalsPane).table
                assert table.row_count == 11
                assert table.cache.rows()[0].proposal_id == "walonly"
        assert {p: sha256(p) for p in digests} == digests
    finally:
        if how == "immutable":
            immutable(wal, False)
        if wal.is_dir():
            wal.rmdir()
        elif wal.exists():
            wal.chmod(0o644)


# --- hostile rows ----------------------------------------------------------------------------

NESTED = "[" * 5000 + "]" * 5000
TEN_MB = 10 * 1024 * 1024
ZALGO = "Z\u0337\u0322\u0354a\u0335l\u0336g\u0338o"


def _text_case(s: str) -> dict[str, Any]:
    """The same hostile string in every text column a row has."""
    return {
        "tract": s,
        "policy": s,
        "action": s,
        "reason": s,
        "params": json.dumps({"note": s, "target_hash": s}),
        "log_reason": s,
        "log_error": s,
        "trigger": s,
    }


HOSTILE: dict[str, dict[str, Any]] = {
    "params-not-json": {"params": "{not json: \x1b[31m"},
    "params-json-null": {"params": "null"},
    "params-nested-5000": {"params": NESTED},
    "params-10mb": {"params": json.dumps({"blob": "x" * TEN_MB, "n": [1, 2, 3]})},
    "params-a-bare-number": {"params": "123"},  # NUMERIC affinity: stored as an integer
    "unknown-status": {"status": "frozen-by-ops"},
    "unknown-outcome": {"outcome": "vaporised"},
    "null-reasons": {"reason": None, "log_reason": None, "log_error": None, "action_log": None},
    "reason-10mb": {"reason": "r" * TEN_MB, "log_reason": "l" * TEN_MB},
    "unparseable-created-at": {"created": "(unknown) yesterday-ish"},
    "nul-bytes": _text_case("before\x00after\x00"),
    "right-to-left": _text_case("\u202eevil.exe\u202c שלום עליכם مرحبا \u2067iso\u2069"),
    "emoji-combining": _text_case(f"👩‍👩‍👧 e\u0301 {ZALGO} 🇺🇳 \U000e0041tag"),
    "rich-markup": _text_case("[bold red]URGENT[/] [link=https://evil.example]click[/link]"),
    "ansi-escapes": _text_case("\x1b[31mred\x1b[0m \x1b[2J\x1b[H\x9b2J bell\x07 \x1b[?1049h"),
    "osc8-hyperlink": _text_case(
        "\x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \x1b]0;title\x1b\\"
    ),
}
HID = "00hostile"  # sorts first among proposals (created 2000-01-01)
LOG_WHEN = "2099-01-01 00:00:00.000000"  # newest in the log


def add_hostile_row(path: Path, case: dict[str, Any]) -> int:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO policy_proposals VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                HID,
                case.get("tract", "hostile-tract"),
                case.get("policy", "hostile-policy"),
                case.get("action", "annotate"),
                case.get("params", "{}"),
                case.get("reason", "a plain reason"),
                case.get("status", "pending"),
                case.get("created", "2000-01-01 00:00:00.000000"),
            ),
        )
        cur = conn.execute(
            'INSERT INTO policy_log (tract_id, policy_name, "trigger", action_type, reason, '
            "outcome, commit_hash, error_message, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                case.get("tract", "hostile-tract"),
                case.get("policy", "hostile-policy"),
                case.get("trigger", "compile"),
                case.get("action_log", case.get("action", "annotate")),
                case.get("log_reason", "a plain log reason"),
                case.get("outcome", "error"),
                None,
                case.get("log_error", "a plain error"),
                LOG_WHEN,
            ),
        )
    conn.close()
    assert cur.lastrowid is not None
    return cur.lastrowid


def stored(path: Path, sql: str, params: tuple[Any, ...]) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return dict(conn.execute(sql, params).fetchone())
    finally:
        conn.close()


def assert_inert(text: str, where: str) -> None:
    found = CONTROL.search(text)
    assert found is None, f"{where}: control {found.group()!r} in output" if found else ""


def strip_text(strip: Any) -> str:
    return "".join(segment.text for segment in strip)


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_row_is_faithful_in_json_and_inert_everywhere(
    name: str, v5_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = HOSTILE[name]
    ReviewService.open(v5_db).close()
    log_id = add_hostile_row(v5_db, case)
    row = stored(v5_db, "SELECT * FROM policy_proposals WHERE proposal_id=?", (HID,))
    log = stored(v5_db, "SELECT * FROM policy_log WHERE id=?", (log_id,))
    status = row["status"]
    flt = [] if status == "pending" else ["--filter", f"status:{status}"]

    # --- the command line: tables inert, JSON exact ----------------------------------------
    start = time.monotonic()
    outputs = {
        "list": cli(capsys, "list", v5_db, *flt),
        "show": cli(capsys, "show", v5_db, HID),
        "log": cli(capsys, "log", v5_db, "--limit", "3"),
        "list --json": cli(capsys, "list", v5_db, "--json", *flt),
        "show --json": cli(capsys, "show", v5_db, HID, "--json"),
        "log --json": cli(capsys, "log", v5_db, "--json", "--limit", "3"),
    }
    assert time.monotonic() - start < 30
    for what, (code, out, err) in outputs.items():
        assert code == 0 and err == "", (what, err)
        assert_inert(out.replace("\n", ""), what)
    listing = {p["proposal_id"]: p for p in json.loads(outputs["list --json"][1])}
    for got in (listing[HID], json.loads(outputs["show --json"][1])):
        for key, column in (
            ("tract_id", "tract_id"),
            ("policy_name", "policy_name"),
            ("action_type", "action_type"),
            ("reason", "reason"),
            ("status", "status"),
        ):
            assert got[key] == row[column], key
        value, problem = parse_params(_text(row["action_params_json"]))
        if problem is None:
            assert got["params"] == value
        else:
            assert got["params"] == row["action_params_json"]  # the stored text, exactly
    entry = json.loads(outputs["log --json"][1])[0]
    assert entry["id"] == log_id
    for key in ("tract_id", "policy_name", "trigger", "action_type", "reason", "outcome"):
        assert entry[key] == log[key], key
    assert entry["error_message"] == log["error_message"]
    if "[bold" in str(case.get("reason")):
        assert "[bold red]URGENT[/]" in outputs["list"][1]  # markup shown as text

    # --- the console: open, move over the row, detail, the log ---------------------------------
    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.query_one(ProposalsPane)
        table = pane.table
        await pilot.press("j", "k")
        await settle(pilot)
        lines = [strip_text(table.render_line(y)) for y in range(table.size.height)]
        assert_inert("".join(lines), "proposals table")
        detail = app.query_one("#detail").render()
        assert_inert(str(detail), "detail pane")
        if status == "pending":
            assert table.cursor_row.proposal_id == HID
            assert HID in str(detail)
            assert not any("link" in str(s.style) for s in getattr(detail, "spans", []))
        await pilot.press("2")
        await settle(pilot)
        log_table = app.query_one(LogPane).table
        assert log_table.cursor_row.id == log_id
        lines = [strip_text(log_table.render_line(y)) for y in range(log_table.size.height)]
        assert_inert("".join(lines), "log table")
        await pilot.press("q")
    assert app.return_code == 0


def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_row_renders_inert_in_every_console_function(name: str, v5_db: Path) -> None:
    """The render functions directly, for rows the console's pending list never shows."""
    ReviewService.open(v5_db).close()
    add_hostile_row(v5_db, HOSTILE[name])
    svc = ReviewService.open(v5_db)
    try:
        detail = svc.get_detail(HID)
        entry = svc.list_log(limit=1)[0]
    finally:
        svc.close()
    now = clock()
    texts = [*proposal_cells(detail.proposal, now, True), *log_cells(entry)]
    texts.append(detail_text(detail, now))
    for text in texts:
        assert_inert(text.plain, name)
        assert not any("link" in str(s.style) for s in text.spans)


async def test_text_that_is_not_utf8_reads_as_replacement_characters(
    v5_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A foreign writer's invalid UTF-8 must not hide every row (it failed whole queries)."""
    ReviewService.open(v5_db).close()
    with sqlite3.connect(v5_db) as conn:
        pid = conn.execute(
            "SELECT proposal_id FROM policy_proposals WHERE status = 'pending'"
            " ORDER BY created_at, proposal_id LIMIT 1"
        ).fetchone()[0]
        conn.execute(
            "UPDATE policy_proposals SET reason = CAST(X'6f6bff20c3' AS TEXT),"
            " tract_id = CAST(X'74ff' AS TEXT) WHERE proposal_id = ?",
            (pid,),
        )
        log_id = conn.execute("SELECT max(id) FROM policy_log").fetchone()[0]
        conn.execute(
            "UPDATE policy_log SET error_message = CAST(X'e282' AS TEXT) WHERE id = ?", (log_id,)
        )
    code, out, err = cli(capsys, "list", v5_db, "--json")
    assert code == 0 and err == ""
    got = next(p for p in json.loads(out) if p["proposal_id"] == pid)
    assert got["reason"] == "ok\ufffd \ufffd" and got["tract_id"] == "t\ufffd"
    code, out, err = cli(capsys, "log", v5_db, "--json", "--limit", "1")
    assert code == 0 and json.loads(out)[0]["error_message"] == "\ufffd"
    code, out, err = cli(capsys, "list", v5_db)
    assert code == 0 and "ok\ufffd" in out

    app = app_for(v5_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.query_one(ProposalsPane).table
        assert table.cursor_row.proposal_id == pid
        assert "ok\ufffd" in str(app.query_one("#detail").render())
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert app.query_one(LogPane).table.row_count > 0
        await pilot.press("q")
    assert q(v5_db, "SELECT status FROM policy_proposals WHERE proposal_id=?", (pid,)) == [
        ("approved",)
    ]


@pytest.mark.parametrize("name", ["a#b.db", "c?d.db", "e%41.db", "sp ace é.db"])
async def test_a_file_name_with_uri_characters_opens_and_creates_nothing_else(
    name: str, fixture_copy: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite reads ``?``/``#``/``%`` in a ``file:`` URI: ``a#b.db`` was opened as ``a``."""
    path = fixture_copy(1, name)  # v1: the first open migrates it
    before = sorted(p.name for p in path.parent.iterdir())
    code, out, err = cli(capsys, "list", path, "--json")
    assert (code, err) == (0, "") and json.loads(out) == []
    assert q(path, "SELECT value FROM _trace_meta WHERE key='schema_version'") == [("5",)]
    svc = ReviewService.open(path, read_only=True)
    try:
        assert svc.read_only and svc.count_proposals() == 0
        assert svc.watcher().changed() is False
    finally:
        svc.close()
    app = app_for(path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not isinstance(app.screen, ErrorScreen)
        await pilot.press("q")
    after = {p.name for p in path.parent.iterdir()} - {name + "-wal", name + "-shm"}
    assert sorted(after) == before
