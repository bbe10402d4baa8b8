"""Engine, sessions and the migration of a tract database to schema v5.

Opening is done in two phases so that a refusal never writes a byte:

1. :func:`inspect_database` looks at the file with a *read-only* raw sqlite3
   connection (header, tables, ``_trace_meta``) and raises a
   :class:`~tract_tui.exceptions.DatabaseOpenError` subclass for anything that
   is not a tract database at version 1..5.
2. :func:`init_db` then migrates in ONE ``BEGIN IMMEDIATE`` transaction: every
   step and the new ``schema_version`` commit together or not at all (SQLite
   DDL is transactional), so a crash leaves the file at its old version.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_to_bytes

from tract_tui.exceptions import (
    CorruptDatabaseError,
    DatabaseBusyError,
    DatabaseNotFoundError,
    DatabaseOpenError,
    NotADatabaseFileError,
    NotATractDatabaseError,
    ReadOnlyDatabaseError,
    SchemaTooNewError,
    SchemaVersionError,
)
from tract_tui.storage.version import SCHEMA_VERSION

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

# SQLAlchemy is imported inside the functions that use it: importing it costs about
# 0.3 s and 15-20 MB, and opening a v5 file that already has its ix_tui_* indexes
# needs none of it (the review service runs on plain sqlite3 connections, issue 4).


def __getattr__(name: str) -> Any:
    """``Base`` and ``MIGRATION_TABLES`` stay importable from here (loaded on first use)."""
    if name in ("Base", "MIGRATION_TABLES"):
        from tract_tui.storage import schema

        return getattr(schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


BUSY_TIMEOUT_MS = 5000
#: Environment variable overriding :data:`BUSY_TIMEOUT_MS` (milliseconds), e.g. for tests.
BUSY_TIMEOUT_ENV = "TRACT_TUI_BUSY_TIMEOUT_MS"
SQLITE_HEADER = b"SQLite format 3\x00"
#: Files SQLite keeps beside a database: write-ahead log, its shared-memory index, rollback journal.
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


def sqlite_uri(path: str | os.PathLike[str], query: str) -> str:
    """A ``file:`` URI for ``path`` with ``query`` (e.g. ``mode=ro``).

    SQLite's URI parser reads ``?`` and ``#`` as delimiters and ``%XX`` as
    escapes, so a file named ``a#b.db`` opened as ``file:a#b.db`` is ``a``
    (created empty in read-write modes). Every byte but letters, digits and
    ``/-._~`` is percent-escaped, the file name's own bytes included.
    """
    absolute = os.fsencode(os.path.abspath(path))
    return f"file:{quote(absolute, safe='/')}?{query}"


def busy_timeout_ms() -> int:
    """How long a connection waits for another process's lock: $TRACT_TUI_BUSY_TIMEOUT_MS or 5 s."""
    raw = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    try:
        value = int(raw)
    except ValueError:
        return BUSY_TIMEOUT_MS
    return value if value >= 0 else BUSY_TIMEOUT_MS


#: Extra indexes tract-tui adds for its cross-tract listings (tract ignores them).
TUI_INDEXES: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS ix_tui_proposals_status_time"
    " ON policy_proposals (status, created_at, proposal_id)",
    # the pending count per (tract, policy): a covering scan in GROUP BY order
    "CREATE INDEX IF NOT EXISTS ix_tui_proposals_status_tract_policy"
    " ON policy_proposals (status, tract_id, policy_name)",
    "CREATE INDEX IF NOT EXISTS ix_tui_log_time ON policy_log (created_at, id)",
    "CREATE INDEX IF NOT EXISTS ix_tui_log_policy_time ON policy_log (policy_name, created_at, id)",
    "CREATE INDEX IF NOT EXISTS ix_tui_log_outcome_time ON policy_log (outcome, created_at, id)",
    'CREATE INDEX IF NOT EXISTS ix_tui_log_trigger_time ON policy_log ("trigger", created_at, id)',
)
#: The names of :data:`TUI_INDEXES`, in order.
TUI_INDEX_NAMES: tuple[str, ...] = tuple(
    m.group(1) for ddl in TUI_INDEXES if (m := re.search(r"IF NOT EXISTS (\w+)", ddl))
)


def _is_memory(db_path: str | os.PathLike[str]) -> bool:
    return str(db_path) in ("", ":memory:")


def create_trace_engine(
    db_path: str | os.PathLike[str] = ":memory:", *, read_only: bool = False
) -> Engine:
    """Create a SQLite engine for a tract database.

    Every connection gets ``busy_timeout`` 5000 ms (see :func:`busy_timeout_ms`),
    ``synchronous=NORMAL``, ``foreign_keys=ON`` and (unless ``read_only``) WAL journaling, as tract
    uses. Transactions begin explicitly (``BEGIN`` / ``BEGIN IMMEDIATE`` via
    the ``sqlite_begin`` execution option) so that DDL is transactional and a
    writer takes its lock up front instead of failing on lock upgrade.
    With ``read_only`` the file is opened ``mode=ro``: SQLite itself refuses
    any write.
    """
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import StaticPool

    if _is_memory(db_path):
        engine = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
        read_only = False
    else:
        path = Path(db_path).absolute()
        if read_only:
            # SQLAlchemy unquotes the URL's database part once: escape the URI's escapes.
            url = f"sqlite:///{quote(sqlite_uri(path, 'mode=ro'), safe='/:?=&')}&uri=true"
        else:
            url = f"sqlite:///{quote(os.fsencode(path), safe='/')}"  # "?" would start a query
        engine = create_engine(url, connect_args={"check_same_thread": False})

    timeout_ms = busy_timeout_ms()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (see begin below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA synchronous = NORMAL")
            if not read_only:
                mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
                if mode not in ("wal", "memory") and _may_set_wal(cur):
                    cur.execute("PRAGMA journal_mode = WAL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _may_set_wal(cur: sqlite3.Cursor) -> bool:
    """WAL changes the file header: only switch an empty or tract database."""
    names = {r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return not names or "_trace_meta" in names


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (rows are handed on as data)."""
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(bind=engine, expire_on_commit=False)


def write_engine(engine: Engine) -> Engine:
    """The same engine, but its transactions begin IMMEDIATE (take the write lock first)."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


# --- inspecting a file without writing ----------------------------------------


@dataclass(frozen=True)
class DatabaseState:
    """What :func:`inspect_database` found: ``version`` None means an empty database."""

    path: str
    version: int | None
    tables: frozenset[str]


def _check_header(path: str) -> bytes:
    """Raise for non-SQLite or truncated files; return the 100-byte header (b"" if 0 bytes)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DatabaseNotFoundError(path, f"{path}: no such file") from None
    except OSError as e:
        raise NotADatabaseFileError(path, f"{path}: cannot be read ({e.strerror})") from e
    if stat.S_ISDIR(st.st_mode):
        raise NotADatabaseFileError(path, f"{path}: is a directory, not a tract database file")
    if not stat.S_ISREG(st.st_mode):
        raise NotADatabaseFileError(path, f"{path}: is not a regular file")
    if st.st_size == 0:
        return b""
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as e:
        raise NotADatabaseFileError(path, f"{path}: cannot be read ({e.strerror})") from e
    if not header.startswith(SQLITE_HEADER):
        raise NotADatabaseFileError(
            path, f"{path}: is not a SQLite database (it does not start with the SQLite header)"
        )
    if len(header) < 100:
        raise CorruptDatabaseError(path, f"{path}: SQLite file is truncated ({st.st_size} bytes)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    change_counter = header[24:28]
    page_count = int.from_bytes(header[28:32], "big")
    valid_for = header[92:96]
    # The size check only holds for a file nobody has open: while another process
    # checkpoints, page 1 (with the new page count) is written before the file has
    # grown to it. An open database always has a -wal/-shm (or -journal) beside it.
    quiescent = not any(os.path.lexists(path + s) for s in SIDE_SUFFIXES)
    size = os.stat(path).st_size  # after reading the header: files only grow meanwhile
    if quiescent and page_count and change_counter == valid_for and size < page_count * page_size:
        raise CorruptDatabaseError(
            path,
            f"{path}: SQLite file is truncated ({size} bytes, header says "
            f"{page_count * page_size}); restore it from a backup",
        )
    return header


def _inspect_mode(path: str, header: bytes) -> str:
    """How :func:`inspect_database` may open ``path`` without leaving a trace.

    A read-only (``mode=ro``) connection to a WAL database creates the
    ``-wal`` and ``-shm`` files when they are missing, and, being read-only,
    cannot delete them when it closes: refusing a file would leave two stray
    files beside it. So when the header says WAL and none of SQLite's side
    files exist yet:

    - ``rw`` if we may write the file: SQLite's own close protocol removes
      the ``-wal``/``-shm`` this connection creates when it is the last one
      (and keeps them when another process has the file open meanwhile,
      which is what makes this safe with concurrent writers). The WAL is
      empty, so closing checkpoints nothing: the database file itself is not
      written (the connection is also ``query_only``).
    - ``immutable`` if we may not write it: no side file means no committed
      data outside the main file, so reading it as immutable sees it all.

    Otherwise (rollback-journal files, or side files already there) ``ro``,
    which then creates nothing.
    """
    wal_mode = len(header) >= 20 and header[18] == 2 and header[19] == 2
    if not wal_mode or any(os.path.lexists(path + s) for s in SIDE_SUFFIXES):
        return "ro"
    return "rw" if _writable(path) else "immutable"


def _raw_inspect_connection(path: str, mode: str) -> sqlite3.Connection:
    params = {"rw": "mode=rw", "immutable": "mode=ro&immutable=1"}.get(mode, "mode=ro")
    uri = sqlite_uri(path, params)
    conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_ms() / 1000)
    if mode == "rw":
        conn.execute("PRAGMA query_only = ON")
    return conn


def _side_file_problem(path: str) -> str | None:
    """A -wal/-shm beside ``path`` that SQLite could not write, described; None if all is well.

    Mode bits count even for root (as for the database file itself): a
    ``-wal`` without write bits was made read-only on purpose.
    """
    for suffix, what in (("-wal", "write-ahead log"), ("-shm", "shared-memory index")):
        side = path + suffix
        try:
            st = os.stat(side)
        except FileNotFoundError:
            continue
        except OSError as e:
            return f"{side} (the {what} beside the database) cannot be read ({e.strerror})"
        if not stat.S_ISREG(st.st_mode):
            return (
                f"{side} should be SQLite's {what} but is not a regular file; "
                "move it out of the way"
            )
        if not (st.st_mode & 0o222) or not os.access(side, os.W_OK):
            return (
                f"{side} (the {what} beside the database) cannot be written; fix its "
                "permissions, or open with --read-only"
            )
    return None


def busy_error(path: str) -> DatabaseBusyError:
    """The error for a lock another process held longer than the busy timeout."""
    return DatabaseBusyError(
        path,
        f"{path}: database is locked by another process (waited "
        f"{busy_timeout_ms() / 1000:g} s); try again when it is done",
    )


def _wrap_sqlite_error(path: str, e: BaseException) -> DatabaseOpenError:
    msg = str(e)
    if "locked" in msg or "busy" in msg:
        return busy_error(path)
    if "unable to open" in msg or "readonly" in msg or "read-only" in msg:
        side = _side_file_problem(path)
        if side is not None:
            return ReadOnlyDatabaseError(path, f"{path}: {side}")
        return ReadOnlyDatabaseError(path, f"{path}: cannot be opened ({msg})")
    return CorruptDatabaseError(path, f"{path}: damaged SQLite file ({msg})")


def parse_schema_version(path: str, raw: str | None) -> int:
    """Turn the stored ``schema_version`` text into an int, or raise a clear error."""
    if raw is None:
        raise SchemaVersionError(
            path,
            f"{path}: _trace_meta has no schema_version row; this is not a database "
            "tract-tui can open",
        )
    try:
        version = int(str(raw).strip())
    except ValueError:
        raise SchemaVersionError(
            path, f"{path}: schema_version is {raw!r}, not a number; the file was left unchanged"
        ) from None
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            path,
            f"{path}: schema version {version} is newer than this tract-tui supports "
            f"({SCHEMA_VERSION}); upgrade tract-tui. The file was left unchanged",
        )
    if version < 1:
        raise SchemaVersionError(path, f"{path}: schema_version {version} is not valid")
    return version


def inspect_database(db_path: str | os.PathLike[str]) -> DatabaseState:
    """Look at a database file without writing to it, and refuse what we cannot open.

    Returns the schema version (None for a new/empty database) and the tables.
    Raises :class:`DatabaseNotFoundError`, :class:`NotADatabaseFileError`,
    :class:`CorruptDatabaseError`, :class:`NotATractDatabaseError`,
    :class:`SchemaVersionError` / :class:`SchemaTooNewError` or
    :class:`DatabaseBusyError`.
    """
    path = str(db_path)
    header = _check_header(path)
    if not header:
        return DatabaseState(path, None, frozenset())
    try:
        conn = _raw_inspect_connection(path, _inspect_mode(path, header))
        try:
            tables = frozenset(
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            )
            if not tables:
                return DatabaseState(path, None, tables)
            if "_trace_meta" not in tables:
                raise NotATractDatabaseError(
                    path,
                    f"{path}: is a SQLite database of another application (no _trace_meta "
                    "table); it was left unchanged",
                )
            row = conn.execute(
                "SELECT value FROM _trace_meta WHERE key = 'schema_version'"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise _wrap_sqlite_error(path, e) from e
    return DatabaseState(path, parse_schema_version(path, None if row is None else row[0]), tables)


# --- migrating ------------------------------------------------------------------


def _database_path(engine: Engine) -> str | None:
    db = engine.url.database
    if not db or db == ":memory:":
        return None
    if db.startswith("file:"):  # a read-only engine's URI: its path is percent-escaped
        db = os.fsdecode(unquote_to_bytes(db[5:]))
    return db


def _migrate(conn: Any, version: int | None) -> None:
    """Inside the caller's transaction: bring the schema from ``version`` to 5."""
    from sqlalchemy import text

    from tract_tui.storage.schema import MIGRATION_TABLES, Base

    if version is None:
        Base.metadata.create_all(conn)
        conn.execute(
            text("INSERT INTO _trace_meta (key, value) VALUES ('schema_version', :v)"),
            {"v": str(SCHEMA_VERSION)},
        )
        return
    for step in range(version + 1, SCHEMA_VERSION + 1):
        tables = [Base.metadata.tables[name] for name in MIGRATION_TABLES[step]]
        Base.metadata.create_all(conn, tables=tables, checkfirst=True)
    conn.execute(
        text("UPDATE _trace_meta SET value = :v WHERE key = 'schema_version'"),
        {"v": str(SCHEMA_VERSION)},
    )


def ensure_tui_indexes(engine: Engine) -> None:
    """Create the ``ix_tui_*`` indexes our listings need (IF NOT EXISTS, one transaction)."""
    with write_engine(engine).begin() as conn:
        for ddl in TUI_INDEXES:
            conn.exec_driver_sql(ddl)


def init_db(engine: Engine, *, tui_indexes: bool = True) -> int:
    """Bring the database behind ``engine`` to schema v5 and return the version.

    A new (absent, empty) database gets every table and ``schema_version`` "5".
    An existing one migrates v1->v2->...->v5 in one transaction. Anything that
    is not a tract database at 1..5 raises (see :func:`inspect_database`)
    before a single byte is written. ``tui_indexes`` adds tract-tui's extra
    ``ix_tui_*`` indexes in the same transaction.
    """
    from sqlalchemy import exc

    path = _database_path(engine)
    if path is not None and os.path.exists(path):
        inspect_database(path)  # raises for anything we must not touch
    try:
        with write_engine(engine).begin() as conn:
            version: int | None = None
            has_meta = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='_trace_meta'"
            ).first()
            if has_meta:
                raw = conn.exec_driver_sql(
                    "SELECT value FROM _trace_meta WHERE key = 'schema_version'"
                ).scalar()
                version = parse_schema_version(path or ":memory:", raw)
            else:
                other = conn.exec_driver_sql(
                    "SELECT count(*) FROM sqlite_master WHERE type='table'"
                ).scalar()
                if other:
                    raise NotATractDatabaseError(
                        path or ":memory:",
                        f"{path}: is a SQLite database of another application",
                    )
            if version != SCHEMA_VERSION:
                _migrate(conn, version)
            if tui_indexes:
                for ddl in TUI_INDEXES:
                    conn.exec_driver_sql(ddl)
    except exc.OperationalError as e:
        raise _wrap_sqlite_error(path or ":memory:", e.orig or e) from e
    except exc.DatabaseError as e:
        raise _wrap_sqlite_error(path or ":memory:", e.orig or e) from e
    return SCHEMA_VERSION


@dataclass
class OpenedDatabase:
    """A checked (and, unless read-only, migrated) tract database.

    The SQLAlchemy engine is made on first use of :attr:`engine` (the review
    service runs on plain sqlite3 connections and never needs it).
    """

    path: str
    engine_or_none: Engine | None
    read_only: bool
    version: int
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self.engine_or_none is None:
                self.engine_or_none = create_trace_engine(self.path, read_only=self.read_only)
            return self.engine_or_none

    def dispose(self) -> None:
        """Close the engine's pooled connections, if an engine was made."""
        if self.engine_or_none is not None:
            self.engine_or_none.dispose()


def tui_indexes_missing(path: str) -> list[str]:
    """Which of :data:`TUI_INDEX_NAMES` the (writable) file at ``path`` lacks.

    Only reads (``query_only``); a read-write connection, so that closing it
    removes the -wal/-shm it may create, as the migration's own would.
    """
    conn = sqlite3.connect(path, timeout=busy_timeout_ms() / 1000)
    try:
        conn.execute("PRAGMA query_only = ON")
        present = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    finally:
        conn.close()
    return [name for name in TUI_INDEX_NAMES if name not in present]


def open_database(
    db_path: str | os.PathLike[str], *, create: bool = False, read_only: bool = False
) -> OpenedDatabase:
    """Open a tract database the way the app, the CLI and the API all do.

    A missing path or a 0-byte file is refused unless ``create``. A file we
    may not write opens read-only (``read_only`` is then True in the result).
    Read-only opens never write: no migration, so a file below v5 raises
    :class:`ReadOnlyDatabaseError` saying so.
    """
    path = str(db_path)
    exists = os.path.exists(path)
    if not exists and not create:
        raise DatabaseNotFoundError(
            path, f"{path}: no such file (use --create to make a new tract database)"
        )
    if exists:
        state = inspect_database(path)
        if state.version is None and not create:
            raise NotADatabaseFileError(
                path, f"{path}: is empty, not a tract database (use --create to make one here)"
            )
        if not read_only and not _writable(path):
            read_only = True
        if read_only:
            if state.version is None or state.version < SCHEMA_VERSION:
                raise ReadOnlyDatabaseError(
                    path,
                    f"{path}: is at schema version {state.version or 0} and must be migrated "
                    f"to {SCHEMA_VERSION}, which a read-only open cannot do; open it writable "
                    "once (or with tract) first",
                )
            uri = sqlite_uri(path, "mode=ro")
            try:
                conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_ms() / 1000)
                try:
                    conn.execute("SELECT count(*) FROM policy_proposals").fetchone()
                finally:
                    conn.close()
            except sqlite3.Error as e:
                raise _wrap_sqlite_error(path, e) from e
            return OpenedDatabase(path, None, True, state.version)
    elif read_only:
        raise DatabaseNotFoundError(path, f"{path}: no such file")
    if exists:
        side = _side_file_problem(path)
        if side is not None:
            raise ReadOnlyDatabaseError(path, f"{path}: {side}")
        try:
            ready = state.version == SCHEMA_VERSION and not tui_indexes_missing(path)
        except sqlite3.Error as e:
            raise _wrap_sqlite_error(path, e) from e
        if ready:  # nothing to migrate, no index to add: no SQLAlchemy either
            return OpenedDatabase(path, None, False, SCHEMA_VERSION)
    engine = create_trace_engine(path)
    try:
        version = init_db(engine)
    except BaseException:
        engine.dispose()
        raise
    return OpenedDatabase(path, engine, False, version)


def _writable(path: str) -> bool:
    """Can we write the file and create -wal/-shm beside it?"""
    # Mode bits too: root passes os.access, but a file chmod'ed 444 says "do not write".
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode
    return bool(mode & 0o222) and os.access(path, os.W_OK) and os.access(directory, os.W_OK)
