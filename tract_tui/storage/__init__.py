"""Storage: the tract schema, engine + migrations, and the policy repository."""

from tract_tui.storage.engine import (
    create_session_factory,
    create_trace_engine,
    init_db,
    inspect_database,
    open_database,
)
from tract_tui.storage.repositories import PolicyRepository
from tract_tui.storage.schema import Base, PolicyLogRow, PolicyProposalRow, TraceMetaRow
from tract_tui.storage.sqlite import SqlitePolicyRepository

__all__ = [
    "Base",
    "PolicyLogRow",
    "PolicyProposalRow",
    "PolicyRepository",
    "SqlitePolicyRepository",
    "TraceMetaRow",
    "create_session_factory",
    "create_trace_engine",
    "init_db",
    "inspect_database",
    "open_database",
]
