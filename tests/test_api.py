"""The agent-side API: the queue, claims (exactly once across processes), waiting."""

from __future__ import annotations

import gc
import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import untrailed_rows
from tract_tui.api import Claim, open_queue
from tract_tui.exceptions import (
    AmbiguousProposalIdError,
    DecisionTimeoutError,
    FilterSyntaxError,
    ProposalConflictError,
    ProposalNotFoundError,
    ReadOnlyError,
)
from tract_tui.models.policy import PolicyAction
from tract_tui.review.filters import parse_filter

ROOT = Path(__file__).parent.parent
PENDING_SUPPORT = ["ab18575886fb40119208322d05c0d6a2", "c923d08e9b4e4b0e9e284f9dbdb0db3d"]


def q(path: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(sql, params).fetchall()
    conn.close()
    return untrailed_rows(rows)


def status(path: Path, pid: str) -> str:
    return str(q(path, "SELECT status FROM policy_proposals WHERE proposal_id=?", (pid,))[0][0])


def add_proposals(path: Path, n: int, *, tract: str = "bulk", status: str = "pending") -> list[str]:
    """n proposals created one millisecond apart (ids in creation order)."""
    base = datetime(2026, 1, 1)
    rows = [
        (
            f"bulk{i:06d}",
            tract,
            "bulk-policy",
            "annotate",
            json.dumps({"target_hash": f"h{i}", "priority": "skip"}),
            f"bulk {i}",
            status,
            (base + timedelta(milliseconds=i)).isoformat(sep=" ", timespec="microseconds"),
        )
        for i in range(n)
    ]
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO policy_proposals (proposal_id, tract_id, policy_name, action_type, "
            "action_params_json, reason, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.close()
    return [r[0] for r in rows]


def test_no_textual_behind_the_api_or_the_cli() -> None:
    code = (
        "import sys, tract_tui.api, tract_tui.cli, tract_tui.text; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'tract_tui.app')]; "
        "sys.exit(repr(bad) if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_pending_get_and_filters(v5_db: Path) -> None:
    with open_queue(v5_db) as queue:
        pending = queue.pending()
        assert len(pending) == 10
        assert [p.created_at_raw for p in pending] == sorted(p.created_at_raw for p in pending)
        mine = queue.pending("tract:support-agent -action:compress")
        assert [p.proposal_id for p in mine] == PENDING_SUPPORT
        assert queue.pending(parse_filter("tract:support-agent -action:compress")) == mine
        assert {p.status for p in queue.pending("status:rejected status:executed")} == {
            "rejected",
            "executed",
        }
        with pytest.raises(FilterSyntaxError):
            queue.pending("outcome:error")  # a log key: not for proposals
        p = queue.get(PENDING_SUPPORT[0])
        assert p.action_type == "annotate" and p.params["priority"] == "skip"
        assert queue.detail(PENDING_SUPPORT[0]).impact.title.startswith("annotate")
        with pytest.raises(ProposalNotFoundError):
            queue.get("ab18")  # get wants the full id ...
        assert queue.resolve("ab18") == PENDING_SUPPORT[0]  # ... resolve takes a prefix
        with pytest.raises(AmbiguousProposalIdError) as info:
            queue.resolve("0")
        assert len(info.value.candidates) == 2
        assert [e.id for e in queue.log(limit=3)] == [34, 33, 32]
        assert {e.outcome for e in queue.log("outcome:error")} == {"error"}


def test_pending_pages_through_large_queues(v5_db: Path) -> None:
    bulk = add_proposals(v5_db, 1234)
    with open_queue(v5_db) as queue:
        got = [p.proposal_id for p in queue.pending("tract:bulk")]
        assert got == bulk  # every one, oldest first, none twice (pages of 500)
        assert sum(1 for _ in queue.iter_pending()) == 1244


def test_decisions_and_conflicts(v5_db: Path) -> None:
    a, b = PENDING_SUPPORT
    with open_queue(v5_db, reviewer="ada") as queue:
        d = queue.approve(a, note="fine")
        assert (d.status, d.previous_status, d.tract_id) == ("approved", "pending", "support-agent")
        with pytest.raises(ProposalConflictError) as info:
            queue.reject(a, reason="too late")
        assert info.value.current_status == "approved"
        queue.reject(b, reason="no")
        with pytest.raises(ProposalConflictError) as info:
            queue.approve(b)
        assert info.value.current_status == "rejected"
        with pytest.raises(ProposalNotFoundError):
            queue.approve("nope")
    reasons = q(v5_db, "SELECT outcome, reason FROM policy_log WHERE trigger='review' ORDER BY id")
    assert reasons == [("approved", "by ada: fine"), ("rejected", "by ada: no")]


def test_read_only_queue_refuses_decisions(v5_db: Path) -> None:
    with open_queue(v5_db):
        pass  # migrate/index once, writable
    with open_queue(v5_db, read_only=True) as queue:
        assert queue.read_only and len(queue.pending()) == 10
        with pytest.raises(ReadOnlyError):
            queue.approve(PENDING_SUPPORT[0])


def test_expire_takes_an_age_string_or_timedelta(v5_db: Path) -> None:
    now = datetime.now()
    with sqlite3.connect(v5_db) as conn:
        conn.execute(
            "INSERT INTO policy_proposals (proposal_id, tract_id, policy_name, action_type, "
            "action_params_json, reason, status, created_at) VALUES "
            "('fresh', 't', 'p', 'annotate', '{}', 'r', 'pending', ?)",
            (now.isoformat(sep=" "),),
        )
    conn.close()
    with open_queue(v5_db) as queue:
        assert len(queue.expire("1h", dry_run=True)) == 10
        assert len(queue.expire(timedelta(hours=1), filter="tract:support-agent")) == 3
        assert len(queue.expire("1h")) == 7
        assert [p.proposal_id for p in queue.pending()] == ["fresh"]
        with pytest.raises(ValueError):
            queue.expire("soon")
    assert q(v5_db, "SELECT count(*) FROM policy_log WHERE outcome='expired'") == [(10,)]


# --- claims ---------------------------------------------------------------------------


def approve_all_of_support(path: Path) -> None:
    with open_queue(path) as queue:
        for pid in [*PENDING_SUPPORT, "a51b997252074a91b16d1d1afb9e096d"]:
            queue.approve(pid)


def test_claim_unpacks_runs_and_marks_executed(v5_db: Path) -> None:
    approve_all_of_support(v5_db)
    seen = []
    with open_queue(v5_db) as queue:
        for claim in queue.claim_approved("support-agent"):
            pid, action = claim
            assert isinstance(action, PolicyAction) and status(v5_db, pid) == "executing"
            with claim:
                claim.commit_hash = f"commit-of-{pid[:4]}"
            assert claim.state == "executed"
            seen.append((pid, action.action_type))
    assert [t for _, t in seen] == ["annotate", "branch", "compress"]  # oldest first
    rows = q(
        v5_db,
        "SELECT trigger, outcome, commit_hash, action_type FROM policy_log "
        "WHERE trigger='execute' ORDER BY id",
    )
    assert rows == [
        ("execute", "executed", f"commit-of-{pid[:4]}", action_type) for pid, action_type in seen
    ]
    assert all(status(v5_db, pid) == "executed" for pid, _ in seen)


def test_a_failing_action_leaves_it_approved_with_an_error_row(v5_db: Path) -> None:
    approve_all_of_support(v5_db)
    handed: list[str] = []
    with open_queue(v5_db) as queue:
        for claim in queue.claim_approved("support-agent"):
            handed.append(claim.proposal_id)
            try:
                with claim:
                    if claim.action.action_type == "branch":
                        raise RuntimeError("branch name taken")
            except RuntimeError:
                pass
        assert len(handed) == len(set(handed)) == 3  # the failed one is not handed out again
        failed = PENDING_SUPPORT[1]
        assert status(v5_db, failed) == "approved"
        error = q(
            v5_db,
            "SELECT outcome, error_message, tract_id FROM policy_log WHERE trigger='execute' "
            "AND outcome='error'",
        )
        assert error == [("error", "RuntimeError: branch name taken", "support-agent")]
        again = [c.proposal_id for c in queue.claim_approved("support-agent")]
        assert again == [failed]  # a new iteration retries it (and releases it, unresolved)
    assert status(v5_db, failed) == "approved"


def test_exception_propagates_out_of_the_with_block(v5_db: Path) -> None:
    approve_all_of_support(v5_db)
    with open_queue(v5_db) as queue, pytest.raises(KeyError):
        for claim in queue.claim_approved("support-agent"):
            with claim:
                raise KeyError("missing")
    assert q(v5_db, "SELECT error_message FROM policy_log WHERE outcome='error' AND id > 34") == [
        ("KeyError: 'missing'",)
    ]


def test_handed_out_claims_are_held_until_resolved(v5_db: Path) -> None:
    """Advancing, closing or dropping the iterator releases nothing (it used to: a second
    agent then got a claim the first still held). Only an explicit release of a claim
    never entered, or closing the queue, gives one back."""
    approve_all_of_support(v5_db)
    log_rows = q(v5_db, "SELECT count(*) FROM policy_log")
    with open_queue(v5_db) as queue:
        claims = queue.claim_approved("support-agent")
        first = next(claims)
        second = next(claims)  # advancing keeps the first
        assert status(v5_db, first.proposal_id) == "executing" and first.state == "claimed"
        claims.close()
        assert status(v5_db, second.proposal_id) == "executing"
        dropped = next(queue.claim_approved("support-agent"))  # the iterator is dropped ...
        gc.collect()
        assert status(v5_db, dropped.proposal_id) == "executing"  # ... the claim is kept
        with dropped:
            dropped.commit_hash = "c1"
        assert status(v5_db, dropped.proposal_id) == "executed"
        first.release()  # never entered: it may go back
        assert first.state == "released" and status(v5_db, first.proposal_id) == "approved"
        with pytest.raises(ProposalConflictError):
            first.mark_executed()  # too late: it was given back
        assert isinstance(second, Claim)
    assert status(v5_db, second.proposal_id) == "approved"  # closing the queue releases it
    assert q(v5_db, "SELECT count(*) FROM policy_log") == [(log_rows[0][0] + 1,)]  # the executed


def test_explicit_mark_failed_and_other_tracts_untouched(v5_db: Path) -> None:
    approve_all_of_support(v5_db)
    other = add_proposals(v5_db, 2, tract="other", status="approved")
    with open_queue(v5_db) as queue:
        claims = queue.claim_approved("support-agent")
        claim = next(claims)
        with claim:
            claim.mark_failed("tool unavailable")
        assert claim.state == "failed"
        assert [c.tract_id for c in claims] == ["support-agent", "support-agent"]
    assert [status(v5_db, o) for o in other] == ["approved", "approved"]
    assert q(v5_db, "SELECT error_message FROM policy_log WHERE outcome='error' AND id > 34") == [
        ("tool unavailable",)
    ]


CLAIMER = textwrap.dedent(
    """
    import json, os, sys, time
    from tract_tui.api import open_queue
    path, go = sys.argv[1], sys.argv[2]
    got = []
    with open_queue(path) as queue:
        while not os.path.exists(go):
            time.sleep(0.005)
        for claim in queue.claim_approved("bulk"):
            with claim:
                got.append(claim.proposal_id)
                time.sleep(0.001)
                claim.commit_hash = "c-" + claim.proposal_id
    print(json.dumps(got))
    """
)


def test_two_processes_claim_each_proposal_exactly_once(v5_db: Path, tmp_path: Path) -> None:
    with open_queue(v5_db):
        pass  # migrate and index before the race
    bulk = add_proposals(v5_db, 300, status="approved")
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(v5_db), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    time.sleep(0.8)  # both importing / opened
    go.touch()
    results = [p.communicate(timeout=60) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert err == ""
    claimed = [json.loads(out) for out, _ in results]
    union = claimed[0] + claimed[1]
    assert len(union) == len(set(union)) == 300
    assert set(union) == set(bulk)
    assert all(claimed), "both processes got work (they really ran at the same time)"
    rows = q(
        v5_db,
        "SELECT count(*), count(DISTINCT commit_hash) FROM policy_log "
        "WHERE trigger='execute' AND outcome='executed'",
    )
    assert rows == [(300, 300)]
    assert q(v5_db, "SELECT DISTINCT status FROM policy_proposals WHERE tract_id='bulk'") == [
        ("executed",)
    ]


# --- waiting for a reviewer -----------------------------------------------------------


def test_wait_for_decision_returns_when_another_process_approves(v5_db: Path) -> None:
    target = PENDING_SUPPORT[0]
    with open_queue(v5_db) as queue:
        start = time.monotonic()
        with pytest.raises(DecisionTimeoutError):
            queue.wait_for_decision(target, timeout=0.3)
        assert 0.3 <= time.monotonic() - start < 2
        reviewer = subprocess.Popen(
            [sys.executable, "-m", "tract_tui", "approve", str(v5_db), target[:8], "--note", "go"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        start = time.monotonic()
        decided = queue.wait_for_decision(target, timeout=30)
        waited = time.monotonic() - start
        assert reviewer.wait(timeout=30) == 0
    assert decided.status == "approved" and decided.proposal_id == target
    assert decided.resolved_at is not None
    assert waited < 30
