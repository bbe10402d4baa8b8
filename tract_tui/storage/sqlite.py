"""SQLite implementation of :class:`PolicyRepository` on a SQLAlchemy Session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tract_tui.storage.repositories import PolicyRepository
from tract_tui.storage.schema import PolicyLogRow, PolicyProposalRow


class SqlitePolicyRepository(PolicyRepository):
    """Policy tables through one Session; the caller owns the transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def save_proposal(self, proposal: PolicyProposalRow) -> None:
        self.session.add(proposal)
        self.session.flush()

    def get_proposal(self, proposal_id: str) -> PolicyProposalRow | None:
        return self.session.get(PolicyProposalRow, proposal_id)

    def get_pending_proposals(self, tract_id: str) -> list[PolicyProposalRow]:
        stmt = (
            select(PolicyProposalRow)
            .where(PolicyProposalRow.tract_id == tract_id, PolicyProposalRow.status == "pending")
            .order_by(PolicyProposalRow.created_at, PolicyProposalRow.proposal_id)
        )
        return list(self.session.scalars(stmt))

    def update_proposal_status(self, proposal_id: str, status: str, resolved_at: datetime) -> None:
        row = self.session.get(PolicyProposalRow, proposal_id)
        if row is None:
            raise KeyError(proposal_id)
        row.status = status
        row.resolved_at = resolved_at
        self.session.flush()

    def save_log_entry(self, entry: PolicyLogRow) -> None:
        self.session.add(entry)
        self.session.flush()

    def get_log(
        self,
        tract_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        policy_name: str | None = None,
        limit: int = 100,
    ) -> list[PolicyLogRow]:
        stmt = select(PolicyLogRow).where(PolicyLogRow.tract_id == tract_id)
        if since is not None:
            stmt = stmt.where(PolicyLogRow.created_at >= since)
        if until is not None:
            stmt = stmt.where(PolicyLogRow.created_at <= until)
        if policy_name is not None:
            stmt = stmt.where(PolicyLogRow.policy_name == policy_name)
        stmt = stmt.order_by(PolicyLogRow.created_at.desc(), PolicyLogRow.id.desc()).limit(limit)
        return list(self.session.scalars(stmt))

    def delete_log_entries(self, tract_id: str, before: datetime) -> int:
        stmt = delete(PolicyLogRow).where(
            PolicyLogRow.tract_id == tract_id, PolicyLogRow.created_at < before
        )
        result = self.session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]
