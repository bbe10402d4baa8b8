"""ReviewService on copies of the real tract fixtures and on the demo database.

Listings and filters are checked against a plain-Python reference over the raw
rows (read with sqlite3, not through the service), so a wrong WHERE clause or a
lost row in keyset paging shows up as a difference, not as a missing assert.
Decisions are checked against the rows they leave in the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tract_tui.demo import build_demo_database
from tract_tui.exceptions import (
    AmbiguousProposalIdError,
    DecisionTimeoutError,
    ProposalConflictError,
    ProposalNotFoundError,
    ReadOnlyError,
)
from tract_tui.models.review import Proposal, split_trailer
from tract_tui.review import ReviewService, parse_filter
from tract_tui.storage.sql import format_dt

#: The fixture's policy rows span 2026-02-17 .. 2026-02-24 (local time).
NOW = datetime(2026, 2, 25, 12, 0, 0)
#: The demo is built for this instant, and reviewed at it.
DEMO_NOW = datetime(2026, 3, 2, 10, 30, 0)
DT = "%Y-%m-%d %H:%M:%S.%f"


class Clock:
    """An injected clock the test can move."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def svc(v5_db: Path, clock: Clock) -> Iterator[ReviewService]:
    service = ReviewService.open(v5_db, clock=clock, reviewer="alice")
    yield service
    service.close()


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    return build_demo_database(tmp_path / "demo.db", now=DEMO_NOW, utc_offset=timedelta(hours=-8))


@pytest.fixture
def demo(demo_db: Path) -> Iterator[ReviewService]:
    service = ReviewService.open(demo_db, clock=Clock(DEMO_NOW), reviewer="alice")
    yield service
    service.close()


def rows(path: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def write(path: Path | str, sql: str, params: tuple[Any, ...] = ()) -> None:
    """A write by 'another process': its own sqlite3 connection, committed."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def proposal_row(path: Path | str, pid: str) -> sqlite3.Row:
    return rows(path, "SELECT * FROM policy_proposals WHERE proposal_id = ?", (pid,))[0]


def log_count(path: Path | str) -> int:
    return int(rows(path, "SELECT count(*) FROM policy_log")[0][0])


def last_log(path: Path | str, n: int = 1) -> list[dict[str, Any]]:
    """The newest log rows, their reason without the proposal trailer (its id in "proposal")."""
    out = []
    for r in rows(path, "SELECT * FROM policy_log ORDER BY id DESC LIMIT ?", (n,)):
        row = dict(r)
        row["reason"], row["proposal"] = split_trailer(row["reason"])
        out.append(row)
    return out


def pending_ids(path: Path | str) -> list[str]:
    sql = "SELECT proposal_id FROM policy_proposals WHERE status='pending' ORDER BY created_at, 1"
    return [r[0] for r in rows(path, sql)]


# --- a plain-Python reference of the filter semantics ----------------------------


def _time_ok(created: str, since: datetime | None, until: datetime | None) -> bool:
    at = datetime.strptime(created, DT)
    return (since is None or at >= since) and (until is None or at <= until)


def _values_ok(flt: Any, key: str, value: str | None) -> bool:
    wanted, unwanted = flt.values(key), flt.values(key, negated=True)
    if wanted and value not in wanted:
        return False
    return not (unwanted and value in unwanted)


def _words_ok(flt: Any, *texts: str | None) -> bool:
    hay = [(t or "").lower() for t in texts]
    has = [any(w.lower() in h for h in hay) for w in flt.words]
    hasnt = [not any(w.lower() in h for h in hay) for w in flt.excluded_words]
    return all(has) and all(hasnt)


def expected_proposals(path: Path, text: str, now: datetime) -> list[str]:
    flt = parse_filter(text, "proposals")
    since, until = flt.bounds(now)
    statused = flt.values("status") or flt.values("status", negated=True)
    out = []
    for r in rows(path, "SELECT * FROM policy_proposals ORDER BY created_at, proposal_id"):
        if not statused and r["status"] != "pending":
            continue
        keys = {"status": r["status"], "policy": r["policy_name"], "tract": r["tract_id"]}
        keys["action"] = r["action_type"]
        if not all(_values_ok(flt, k, v) for k, v in keys.items()):
            continue
        if _time_ok(r["created_at"], since, until) and _words_ok(flt, r["reason"]):
            out.append(r["proposal_id"])
    return out


def expected_log(path: Path, text: str, now: datetime) -> list[int]:
    flt = parse_filter(text, "log")
    since, until = flt.bounds(now)
    out = []
    for r in rows(path, "SELECT * FROM policy_log ORDER BY created_at DESC, id DESC"):
        keys = {"policy": r["policy_name"], "tract": r["tract_id"], "outcome": r["outcome"]}
        keys |= {"trigger": r["trigger"], "action": r["action_type"]}
        if not all(_values_ok(flt, k, v) for k, v in keys.items()):
            continue
        if _time_ok(r["created_at"], since, until) and _words_ok(
            flt, r["reason"], r["error_message"]
        ):
            out.append(r["id"])
    return out


# --- listing and keyset pagination ----------------------------------------------------


def test_pending_proposals_oldest_first_across_tracts(svc: ReviewService, v5_db: Path) -> None:
    listed = svc.list_proposals(limit=1000)
    assert [p.proposal_id for p in listed] == pending_ids(v5_db)
    assert len({p.tract_id for p in listed}) == 3
    first = listed[0]
    raw = proposal_row(v5_db, first.proposal_id)
    assert first.created_at_raw == raw["created_at"]
    assert first.created_at == datetime.strptime(raw["created_at"], DT)
    assert first.params_raw == raw["action_params_json"]  # carried exactly
    assert first.params == json.loads(raw["action_params_json"])


def _walk_forward(page: Callable[..., list[Proposal]], size: int) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        got = page(after=after, limit=size)
        assert len(got) <= size
        seen += [p.proposal_id for p in got]
        if len(got) < size:
            return seen
        after = (got[-1].created_at_raw, got[-1].proposal_id)


def _walk_backward(page: Callable[..., list[Proposal]], size: int) -> list[str]:
    seen: list[str] = []
    got = page(from_end=True, limit=size)
    while got:
        seen = [p.proposal_id for p in got] + seen
        if len(got) < size:
            break
        got = page(before=(got[0].created_at_raw, got[0].proposal_id), limit=size)
    return seen


def _add_ties(path: Path, n: int = 7) -> None:
    """Proposals sharing one created_at: only proposal_id can order them."""
    for i in range(n):
        write(
            path,
            "INSERT INTO policy_proposals VALUES (?, 'support-agent', 'auto-pin', 'annotate',"
            " 'null', 'tie', 'pending', '2026-02-20 10:00:00.000000', NULL)",
            (f"{(i * 37) % 11:02d}tie{i}",),
        )


@pytest.mark.parametrize("size", [1, 2, 3, 5, 50])
def test_proposal_keyset_pages_cover_every_row_once(
    svc: ReviewService, v5_db: Path, size: int
) -> None:
    _add_ties(v5_db)
    everything = pending_ids(v5_db)
    assert len(everything) == 17
    forward = _walk_forward(svc.list_proposals, size)
    assert forward == everything  # in order, no gaps, no repeats
    assert _walk_backward(svc.list_proposals, size) == everything
    assert list(p.proposal_id for p in svc.iter_proposals(page_size=size)) == everything


def test_proposal_pages_are_ascending_whichever_direction(svc: ReviewService) -> None:
    last = svc.list_proposals(from_end=True, limit=3)
    keys = [(p.created_at_raw, p.proposal_id) for p in last]
    assert keys == sorted(keys)
    assert last == svc.list_proposals(limit=1000)[-3:]
    before = svc.list_proposals(before=keys[0], limit=2)
    assert before == svc.list_proposals(limit=1000)[-5:-3]


def test_rank_and_offset_jumps_agree_with_the_listing(svc: ReviewService) -> None:
    listed = svc.list_proposals(limit=1000)
    for i, p in enumerate(listed):
        assert svc.proposal_rank(p) == i
    assert svc.proposals_at(3, 4) == listed[3:7]


@pytest.mark.parametrize("size", [1, 4, 7, 1000])
def test_log_keyset_pages_newest_first_cover_every_row_once(
    svc: ReviewService, v5_db: Path, size: int
) -> None:
    # ties on created_at (the fixture has none): only the id can order them
    for _ in range(5):
        write(
            v5_db,
            'INSERT INTO policy_log (tract_id, policy_name, "trigger", outcome, created_at)'
            " VALUES ('support-agent', 'auto-pin', 'commit', 'skipped', ?)",
            ("2026-02-20 10:00:00.000000",),
        )
    everything = expected_log(v5_db, "", NOW)
    assert len(everything) == 39
    seen: list[int] = []
    after = None
    while True:
        got = svc.list_log(after=after, limit=size)
        seen += [e.id for e in got]
        if len(got) < size:
            break
        after = (got[-1].created_at_raw, got[-1].id)
    assert seen == everything
    back: list[int] = []
    got = svc.list_log(from_end=True, limit=size)
    while got:
        assert [e.id for e in got] == sorted(
            (e.id for e in got), key=lambda i: everything.index(i)
        )  # newest first within a page too
        back = [e.id for e in got] + back
        if len(got) < size:
            break
        got = svc.list_log(before=(got[0].created_at_raw, got[0].id), limit=size)
    assert back == everything
    assert [e.id for e in svc.iter_log(page_size=size)] == everything
    assert [e.id for e in svc.log_at(2, 3)] == everything[2:5]


def test_counts_and_pending_counts(svc: ReviewService, v5_db: Path) -> None:
    assert svc.count_proposals() == len(pending_ids(v5_db)) == 10
    assert svc.count_proposals(parse_filter("status:rejected")) == 2
    assert svc.count_log() == 34
    raw = rows(
        v5_db,
        "SELECT tract_id, policy_name, count(*) FROM policy_proposals WHERE status='pending'"
        " GROUP BY 1, 2",
    )
    got = svc.pending_counts()
    assert {(c.tract_id, c.policy_name): c.count for c in got} == {(r[0], r[1]): r[2] for r in raw}
    assert [c.count for c in got] == sorted((c.count for c in got), reverse=True)
    assert sum(c.count for c in got) == 10


# --- filters ------------------------------------------------------------------------

PROPOSAL_FILTERS = [
    "",
    "policy:auto-branch",
    "policy:auto-branch policy:auto-compress",
    "-policy:auto-branch",
    "tract:support-agent",
    "-tract:support-agent",
    "action:annotate",
    "-action:annotate -action:branch",
    "status:rejected",
    "status:executed status:rejected",
    "-status:pending",
    "status:pending -policy:auto-compress tract:ee3dd66e5e4946caba1bc52b3bff1b37",
    "threshold",
    "THRESHOLD -transitions",
    "-threshold",
    "'hide it'",
    "100%",  # LIKE wildcards in a word are literal
    "'50% threshold'",
    "5_%",
    "since:2026-02-18",
    "until:2026-02-17",
    "since:2026-02-17T15:20 until:2026-02-18T10:20:14",
    "since:2d",
    "since:1w until:1d",
    "since:30m",
]


@pytest.mark.parametrize("text", PROPOSAL_FILTERS)
def test_proposal_filters_match_the_reference(svc: ReviewService, v5_db: Path, text: str) -> None:
    flt = parse_filter(text, "proposals")
    want = expected_proposals(v5_db, text, NOW)
    assert [p.proposal_id for p in svc.list_proposals(flt, limit=1000)] == want
    assert svc.count_proposals(flt) == len(want)
    assert _walk_forward(lambda **kw: svc.list_proposals(flt, **kw), 2) == want


def test_proposal_filters_select_something(v5_db: Path) -> None:
    """Guard the reference test against vacuous filters: most pick a strict, non-empty subset."""
    total = len(expected_proposals(v5_db, "", NOW))
    sizes = {t: len(expected_proposals(v5_db, t, NOW)) for t in PROPOSAL_FILTERS}
    assert sum(0 < n < total for n in sizes.values()) >= 12
    assert sizes["since:30m"] == sizes["100%"] == sizes["5_%"] == 0
    assert sizes["'50% threshold'"] > 0


LOG_FILTERS = [
    "",
    "policy:cost-guard",
    "-policy:auto-pin -policy:snapshot-on-session",
    "outcome:error",
    "outcome:proposed outcome:executed",
    "-outcome:skipped",
    "trigger:compile",
    "-trigger:commit",
    "tract:87197064b7d44bf78790660bbd1fd3e6",
    "-tract:support-agent",
    "action:archive",
    "-action:annotate",  # NULL action rows (cost-guard) stay in
    "o3-mini",  # matched in error_message
    "already exists",
    "'already exists'",
    "-threshold -reasoning",
    "since:2026-02-24 outcome:executed",
    "until:2026-02-17",
    "since:1d",
    "since:8d until:2d trigger:commit",
    "since:2026-02-17T15:18:31.42 until:2026-02-17T15:29:20.49",
]


@pytest.mark.parametrize("text", LOG_FILTERS)
def test_log_filters_match_the_reference(svc: ReviewService, v5_db: Path, text: str) -> None:
    flt = parse_filter(text, "log")
    want = expected_log(v5_db, text, NOW)
    assert [e.id for e in svc.list_log(flt, limit=1000)] == want
    assert [e.id for e in svc.iter_log(flt, page_size=3)] == want
    assert svc.count_log(flt) == len(want)
    stats = svc.log_stats(flt, buckets=12)
    assert stats.total == len(want) == sum(stats.buckets)
    outcomes = Counter(
        r["outcome"] for r in rows(v5_db, "SELECT id, outcome FROM policy_log") if r["id"] in want
    )
    assert stats.by_outcome == dict(outcomes)


def test_log_filters_select_something(v5_db: Path) -> None:
    total = len(expected_log(v5_db, "", NOW))
    sizes = [len(expected_log(v5_db, t, NOW)) for t in LOG_FILTERS]
    assert sum(0 < n < total for n in sizes) >= 17


def test_relative_times_follow_the_injected_clock(svc: ReviewService, clock: Clock) -> None:
    flt = parse_filter("since:1h", "log")
    assert svc.count_log(flt) == 0
    clock.now = datetime(2026, 2, 24, 17, 0, 0)  # an hour after the last burst
    assert svc.count_log(flt) == 7  # 16:40:00 .. 16:47:54
    clock.now = datetime(2026, 2, 17, 15, 20, 0)
    recent = svc.list_proposals(parse_filter("since:10m until:1m"))
    assert [p.proposal_id[:8] for p in recent] == ["ab185758", "c923d08e"]


def test_a_date_only_until_includes_the_whole_day(svc: ReviewService) -> None:
    day = parse_filter("until:2026-02-17", "log")
    assert svc.count_log(day) == 17  # the last one at 15:35:21
    assert svc.count_log(parse_filter("until:2026-02-17T00:00", "log")) == 0


# --- what a proposal would touch -----------------------------------------------------


def fields(detail: Any) -> dict[str, str]:
    return dict(detail.impact.fields)


def chain(path: Path, tip: str) -> list[sqlite3.Row]:
    """The first-parent chain ending at ``tip``, walked in Python."""
    out = []
    h: str | None = tip
    while h:
        r = rows(path, "SELECT * FROM commits WHERE commit_hash = ?", (h,))[0]
        out.append(r)
        h = r["parent_hash"]
    return out


def test_impact_annotate_shows_the_target_commit(svc: ReviewService, v5_db: Path) -> None:
    d = svc.get_detail("ab18575886fb40119208322d05c0d6a2")
    f = fields(d)
    target = "2380d9d91b0b488769924d0180b399d34824cc4ee8b91433b4bd23abe2ef3190"
    c = rows(v5_db, "SELECT * FROM commits WHERE commit_hash = ?", (target,))[0]
    assert f["commit"] == target
    assert f["content type"] == c["content_type"] == "tool_io"
    assert f["tokens"] == str(c["token_count"]) == "70"
    assert f["current priority"] == "normal (no annotation)"
    assert f["proposed priority"] == "skip"
    assert d.impact.preview and "app/limits/bucket.py" in d.impact.preview
    assert d.impact.warnings == []


def test_impact_annotate_shows_the_current_priority_by_name(svc: ReviewService) -> None:
    # its target already has a SKIP annotation (stored as the enum NAME)
    f = fields(svc.get_detail("8e385b44e74b4dbc9ad356e348cc3a2c"))
    assert f["current priority"] == "skip"
    assert f["proposed priority"] == "skip"


def test_impact_annotate_survives_a_priority_name_it_does_not_know(
    svc: ReviewService, v5_db: Path
) -> None:
    target = "2380d9d91b0b488769924d0180b399d34824cc4ee8b91433b4bd23abe2ef3190"
    write(
        v5_db,
        "INSERT INTO annotations (tract_id, target_hash, priority, reason, created_at)"
        " VALUES ('support-agent', ?, 'URGENT', 'newer tract', '2026-02-24 00:00:00.000000')",
        (target,),
    )
    assert fields(svc.get_detail("ab18575886fb40119208322d05c0d6a2"))["current priority"] == (
        "urgent"
    )


def test_impact_annotate_missing_target_warns(svc: ReviewService, v5_db: Path) -> None:
    params = '{"target_hash": "feedface", "priority": "pinned"}'
    write(
        v5_db,
        "UPDATE policy_proposals SET action_params_json = ? WHERE proposal_id LIKE 'ab185758%'",
        (params,),
    )
    d = svc.get_detail("ab18575886fb40119208322d05c0d6a2")
    assert any("not in this file" in w for w in d.impact.warnings)


def test_impact_branch_shows_the_source_branch_and_tip(svc: ReviewService) -> None:
    f = fields(svc.get_detail("c923d08e9b4e4b0e9e284f9dbdb0db3d"))
    assert f["new branch"] == "tangent/main/20260217-151831"
    assert f["from branch"] == "main"
    assert f["tip commit"] == "867a62f30b231aa1a6c821f918f98509216246c2cd726477498991fd2e9c3a5d"
    assert f["tip content type"] == "session"


def test_impact_archive_shows_the_source_branch_tip_and_size(
    svc: ReviewService, v5_db: Path
) -> None:
    d = svc.get_detail("cd05c8abc3344daab2aae1d3e29e0dd6")
    f = fields(d)
    tip = "5626b76c91e4cbcf6861e8801e1e28c2520f74a2652f4b7a4302eba37c35306d"
    walked = chain(v5_db, tip)
    assert f["source branch"] == "experiment/limits-only"
    assert f["archive as"] == "archive/experiment/limits-only"
    assert f["tip commit"] == tip
    assert f["commits on it"] == str(len(walked)) == "12"
    assert f["tokens on it"] == str(sum(r["token_count"] for r in walked))
    assert d.impact.warnings == []


def test_impact_archive_of_a_vanished_branch_warns(svc: ReviewService, v5_db: Path) -> None:
    write(v5_db, "DELETE FROM refs WHERE ref_name = 'refs/heads/experiment/limits-only'")
    d = svc.get_detail("cd05c8abc3344daab2aae1d3e29e0dd6")
    assert any("does not exist" in w for w in d.impact.warnings)


def test_impact_compress_shows_commit_count_and_tokens(svc: ReviewService, v5_db: Path) -> None:
    d = svc.get_detail("a51b997252074a91b16d1d1afb9e096d")
    f = fields(d)
    tip = rows(
        v5_db,
        "SELECT commit_hash FROM refs WHERE tract_id='support-agent'"
        " AND ref_name='refs/heads/main'",
    )[0][0]
    walked = chain(v5_db, tip)
    assert f["branch"] == "main"
    assert f["commits"] == str(len(walked))
    assert f["tokens"] == str(sum(r["token_count"] for r in walked))
    assert d.impact.preview is not None and d.impact.preview.startswith("Summary so far")


def test_impact_of_an_unknown_action_shows_its_params(demo: ReviewService) -> None:
    (pause,) = demo.list_proposals(parse_filter("action:pause"))
    d = demo.get_detail(pause.proposal_id)
    assert "does not know" in d.impact.title
    assert fields(d)["spent_usd"] == "23.41"
    assert fields(d)["window"] == "24h"


def test_untrusted_text_is_returned_verbatim(demo: ReviewService) -> None:
    """The service does not interpret markup or escapes: the views make them inert."""
    (p,) = demo.list_proposals(parse_filter("URGENT"))
    assert p.reason is not None
    assert "[bold red]URGENT[/]" in p.reason and "\x1b[31m" in p.reason


def test_every_demo_proposal_touches_something_real(demo: ReviewService) -> None:
    for p in demo.iter_proposals(parse_filter("status:pending status:executed")):
        d = demo.get_detail(p.proposal_id)
        assert d.impact.warnings == [], (p.action_type, d.impact.warnings)


# --- ids --------------------------------------------------------------------------------


def test_resolve_id(svc: ReviewService, v5_db: Path) -> None:
    assert svc.resolve_id("ab1857") == "ab18575886fb40119208322d05c0d6a2"
    assert svc.resolve_id("  ab1857 ") == "ab18575886fb40119208322d05c0d6a2"
    full = "58e2078619674953a20586dbdd2e1e6a"
    assert svc.resolve_id(full) == full
    with pytest.raises(ProposalNotFoundError):
        svc.resolve_id("zzz")
    with pytest.raises(ProposalNotFoundError):
        svc.resolve_id("")
    # '0' starts two ids: 019c564c..., 03131e96...
    with pytest.raises(AmbiguousProposalIdError) as err:
        svc.resolve_id("0")
    assert err.value.candidates == [
        "019c564c4f95410e87eabce263b98182",
        "03131e962e7b4ba987ba168d1198b126",
    ]
    assert svc.resolve_id("01") == "019c564c4f95410e87eabce263b98182"
    # an id that is a prefix of another is still reachable by its full text
    write(
        v5_db,
        "INSERT INTO policy_proposals SELECT 'ab1857', tract_id, policy_name,"
        " action_type, action_params_json, reason, status, created_at, resolved_at"
        " FROM policy_proposals WHERE proposal_id LIKE 'ab1857%'",
    )
    assert svc.resolve_id("ab1857") == "ab1857"
    with pytest.raises(AmbiguousProposalIdError):
        svc.resolve_id("ab185")
    with pytest.raises(ProposalNotFoundError):
        svc.get_proposal("ab18")


# --- decisions ------------------------------------------------------------------------


def test_approve_writes_status_time_and_exactly_one_log_row(
    svc: ReviewService, v5_db: Path, clock: Clock
) -> None:
    pid = "ab18575886fb40119208322d05c0d6a2"
    before = log_count(v5_db)
    clock.now = datetime(2026, 2, 25, 12, 34, 56, 789)
    d = svc.approve(pid, "  hide it  ")
    row = proposal_row(v5_db, pid)
    assert (row["status"], row["resolved_at"]) == ("approved", "2026-02-25 12:34:56.000789")
    assert log_count(v5_db) == before + 1
    (log,) = last_log(v5_db)
    assert log["id"] == d.log_id
    assert (log["trigger"], log["outcome"]) == ("review", "approved")
    assert (log["tract_id"], log["policy_name"], log["action_type"]) == (
        "support-agent",
        "flag-large-tool-output",
        "annotate",
    )
    assert log["reason"] == "by alice: hide it"
    assert log["created_at"] == "2026-02-25 12:34:56.000789"
    assert (d.status, d.previous_status, d.resolved_at) == ("approved", "pending", clock.now)


@pytest.mark.parametrize(
    ("note", "logged"),
    [("too early", "by alice: too early"), (None, "by alice"), ("  ", "by alice")],
)
def test_reject_with_and_without_a_reason(
    svc: ReviewService, v5_db: Path, note: str | None, logged: str
) -> None:
    pid = "c923d08e9b4e4b0e9e284f9dbdb0db3d"
    before = log_count(v5_db)
    svc.reject(pid, note)
    row = proposal_row(v5_db, pid)
    assert row["status"] == "rejected" and row["resolved_at"] == format_dt(NOW)
    assert log_count(v5_db) == before + 1
    (log,) = last_log(v5_db)
    assert (log["trigger"], log["outcome"], log["reason"]) == ("review", "rejected", logged)


def test_decision_reason_keeps_untrusted_note_literally(svc: ReviewService, v5_db: Path) -> None:
    svc.reject("c923d08e9b4e4b0e9e284f9dbdb0db3d", "[b]no[/b] \x1b[2J 'quoted' %_")
    assert last_log(v5_db)[0]["reason"] == "by alice: [b]no[/b] \x1b[2J 'quoted' %_"


@pytest.mark.parametrize("first", ["rejected", "approved", "executed"])
def test_conflict_when_another_connection_decided_first(
    svc: ReviewService, v5_db: Path, first: str
) -> None:
    pid = "ab18575886fb40119208322d05c0d6a2"
    write(
        v5_db,
        "UPDATE policy_proposals SET status = ?, resolved_at = '2026-02-25 11:00:00.000000'"
        " WHERE proposal_id = ?",
        (first, pid),
    )
    before_rows, before_log = proposal_row(v5_db, pid), log_count(v5_db)
    for decide in (svc.approve, svc.reject):
        with pytest.raises(ProposalConflictError) as err:
            decide(pid, "late")
        assert err.value.current_status == first
    assert tuple(proposal_row(v5_db, pid)) == tuple(before_rows)
    assert log_count(v5_db) == before_log  # nothing written


def test_two_reviewers_racing_one_wins_and_one_row_is_logged(v5_db: Path) -> None:
    pid = "ab18575886fb40119208322d05c0d6a2"
    before = log_count(v5_db)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def review(i: int) -> None:
        with _Open(v5_db) as s:
            barrier.wait()
            try:
                s.decide(pid, "approved" if i % 2 else "rejected", f"reviewer {i}")
                results.append("won")
            except ProposalConflictError as e:
                results.append(e.current_status)

    threads = [threading.Thread(target=review, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("won") == 1
    status = proposal_row(v5_db, pid)["status"]
    assert sorted(results) == sorted(["won", status, status, status])
    assert log_count(v5_db) == before + 1
    assert last_log(v5_db)[0]["outcome"] == status


def test_deciding_an_unknown_id_raises_not_found(svc: ReviewService, v5_db: Path) -> None:
    before = log_count(v5_db)
    with pytest.raises(ProposalNotFoundError):
        svc.approve("nope")
    assert log_count(v5_db) == before
    with pytest.raises(ValueError):
        svc.decide("ab18575886fb40119208322d05c0d6a2", "executed")


def test_undo_reopens_and_logs(svc: ReviewService, v5_db: Path) -> None:
    pid = "ab18575886fb40119208322d05c0d6a2"
    d = svc.reject(pid, "oops")
    u = svc.undo(d)
    row = proposal_row(v5_db, pid)
    assert (row["status"], row["resolved_at"]) == ("pending", None)
    assert (u.status, u.previous_status) == ("pending", "rejected")
    log = last_log(v5_db)[0]
    assert (log["trigger"], log["outcome"]) == ("review", "reopened")
    assert "undo of rejected" in log["reason"] and "alice" in log["reason"]
    with pytest.raises(ProposalConflictError):  # undo twice: it is pending now
        svc.undo(d)
    # undo after the agent executed it: refused, nothing written
    d = svc.approve(pid)
    write(v5_db, "UPDATE policy_proposals SET status='executed' WHERE proposal_id = ?", (pid,))
    before = log_count(v5_db)
    with pytest.raises(ProposalConflictError) as err:
        svc.undo(d)
    assert err.value.current_status == "executed" and log_count(v5_db) == before


def test_decide_many_reports_per_row(svc: ReviewService, v5_db: Path) -> None:
    ids = pending_ids(v5_db)[:3]
    write(v5_db, "UPDATE policy_proposals SET status='rejected' WHERE proposal_id = ?", (ids[1],))
    before = log_count(v5_db)
    out = svc.decide_many([*ids, "missing"], "approved", "batch")
    assert [o.proposal_id for o in out] == [*ids, "missing"]
    assert [o.ok for o in out] == [True, False, True, False]
    assert out[1].current_status == "rejected"
    assert out[3].error == "not found"
    assert [proposal_row(v5_db, i)["status"] for i in ids] == ["approved", "rejected", "approved"]
    assert log_count(v5_db) == before + 2
    assert {r["reason"] for r in last_log(v5_db, 2)} == {"by alice: batch"}


def test_expire_dry_run_then_real(svc: ReviewService, v5_db: Path) -> None:
    old = [
        r[0]
        for r in rows(
            v5_db,
            "SELECT proposal_id FROM policy_proposals WHERE status='pending'"
            " AND created_at < ? ORDER BY created_at, proposal_id",
            (format_dt(NOW - timedelta(days=7)),),
        )
    ]
    assert 0 < len(old) < svc.count_proposals()
    before = log_count(v5_db)
    dry = svc.expire(timedelta(days=7), dry_run=True)
    assert [p.proposal_id for p in dry] == old
    assert log_count(v5_db) == before
    assert all(proposal_row(v5_db, pid)["status"] == "pending" for pid in old)
    done = svc.expire(timedelta(days=7))
    assert [p.proposal_id for p in done] == old
    for pid in old:
        row = proposal_row(v5_db, pid)
        assert (row["status"], row["resolved_at"]) == ("expired", format_dt(NOW))
    logged = last_log(v5_db, len(old))
    assert log_count(v5_db) == before + len(old)
    assert {(r["trigger"], r["outcome"]) for r in logged} == {("review", "expired")}
    assert all("alice" in r["reason"] for r in logged)
    assert svc.expire(timedelta(days=7)) == []


def test_expire_honours_a_filter(svc: ReviewService, v5_db: Path) -> None:
    done = svc.expire(timedelta(days=1), flt=parse_filter("policy:auto-branch"))
    assert done and {p.policy_name for p in done} == {"auto-branch"}
    assert svc.count_proposals(parse_filter("policy:auto-branch")) == 0
    assert svc.count_proposals(parse_filter("-policy:auto-branch")) > 0


# --- agents -------------------------------------------------------------------------------


def test_claim_execute_fail_release(svc: ReviewService, v5_db: Path) -> None:
    tract = "ee3dd66e5e4946caba1bc52b3bff1b37"
    mine = [p.proposal_id for p in svc.list_proposals(parse_filter(f"tract:{tract}"))]
    assert len(mine) == 4
    assert svc.claim_next(tract) is None  # nothing approved yet
    for pid in mine[:3]:
        svc.approve(pid)
    a = svc.claim_next(tract)
    assert a is not None and a.proposal_id == mine[0] and a.status == "executing"
    b = svc.claim_next(tract, skip=[mine[1]])
    assert b is not None and b.proposal_id == mine[2]
    before = log_count(v5_db)
    done = svc.mark_executed(a.proposal_id, commit_hash="c0ffee")
    assert proposal_row(v5_db, a.proposal_id)["status"] == "executed" == done.status
    log = last_log(v5_db)[0]
    assert (log["trigger"], log["outcome"], log["commit_hash"]) == ("execute", "executed", "c0ffee")
    svc.mark_failed(b.proposal_id, "Branch already exists: tangent/x")
    assert proposal_row(v5_db, b.proposal_id)["status"] == "approved"  # left for a retry
    log = last_log(v5_db)[0]
    assert (log["outcome"], log["error_message"]) == ("error", "Branch already exists: tangent/x")
    assert log_count(v5_db) == before + 2
    c = svc.claim_next(tract)
    assert c is not None
    svc.release(c.proposal_id)
    assert proposal_row(v5_db, c.proposal_id)["status"] == "approved"
    assert log_count(v5_db) == before + 2  # a release is not logged
    with pytest.raises(ProposalConflictError):
        svc.mark_executed(c.proposal_id)  # not claimed


def test_a_claim_is_exactly_once_across_connections(v5_db: Path) -> None:
    tract = "ee3dd66e5e4946caba1bc52b3bff1b37"
    with _Open(v5_db) as one:
        for p in one.list_proposals(parse_filter(f"tract:{tract}")):
            one.approve(p.proposal_id)
    claimed: list[str] = []
    lock = threading.Lock()

    def agent() -> None:
        with _Open(v5_db) as s:
            while (p := s.claim_next(tract)) is not None:
                with lock:
                    claimed.append(p.proposal_id)

    threads = [threading.Thread(target=agent) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == len(set(claimed)) == 4


class _Open:
    """A ReviewService with its own engine (as another process would have)."""

    def __init__(self, path: Path) -> None:
        self.svc = ReviewService.open(path, clock=lambda: NOW, reviewer="agent")

    def __enter__(self) -> ReviewService:
        return self.svc

    def __exit__(self, *exc: object) -> None:
        self.svc.close()


# --- the log ------------------------------------------------------------------------------


def test_log_entries_carry_every_column(svc: ReviewService, v5_db: Path) -> None:
    by_id = {e.id: e for e in svc.list_log(limit=1000)}
    for r in rows(v5_db, "SELECT * FROM policy_log"):
        e = by_id[r["id"]]
        assert (e.tract_id, e.policy_name, e.trigger, e.action_type) == (
            r["tract_id"],
            r["policy_name"],
            r["trigger"],
            r["action_type"],
        )
        assert (e.reason, e.outcome, e.commit_hash, e.error_message) == (
            r["reason"],
            r["outcome"],
            r["commit_hash"],
            r["error_message"],
        )
        assert e.created_at_raw == r["created_at"]


def test_log_stats_buckets_span_the_rows(svc: ReviewService) -> None:
    stats = svc.log_stats(buckets=8)
    assert stats.total == 34 and len(stats.buckets) == 8 and sum(stats.buckets) == 34
    assert stats.start == datetime(2026, 2, 17, 15, 10, 3, 305187)
    assert stats.end == datetime(2026, 2, 24, 16, 47, 54, 133337)
    assert stats.buckets[0] > 0 and stats.buckets[-1] > 0
    empty = svc.log_stats(parse_filter("nothing-matches-this", "log"), buckets=5)
    assert (empty.total, empty.buckets, empty.by_outcome) == (0, [0] * 5, {})


def test_log_facets_are_the_distinct_values(svc: ReviewService, v5_db: Path) -> None:
    facets = svc.log_facets()

    def distinct(col: str) -> list[str]:
        return [r[0] for r in rows(v5_db, f'SELECT DISTINCT "{col}" FROM policy_log ORDER BY 1')]

    assert facets.policies == distinct("policy_name")
    assert facets.outcomes == distinct("outcome")
    assert facets.triggers == distinct("trigger") == ["commit", "compile"]
    assert facets.tracts == distinct("tract_id")
    pf = svc.proposal_facets()
    assert pf.outcomes == ["executed", "pending", "rejected"]


def test_gc_log(svc: ReviewService, v5_db: Path) -> None:
    cut = datetime(2026, 2, 18)
    old = rows(v5_db, "SELECT count(*) FROM policy_log WHERE created_at < ?", (format_dt(cut),))
    n_old = old[0][0]
    assert n_old == 17
    assert svc.gc_log(cut, dry_run=True) == n_old and log_count(v5_db) == 34
    one = svc.gc_log(cut, tract_id="support-agent")
    assert one == 10 and log_count(v5_db) == 24
    assert svc.gc_log(cut) == n_old - one
    assert log_count(v5_db) == 34 - n_old
    assert svc.count_log(parse_filter("until:2026-02-17", "log")) == 0


# --- other processes ------------------------------------------------------------------------


def test_change_watcher_sees_commits_of_other_connections(svc: ReviewService, v5_db: Path) -> None:
    w = svc.watcher()
    try:
        assert w.changed() is False
        write(v5_db, "UPDATE policy_proposals SET status='rejected' WHERE proposal_id LIKE 'ab18%'")
        assert w.changed() is True
        assert w.changed() is False  # once per batch
        svc.approve("c923d08e9b4e4b0e9e284f9dbdb0db3d")  # the service's own engine is "other" too
        assert w.changed() is True
    finally:
        w.close()


def test_wait_for_decision_returns_once_someone_decides(svc: ReviewService, v5_db: Path) -> None:
    pid = "ab18575886fb40119208322d05c0d6a2"

    def reviewer() -> None:
        time.sleep(0.3)
        with _Open(v5_db) as other:
            other.approve(pid, "go")

    t = threading.Thread(target=reviewer)
    start = time.monotonic()
    t.start()
    try:
        p = svc.wait_for_decision(pid, timeout=10, poll=0.02)
    finally:
        t.join()
    assert p.status == "approved"
    assert 0.25 < time.monotonic() - start < 5


def test_wait_for_decision_times_out(svc: ReviewService) -> None:
    start = time.monotonic()
    with pytest.raises(DecisionTimeoutError):
        svc.wait_for_decision("ab18575886fb40119208322d05c0d6a2", timeout=0.2, poll=0.02)
    assert time.monotonic() - start < 2
    decided = svc.wait_for_decision("58e2078619674953a20586dbdd2e1e6a", timeout=0.01)
    assert decided.status == "rejected"  # already decided: returns at once


# --- read-only ---------------------------------------------------------------------------


def test_read_only_refuses_every_write(v5_db: Path) -> None:
    ReviewService.open(v5_db).close()  # migrate/index once, writable
    before = {t: rows(v5_db, f"SELECT * FROM {t}") for t in ("policy_proposals", "policy_log")}
    ro = ReviewService.open(v5_db, read_only=True, clock=lambda: NOW)
    try:
        assert ro.read_only
        pid = "ab18575886fb40119208322d05c0d6a2"
        assert ro.get_detail(pid).proposal.status == "pending"  # reading works
        assert ro.count_log() == 34
        attempts: list[Callable[[], object]] = [
            lambda: ro.approve(pid),
            lambda: ro.reject(pid, "no"),
            lambda: ro.decide_many([pid], "approved"),
            lambda: ro.expire(timedelta(days=1)),
            lambda: ro.claim_next("support-agent"),
            lambda: ro.mark_failed(pid, "x"),
            lambda: ro.release(pid),
            lambda: ro.gc_log(NOW),
        ]
        for attempt in attempts:
            with pytest.raises(ReadOnlyError):
                attempt()
        assert ro.expire(timedelta(days=1), dry_run=True)  # a dry run only reads
        assert ro.gc_log(NOW, dry_run=True) == 34
    finally:
        ro.close()
    after = {t: rows(v5_db, f"SELECT * FROM {t}") for t in ("policy_proposals", "policy_log")}
    assert {t: list(map(tuple, r)) for t, r in after.items()} == {
        t: list(map(tuple, r)) for t, r in before.items()
    }


# --- the demo database ------------------------------------------------------------------------


def test_demo_database_reviews_like_a_real_one(demo: ReviewService, demo_db: Path) -> None:
    listed = demo.list_proposals(limit=1000)
    assert [p.proposal_id for p in listed] == pending_ids(demo_db)
    assert {p.action_type for p in listed} >= {"compress", "annotate", "branch", "archive"}
    assert _walk_forward(demo.list_proposals, 4) == _walk_backward(demo.list_proposals, 4)
    assert demo.count_log() == len(expected_log(demo_db, "", DEMO_NOW)) >= 300
    for text in ("outcome:error", "trigger:compile -policy:cost-guard", "since:2d", "o3-mini"):
        assert [e.id for e in demo.list_log(parse_filter(text, "log"), limit=1000)] == (
            expected_log(demo_db, text, DEMO_NOW)
        )
    first = listed[0]
    d = demo.approve(first.proposal_id, "ok")
    assert demo.list_proposals(limit=1)[0].proposal_id == listed[1].proposal_id
    demo.undo(d)
    assert demo.list_proposals(limit=1)[0].proposal_id == first.proposal_id


def test_content_preview_finds_the_human_text_of_a_payload() -> None:
    """What the detail pane previews of a blob: its text, not its JSON wrapper."""
    from tract_tui.review.impact import content_preview as _content_preview

    def preview(data: object) -> str | None:
        return _content_preview(json.dumps(data))

    assert preview({"content_type": "dialogue", "text": "hello"}) == "hello"
    # a tool result keeps its output one level down, under "payload"
    assert preview({"content_type": "tool_io", "payload": {"stdout": "3 passed"}}) == "3 passed"
    # blank text is not "readable": the preview falls back to the whole JSON
    shown = preview({"text": "  ", "n": 1})
    assert shown is not None and '"n": 1' in shown
    # a payload with nothing readable inside shows the whole blob, not an empty string
    shown = preview({"content_type": "tool_io", "payload": {"matches": [1, 2]}})
    assert shown is not None and "matches" in shown and "tool_io" in shown
    assert preview("bare string") == "bare string"
    assert _content_preview("not json {") == "not json {"
    assert _content_preview(None) is None
