"""Domain models of tract's policy engine, as plain dataclasses.

They mirror what the tract library passes around, so code written against
tract reads the same here; they import neither SQLAlchemy nor Textual.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tract_tui.exceptions import PolicyExecutionError


class CommitOperation(enum.Enum):
    """How a commit changed the context; stored by member NAME (APPEND/EDIT)."""

    APPEND = "append"
    EDIT = "edit"


class Priority(enum.Enum):
    """Annotation priority; stored by member NAME (PINNED/SKIP/NORMAL)."""

    PINNED = "pinned"
    SKIP = "skip"
    NORMAL = "normal"


@dataclass(frozen=True)
class PolicyAction:
    """What a policy wants done: an action type and its parameters."""

    action_type: str
    params: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    autonomy: str = "collaborative"


@dataclass
class PolicyProposal:
    """A pending action awaiting a decision; approving runs ``_execute_fn``."""

    proposal_id: str
    policy_name: str
    action: PolicyAction
    created_at: datetime
    status: str = "pending"
    _execute_fn: Callable[[PolicyProposal], Any] | None = field(default=None, repr=False)

    def approve(self) -> Any:
        """Mark approved and execute; raises PolicyExecutionError without an execute function."""
        if self._execute_fn is None:
            raise PolicyExecutionError(
                f"proposal {self.proposal_id} has no execute function set; cannot approve"
            )
        self.status = "approved"
        return self._execute_fn(self)

    def reject(self, reason: str = "") -> None:
        """Mark rejected (the reason is kept by whoever logs the decision)."""
        self.status = "rejected"


@dataclass(frozen=True)
class EvaluationResult:
    """The result of evaluating one policy once."""

    policy_name: str
    triggered: bool
    action: PolicyAction | None = None
    outcome: str = "skipped"
    error: str | None = None
    commit_hash: str | None = None


@dataclass(frozen=True)
class PolicyLogEntry:
    """One row of ``policy_log``: an evaluation, or a review decision."""

    id: int | None
    tract_id: str
    policy_name: str
    trigger: str
    action_type: str | None
    reason: str | None
    outcome: str
    commit_hash: str | None
    error_message: str | None
    created_at: datetime
