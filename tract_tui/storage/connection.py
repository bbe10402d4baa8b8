"""Plain ``sqlite3`` connections for the review service's queries.

SQLAlchemy stays the home of the schema, the migrations and the policy
repository (``schema.py``, ``engine.py``, ``sqlite.py``), but importing it
costs about 0.3 s and 15-20 MB on a small machine: more than the whole
console may add to a bare Textual app (issue 4). So the review service runs
its SQL on these connections, set up the way
:func:`~tract_tui.storage.engine.create_trace_engine` sets up its own
(``busy_timeout``, ``foreign_keys``, ``synchronous=NORMAL``, WAL, explicit
``BEGIN``), and SQLAlchemy is only imported when a file must be migrated or
a repository is used.

A :class:`ConnectionPool` hands each caller (thread) its own connection for
the length of one ``with`` block and keeps a few idle ones, so a worker
thread never shares a connection and the next query reuses a warm page cache.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tract_tui.exceptions import ReadOnlyError
from tract_tui.storage.engine import busy_timeout_ms, sqlite_uri

#: SQLite VM steps between two polls of a read's ``interrupt`` callback (well under 1 ms).
PROGRESS_STEPS = 20_000
#: Rows written through a pool between two checkpoints (a decision writes two).
CHECKPOINT_ROWS = 100

#: How TEXT values are read: a foreign writer may have stored bytes that are not
#: UTF-8, and sqlite3's default decoding then fails the whole query, so one bad
#: byte in one row would hide every row from the reviewer. They read as U+FFFD.
#: (A partial of bytes.decode is C code: about as fast as the default.)
decode_text: Callable[[bytes], str] = functools.partial(
    bytes.decode, encoding="utf-8", errors="replace"
)


def _may_set_wal(conn: sqlite3.Connection) -> bool:
    """WAL changes the file header: only switch an empty or tract database."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return not names or "_trace_meta" in names


class ConnectionPool:
    """Connections to one database file, borrowed one ``with`` block at a time.

    :meth:`read` runs its block in one read transaction (``BEGIN`` ...
    ``ROLLBACK``), so the queries of a block see one snapshot;
    :meth:`write` in one ``BEGIN IMMEDIATE`` transaction that commits when
    the block ends normally and rolls back when it raises. With
    ``read_only`` the file is opened ``mode=ro`` and :meth:`write` raises
    :class:`~tract_tui.exceptions.ReadOnlyError`. ``shared`` wraps one
    existing connection (an in-memory database), serialised by a lock.

    Checkpoints never run on a writer's path: these connections have
    ``wal_autocheckpoint`` off (SQLite would otherwise copy the WAL back and
    fsync the file inside the COMMIT of every thousandth page, 100-300 ms on
    a slow disk, in the middle of a keypress), and after every
    :data:`CHECKPOINT_ROWS` rows written a background thread runs a
    ``PASSIVE`` checkpoint, which never blocks readers or writers. The last
    connection to close checkpoints too, as SQLite always does.
    """

    def __init__(
        self,
        path: str,
        *,
        read_only: bool = False,
        max_idle: int = 4,
        shared: sqlite3.Connection | None = None,
    ) -> None:
        self.path = path
        self.read_only = read_only
        self.max_idle = max_idle
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._shared = shared
        self._shared_lock = threading.RLock()
        self._rows_since_checkpoint = 0
        self._checkpointer: threading.Thread | None = None

    # --- connections ---------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        """A new connection, configured like the SQLAlchemy engine's."""
        timeout = busy_timeout_ms() / 1000
        if self.read_only:
            uri = sqlite_uri(self.path, "mode=ro")
            conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False, timeout=timeout
            )
        else:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=timeout
            )
        conn.text_factory = decode_text
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            if not self.read_only:
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if mode not in ("wal", "memory") and _may_set_wal(conn):
                    conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA wal_autocheckpoint = 0")  # see the class docstring
        except BaseException:
            conn.close()
            raise
        return conn

    def _acquire(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self.connect()

    def _release(self, conn: sqlite3.Connection, *, healthy: bool) -> None:
        if healthy and not conn.in_transaction:
            with self._lock:
                if len(self._idle) < self.max_idle:
                    self._idle.append(conn)
                    return
        conn.close()

    @contextmanager
    def _borrow(self) -> Iterator[tuple[sqlite3.Connection, list[bool]]]:
        if self._shared is not None:
            with self._shared_lock:
                yield self._shared, [True]
            return
        conn = self._acquire()
        healthy = [True]
        try:
            yield conn, healthy
        finally:
            self._release(conn, healthy=healthy[0])

    # --- transactions --------------------------------------------------------------

    @contextmanager
    def read(self, interrupt: Callable[[], bool] | None = None) -> Iterator[sqlite3.Connection]:
        """A connection inside one read transaction (one snapshot for the whole block).

        ``interrupt`` is polled while SQLite works (every few thousand VM steps);
        once it returns True the running statement stops with
        ``sqlite3.OperationalError("interrupted")``: how a worker that was
        cancelled gives a full scan of a million rows up at once.
        """
        with self._borrow() as (conn, healthy):
            if interrupt is not None:
                conn.set_progress_handler(lambda: 1 if interrupt() else 0, PROGRESS_STEPS)
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if interrupt is not None:
                    conn.set_progress_handler(None, 0)
                _rollback(conn, healthy)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one ``BEGIN IMMEDIATE`` transaction (the write lock first)."""
        if self.read_only:
            raise ReadOnlyError(f"{self.path} is open read-only; decisions are disabled")
        with self._borrow() as (conn, healthy):
            conn.execute("BEGIN IMMEDIATE")
            changes = conn.total_changes
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:  # the caller's error, or the COMMIT's own
                _rollback(conn, healthy)
                raise
            self._written(conn.total_changes - changes)

    # --- checkpoints ---------------------------------------------------------------

    def _written(self, rows: int) -> None:
        """Count rows written; start a background checkpoint when enough are in the WAL."""
        if self._shared is not None:
            return  # an in-memory database has no WAL
        with self._lock:
            self._rows_since_checkpoint += rows
            if self._rows_since_checkpoint < CHECKPOINT_ROWS or self._checkpointer is not None:
                return
            self._rows_since_checkpoint = 0
            self._checkpointer = threading.Thread(
                target=self._checkpoint, name="tract-tui checkpoint", daemon=True
            )
            self._checkpointer.start()

    def _checkpoint(self) -> None:
        try:
            conn = self._acquire()
            healthy = True
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                healthy = False  # busy or gone: the next one (or the last close) does it
            finally:
                self._release(conn, healthy=healthy)
        except sqlite3.Error:
            pass
        finally:
            with self._lock:
                self._checkpointer = None

    def close(self) -> None:
        """Close the idle connections (like an engine's ``dispose``: later use reconnects)."""
        with self._lock:
            checkpointer = self._checkpointer
        if checkpointer is not None:
            checkpointer.join(timeout=10)
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _rollback(conn: sqlite3.Connection, healthy: list[bool]) -> None:
    """Roll back what is open; a connection that cannot is not given out again."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        healthy[0] = False
