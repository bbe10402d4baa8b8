"""Storage foundation: schema, migrations, refusals, repository, domain models."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from tests.conftest import sha256
from tract_tui.exceptions import (
    CorruptDatabaseError,
    DatabaseOpenError,
    NotADatabaseFileError,
    NotATractDatabaseError,
    PolicyConfigError,
    PolicyExecutionError,
    SchemaTooNewError,
    SchemaVersionError,
    TraceError,
)
from tract_tui.models.policy import (
    EvaluationResult,
    PolicyAction,
    PolicyLogEntry,
    PolicyProposal,
)
from tract_tui.storage import (
    PolicyLogRow,
    PolicyProposalRow,
    SqlitePolicyRepository,
    create_session_factory,
    create_trace_engine,
    init_db,
)
from tract_tui.storage.schema import MIGRATION_TABLES, V1_TABLES

ALL_TABLES = set(V1_TABLES).union(*MIGRATION_TABLES.values())
T0 = datetime(2026, 3, 1, 12, 0, 0)


def schema_version(path: Path) -> str:
    with sqlite3.connect(path) as c:
        return c.execute("SELECT value FROM _trace_meta WHERE key='schema_version'").fetchone()[0]


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as c:
        return {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def dump_table(path: Path, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as c:
        return sorted(c.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)


@pytest.fixture
def session(tmp_path: Path):
    engine = create_trace_engine(tmp_path / "new.db")
    init_db(engine)
    factory = create_session_factory(engine)
    with factory() as s:
        yield s
    engine.dispose()


def proposal(pid: str, *, tract: str = "t1", minutes: int = 0, status: str = "pending"):
    return PolicyProposalRow(
        proposal_id=pid,
        tract_id=tract,
        policy_name="auto-compress",
        action_type="compress",
        action_params_json={"content": "x", "n": [1, 2]},
        reason=f"reason {pid}",
        status=status,
        created_at=T0 + timedelta(minutes=minutes),
    )


def log_row(minutes: int, *, tract: str = "t1", policy: str = "p1") -> PolicyLogRow:
    return PolicyLogRow(
        tract_id=tract,
        policy_name=policy,
        trigger="commit",
        action_type="annotate",
        reason=f"at {minutes}",
        outcome="proposed",
        created_at=T0 + timedelta(minutes=minutes),
    )


# --- schema and migration -----------------------------------------------------


def test_new_database_starts_at_v5_with_every_table(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    engine = create_trace_engine(path)
    assert init_db(engine) == 5
    engine.dispose()
    assert schema_version(path) == "5"
    assert tables(path) >= ALL_TABLES
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_in_memory_database(tmp_path: Path) -> None:
    engine = create_trace_engine()
    init_db(engine)
    assert set(inspect(engine).get_table_names()) >= ALL_TABLES


def test_fresh_ddl_matches_what_tract_writes(tmp_path: Path, fixture_copy) -> None:
    path = tmp_path / "fresh.db"
    init_db(create_trace_engine(path), tui_indexes=False)

    def ddl(p: Path) -> dict[str, str]:
        with sqlite3.connect(p) as c:
            rows = c.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")
            return dict(rows.fetchall())

    assert ddl(path) == ddl(fixture_copy(5))


def test_engine_pragmas(tmp_path: Path) -> None:
    engine = create_trace_engine(tmp_path / "p.db")
    init_db(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
def test_fixture_migrates_to_v5_keeping_every_row(fixture_copy, version: int) -> None:
    path = fixture_copy(version)
    before_tables = tables(path)
    before = {t: dump_table(path, t) for t in before_tables if t != "_trace_meta"}
    meta_before = dict(dump_table(path, "_trace_meta"))
    engine = create_trace_engine(path)
    assert init_db(engine) == 5
    engine.dispose()
    assert schema_version(path) == "5"
    assert tables(path) >= ALL_TABLES
    for t, rows in before.items():
        assert dump_table(path, t) == rows, t
    meta_after = dict(dump_table(path, "_trace_meta"))
    meta_before["schema_version"] = "5"
    assert meta_after == meta_before
    # opening again is a no-op
    engine = create_trace_engine(path)
    init_db(engine)
    engine.dispose()
    assert {t: dump_table(path, t) for t in before} == before


def test_v4_to_v5_adds_only_policy_tables(fixture_copy) -> None:
    path = fixture_copy(4)
    before = tables(path)
    init_db(create_trace_engine(path))
    assert tables(path) - before == {"policy_proposals", "policy_log"}


def test_full_chain_from_v1(fixture_copy) -> None:
    path = fixture_copy(1)
    assert "commit_parents" not in tables(path)
    init_db(create_trace_engine(path))
    got = tables(path)
    for step in MIGRATION_TABLES.values():
        assert set(step) <= got


def test_migration_is_one_transaction(fixture_copy, monkeypatch) -> None:
    """A failure in the last step leaves v1 with none of the earlier steps' tables."""
    path = fixture_copy(1)
    before = sha256(path)
    from tract_tui.storage import engine as engine_mod

    real = engine_mod.Base.metadata.create_all

    def failing(conn, tables=None, checkfirst=True):
        if tables and tables[0].name == "policy_proposals":
            raise RuntimeError("boom")
        return real(conn, tables=tables, checkfirst=checkfirst)

    monkeypatch.setattr(engine_mod.Base.metadata, "create_all", failing)
    engine = create_trace_engine(path)
    with pytest.raises(RuntimeError):
        init_db(engine)
    engine.dispose()
    assert schema_version(path) == "1"
    assert "commit_parents" not in tables(path)
    assert sha256(path) == before


def test_v5_pending_per_tract_equals_sqlite3(v5_db: Path) -> None:
    with sqlite3.connect(v5_db) as c:
        expected = {
            tract: [
                r[0]
                for r in c.execute(
                    "SELECT proposal_id FROM policy_proposals WHERE tract_id=? AND status="
                    "'pending' ORDER BY created_at",
                    (tract,),
                )
            ]
            for (tract,) in c.execute("SELECT DISTINCT tract_id FROM policy_proposals")
        }
    engine = create_trace_engine(v5_db)
    init_db(engine)
    with create_session_factory(engine)() as s:
        repo = SqlitePolicyRepository(s)
        got = {t: [p.proposal_id for p in repo.get_pending_proposals(t)] for t in expected}
        # params come back as Python objects
        first = repo.get_pending_proposals("support-agent")[0]
        assert first.action_params_json["priority"] == "skip"
        assert isinstance(first.created_at, datetime)
    assert got == expected
    assert sum(len(v) for v in got.values()) == 10


# --- refusals ---------------------------------------------------------------------


def set_version(path: Path, value: str | None) -> None:
    c = sqlite3.connect(path)
    with c:  # commits
        if value is None:
            c.execute("DELETE FROM _trace_meta WHERE key='schema_version'")
        else:
            c.execute("UPDATE _trace_meta SET value=? WHERE key='schema_version'", (value,))
    c.close()  # checkpoints the WAL now, not later behind the hash comparison


def refuse(path: Path, error: type[Exception], *words: str) -> None:
    before = sha256(path)
    engine = create_trace_engine(path)
    with pytest.raises(error) as info:
        init_db(engine)
    engine.dispose()
    assert sha256(path) == before
    message = str(info.value)
    assert str(path) in message
    for w in words:
        assert w in message
    assert "\n" not in message


def test_newer_version_refused(fixture_copy) -> None:
    path = fixture_copy(5)
    set_version(path, "11")
    refuse(path, SchemaTooNewError, "newer", "11")


def test_non_numeric_version_refused(fixture_copy) -> None:
    path = fixture_copy(3)
    set_version(path, "abc")
    refuse(path, SchemaVersionError, "'abc'")


def test_missing_version_row_refused(fixture_copy) -> None:
    path = fixture_copy(2)
    set_version(path, None)
    refuse(path, SchemaVersionError, "schema_version")


def test_foreign_sqlite_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE songs (id INTEGER PRIMARY KEY, title TEXT)")
        c.execute("INSERT INTO songs (title) VALUES ('x')")
    refuse(path, NotATractDatabaseError, "another application")
    assert tables(path) == {"songs"}


def test_text_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a database\n" * 20)
    refuse(path, NotADatabaseFileError, "not a SQLite database")


def test_truncated_sqlite_refused(fixture_copy) -> None:
    path = fixture_copy(5)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    refuse(path, CorruptDatabaseError, "truncated")


def test_refusal_errors_are_trace_errors() -> None:
    for cls in (
        SchemaTooNewError,
        SchemaVersionError,
        NotATractDatabaseError,
        NotADatabaseFileError,
        CorruptDatabaseError,
    ):
        assert issubclass(cls, DatabaseOpenError)
        assert issubclass(cls, TraceError)


# --- repository -------------------------------------------------------------------


def test_proposal_round_trip(session) -> None:
    repo = SqlitePolicyRepository(session)
    repo.save_proposal(proposal("p1"))
    session.commit()
    session.expunge_all()
    got = repo.get_proposal("p1")
    assert got is not None
    assert got.action_params_json == {"content": "x", "n": [1, 2]}
    assert got.created_at == T0
    assert got.status == "pending" and got.resolved_at is None
    assert repo.get_proposal("nope") is None


def test_default_status_is_pending(session) -> None:
    repo = SqlitePolicyRepository(session)
    row2 = PolicyProposalRow(
        proposal_id="p2", tract_id="t", policy_name="x", action_type="y", created_at=T0
    )
    repo.save_proposal(row2)
    assert repo.get_proposal("p2").status == "pending"  # type: ignore[union-attr]


def test_pending_only_and_in_order(session) -> None:
    repo = SqlitePolicyRepository(session)
    repo.save_proposal(proposal("late", minutes=30))
    repo.save_proposal(proposal("early", minutes=1))
    repo.save_proposal(proposal("done", minutes=0, status="approved"))
    repo.save_proposal(proposal("other-tract", tract="t2"))
    assert [p.proposal_id for p in repo.get_pending_proposals("t1")] == ["early", "late"]
    assert [p.proposal_id for p in repo.get_pending_proposals("t2")] == ["other-tract"]


def test_update_status_sets_resolved_at(session) -> None:
    repo = SqlitePolicyRepository(session)
    repo.save_proposal(proposal("p1"))
    when = T0 + timedelta(hours=1)
    repo.update_proposal_status("p1", "approved", when)
    session.commit()
    session.expunge_all()
    got = repo.get_proposal("p1")
    assert got is not None and got.status == "approved" and got.resolved_at == when
    assert repo.get_pending_proposals("t1") == []
    with pytest.raises(KeyError):
        repo.update_proposal_status("missing", "approved", when)


def test_log_round_trip_and_filters(session) -> None:
    repo = SqlitePolicyRepository(session)
    for m in range(10):
        repo.save_log_entry(log_row(m, policy="p1" if m % 2 else "p2"))
    repo.save_log_entry(log_row(5, tract="t2"))
    session.commit()
    rows = repo.get_log("t1")
    assert [r.reason for r in rows] == [f"at {m}" for m in range(9, -1, -1)]
    assert rows[0].id is not None and rows[0].outcome == "proposed"
    assert rows[0].commit_hash is None and rows[0].error_message is None
    since = repo.get_log("t1", since=T0 + timedelta(minutes=7))
    assert [r.reason for r in since] == ["at 9", "at 8", "at 7"]
    until = repo.get_log("t1", until=T0 + timedelta(minutes=2))
    assert [r.reason for r in until] == ["at 2", "at 1", "at 0"]
    both = repo.get_log("t1", since=T0 + timedelta(minutes=3), until=T0 + timedelta(minutes=3))
    assert [r.reason for r in both] == ["at 3"]
    p1 = repo.get_log("t1", policy_name="p1")
    assert [r.reason for r in p1] == ["at 9", "at 7", "at 5", "at 3", "at 1"]
    assert [r.reason for r in repo.get_log("t1", limit=2)] == ["at 9", "at 8"]
    assert len(repo.get_log("t2")) == 1


def test_delete_log_entries(session) -> None:
    repo = SqlitePolicyRepository(session)
    for m in range(10):
        repo.save_log_entry(log_row(m))
    repo.save_log_entry(log_row(0, tract="t2"))
    assert repo.delete_log_entries("t1", T0 + timedelta(minutes=4)) == 4  # strictly before
    assert [r.reason for r in repo.get_log("t1")][-1] == "at 4"
    assert len(repo.get_log("t2")) == 1
    assert repo.delete_log_entries("t1", T0) == 0


# --- domain models ----------------------------------------------------------------


def test_policy_action_defaults_and_frozen() -> None:
    a = PolicyAction("compress")
    assert a.params == {} and a.reason == "" and a.autonomy == "collaborative"
    assert PolicyAction("x").params is not a.params
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.action_type = "other"  # type: ignore[misc]


def test_proposal_approve_runs_execute_fn() -> None:
    seen = []

    def execute(p: PolicyProposal) -> str:
        seen.append(p.proposal_id)
        return "done"

    p = PolicyProposal("id1", "pol", PolicyAction("branch"), T0, _execute_fn=execute)
    assert p.status == "pending"
    assert "_execute_fn" not in repr(p)
    assert p.approve() == "done"
    assert p.status == "approved" and seen == ["id1"]


def test_proposal_approve_without_fn_raises() -> None:
    p = PolicyProposal("id1", "pol", PolicyAction("branch"), T0)
    with pytest.raises(PolicyExecutionError, match="no execute function"):
        p.approve()
    assert p.status == "pending"


def test_proposal_reject() -> None:
    p = PolicyProposal("id1", "pol", PolicyAction("branch"), T0)
    p.reject("not now")
    assert p.status == "rejected"


def test_evaluation_result_and_log_entry() -> None:
    r = EvaluationResult("pol", triggered=False)
    assert r.action is None and r.outcome == "skipped" and r.error is None
    assert r.commit_hash is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.outcome = "x"  # type: ignore[misc]
    fields = [f.name for f in dataclasses.fields(PolicyLogEntry)]
    assert fields == [c.name for c in PolicyLogRow.__table__.columns]


def test_exception_hierarchy() -> None:
    assert issubclass(PolicyExecutionError, TraceError)
    assert issubclass(PolicyConfigError, TraceError)
    assert issubclass(TraceError, Exception)


def test_models_and_storage_do_not_import_textual() -> None:
    code = (
        "import sys, tract_tui.models, tract_tui.storage, tract_tui.exceptions;"
        "import tract_tui.review;"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith('textual.')];"
        "assert not bad, bad;"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'];"
        "assert not bad, 'importing the layers needs no SQLAlchemy: ' + repr(bad[:5])"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    code2 = (
        "import sys, tract_tui.models;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'textual')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code2], check=True)
