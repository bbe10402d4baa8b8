"""The SQL of the policy log: pages newest first, ranks, counts, facets, batched deletes.

Every function takes an open connection. Free words go through the search
cache (:mod:`tract_tui.storage.search`) when it narrows the rows enough;
the ``LIKE`` terms always stay, so the answer never depends on the cache.
The statistics (counts per outcome, the sparkline) live in
:mod:`tract_tui.storage.logstats`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tract_tui.models.review import Criteria, LogEntry, LogFacets
from tract_tui.storage.rows import LOG_COLS, LOG_ORDER, log_from
from tract_tui.storage.sql import (
    KeyOrder,
    Where,
    criteria_where,
    distinct,
    keyset_page,
    keyset_rank,
    scalar,
    stream_in_order,
)

if TYPE_CHECKING:
    from tract_tui.storage.search import SearchIndex

#: The column each filter key names in policy_log.
COLUMNS = {
    "policy": "policy_name",
    "tract": "tract_id",
    "outcome": "outcome",
    "trigger": '"trigger"',
    "action": "action_type",
}
TEXT_COLUMNS = ("reason", "error_message")
TABLE = "policy_log"
_NEWEST_FIRST = "ORDER BY created_at DESC, id DESC"
#: A row's long values, in characters: what one row costs in memory when read whole.
_SIZE = "coalesce(length(reason), 0) + coalesce(length(error_message), 0)"
Cancelled = Callable[[], bool]

#: The search index's prefilter of free words: the rows not indexed yet (newer than
#: indexed_max), and the candidates among the others.
CANDIDATES_TERM = "(id > ? OR id IN (SELECT value FROM json_each(?)))"
#: A listing with the search index scans every row not indexed yet, then sorts what
#: matched; without it, a scan newest first stops once a page is full. Up to this
#: many rows not indexed, the first always wins.
TAIL_ROWS = 20_000
#: The page the estimate of a listing's scan assumes (the console's page size).
PAGE_ROWS = 100


def where(
    conn: sqlite3.Connection,
    criteria: Criteria,
    search: SearchIndex | None,
    *,
    listing: bool = False,
    cancelled: Cancelled | None = None,
) -> Where:
    """The WHERE clause of a log query, read on ``conn`` (for the search cache).

    ``listing``: the query sorts newest first and stops at a page (see
    :func:`_prefilter`).
    """
    clause = criteria_where(criteria, COLUMNS, TEXT_COLUMNS)
    if criteria.words and search is not None:
        _prefilter(clause, criteria.words, conn, search, listing=listing, cancelled=cancelled)
    return clause


def _prefilter(
    clause: Where,
    words: Sequence[str],
    conn: sqlite3.Connection,
    search: SearchIndex,
    *,
    listing: bool,
    cancelled: Cancelled | None,
) -> None:
    """Narrow free words to the search cache's candidate rows, when that pays.

    Rows newer than the cache are scanned; the others are looked up by id
    (``NOT INDEXED``: the planner would otherwise walk the time index in
    order and test each row against the list). A listing whose rows not
    indexed yet are many gets the cache only when the word is rare enough
    there that a scan newest first would read more rows to fill a page: while
    the cache is being built, a common word's first page stays instant.
    """
    found = search.candidates(words, conn, count=not listing, cancelled=cancelled)
    if found is None:
        return
    if listing and found.count:
        tail = int(scalar(conn, f"SELECT max(id) FROM {TABLE}") or 0) - found.indexed_max
        if tail > TAIL_ROWS and tail * found.count > PAGE_ROWS * found.indexed_max:
            return
    clause.add(CANDIDATES_TERM, found.indexed_max, found.ids_json)
    clause.not_indexed = True


def _order(nullable: Sequence[bool]) -> KeyOrder:
    return KeyOrder(LOG_ORDER, descending=True, nullable=tuple(nullable))


def page(
    conn: sqlite3.Connection,
    clause: Where,
    *,
    after: Sequence[Any] | None = None,
    before: Sequence[Any] | None = None,
    limit: int = 100,
    from_end: bool = False,
    nullable: Sequence[bool] = (),
) -> list[LogEntry]:
    """A page of the log, newest first; keyset on (created_at, id).

    ``after`` = the key of the last row seen (continue to older rows);
    ``before`` = the key of the first row seen (newer rows); ``from_end`` =
    the oldest page. Rows are always returned newest first.
    """
    rows = keyset_page(conn, LOG_COLS, TABLE, clause, _order(nullable), after=after,
                       before=before, limit=limit, from_end=from_end)  # fmt: skip
    return [log_from(r) for r in rows]


def stream(conn: sqlite3.Connection, clause: Where) -> Iterator[LogEntry]:
    """Every matching row, newest first, from one cursor (one row in memory at a time)."""
    rows = stream_in_order(conn, LOG_COLS, TABLE, clause, _NEWEST_FIRST, size=_SIZE)
    yield from map(log_from, rows)


def stream_raw(conn: sqlite3.Connection, clause: Where) -> Iterator[tuple[Any, ...]]:
    """Every matching row as stored (:data:`LOG_COLS`), newest first, from one cursor."""
    yield from stream_in_order(conn, LOG_COLS, TABLE, clause, _NEWEST_FIRST, size=_SIZE)


def at(conn: sqlite3.Connection, clause: Where, offset: int, limit: int) -> list[LogEntry]:
    sql = (
        f"SELECT {LOG_COLS} FROM {clause.table(TABLE)}{clause.sql()}"
        " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
    )
    return [log_from(r) for r in conn.execute(sql, [*clause.params, limit, max(offset, 0)])]


def rank(
    conn: sqlite3.Connection,
    clause: Where,
    key: Sequence[Any],
    *,
    cap: int | None = None,
    nullable: Sequence[bool] = (),
) -> int:
    """How many matching rows come before the row with this key (newest first).

    ``cap`` stops counting there (the answer is then ``cap``), so a deep
    cursor never costs a deep scan.
    """
    return keyset_rank(conn, TABLE, clause, _order(nullable), key, cap)


def count(conn: sqlite3.Connection, clause: Where) -> int:
    sql = f"SELECT count(*) FROM {clause.table(TABLE)}{clause.sql()}"
    return int(scalar(conn, sql, clause.params))


def facets(conn: sqlite3.Connection) -> LogFacets:
    """Distinct policies, outcomes, triggers and tracts (index skip-scans, not full scans)."""
    return LogFacets(
        policies=distinct(conn, TABLE, "policy_name"),
        outcomes=distinct(conn, TABLE, "outcome"),
        triggers=distinct(conn, TABLE, '"trigger"'),
        tracts=distinct(conn, TABLE, "tract_id"),
    )
