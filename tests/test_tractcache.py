"""A service keeps the tracts it read (review/tractcache.py): what it keeps never goes stale.

Each case changes a library-written file under a service that has already
compiled it, the way the library changes files (inserts; deletes that set
children's parents to NULL; a deleted last row whose rowid is reused), and
checks the kept service against one opened afresh, for every tract and
branch. (A fresh service's compile is itself checked against the library in
tests/test_real_library.py, and a kept one there too, as the library runs.)
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tract_tui.review.service import ReviewService

FIXTURE = Path(__file__).parent / "fixtures" / "tract-v8.db"
TRACT = "support-agent"


def views(svc: ReviewService) -> list[object]:
    out: list[object] = []
    for tract, _, branches in svc.context_refs():
        out.append(svc.context(tract))
        out.append(svc.context_view(tract))
        out.extend(svc.context(tract, b) for b in branches)
    return out


def tip(conn: sqlite3.Connection, tract: str = TRACT) -> tuple[str, str, str]:
    """(hash, parent, content hash) of a tract's main tip."""
    head = conn.execute(
        "SELECT commit_hash FROM refs WHERE tract_id=? AND ref_name='refs/heads/main'", (tract,)
    ).fetchone()[0]
    parent, content = conn.execute(
        "SELECT parent_hash, content_hash FROM commits WHERE commit_hash=?", (head,)
    ).fetchone()
    return head, parent, content


def add_commit(
    conn: sqlite3.Connection, name: str, parent: str, text: str, tract: str = TRACT
) -> str:
    blob = f'{{"content_type": "dialogue", "role": "user", "text": "{text}"}}'
    conn.execute("INSERT INTO blobs VALUES (?, ?, ?, ?, '2026-11-02 10:00:00')",
                 (f"blob-{name}", blob, len(blob), len(text.split())))  # fmt: skip
    conn.execute(
        "INSERT INTO commits (commit_hash, tract_id, parent_hash, content_hash, content_type,"
        " operation, token_count, created_at) VALUES (?, ?, ?, ?, 'dialogue', 'APPEND', ?,"
        " '2026-11-02 10:00:00')", (name, tract, parent, f"blob-{name}", len(text.split())),
    )  # fmt: skip
    conn.execute("UPDATE refs SET commit_hash=? WHERE tract_id=? AND ref_name='refs/heads/main'",
                 (name, tract))  # fmt: skip
    return name


def append(conn: sqlite3.Connection) -> None:
    add_commit(conn, "c-new", tip(conn)[0], "a message written later")


def append_edit(conn: sqlite3.Connection) -> None:
    """An edit committed later rewrites an earlier message of the kept rows."""
    head, parent, _ = tip(conn)
    edit = add_commit(conn, "c-edit", head, "the earlier message, corrected")
    conn.execute("UPDATE commits SET operation='EDIT', edit_target=? WHERE commit_hash=?",
                 (parent, edit))  # fmt: skip


def append_many(conn: sqlite3.Connection) -> None:
    head = tip(conn)[0]
    for i in range(3):
        head = add_commit(conn, f"c-more-{i}", head, f"later message {i}")


def annotate(conn: sqlite3.Connection) -> None:
    head = tip(conn)[0]
    sql = ("INSERT INTO annotations (tract_id, target_hash, priority, reason, created_at)"
           " VALUES (?, ?, 'SKIP', 'hide', '2026-11-02 10:00:00')")  # fmt: skip
    conn.execute(sql, (TRACT, head))


def replace_tip(conn: sqlite3.Connection) -> None:
    """The file's last commit (the research agent's tip) deleted and another inserted:
    SQLite gives the new one the same rowid."""
    head, parent, _ = tip(conn, "research-agent")
    last = conn.execute("SELECT max(rowid) FROM commits").fetchone()[0]
    assert conn.execute("SELECT rowid FROM commits WHERE commit_hash=?", (head,)).fetchone()[0] \
        == last  # fmt: skip
    conn.execute("DELETE FROM annotations WHERE target_hash=?", (head,))
    conn.execute("UPDATE refs SET commit_hash=NULL WHERE commit_hash=?", (head,))
    conn.execute("DELETE FROM commits WHERE commit_hash=?", (head,))
    add_commit(conn, "c-instead", parent, "another last message", "research-agent")
    assert conn.execute("SELECT rowid FROM commits WHERE commit_hash='c-instead'").fetchone()[0] \
        == last  # fmt: skip


def delete_middle(conn: sqlite3.Connection) -> None:
    """The library's delete: children lose their parent (SET NULL), the commit goes."""
    _, parent, _ = tip(conn)
    conn.execute("UPDATE commits SET parent_hash=NULL WHERE parent_hash=?", (parent,))
    conn.execute("DELETE FROM annotations WHERE target_hash=?", (parent,))
    conn.execute("DELETE FROM commits WHERE commit_hash=?", (parent,))


def delete_and_append(conn: sqlite3.Connection) -> None:
    """As many commits deleted as added in one transaction: the count stays the same."""
    delete_middle(conn)
    append(conn)


@pytest.mark.parametrize(
    "change",
    [append, append_many, append_edit, annotate, replace_tip, delete_middle, delete_and_append],
)
def test_a_kept_tract_is_read_again_when_the_file_changed(
    tmp_path: Path, change: Callable[[sqlite3.Connection], None]
) -> None:
    db = tmp_path / "kept.db"
    shutil.copy(FIXTURE, db)
    with ReviewService.open(db, read_only=True) as kept:
        first = views(kept)
        with sqlite3.connect(db) as conn:
            change(conn)
        conn.close()
        with ReviewService.open(db, read_only=True) as fresh:
            truth = views(fresh)
        assert truth != first  # the change shows
        assert views(kept) == truth
