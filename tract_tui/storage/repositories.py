"""The repository interface of the policy tables."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from tract_tui.storage.schema import PolicyLogRow, PolicyProposalRow


class PolicyRepository(ABC):
    """Persistence of policy proposals and the policy log.

    Implementations work inside a caller's transaction: they flush, they do
    not commit. Driver errors surface as ``sqlalchemy.exc.SQLAlchemyError``.
    """

    @abstractmethod
    def save_proposal(self, proposal: PolicyProposalRow) -> None:
        """Insert (or update) a proposal. Raises IntegrityError on a duplicate new id."""

    @abstractmethod
    def get_proposal(self, proposal_id: str) -> PolicyProposalRow | None:
        """Return the proposal with exactly this id, or None."""

    @abstractmethod
    def get_pending_proposals(self, tract_id: str) -> list[PolicyProposalRow]:
        """Return this tract's proposals with status "pending", oldest first."""

    @abstractmethod
    def update_proposal_status(self, proposal_id: str, status: str, resolved_at: datetime) -> None:
        """Set status and resolved_at. Raises KeyError if the proposal does not exist."""

    @abstractmethod
    def save_log_entry(self, entry: PolicyLogRow) -> None:
        """Insert a policy_log row (its id is set after the flush)."""

    @abstractmethod
    def get_log(
        self,
        tract_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        policy_name: str | None = None,
        limit: int = 100,
    ) -> list[PolicyLogRow]:
        """Return this tract's log rows, newest first, at most ``limit``.

        ``since`` and ``until`` are inclusive bounds on created_at.
        """

    @abstractmethod
    def delete_log_entries(self, tract_id: str, before: datetime) -> int:
        """Delete this tract's log rows created strictly before ``before``; return how many."""
