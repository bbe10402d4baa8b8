"""The one place that turns a ``sqlite3`` error into an error a person can act on.

It reads SQLite's own result code (``sqlite3.Error.sqlite_errorcode``,
Python 3.11), never the message text, so a translated or reworded message
cannot change what the user is told. Every connection tract-tui opens goes
through :func:`classify` when a statement fails, so the layers above see
only :class:`~tract_tui.exceptions.TraceError` subclasses with one-line
messages that name the file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3

from tract_tui.exceptions import (
    CorruptDatabaseError,
    DatabaseAccessError,
    DatabaseBusyError,
    DiskFullError,
    QueryCancelledError,
    ReadOnlyDatabaseError,
    TraceError,
)

# SQLite's primary result codes (https://sqlite.org/rescode.html).
SQLITE_PERM = 3
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_INTERRUPT = 9
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_CONSTRAINT = 19
SQLITE_NOTADB = 26

#: Below this many free bytes on the file's disk, an I/O error is taken for a full disk.
LOW_DISK_BYTES = 4 * 1024 * 1024

BUSY_TIMEOUT_MS = 5000
#: Environment variable overriding :data:`BUSY_TIMEOUT_MS` (milliseconds), e.g. for tests.
BUSY_TIMEOUT_ENV = "TRACT_TUI_BUSY_TIMEOUT_MS"


def busy_timeout_ms() -> int:
    """How long a connection waits for another process's lock: $TRACT_TUI_BUSY_TIMEOUT_MS or 5 s."""
    raw = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    try:
        value = int(raw)
    except ValueError:
        return BUSY_TIMEOUT_MS
    return value if value >= 0 else BUSY_TIMEOUT_MS


def primary_code(error: BaseException) -> int | None:
    """SQLite's primary result code of ``error`` (None when it carries none)."""
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def is_corrupt(error: BaseException) -> bool:
    return primary_code(error) in (SQLITE_CORRUPT, SQLITE_NOTADB)


def busy_error(path: str) -> DatabaseBusyError:
    """The error for a lock another process held longer than the busy timeout."""
    return DatabaseBusyError(
        path,
        f"{path}: database is locked by another process (waited "
        f"{busy_timeout_ms() / 1000:g} s); try again when it is done",
    )


def _disk_nearly_full(path: str) -> bool:
    try:
        free = shutil.disk_usage(os.path.dirname(os.path.abspath(path)) or ".").free
    except OSError:
        return False
    return free < LOW_DISK_BYTES


def _detail(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def classify(path: str, error: BaseException) -> TraceError:
    """The :class:`TraceError` for a failed SQLite call on the database at ``path``.

    ``error`` is the ``sqlite3.Error`` (or a SQLAlchemy error wrapping one,
    read through its ``orig``). A full disk, a lock, a read-only file, a
    damaged file, a trigger's ``RAISE`` or a constraint each get their own
    class and a message that says what to do.
    """
    orig = getattr(error, "orig", None)
    if isinstance(orig, sqlite3.Error):
        error = orig
    if isinstance(error, TraceError):
        return error
    code = primary_code(error)
    detail = _detail(error)
    if code in (SQLITE_BUSY, SQLITE_LOCKED):
        return busy_error(path)
    if code == SQLITE_INTERRUPT:
        return QueryCancelledError("the query was cancelled")
    if code == SQLITE_FULL or (code == SQLITE_IOERR and _disk_nearly_full(path)):
        return DiskFullError(
            path, f"{path}: the disk is full ({detail}); nothing was written. Free some space"
        )
    if code in (SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM):
        return _read_only(path, detail)
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return CorruptDatabaseError(path, f"{path}: damaged SQLite file ({detail})")
    if code == SQLITE_IOERR:
        return DatabaseAccessError(
            path, f"{path}: disk I/O error ({detail}); the file itself may be fine, try again"
        )
    if code == SQLITE_CONSTRAINT:
        return DatabaseAccessError(
            path, f"{path}: the database refused the change ({detail}); nothing was written"
        )
    return DatabaseAccessError(path, f"{path}: SQLite error ({detail}); nothing was written")


def _read_only(path: str, detail: str) -> TraceError:
    from tract_tui.storage.inspect import side_file_problem

    side = side_file_problem(path)
    if side is not None:
        return ReadOnlyDatabaseError(path, f"{path}: {side}")
    return ReadOnlyDatabaseError(path, f"{path}: cannot be opened ({detail})")
