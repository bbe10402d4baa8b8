"""SQL building blocks shared by the listings: WHERE clauses, keyset bounds, stored times.

A :class:`Where` is built term by term from a
:class:`~tract_tui.models.review.Criteria` (what the review layer resolved
a filter to), so the proposals and the log share one builder and differ
only in which column each filter key names.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from tract_tui.models.record import Record
from tract_tui.models.review import Criteria


def format_dt(value: datetime) -> str:
    """The text form tract stores (naive, microseconds).

    ``isoformat`` rather than ``strftime``: strftime does not zero-pad years
    below 1000 on glibc, which would break the text comparisons.
    """
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def scalar(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first column of the first row (None when there is no row)."""
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def distinct(conn: sqlite3.Connection, table: str, col: str, cap: int = 500) -> list[str]:
    """Up to ``cap`` distinct non-NULL values of ``col``: index skip-scans, not a full scan."""
    sql = (
        f"WITH RECURSIVE d(v, n) AS ("
        f" SELECT min({col}), 1 FROM {table} UNION ALL"
        f" SELECT (SELECT min({col}) FROM {table} WHERE {col} > d.v), n + 1 FROM d"
        f" WHERE d.v IS NOT NULL AND n < {cap})"
        f" SELECT v FROM d WHERE v IS NOT NULL"
    )
    return [str(r[0]) for r in conn.execute(sql)]


def fetch_all_fast(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """All rows of a big read, decoded by SQLite's own C code when the text is valid UTF-8.

    Our connections decode text through a Python function that replaces bad
    bytes (a file may hold any bytes); for a read of thousands of rows that
    call per value costs more than the read. Here the rows are fetched with
    the built-in decoder, and only if a value is not UTF-8 fetched again the
    tolerant way. The connection is the caller's alone (pool borrowing).
    """
    tolerant = conn.text_factory
    conn.text_factory = str
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as e:
        if "decode" not in str(e):
            raise
    finally:
        conn.text_factory = tolerant
    return conn.execute(sql, params).fetchall()


def stream_fast(
    conn: sqlite3.Connection, sql: str, params: Sequence[Any] = (), batch: int = 500
) -> Iterator[Any]:
    """The rows of ``sql`` from one cursor, decoded like :func:`fetch_all_fast`, a batch at a time.

    The built-in decoder is on only while a batch is fetched: between batches
    the caller may run its own statements on the connection, decoded the
    tolerant way. If a value is not UTF-8, the query runs again (the same
    snapshot: the caller's read transaction) from the row it had reached,
    decoded the tolerant way.
    """
    cursor = conn.execute(sql, params)
    tolerant = conn.text_factory
    done = 0
    while True:
        conn.text_factory = str
        try:
            rows = cursor.fetchmany(batch)
        except sqlite3.OperationalError as e:
            if "decode" not in str(e):
                raise
            break
        finally:
            conn.text_factory = tolerant
        if not rows:
            return
        yield from rows
        done += len(rows)
    rest = conn.execute(sql, params)
    for _ in islice(rest, done):
        pass
    yield from rest


def marks(n: int) -> str:
    return ", ".join("?" * n)


def like_pattern(word: str) -> tuple[str, bool]:
    """The LIKE pattern for ``word`` anywhere, and whether it needs ``ESCAPE '\\'``."""
    if not any(c in word for c in "%_"):
        return f"%{word}%", False  # no ESCAPE: a backslash is then an ordinary character
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%", True


class Where:
    """A WHERE clause built term by term (AND-ed), with its ``?`` parameters in order.

    ``not_indexed``: read the table by rowid only (set with the search
    index's candidates).
    """

    def __init__(
        self,
        terms: list[str] | None = None,
        params: list[Any] | None = None,
        not_indexed: bool = False,
    ) -> None:
        self.terms: list[str] = [] if terms is None else terms
        self.params: list[Any] = [] if params is None else params
        self.not_indexed = not_indexed

    def __repr__(self) -> str:
        return f"Where({self.terms!r}, {self.params!r}, not_indexed={self.not_indexed})"

    def table(self, name: str) -> str:
        """``name`` as the FROM clause names it (``NOT INDEXED`` when asked)."""
        return f"{name} NOT INDEXED" if self.not_indexed else name

    def add(self, term: str, *params: Any) -> Where:
        self.terms.append(term)
        self.params.extend(params)
        return self

    def copy(self) -> Where:
        return Where(list(self.terms), list(self.params), self.not_indexed)

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.terms) if self.terms else ""

    def without(self, terms: Sequence[str]) -> Where:
        """The same clause without these terms (and their parameters)."""
        other, i = Where(not_indexed=self.not_indexed), 0
        for term in self.terms:
            n = term.count("?")
            if term not in terms:
                other.add(term, *self.params[i : i + n])
            i += n
        return other

    def text_only(self) -> bool:
        """Only free-word terms (LIKE): no index can narrow the rows."""
        return bool(self.terms) and all(" LIKE ?" in t for t in self.terms)


#: The WHERE terms of since: / until:.
TIME_TERMS = ("? <= created_at", "? >= created_at")


def value_terms(where: Where, criteria: Criteria, key: str, col: str) -> None:
    wanted = criteria.include.get(key, ())
    if wanted:
        where.add(f"{col} IN ({marks(len(wanted))})", *wanted)
    unwanted = criteria.exclude.get(key, ())
    if unwanted:
        where.add(f"({col} IS NULL OR {col} NOT IN ({marks(len(unwanted))}))", *unwanted)


def text_match(where: Where, word: str, cols: Sequence[str], *, negated: bool = False) -> None:
    """``word`` (case-insensitive for ASCII, as LIKE is) in any of ``cols``.

    A NULL column does not match; a negated term keeps the rows where no
    column matches (NULLs included: ``IS NOT 1`` is true for NULL).
    """
    pattern, escape = like_pattern(word)
    like = " LIKE ? ESCAPE '\\'" if escape else " LIKE ?"
    term = "(" + " OR ".join(f"{c}{like}" for c in cols) + ")"
    where.add(f"{term} IS NOT 1" if negated else term, *([pattern] * len(cols)))


def criteria_where(
    criteria: Criteria, columns: Mapping[str, str], text_columns: Sequence[str]
) -> Where:
    """The WHERE clause of ``criteria`` on a table whose filter keys name ``columns``."""
    where = Where()
    for key, col in columns.items():
        value_terms(where, criteria, key, col)
    if criteria.since is not None:
        where.add(TIME_TERMS[0], format_dt(criteria.since))
    if criteria.until is not None:
        where.add(TIME_TERMS[1], format_dt(criteria.until))
    for w in criteria.words:
        text_match(where, w, text_columns)
    for w in criteria.excluded_words:
        text_match(where, w, text_columns, negated=True)
    return where


def keyset(
    cols: Sequence[str],
    key: Sequence[Any],
    *,
    after: bool,
    nullable: Sequence[bool] = (),
) -> tuple[str, list[Any]]:
    """The rows strictly after (or before) ``key`` in ``ORDER BY cols`` ascending order.

    SQLite sorts NULL first, then numbers, text, blobs; the key holds each
    column's value exactly as stored, so any type pages correctly. While no
    column may hold NULL (``nullable``: one flag per column, tract declares
    them NOT NULL), a row-value comparison says it exactly and an index
    serves it as a range. Otherwise the comparison is spelled out column by
    column, since ``NULL > x`` is never true. The last column must never be
    NULL (a rowid or an INTEGER PRIMARY KEY).
    """
    if not any(nullable) and all(v is not None for v in key):
        op = ">" if after else "<"
        return f"({', '.join(cols)}) {op} ({marks(len(cols))})", list(key)
    flags = list(nullable) + [False] * (len(cols) - len(nullable))
    return _spelled_out(list(cols), list(key), flags, after)


def _spelled_out(
    cols: list[str], key: list[Any], nullable: list[bool], after: bool
) -> tuple[str, list[Any]]:
    first, value = cols[0], key[0]
    op = ">" if after else "<"
    if len(cols) == 1:
        return f"{first} {op} ?", [value]
    rest_sql, rest_params = _spelled_out(cols[1:], key[1:], nullable[1:], after)
    if value is None:
        tail = f"({first} IS NULL AND {rest_sql})"
        return (f"({first} IS NOT NULL OR {tail})" if after else tail), rest_params
    null_before = f" OR {first} IS NULL" if nullable[0] and not after else ""
    sql = f"({first} {op} ?{null_before} OR ({first} = ? AND {rest_sql}))"
    return sql, [value, value, *rest_params]


class KeyOrder(Record):
    """A listing's order by key columns: ``descending`` runs it from the highest key down.

    ``nullable`` flags the columns that may hold NULL (see :func:`keyset`).
    """

    cols: tuple[str, ...]
    descending: bool
    nullable: tuple[bool, ...]
    _fields = ("cols", "descending", "nullable")

    def __init__(
        self, cols: tuple[str, ...], descending: bool = False, nullable: tuple[bool, ...] = ()
    ) -> None:
        self.__dict__.update(cols=cols, descending=descending, nullable=nullable)

    def sql(self, *, reverse: bool = False) -> str:
        down = "DESC" if self.descending != reverse else "ASC"
        return "ORDER BY " + ", ".join(f"{c} {down}" for c in self.cols)

    def bound(self, key: Sequence[Any], *, later: bool) -> tuple[str, list[Any]]:
        """The rows later (or, ``later`` False, earlier) than ``key`` in this listing."""
        cols = self.cols[: len(key)]
        return keyset(cols, key, after=later != self.descending, nullable=self.nullable)


def keyset_page(
    conn: sqlite3.Connection,
    select: str,
    table: str,
    clause: Where,
    order: KeyOrder,
    *,
    after: Sequence[Any] | None = None,
    before: Sequence[Any] | None = None,
    limit: int = 100,
    from_end: bool = False,
) -> list[Any]:
    """One page of a listing by key, its rows in listing order.

    ``after`` = the key of the last row seen; ``before`` = the first row's
    (the page just before it); ``from_end`` = the last page.
    """
    scoped = clause.copy()
    if after is not None:
        sql, params = order.bound(after, later=True)
        scoped.add(sql, *params)
    if before is not None:
        sql, params = order.bound(before, later=False)
        scoped.add(sql, *params)
    backwards = from_end or before is not None
    query = (
        f"SELECT {select} FROM {scoped.table(table)}{scoped.sql()}"
        f" {order.sql(reverse=backwards)} LIMIT ?"
    )
    rows = conn.execute(query, [*scoped.params, limit]).fetchall()
    if backwards:
        rows.reverse()
    return rows


def stream_in_order(
    conn: sqlite3.Connection,
    select: str,
    table: str,
    clause: Where,
    order_by: str,
    *,
    size: str = "0",
    batch: int = 500,
    batch_chars: int = 4_000_000,
) -> Iterator[tuple[Any, ...]]:
    """Every matching row, whole, in ``order_by`` order, holding one small batch at a time.

    When an index gives the order, the rows come straight from one cursor.
    Otherwise the order is taken over row ids alone (SQLite sorts keys
    only, never the rows' long values), then batches of rows are read by
    id: at most ``batch`` rows, and no more than about ``batch_chars``
    characters by ``size`` (an SQL expression of a row's long columns), so a
    table of megabyte rows costs no more memory than one of short rows.
    """
    direct = f"SELECT {select} FROM {clause.table(table)}{clause.sql()} {order_by}"
    if not _sorts(conn, direct, clause.params):
        # an index gives the rows in order: one cursor, one batch in memory at a time
        yield from stream_fast(conn, direct, clause.params, batch)
        return
    ids = conn.execute(
        f"SELECT rowid, {size} FROM {clause.table(table)}{clause.sql()} {order_by}",
        clause.params,
    )
    pending: list[int] = []
    held = 0
    for rowid, chars in ids:
        pending.append(rowid)
        held += int(chars or 0)
        if len(pending) >= batch or held >= batch_chars:
            yield from _rows_by_id(conn, select, table, pending)
            pending, held = [], 0
    yield from _rows_by_id(conn, select, table, pending)


def _sorts(conn: sqlite3.Connection, query: str, params: Sequence[Any]) -> bool:
    """Would SQLite sort this query's rows (a temp b-tree), rather than read them in order?"""
    plan = conn.execute(f"EXPLAIN QUERY PLAN {query}", params).fetchall()
    return any("TEMP B-TREE" in str(step[-1]) for step in plan)


def _rows_by_id(
    conn: sqlite3.Connection, select: str, table: str, rowids: list[int]
) -> Iterator[tuple[Any, ...]]:
    """These rows, in the order of ``rowids`` (one rows' worth at a time when they are few)."""
    if not rowids:
        return
    sql = f"SELECT rowid, {select} FROM {table} WHERE rowid IN ({marks(len(rowids))})"
    found = {r[0]: r[1:] for r in fetch_all_fast(conn, sql, rowids)}
    for i in rowids:
        row = found.pop(i, None)
        if row is not None:
            yield row


def keyset_rank(
    conn: sqlite3.Connection,
    table: str,
    clause: Where,
    order: KeyOrder,
    key: Sequence[Any],
    cap: int | None = None,
) -> int:
    """How many listed rows come before ``key`` (``cap``: stop counting there)."""
    sql, params = order.bound(key, later=False)
    scoped = clause.copy().add(sql, *params)
    source = f"{scoped.table(table)}{scoped.sql()}"
    if cap is None:
        return int(scalar(conn, f"SELECT count(*) FROM {source}", scoped.params))
    query = f"SELECT count(*) FROM (SELECT 1 FROM {source} LIMIT ?)"
    return int(scalar(conn, query, [*scoped.params, max(cap, 0)]))
