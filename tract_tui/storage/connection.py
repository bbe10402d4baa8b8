"""Plain ``sqlite3`` connections: one set-up for every connection, and a pool of them.

SQLAlchemy is the home of the schema, the migrations and the seed's
repository, but importing it costs about 0.3 s and 15-20 MB: more than the
whole console may add to a bare Textual app. So the review queries run on
these connections, and :func:`configure` is the one place that sets a
connection up, for them and for the SQLAlchemy engine alike.

A :class:`ConnectionPool` hands each caller (thread) its own connection for
the length of one ``with`` block and keeps a few idle ones, so a worker
thread never shares a connection and the next query reuses a warm page
cache. Every SQLite error leaving a block is classified
(:func:`~tract_tui.storage.errors.classify`): callers see only TraceErrors.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tract_tui.exceptions import DatabaseMovedError, QueryCancelledError, ReadOnlyError
from tract_tui.storage.errors import busy_timeout_ms, classify
from tract_tui.storage.inspect import sqlite_uri

#: SQLite VM steps between two polls of a read's ``interrupt`` callback (a short time).
PROGRESS_STEPS = 20_000
#: Kept for callers that size batches by it: rows a pool may leave in the WAL before a
#: checkpoint is due. Every write transaction now wakes the checkpointer.
CHECKPOINT_ROWS = 1
#: Seconds without a write after which the checkpointer copies the WAL, and the longest
#: it waits for such a pause while writes keep coming (see _Checkpointer).
CHECKPOINT_QUIET = 0.5
CHECKPOINT_LATEST = 2.0

#: How TEXT values are read: a foreign writer may have stored bytes that are not
#: UTF-8, and sqlite3's default decoding then fails the whole query, so one bad
#: byte in one row would hide every row from the reviewer. They read as U+FFFD.
decode_text: Callable[[bytes], str] = functools.partial(
    bytes.decode, encoding="utf-8", errors="replace"
)


def may_set_wal(conn: sqlite3.Connection) -> bool:
    """WAL changes the file header: only switch an empty or tract database."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return not names or "_trace_meta" in names


def configure(
    conn: sqlite3.Connection, *, read_only: bool = False, checkpoint_on_commit: bool = True
) -> None:
    """Set a connection up as tract does: busy timeout, foreign keys, NORMAL sync, WAL.

    Transactions are begun explicitly (``isolation_level`` None), so DDL is
    transactional and a writer takes its lock up front. With
    ``checkpoint_on_commit`` False, SQLite never checkpoints inside a
    COMMIT: that copy and fsync (slow on a slow disk) would land in the
    middle of a keypress; the pool checkpoints in a thread instead.
    """
    conn.isolation_level = None
    conn.text_factory = decode_text
    conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    if read_only:
        return
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if mode not in ("wal", "memory") and may_set_wal(conn):
        conn.execute("PRAGMA journal_mode = WAL")
    if not checkpoint_on_commit:
        conn.execute("PRAGMA wal_autocheckpoint = 0")


def connect(path: str, *, read_only: bool = False) -> sqlite3.Connection:
    """A new configured connection to the existing file ``path`` (``mode=ro`` when ``read_only``).

    Never ``mode=rwc``: a pool connects again long after the open, and by
    then the file may have been moved; creating an empty database at the
    old name (which would open the -wal and -shm still there under that
    name with it) would be worse than the error.
    """
    timeout = busy_timeout_ms() / 1000
    if read_only:
        conn = sqlite3.connect(
            sqlite_uri(path, "mode=ro"), uri=True, check_same_thread=False, timeout=timeout
        )
    else:  # mode=rw: a file moved away is an error, never a new empty file in its place
        conn = sqlite3.connect(
            sqlite_uri(path, "mode=rw"), uri=True, check_same_thread=False, timeout=timeout
        )
    try:
        configure(conn, read_only=read_only, checkpoint_on_commit=False)
    except BaseException:
        conn.close()
        raise
    return conn


def file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path`` now; None when nothing is there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class ConnectionPool:
    """Connections to one database file, borrowed one ``with`` block at a time.

    :meth:`read` runs its block in one read transaction (one snapshot);
    :meth:`write` in one ``BEGIN IMMEDIATE`` transaction that commits when
    the block ends normally and rolls back when it raises. With
    ``read_only`` the file is opened ``mode=ro`` and :meth:`write` raises
    :class:`~tract_tui.exceptions.ReadOnlyError`. ``shared`` wraps one
    existing connection (an in-memory database), serialised by a lock.

    Two promises about writes:

    - A write to a file that was moved, renamed or replaced since the pool
      was made is refused (:class:`DatabaseMovedError`): a decision written
      there would live only in a WAL under the old name.
    - Every committed write is copied from the WAL into the database file
      soon after, by a background ``PASSIVE`` checkpoint (which never blocks
      readers or writers), so no decision is left only in a WAL that closing
      could orphan.
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
        self.identity = None if shared is not None else file_identity(path)
        self._checkpointer = _Checkpointer(self) if shared is None and not read_only else None
        #: ids of connections made after the path stopped naming the opened file: used
        #: once, never pooled, never checkpointed through (they belong to another file)
        self._strangers: set[int] = set()

    # --- connections ---------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        conn = connect(self.path, read_only=self.read_only)
        if self.identity is not None and file_identity(self.path) != self.identity:
            with self._lock:
                self._strangers.add(id(conn))
        return conn

    def _acquire(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self.connect()

    def _is_stranger(self, conn: sqlite3.Connection) -> bool:
        with self._lock:
            return id(conn) in self._strangers

    def _release(self, conn: sqlite3.Connection, *, healthy: bool) -> None:
        stranger = self._is_stranger(conn)
        with self._lock:
            self._strangers.discard(id(conn))
        if healthy and not stranger and not conn.in_transaction:
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
        try:
            conn = self._acquire()
        except sqlite3.Error as e:
            self._check_identity()  # a file moved away says so, not "cannot be opened"
            raise classify(self.path, e) from e
        healthy = [True]
        try:
            yield conn, healthy
        finally:
            self._release(conn, healthy=healthy[0])

    def warm(self) -> None:
        """Open one connection and read the schema with it, so that it stays in the pool.

        While any connection to a WAL file is open, a new one shares the WAL
        index already built instead of reading the whole WAL again.
        """
        with self.read() as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()

    # --- transactions --------------------------------------------------------------

    @contextmanager
    def read(self, interrupt: Callable[[], bool] | None = None) -> Iterator[sqlite3.Connection]:
        """A connection inside one read transaction (one snapshot for the whole block).

        ``interrupt`` is polled while SQLite works; once it returns True the
        running statement stops and :class:`QueryCancelledError` is raised:
        how a cancelled worker gives a full scan of a million rows up at once.
        """
        if interrupt is not None and interrupt():
            raise QueryCancelledError("the query was cancelled")
        with self._borrow() as (conn, healthy):
            if interrupt is not None:
                conn.set_progress_handler(lambda: 1 if interrupt() else 0, PROGRESS_STEPS)
            try:
                conn.execute("BEGIN")
                yield conn
            except sqlite3.Error as e:
                raise classify(self.path, e) from e
            finally:
                if interrupt is not None:
                    conn.set_progress_handler(None, 0)
                _rollback(conn, healthy)

    @contextmanager
    def write(self, *, wait: bool = True) -> Iterator[sqlite3.Connection]:
        """A connection inside one ``BEGIN IMMEDIATE`` transaction (the write lock first).

        ``wait`` False: take the write lock only if it is free now, else raise
        :class:`~tract_tui.exceptions.DatabaseBusyError` at once (the console
        then decides in a worker, which waits the busy timeout).
        """
        if self.read_only:
            raise ReadOnlyError(f"{self.path} is open read-only; decisions are disabled")
        wrote = False
        with self._borrow() as (conn, healthy):
            try:
                with _busy_wait(conn, wait):
                    conn.execute("BEGIN IMMEDIATE")
                self._check_identity()
                changes = conn.total_changes
                yield conn
                conn.execute("COMMIT")
            except BaseException as e:  # the caller's error, or the COMMIT's own
                _rollback(conn, healthy)
                if isinstance(e, sqlite3.Error):
                    raise classify(self.path, e) from e
                raise
            wrote = conn.total_changes != changes
        # woken once the connection is back in the pool, so the checkpoint goes through
        # it (a connection that knows the file) rather than a new one made by name
        if wrote and self._checkpointer is not None:
            self._checkpointer.wake()

    def _check_identity(self) -> None:
        """Refuse to write when the path no longer names the file the pool opened."""
        if self.identity is None:
            return
        now = file_identity(self.path)
        if now != self.identity:
            what = "moved, renamed or deleted" if now is None else "replaced by another file"
            raise DatabaseMovedError(
                self.path,
                f"{self.path}: the database was {what} since tract-tui opened it; nothing "
                "was written. Open it again where it is now",
            )

    def checkpoint(self) -> None:
        """Copy what the WAL holds into the database file now (PASSIVE: never blocks).

        Through an idle connection when there is one: it holds the file the
        pool opened even after a move, and SQLite never checkpoints a moved
        file on close. A new connection is used only while the path still
        names that file. Busy or gone: the next one (or the last close) does it.
        """
        self._checkpoint_now("PASSIVE", wait=True)

    def empty_wal(
        self,
        *,
        cancelled: Callable[[], bool] | None = None,
        pause: float = 0.05,
        give_up: float = 30.0,
    ) -> bool:
        """Copy the WAL into the file and cut it to zero bytes, never blocking anyone long.

        Why: the WAL grows by every page a transaction writes and only starts
        over once a checkpoint has copied all of it and no reader still uses
        it. Building six indexes back to back on a 10M-row file left a 2.1 GB
        WAL, and a console killed then cost the next open seconds of WAL
        recovery. Called after each index, this bounds what a kill leaves to
        the index being built. A PASSIVE checkpoint does the copying (never
        blocks); then ``TRUNCATE`` is tried with no busy wait, again every
        ``pause`` seconds while a reader of an older snapshot is still in the
        WAL, until ``give_up`` seconds or ``cancelled``. True when emptied.
        """
        if self.read_only or self._shared is not None:
            return False
        deadline = time.monotonic() + give_up
        while True:
            if self._checkpoint_now("PASSIVE", wait=True) and self._checkpoint_now(
                "TRUNCATE", wait=False
            ):
                return True
            if time.monotonic() > deadline or (cancelled is not None and cancelled()):
                return False
            time.sleep(pause)

    def _checkpoint_now(self, mode: str, *, wait: bool) -> bool:
        """One ``wal_checkpoint(mode)`` through a pooled connection; True when it completed."""
        try:
            conn = self._acquire()
        except sqlite3.Error:
            return False
        if self._is_stranger(conn):
            self._release(conn, healthy=False)
            return False
        healthy = True
        try:
            with _busy_wait(conn, wait):
                busy, log, copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            return not busy and log == copied
        except sqlite3.Error:
            healthy = False
            return False
        finally:
            self._release(conn, healthy=healthy)

    def close(self) -> None:
        """Close the idle connections (like an engine's ``dispose``: later use reconnects)."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _Checkpointer:
    """One background thread that checkpoints soon after writes (started on first use).

    Soon, not at once: it waits for a pause of ``CHECKPOINT_QUIET`` seconds
    in the writes (at most ``CHECKPOINT_LATEST`` after the first). A
    checkpoint that copies the whole WAL makes the next commit start the WAL
    over, and SQLite syncs its new header then: 1.4 ms of every decision
    when each was followed by its own checkpoint, so a person approving
    row after row paid a disk sync per key. Now a run of decisions pays one.
    Closing the pool still checkpoints what is left, through its own
    connection (see :meth:`ConnectionPool.checkpoint`).
    """

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def wake(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._run, name="tract-tui checkpoint", daemon=True
                )
                self._thread.start()
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            latest = time.monotonic() + CHECKPOINT_LATEST
            while not self._stopping and time.monotonic() < latest:
                if not self._wanted.wait(CHECKPOINT_QUIET):
                    break  # a pause in the writes
                self._wanted.clear()
            if self._stopping:
                return
            self._pool.checkpoint()

    def stop(self) -> None:
        with self._lock:
            thread = self._thread
            self._thread = None
            self._stopping = True
        if thread is not None:
            self._wanted.set()
            thread.join(timeout=10)
            self._pool.checkpoint()  # what the last wake-up may not have copied


@contextmanager
def _busy_wait(conn: sqlite3.Connection, wait: bool) -> Iterator[None]:
    """The block waits out a held lock as usual (``wait``) or gives up at once (busy 0)."""
    if wait:
        yield
        return
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")


def _rollback(conn: sqlite3.Connection, healthy: list[bool]) -> None:
    """Roll back what is open; a connection that cannot is not given out again."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        healthy[0] = False
