"""Plain dataclasses shared by every layer; no SQLAlchemy, no Textual."""

from tract_tui.models.policy import (
    CommitOperation,
    EvaluationResult,
    PolicyAction,
    PolicyLogEntry,
    PolicyProposal,
    Priority,
)

__all__ = [
    "CommitOperation",
    "EvaluationResult",
    "PolicyAction",
    "PolicyLogEntry",
    "PolicyProposal",
    "Priority",
]
