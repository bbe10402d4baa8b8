"""Opening a tract database the way the console, the CLI and the API all do.

:func:`open_database` checks the file (:mod:`~tract_tui.storage.inspect`),
falls back to read-only for a file we may not write, and migrates v1..v4
to v5 (SQLAlchemy is imported only then). A v5 file, or a
policy-compatible v6..v9 one, opens without SQLAlchemy and without a write.
tract-tui's own indexes are not built here: on a large file that takes
seconds, so the console builds them after its first frame
(:func:`~tract_tui.storage.indexes.build_missing`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from typing import TYPE_CHECKING

from tract_tui.exceptions import DatabaseNotFoundError, NotADatabaseFileError, ReadOnlyDatabaseError
from tract_tui.storage.errors import busy_timeout_ms, classify
from tract_tui.storage.inspect import (
    DatabaseState,
    inspect_database,
    side_file_problem,
    sqlite_uri,
    writable,
)
from tract_tui.storage.version import POLICY_COMPATIBLE, SCHEMA_VERSION

if TYPE_CHECKING:
    from sqlalchemy import Engine


class OpenedDatabase:
    """A checked (and, unless read-only, migrated) tract database.

    ``version`` is the file's schema version (5, or 6..9 for a
    policy-compatible file, which is never migrated). The SQLAlchemy engine
    is made on first use of :attr:`engine` (the review service runs on plain
    sqlite3 connections and never needs it).
    """

    def __init__(
        self,
        path: str,
        engine_or_none: Engine | None,
        read_only: bool,
        version: int,
        nullable: frozenset[str] = frozenset(),
    ) -> None:
        self.path = path
        self.engine_or_none = engine_or_none
        self.read_only = read_only
        self.version = version
        self.nullable = nullable
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"OpenedDatabase(path={self.path!r}, read_only={self.read_only}, "
            f"version={self.version})"
        )

    @property
    def policy_compatible(self) -> bool:
        """A newer tract schema used as it is: only the policy tables are ever written."""
        return self.version in POLICY_COMPATIBLE

    @property
    def engine(self) -> Engine:
        from tract_tui.storage.engine import create_trace_engine

        with self._lock:
            if self.engine_or_none is None:
                self.engine_or_none = create_trace_engine(self.path, read_only=self.read_only)
            return self.engine_or_none

    def key_nullable(self, table: str, *cols: str) -> tuple[bool, ...]:
        """Per listing-key column of ``table``: may it hold NULL (see storage/sql.keyset)."""
        return tuple(f"{table}.{c}" in self.nullable for c in cols)

    def dispose(self) -> None:
        """Close the engine's pooled connections, if an engine was made."""
        if self.engine_or_none is not None:
            self.engine_or_none.dispose()


def _open_read_only(path: str, state: DatabaseState) -> OpenedDatabase:
    if state.version is None or state.version < SCHEMA_VERSION:
        raise ReadOnlyDatabaseError(
            path,
            f"{path}: is at schema version {state.version or 0} and must be migrated "
            f"to {SCHEMA_VERSION}, which a read-only open cannot do; open it writable "
            "once (or with tract) first",
        )
    try:
        conn = sqlite3.connect(
            sqlite_uri(path, "mode=ro"), uri=True, timeout=busy_timeout_ms() / 1000
        )
        try:
            conn.execute("SELECT count(*) FROM policy_proposals").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise classify(path, e) from e
    return OpenedDatabase(path, None, True, state.version, state.nullable)


def open_database(
    db_path: str | os.PathLike[str],
    *,
    create: bool = False,
    read_only: bool = False,
    hold: contextlib.ExitStack | None = None,
) -> OpenedDatabase:
    """Open a tract database the way the app, the CLI and the API all do.

    A missing path or a 0-byte file is refused unless ``create``. A file we
    may not write opens read-only (``read_only`` is then True in the result).
    Read-only opens never write: no migration, so a file below v5 raises
    :class:`ReadOnlyDatabaseError` saying so.

    ``hold``: unless the file is migrated, the connection that inspected it
    stays open until that stack closes. Why: a WAL left by a killed process
    is read back whole (SQLite's recovery) by the first connection to open
    the file, and again by the next one whenever none stayed open in
    between: 155 ms a time for the 475 MB WAL a console killed while
    building an index on a 10M-row file leaves. The caller opens its own
    connection first, then closes the stack: one recovery, not two.
    """
    path = str(db_path)
    exists = os.path.exists(path)
    if not exists and not create:
        raise DatabaseNotFoundError(
            path, f"{path}: no such file (use --create to make a new tract database)"
        )
    if not exists and read_only:
        raise DatabaseNotFoundError(path, f"{path}: no such file")
    with contextlib.ExitStack() as held:
        keep = held if hold is not None else None
        state = DatabaseState(path, None, frozenset())
        if exists:
            state = inspect_database(path, keep=keep)
        opened = _open_unmigrated(path, exists, create, read_only, state)
        if opened is not None:
            if hold is not None:
                hold.enter_context(held.pop_all())
            return opened
    from tract_tui.storage.engine import create_trace_engine, init_db

    engine = create_trace_engine(path)
    try:
        version = init_db(engine)  # v1..v4: the new policy tables are empty, indexes are free
    except BaseException:
        engine.dispose()
        raise
    return OpenedDatabase(path, engine, False, version, state.nullable)


def _open_unmigrated(
    path: str, exists: bool, create: bool, read_only: bool, state: DatabaseState
) -> OpenedDatabase | None:
    """The checks before any write; the opened file if it needs no migration, else None."""
    if exists and state.version is None and not create:
        raise NotADatabaseFileError(
            path, f"{path}: is empty, not a tract database (use --create to make one here)"
        )
    if exists and not read_only and not writable(path):
        read_only = True
    if read_only:
        return _open_read_only(path, state)
    if state.problem is not None:
        raise ReadOnlyDatabaseError(path, f"{path}: {state.problem}")
    if exists:
        side = side_file_problem(path)
        if side is not None:
            raise ReadOnlyDatabaseError(path, f"{path}: {side}")
        if state.version is not None and state.version >= SCHEMA_VERSION:
            return OpenedDatabase(path, None, False, state.version, state.nullable)
    return None
