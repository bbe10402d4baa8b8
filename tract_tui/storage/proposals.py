"""The SQL of listing proposals: pages by key, ranks, counts, one row, id prefixes.

Every function takes an open connection (the pool's read transaction), so a
caller can run several in one snapshot. Listings are ordered by
``(created_at, proposal_id, rowid)``: the rowid breaks ties between rows
that share a time and an id (a foreign table may hold NULL or repeated
ids), so keyset paging returns every row exactly once, whatever the
columns hold; ``ix_tui_proposals_status_time`` serves that order (an index
entry ends with the rowid).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from tract_tui.models.review import Criteria, PendingCount, Proposal
from tract_tui.storage.rows import (
    PROPOSAL_COLS,
    PROPOSAL_DETAIL_COLS,
    PROPOSAL_LIST_COLS,
    PROPOSAL_ORDER,
    proposal_from,
)
from tract_tui.storage.sql import Where, criteria_where, keyset, scalar, value_terms

#: The column each filter key names in policy_proposals.
COLUMNS = {"policy": "policy_name", "tract": "tract_id", "action": "action_type"}
TABLE = "policy_proposals"
_ORDER_ASC = "ORDER BY created_at, proposal_id, rowid"
_ORDER_DESC = "ORDER BY created_at DESC, proposal_id DESC, rowid DESC"


def where(criteria: Criteria) -> Where:
    """The WHERE clause of a proposals listing: pending unless the criteria name a status."""
    clause = criteria_where(criteria, COLUMNS, ("reason",))
    if "status" in criteria.include or "status" in criteria.exclude:
        value_terms(clause, criteria, "status", "status")
    else:
        clause.terms.insert(0, "status = 'pending'")
    return clause


def page(
    conn: sqlite3.Connection,
    clause: Where,
    *,
    after: Sequence[Any] | None = None,
    before: Sequence[Any] | None = None,
    limit: int = 100,
    from_end: bool = False,
    nullable: Sequence[bool] = (),
) -> list[Proposal]:
    """A page of the listing, oldest first, by key (see :attr:`Proposal.key`).

    ``after`` = the key of the last row seen; ``before`` = the first row's
    (newer rows, returned in ascending order too); ``from_end`` = the last
    page. ``nullable`` says which key columns may hold NULL.
    """
    clause = clause.copy()
    if after is not None:
        clause.add(*_bound(after, True, nullable))
    if before is not None:
        clause.add(*_bound(before, False, nullable))
    descending = from_end or before is not None
    sql = (
        f"SELECT {PROPOSAL_LIST_COLS} FROM {TABLE}{clause.sql()}"
        f" {_ORDER_DESC if descending else _ORDER_ASC} LIMIT ?"
    )
    rows = [proposal_from(r) for r in conn.execute(sql, [*clause.params, limit])]
    if descending:
        rows.reverse()
    return rows


def _bound(key: Sequence[Any], after: bool, nullable: Sequence[bool]) -> tuple[str, ...]:
    sql, params = keyset(PROPOSAL_ORDER[: len(key)], key, after=after, nullable=nullable)
    return (sql, *params)


def stream(conn: sqlite3.Connection, clause: Where, *, whole: bool = True) -> Iterator[Proposal]:
    """Every row of the listing in order, from one cursor (one row in memory at a time)."""
    cols = PROPOSAL_COLS if whole else PROPOSAL_LIST_COLS
    sql = f"SELECT {cols} FROM {TABLE}{clause.sql()} {_ORDER_ASC}"
    for row in conn.execute(sql, clause.params):
        yield proposal_from(row)


def rank(
    conn: sqlite3.Connection, clause: Where, key: Sequence[Any], nullable: Sequence[bool] = ()
) -> int:
    """How many listed proposals come before the row with this key (its row index)."""
    scoped = clause.copy().add(*_bound(key, False, nullable))
    return int(scalar(conn, f"SELECT count(*) FROM {TABLE}{scoped.sql()}", scoped.params))


def at(conn: sqlite3.Connection, clause: Where, offset: int, limit: int) -> list[Proposal]:
    """Rows ``offset .. offset+limit`` of the listing (for a virtual table's far jumps)."""
    sql = f"SELECT {PROPOSAL_LIST_COLS} FROM {TABLE}{clause.sql()} {_ORDER_ASC} LIMIT ? OFFSET ?"
    params = [*clause.params, limit, max(offset, 0)]
    return [proposal_from(r) for r in conn.execute(sql, params)]


def count(conn: sqlite3.Connection, clause: Where) -> int:
    return int(scalar(conn, f"SELECT count(*) FROM {TABLE}{clause.sql()}", clause.params))


def pending_counts(conn: sqlite3.Connection) -> list[PendingCount]:
    """Pending proposals per (tract, policy), most first."""
    sql = (
        f"SELECT tract_id, policy_name, count(*) AS n FROM {TABLE}"
        " WHERE status = 'pending' GROUP BY tract_id, policy_name"
        " ORDER BY n DESC, tract_id, policy_name"
    )
    return [PendingCount(str(t), str(p), int(n)) for t, p, n in conn.execute(sql)]


def get(conn: sqlite3.Connection, proposal_id: str, *, whole: bool = False) -> Proposal | None:
    """The proposal with exactly this id (its long values cut for the detail, unless ``whole``)."""
    cols = PROPOSAL_COLS if whole else PROPOSAL_DETAIL_COLS
    row = conn.execute(f"SELECT {cols} FROM {TABLE} WHERE proposal_id = ?", (proposal_id,))
    found = row.fetchone()
    return None if found is None else proposal_from(found)


def status_of(conn: sqlite3.Connection, proposal_id: str) -> str | None:
    row = conn.execute(f"SELECT status FROM {TABLE} WHERE proposal_id = ?", (proposal_id,))
    found = row.fetchone()
    return None if found is None else str(found[0])


def ids_with_prefix(conn: sqlite3.Connection, prefix: str, limit: int = 20) -> list[str]:
    """The id equal to ``prefix`` alone, else up to ``limit`` ids starting with it.

    Compared byte for byte, as given (no stripping, no Unicode folding): an
    exact id is never mapped to another one.
    """
    exact = conn.execute(f"SELECT proposal_id FROM {TABLE} WHERE proposal_id = ?", (prefix,))
    if exact.fetchone() is not None:
        return [prefix]
    nxt = ord(prefix[-1]) + 1
    if nxt <= 0x10FFFF and not 0xD800 <= nxt <= 0xDFFF:
        in_range, bound = "proposal_id < ?", prefix[:-1] + chr(nxt)
    else:  # no encodable character sorts right after it: compare the prefix itself
        in_range, bound = f"substr(proposal_id, 1, {len(prefix)}) = ?", prefix
    sql = (
        f"SELECT proposal_id FROM {TABLE} WHERE proposal_id >= ? AND {in_range}"
        " ORDER BY proposal_id LIMIT ?"
    )
    return [str(r[0]) for r in conn.execute(sql, (prefix, bound, limit))]


def pending_of(conn: sqlite3.Connection, tract_id: str, policy_name: str) -> list[str]:
    """Ids of another kind of "in flight" proposal: approved or executing ones of one policy."""
    sql = (
        f"SELECT proposal_id FROM {TABLE} WHERE tract_id = ? AND policy_name = ?"
        " AND status IN ('approved', 'executing') ORDER BY created_at, proposal_id"
    )
    return [str(r[0]) for r in conn.execute(sql, (tract_id, policy_name)) if r[0] is not None]
