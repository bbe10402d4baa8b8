"""Plain values shared by every layer (records and dataclasses); no SQLAlchemy, no Textual.

The names below are imported on first use (PEP 562): importing
``tract_tui.models.review`` for the console's first rows does not also
define the policy engine's dataclasses, which only the seed, the demo and
the agent API need (a launch pays for every dataclass it defines).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("tract_tui.models.policy"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
