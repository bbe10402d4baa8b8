"""Look at a database file without writing a byte, and refuse what tract-tui must not touch.

:func:`inspect_database` decides, on a read-only connection whose close
leaves nothing behind, whether a file is a tract database tract-tui may
open: its header, its tables, its ``schema_version`` and the shape of the
two policy tables. Every refusal is a
:class:`~tract_tui.exceptions.DatabaseOpenError` whose one-line message
names the path, what was found and what to do. No SQLAlchemy here.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from urllib.parse import quote

from tract_tui.exceptions import (
    CorruptDatabaseError,
    DatabaseNotFoundError,
    NotADatabaseFileError,
    NotATractDatabaseError,
    PolicyTablesError,
    SchemaTooNewError,
    SchemaVersionError,
)
from tract_tui.models.record import Record
from tract_tui.storage.errors import busy_timeout_ms, classify
from tract_tui.storage.version import (
    FIRST_WITHOUT_POLICY_TABLES,
    POLICY_COMPATIBLE,
    SCHEMA_VERSION,
    reviewed_range,
)

SQLITE_HEADER = b"SQLite format 3\x00"
#: Files SQLite keeps beside a database: write-ahead log, its shared-memory index, rollback journal.
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
POLICY_TABLES = ("policy_proposals", "policy_log")

#: The columns of the policy tables exactly as tract v5..v9 create them:
#: (name, declared type, NOT NULL, primary key position). The DDL is byte-identical
#: across those versions; tests/test_policy_storage.py checks this against schema.py.
EXPECTED_COLUMNS: dict[str, tuple[tuple[str, str, bool, int], ...]] = {
    "policy_proposals": (
        ("proposal_id", "VARCHAR(64)", True, 1),
        ("tract_id", "VARCHAR(64)", True, 0),
        ("policy_name", "VARCHAR(100)", True, 0),
        ("action_type", "VARCHAR(50)", True, 0),
        ("action_params_json", "JSON", False, 0),
        ("reason", "TEXT", False, 0),
        ("status", "VARCHAR(20)", True, 0),
        ("created_at", "DATETIME", True, 0),
        ("resolved_at", "DATETIME", False, 0),
    ),
    "policy_log": (
        ("id", "INTEGER", True, 1),
        ("tract_id", "VARCHAR(64)", True, 0),
        ("policy_name", "VARCHAR(100)", True, 0),
        ("trigger", "VARCHAR(20)", True, 0),
        ("action_type", "VARCHAR(50)", False, 0),
        ("reason", "TEXT", False, 0),
        ("outcome", "VARCHAR(20)", True, 0),
        ("commit_hash", "VARCHAR(64)", False, 0),
        ("error_message", "TEXT", False, 0),
        ("created_at", "DATETIME", True, 0),
    ),
}


def sqlite_uri(path: str | os.PathLike[str], query: str) -> str:
    """A ``file:`` URI for ``path`` with ``query`` (e.g. ``mode=ro``).

    SQLite's URI parser reads ``?`` and ``#`` as delimiters and ``%XX`` as
    escapes, so a file named ``a#b.db`` opened as ``file:a#b.db`` is ``a``
    (created empty in read-write modes). Every byte but letters, digits and
    ``/-._~`` is percent-escaped, the file name's own bytes included.
    """
    absolute = os.fsencode(os.path.abspath(path))
    return f"file:{quote(absolute, safe='/')}?{query}"


class DatabaseState(Record):
    """What :func:`inspect_database` found: ``version`` None means an empty database.

    ``problem`` is set when the file may be read but not written by
    tract-tui (a foreign NOT NULL column in ``policy_log``).
    """

    path: str
    version: int | None
    tables: frozenset[str]
    problem: str | None
    #: Listing-key columns ("table.column") that may hold NULL (tract declares them NOT NULL).
    nullable: frozenset[str]
    _fields = ("path", "version", "tables", "problem", "nullable")

    def __init__(
        self,
        path: str,
        version: int | None,
        tables: frozenset[str],
        problem: str | None = None,
        nullable: frozenset[str] = frozenset(),
    ) -> None:
        self.__dict__.update(
            path=path, version=version, tables=tables, problem=problem, nullable=nullable
        )


def writable(path: str) -> bool:
    """Can we write the file and create -wal/-shm beside it?

    Mode bits count even for root: a file chmod'ed 444 says "do not write".
    """
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode
    return bool(mode & 0o222) and os.access(path, os.W_OK) and os.access(directory, os.W_OK)


def _stat_or_refuse(path: str) -> os.stat_result:
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
    return st


#: Read-only descriptors of the database files whose header we read, by (device, inode):
#: never closed. Closing any descriptor of a file drops every POSIX lock this process
#: holds on it, SQLite's included: an agent that opens tract-tui's queue beside its own
#: tract connection (or a console beside a CLI call in one test process) would lose its
#: locks, and another process could then checkpoint under it (a "disk I/O error", or a
#: damaged schema). SQLite keeps its own descriptors open for that reason; so do we.
_HEADER_FDS: dict[tuple[int, int], int] = {}
_HEADER_LOCK = threading.Lock()
#: A descriptor opened in a race with a replacement of the file: kept open all the same.
_NEVER_CLOSED: list[int] = []


def read_header(path: str, size: int = 100) -> bytes:
    """The first ``size`` bytes of ``path``, read without ever closing a descriptor of it."""
    with _HEADER_LOCK:
        st = os.stat(path)
        fd = _HEADER_FDS.get((st.st_dev, st.st_ino))
        if fd is None:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            opened = os.fstat(fd)
            key = (opened.st_dev, opened.st_ino)
            if key in _HEADER_FDS:  # replaced between stat and open by a file we know
                _NEVER_CLOSED.append(fd)
                fd = _HEADER_FDS[key]
            else:
                _HEADER_FDS[key] = fd
        return os.pread(fd, size, 0)


def check_header(path: str) -> bytes:
    """Raise for non-SQLite or truncated files; return the 100-byte header (b"" if 0 bytes)."""
    if _stat_or_refuse(path).st_size == 0:
        return b""
    try:
        header = read_header(path)
    except OSError as e:
        raise NotADatabaseFileError(path, f"{path}: cannot be read ({e.strerror})") from e
    if not header.startswith(SQLITE_HEADER):
        raise NotADatabaseFileError(
            path, f"{path}: is not a SQLite database (it does not start with the SQLite header)"
        )
    size = os.stat(path).st_size
    if len(header) < 100:
        raise CorruptDatabaseError(path, f"{path}: SQLite file is truncated ({size} bytes)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    page_count = int.from_bytes(header[28:32], "big")
    # The size check only holds for a file nobody has open: while another process
    # checkpoints, page 1 (with the new page count) is written before the file has
    # grown to it. An open database always has a -wal/-shm (or -journal) beside it.
    quiescent = not any(os.path.lexists(path + s) for s in SIDE_SUFFIXES)
    counted = header[24:28] == header[92:96]
    if quiescent and page_count and counted and size < page_count * page_size:
        raise CorruptDatabaseError(
            path,
            f"{path}: SQLite file is truncated ({size} bytes, header says "
            f"{page_count * page_size}); restore it from a backup",
        )
    return header


def _inspect_mode(path: str, header: bytes) -> str:
    """How :func:`inspect_database` may open ``path`` without leaving a trace.

    A read-only (``mode=ro``) connection to a WAL database creates the
    ``-wal`` and ``-shm`` files when they are missing and, being read-only,
    cannot delete them when it closes. So when the header says WAL and no
    side file exists yet: ``rw`` (with ``query_only``) if we may write the
    file, since SQLite's close protocol then removes what it created (and
    keeps them when another process has the file open meanwhile);
    ``immutable`` if we may not: no side file means no committed data
    outside the main file. Otherwise ``ro``, which then creates nothing.
    """
    wal_mode = len(header) >= 20 and header[18] == 2 and header[19] == 2
    if not wal_mode or any(os.path.lexists(path + s) for s in SIDE_SUFFIXES):
        return "ro"
    return "rw" if writable(path) else "immutable"


def inspect_connection(path: str, mode: str = "ro") -> sqlite3.Connection:
    """A connection that reads ``path`` without writing (see :func:`_inspect_mode`)."""
    params = {"rw": "mode=rw", "immutable": "mode=ro&immutable=1"}.get(mode, "mode=ro")
    conn = sqlite3.connect(sqlite_uri(path, params), uri=True, timeout=busy_timeout_ms() / 1000)
    if mode == "rw":
        conn.execute("PRAGMA query_only = ON")
    return conn


def side_file_problem(path: str) -> str | None:
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


def parse_schema_version(path: str, raw: object, tables: frozenset[str] | None = None) -> int:
    """Turn the stored ``schema_version`` into an int, or refuse the file with a clear error.

    ``tables`` (when known) lets a too-new file be told apart: one whose policy
    tables are gone gets exactly that reason.
    """
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
    if version < 1:
        raise SchemaVersionError(path, f"{path}: schema_version {version} is not valid")
    if version >= FIRST_WITHOUT_POLICY_TABLES or (
        version > SCHEMA_VERSION and version not in POLICY_COMPATIBLE
    ):
        gone = tables is not None and not set(POLICY_TABLES) & tables
        why = "has no policy tables" if gone else "is newer than this tract-tui knows"
        raise SchemaTooNewError(
            path,
            f"{path}: tract schema {version} {why}; tract-tui reviews schema "
            f"{reviewed_range()}. The file was left unchanged",
        )
    return version


def policy_table_problem(
    conn: sqlite3.Connection, *, strict: bool, tables: frozenset[str]
) -> tuple[str | None, str | None]:
    """(why the file is refused, why it may only be read) for the policy tables' shape.

    ``strict`` (a policy-compatible v6..v9 file, used without migration): the
    tables must be exactly as tract creates them. Otherwise (v5, or a file
    about to be migrated that already has them): every column tract-tui reads
    must be there; a foreign NOT NULL column without a default in
    ``policy_log`` means tract-tui could not write its log rows.
    """
    for table in POLICY_TABLES:
        if table not in tables:
            if strict:
                return f"it has no {table} table", None
            continue
        found = {
            str(r[1]): (str(r[2]).upper(), bool(r[3]), r[4], int(r[5]))
            for r in conn.execute(f"PRAGMA table_info({table})")
        }
        expected = {name: (kind, nn, pk) for name, kind, nn, pk in EXPECTED_COLUMNS[table]}
        missing = [name for name in expected if name not in found]
        if missing:
            return f"{table} has no column {', '.join(missing)}", None
        extra = [name for name in found if name not in expected]
        if strict:
            changed = [
                n for n, e in expected.items() if (found[n][0], found[n][1], found[n][3]) != e
            ]
            if extra or changed:
                diff = [f"extra column {n}" for n in extra]
                diff += [f"column {n} is {found[n][0]}{' NOT NULL' * found[n][1]}" for n in changed]
                return f"{table} differs from tract's: {'; '.join(diff)}", None
            continue
        blocking = [
            n for n in extra if found[n][1] and found[n][2] is None and table == "policy_log"
        ]
        if blocking:
            return None, (
                f"policy_log has a column {', '.join(blocking)} (NOT NULL, no default) that "
                "tract-tui cannot fill, so it cannot log decisions; open it with --read-only"
            )
    return None, None


def inspect_database(
    db_path: str | os.PathLike[str], *, keep: contextlib.ExitStack | None = None
) -> DatabaseState:
    """Look at a database file without writing to it, and refuse what we cannot open.

    ``keep``: the connection that looked is closed by that stack, not here
    (see :func:`~tract_tui.storage.open.open_database`'s ``hold``).

    Returns the schema version (None for a new/empty database) and the tables.
    Raises :class:`DatabaseNotFoundError`, :class:`NotADatabaseFileError`,
    :class:`CorruptDatabaseError`, :class:`NotATractDatabaseError`,
    :class:`SchemaVersionError` / :class:`SchemaTooNewError`,
    :class:`PolicyTablesError` or :class:`DatabaseBusyError`.
    """
    path = str(db_path)
    header = check_header(path)
    if not header:
        return DatabaseState(path, None, frozenset())
    try:
        conn = inspect_connection(path, _inspect_mode(path, header))
        try:
            state = _inspect(conn, path)
        except BaseException:
            conn.close()
            raise
        if keep is None:
            conn.close()
        else:
            keep.callback(conn.close)
        return state
    except sqlite3.Error as e:
        raise classify(path, e) from e


def _inspect(conn: sqlite3.Connection, path: str) -> DatabaseState:
    tables = frozenset(
        str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
    )
    if not tables:
        return DatabaseState(path, None, tables)
    if "_trace_meta" not in tables:
        raise NotATractDatabaseError(
            path,
            f"{path}: is a SQLite database of another application (no _trace_meta "
            "table); it was left unchanged",
        )
    row = conn.execute("SELECT value FROM _trace_meta WHERE key = 'schema_version'").fetchone()
    version = parse_schema_version(path, None if row is None else row[0], tables)
    refused, read_only = policy_table_problem(
        conn, strict=version in POLICY_COMPATIBLE, tables=tables
    )
    if refused is not None:
        raise PolicyTablesError(
            path, f"{path}: {refused}; tract-tui does not open it (the file was left unchanged)"
        )
    return DatabaseState(path, version, tables, read_only, _nullable_keys(conn, tables))


def _nullable_keys(conn: sqlite3.Connection, tables: frozenset[str]) -> frozenset[str]:
    found = set()
    for table, cols in (
        ("policy_proposals", ("created_at", "proposal_id")),
        ("policy_log", ("created_at",)),
    ):
        if table not in tables:
            continue
        for r in conn.execute(f"PRAGMA table_info({table})"):
            if str(r[1]) in cols and not r[3] and not r[5]:
                found.add(f"{table}.{r[1]}")
            elif str(r[1]) == "proposal_id" and table == "policy_proposals" and not r[3]:
                found.add("policy_proposals.proposal_id")  # a non-INTEGER key may hold NULL
    return frozenset(found)
