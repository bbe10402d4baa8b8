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

from tract_tui.models.review import Criteria, Order, PendingCount, Proposal
from tract_tui.storage.history import overridden_decisions
from tract_tui.storage.indexes import present_indexes
from tract_tui.storage.rows import (
    PROPOSAL_COLS,
    PROPOSAL_DETAIL_COLS,
    PROPOSAL_LIST_COLS,
    PROPOSAL_ORDER,
    proposal_from,
)
from tract_tui.storage.sql import (
    KeyOrder,
    Where,
    criteria_where,
    format_dt,
    keyset_page,
    keyset_rank,
    marks,
    scalar,
    stream_in_order,
    value_terms,
)

#: The column each filter key names in policy_proposals.
COLUMNS = {"policy": "policy_name", "tract": "tract_id", "action": "action_type"}
TABLE = "policy_proposals"
#: A row's long values, in characters: what one row costs in memory when read whole.
_SIZE = "coalesce(length(action_params_json), 0) + coalesce(length(reason), 0)"
#: The column each sort key leads the order with (age: created_at alone).
SORTS = {"age": None, "action": "action_type", "tract": "tract_id", "policy": "policy_name",
         "decided": "resolved_at"}  # fmt: skip
#: Sort columns that may hold NULL (a decided row whose time was never stored).
NULLABLE_SORTS = {"resolved_at"}
DEFAULT_ORDER = Order()


def order_cols(order: Order) -> tuple[str, ...]:
    lead = SORTS.get(order.key)
    return ((lead,) if lead else ()) + PROPOSAL_ORDER


def order_sql(order: Order, *, reverse: bool = False) -> str:
    return key_order(order).sql(reverse=reverse)


def _select(order: Order) -> str:
    """The columns to read: the sort column's stored value rides along for the key."""
    lead = SORTS.get(order.key)
    return PROPOSAL_LIST_COLS + (f", {lead}" if lead else "")


def key_of(order: Order, p: Proposal) -> tuple[Any, ...]:
    """``p``'s key in ``order`` (from its listing key, which ends with the base order)."""
    base = tuple(p.key[-3:]) if len(p.key) >= 3 else (p.created_at_raw, p.proposal_id)
    lead = SORTS.get(order.key)
    if not lead:
        return base
    if lead not in NULLABLE_SORTS:
        return (getattr(p, lead), *base)
    if len(p.key) == 4:  # read in the decided order: the stored time leads its key
        return tuple(p.key)
    return (None if p.resolved_at is None else format_dt(p.resolved_at), *base)


def where(criteria: Criteria) -> Where:
    """The WHERE clause of a proposals listing: pending unless the criteria name a status."""
    clause = criteria_where(criteria, COLUMNS, ("reason",))
    if "status" in criteria.include or "status" in criteria.exclude:
        value_terms(clause, criteria, "status", "status")
    else:
        clause.terms.insert(0, "status = 'pending'")
    return clause


def _proposals(rows: Sequence[Sequence[Any]], order: Order) -> list[Proposal]:
    """Proposals from rows of :func:`_select`: a sort column's value leads their key."""
    lead = SORTS.get(order.key) is not None
    out = []
    for r in rows:
        p = proposal_from(r[:-1] if lead else r)
        if lead:
            object.__setattr__(p, "key", (r[-1], *p.key))
        out.append(p)
    return out


def key_order(order: Order, nullable: Sequence[bool] = ()) -> KeyOrder:
    """The key columns of ``order`` (a sort column leads; only resolved_at may be NULL)."""
    column = SORTS.get(order.key)
    lead = (column in NULLABLE_SORTS,) if column else ()
    return KeyOrder(order_cols(order), order.descending, (*lead, *nullable))


def page(
    conn: sqlite3.Connection,
    clause: Where,
    *,
    after: Sequence[Any] | None = None,
    before: Sequence[Any] | None = None,
    limit: int = 100,
    from_end: bool = False,
    nullable: Sequence[bool] = (),
    order: Order = DEFAULT_ORDER,
) -> list[Proposal]:
    """A page of the listing, in ``order``, by key (see :attr:`Proposal.key`).

    ``after`` = the key of the last row seen; ``before`` = the first row's
    (the rows just before it, returned in listing order too); ``from_end`` =
    the last page. ``nullable`` says which key columns may hold NULL.
    """
    rows = keyset_page(conn, _select(order), TABLE, clause, key_order(order, nullable),
                       after=after, before=before, limit=limit, from_end=from_end)  # fmt: skip
    return _proposals(rows, order)


def stream(conn: sqlite3.Connection, clause: Where, *, whole: bool = True) -> Iterator[Proposal]:
    """Every row of the listing in order, from one cursor (one row in memory at a time)."""
    cols = PROPOSAL_COLS if whole else PROPOSAL_LIST_COLS
    rows = stream_in_order(conn, cols, TABLE, clause, order_sql(DEFAULT_ORDER), size=_SIZE)
    yield from map(proposal_from, rows)


#: The columns of :func:`stream_raw`: a proposal's stored values, whole, then whether its
#: params are valid JSON text (``json_valid``) and their storage type (``typeof``).
RAW_COLS = (
    "proposal_id, tract_id, policy_name, action_type, action_params_json, reason, status,"
    " created_at, resolved_at, json_valid(action_params_json), typeof(action_params_json)"
)


def stream_raw(conn: sqlite3.Connection, clause: Where) -> Iterator[tuple[Any, ...]]:
    """Every listed row as stored (see :data:`RAW_COLS`), in order, from one cursor.

    For writers of JSON that can pass valid JSON text through untouched. Each
    row ends with its ``conflict`` flag (history.overridden_decisions),
    looked for once, at the first decided row: a pending listing never pays.
    """
    conflicts: set[str] | None = None
    rows = stream_in_order(conn, RAW_COLS, TABLE, clause, order_sql(DEFAULT_ORDER), size=_SIZE)
    for row in rows:
        decided = row[6] != "pending"
        if decided and conflicts is None:
            conflicts = overridden_decisions(conn)
        yield (*row, decided and conflicts is not None and row[0] in conflicts)


def rank(
    conn: sqlite3.Connection,
    clause: Where,
    key: Sequence[Any],
    nullable: Sequence[bool] = (),
    order: Order = DEFAULT_ORDER,
) -> int:
    """How many listed proposals come before the row with this key (its row index)."""
    return keyset_rank(conn, TABLE, clause, key_order(order, nullable), key)


def at(
    conn: sqlite3.Connection,
    clause: Where,
    offset: int,
    limit: int,
    order: Order = DEFAULT_ORDER,
) -> list[Proposal]:
    """Rows ``offset .. offset+limit`` of the listing (for a virtual table's far jumps)."""
    sql = f"SELECT {_select(order)} FROM {TABLE}{clause.sql()} {order_sql(order)} LIMIT ? OFFSET ?"
    rows = conn.execute(sql, [*clause.params, limit, max(offset, 0)]).fetchall()
    return _proposals(rows, order)


def ids(conn: sqlite3.Connection, clause: Where, limit: int) -> list[str]:
    """The ids of the listing (all of them, up to ``limit``): for marking every match."""
    scoped = clause.copy().add("proposal_id IS NOT NULL")
    sql = f"SELECT proposal_id FROM {TABLE}{scoped.sql()} {order_sql(DEFAULT_ORDER)} LIMIT ?"
    return [str(r[0]) for r in conn.execute(sql, [*scoped.params, limit])]


def count(conn: sqlite3.Connection, clause: Where) -> int:
    return int(scalar(conn, f"SELECT count(*) FROM {TABLE}{clause.sql()}", clause.params))


def count_by(conn: sqlite3.Connection, col: str, id_list: Sequence[str]) -> dict[str, int]:
    """How many of these proposals have each value of ``col`` (action_type, policy_name)."""
    counts: dict[str, int] = {}
    for start in range(0, len(id_list), 500):
        chunk = list(id_list[start : start + 500])
        sql = (
            f"SELECT {col}, count(*) FROM {TABLE} WHERE proposal_id IN ({marks(len(chunk))})"
            f" GROUP BY {col}"
        )
        for value, n in conn.execute(sql, chunk):
            counts[str(value)] = counts.get(str(value), 0) + int(n)
    return counts


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


def duplicates(conn: sqlite3.Connection, p: Proposal) -> list[str]:
    """Other proposals that would do what ``p`` does for its tract.

    The same policy's approved or executing ones (tract only suppresses a
    policy while it has a *pending* proposal, so approving one lets it
    propose again), and pending ones with the same action and params.
    """
    sql = (
        f"SELECT proposal_id FROM {TABLE} WHERE tract_id = ? AND proposal_id IS NOT ?"
        " AND ((policy_name = ? AND status IN ('approved', 'executing'))"
        "  OR (status = 'pending' AND action_type = ? AND action_params_json IS ?))"
        " ORDER BY created_at, proposal_id"
    )
    params = (p.tract_id, p.proposal_id or None, p.policy_name, p.action_type, p.params_raw)
    return [str(r[0]) for r in conn.execute(sql, params) if r[0] is not None]


#: tract-tui's index that serves the oldest-pending-first listing (storage/indexes.py).
OLDEST_PENDING_INDEX = "ix_tui_proposals_status_time"
#: From this many proposal rowids on, a never-indexed file's first screen shows the rows
#: inserted first while the exact page is read (:func:`first_inserted_pending`): the
#: full scan that page needs costs about 50 ms here, 0.6-0.85 s at 1.5M rows.
PROVISIONAL_FROM_ROWS = 100_000
#: More tracts than this, and reading each one's first rows stops being cheap.
PROVISIONAL_MAX_TRACTS = 2_000
#: The tract library's own index on (tract_id, status): within one tract and status its
#: entries are in rowid order, so the first pending rows a tract inserted are its first
#: entries there.
LIBRARY_STATUS_INDEX = "ix_policy_proposals_tract_status"


def first_inserted_pending(
    conn: sqlite3.Connection, limit: int, *, max_tracts: int = PROVISIONAL_MAX_TRACTS
) -> list[Proposal] | None:
    """The ``limit`` pending proposals inserted first, in listing order; None if not needed.

    What a console shows while the exact oldest-first page of a large file
    tract-tui never indexed is read (a full scan: 0.6-0.85 s over 1.5M
    proposals). The library inserts each proposal as it is made, so the rows
    inserted first are, in its files, the oldest; the caller says so on
    screen and replaces them with the exact page. Read with seeks only: the
    tracts one by one through the library's index (at most ``max_tracts`` of
    them), each tract's first ``limit`` pending rowids from its
    (tract_id, status) entries, the ``limit`` lowest of those.

    None when the exact page is cheap (``ix_tui_proposals_status_time`` is
    there, or there are fewer than :data:`PROVISIONAL_FROM_ROWS` rowids), or
    when the library's index is absent or unusable, or there are more tracts.
    """
    if OLDEST_PENDING_INDEX in present_indexes(conn):
        return None
    top = conn.execute(f"SELECT max(rowid) FROM {TABLE}").fetchone()[0]
    if not isinstance(top, int) or top < PROVISIONAL_FROM_ROWS:
        return None
    tracts: list[Any] = []
    try:
        nxt = conn.execute(f"SELECT min(tract_id) FROM {TABLE}").fetchone()[0]
        while nxt is not None:
            if len(tracts) == max_tracts:
                return None
            tracts.append(nxt)
            nxt = conn.execute(
                f"SELECT min(tract_id) FROM {TABLE} WHERE tract_id > ?", (nxt,)
            ).fetchone()[0]
        sql = (
            f"SELECT rowid FROM {TABLE} INDEXED BY {LIBRARY_STATUS_INDEX}"
            " WHERE tract_id IS ? AND status = 'pending' ORDER BY rowid LIMIT ?"
        )
        rowids: list[int] = []
        for tract in [*tracts, None]:  # None: rows of a foreign table without a tract
            rowids.extend(r[0] for r in conn.execute(sql, (tract, limit)))
    except sqlite3.OperationalError:  # no such index, or it cannot serve the query
        return None
    first = sorted(rowids)[:limit]
    order = DEFAULT_ORDER
    rows = conn.execute(
        f"SELECT {_select(order)} FROM {TABLE} WHERE rowid IN ({marks(len(first))})"
        f" {order_sql(order)}",
        first,
    ).fetchall()
    return _proposals(rows, order)
