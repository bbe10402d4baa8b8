"""Build a large tract database with bulk SQL, for the scale benchmarks (issue 4).

    python benchmarks/largedb.py PATH [--log-rows 1000000] [--pending 100000] ...

Other scripts in this folder import it (``from largedb import build_large_database``;
the script's own folder is on ``sys.path``). The schema comes from the storage
layer (``init_db``), so the file is a real tract v5 database; the rows come from
``INSERT ... SELECT`` over recursive CTEs, with ``synchronous=OFF`` during the
build, so a million log rows take seconds, not minutes. Rows are deterministic
for a given ``now``; ids and times grow together, as tract writes them.

What is in it: ``tracts`` tracts with ``commits_per_tract`` commits each (a first-
parent chain on ``main``, blobs included) and three stale ``experiment/eN``
branches; ``policies`` policies; ``pending`` + ``decided`` proposals whose
``annotate`` targets are real commits of their tract and whose ``archive``
sources are real branches; ``log_rows`` policy_log rows over ``days`` days.
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import json
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from tract_tui.storage.engine import create_trace_engine, init_db
from tract_tui.storage.indexes import TUI_INDEXES

BASE_POLICIES = [
    ("auto-compress", "compress", "compile"),
    ("flag-large-tool-output", "annotate", "commit"),
    ("auto-branch", "branch", "commit"),
    ("auto-rebase", "archive", "compile"),
    ("auto-pin", "annotate", "commit"),
]
REGIONS = ["", "-eu", "-us", "-apac"]
CONTENT_TYPES = ["dialogue", "tool_io", "tool_io", "reasoning", "dialogue", "artifact"]
MASK32 = 4294967296
#: Multiplicative hashes of the row number i (h1 is a bijection mod 2**32, so ids built on
#: it are unique), as CTEs ``x0`` -> ``x``; every product stays inside SQLite's int64.
HASHES = (
    "x0 AS (SELECT n.i, ((n.i + 1) * 2654435761) % 4294967296 AS h1 FROM n), "
    "x AS (SELECT i, h1, (h1 * 40503 + 12345) % 4294967296 AS h2 FROM x0)"
)
EPOCH = datetime(1970, 1, 1)
STAMP_PY = "%Y-%m-%d %H:%M:%S.%f"
#: Seconds -> the text tract stores ('YYYY-MM-DD HH:MM:SS.ffffff'), naive local time.
STAMP = "strftime('%Y-%m-%d %H:%M:%S', {s}, 'unixepoch') || printf('.%06d', {us})"


def _epoch(value: datetime) -> int:
    """Naive local time as if UTC: SQLite's 'unixepoch' gives the same wall time back."""
    return calendar.timegm(value.timetuple())


def _remove(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)


def _setup(conn: sqlite3.Connection, tracts: int, policies: int, cpt: int, start: int) -> None:
    """Tracts, policies, commits, refs, plus temp lookup tables the bulk inserts join."""
    conn.execute("CREATE TEMP TABLE _t (idx INTEGER PRIMARY KEY, tract_id TEXT)")
    conn.execute(
        "CREATE TEMP TABLE _p (idx INTEGER PRIMARY KEY, name TEXT, action TEXT, trig TEXT)"
    )
    conn.execute("CREATE TEMP TABLE _c (idx INTEGER PRIMARY KEY, commit_hash TEXT)")
    tract_ids = [
        f"agent-{t:03d}" if t % 2 == 0 else hashlib.md5(f"tract{t}".encode()).hexdigest()
        for t in range(tracts)
    ]
    conn.executemany("INSERT INTO _t VALUES (?, ?)", enumerate(tract_ids))
    rows = []
    for p in range(policies):
        name, action, trig = BASE_POLICIES[p % len(BASE_POLICIES)]
        region = REGIONS[(p // len(BASE_POLICIES)) % len(REGIONS)]
        rows.append((p, f"{name}{region}" if p < 20 else f"{name}-{p}", action, trig))
    conn.executemany("INSERT INTO _p VALUES (?, ?, ?, ?)", rows)
    blobs: list[tuple[str, str, int, int, str]] = []
    commits: list[tuple[object, ...]] = []
    refs: list[tuple[str, str, str | None, str | None]] = []
    lookup: list[tuple[int, str]] = []
    for t, tract in enumerate(tract_ids):
        parent = None
        for k in range(cpt):
            ctype = CONTENT_TYPES[(t + k) % len(CONTENT_TYPES)]
            text = f"{ctype} {k} of {tract}: " + "lorem ipsum dolor sit amet " * (1 + k % 9)
            payload = json.dumps({"content_type": ctype, "text": text}, sort_keys=True)
            blob = hashlib.sha256(payload.encode()).hexdigest()
            h = hashlib.sha256(f"{tract}:{k}".encode()).hexdigest()
            at = (EPOCH + timedelta(seconds=start + t * 97 + k * 600)).strftime(STAMP_PY)
            tokens = len(text) // 4
            blobs.append((blob, payload, len(payload), tokens, at))
            commits.append(
                (
                    h,
                    tract,
                    parent,
                    blob,
                    ctype,
                    "APPEND",
                    None,
                    f"step {k}",
                    tokens,
                    "null",
                    "null",
                    at,
                )
            )
            lookup.append((t * cpt + k, h))
            parent = h
        refs.append((tract, "HEAD", None, "refs/heads/main"))
        refs.append((tract, "refs/heads/main", parent, None))
        for e in range(3):  # stale experiments, forked early
            refs.append((tract, f"refs/heads/experiment/e{e}", lookup[t * cpt + 5 + e][1], None))
    conn.executemany("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?, ?)", blobs)
    conn.executemany(f"INSERT INTO commits VALUES ({', '.join('?' * 12)})", commits)
    conn.executemany("INSERT INTO refs VALUES (?, ?, ?, ?)", refs)
    conn.executemany("INSERT INTO _c VALUES (?, ?)", lookup)


def _insert_log(conn: sqlite3.Connection, rows: int, start: int, span: int, cpt: int) -> None:
    """policy_log: ids in time order, a realistic mix of outcomes, triggers and reasons."""
    created = STAMP.format(s=f"{start} + (i * {span}) / {rows}", us="h2 % 1000000")
    conn.execute(
        f"""
        INSERT INTO policy_log (id, tract_id, policy_name, "trigger", action_type, reason,
                                outcome, commit_hash, error_message, created_at)
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {rows}),
        {HASHES},
        xb AS (SELECT x.*, (x.h2 / 65536) % 100 AS b FROM x),
        y AS (
            SELECT x.*, _t.idx AS t, _t.tract_id, _p.name, _p.action, _p.trig,
                   CASE WHEN b < 60 THEN 'skipped' WHEN b < 75 THEN 'executed'
                        WHEN b < 87 THEN 'proposed' WHEN b < 95 THEN 'error'
                        WHEN b < 98 THEN 'approved' ELSE 'rejected' END AS outcome
            FROM xb AS x JOIN _t ON _t.idx = (x.h1 / 65536) % (SELECT count(*) FROM _t)
                         JOIN _p ON _p.idx = (x.h2 / 256) % (SELECT count(*) FROM _p)
        )
        SELECT i + 1, tract_id, name,
               CASE WHEN outcome IN ('approved', 'rejected') THEN 'review' ELSE trig END,
               action,
               CASE WHEN outcome IN ('approved', 'rejected')
                        THEN 'by reviewer' || (h2 % 7) || ': ' ||
                             CASE WHEN outcome = 'approved' THEN 'looks right'
                                  ELSE 'not now, the thread is still active' END
                    WHEN action = 'compress' THEN 'Token usage ' || (300 + h1 % 300) || '/600 ' ||
                         CASE WHEN outcome = 'skipped' THEN 'below' ELSE 'exceeds' END ||
                         ' 50% threshold'
                    WHEN action = 'annotate' THEN 'Tool output ' || printf('%08x', h2) || ' is ' ||
                         (20 + h1 % 900) || ' tokens (> 150); hide it from context?'
                    WHEN action = 'branch' THEN 'Detected ' || (h1 % 5) ||
                         ' content type transitions in last 5 commits (threshold: 3)'
                    ELSE 'Branch ''experiment/e' || (h1 % 3) || ''' has ' || (3 + h2 % 40) ||
                         ' commits and has been inactive for ' || (3 + h1 % 20) ||
                         ' days (threshold: 3 days)' END,
               outcome,
               CASE WHEN outcome = 'executed'
                    THEN (SELECT commit_hash FROM _c WHERE _c.idx = t * {cpt} + h2 % {cpt}) END,
               CASE WHEN outcome = 'error' THEN
                    CASE h2 % 4 WHEN 0 THEN 'no price configured for model ''o3-mini'''
                                WHEN 1 THEN 'database is locked'
                                WHEN 2 THEN 'summary model timed out after 30 s'
                                ELSE 'Branch already exists: archive/main/' ||
                                     strftime('%Y%m%d', {start} + (i * {span}) / {rows},
                                              'unixepoch') END END,
               {created}
        FROM y
        """
    )


def _insert_proposals(
    conn: sqlite3.Connection,
    first: int,
    count: int,
    start: int,
    span: int,
    cpt: int,
    *,
    pending: bool,
) -> None:
    """Proposals ``first .. first+count`` (pending, or decided a while after creation)."""
    created = STAMP.format(s=f"{start} + ((i - {first}) * {span}) / {count}", us="h2 % 1000000")
    resolved = STAMP.format(
        s=f"{start} + ((i - {first}) * {span}) / {count} + 60 + h1 % 86400", us="h1 % 999983"
    )
    status = (
        "'pending'"
        if pending
        else "CASE h2 % 10 WHEN 0 THEN 'approved' WHEN 1 THEN 'expired' "
        "WHEN 2 THEN 'rejected' WHEN 3 THEN 'rejected' ELSE 'executed' END"
    )
    conn.execute(
        f"""
        INSERT INTO policy_proposals (proposal_id, tract_id, policy_name, action_type,
                                      action_params_json, reason, status, created_at, resolved_at)
        WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n
                                WHERE i + 1 < {first + count}),
        {HASHES},
        y AS (
            SELECT x.*, _t.idx AS t, _t.tract_id, _p.name, _p.action, {created} AS created
            FROM x JOIN _t ON _t.idx = (x.h1 / 65536) % (SELECT count(*) FROM _t)
                   JOIN _p ON _p.idx = (x.h2 / 256) % (SELECT count(*) FROM _p)
        ),
        z AS (SELECT y.*, _c.commit_hash FROM y JOIN _c ON _c.idx = y.t * {cpt} + y.h2 % {cpt})
        SELECT printf('%08x%08x%08x%08x', h1, h2, ((i + 1) * 69069) % {MASK32},
                      (h1 * 3 + h2) % {MASK32}),
               tract_id, name, action,
               CASE action
                 WHEN 'annotate' THEN '{{"target_hash": "' || commit_hash ||
                      '", "priority": "skip", "reason": "bulky tool output hidden by policy"}}'
                 WHEN 'branch' THEN '{{"name": "tangent/main/' || replace(replace(replace(
                      substr(created, 1, 19), '-', ''), ':', ''), ' ', '-') ||
                      '", "switch": false}}'
                 WHEN 'archive' THEN '{{"archive_name": "archive/experiment/e' || (h1 % 3) ||
                      '", "source": "experiment/e' || (h1 % 3) || '"}}'
                 ELSE '{{"auto_commit": true, "content": "Summary so far: ' || (h2 % 97) ||
                      ' turns of triage condensed."}}' END,
               CASE action
                 WHEN 'annotate' THEN 'Tool output ' || substr(commit_hash, 1, 8) || ' is ' ||
                      (151 + h1 % 900) || ' tokens (> 150); hide it from context?'
                 WHEN 'branch' THEN 'Detected 3 content type transitions in last ' ||
                      (3 + h1 % 3) || ' commits (threshold: 3)'
                 WHEN 'archive' THEN 'Branch ''experiment/e' || (h1 % 3) ||
                      ''' has 3 commits and has been inactive for ' || (3 + h2 % 20) ||
                      ' days (threshold: 3 days)'
                 ELSE 'Token usage ' || (300 + h1 % 300) || '/600 exceeds 50% threshold' END,
               {status}, created, {"NULL" if pending else resolved}
        FROM z
        """
    )


def build_large_database(
    path: str | Path,
    *,
    log_rows: int = 1_000_000,
    pending: int = 100_000,
    decided: int = 50_000,
    tracts: int = 50,
    policies: int = 20,
    days: int = 90,
    commits_per_tract: int = 200,
    now: datetime | None = None,
    tui_indexes: bool = True,
    report: Callable[[str, float], None] | None = None,
) -> Path:
    """Build (replacing) a large tract v5 database at ``path`` and return its path.

    ``tui_indexes`` also creates tract-tui's ``ix_tui_*`` indexes, so that a
    benchmark measures the console and not the one-time index build of a first
    open. ``report(phase, seconds)`` is called after each phase.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove(target)
    now = (now or datetime.now()).replace(microsecond=0)
    start, span = _epoch(now - timedelta(days=days)), days * 86400
    cpt = max(commits_per_tract, 10)
    tick = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal tick
        if report is not None:
            report(name, time.perf_counter() - tick)
        tick = time.perf_counter()

    engine = create_trace_engine(target)
    try:
        init_db(engine, tui_indexes=False)  # the real schema, from the storage layer
    finally:
        engine.dispose()
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("BEGIN")
        _setup(conn, tracts, policies, cpt, start)
        phase("tracts, commits, refs")
        _insert_log(conn, log_rows, start, span, cpt)
        phase(f"policy_log ({log_rows:,} rows)")
        _insert_proposals(conn, 0, decided, start, span, cpt, pending=False)
        _insert_proposals(conn, decided, pending, start, span, cpt, pending=True)
        phase(f"policy_proposals ({pending:,} pending, {decided:,} decided)")
        conn.execute("COMMIT")
        if tui_indexes:
            conn.execute("BEGIN")
            for ddl in TUI_INDEXES:
                conn.execute(ddl)
            conn.execute("COMMIT")
            phase("ix_tui_* indexes")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        phase("checkpoint")
    finally:
        conn.close()
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--log-rows", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--decided", type=int, default=50_000)
    parser.add_argument("--tracts", type=int, default=50)
    parser.add_argument("--policies", type=int, default=20)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--no-tui-indexes", action="store_true")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    build_large_database(
        args.path,
        log_rows=args.log_rows,
        pending=args.pending,
        decided=args.decided,
        tracts=args.tracts,
        policies=args.policies,
        days=args.days,
        tui_indexes=not args.no_tui_indexes,
        report=lambda name, s: print(f"  {name:<52} {s:7.2f} s"),
    )
    size = args.path.stat().st_size / 1e6
    print(f"built {args.path} ({size:.0f} MB) in {time.perf_counter() - began:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
