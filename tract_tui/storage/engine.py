"""SQLAlchemy's part: the engine, sessions, and the migration of a tract database to v5.

SQLAlchemy earns its place here: the seed's ORM rows and repository, the DDL
of every tract table (``schema.py``), and the migration, which creates
tables from that DDL. Connections are set up by the same
:func:`~tract_tui.storage.connection.configure` as the plain ``sqlite3``
ones, and errors are classified by the same
:func:`~tract_tui.storage.errors.classify`.

Opening is done in two phases so that a refusal never writes a byte:
:func:`~tract_tui.storage.inspect.inspect_database` looks at the file on a
read-only connection first; :func:`init_db` then migrates in ONE
``BEGIN IMMEDIATE`` transaction: every step and the new ``schema_version``
commit together or not at all (SQLite DDL is transactional), so a crash
leaves the file at its old version.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_to_bytes

from tract_tui.exceptions import NotATractDatabaseError
from tract_tui.storage.connection import configure
from tract_tui.storage.errors import classify
from tract_tui.storage.indexes import TUI_INDEXES
from tract_tui.storage.inspect import inspect_database, parse_schema_version, sqlite_uri
from tract_tui.storage.version import POLICY_COMPATIBLE, SCHEMA_VERSION

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker


def __getattr__(name: str) -> Any:
    """``Base`` and ``MIGRATION_TABLES`` stay importable from here (loaded on first use)."""
    if name in ("Base", "MIGRATION_TABLES"):
        from tract_tui.storage import schema

        return getattr(schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _is_memory(db_path: str | os.PathLike[str]) -> bool:
    return str(db_path) in ("", ":memory:")


def create_trace_engine(
    db_path: str | os.PathLike[str] = ":memory:", *, read_only: bool = False
) -> Engine:
    """Create a SQLite engine for a tract database.

    Every connection is set up by :func:`configure` (busy timeout,
    ``synchronous=NORMAL``, foreign keys, WAL unless ``read_only``, as tract
    uses). Transactions begin explicitly (``BEGIN`` / ``BEGIN IMMEDIATE``
    via the ``sqlite_begin`` execution option) so that DDL is transactional
    and a writer takes its lock up front. With ``read_only`` the file is
    opened ``mode=ro``: SQLite itself refuses any write.
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

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        configure(dbapi_conn, read_only=read_only)
        dbapi_conn.text_factory = str  # the ORM's own rows: strict UTF-8, as tract reads them

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (rows are handed on as data)."""
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(bind=engine, expire_on_commit=False)


def write_engine(engine: Engine) -> Engine:
    """The same engine, but its transactions begin IMMEDIATE (take the write lock first)."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def database_path(engine: Engine) -> str | None:
    """The file behind ``engine`` (None in memory)."""
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


def _version_inside(conn: Any, path: str) -> int | None:
    """The schema version read inside the migration's own transaction (None: empty file)."""
    has_meta = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='_trace_meta'"
    ).first()
    if has_meta:
        raw = conn.exec_driver_sql(
            "SELECT value FROM _trace_meta WHERE key = 'schema_version'"
        ).scalar()
        return parse_schema_version(path, raw)
    if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type='table'").scalar():
        raise NotATractDatabaseError(path, f"{path}: is a SQLite database of another application")
    return None


def init_db(engine: Engine, *, tui_indexes: bool = True) -> int:
    """Bring the database behind ``engine`` to schema v5 and return its version.

    A new (absent, empty) database gets every table and ``schema_version``
    "5". An existing one migrates v1->v2->...->v5 in one transaction. A
    policy-compatible v6..v9 file is left at its version (nothing written
    but, with ``tui_indexes``, tract-tui's indexes). Anything that is not a
    tract database tract-tui may open raises before a single byte is
    written. ``tui_indexes`` adds the ``ix_tui_*`` indexes in the same
    transaction (on a large existing file that takes seconds: the console
    builds them later instead, see :mod:`tract_tui.storage.indexes`).
    """
    from sqlalchemy import exc

    path = database_path(engine)
    if path is not None and os.path.exists(path):
        inspect_database(path)  # raises for anything we must not touch
    label = path or ":memory:"
    try:
        with write_engine(engine).begin() as conn:
            version = _version_inside(conn, label)
            if version is None or version < SCHEMA_VERSION:
                _migrate(conn, version)
                version = SCHEMA_VERSION
            if tui_indexes:
                for ddl in TUI_INDEXES:
                    conn.exec_driver_sql(ddl)
    except exc.DBAPIError as e:
        raise classify(label, e) from e
    return version if version in POLICY_COMPATIBLE else SCHEMA_VERSION
