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

from tract_tui.models.review import (
    Decided,
    LogEntry,
    Proposal,
    proposal_trailer,
    reviewer_and_note,
    split_trailer,
)
from tract_tui.storage.rows import LOG_COLS, log_from, parse_stored_time


def executed_though_rejected(conn: sqlite3.Connection) -> set[str]:
    """Ids of the proposals executed although tract-tui logged their rejection.

    The library's approve checks the status, then updates without a
    condition: it can execute a proposal a reviewer rejected a moment before.
    One pass over the log's ``rejected`` rows (``ix_tui_log_outcome_time``),
    each trailer read as :func:`split_trailer` reads it, each proposal it
    names looked up by its key: the same test as :func:`decided` makes for
    one proposal, for a whole listing at once. (Made per row, inside the
    listing's query, it cost a range scan of the log for every executed row:
    minutes for ``list --json`` at a million log rows.) Conflicts are rare:
    the set is small, and the rows are streamed.
    """
    found: set[str] = set()
    check = (
        "SELECT 1 FROM policy_proposals WHERE proposal_id = ? AND status = 'executed'"
        " AND tract_id = ? AND policy_name = ? AND created_at <= ?"
    )
    rows = conn.execute(
        "SELECT reason, tract_id, policy_name, created_at FROM policy_log"
        " WHERE outcome = 'rejected'"
    )
    for reason, tract, policy, at in rows:
        pid = split_trailer(reason)[1] if isinstance(reason, str) else None
        if pid is None or pid in found:
            continue
        if conn.execute(check, (pid, tract, policy, at)).fetchone() is not None:
            found.add(pid)
    return found


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
    """Who decided ``p`` and how, from the last ``review`` row tract-tui logged for it.

    Looked for between its creation and its ``resolved_at`` (a decision's row
    carries that very time; a later execution moves ``resolved_at`` on). None
    for a pending proposal.
    """
    if p.status == "pending":
        return None
    trailer = proposal_trailer(p.proposal_id)
    resolved = _resolved_raw(conn, p)
    window = " AND created_at <= ?" if resolved is not None else ""
    sql = (
        "SELECT reason, outcome, created_at FROM policy_log WHERE \"trigger\" = 'review'"
        f" AND policy_name = ? AND created_at >= ?{window} AND tract_id = ?"
        " AND substr(reason, -?) = ? AND outcome IN ('approved', 'rejected', 'expired')"
        " ORDER BY created_at DESC, id DESC LIMIT 1"
    )
    params: list[Any] = [p.policy_name, p.created_at_raw]
    if resolved is not None:
        params.append(resolved)
    params += [p.tract_id, len(trailer), trailer]
    row = conn.execute(sql, params).fetchone()
    conflict = p.status == "executed" and _rejected_here(conn, p, trailer)
    if row is None:
        return Decided(None, None, p.resolved_at, p.status, conflict, recorded=False)
    by, note = reviewer_and_note(row[0])
    return Decided(by, note, parse_stored_time(row[2]), str(row[1]), conflict)


def _resolved_raw(conn: sqlite3.Connection, p: Proposal) -> Any:
    found = conn.execute(
        "SELECT resolved_at FROM policy_proposals WHERE proposal_id = ?", (p.proposal_id,)
    ).fetchone()
    return None if found is None else found[0]


def _rejected_here(conn: sqlite3.Connection, p: Proposal, trailer: str) -> bool:
    sql = (
        "SELECT 1 FROM policy_log WHERE policy_name = ? AND created_at >= ? AND tract_id = ?"
        " AND outcome = 'rejected' AND substr(reason, -?) = ? LIMIT 1"
    )
    params = (p.policy_name, p.created_at_raw, p.tract_id, len(trailer), trailer)
    return conn.execute(sql, params).fetchone() is not None
