"""Storage: all SQL. The tract schema, opening and migrating, and one module per query family.

- ``inspect``, ``open``, ``engine`` (SQLAlchemy: migrations), ``indexes``: opening a file.
- ``connection`` (one ``configure``, the pool) and ``errors`` (one classifier).
- ``proposals``, ``log``, ``logstats``, ``decisions``, ``impact``, ``watch``, ``search``:
  the queries, each taking an open connection and returning plain dataclasses.
- ``schema``, ``repositories``, ``sqlite``: the seed's ORM rows and repository.

The names backed by SQLAlchemy (the schema rows, the repositories) are
imported on first use: importing SQLAlchemy costs about 0.3 s, which the
console's launch cannot afford when the file needs no migration.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tract_tui.storage.engine import create_session_factory, create_trace_engine, init_db
from tract_tui.storage.inspect import inspect_database
from tract_tui.storage.open import open_database

if TYPE_CHECKING:
    from tract_tui.storage.repositories import PolicyRepository
    from tract_tui.storage.schema import Base, PolicyLogRow, PolicyProposalRow, TraceMetaRow
    from tract_tui.storage.sqlite import SqlitePolicyRepository

_LAZY = {
    "Base": "tract_tui.storage.schema",
    "PolicyLogRow": "tract_tui.storage.schema",
    "PolicyProposalRow": "tract_tui.storage.schema",
    "TraceMetaRow": "tract_tui.storage.schema",
    "PolicyRepository": "tract_tui.storage.repositories",
    "SqlitePolicyRepository": "tract_tui.storage.sqlite",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
