"""A realistic demo tract database, for ``tract-tui --demo``, screenshots and tests.

It is written the way the tract library writes a file (the same tables through
the storage layer, blobs as sorted JSON, enums by NAME, commit tables in UTC,
policy tables in local naive time) so the console shows what a reviewer meets
in real life: several agents, a spawned child, stale branches, pending
proposals of every action type pointing at real commits and branches, and a
few days of policy log. Everything derives from ``now`` and ``seed``: two
builds with the same arguments hold the same rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from tract_tui.exceptions import DatabaseOpenError
from tract_tui.models.policy import CommitOperation, Priority
from tract_tui.storage.engine import create_trace_engine, init_db
from tract_tui.storage.inspect import inspect_database
from tract_tui.storage.schema import (
    AnnotationRow,
    BlobRow,
    CommitRow,
    PolicyLogRow,
    PolicyProposalRow,
    RefRow,
    SpawnPointerRow,
    TraceMetaRow,
)

Step = tuple[str, dict[str, Any]]  # (content_type, payload without content_type)
GEN = {"model": "gpt-4o-2024-08-06", "temperature": 0.2}
LARGE = 150  # flag-large-tool-output's threshold, in tokens
SUMMARY = (
    "Summary so far: the user reported a problem; we inspected code and telemetry with "
    "tools, found the root cause and proposed a patch."
)
POLICIES: list[dict[str, Any]] = [
    {"name": "auto-compress", "threshold": 0.5, "enabled": True, "summary_content": SUMMARY},
    {"name": "auto-pin", "pin_types": ["instruction", "session"], "enabled": True},
    {"name": "auto-branch", "content_type_window": 5, "switch_threshold": 3, "enabled": True},
    {"name": "auto-rebase", "stale_days": 3, "archive_prefix": "archive/", "enabled": True},
    {"name": "flag-large-tool-output", "max_tokens": LARGE, "enabled": True},
    {"name": "cost-guard", "daily_budget_usd": 25.0, "enabled": True},
    {"name": "reasoning-audit", "enabled": True},
    {"name": "snapshot-on-session", "enabled": True},
]
#: Routine evaluations, most of any real log: weight, policy, trigger, action, outcome,
#: reason, error; {n} {n3} {usd} {short} {tok} {day} are filled in per row.
# fmt: off
ROUTINE: list[tuple[int, str, str, str | None, str, str | None, str | None]] = [
    (25, "auto-compress", "compile", "compress", "skipped",
     "Token usage {n}/600 below 50% threshold", None),
    (17, "auto-branch", "commit", "branch", "skipped",
     "Detected {n3} content type transitions in last 5 commits (threshold: 3)", None),
    (13, "reasoning-audit", "commit", "annotate", "skipped",
     "Reasoning commit {short} ({tok} tokens) would be hidden from context", None),
    (11, "flag-large-tool-output", "commit", "annotate", "skipped",
     "Tool output {short} is {tok} tokens (<= 150)", None),
    (8, "auto-rebase", "compile", "archive", "skipped",
     "No branch inactive for more than 3 days", None),
    (8, "snapshot-on-session", "commit", "archive", "executed",
     "Session boundary on 'main': snapshot branch tip", None),
    (4, "snapshot-on-session", "commit", "archive", "error",
     "Session boundary on 'main': snapshot branch tip",
     "Branch already exists: archive/main/{day}"),
    (7, "cost-guard", "compile", None, "skipped",
     "Spent ${usd} of the $25.00 daily budget", None),
    (4, "cost-guard", "compile", None, "error", None, "no price configured for model 'o3-mini'"),
    (3, "auto-compress", "compile", "compress", "error",
     "Token usage 512/600 exceeds 50% threshold", "summary model timed out after 30 s"),
]
# fmt: on


def _say(role: str, text: str) -> Step:
    return "dialogue", {"name": None, "role": role, "text": text}


def _do(kind: str, text: str) -> Step:
    """A reasoning / instruction step: just text."""
    return kind, {"text": text}


def _call(tool: str, **payload: Any) -> Step:
    return "tool_io", {"direction": "call", "payload": payload, "status": None, "tool_name": tool}


def _result(tool: str, payload: Any, status: str = "success") -> Step:
    body = {"direction": "result", "payload": payload, "status": status, "tool_name": tool}
    return "tool_io", body


def _session(kind: str, summary: str, *decisions: str) -> Step:
    return "session", {
        "decisions": list(decisions),
        "failed_approaches": [],
        "next_steps": [],
        "session_type": kind,
        "summary": summary,
    }


def _artifact(language: str, content: str) -> Step:
    return "artifact", {"artifact_type": "code", "content": content, "language": language}


def _output(text: str) -> Step:
    return "output", {"format": "markdown", "text": text}


def _message(ctype: str, p: dict[str, Any]) -> str:
    """The short commit message tract's callers usually give."""
    if ctype == "tool_io":
        return f"call {p['tool_name']}" if p["direction"] == "call" else f"{p['tool_name']} result"
    if ctype == "session":
        return {"start": "session start", "end": "session end"}.get(p["session_type"], "checkpoint")
    if ctype == "dialogue":
        return {"user": "user question", "assistant": "answer"}.get(p["role"], "note")
    names = {"instruction": "system prompt", "reasoning": "plan", "artifact": "proposed patch"}
    return names.get(ctype, "final answer")


class _Builder:
    """Collects rows in memory (column order of the schema), then bulk-inserts them."""

    def __init__(self, now: datetime, offset: timedelta, rng: random.Random) -> None:
        self.now, self.offset, self.rng = now, offset, rng
        self.rows: dict[Any, list[dict[str, Any]]] = {}
        self.tokens: dict[str, int] = {}
        self.types: dict[str, str] = {}
        self.times: dict[str, datetime] = {}
        self.tract_of: dict[str, str] = {}

    def add(self, table: Any, *values: Any) -> None:
        names = [c.name for c in table.__table__.columns if c.name != "id"]
        self.rows.setdefault(table, []).append(dict(zip(names, values, strict=True)))

    def uid(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex

    def chain(self, tract: str, start: datetime, parent: str | None, *steps: Step) -> list[str]:
        """Commit ``steps`` one after the other on top of ``parent``; ``start`` is local."""
        hashes: list[str] = []
        at = start
        for ctype, body in steps:
            raw = json.dumps({"content_type": ctype, **body}, sort_keys=True, ensure_ascii=False)
            size = len(raw.encode())
            tokens = 0 if ctype == "session" else max(6, (size - 70) // 4)
            blob = hashlib.sha256(raw.encode()).hexdigest()
            utc = at - self.offset
            self.add(BlobRow, blob, raw, size, tokens, utc)
            h = hashlib.sha256(f"{tract}:{parent}:{blob}:{utc}".encode()).hexdigest()
            model = body.get("role") == "assistant" or ctype in ("artifact", "output")
            row = (
                h,
                tract,
                parent,
                blob,
                ctype,
                CommitOperation.APPEND,
                None,
                _message(ctype, body),
            )
            self.add(CommitRow, *row, tokens, None, GEN if model else None, utc)
            if ctype in ("instruction", "session"):
                why = f"Default priority for {ctype}"
                self.add(AnnotationRow, tract, h, Priority.PINNED, why, utc)
                why = f"Auto-pinned: content_type={ctype}"
                self.log(tract, "auto-pin", "commit", "annotate", "executed", why, at, commit=h)
            self.tokens[h], self.types[h] = tokens, ctype
            self.times[h], self.tract_of[h] = at, tract
            hashes.append(h)
            parent = h
            at += timedelta(seconds=round(self.rng.uniform(4, 75), 6))
        return hashes

    def refs(self, tract: str, branches: dict[str, str]) -> None:
        """HEAD (symbolic, on main) and one ref per branch, as tract stores them."""
        self.add(RefRow, tract, "HEAD", None, "refs/heads/main")
        for name, commit in branches.items():
            self.add(RefRow, tract, f"refs/heads/{name}", commit, None)

    def log(
        self,
        tract: str,
        policy: str,
        trigger: str,
        action: str | None,
        outcome: str,
        reason: str | None,
        at: datetime,
        *,
        commit: str | None = None,
        error: str | None = None,
    ) -> None:
        row = (tract, policy, trigger, action, reason, outcome, commit, error, at)
        self.add(PolicyLogRow, *row)

    def propose(
        self,
        tract: str,
        policy: str,
        action: str,
        params: dict[str, Any],
        reason: str,
        at: datetime,
        decided: tuple[str, datetime] | None = None,
        trigger: str = "commit",
    ) -> None:
        """A proposal and the ``proposed`` log row tract writes with it."""
        status, resolved = decided or ("pending", None)
        row = (self.uid(), tract, policy, action, params, reason, status, at, resolved)
        self.add(PolicyProposalRow, *row)
        self.log(tract, policy, trigger, action, "proposed", reason, at)


def _ago(b: _Builder, days: int, hour: int) -> datetime:
    """A working-hours time on the day ``days`` (>= 1) before now."""
    r = b.rng
    day = b.now - timedelta(days=days)
    return day.replace(
        hour=hour,
        minute=r.randint(0, 59),
        second=r.randint(0, 59),
        microsecond=r.randint(0, 999_999),
    )


PAPERS = [
    ("Dense Passage Retrieval for Open-Domain QA", "dual encoders beat BM25"),
    ("BEIR: zero-shot evaluation of IR models", "18 datasets, nDCG@10"),
    ("ColBERTv2: effective and efficient retrieval", "late interaction"),
    ("RAGAS: automated evaluation of RAG", "faithfulness, answer relevance"),
    ("Lost in the Middle: how LMs use long contexts", "U-shaped accuracy"),
    ("ARES: an automated RAG evaluation system", "PPI confidence intervals"),
]


def _log_lines(b: _Builder, at: datetime, n: int) -> list[str]:
    hosts = ["10.0.3.17", "10.0.3.22", "10.0.4.9"]
    return [
        f"{at - timedelta(seconds=(n - i) * 23):%Y-%m-%dT%H:%M:%S}Z [error] upstream timed out "
        f"(110: Connection timed out) while reading response header, upstream: "
        f"http://{b.rng.choice(hosts)}:8080/api/checkout, request_id={b.rng.getrandbits(40):010x}"
        for i in range(n)
    ]


def _populate(b: _Builder) -> None:
    """Four agents' real-looking work; then proposals and routine log rows about it."""
    rng = b.rng
    sa, t_a, t_b = "support-agent", _ago(b, 5, 10), _ago(b, 2, 15)
    ra, t_r, t_r2 = "research-agent", _ago(b, 4, 9), _ago(b, 1, 11)
    op, t_o, t_o2 = "ops-copilot", _ago(b, 6, 14), _ago(b, 1, 16)
    child, t_c = b.uid(), t_r + timedelta(minutes=12)
    counts = [[s, rng.randint(1000, 900_000)] for s in ("delivered", "retrying", "dead")]
    papers = [
        {"title": t, "url": f"https://arxiv.org/abs/2{rng.randint(100, 312)}.{i:05d}", "snippet": s}
        for i, (t, s) in enumerate(PAPERS * 2)
    ]
    sets = ["scifact", "nfcorpus", "fiqa", "trec-covid", "arguana", "scidocs"] * 4
    ndcg = [f"{d:<11} ndcg@10={rng.uniform(0.3, 0.75):.3f} q={rng.randint(50, 9000)}" for d in sets]
    dirs = ["journal", "containers", "pods", "fluentd-buffer", "audit", "nginx"] * 5
    du = "\n".join(f"{rng.randint(1, 90)}G\t/var/log/{d}" for d in dirs)
    # the chains in this order: the random times of each depend on the ones before
    triage, retry, webhooks, dedupe = _support(b, sa, t_a, t_b, counts)
    survey, draft, survey2 = _research(b, ra, t_r, t_r2, papers)
    (bench,) = _bench(b, child, t_c, ndcg)
    disk, pool, lag = _ops(b, op, t_o, t_o2, du)
    snapshot = f"archive/main/{t_a:%Y%m%d}"
    branches = {"main": webhooks[-1], "experiment/retry-backoff": retry[-1], snapshot: triage[0]}
    b.refs(sa, {**branches, "fix/webhook-dedupe": dedupe[-1]})
    b.refs(ra, {"main": survey2[-1], "draft/related-work": draft[-1]})
    b.refs(child, {"main": bench[-1]})
    b.refs(op, {"main": lag[-1], "experiment/pgbouncer-pool": pool[-1]})
    purpose = "Reproduce the reranker's BEIR nDCG@10"
    row = (ra, survey[-1], child, purpose, "head_snapshot", "bench-runner", t_c - b.offset)
    b.add(SpawnPointerRow, *row)
    why = "Session boundary on 'main': snapshot branch tip"
    b.log(sa, "snapshot-on-session", "commit", "archive", "executed", why, t_a, commit=triage[0])
    for h in (triage[5], bench[3]):  # flagged earlier, approved and executed by the agent
        at = b.times[h] + timedelta(minutes=9) - b.offset
        b.add(AnnotationRow, b.tract_of[h], h, Priority.SKIP, "bulky tool output hidden", at)
    mains = {sa: triage + webhooks, ra: survey + survey2, child: bench, op: disk + lag}
    stale = {sa: ("experiment/retry-backoff", retry, t_a), ra: ("draft/related-work", draft, t_r)}
    stale[op] = ("experiment/pgbouncer-pool", pool, t_o)
    _proposals(b, mains, stale, hidden=(triage[5], bench[3]), pins=[triage[7], webhooks[5]])
    _routine(b, {sa: t_a, ra: t_r, child: t_c, op: t_o})


def _support(
    b: _Builder, sa: str, t_a: datetime, t_b: datetime, counts: list[Any]
) -> tuple[list[str], ...]:
    # One step per line reads like the conversation it is; the formatter would scatter it.
    # fmt: off
    triage = b.chain(sa, t_a, None,
        _session("start", "On-call triage: checkout 502s after deploy"),
        _do("instruction", "You are a senior backend engineer on call for the shop API. Prefer "
            "minimal, well-tested patches; explain trade-offs briefly."),
        _say("user", "Checkout returns 502 for ~8% of requests since the 14:00 deploy. "
             "Nothing changed in nginx. Can you find out why?"),
        _do("reasoning", "502 with an unchanged proxy config means the upstream is slow or "
            "refusing connections. Pull the nginx error log around the deploy first."),
        _call("query_logs", service="nginx-edge", level="error", since="13:55", limit=30),
        _result("query_logs", {"lines": _log_lines(b, t_a, 30), "truncated": True}),
        _say("assistant", "Every 502 is an upstream timeout on /api/checkout. The deploy added a "
             "synchronous fraud-score call with no timeout, so slow scores hold gunicorn "
             "workers until nginx gives up after 30 s."),
        _artifact("python", "FRAUD_TIMEOUT = 2.0\n\ndef fraud_score(order):\n    try:\n        "
                  "return client.score(order, timeout=FRAUD_TIMEOUT)\n    except TimeoutError:\n"
                  "        return None  # scored later by the batch job\n"),
        _say("user", "Should we also retry the fraud call?"),
        _output("## Fix\n\n* 2 s timeout on the fraud call\n* no retries in the request path\n"))
    retry = b.chain(sa, t_a + timedelta(minutes=30), triage[6],
        _do("reasoning", "A retry with backoff might recover most scores without blocking."),
        _artifact("python", "for attempt in range(3):\n    try:\n        return client.score(o, "
                  "timeout=0.5)\n    except TimeoutError:\n        sleep(0.1 * 2 ** attempt)\n"),
        _call("run_tests", path="tests/test_checkout.py"),
        _result("run_tests", {"failed": 2, "passed": 41, "summary": "p99 over budget"}, "error"))
    webhooks = b.chain(sa, t_b, triage[-1],
        _session("start", "Webhook retries flooding the queue"),
        _say("user", "The payments webhook queue grew to 1.2M messages overnight. Are we "
             "retrying forever?"),
        _call("sql_query", sql="SELECT status, partner, count(*) FROM deliveries GROUP BY 1, 2"),
        _result("sql_query", {"columns": ["status", "count"], "rows": counts * 8}),
        _say("assistant", "Retries have no cap: 'retrying' rows are re-enqueued on every 5xx, "
             "and the partner has been returning 503 since 02:10."),
        _artifact("python", "MAX_ATTEMPTS = 8\nif delivery.attempts >= MAX_ATTEMPTS:\n"
                  "    delivery.status = 'dead'\n"),
        _session("end", "Capped webhook retries at 8", "cap retries", "dead-letter after 8"))
    dedupe = b.chain(sa, t_b + timedelta(hours=3), webhooks[5],
        _say("user", "The partner says they got duplicates. Can we dedupe on event id?"),
        _artifact("sql", "CREATE UNIQUE INDEX ux_delivery_event ON deliveries (event_id);\n"))
    # fmt: on
    return triage, retry, webhooks, dedupe


def _research(
    b: _Builder, ra: str, t_r: datetime, t_r2: datetime, papers: list[Any]
) -> tuple[list[str], ...]:
    # One step per line reads like the conversation it is; the formatter would scatter it.
    # fmt: off
    survey = b.chain(ra, t_r, None,
        _session("start", "Survey: evaluating retrieval-augmented generation"),
        _do("instruction", "You are a research assistant. Cite every claim with a link; say "
            "when the evidence is thin."),
        _say("user", "Which metrics do people trust for RAG evaluation, and is there a "
             "reranker we can reproduce cheaply?"),
        _do("reasoning", "Split it: retrieval metrics (nDCG@10 on BEIR) versus generation "
            "metrics (faithfulness). Then pick a reranker with public checkpoints."),
        _call("web_search", query="RAG evaluation faithfulness benchmark", k=12),
        _result("web_search", {"results": papers}),
        _say("assistant", "Retrieval is judged by nDCG@10 on BEIR, generation by faithfulness "
             "(RAGAS, ARES). Position effects matter too (Lost in the Middle)."),
        _say("system", "Spawned subagent for: Reproduce the reranker's BEIR nDCG@10"))
    draft = b.chain(ra, t_r + timedelta(minutes=50), survey[6],
        _artifact("markdown", "## Related work\n\nDPR (2020) ... BEIR (2021) ... RAGAS (2023)\n"),
        _say("user", "Park the related-work draft, we will come back to it."))
    survey2 = b.chain(ra, t_r2, survey[-1],
        _say("user", "The child run is back. Summarise what we can claim."),
        _output("The reranker reproduces within 0.4 nDCG@10 on 5 of 6 BEIR sets."))
    # fmt: on
    return survey, draft, survey2


def _bench(b: _Builder, child: str, t_c: datetime, ndcg: list[str]) -> tuple[list[str], ...]:
    # One step per line reads like the conversation it is; the formatter would scatter it.
    # fmt: off
    bench = b.chain(child, t_c, None,
        _do("instruction", "Inherited context from parent (head_snapshot): reproduce the "
            "reranker's BEIR numbers."),
        _say("user", "Run the cross-encoder reranker over BM25 top-100 on six BEIR sets."),
        _call("python_exec", code="evaluate(reranker='ms-marco-MiniLM-L-6', k=100)"),
        _result("python_exec", {"exit_code": 0, "stdout": "\n".join(ndcg)}),
        _call("python_exec", code="evaluate(dataset='trec-covid', k=1000)"),
        _result("python_exec", {"error": "CUDA out of memory (tried to allocate 2 GiB)"}, "error"),
        _say("assistant", "Five of six sets match the paper within 0.4; trec-covid at k=1000 "
             "does not fit in memory, and at k=100 it is 2.1 lower."))
    # fmt: on
    return (bench,)


def _ops(b: _Builder, op: str, t_o: datetime, t_o2: datetime, du: str) -> tuple[list[str], ...]:
    # One step per line reads like the conversation it is; the formatter would scatter it.
    # fmt: off
    disk = b.chain(op, t_o, None,
        _session("start", "Disk pressure on logging nodes"),
        _do("instruction", "You are an SRE copilot. Cite the exact commands you would run; "
            "never suggest deleting production data."),
        _say("user", "logging-2 is at 93% disk. What is eating it?"),
        _call("kubectl", args=["exec", "logging-2", "--", "du", "-sh", "/var/log/*"]),
        _result("kubectl", {"exit_code": 0, "stdout": du}),
        _say("assistant", "fluentd's buffer is the culprit: Elasticsearch has been rejecting "
             "bulk requests, so chunks pile up on disk."))
    pool = b.chain(op, t_o + timedelta(minutes=20), disk[-1],
        _do("reasoning", "Maybe a connection pool in front of the ingest nodes? Wrong layer."),
        _artifact("yaml", "pool_mode: transaction\ndefault_pool_size: 40\n"))
    lag = b.chain(op, t_o2, disk[-1],
        _session("start", "Postgres replica lag alert"),
        _say("user", "replica-1 is 14 minutes behind the primary. Safe to fail over?"),
        _call("psql", sql="SELECT now() - pg_last_xact_replay_timestamp() AS lag"),
        _result("psql", {"columns": ["lag"], "rows": [["00:14:07.21"]]}),
        _say("assistant", "Not yet: failing over now loses 14 minutes of writes. A long "
             "analytics query is holding replay; cancel it first."))
    # fmt: on
    return disk, pool, lag


def _proposals(
    b: _Builder,
    mains: dict[str, list[str]],
    stale: dict[str, tuple[str, list[str], datetime]],
    hidden: tuple[str, ...],
    pins: list[str],
) -> None:
    """Pending proposals of every action type (plus a few decided), on real commits/branches."""
    now, rng = b.now, b.rng

    def soon(base: datetime, minutes: float) -> datetime:
        at = base + timedelta(minutes=minutes, microseconds=rng.randint(0, 999_999))
        return min(at, now - timedelta(minutes=3))

    sa, ra, child, op = list(mains)
    for tract, chain in mains.items():
        used = sum(b.tokens[h] for h in chain)
        limit = (used * 3 // 200 + 1) * 100
        reason = f"Token usage {used}/{limit} exceeds 50% threshold"
        params = {"auto_commit": True, "content": SUMMARY}
        at = soon(b.times[chain[-1]], 1)
        decided = ("rejected", soon(at, 95)) if tract == op else None
        b.propose(tract, "auto-compress", "compress", params, reason, at, decided, "compile")
        if decided:
            why = "by bob: keep the full incident trail until the postmortem is written"
            b.log(tract, "auto-compress", "review", "compress", "rejected", why, decided[1])
    big = [h for h, t in b.types.items() if t == "tool_io" and b.tokens[h] > LARGE]
    for i, h in enumerate(big):
        reason = f"Tool output {h[:8]} is {b.tokens[h]} tokens (> {LARGE}); hide it from context?"
        if i == 1:  # agents write markup and escapes; the console must show them inertly
            reason = f"[bold red]URGENT[/] \x1b[31m{reason}\x1b[0m [link=https://x.test]why[/link]"
        params = {"target_hash": h, "priority": "skip", "reason": "bulky tool output hidden"}
        at = soon(b.times[h], 0.05)
        decided = ("executed", soon(at, 9)) if h in hidden else None
        b.propose(b.tract_of[h], "flag-large-tool-output", "annotate", params, reason, at, decided)
    for h, what in zip(pins, ("the checkout fix", "the retry cap"), strict=True):
        params = {"target_hash": h, "priority": "pinned", "reason": f"keep {what} in context"}
        reason = f"Artifact {h[:8]} looks like {what}; pin it so compression keeps it?"
        b.propose(sa, "auto-pin", "annotate", params, reason, soon(b.times[h], 0.1))
    for tract, n, rejected in ((sa, 4, False), (ra, 3, False), (op, 5, False), (sa, 4, True)):
        at = soon(b.times[rng.choice(mains[tract][2:])], 0.02)
        params = {"name": f"tangent/main/{at:%Y%m%d-%H%M%S}", "switch": False}
        reason = f"Detected 3 content type transitions in last {n} commits (threshold: 3)"
        decided = ("rejected", soon(at, 14)) if rejected else None
        b.propose(tract, "auto-branch", "branch", params, reason, at, decided)
        if decided:
            why = "by alice: the retry question belongs to the main thread"
            b.log(tract, "auto-branch", "review", "branch", "rejected", why, decided[1])
    for tract, (branch, commits, last) in stale.items():
        idle = (now - last).days
        params = {"archive_name": f"archive/{branch}", "source": branch}
        reason = (
            f"Branch '{branch}' has {len(commits)} commits and has been inactive for {idle} "
            "days (threshold: 3 days)"
        )
        at = soon(now, -rng.randint(30, 900))
        b.propose(tract, "auto-rebase", "archive", params, reason, at, trigger="compile")
    params = {"budget_usd": 25.0, "spent_usd": 23.41, "model": GEN["model"], "window": "24h"}
    reason = "Spent $23.41 of the $25.00 daily budget (94%); pause generation until reviewed?"
    b.propose(child, "cost-guard", "pause", params, reason, soon(now, -47), trigger="compile")


def _routine(b: _Builder, starts: dict[str, datetime], n: int = 300) -> None:
    """Routine evaluations over the days each tract has lived: mostly skips, some errors."""
    rng, now = b.rng, b.now
    commits: dict[str, list[str]] = {}
    for h, t in b.tract_of.items():
        commits.setdefault(t, []).append(h)
    weights = [w for w, *_ in ROUTINE]
    for _ in range(n):
        tract = rng.choices(list(starts), weights=[5, 3, 1, 3])[0]
        at = starts[tract] + (now - starts[tract]) * rng.random()
        _, policy, trigger, action, outcome, reason, error = rng.choices(ROUTINE, weights)[0]
        commit = rng.choice(commits[tract])
        fill = {
            "n": rng.randint(90, 290),
            "n3": rng.randint(0, 2),
            "usd": f"{rng.uniform(1, 20):.2f}",
            "short": commit[:8],
            "tok": min(b.tokens[commit], LARGE),
            "day": f"{at:%Y%m%d}",
        }
        text = reason.format(**fill) if reason else None
        err = error.format(**fill) if error else None
        hit = commit if outcome == "executed" else None
        b.log(tract, policy, trigger, action, outcome, text, at, commit=hit, error=err)


def build_demo_database(
    path: str | os.PathLike[str],
    *,
    now: datetime | None = None,
    seed: int = 7,
    utc_offset: timedelta | None = None,
) -> Path:
    """Build the demo database at ``path`` (replacing it) and return the path.

    ``now`` is local naive time (default: the clock); ``utc_offset`` is how far
    local time is ahead of UTC, for the commit tables (default: this machine's;
    pass it to get the same file on every machine). The file is built beside
    ``path`` and moved into place, so a half-built demo is never opened.
    """
    if now is None:
        now = datetime.now()
    elif now.tzinfo is not None:
        now = now.astimezone().replace(tzinfo=None)
    offset = utc_offset if utc_offset is not None else now.astimezone().utcoffset()
    builder = _Builder(now, offset or timedelta(), random.Random(seed))
    _populate(builder)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.building")
    _remove(tmp)
    engine = create_trace_engine(tmp)
    try:
        init_db(engine)
        with engine.begin() as conn:
            config = json.dumps({"policies": POLICIES})
            conn.execute(insert(TraceMetaRow), [{"key": "policy_config", "value": config}])
            blobs = {r["content_hash"]: r for r in builder.rows[BlobRow]}  # shared, as in tract
            conn.execute(insert(BlobRow), list(blobs.values()))
            for table in (CommitRow, RefRow, AnnotationRow, SpawnPointerRow, PolicyProposalRow):
                conn.execute(insert(table), builder.rows[table])
            log = sorted(builder.rows[PolicyLogRow], key=lambda r: r["created_at"])
            conn.execute(insert(PolicyLogRow), log)
    finally:
        engine.dispose()  # the last connection out checkpoints the WAL into the file
    _remove(target)
    os.replace(tmp, target)
    _remove(tmp)
    return target


def _remove(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)


def default_demo_path() -> Path:
    """``demo.db`` in the user's data directory (tract_tui.settings.data_dir)."""
    from tract_tui.settings import data_dir

    return data_dir() / "demo.db"


def ensure_demo_database(
    path: str | os.PathLike[str] | None = None,
    *,
    now: datetime | None = None,
    reset: bool = False,
) -> Path:
    """The demo database at ``path`` (default :func:`default_demo_path`), built if missing.

    A file there that is not a v5 tract database (an interrupted build, a
    stray file) is rebuilt rather than reported: the demo path is ours.
    ``reset`` builds it afresh (every decision made in it is gone).
    """
    target = Path(path) if path is not None else default_demo_path()
    if target.exists() and not reset:
        try:
            if inspect_database(target).version == 5:
                return target
        except DatabaseOpenError:
            pass
    return build_demo_database(target, now=now)
