"""The processes of tests/test_concurrency.py: ``python -m tests.concurrency_roles ROLE DB DIR``.

Each role runs until told to stop (files in DIR), then writes DIR/ROLE.json
with what it did and every exception it saw (none is expected). Roles:

- ``agent``: inserts proposals and log rows, a transaction every few milliseconds, through a
  raw ``sqlite3`` connection with a busy timeout, as tract's own engine does
  (deferred transactions whose first statement is an INSERT).
- ``reviewer-api``: approves / rejects the oldest pending proposals through
  ``tract_tui.api`` and now and then expires old ones.
- ``reviewer-cli``: the same through the command line (``tract_tui.cli.main``
  in this process, and every so often a real ``python -m tract_tui``).
- ``claimer-1`` / ``claimer-2``: execute approved proposals through
  ``ReviewQueue.claim_approved``; one attempt in eight fails on purpose.

Every proposal gets its own ``policy_name`` (``pol-<seq>``): the log rows a
decision, expiry, execution or error writes copy it, which lets the test
match each log row to its proposal exactly.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

TRACTS = ("race-a", "race-b")
TRACT_FILTER = " ".join(f"tract:{t}" for t in TRACTS)
EXPIRE_AGE = "4s"
#: The agent's pace: a transaction (three proposals, four log rows) every 4 ms at most.
AGENT_PERIOD = 0.004


def _stop(outdir: Path, name: str = "stop") -> bool:
    return (outdir / name).exists()


def _write(outdir: Path, role: str, result: dict[str, Any]) -> None:
    tmp = outdir / f"{role}.json.tmp"
    tmp.write_text(json.dumps(result))
    tmp.replace(outdir / f"{role}.json")


def _ts() -> str:
    return datetime.now().isoformat(sep=" ", timespec="microseconds")


# --- the agent writing proposals ------------------------------------------------------------


def agent(db: str, outdir: Path, seconds: float) -> dict[str, Any]:
    rng = random.Random(1)
    conn = sqlite3.connect(db, timeout=5.0)  # deferred transactions + busy handler, as tract
    conn.execute("PRAGMA synchronous = NORMAL")
    proposals = logs = transactions = 0
    errors: list[str] = []
    start = time.monotonic()
    deadline = start + seconds
    actions = ("annotate", "branch", "archive", "compress", "custom-thing")
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        try:
            with conn:  # BEGIN (deferred) ... COMMIT
                for _ in range(3):
                    seq = proposals
                    tract = TRACTS[seq % 2]
                    policy = f"pol-{seq}"
                    action = actions[seq % len(actions)]
                    now = _ts()
                    conn.execute(
                        "INSERT INTO policy_proposals (proposal_id, tract_id, policy_name, "
                        "action_type, action_params_json, reason, status, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                        (
                            f"race{seq:07d}{rng.getrandbits(32):08x}",
                            tract,
                            policy,
                            action,
                            json.dumps({"n": seq, "target_hash": "f" * 64}),
                            f"proposal {seq}",
                            now,
                        ),
                    )
                    conn.execute(
                        'INSERT INTO policy_log (tract_id, policy_name, "trigger", '
                        "action_type, reason, outcome, created_at) "
                        "VALUES (?, ?, 'compile', ?, ?, 'proposed', ?)",
                        (tract, policy, action, f"evaluated {seq}", now),
                    )
                    proposals += 1
                    logs += 1
                # an evaluation that proposed nothing
                conn.execute(
                    'INSERT INTO policy_log (tract_id, policy_name, "trigger", action_type, '
                    "reason, outcome, created_at) VALUES (?, 'quiet', 'commit', NULL, "
                    "'nothing to do', 'skipped', ?)",
                    (TRACTS[transactions % 2], _ts()),
                )
                logs += 1
            transactions += 1
            # At most one transaction per AGENT_PERIOD: unpaced, a fast machine inserted
            # 27,000 proposals a second, more than the reviewers could drain before the
            # test's deadline (a slow one, or a loaded one, a tenth of that).
            time.sleep(max(0.0, t0 + AGENT_PERIOD - time.monotonic()))
        except Exception:  # counted as a failure by the test: nothing may surface
            errors.append(
                f"at {t0 - start:.2f}s after {time.monotonic() - t0:.2f}s: "
                + traceback.format_exc()
            )
            # the transaction rolled back: forget what it counted
            proposals = conn.execute(
                "SELECT count(*) FROM policy_proposals WHERE tract_id IN (?, ?)", TRACTS
            ).fetchone()[0]
            logs = conn.execute(
                "SELECT count(*) FROM policy_log WHERE tract_id IN (?, ?) AND "
                "\"trigger\" IN ('compile', 'commit')",
                TRACTS,
            ).fetchone()[0]
    elapsed = time.monotonic() - start
    conn.close()
    return {
        "proposals": proposals,
        "logs": logs,
        "transactions": transactions,
        "seconds": elapsed,
        "errors": errors,
    }


# --- reviewers --------------------------------------------------------------------------------


def reviewer_api(db: str, outdir: Path) -> dict[str, Any]:
    from tract_tui.api import open_queue
    from tract_tui.exceptions import ProposalConflictError
    from tract_tui.review.filters import parse_filter

    rng = random.Random(2)
    decided: dict[str, str] = {}
    expired: list[str] = []
    conflicts = 0
    errors: list[str] = []
    flt = parse_filter(TRACT_FILTER, "proposals")
    rounds = 0
    with open_queue(db, reviewer="api-reviewer") as queue:
        while True:
            try:
                page = queue.service.list_proposals(flt, limit=25)
                if not page and _stop(outdir):
                    break
                for p in page:
                    time.sleep(0.002)  # a fast script, not a spin loop on the write lock
                    try:
                        if rng.random() < 0.7:
                            queue.approve(p.proposal_id, note=p.proposal_id)
                            decided[p.proposal_id] = "approved"
                        else:
                            queue.reject(p.proposal_id, reason=p.proposal_id)
                            decided[p.proposal_id] = "rejected"
                    except ProposalConflictError:
                        conflicts += 1
                rounds += 1
                if rounds % 20 == 0:
                    expired += [x.proposal_id for x in queue.expire(EXPIRE_AGE, filter=flt)]
                if not page:
                    time.sleep(0.01)
            except Exception:
                errors.append(traceback.format_exc())
                time.sleep(0.05)
    return {"decided": decided, "expired": expired, "conflicts": conflicts, "errors": errors}


def _cli(args: list[str]) -> tuple[int, str, str]:
    """``tract_tui.cli.main`` in this process, stdout and stderr captured."""
    from tract_tui.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def _cli_subprocess(args: list[str]) -> tuple[int, str, str]:
    r = subprocess.run(
        [sys.executable, "-m", "tract_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    return r.returncode, r.stdout, r.stderr


def reviewer_cli(db: str, outdir: Path) -> dict[str, Any]:
    rng = random.Random(3)
    decided: dict[str, str] = {}
    expired: list[str] = []
    conflicts = 0
    errors: list[str] = []
    rounds = subprocess_runs = 0

    def run(args: list[str], ok: tuple[int, ...] = (0,)) -> str | None:
        nonlocal subprocess_runs
        use_subprocess = rounds % 25 == 7
        code, out, err = (_cli_subprocess if use_subprocess else _cli)(args)
        subprocess_runs += use_subprocess
        if code not in ok or "locked" in err or "Traceback" in err:
            errors.append(f"{args[:2]} exit {code}: {err.strip()}")
            return None
        return out

    while True:
        try:
            listing = run(["list", db, "--json", "--limit", "25", "--filter", TRACT_FILTER])
            page = [p["proposal_id"] for p in json.loads(listing)] if listing else []
            if not page and _stop(outdir):
                break
            if page:
                rng.shuffle(page)
                half = len(page) // 2 + rng.randrange(2)
                for verb, ids in (("approve", page[:half]), ("reject", page[half:])):
                    if not ids:
                        continue
                    flag = "--note" if verb == "approve" else "--reason"
                    report = run([verb, db, *ids, flag, "cli", "--json"], ok=(0, 1))
                    for r in json.loads(report) if report else []:
                        if r["decided"]:
                            decided[r["proposal_id"]] = r["status"]
                        else:
                            conflicts += 1
            rounds += 1
            if rounds % 10 == 0:
                report = run(
                    ["expire", db, "--older-than", EXPIRE_AGE, "--filter", TRACT_FILTER, "--json"]
                )
                if report:
                    expired += json.loads(report)["proposal_ids"]
            if not page:
                time.sleep(0.01)
        except Exception:
            errors.append(traceback.format_exc())
            time.sleep(0.05)
    return {
        "decided": decided,
        "expired": expired,
        "conflicts": conflicts,
        "subprocess_runs": subprocess_runs,
        "errors": errors,
    }


# --- agents executing approved proposals -------------------------------------------------


class ActionFailed(Exception):
    pass


def claimer(db: str, outdir: Path, seed: int) -> dict[str, Any]:
    from tract_tui.api import open_queue

    rng = random.Random(seed)
    executed: list[str] = []
    failures: dict[str, int] = {}
    errors: list[str] = []
    with open_queue(db, reviewer=f"claimer-{seed}") as queue:
        while True:
            try:
                got = 0
                for tract in TRACTS:
                    for claim in queue.claim_approved(tract):
                        got += 1
                        pid = claim.proposal_id
                        try:
                            with claim:
                                time.sleep(0.001)  # the action itself, with the agent's tract
                                if rng.random() < 0.125:
                                    raise ActionFailed(f"agent failed on {pid}")
                                claim.commit_hash = f"c-{pid}"
                        except ActionFailed:
                            failures[pid] = failures.get(pid, 0) + 1
                            continue
                        executed.append(pid)
                if not got:
                    if _stop(outdir, "reviewers-done"):
                        with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
                            (left,) = conn.execute(
                                "SELECT count(*) FROM policy_proposals WHERE tract_id IN (?, ?) "
                                "AND status IN ('approved', 'executing', 'pending')",
                                TRACTS,
                            ).fetchone()
                        if left == 0:
                            break
                    time.sleep(0.01)
            except Exception:
                errors.append(traceback.format_exc())
                time.sleep(0.05)
    return {"executed": executed, "failures": failures, "errors": errors}


def main(argv: list[str]) -> int:
    role, db, out = argv[0], argv[1], Path(argv[2])
    stderr = out / f"{role}.stderr"
    sys.stderr = open(stderr, "w")  # noqa: SIM115 - kept for the life of the process
    import tract_tui.api
    import tract_tui.cli  # noqa: F401 - imported before "ready": the race starts warm

    (out / f"{role}.ready").touch()
    while not _stop(out, "go"):
        time.sleep(0.005)
    if role == "agent":
        result = agent(db, out, float(argv[3]))
    elif role == "reviewer-api":
        result = reviewer_api(db, out)
    elif role == "reviewer-cli":
        result = reviewer_cli(db, out)
    else:
        result = claimer(db, out, int(role.rsplit("-", 1)[1]))
    _write(out, role, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
