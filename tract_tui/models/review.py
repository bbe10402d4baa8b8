"""Plain results of the review service, handed to the UI, the CLI and agents."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(sep=" ")


@dataclass(frozen=True)
class Proposal:
    """One row of policy_proposals as the reviewer sees it.

    ``params_raw`` is the stored text exactly; ``params`` is its JSON value,
    or None when it is not JSON (``params_valid`` says which).
    """

    proposal_id: str
    tract_id: str
    policy_name: str
    action_type: str
    params_raw: str | None
    reason: str | None
    status: str
    created_at: datetime | None
    resolved_at: datetime | None
    created_at_raw: str = ""

    @property
    def params(self) -> Any:
        if self.params_raw is None:
            return None
        try:
            return json.loads(self.params_raw)
        except ValueError:
            return None

    @property
    def params_valid(self) -> bool:
        if self.params_raw is None:
            return True
        try:
            json.loads(self.params_raw)
        except ValueError:
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (CLI ``--json``, API); strings carried exactly."""
        return {
            "proposal_id": self.proposal_id,
            "tract_id": self.tract_id,
            "policy_name": self.policy_name,
            "action_type": self.action_type,
            "params": self.params if self.params_valid else self.params_raw,
            "reason": self.reason,
            "status": self.status,
            "created_at": _iso(self.created_at) or self.created_at_raw,
            "resolved_at": _iso(self.resolved_at),
        }


@dataclass(frozen=True)
class LogEntry:
    """One row of policy_log."""

    id: int
    tract_id: str
    policy_name: str
    trigger: str
    action_type: str | None
    reason: str | None
    outcome: str
    commit_hash: str | None
    error_message: str | None
    created_at: datetime | None
    created_at_raw: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tract_id": self.tract_id,
            "policy_name": self.policy_name,
            "trigger": self.trigger,
            "action_type": self.action_type,
            "reason": self.reason,
            "outcome": self.outcome,
            "commit_hash": self.commit_hash,
            "error_message": self.error_message,
            "created_at": _iso(self.created_at) or self.created_at_raw,
        }


@dataclass(frozen=True)
class Impact:
    """What a proposal's action would touch, read from the same database.

    ``fields`` are (label, value) pairs; ``preview`` is content to show as a
    block (e.g. the first lines of a commit); ``warnings`` are things the
    reviewer should know (target missing, branch already exists...).
    """

    title: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    preview: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "fields": {k: v for k, v in self.fields},
            "preview": self.preview,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class ProposalDetail:
    proposal: Proposal
    impact: Impact

    def to_json(self) -> dict[str, Any]:
        data = self.proposal.to_json()
        data["impact"] = self.impact.to_json()
        return data


@dataclass(frozen=True)
class Decision:
    """A decision that was written: the proposal's new state and its log row id."""

    proposal_id: str
    status: str
    previous_status: str
    resolved_at: datetime | None
    log_id: int
    tract_id: str
    policy_name: str


@dataclass(frozen=True)
class DecisionOutcome:
    """Per-id result of a bulk decision: ``decision`` or the ``current_status`` that blocked it."""

    proposal_id: str
    decision: Decision | None = None
    current_status: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.decision is not None


@dataclass(frozen=True)
class PendingCount:
    tract_id: str
    policy_name: str
    count: int


@dataclass(frozen=True)
class LogStats:
    """Counts per outcome and a histogram of evaluations over time, for one filter."""

    total: int
    by_outcome: dict[str, int]
    buckets: list[int]
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class LogFacets:
    """The values present in the log, to offer as filter choices."""

    policies: list[str]
    outcomes: list[str]
    triggers: list[str]
    tracts: list[str]
