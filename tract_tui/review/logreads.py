"""The log's half of the review service: pages, ranks, counts and stats of policy_log.

A mixin of :class:`~tract_tui.review.service.ReviewService` (which provides
the pool, the clock and the search cache); kept apart so each file stays
one concern. No SQL here: it is in storage/log.py and storage/logstats.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tract_tui.models.review import LogEntry, LogFacets, LogStats
from tract_tui.review.filters import Filter
from tract_tui.storage import log as logq
from tract_tui.storage import logstats
from tract_tui.storage.connection import ConnectionPool
from tract_tui.storage.sql import Where

if TYPE_CHECKING:
    from tract_tui.storage.search import SearchIndex

Cancelled = Callable[[], bool]


class LogReads:
    """Reading policy_log: every method borrows one read snapshot from the pool."""

    pool: ConnectionPool
    _log_nulls: tuple[bool, ...]

    @property
    def search(self) -> SearchIndex | None:
        raise NotImplementedError

    def now(self) -> datetime:
        raise NotImplementedError

    def _log_where(
        self,
        flt: Filter | None,
        conn: sqlite3.Connection,
        *,
        listing: bool = False,
        cancelled: Cancelled | None = None,
    ) -> Where:
        criteria = (flt or Filter()).criteria(self.now())
        return logq.where(conn, criteria, self.search, listing=listing, cancelled=cancelled)

    def update_search_index(self, cancelled: Cancelled | None = None) -> int:
        """Bring the log's search cache up to date; how many rows it indexed (never raises)."""
        index = self.search
        return index.update(cancelled=cancelled) if index is not None else 0

    def list_log(
        self,
        flt: Filter | None = None,
        *,
        after: Sequence[Any] | None = None,
        before: Sequence[Any] | None = None,
        limit: int = 100,
        from_end: bool = False,
        cancelled: Cancelled | None = None,
    ) -> list[LogEntry]:
        """A page of the log, newest first; keyset on :attr:`LogEntry.key` (created_at, id)."""
        with self.pool.read(cancelled) as conn:
            clause = self._log_where(flt, conn, listing=True, cancelled=cancelled)
            return logq.page(
                conn,
                clause,
                after=after,
                before=before,
                limit=limit,
                from_end=from_end,
                nullable=self._log_nulls,
            )

    def iter_log(self, flt: Filter | None = None, *, page_size: int = 500) -> Iterator[LogEntry]:
        """Every matching log row, newest first, a keyset page at a time (bounded memory)."""
        after: Sequence[Any] | None = None
        while True:
            page = self.list_log(flt, after=after, limit=page_size)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].key

    def stream_log(self, flt: Filter | None = None) -> Iterator[LogEntry]:
        """Every matching log row, newest first, from one snapshot and one cursor."""
        with self.pool.read() as conn:
            clause = self._log_where(flt, conn)
            yield from logq.stream(conn, clause)

    def stream_log_rows(self, flt: Filter | None = None) -> Iterator[tuple[Any, ...]]:
        """Every matching log row as stored (storage/rows.LOG_COLS), newest first."""
        with self.pool.read() as conn:
            clause = self._log_where(flt, conn)
            yield from logq.stream_raw(conn, clause)

    def log_at(
        self,
        offset: int,
        limit: int,
        flt: Filter | None = None,
        *,
        cancelled: Cancelled | None = None,
    ) -> list[LogEntry]:
        with self.pool.read(cancelled) as conn:
            clause = self._log_where(flt, conn, listing=True, cancelled=cancelled)
            return logq.at(conn, clause, offset, limit)

    def log_rank(
        self,
        key: Sequence[Any],
        flt: Filter | None = None,
        *,
        cap: int | None = None,
        cancelled: Cancelled | None = None,
    ) -> int:
        """How many matching rows come before the row with this key (newest first)."""
        with self.pool.read(cancelled) as conn:
            clause = self._log_where(flt, conn, listing=cap is not None, cancelled=cancelled)
            return logq.rank(conn, clause, key, cap=cap, nullable=self._log_nulls)

    def count_log(self, flt: Filter | None = None, *, cancelled: Cancelled | None = None) -> int:
        with self.pool.read(cancelled) as conn:
            return logq.count(conn, self._log_where(flt, conn, cancelled=cancelled))

    def log_stats(
        self, flt: Filter | None = None, *, buckets: int = 48, cancelled: Cancelled | None = None
    ) -> LogStats:
        """Counts per outcome and evaluations over time (``buckets`` equal slices)."""
        with self.pool.read(cancelled) as conn:
            clause = self._log_where(flt, conn, cancelled=cancelled)
            return logstats.stats(conn, clause, buckets)

    def log_facets(self) -> LogFacets:
        with self.pool.read() as conn:
            return logq.facets(conn)
