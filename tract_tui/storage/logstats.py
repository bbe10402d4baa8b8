"""Counts per outcome and evaluations over time, by the cheapest plan for the filter's shape.

The plans were chosen by measuring at a million rows: range counts on an
index for the indexed filters, two plain table scans for free words.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from tract_tui.models.review import LogStats
from tract_tui.storage.rows import parse_stored_time
from tract_tui.storage.sql import TIME_TERMS, Where, distinct, format_dt, scalar

TABLE = "policy_log"


def bucket_edges(lo: str, start: datetime, end: datetime, buckets: int) -> list[str]:
    """The first created_at of each of ``buckets`` equal slices of ``start .. end``."""
    width = max((end - start).total_seconds(), 1.0) / buckets
    return [lo] + [format_dt(start + timedelta(seconds=width * i)) for i in range(1, buckets)]


def bucket_case(edges: list[str], first: int, last: int) -> tuple[str, list[str]]:
    """SQL giving the bucket of ``created_at`` among ``first..last``: a binary search."""
    if first == last:
        return str(first), []
    mid = (first + last + 1) // 2
    below, below_params = bucket_case(edges, first, mid - 1)
    above, above_params = bucket_case(edges, mid, last)
    sql = f"CASE WHEN created_at < ? THEN {below} ELSE {above} END"
    return sql, [edges[mid], *below_params, *above_params]


def stats(conn: sqlite3.Connection, clause: Where, buckets: int = 48) -> LogStats:
    """Counts per outcome and evaluations over time (``buckets`` equal slices).

    Bucket ``i`` counts the rows with ``created_at`` in ``[start + i*width,
    start + (i+1)*width)`` (the last one up to the newest row), as one range
    count per bucket: each is an index range for the indexed filters.
    """
    if clause.text_only() or clause.not_indexed:
        return _stats_scan(conn, clause, buckets)
    by_outcome = count_by_outcome(conn, clause)
    total = sum(by_outcome.values())
    if not total:
        return LogStats(0, {}, [0] * buckets, None, None)
    # one ORDER BY ... LIMIT 1 each way: an index end, where min() and max() in one
    # query would read every row
    base = f"SELECT created_at FROM {TABLE}{clause.sql()} ORDER BY created_at"
    lo = scalar(conn, base + " LIMIT 1", clause.params)
    hi = scalar(conn, base + " DESC LIMIT 1", clause.params)
    start, end = parse_stored_time(lo), parse_stored_time(hi)
    if start is None or end is None or not isinstance(lo, str):
        return LogStats(total, by_outcome, [0] * buckets, start, end)
    edges = bucket_edges(lo, start, end, buckets)
    # Every bucket lies inside since/until (its edges are between the first and the
    # last matching row), so those terms go: left in, SQLite may bound the index
    # range by until: instead of the bucket's end and read to the end.
    inner = clause.without(TIME_TERMS)
    ranged = inner.copy().add("created_at >= ?").add("created_at < ?")
    last = inner.copy().add("created_at >= ?").add("created_at <= ?")
    counts = []
    for i, edge in enumerate(edges):
        scoped, bound = (ranged, edges[i + 1]) if i < buckets - 1 else (last, hi)
        sql = f"SELECT count(*) FROM {TABLE}{scoped.sql()}"
        counts.append(int(scalar(conn, sql, [*inner.params, edge, bound])))
    return LogStats(total, by_outcome, counts, start, end)


def count_by_outcome(conn: sqlite3.Connection, clause: Where) -> dict[str, int]:
    """Rows per outcome, most first.

    No filter: GROUP BY on the (covering) outcome index. Only since/until:
    one covering range count per outcome on (outcome, created_at). Anything
    else: "+outcome" keeps the planner on the filter's own index.
    """
    if clause.terms and all(t in TIME_TERMS for t in clause.terms):
        counts = []
        for outcome in distinct(conn, TABLE, "outcome"):
            scoped = clause.copy().add("outcome = ?", outcome)
            n = int(scalar(conn, f"SELECT count(*) FROM {TABLE}{scoped.sql()}", scoped.params))
            if n:
                counts.append((outcome, n))
        counts.sort(key=lambda c: -c[1])
        return dict(counts)
    group = "+outcome" if clause.terms else "outcome"
    sql = (
        f"SELECT outcome, count(*) FROM {TABLE}{clause.sql()}"
        f" GROUP BY {group} ORDER BY count(*) DESC"
    )
    return {str(o): int(n) for o, n in conn.execute(sql, clause.params)}


def _stats_scan(conn: sqlite3.Connection, clause: Where, buckets: int) -> LogStats:
    """:func:`stats` for free words: every row, or every candidate row, is read.

    Two plain table scans (``NOT INDEXED``: walking an index would add a
    random row lookup per row), the second putting each matching row in its
    bucket with a binary search of CASEs over the same edges the range
    counts use. With the search cache's candidates, the same two passes read
    only those rows (by id) and the rows not indexed yet.
    """
    rows = conn.execute(
        "SELECT outcome, n, min(lo) OVER (), max(hi) OVER () FROM ("
        " SELECT outcome, count(*) AS n, min(created_at) AS lo, max(created_at) AS hi"
        f" FROM {TABLE} NOT INDEXED{clause.sql()} GROUP BY outcome) ORDER BY n DESC",
        clause.params,
    ).fetchall()
    if not rows:
        return LogStats(0, {}, [0] * buckets, None, None)
    by_outcome = {str(o): int(n) for o, n, _, _ in rows}
    total = sum(by_outcome.values())
    lo, hi = rows[0][2], rows[0][3]
    start, end = parse_stored_time(lo), parse_stored_time(hi)
    if start is None or end is None or not isinstance(lo, str):
        return LogStats(total, by_outcome, [0] * buckets, start, end)
    edges = bucket_edges(lo, start, end, buckets)
    case, case_params = bucket_case(edges, 0, buckets - 1)
    ranged = clause.copy().add("created_at >= ?", lo).add("created_at <= ?", hi)
    counts = [0] * buckets
    for b, n in conn.execute(
        f"SELECT {case}, count(*) FROM {TABLE} NOT INDEXED{ranged.sql()} GROUP BY 1",
        [*case_params, *ranged.params],
    ):
        counts[int(b)] += int(n)
    return LogStats(total, by_outcome, counts, start, end)
