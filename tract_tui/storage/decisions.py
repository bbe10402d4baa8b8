"""The SQL of a decision: a conditional UPDATE and its log row, in the caller's transaction.

:func:`apply` is the only writer of ``policy_proposals.status``. It changes
the row only if its status is one the transition expects; when no row
changed it writes nothing and raises with the status it found, so a caller
that came second learns what happened instead of overwriting it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from tract_tui.exceptions import ProposalConflictError, ProposalNotFoundError
from tract_tui.models.record import Record
from tract_tui.models.review import Decision, Transition, proposal_trailer
from tract_tui.storage.rows import (
    CANONICAL_SQL,
    parse_stored_time,
)
from tract_tui.storage.sql import Where, format_dt, marks, scalar

LOG_INSERT = (
    'INSERT INTO policy_log (tract_id, policy_name, "trigger", action_type, reason, outcome,'
    " commit_hash, error_message, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class Target(Record):
    """Which proposal a decision is about: by id, or by rowid (a row stored without an id)."""

    proposal_id: str | None
    rowid: int | None
    _fields = ("proposal_id", "rowid")

    def __init__(self, proposal_id: str | None = None, rowid: int | None = None) -> None:
        self.__dict__.update(proposal_id=proposal_id, rowid=rowid)

    def sql(self) -> tuple[str, object]:
        if self.proposal_id is not None:
            return "proposal_id = ?", self.proposal_id
        return "rowid = ?", self.rowid

    @property
    def label(self) -> str:
        return self.proposal_id if self.proposal_id is not None else f"(row {self.rowid})"


def apply(
    conn: sqlite3.Connection,
    transition: Transition,
    target: Target,
    *,
    when: datetime,
    reason: str | None,
    commit_hash: str | None = None,
    error_message: str | None = None,
) -> Decision:
    """Apply ``transition`` to one proposal inside the caller's write transaction.

    Raises :class:`ProposalConflictError` (with the status found) or
    :class:`ProposalNotFoundError` when the row is not in an expected state;
    nothing is written then.
    """
    where, ident = target.sql()
    stamp = format_dt(when)
    previous = transition.expected[0] if len(transition.expected) == 1 else None
    if previous is None:
        previous = _status(conn, where, ident, target)
    resolved = {"set": ", resolved_at = ?", "clear": ", resolved_at = NULL", "keep": ""}
    stamp_param = (stamp,) if transition.resolved_at == "set" else ()
    changed = conn.execute(
        f"UPDATE policy_proposals SET status = ?{resolved[transition.resolved_at]}"
        f" WHERE {where} AND status IN ({marks(len(transition.expected))})"
        " RETURNING proposal_id, tract_id, policy_name, action_type",
        (transition.new_status, *stamp_param, ident, *transition.expected),
    ).fetchall()
    if not changed:
        current = _status(conn, where, ident, target)
        raise ProposalConflictError(target.label, current, "/".join(transition.expected))
    pid, tract_id, policy_name, action_type = changed[0]
    log_id = 0
    if transition.outcome is not None:
        text = (reason or "") + proposal_trailer(pid if pid is not None else target.label)
        row = (tract_id, policy_name, transition.trigger, action_type, text,
               transition.outcome, commit_hash, error_message, stamp)  # fmt: skip
        log_id = int(conn.execute(LOG_INSERT, row).lastrowid or 0)
    return Decision(
        proposal_id=pid if pid is not None else "",
        status=transition.new_status,
        previous_status=previous,
        resolved_at=when if transition.resolved_at == "set" else None,
        log_id=log_id,
        tract_id=tract_id,
        policy_name=policy_name,
    )


def _status(conn: sqlite3.Connection, where: str, ident: object, target: Target) -> str:
    found = scalar(conn, f"SELECT status FROM policy_proposals WHERE {where}", (ident,))
    if found is None:
        if scalar(conn, f"SELECT 1 FROM policy_proposals WHERE {where}", (ident,)) is None:
            raise ProposalNotFoundError(target.label)
        return "(none)"
    return str(found)


def acted_after(conn: sqlite3.Connection, proposal_id: str, log_id: int) -> str | None:
    """The outcome of an agent's execute/error row logged for this proposal after ``log_id``."""
    trailer = proposal_trailer(proposal_id)
    row = conn.execute(
        "SELECT outcome FROM policy_log WHERE id > ? AND outcome IN ('executed', 'error')"
        " AND substr(reason, -?) = ? ORDER BY id LIMIT 1",
        (log_id, len(trailer), trailer),
    ).fetchone()
    return None if row is None else str(row[0])


def next_claimable(conn: sqlite3.Connection, tract_id: str, skip: Sequence[str]) -> str | None:
    """The oldest approved proposal of ``tract_id`` not in ``skip``."""
    terms = ["tract_id = ?", "status = 'approved'", "proposal_id IS NOT NULL"]
    params: list[object] = [tract_id]
    if skip:
        terms.append(f"proposal_id NOT IN ({marks(len(skip))})")
        params.extend(skip)
    sql = (
        f"SELECT proposal_id FROM policy_proposals WHERE {' AND '.join(terms)}"
        " ORDER BY created_at, proposal_id LIMIT 1"
    )
    found = scalar(conn, sql, params)
    return None if found is None else str(found)


def older_canonical(
    conn: sqlite3.Connection, table: str, clause: Where, cutoff: datetime, limit: int
) -> list[int]:
    """Up to ``limit`` rowids, oldest first, of rows in tract's time text created before ``cutoff``.

    Text in tract's own form sorts as time, so this is an index range; every
    other form is left to :func:`older_otherwise`.
    """
    scoped = clause.copy().add("created_at < ?", format_dt(cutoff)).add(CANONICAL_SQL)
    sql = f"SELECT rowid FROM {table}{scoped.sql()} ORDER BY created_at LIMIT ?"
    return [int(r[0]) for r in conn.execute(sql, [*scoped.params, limit])]


def count_newer(conn: sqlite3.Connection, table: str, clause: Where, when: datetime) -> int:
    """How many rows were created after ``when``, whatever form their time is stored in."""
    scoped = clause.copy().add("created_at > ?", format_dt(when)).add(CANONICAL_SQL)
    n = int(scalar(conn, f"SELECT count(*) FROM {table}{scoped.sql()}", scoped.params))
    others = clause.copy().add(f"NOT {CANONICAL_SQL}")
    sql = f"SELECT created_at FROM {table}{others.sql()}"
    for (raw,) in conn.execute(sql, others.params):
        stamp = parse_stored_time(raw)
        n += stamp is not None and stamp > when
    return n


def older_otherwise(
    conn: sqlite3.Connection, table: str, clause: Where, cutoff: datetime
) -> tuple[list[int], int]:
    """(rowids of rows whose time is in another form and before ``cutoff``, rows unreadable).

    Epoch numbers, ISO with ``T`` and offsets are parsed and compared as
    times (one pass over the rows not in tract's form). A row whose time
    cannot be read (NULL, a BLOB, garbage) is never picked, only counted.
    """
    scoped = clause.copy().add(f"NOT {CANONICAL_SQL}")
    rowids: list[int] = []
    unreadable = 0
    for rowid, raw in conn.execute(
        f"SELECT rowid, created_at FROM {table}{scoped.sql()}", scoped.params
    ):
        when = parse_stored_time(raw)
        if when is None:
            unreadable += 1
        elif when < cutoff:
            rowids.append(int(rowid))
    return rowids, unreadable
