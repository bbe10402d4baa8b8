"""The SQL of a proposal's history: the log rows tract-tui wrote for it, found by their trailer.

Every row tract-tui logs for a proposal ends with the trailer
``\\n[tract-tui proposal "<id>"]`` (models/review.proposal_trailer), a line
the tract library never reads. A proposal's rows are found by that suffix
among the rows of its policy and tract, from its creation on: a range of
``ix_tui_log_policy_time``. The library's own approve and reject write no
row at all, so a decided proposal without one was decided outside tract-tui.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tract_tui.models.history import Decided, reviewer_and_note
from tract_tui.models.review import LogEntry, Proposal, proposal_trailer, split_trailer
from tract_tui.storage.rows import LOG_COLS, log_from, parse_stored_time

#: The statuses each decision tract-tui logs can lead to. Any other (pending aside) means
#: something overrode the decision: the tract library's approve checks the status and then
#: updates without a condition (it can execute a proposal rejected a moment before), and its
#: reject checks the row its session read earlier (it can reject one approved since).
LEADS_TO: dict[str, tuple[str, ...]] = {
    "approved": ("approved", "executing", "executed"),
    "rejected": ("rejected",),
    "expired": ("expired",),
}
#: The review rows that make or undo a decision ("reopened": an undo back to pending).
_DECISION_ROWS = "('approved', 'rejected', 'expired', 'reopened')"


def overridden_decisions(conn: sqlite3.Connection) -> set[str]:
    """Ids of the proposals whose status contradicts the last decision tract-tui logged.

    One pass over the log's decision rows (``ix_tui_log_outcome_time``), each
    trailer read as :func:`split_trailer` reads it and the proposal it names
    looked up by its key; a status this row's decision cannot lead to makes
    a candidate, which counts only if this decision is still the last one
    tract-tui logged for it (an undo, or a later decision, may follow).
    The same test as :func:`decided` makes for one proposal, for a whole
    listing at once. (Made per row, inside the listing's query, it cost a
    range scan of the log for every decided row: minutes for ``list --json``
    at a million log rows.) Conflicts are rare: the set is small, and the
    rows are streamed.
    """
    check = (
        "SELECT status, created_at, resolved_at FROM policy_proposals WHERE proposal_id = ?"
        " AND tract_id = ? AND policy_name = ? AND created_at <= ?"
    )
    rows = conn.execute(
        "SELECT reason, tract_id, policy_name, created_at, outcome FROM policy_log"
        " WHERE outcome IN ('approved', 'rejected', 'expired') AND \"trigger\" = 'review'"
    )
    found: set[str] = set()
    for reason, tract, policy, at, outcome in rows:
        pid = split_trailer(reason)[1] if isinstance(reason, str) else None
        if pid is None or pid in found:
            continue
        hit = conn.execute(check, (pid, tract, policy, at)).fetchone()
        if hit is None or not _contradicts(str(hit[0]), outcome):
            continue
        last = _last_decision(conn, pid, tract, policy, hit[1], hit[2])
        if last is not None and _contradicts(str(hit[0]), last[1]):
            found.add(pid)
    return found


def _contradicts(status: str, outcome: Any) -> bool:
    """``status`` is not one that tract-tui's decision ``outcome`` can lead to."""
    return outcome in LEADS_TO and status != "pending" and status not in LEADS_TO[outcome]


def _last_decision(
    conn: sqlite3.Connection, pid: str, tract: Any, policy: Any, created: Any, resolved: Any
) -> tuple[Any, str, Any] | None:
    """(reason, outcome, created_at) of the last decision row tract-tui logged for ``pid``.

    Looked for between its creation and its ``resolved_at`` (a decision's row
    carries that very time; a later execution moves ``resolved_at`` on).
    None if there is none, or the last one undid a decision ("reopened"):
    then no decision of tract-tui's stands.
    """
    trailer = proposal_trailer(pid)
    window = " AND created_at <= ?" if resolved is not None else ""
    sql = (
        "SELECT reason, outcome, created_at FROM policy_log WHERE \"trigger\" = 'review'"
        f" AND policy_name = ? AND created_at >= ?{window} AND tract_id = ?"
        f" AND substr(reason, -?) = ? AND outcome IN {_DECISION_ROWS}"
        " ORDER BY created_at DESC, id DESC LIMIT 1"
    )
    params: list[Any] = [policy, created]
    if resolved is not None:
        params.append(resolved)
    params += [tract, len(trailer), trailer]
    row = conn.execute(sql, params).fetchone()
    if row is None or row[1] == "reopened":
        return None
    return row[0], str(row[1]), row[2]


def trail(conn: sqlite3.Connection, p: Proposal, limit: int = 200) -> list[LogEntry]:
    """The rows tract-tui logged for ``p``, oldest first (decisions, executions, errors)."""
    trailer = proposal_trailer(p.proposal_id)
    sql = (
        f"SELECT {LOG_COLS} FROM policy_log WHERE policy_name = ? AND created_at >= ?"
        " AND tract_id = ? AND substr(reason, -?) = ? ORDER BY created_at, id LIMIT ?"
    )
    params = (p.policy_name, p.created_at_raw, p.tract_id, len(trailer), trailer, limit)
    return [log_from(r) for r in conn.execute(sql, params)]


def decided(conn: sqlite3.Connection, p: Proposal) -> Decided | None:
    """Who decided ``p`` and how, from the last decision row tract-tui logged for it.

    None for a pending proposal. Decided outside tract-tui when no such row
    stands (none, or an undo last); a conflict when ``p``'s status is not one
    that decision leads to (:data:`LEADS_TO`).
    """
    if p.status == "pending":
        return None
    row = _last_decision(
        conn, p.proposal_id, p.tract_id, p.policy_name, p.created_at_raw, _resolved_raw(conn, p)
    )
    if row is None:
        return Decided(None, None, p.resolved_at, p.status, recorded=False)
    by, note = reviewer_and_note(row[0])
    return Decided(by, note, parse_stored_time(row[2]), row[1], _contradicts(p.status, row[1]))


def _resolved_raw(conn: sqlite3.Connection, p: Proposal) -> Any:
    found = conn.execute(
        "SELECT resolved_at FROM policy_proposals WHERE proposal_id = ?", (p.proposal_id,)
    ).fetchone()
    return None if found is None else found[0]
