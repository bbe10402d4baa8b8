"""The agent's context half of the review service: compiled contexts and predicted effects.

A mixin of :class:`~tract_tui.review.service.ReviewService` (which provides
the pool and the schema version). The rules are in review/context.py
(compile) and review/effect.py (what an action does); the SQL in
storage/context.py.

Those modules are imported on first use, not with the service: nothing of
them is needed before the console's first frame, and importing them (a
dozen dataclasses, the compile and prediction code) was about a tenth of
tract-tui's share of a launch (benchmarks/bench.py measures launch).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from tract_tui.exceptions import ProposalNotFoundError
from tract_tui.storage import proposals
from tract_tui.storage.connection import ConnectionPool

if TYPE_CHECKING:
    from tract_tui.models.context import Context, ContextView, Effect
    from tract_tui.models.review import Proposal
    from tract_tui.review.context import TractReader
    from tract_tui.review.tractcache import TractCaches


class ContextReads:
    """Reading the agent's context: every method borrows one read snapshot from the pool."""

    pool: ConnectionPool

    @property
    def version(self) -> int:
        """The file's schema version (compile's defaults changed at 8)."""
        raise NotImplementedError

    _tracts: TractCaches | None = None

    def _reader(self, conn: sqlite3.Connection, tract_id: str) -> TractReader:
        """A tract read from ``conn``'s snapshot, reusing what the service read before."""
        if self._tracts is None:
            from tract_tui.review.tractcache import TractCaches

            self._tracts = TractCaches()
        return self._tracts.reader(conn, tract_id, self.version)

    def _effect(self, conn: sqlite3.Connection, proposal: Proposal) -> Effect:
        from tract_tui.review.effect import predict

        reader = self._reader(conn, proposal.tract_id)
        return predict(reader, proposal, tuple(proposals.duplicates(conn, proposal)))

    def effect(self, proposal_id: str) -> Effect:
        """What approving the proposal would do to its agent's context (review/effect.py)."""
        with self.pool.read() as conn:
            found = proposals.get(conn, proposal_id, whole=True)
            if found is None:
                raise ProposalNotFoundError(proposal_id)
            return self._effect(conn, found)

    def context(self, tract_id: str, branch: str | None = None) -> Context:
        """A tract's compiled context, as the agent sends it (its HEAD, or ``branch``'s tip)."""
        from tract_tui.review.context import compile_head

        with self.pool.read() as conn:
            reader = self._reader(conn, tract_id)
            head = reader.head() if branch is None else reader.branch_tip(branch)
            return compile_head(reader, head)

    def context_view(self, tract_id: str, branch: str | None = None) -> ContextView:
        """The compiled context commit by commit, hidden ones included (the context view)."""
        from tract_tui.review.context import context_view

        with self.pool.read() as conn:
            return context_view(self._reader(conn, tract_id), branch)

    def branch_tip(self, tract_id: str, branch: str) -> str | None:
        """The commit a tract's branch points to (None when there is no such branch)."""
        from tract_tui.storage import context as context_store

        with self.pool.read() as conn:
            return context_store.refs_of(conn, tract_id).get(f"refs/heads/{branch}", (None, None))[
                0
            ]

    def context_refs(self) -> list[tuple[str, str | None, list[str]]]:
        """(tract, its current branch, its branches) for every tract that has a head."""
        from tract_tui.review.context import TractReader
        from tract_tui.storage import context as context_store

        with self.pool.read() as conn:
            out = []
            for tract in context_store.tract_ids(conn):
                reader = TractReader(
                    conn, tract, self.version, refs=context_store.refs_of(conn, tract)
                )
                out.append((tract, reader.current_branch(), reader.branches()))
            return out
