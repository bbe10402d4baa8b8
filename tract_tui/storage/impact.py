"""The SQL behind "what would this proposal touch": commits, their content, refs, chains."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from tract_tui.storage.sql import scalar


@dataclass(frozen=True)
class CommitInfo:
    """One commit as the detail pane shows it, with its blob's payload text."""

    commit_hash: str
    content_type: str
    token_count: int
    message: str | None
    tract_id: str
    created_at: str
    payload_json: str | None


def commit_info(conn: sqlite3.Connection, commit_hash: str) -> CommitInfo | None:
    row = conn.execute(
        "SELECT c.commit_hash, c.content_type, c.token_count, c.message, c.tract_id,"
        " c.created_at, b.payload_json"
        " FROM commits AS c LEFT JOIN blobs AS b ON b.content_hash = c.content_hash"
        " WHERE c.commit_hash = ?",
        (commit_hash,),
    ).fetchone()
    if row is None:
        return None
    chash, ctype, tokens, message, owner, created, payload = row
    return CommitInfo(
        str(chash), str(ctype), int(tokens or 0), message, str(owner), str(created), payload
    )


def latest_annotation(conn: sqlite3.Connection, commit_hash: str) -> tuple[str, str | None] | None:
    """(priority NAME as stored, reason) of the commit's latest annotation."""
    row = conn.execute(
        "SELECT priority, reason FROM annotations WHERE target_hash = ?"
        " ORDER BY created_at DESC, id DESC LIMIT 1",
        (commit_hash,),
    ).fetchone()
    return None if row is None else (str(row[0]), row[1])


def branch_tip(conn: sqlite3.Connection, tract_id: str, branch: str) -> str | None:
    found = scalar(
        conn,
        "SELECT commit_hash FROM refs WHERE tract_id = ? AND ref_name = ?",
        (tract_id, f"refs/heads/{branch}"),
    )
    return None if found is None else str(found)


def current_branch(conn: sqlite3.Connection, tract_id: str) -> tuple[str | None, str | None]:
    """(branch name, tip commit) of the tract's HEAD; name None when detached."""
    head = conn.execute(
        "SELECT commit_hash, symbolic_target FROM refs WHERE tract_id = ? AND ref_name = 'HEAD'",
        (tract_id,),
    ).fetchone()
    if head is None:
        return None, None
    commit_hash, symbolic_target = head
    if symbolic_target:
        name = str(symbolic_target).removeprefix("refs/heads/")
        return name, branch_tip(conn, tract_id, name)
    return None, commit_hash


def chain_stats(conn: sqlite3.Connection, tip: str) -> tuple[int, int]:
    """(commits, tokens) along the first-parent chain ending at ``tip``."""
    row = conn.execute(
        "WITH RECURSIVE chain(h, n) AS ("
        " SELECT ?, 0 UNION ALL"
        " SELECT c.parent_hash, chain.n + 1"
        " FROM commits c JOIN chain ON c.commit_hash = chain.h"
        " WHERE c.parent_hash IS NOT NULL AND chain.n < 1000000)"
        " SELECT count(*), coalesce(sum(c.token_count), 0) FROM chain"
        " JOIN commits c ON c.commit_hash = chain.h",
        (tip,),
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)
