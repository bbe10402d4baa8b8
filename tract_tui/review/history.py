"""The history half of the review service: decided proposals, newest decision first.

A mixin of :class:`~tract_tui.review.service.ReviewService`. A decision is
read from what was recorded, never guessed: the ``review`` row tract-tui
logged for the proposal (storage/history.py finds it by its trailer), or,
when there is none, "decided outside tract-tui" (the library's own approve
and reject write no row). Executed proposals tract-tui had rejected are
flagged as conflicts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from tract_tui.exceptions import ProposalNotFoundError
from tract_tui.models.history import HistoryDetail, HistoryRow
from tract_tui.models.review import Order, Proposal
from tract_tui.review.filters import Filter, Term
from tract_tui.storage import history, proposals
from tract_tui.storage.connection import ConnectionPool
from tract_tui.storage.sql import Where

#: The history's order: the latest decision first (rows without a decision time last).
HISTORY_ORDER = Order("decided", descending=True)


def history_filter(flt: Filter | None) -> Filter:
    """``flt`` over decided proposals: every status but pending (a status: term narrows it)."""
    terms = (flt or Filter()).terms
    return Filter((Term("status", "pending", True), *terms), (flt or Filter()).text)


class HistoryReads:
    """Reading decided proposals and their log rows, one snapshot per call."""

    pool: ConnectionPool
    _proposal_nulls: tuple[bool, ...]

    def _criteria_where(self, flt: Filter | None) -> Where:
        raise NotImplementedError

    def _rows(self, conn: sqlite3.Connection, found: list[Proposal]) -> list[HistoryRow]:
        return [HistoryRow(p, history.decided(conn, p)) for p in found]

    def list_history(
        self,
        flt: Filter | None = None,
        *,
        after: Sequence[Any] | None = None,
        before: Sequence[Any] | None = None,
        limit: int = 100,
        from_end: bool = False,
    ) -> list[HistoryRow]:
        """A page of decided proposals, latest decision first, each with its decision."""
        clause = self._criteria_where(history_filter(flt))
        with self.pool.read() as conn:
            found = proposals.page(
                conn, clause, after=after, before=before, limit=limit, from_end=from_end,
                order=HISTORY_ORDER, nullable=self._proposal_nulls,
            )  # fmt: skip
            return self._rows(conn, found)

    def history_at(self, offset: int, limit: int, flt: Filter | None = None) -> list[HistoryRow]:
        clause = self._criteria_where(history_filter(flt))
        with self.pool.read() as conn:
            return self._rows(conn, proposals.at(conn, clause, offset, limit, HISTORY_ORDER))

    def count_history(self, flt: Filter | None = None) -> int:
        clause = self._criteria_where(history_filter(flt))
        with self.pool.read() as conn:
            return proposals.count(conn, clause)

    def history_rank(self, row: HistoryRow, flt: Filter | None = None) -> int:
        """How many listed rows come before ``row`` (the next one's index if it left)."""
        clause = self._criteria_where(history_filter(flt))
        key = proposals.key_of(HISTORY_ORDER, row.proposal)
        with self.pool.read() as conn:
            return proposals.rank(conn, clause, key, self._proposal_nulls, HISTORY_ORDER)

    def history_key(self, row: HistoryRow) -> tuple[Any, ...]:
        return proposals.key_of(HISTORY_ORDER, row.proposal)

    def history_detail(self, proposal_id: str) -> HistoryDetail:
        """The proposal, who decided it, and every row tract-tui logged for it (oldest first)."""
        with self.pool.read() as conn:
            found = proposals.get(conn, proposal_id, whole=True)
            if found is None:
                raise ProposalNotFoundError(proposal_id)
            trail = tuple(history.trail(conn, found))
            return HistoryDetail(found, history.decided(conn, found), trail)
