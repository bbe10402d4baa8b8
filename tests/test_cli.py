"""The command line, driven through real subprocesses on fixture copies.

Every command, exit code and output format runs as ``python -m tract_tui``.
Each such run costs ~0.6 s (Python + SQLAlchemy start-up), so independent
runs go a few at a time (``run_many``), and the wide matrices (every filter
term, every refused file with every command) also call ``main()`` in
process, which is the same code minus the start-up.
"""

from __future__ import annotations

import json
import os
import pty
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import sha256, untrailed, untrailed_rows
from tract_tui.cli import COMMANDS, glue_values, is_command, main
from tract_tui.models.review import split_trailer
from tract_tui.review.service import ReviewService, reviewer_name

ENV = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "TERM")}
ENV["COLUMNS"] = "160"
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
OUR_SGR = re.compile(r"\x1b\[[0-9;]*m")
PROPOSAL_KEYS = {
    "proposal_id",
    "tract_id",
    "policy_name",
    "action_type",
    "params",
    "reason",
    "status",
    "created_at",
    "resolved_at",
}
LOG_KEYS = {
    "id",
    "tract_id",
    "policy_name",
    "trigger",
    "action_type",
    "reason",
    "outcome",
    "commit_hash",
    "error_message",
    "created_at",
}

Run = subprocess.CompletedProcess[str]


def run(*args: object, env: dict[str, str] | None = None) -> Run:
    return subprocess.run(
        [sys.executable, "-m", "tract_tui", *map(str, args)],
        capture_output=True,
        text=True,
        env={**ENV, **(env or {})},
        timeout=60,
    )


def run_many(calls: Sequence[Sequence[object]], env: dict[str, str] | None = None) -> list[Run]:
    """Run independent invocations a few at a time (results in the order given)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda a: run(*a, env=env), calls))


def call(capsys: pytest.CaptureFixture[str], *args: object) -> Run:
    """``main()`` in this process, with the result shaped like a subprocess run."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(map(str, args)), code, out, err)


@pytest.fixture(autouse=True)
def _columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", ENV["COLUMNS"])
    monkeypatch.delenv("NO_COLOR", raising=False)


def q(path: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return untrailed_rows(conn.execute(sql, params).fetchall())


def ids(path: Path, where: str, params: Sequence[Any] = ()) -> list[str]:
    sql = f"SELECT proposal_id FROM policy_proposals WHERE {where} ORDER BY created_at, proposal_id"
    return [r[0] for r in q(path, sql, params)]


def one_error_line(r: Run) -> str:
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("tract-tui"), lines[0]
    assert "Traceback" not in r.stderr
    return lines[0]


def now_local() -> datetime:
    return datetime.now()


def fmt(dt: datetime) -> str:
    return dt.isoformat(sep=" ", timespec="microseconds")


@pytest.fixture
def db(v5_db: Path) -> Path:
    """A v5 copy already opened once (ix_tui indexes made), so parallel runs do not race."""
    ReviewService.open(v5_db).close()
    return v5_db


# --- pure helpers (in process) -------------------------------------------------------


def test_dispatch_first_non_option_argument() -> None:
    assert is_command(["list", "x.db"])
    assert is_command(["--json", "log", "x.db"])
    assert not is_command(["x.db"])
    assert not is_command(["./list"])
    assert not is_command(["--demo"])
    assert not is_command(["--", "list"])
    assert not is_command([])


def test_values_that_look_like_options_are_glued() -> None:
    assert glue_values(["list", "p", "--filter", "-policy:x"]) == [
        "list",
        "p",
        "--filter=-policy:x",
    ]
    assert glue_values(["approve", "p", "a", "--note", "-1 ok"]) == [
        "approve",
        "p",
        "a",
        "--note=-1 ok",
    ]
    assert glue_values(["list", "p", "--filter"]) == ["list", "p", "--filter"]


# --- help, version, usage ---------------------------------------------------------------


def test_a_file_named_like_a_command_goes_to_the_console(tmp_path: Path) -> None:
    """``./list`` is a path for the console (which refuses a missing file before starting)."""
    r = run("./list")
    assert r.returncode == 2
    assert "./list: no such file" in one_error_line(r)


def test_version_and_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    version, top, sub = run_many([["--version"], ["--help"], ["approve", "--help"]])
    assert version.returncode == 0 and version.stdout.startswith("tract-tui 0.")
    assert top.returncode == 0 and top.stderr == ""
    for c in COMMANDS:
        assert f"tract-tui {c} PATH" in top.stdout
    assert sub.returncode == 0 and sub.stdout.startswith("usage: tract-tui approve")
    for c in COMMANDS:
        r = call(capsys, c, "--help")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"usage: tract-tui {c}")
        assert "exit status" in r.stdout


def test_usage_errors_are_one_line_exit_2(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[list[object]] = [
        [],  # neither PATH nor --demo
        ["list"],
        ["show", db],
        ["approve", db],
        ["expire", db],
        ["gc", db],
        ["list", db, "--bogus"],
        ["log", db, "--limit", "-3"],
        ["log", db, "--limit", "many"],
        ["list", db, "--filter", "bogus:x"],
        ["log", db, "--filter", "status:pending"],
        ["list", db, "--filter", 'policy:"unclosed'],
        ["list", db, "--filter", "since:yesterday"],
        ["expire", db, "--older-than", "2x"],
        ["expire", db, "--older-than", "99999999999d"],
        ["gc", db, "--before", "last tuesday"],
    ]
    before = sha256(db)
    in_subprocess = [calls[0], calls[6], calls[9], calls[13]]
    results = run_many(in_subprocess) + [call(capsys, *c) for c in calls]
    for args, r in zip(in_subprocess + calls, results, strict=True):
        assert r.returncode == 2, (args, r)
        assert r.stdout == "", args
        one_error_line(r)
    assert sha256(db) == before
    bad = run("list", db, "--filter", "policy:a nope:b").stderr
    assert "'nope:b'" in bad and "unknown filter key" in bad


# --- refusing bad files -----------------------------------------------------------------


def make_bad_files(tmp: Path, fixture_copy: Callable[..., Path]) -> dict[str, Path]:
    files: dict[str, Path] = {"missing": tmp / "nope.db", "directory": tmp / "adir"}
    files["directory"].mkdir()
    files["empty"] = tmp / "empty.db"
    files["empty"].write_bytes(b"")
    files["text"] = tmp / "notes.txt"
    files["text"].write_text("hello, not a database\n")
    files["png"] = tmp / "image.png"
    files["png"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    files["foreign"] = tmp / "other-app.db"
    with sqlite3.connect(files["foreign"]) as c:
        c.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        c.execute("INSERT INTO users (name) VALUES ('ada')")
    c.close()
    for name, version in (("v13", "13"), ("vabc", "abc")):
        path = fixture_copy(5, f"{name}.db")
        with sqlite3.connect(path) as c:
            c.execute("UPDATE _trace_meta SET value=? WHERE key='schema_version'", (version,))
        c.close()
        files[name] = path
    full = fixture_copy(5, "truncated.db").read_bytes()
    files["truncated"] = tmp / "truncated.db"
    files["truncated"].write_bytes(full[: len(full) // 3])
    return files


COMMAND_ARGS: list[list[str]] = [
    ["list"],
    ["log", "--json"],
    ["show", "abc"],
    ["approve", "abc"],
    ["reject", "abc", "--reason", "no"],
    ["expire", "--older-than", "2h"],
    ["gc", "--before", "2d"],
]


def test_bad_files_exit_2_one_line_and_untouched(
    tmp_path: Path, fixture_copy: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files = make_bad_files(tmp_path, fixture_copy)
    digests = {k: sha256(p) for k, p in files.items() if p.is_file()}
    # every file through a subprocess (commands rotating), then every command in process
    calls: list[list[object]] = []
    for i, path in enumerate(files.values()):
        command, *rest = COMMAND_ARGS[i % len(COMMAND_ARGS)]
        calls.append([command, path, *rest])
    results = run_many(calls)
    messages = {name: r.stderr for name, r in zip(files, results, strict=True)}
    for path in files.values():
        for command, *rest in COMMAND_ARGS:
            calls.append([command, path, *rest])
            results.append(call(capsys, command, path, *rest))
    for args, r in zip(calls, results, strict=True):
        assert r.returncode == 2, (args, r)
        assert r.stdout == ""
        line = one_error_line(r)
        assert str(args[1]) in line, line
    for name, path in files.items():
        if path.is_file():
            assert sha256(path) == digests[name], name
        if name not in ("v13", "vabc"):  # (refusing a WAL tract file leaves empty -wal/-shm)
            assert not Path(f"{path}-wal").exists(), name
    assert not files["missing"].exists()
    assert "no such file" in messages["missing"]
    assert "directory" in messages["directory"]
    assert "newer" in messages["v13"] and "13" in messages["v13"]
    assert "another application" in messages["foreign"]


def test_read_only_file_lists_but_refuses_decisions(db: Path) -> None:
    db.chmod(0o444)
    try:
        digest = sha256(db)
        listing, decision, gc = run_many(
            [["list", db, "--json"], ["approve", db, "ab18"], ["gc", db, "--before", "1d"]]
        )
        assert listing.returncode == 0 and len(json.loads(listing.stdout)) == 10
        for r in (decision, gc):
            assert r.returncode == 2
            assert "read-only" in one_error_line(r)
        assert sha256(db) == digest
    finally:
        db.chmod(0o644)
    assert q(db, "SELECT status FROM policy_proposals WHERE proposal_id LIKE 'ab18%'") == [
        ("pending",)
    ]


# --- list ----------------------------------------------------------------------------


def test_list_table_oldest_first(db: Path) -> None:
    r = run("list", db)
    assert r.returncode == 0 and r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "CREATED", "TRACT", "POLICY", "ACTION", "REASON"]
    expected = ids(db, "status='pending'")
    assert [line.split()[0] for line in lines[1:]] == [i[:12] for i in expected]
    assert all(len(line) <= 160 for line in lines)
    assert "\x1b" not in r.stdout  # a pipe gets no colour


def test_list_json_shape(db: Path) -> None:
    r = run("list", db, "--json")
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert isinstance(data, list) and len(data) == 10
    assert all(set(item) == PROPOSAL_KEYS | {"conflict"} for item in data)
    assert not any(item["conflict"] for item in data)
    assert [d["proposal_id"] for d in data] == ids(db, "status='pending'")
    first = data[0]
    assert first["status"] == "pending" and first["resolved_at"] is None
    assert first["params"] == {
        "target_hash": "2380d9d91b0b488769924d0180b399d34824cc4ee8b91433b4bd23abe2ef3190",
        "priority": "skip",
        "reason": "bulky tool output hidden by policy",
    }
    assert first["created_at"] == "2026-02-17 15:10:49.355639"
    limited = json.loads(run("list", db, "--json", "--limit", "3").stdout)
    assert [d["proposal_id"] for d in limited] == ids(db, "status='pending'")[:3]


LIST_CASES: list[tuple[str, str]] = [
    ("policy:auto-branch", "status='pending' AND policy_name='auto-branch'"),
    ("-policy:auto-branch", "status='pending' AND policy_name!='auto-branch'"),
    (
        "policy:auto-branch policy:auto-compress",
        "status='pending' AND policy_name IN ('auto-branch','auto-compress')",
    ),
    ("tract:support-agent", "status='pending' AND tract_id='support-agent'"),
    ("-tract:support-agent", "status='pending' AND tract_id!='support-agent'"),
    ("action:annotate", "status='pending' AND action_type='annotate'"),
    ("-action:annotate", "status='pending' AND action_type!='annotate'"),
    ("status:rejected", "status='rejected'"),
    ("status:rejected status:executed", "status IN ('rejected','executed')"),
    ("-status:pending", "status!='pending'"),
    ("since:2026-02-18", "status='pending' AND created_at >= '2026-02-18'"),
    ("until:2026-02-18", "status='pending' AND created_at < '2026-02-19'"),
    (
        "since:2026-02-17T15:20 until:2026-02-18T10:20:14",
        "status='pending' AND created_at >= '2026-02-17 15:20' "
        "AND created_at <= '2026-02-18 10:20:14'",
    ),
    ("since:5000w", "status='pending'"),
    ("since:1s", "0"),
    ("Token", "status='pending' AND reason LIKE '%Token%'"),
    ("-Token", "status='pending' AND reason NOT LIKE '%Token%'"),
    ('"hide it"', "status='pending' AND reason LIKE '%hide it%'"),
    (
        "tract:support-agent -action:branch token",
        "status='pending' AND tract_id='support-agent' AND action_type!='branch' "
        "AND reason LIKE '%token%'",
    ),
    (
        "tract:support-agent -action:branch",
        "status='pending' AND tract_id='support-agent' AND action_type!='branch'",
    ),
]


def test_list_each_filter_term_and_negation(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = [call(capsys, "list", db, "--json", "--filter", expr) for expr, _ in LIST_CASES]
    wrong = []
    for (expr, where), r in zip(LIST_CASES, results, strict=True):
        assert r.returncode == 0, (expr, r.stderr)
        got = [d["proposal_id"] for d in json.loads(r.stdout)]
        if got != ids(db, where):
            wrong.append((expr, got, ids(db, where)))
    assert not wrong
    assert len(ids(db, "status='pending' AND tract_id='support-agent' AND action_type!='branch'"))


def test_filters_through_a_subprocess(db: Path) -> None:
    """A negated term as its own argv item (no --filter=) and a time window, for real."""
    listing, log = run_many(
        [
            ["list", db, "--json", "--filter", "-policy:auto-branch since:2026-02-18"],
            ["log", db, "--json", "--filter", "-outcome:skipped trigger:compile"],
        ]
    )
    assert [d["proposal_id"] for d in json.loads(listing.stdout)] == ids(
        db, "status='pending' AND policy_name!='auto-branch' AND created_at >= '2026-02-18'"
    )
    assert [d["id"] for d in json.loads(log.stdout)] == log_ids(
        db, "outcome!='skipped' AND trigger='compile'"
    )


def test_status_filter_adds_a_status_column(db: Path) -> None:
    r = run("list", db, "--filter", "-status:pending")
    header, *rows = r.stdout.splitlines()
    assert header.split()[2] == "STATUS"
    assert sorted(row.split()[3] for row in rows) == [
        "executed",
        "executed",
        "rejected",
        "rejected",
    ]


def test_list_nothing(db: Path) -> None:
    r = run("list", db, "--filter", "tract:nobody")
    assert (r.returncode, r.stdout.strip()) == (0, "no proposals match")
    assert run("list", db, "--json", "--filter", "tract:nobody").stdout.strip() == "[]"


# --- show ----------------------------------------------------------------------------


def test_show_by_prefix(db: Path) -> None:
    text, as_json, exact = run_many(
        [
            ["show", db, "cd05"],
            ["show", db, "cd05", "--json"],
            ["show", db, "cd05c8abc3344daab2aae1d3e29e0dd6", "--json"],
        ]
    )
    assert text.returncode == 0
    assert "cd05c8abc3344daab2aae1d3e29e0dd6" in text.stdout
    assert "archive: move a stale branch out of the way" in text.stdout
    assert "experiment/limits-only" in text.stdout
    assert "commits on it" in text.stdout
    data = json.loads(as_json.stdout)
    assert set(data) == PROPOSAL_KEYS | {"impact", "effect"}
    assert data["impact"]["fields"]["source branch"] == "experiment/limits-only"
    effect = data["effect"]
    assert set(effect) == {"branch", "will_fail", "duplicate_of", "context_before",
                           "context_after", "summary", "predictable", "notes"}  # fmt: skip
    assert effect["summary"].splitlines()[0] in text.stdout  # the verdict leads `show`
    assert data == json.loads(exact.stdout)


def test_show_ambiguous_and_unknown(db: Path) -> None:
    ambiguous, unknown = run_many([["show", db, "0"], ["show", db, "zzz"]])
    assert ambiguous.returncode == 2
    line = one_error_line(ambiguous)
    assert "ambiguous" in line
    assert "019c564c4f95410e87eabce263b98182" in line and "03131e962e7b4ba987ba168d1198b126" in line
    assert unknown.returncode == 1
    assert "zzz" in one_error_line(unknown)


# --- approve / reject ------------------------------------------------------------------


def review_rows(path: Path) -> list[tuple[Any, ...]]:
    """The review rows as stored (their reasons with the proposal trailer)."""
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT tract_id, policy_name, action_type, trigger, outcome, reason, created_at "
            "FROM policy_log WHERE trigger='review' ORDER BY id"
        ).fetchall()


def proposal(path: Path, pid: str) -> tuple[Any, ...]:
    return q(
        path,
        "SELECT status, resolved_at, tract_id, policy_name, action_type FROM policy_proposals "
        "WHERE proposal_id=?",
        (pid,),
    )[0]


def test_approve_and_reject_write_status_and_one_log_row_each(db: Path) -> None:
    a, b, c = "ab18575886fb40119208322d05c0d6a2", "c923d08e9b4e4b0e9e284f9dbdb0db3d", "cd05"
    start = now_local() - timedelta(seconds=1)
    approved = run("approve", db, "ab18", "c923d0", "--note", "looks right")
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.splitlines()[0].startswith(f"approved {a}")
    rejected = run("reject", db, c, "--reason", "-not now")  # a value starting with '-'
    assert rejected.returncode == 0, rejected.stderr
    end = now_local() + timedelta(seconds=1)
    me = reviewer_name()
    logs = review_rows(db)
    assert len(logs) == 3
    for pid, outcome, note, log in (
        (a, "approved", "looks right", logs[0]),
        (b, "approved", "looks right", logs[1]),
        (ids(db, "proposal_id LIKE 'cd05%'")[0], "rejected", "-not now", logs[2]),
    ):
        status, resolved_at, tract, policy, action = proposal(db, pid)
        assert status == outcome
        assert start <= datetime.fromisoformat(resolved_at) <= end  # local naive time
        assert log[:5] == (tract, policy, action, "review", outcome)
        text, named = split_trailer(log[5])
        assert me in text and text.endswith(note) and named == pid  # the row names its proposal
        assert log[6] == resolved_at


def test_conflicts_and_unknown_ids_exit_1_and_the_rest_is_decided(db: Path) -> None:
    rejected_before = "58e2078619674953a20586dbdd2e1e6a"  # already rejected in the fixture
    log_count = q(db, "SELECT count(*) FROM policy_log")[0][0]
    r = run("approve", db, "58e2", "f3d9", "nothere", "f3d9")
    assert r.returncode == 1
    errors = r.stderr.splitlines()
    assert len(errors) == 2
    assert rejected_before in errors[0] and "is rejected" in errors[0]
    assert "nothere" in errors[1] and "no such proposal" in errors[1]
    assert proposal(db, rejected_before)[0] == "rejected"
    assert proposal(db, ids(db, "proposal_id LIKE 'f3d9%'")[0])[0] == "approved"
    assert q(db, "SELECT count(*) FROM policy_log")[0][0] == log_count + 1  # f3d9 once


def test_ambiguous_prefix_decides_nothing(db: Path) -> None:
    r = run("reject", db, "f3d9", "0")
    assert r.returncode == 2
    assert "ambiguous" in one_error_line(r)
    assert review_rows(db) == []
    assert proposal(db, ids(db, "proposal_id LIKE 'f3d9%'")[0])[0] == "pending"


def test_decision_json_report(db: Path) -> None:
    r = run("reject", db, "bb67", "58e2", "--json")
    assert r.returncode == 1
    report = json.loads(r.stdout)
    assert [(x["id"], x["decided"], x["status"]) for x in report] == [
        ("bb67", True, "rejected"),
        ("58e2", False, "rejected"),
    ]
    assert report[0]["proposal_id"] == "bb67ca13cf6b45d9ae425e251ab811bf"
    assert isinstance(report[0]["log_id"], int) and report[1]["log_id"] is None


# --- expire --------------------------------------------------------------------------


def add_proposal(path: Path, pid: str, created: datetime, **cols: Any) -> None:
    row = {
        "proposal_id": pid,
        "tract_id": "support-agent",
        "policy_name": "test-policy",
        "action_type": "annotate",
        "action_params_json": "{}",
        "reason": "test",
        "status": "pending",
        "created_at": fmt(created),
        "resolved_at": None,
        **cols,
    }
    with sqlite3.connect(path) as conn:
        conn.execute(
            f"INSERT INTO policy_proposals ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
    conn.close()


def test_expire_dry_run_then_for_real(db: Path) -> None:
    now = now_local()
    add_proposal(db, "zz-recent", now - timedelta(minutes=10))
    add_proposal(db, "zz-old", now - timedelta(hours=3))
    old = ids(db, "status='pending' AND proposal_id != 'zz-recent'")
    dry = run("expire", db, "--older-than", "2h", "--dry-run", "--json")
    assert dry.returncode == 0
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True and report["count"] == 11
    assert report["proposal_ids"] == old
    assert ids(db, "status='expired'") == []
    text = run("expire", db, "--older-than", "2h")
    assert text.returncode == 0
    assert text.stdout.splitlines()[-1] == "expired 11 proposals pending longer than 2h"
    assert ids(db, "status='expired'") == sorted(old, key=old.index)
    assert ids(db, "status='pending'") == ["zz-recent"]
    logged = q(db, "SELECT count(*) FROM policy_log WHERE outcome='expired' AND trigger='review'")
    assert logged == [(11,)]
    again = run("expire", db, "--older-than", "2h")
    assert again.stdout.strip() == "expired 0 proposals pending longer than 2h"


# --- log -----------------------------------------------------------------------------


def log_ids(path: Path, where: str = "1") -> list[int]:
    sql = f"SELECT id FROM policy_log WHERE {where} ORDER BY created_at DESC, id DESC"
    return [r[0] for r in q(path, sql)]


def test_log_table_and_json(db: Path) -> None:
    text, as_json, everything = run_many(
        [["log", db, "--limit", "5"], ["log", db, "--json"], ["log", db, "--json", "--limit", "0"]]
    )
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["TIME", "TRACT", "POLICY", "TRIGGER", "ACTION", "OUTCOME", "DETAIL"]
    assert len(lines) == 6
    assert "· error: Branch already e" in lines[1]
    data = json.loads(as_json.stdout)
    assert all(set(d) == LOG_KEYS for d in data)
    assert [d["id"] for d in data] == log_ids(db)[:50]
    assert [d["id"] for d in json.loads(everything.stdout)] == log_ids(db)


LOG_CASES: list[tuple[str, str]] = [
    ("outcome:error", "outcome='error'"),
    ("-outcome:skipped", "outcome!='skipped'"),
    ("outcome:error outcome:skipped", "outcome IN ('error','skipped')"),
    ("trigger:compile", "trigger='compile'"),
    ("-trigger:commit", "trigger!='commit'"),
    ("policy:auto-pin", "policy_name='auto-pin'"),
    ("-policy:auto-pin", "policy_name!='auto-pin'"),
    ("tract:support-agent", "tract_id='support-agent'"),
    ("-tract:support-agent", "tract_id!='support-agent'"),
    ("action:archive", "action_type='archive'"),
    ("-action:archive", "action_type IS NULL OR action_type!='archive'"),
    ("since:2026-02-24", "created_at >= '2026-02-24'"),
    ("until:2026-02-17", "created_at < '2026-02-18'"),
    ("o3-mini", "error_message LIKE '%o3-mini%'"),
    ("-Auto-pinned", "coalesce(reason,'') NOT LIKE '%Auto-pinned%'"),
    ('"snapshot branch tip" outcome:error', "outcome='error' AND reason LIKE '%snapshot%'"),
]


def test_log_each_filter_term_and_negation(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls = [["log", db, "--json", "--limit", "0", "--filter", e] for e, _ in LOG_CASES]
    wrong = []
    results = [call(capsys, *c) for c in calls]
    for (expr, where), r in zip(LOG_CASES, results, strict=True):
        assert r.returncode == 0, (expr, r.stderr)
        got = [d["id"] for d in json.loads(r.stdout)]
        if got != log_ids(db, where) or not got:
            wrong.append((expr, got, log_ids(db, where)))
    assert not wrong


def test_output_to_a_closed_pipe_is_quiet(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO policy_log (tract_id, policy_name, trigger, action_type, reason, "
            "outcome, created_at) VALUES ('t', 'p', 'commit', 'annotate', ?, 'skipped', ?)",
            [
                (f"row {i} " + "x" * 100, f"2026-01-01 00:00:{i % 60:02d}.{i:06d}")
                for i in range(3000)
            ],
        )
    conn.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tract_tui", "log", str(db), "--limit", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=30) == 0
    assert err == b""


# --- gc ------------------------------------------------------------------------------


def test_gc_dry_run_tract_and_for_real(db: Path) -> None:
    total = len(log_ids(db))
    older = len(log_ids(db, "created_at < '2026-02-18'"))
    theirs = len(log_ids(db, "created_at < '2026-02-18' AND tract_id='support-agent'"))
    dry, dry_tract = run_many(
        [
            ["gc", db, "--before", "2026-02-18", "--dry-run", "--json"],
            ["gc", db, "--before", "2026-02-18", "--dry-run", "--tract", "support-agent"],
        ]
    )
    assert json.loads(dry.stdout)["count"] == older
    assert dry_tract.stdout.startswith(f"would delete {theirs} log rows of tract support-agent")
    assert len(log_ids(db)) == total
    r = run("gc", db, "--before", "2026-02-18", "--tract", "support-agent")
    assert r.stdout.startswith(f"deleted {theirs} log rows")
    assert len(log_ids(db)) == total - theirs
    r = run("gc", db, "--before", "2026-02-18")
    assert r.stdout.startswith(f"deleted {older - theirs} log rows")
    assert log_ids(db, "created_at < '2026-02-18'") == []
    relative = run("gc", db, "--before", "1w", "--dry-run", "--json")  # now - 1 week
    assert json.loads(relative.stdout)["count"] == len(
        log_ids(db, f"created_at < '{fmt(now_local() - timedelta(weeks=1))}'")
    )


# --- hostile text ----------------------------------------------------------------------

HOSTILE = (
    "[bold red]URGENT[/] [link=https://evil.example]click[/link] "
    "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 "
    "nul\x00 c1\x9b2J bidi\u202eevil\u202c bell\x07 cr\roverwrite\nsecond line \x7f"
)
HOSTILE_PARAMS = {"target_hash": HOSTILE, "nested": [{"k": "\x1b]8;;x\x1b\\"}]}


def add_hostile_rows(path: Path) -> None:
    add_proposal(
        path,
        "ffhostile\x1b[2J",
        datetime(2026, 2, 20),
        policy_name="pol\x1b[1micy",
        tract_id="support-agent",
        reason=HOSTILE,
        action_params_json=json.dumps(HOSTILE_PARAMS),
    )
    add_proposal(
        path, "ffnotjson", datetime(2026, 2, 21), action_params_json="not json \x00\x1b[5m"
    )
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO policy_log (tract_id, policy_name, trigger, action_type, reason, "
            "outcome, error_message, created_at) VALUES "
            "('support-agent', 'p\x9bx', 'commit', 'annotate', ?, 'error', ?, "
            "'2026-03-01 00:00:00.000000')",
            (HOSTILE, HOSTILE),
        )
    conn.close()


def assert_inert(text: str) -> None:
    assert not CONTROL.search(text), repr(CONTROL.search(text))
    assert "\x1b" not in text


def test_hostile_text_is_inert_in_tables_and_exact_in_json(db: Path) -> None:
    add_hostile_rows(db)
    listing, show, log, list_json, show_json, log_json = run_many(
        [
            ["list", db],
            ["show", db, "ffhostile"],
            ["log", db, "--limit", "3"],
            ["list", db, "--json"],
            ["show", db, "ffhostile", "--json"],
            ["log", db, "--json", "--limit", "1"],
        ],
        env={"COLUMNS": "400"},
    )
    for r in (listing, show, log):
        assert r.returncode == 0, r.stderr
        assert_inert(r.stdout)
        assert "[bold red]URGENT[/]" in r.stdout  # markup shown as text
        assert "␛[31mred" in r.stdout and "nul␀" in r.stdout
    assert "\\x9b2J" in listing.stdout and "\\u202eevil" in listing.stdout
    assert "second line" in show.stdout  # a multi-line reason keeps its lines in show
    for r in (list_json, show_json, log_json):
        assert r.returncode == 0
        assert_inert(r.stdout.replace("\n", ""))  # even JSON puts no raw control on the screen
    rows = {d["proposal_id"]: d for d in json.loads(list_json.stdout)}
    hostile = rows["ffhostile\x1b[2J"]
    assert hostile["reason"] == HOSTILE
    assert hostile["policy_name"] == "pol\x1b[1micy"
    assert hostile["params"] == HOSTILE_PARAMS
    assert rows["ffnotjson"]["params"] == "not json \x00\x1b[5m"
    assert json.loads(show_json.stdout)["reason"] == HOSTILE
    entry = json.loads(log_json.stdout)[0]
    assert entry["reason"] == HOSTILE and entry["error_message"] == HOSTILE
    assert entry["policy_name"] == "p\x9bx"


def run_on_pty(args: Sequence[object], env: dict[str, str]) -> str:
    """stdout of a run whose stdout is a terminal (so colour is allowed)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tract_tui", *map(str, args)],
            stdout=slave,
            stderr=subprocess.PIPE,
            env={**ENV, "TERM": "xterm-256color", **env},
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=30) == 0
    finally:
        os.close(master)
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_and_never_with_no_color(db: Path) -> None:
    add_hostile_rows(db)
    with ThreadPoolExecutor(max_workers=3) as pool:
        colour, no_color, show = pool.map(
            lambda a: run_on_pty(*a),
            [
                (["list", db], {}),
                (["list", db], {"NO_COLOR": "1"}),
                (["show", db, "ffhostile"], {}),
            ],
        )
    assert "\x1b[1m" in colour  # our bold header: the terminal case does colour
    for out in (colour, show):
        assert_inert(OUR_SGR.sub("", out).replace("\r\n", "\n"))  # the only escapes are ours
    assert "\x1b" not in no_color
    assert "[bold red]URGENT[/]" in no_color


def test_example_agent_without_the_library_says_what_it_needs(db: Path) -> None:
    """examples/agent.py is a real tract agent (tests/test_real_library_loop.py runs it)."""
    example = Path(__file__).parent.parent / "examples" / "agent.py"
    r = subprocess.run([sys.executable, str(example), str(db)], capture_output=True, text=True,
                       env=ENV, timeout=60)  # fmt: skip
    assert r.returncode == 2
    assert "needs the tract library" in r.stderr and r.stdout == ""


def test_release_gives_back_a_claim_whose_agent_died(v5_db: Path) -> None:
    """An agent killed mid-action leaves its claim executing; a reviewer puts it back."""
    code = (
        "import os, sys\n"
        "from tract_tui.api import open_queue\n"
        "q = open_queue(sys.argv[1])\n"
        "pid = q.pending()[0].proposal_id\n"
        "q.approve(pid)\n"
        "claims = q.claim_approved(q.get(pid).tract_id)  # held: dropping it releases\n"
        "claim = next(claims)\n"
        "print(claim.proposal_id, flush=True)\n"
        "os._exit(9)  # killed: no release, no result\n"
    )
    agent = subprocess.run(
        [sys.executable, "-c", code, str(v5_db)], capture_output=True, text=True, env=ENV
    )
    assert agent.returncode == 9, agent.stderr
    stuck = agent.stdout.strip()
    status = "SELECT status FROM policy_proposals WHERE proposal_id = ?"
    with sqlite3.connect(v5_db) as conn:
        assert conn.execute(status, (stuck,)).fetchone() == ("executing",)
        logs_before = conn.execute("SELECT count(*) FROM policy_log").fetchone()[0]
    listed = run("list", v5_db, "--filter", "status:executing", "--json")
    assert [p["proposal_id"] for p in json.loads(listed.stdout)] == [stuck]

    r = run("release", v5_db, stuck[:10], "--reason", "agent OOM-killed", "--json")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    (report,) = json.loads(r.stdout)
    assert report["released"] is True and report["status"] == "approved"
    with sqlite3.connect(v5_db) as conn:
        assert conn.execute(status, (stuck,)).fetchone() == ("approved",)
        log = conn.execute(
            "SELECT outcome, reason, error_message, policy_name FROM policy_log WHERE id = ?",
            (report["log_id"],),
        ).fetchone()
        assert conn.execute("SELECT count(*) FROM policy_log").fetchone()[0] == logs_before + 1
    assert log[0] == "error"
    assert untrailed(log[1]) == f"claim released by {reviewer_name()}: agent OOM-killed"
    assert "did not finish" in log[2]

    # once approved again it is not stuck: nothing changes, exit 1, one line per ID
    again = run("release", v5_db, stuck, "nosuchid")
    assert again.returncode == 1 and again.stdout == ""
    lines = again.stderr.strip().splitlines()
    assert lines == [
        f"tract-tui: {stuck}: is approved, not executing; nothing was changed",
        "tract-tui: nosuchid: no such proposal",
    ]
    with sqlite3.connect(v5_db) as conn:
        assert conn.execute("SELECT count(*) FROM policy_log").fetchone()[0] == logs_before + 1
    assert "release" in run("--help").stdout
