"""The SQL behind an agent's context: a tract's commits, their blobs, annotations and refs.

Read the way the tract library reads them (``tract/storage/sqlite.py``):
all of one tract's commits at once, then the blobs, the latest annotation
and the extra (merge) parents of the commits on a chain. Everything is
returned as plain data for review/context.py, which compiles it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from tract_tui.storage.sql import fetch_all_fast, marks

#: Values per IN (...) list: well under SQLite's limit on parameters.
CHUNK = 500


class CommitRecord(NamedTuple):
    """One row of ``commits`` (the edit target: ``response_to`` before v8, ``edit_target`` from).

    A named tuple: a long branch is thousands of rows per look, and a tuple
    is built several times faster than a frozen dataclass.
    """

    commit_hash: str
    tract_id: str
    parent_hash: str | None
    content_hash: str
    content_type: str
    operation: str
    edit_target: str | None
    token_count: int
    created_at: str


@dataclass(frozen=True)
class AnnotationRecord:
    priority: str
    reason: str | None
    created_at: str


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for v in values:
        chunk.append(v)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")}


def tables(conn: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def commits_of(
    conn: sqlite3.Connection, tract_id: str, after_rowid: int | None = None
) -> dict[str, CommitRecord]:
    """Every commit of the tract, by hash (the library walks chains within one tract).

    With ``after_rowid``, only the rows written after that one (a kept
    tract catching up). The library writes text in these columns; SQLite
    casts anything else (a hand-made file) to text here, so the records
    hold what their types say.
    """
    target = "edit_target" if "edit_target" in _columns(conn, "commits") else "response_to"
    sql = (
        "SELECT CAST(commit_hash AS TEXT), CAST(tract_id AS TEXT), CAST(parent_hash AS TEXT),"
        " CAST(content_hash AS TEXT), CAST(content_type AS TEXT), upper(operation),"
        f" CAST({target} AS TEXT), coalesce(CAST(token_count AS INTEGER), 0),"
        " CAST(created_at AS TEXT) FROM commits WHERE tract_id = ?"
    )
    args: tuple[object, ...] = (tract_id,)
    if after_rowid is not None:
        sql, args = sql + " AND rowid > ?", (tract_id, after_rowid)
    return {r[0]: CommitRecord(*r) for r in fetch_all_fast(conn, sql, args)}


def commits_key(conn: sqlite3.Connection, tract_id: str) -> tuple[int, int, str | None]:
    """(count, last rowid, its hash) of the tract's commits: what a kept copy checks.

    The library only ever inserts commits, and deletes them (a delete sets
    its children's parent to NULL, the one update it makes). An insert
    raises the last rowid, or reuses a deleted last one under a new hash;
    a delete alone lowers the count. So an equal key means equal commits.
    """
    row = conn.execute(
        "SELECT count(*), max(rowid) FROM commits WHERE tract_id = ?", (tract_id,)
    ).fetchone()
    count, last = int(row[0]), row[1]
    if last is None:
        return 0, 0, None
    found = conn.execute("SELECT CAST(commit_hash AS TEXT) FROM commits WHERE rowid = ?", (last,))
    return count, int(last), found.fetchone()[0]


def annotations_key(conn: sqlite3.Connection) -> tuple[object, ...]:
    """(count, the last row) of the whole annotations table: equal key, equal annotations.

    Whole-table: an annotation's target may be in another tract than its
    writer. Rows are inserted, and deleted with their commit; the last row's
    content tells a reused rowid apart.
    """
    count = conn.execute("SELECT count(*) FROM annotations").fetchone()[0]
    last = conn.execute(
        "SELECT rowid, target_hash, priority, created_at FROM annotations"
        " ORDER BY rowid DESC LIMIT 1"
    ).fetchone()
    return (count, *(last or ()))


def commit(conn: sqlite3.Connection, commit_hash: str) -> str | None:
    """The tract a commit belongs to (any tract), or None when it is not in the file."""
    row = conn.execute("SELECT tract_id FROM commits WHERE commit_hash = ?", (commit_hash,))
    found = row.fetchone()
    return None if found is None else str(found[0])


def payloads(conn: sqlite3.Connection, content_hashes: Iterable[str]) -> dict[str, str]:
    """Blob payload JSON text by content hash."""
    out: dict[str, str] = {}
    for chunk in _chunks(set(content_hashes)):
        sql = (
            "SELECT content_hash, payload_json FROM blobs"
            f" WHERE content_hash IN ({marks(len(chunk))})"
        )
        out.update((str(h), str(p)) for h, p in fetch_all_fast(conn, sql, chunk))
    return out


def latest_annotations(
    conn: sqlite3.Connection, hashes: Iterable[str]
) -> dict[str, AnnotationRecord]:
    """The latest annotation of each commit (by created_at; a tie goes to the later row)."""
    out: dict[str, AnnotationRecord] = {}
    for chunk in _chunks(set(hashes)):
        sql = (
            "SELECT target_hash, priority, reason, created_at FROM annotations"
            f" WHERE target_hash IN ({marks(len(chunk))}) ORDER BY target_hash, created_at, id"
        )
        for target, priority, reason, created in conn.execute(sql, chunk):
            out[str(target)] = AnnotationRecord(str(priority).upper(), reason, str(created))
    return out


def tract_annotations(conn: sqlite3.Connection, tract_id: str) -> dict[str, AnnotationRecord]:
    """The latest annotation of each of the tract's commits, in one query.

    By target, whoever wrote the annotation (its own ``tract_id`` may differ).
    """
    sql = (
        "SELECT a.target_hash, a.priority, a.reason, a.created_at FROM annotations a"
        " JOIN commits c ON c.commit_hash = a.target_hash WHERE c.tract_id = ?"
        " ORDER BY a.target_hash, a.created_at, a.id"
    )
    return {
        str(target): AnnotationRecord(str(priority).upper(), reason, str(created))
        for target, priority, reason, created in conn.execute(sql, (tract_id,))
    }


def tract_merge_parents(conn: sqlite3.Connection, tract_id: str) -> dict[str, list[str]]:
    """The recorded parents of the tract's commits that have two or more (merges)."""
    if "commit_parents" not in tables(conn):
        return {}
    sql = (
        "SELECT p.commit_hash, p.parent_hash FROM commit_parents p"
        " JOIN commits c ON c.commit_hash = p.commit_hash WHERE c.tract_id = ?"
        " ORDER BY p.commit_hash, p.position"
    )
    out: dict[str, list[str]] = {}
    for child, parent in conn.execute(sql, (tract_id,)):
        out.setdefault(str(child), []).append(str(parent))
    return {k: v for k, v in out.items() if len(v) >= 2}


def refs_of(conn: sqlite3.Connection, tract_id: str) -> dict[str, tuple[str | None, str | None]]:
    """ref name -> (commit hash, symbolic target) of the tract."""
    sql = "SELECT ref_name, commit_hash, symbolic_target FROM refs WHERE tract_id = ?"
    return {str(name): (c, s) for name, c, s in conn.execute(sql, (tract_id,))}


def tract_ids(conn: sqlite3.Connection) -> list[str]:
    """Tracts that have refs (a head to compile), in name order."""
    return [str(r[0]) for r in conn.execute("SELECT DISTINCT tract_id FROM refs ORDER BY 1")]
