"""The demo database (issue 3's ``--demo``) and the large benchmark database (issue 4).

Checked on the rows themselves: what the demo promises a first-time user
(several tracts, 4+ policies, 10+ pending proposals of every action type that
point at real commits and branches, a few hundred log rows over several days)
and that it is a file the real tract library could have written.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tract_tui.demo import build_demo_database, default_demo_path, ensure_demo_database
from tract_tui.storage.inspect import inspect_database

NOW = datetime(2026, 3, 2, 10, 30, 0)
OFFSET = timedelta(hours=-8)  # local time is UTC-8 in these tests, whatever the machine says
DT = "%Y-%m-%d %H:%M:%S.%f"
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path = build_demo_database(
        tmp_path_factory.mktemp("demo") / "demo.db", now=NOW, utc_offset=OFFSET
    )
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()


def q(conn: sqlite3.Connection, sql: str, *params: Any) -> list[sqlite3.Row]:
    return conn.execute(sql, params).fetchall()


def when(text: str) -> datetime:
    return datetime.strptime(text, DT)


def test_it_is_a_tract_v5_database_with_consistent_rows(demo: sqlite3.Connection) -> None:
    path = q(demo, "PRAGMA database_list")[0]["file"]
    assert inspect_database(path).version == 5
    assert q(demo, "PRAGMA journal_mode")[0][0] == "wal"  # as tract leaves its files
    assert q(demo, "PRAGMA foreign_key_check") == []
    assert q(demo, "PRAGMA integrity_check")[0][0] == "ok"
    config = json.loads(q(demo, "SELECT value FROM _trace_meta WHERE key='policy_config'")[0][0])
    assert len(config["policies"]) >= 4
    # stored forms as tract writes them: enum NAMES, sorted-JSON blobs, JSON null as text
    assert {r[0] for r in q(demo, "SELECT DISTINCT operation FROM commits")} == {"APPEND"}
    assert {r[0] for r in q(demo, "SELECT DISTINCT priority FROM annotations")} <= {
        "PINNED",
        "SKIP",
        "NORMAL",
    }
    for r in q(demo, "SELECT payload_json, byte_size FROM blobs"):
        payload = json.loads(r[0])
        assert json.dumps(payload, sort_keys=True, ensure_ascii=False) == r[0]
        assert len(r[0].encode()) == r[1]
    assert q(demo, "SELECT count(*) FROM commits WHERE metadata_json IS NULL")[0][0] == 0
    for table, col in [("commits", "created_at"), ("policy_log", "created_at")]:
        for (text,) in q(demo, f"SELECT {col} FROM {table}"):
            when(text)  # every time in tract's text form


def test_several_tracts_with_real_commit_chains_and_a_spawned_child(
    demo: sqlite3.Connection,
) -> None:
    tracts = [r[0] for r in q(demo, "SELECT DISTINCT tract_id FROM commits")]
    assert 3 <= len(tracts) <= 5
    assert {"support-agent", "research-agent"} <= set(tracts)
    (spawn,) = q(demo, "SELECT * FROM spawn_pointers")
    assert spawn["child_tract_id"] in tracts and spawn["parent_tract_id"] in tracts
    parent = q(
        demo, "SELECT tract_id FROM commits WHERE commit_hash = ?", spawn["parent_commit_hash"]
    )
    assert parent[0][0] == spawn["parent_tract_id"]
    types = {r[0] for r in q(demo, "SELECT DISTINCT content_type FROM commits")}
    assert types >= {"dialogue", "instruction", "tool_io", "reasoning", "session", "artifact"}
    for tract in tracts:
        head = q(demo, "SELECT * FROM refs WHERE tract_id = ? AND ref_name = 'HEAD'", tract)[0]
        assert head["symbolic_target"] == "refs/heads/main" and head["commit_hash"] is None
        tip = q(
            demo,
            "SELECT commit_hash FROM refs WHERE tract_id=? AND ref_name=?",
            tract,
            "refs/heads/main",
        )[0][0]
        length = 0
        while tip:  # the first-parent chain stays inside the tract
            row = q(demo, "SELECT tract_id, parent_hash FROM commits WHERE commit_hash=?", tip)[0]
            assert row["tract_id"] == tract
            tip, length = row["parent_hash"], length + 1
        assert length >= 6
    # commit tables are UTC: local now is 10:30 at UTC-8, so nothing after 18:30 UTC
    latest = q(demo, "SELECT max(created_at) FROM commits")[0][0]
    assert when(latest) <= NOW - OFFSET


def test_policies_and_pending_proposals_of_every_action_type(demo: sqlite3.Connection) -> None:
    pending = q(demo, "SELECT * FROM policy_proposals WHERE status = 'pending'")
    assert len(pending) >= 10
    assert {p["action_type"] for p in pending} >= {"compress", "annotate", "branch", "archive"}
    assert len({p["policy_name"] for p in q(demo, "SELECT * FROM policy_proposals")}) >= 4
    assert len({p["tract_id"] for p in pending}) >= 3
    decided = {r[0] for r in q(demo, "SELECT status FROM policy_proposals WHERE status!='pending'")}
    assert decided >= {"executed", "rejected"}
    for p in q(demo, "SELECT * FROM policy_proposals"):
        params = json.loads(p["action_params_json"])
        assert when(p["created_at"]) < NOW
        assert (p["resolved_at"] is None) == (p["status"] == "pending")
        if p["action_type"] == "annotate":
            (c,) = q(demo, "SELECT * FROM commits WHERE commit_hash = ?", params["target_hash"])
            assert c["tract_id"] == p["tract_id"]
            if p["policy_name"] == "flag-large-tool-output":
                assert c["content_type"] == "tool_io" and c["token_count"] > 150
                assert f"{c['token_count']} tokens" in p["reason"]
                # flagged as it was committed: commit time is UTC, proposal time local
                lag = when(p["created_at"]) - (when(c["created_at"]) + OFFSET)
                assert timedelta(0) <= lag < timedelta(minutes=1)
        elif p["action_type"] == "archive":
            ref = f"refs/heads/{params['source']}"
            (tip,) = q(
                demo, "SELECT * FROM refs WHERE tract_id=? AND ref_name=?", p["tract_id"], ref
            )
            last = q(demo, "SELECT created_at FROM commits WHERE commit_hash=?", tip["commit_hash"])
            assert when(last[0][0]) < NOW - OFFSET - timedelta(days=3)  # really stale
            archive = f"refs/heads/{params['archive_name']}"
            assert not q(
                demo, "SELECT 1 FROM refs WHERE tract_id=? AND ref_name=?", p["tract_id"], archive
            )
        elif p["action_type"] == "branch":
            ref = f"refs/heads/{params['name']}"
            assert not q(
                demo, "SELECT 1 FROM refs WHERE tract_id=? AND ref_name=?", p["tract_id"], ref
            )
        elif p["action_type"] == "compress":
            assert params["auto_commit"] is True and params["content"]


def test_some_branches_are_stale_and_one_is_fresh(demo: sqlite3.Connection) -> None:
    ages = {
        r["ref_name"]: NOW - OFFSET - when(r["created_at"])
        for r in q(
            demo,
            "SELECT refs.ref_name, c.created_at FROM refs JOIN commits c USING"
            " (commit_hash) WHERE refs.ref_name NOT IN ('refs/heads/main')"
            " AND refs.ref_name NOT LIKE 'refs/heads/archive/%'",
        )
    }
    assert sum(age > timedelta(days=3) for age in ages.values()) >= 3
    assert any(age < timedelta(days=3) for age in ages.values())


def test_a_pending_reason_carries_markup_and_an_escape(demo: sqlite3.Connection) -> None:
    hits = q(
        demo,
        "SELECT reason FROM policy_proposals WHERE status='pending'"
        " AND reason LIKE '%[bold red]%' AND instr(reason, char(27)) > 0",
    )
    assert len(hits) == 1
    assert "[link=" in hits[0][0]


def test_a_few_hundred_log_rows_over_several_days(demo: sqlite3.Connection) -> None:
    log = q(demo, "SELECT * FROM policy_log ORDER BY id")
    assert 200 <= len(log) <= 600
    times = [when(r["created_at"]) for r in log]
    assert times == sorted(times)  # ids grow with time, as tract writes them
    assert max(times) < NOW and NOW - min(times) > timedelta(days=4)
    assert len({t.date() for t in times}) >= 5
    outcomes = {r["outcome"] for r in log}
    assert outcomes >= {"proposed", "executed", "skipped", "error"}
    assert {r["trigger"] for r in log} >= {"commit", "compile"}
    counts = {o: sum(r["outcome"] == o for r in log) for o in outcomes}
    assert counts["skipped"] > counts["executed"] > counts["error"] > 0
    for r in log:
        assert (r["outcome"] == "error") == bool(r["error_message"])
    assert len({r["policy_name"] for r in log}) >= 6
    proposals = q(demo, "SELECT * FROM policy_proposals")
    proposed = {
        (r["tract_id"], r["policy_name"], r["created_at"])
        for r in log
        if r["outcome"] == "proposed"
    }
    assert {(p["tract_id"], p["policy_name"], p["created_at"]) for p in proposals} == proposed
    for r in log:
        if r["trigger"] == "review":  # the earlier rejections were made by a person
            assert r["reason"].startswith("by ") and r["outcome"] == "rejected"


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            n: sorted(map(tuple, conn.execute(f'SELECT * FROM "{n}"')), key=repr) for n in names
        }
    finally:
        conn.close()


def test_deterministic_for_now_and_seed(tmp_path: Path) -> None:
    a = _dump(build_demo_database(tmp_path / "a.db", now=NOW, utc_offset=OFFSET))
    b = _dump(build_demo_database(tmp_path / "b.db", now=NOW, utc_offset=OFFSET))
    assert a == b
    c = _dump(build_demo_database(tmp_path / "c.db", now=NOW, seed=8, utc_offset=OFFSET))
    assert a != c
    ids = [r[0] for r in a["policy_proposals"]]
    assert len(set(ids)) == len(ids) and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    later = _dump(
        build_demo_database(tmp_path / "d.db", now=NOW + timedelta(days=30), utc_offset=OFFSET)
    )
    assert [r[0] for r in later["policy_proposals"]] == ids  # same ids, times moved along
    assert sorted(os.listdir(tmp_path)) == ["a.db", "b.db", "c.db", "d.db"]  # no leftovers


def test_build_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "demo.db"
    build_demo_database(path, now=NOW, utc_offset=OFFSET)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM policy_proposals")
    build_demo_database(path, now=NOW, utc_offset=OFFSET)
    assert _dump(path)["policy_proposals"]


def test_ensure_builds_keeps_and_repairs(tmp_path: Path) -> None:
    path = tmp_path / "data" / "demo.db"
    assert ensure_demo_database(path, now=NOW) == path and path.exists()
    stamp = path.stat().st_mtime_ns
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE policy_proposals SET status='approved'")  # a reviewer's work
    assert ensure_demo_database(path, now=NOW) == path
    assert _dump(path)["policy_proposals"][0][6] == "approved"  # kept, not rebuilt
    assert path.stat().st_mtime_ns >= stamp
    path.write_bytes(b"not a database at all")
    ensure_demo_database(path, now=NOW)
    assert inspect_database(path).version == 5 and _dump(path)["policy_proposals"]


def test_default_demo_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_demo_path() == tmp_path / "xdg" / "tract-tui" / "demo.db"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for unset in ("", "relative/dir"):  # the spec ignores empty and relative values
        monkeypatch.setenv("XDG_DATA_HOME", unset)
        assert (
            default_demo_path() == tmp_path / "home" / ".local" / "share" / "tract-tui" / "demo.db"
        )
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_demo_path() == tmp_path / "home" / ".local" / "share" / "tract-tui" / "demo.db"


def test_demo_and_review_do_not_import_textual() -> None:
    code = (
        "import sys, tract_tui.demo, tract_tui.review, tract_tui.storage;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')];"
        "sys.exit(', '.join(bad) or None)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- the large benchmark database --------------------------------------------------------


def _largedb() -> ModuleType:
    spec = importlib.util.spec_from_file_location("largedb", ROOT / "benchmarks" / "largedb.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_large_database_small_run(tmp_path: Path) -> None:
    largedb = _largedb()
    phases: list[str] = []
    path = largedb.build_large_database(
        tmp_path / "large.db",
        log_rows=3000,
        pending=400,
        decided=200,
        tracts=6,
        policies=7,
        days=10,
        commits_per_tract=30,
        now=NOW,
        report=lambda name, s: phases.append(name),
    )
    assert inspect_database(path).version == 5 and phases
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        assert q(conn, "SELECT count(*) FROM policy_log")[0][0] == 3000
        status = dict(
            q(conn, "SELECT status = 'pending', count(*) FROM policy_proposals GROUP BY 1")
        )
        assert status == {1: 400, 0: 200}
        assert len({r[0] for r in q(conn, "SELECT DISTINCT tract_id FROM policy_log")}) == 6
        assert len({r[0] for r in q(conn, "SELECT DISTINCT policy_name FROM policy_log")}) == 7
        dangling = q(
            conn,
            """
            SELECT count(*) FROM policy_proposals p WHERE action_type = 'annotate' AND NOT EXISTS (
                SELECT 1 FROM commits c WHERE c.tract_id = p.tract_id
                AND c.commit_hash = json_extract(p.action_params_json, '$.target_hash'))""",
        )
        assert dangling[0][0] == 0
        missing = q(
            conn,
            """
            SELECT count(*) FROM policy_proposals p WHERE action_type = 'archive' AND NOT EXISTS (
                SELECT 1 FROM refs r WHERE r.tract_id = p.tract_id
                AND r.ref_name = 'refs/heads/' || json_extract(p.action_params_json, '$.source')
            )""",
        )
        assert missing[0][0] == 0
        times = [when(r[0]) for r in q(conn, "SELECT created_at FROM policy_log ORDER BY id")]
        assert times == sorted(times) and NOW - timedelta(days=10) <= times[0] and times[-1] <= NOW
        indexes = {
            r[0] for r in q(conn, "SELECT name FROM sqlite_master WHERE name LIKE 'ix_tui_%'")
        }
        assert len(indexes) >= 5
        assert q(conn, "PRAGMA foreign_key_check") == []
    finally:
        conn.close()
