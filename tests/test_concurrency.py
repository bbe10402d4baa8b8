"""Five processes on one database: nothing lost, nothing doubled, nothing locked.

One agent inserts proposals and log rows (a transaction every 4 ms at most); two reviewers
(the API, and the command line) approve and reject the SAME oldest pending
proposals at the same time and now and then expire old ones; two agents
claim and execute what was approved (one attempt in eight fails, so the
proposal goes back to approved with an error row and is retried). The roles
are in ``tests/concurrency_roles.py``.

At the end, from the rows alone: every proposal was decided exactly once
(pending proposals are drained, so "at most once" is "exactly once" here),
every decision, expiry, execution and error has exactly one log row, the
processes' own accounts agree with the rows, and no process saw an exception
or a "database is locked". The throughput reached is printed (run with
``-s`` to see it) and written to ``concurrency-throughput.json`` in the
test's tmp dir.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from tests.concurrency_roles import TRACTS
from tract_tui.models.review import split_trailer
from tract_tui.review.service import ReviewService

ROOT = Path(__file__).parent.parent
ROLES = ("agent", "reviewer-api", "reviewer-cli", "claimer-1", "claimer-2")
#: How long the agent inserts; reviewers and claimers then drain what is left.
INSERT_SECONDS = 8.0
#: The whole run (drain included) must finish within this.
DEADLINE_SECONDS = 75.0


def q(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def wait_for(paths: list[Path], procs: dict[str, subprocess.Popen[bytes]], limit: float) -> None:
    deadline = time.monotonic() + limit
    while not all(p.exists() for p in paths):
        for role, proc in procs.items():
            assert proc.poll() in (None, 0), f"{role} died: exit {proc.returncode}"
        assert time.monotonic() < deadline, f"timed out waiting for {[p.name for p in paths]}"
        time.sleep(0.02)


def test_five_processes_lose_nothing_and_double_nothing(v5_db: Path, tmp_path: Path) -> None:
    ReviewService.open(v5_db).close()  # migrated and indexed before the race
    out = tmp_path / "run"
    out.mkdir()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    started = time.monotonic()
    try:
        for role in ROLES:
            args = [sys.executable, "-m", "tests.concurrency_roles", role, str(v5_db), str(out)]
            if role == "agent":
                args.append(str(INSERT_SECONDS))
            procs[role] = subprocess.Popen(
                args, cwd=ROOT, stdout=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"}
            )
        wait_for([out / f"{r}.ready" for r in ROLES], procs, 30)
        (out / "go").touch()
        race_start = time.monotonic()
        wait_for([out / "agent.json"], procs, INSERT_SECONDS + 20)
        (out / "stop").touch()  # reviewers: drain what is pending, then leave
        wait_for([out / "reviewer-api.json", out / "reviewer-cli.json"], procs, DEADLINE_SECONDS)
        (out / "reviewers-done").touch()  # claimers: drain what is approved, then leave
        wait_for([out / "claimer-1.json", out / "claimer-2.json"], procs, DEADLINE_SECONDS)
        race_seconds = time.monotonic() - race_start
        for role, proc in procs.items():
            assert proc.wait(timeout=30) == 0, f"{role} exit {proc.returncode}"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert time.monotonic() - started < DEADLINE_SECONDS + 30

    results = {r: json.loads((out / f"{r}.json").read_text()) for r in ROLES}
    # --- no process saw an exception or a lock ------------------------------------------
    for role in ROLES:
        assert results[role]["errors"] == [], (role, results[role]["errors"][:3])
        stderr = (out / f"{role}.stderr").read_text()
        assert "locked" not in stderr and "Traceback" not in stderr, (role, stderr[-2000:])

    agent = results["agent"]
    tracts = ",".join(f"'{t}'" for t in TRACTS)
    proposals = dict(
        q(v5_db, f"SELECT policy_name, status FROM policy_proposals WHERE tract_id IN ({tracts})")
    )
    ids = dict(
        q(
            v5_db,
            f"SELECT policy_name, proposal_id FROM policy_proposals WHERE tract_id IN ({tracts})",
        )
    )
    # --- counts add up: everything the agent wrote is there ------------------------------
    assert len(proposals) == agent["proposals"] > 0
    inserted_logs = q(
        v5_db,
        f"SELECT count(*) FROM policy_log WHERE tract_id IN ({tracts}) "
        "AND \"trigger\" IN ('compile', 'commit')",
    )[0][0]
    assert inserted_logs == agent["logs"]

    # --- every proposal reached an end state -------------------------------------------
    statuses = Counter(proposals.values())
    assert set(statuses) <= {"rejected", "expired", "executed"}, statuses

    # --- log rows per proposal (policy_name is unique per proposal) ---------------------
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for policy, outcome, trigger, reason, commit_hash, error in q(
        v5_db,
        'SELECT policy_name, outcome, "trigger", reason, commit_hash, error_message '
        f"FROM policy_log WHERE tract_id IN ({tracts}) AND \"trigger\" IN ('review', 'execute')",
    ):
        pid = ids[policy]
        per[policy][outcome] += 1
        reason, named = split_trailer(reason)
        assert named == pid, (reason, named)  # every row tract-tui writes names its proposal
        if outcome in ("approved", "rejected"):
            assert trigger == "review" and reason.endswith((pid, ": cli")), reason
        elif outcome == "executed":
            assert trigger == "execute" and commit_hash == f"c-{pid}"
        elif outcome == "error":
            assert trigger == "execute" and error == f"ActionFailed: agent failed on {pid}"
        else:
            assert outcome == "expired" and trigger == "review", outcome
    failures: Counter[str] = Counter()
    for role in ("claimer-1", "claimer-2"):
        failures.update(results[role]["failures"])
    for policy, status in proposals.items():
        rows = per[policy]
        decisions = rows["approved"] + rows["rejected"] + rows["expired"]
        assert decisions == 1, (policy, status, rows)  # decided exactly once, logged once
        if status == "executed":
            assert rows["approved"] == 1 and rows["executed"] == 1, (policy, rows)
        else:
            assert rows[status] == 1 and rows["executed"] == 0, (policy, rows)
        assert rows["error"] == failures[ids[policy]], (policy, rows)  # one row per error

    # --- each process's own account agrees with the rows ---------------------------------
    api, cli = results["reviewer-api"], results["reviewer-cli"]
    assert not set(api["decided"]) & set(cli["decided"]), "two reviewers decided one proposal"
    decided = {**api["decided"], **cli["decided"]}
    by_id = {ids[p]: s for p, s in proposals.items()}
    for pid, status in decided.items():
        assert by_id[pid] in ((status,) if status == "rejected" else ("executed",)), pid
    assert len(decided) == statuses["rejected"] + statuses["executed"]
    expired = api["expired"] + cli["expired"]
    assert len(expired) == len(set(expired)) == statuses["expired"]
    assert all(by_id[pid] == "expired" for pid in expired)
    executed = results["claimer-1"]["executed"] + results["claimer-2"]["executed"]
    assert len(executed) == len(set(executed)) == statuses["executed"]
    assert api["conflicts"] + cli["conflicts"] > 0, "the reviewers never raced each other"
    assert all(results[c]["executed"] for c in ("claimer-1", "claimer-2")), "both claimers ran"
    assert q(v5_db, "PRAGMA integrity_check") == [("ok",)]

    # --- throughput -----------------------------------------------------------------------
    figures = {
        "insert_seconds": round(agent["seconds"], 2),
        "proposals_inserted": agent["proposals"],
        "log_rows_inserted": agent["logs"],
        "agent_rows_per_second": round((agent["proposals"] + agent["logs"]) / agent["seconds"]),
        "agent_proposals_per_second": round(agent["proposals"] / agent["seconds"]),
        "agent_transactions_per_second": round(agent["transactions"] / agent["seconds"]),
        "decisions": len(decided) + len(expired),
        "conflicts": api["conflicts"] + cli["conflicts"],
        "executions": len(executed),
        "errors_logged": sum(failures.values()),
        "cli_subprocess_runs": cli["subprocess_runs"],
        "race_seconds": round(race_seconds, 2),
        "statuses": dict(statuses),
    }
    (tmp_path / "concurrency-throughput.json").write_text(json.dumps(figures, indent=2))
    print("\nconcurrency throughput:", json.dumps(figures))
    assert figures["agent_rows_per_second"] >= 500, figures
