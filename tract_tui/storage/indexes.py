"""tract-tui's own ``ix_tui_*`` indexes: which exist, and building the missing ones.

tract's indexes do not cover cross-tract "oldest pending first" and "newest
log rows first" listings. These extra indexes (the tract library ignores
them; dropping them is harmless) are built one per transaction, so another
writer waits at most one index's build, and a caller can show progress and
stop between two of them. The console builds them after its first frame.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

from tract_tui.storage.connection import ConnectionPool
from tract_tui.storage.errors import busy_timeout_ms, classify

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
#: Called with (indexes built so far, indexes to build, the name being built next).
Progress = Callable[[int, int, str], object]


def present_indexes(conn: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}


def tui_indexes_missing(path: str) -> list[str]:
    """Which of :data:`TUI_INDEX_NAMES` the (writable) file at ``path`` lacks.

    Only reads (``query_only``); a read-write connection, so that closing it
    removes the -wal/-shm it may create, as a writer's own would.
    """
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout_ms() / 1000)
        try:
            conn.execute("PRAGMA query_only = ON")
            present = present_indexes(conn)
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise classify(path, e) from e
    return [name for name in TUI_INDEX_NAMES if name not in present]


def build_missing(
    pool: ConnectionPool,
    *,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> int:
    """Build the missing ``ix_tui_*`` indexes, one transaction each; how many were built.

    Stops before the next index once ``cancelled`` returns True (what was
    built stays). Raises a TraceError (busy, read-only, disk full) like any
    write; the listings work without the indexes, only slower.
    """
    with pool.read() as conn:
        present = present_indexes(conn)
    todo = [
        (n, ddl) for n, ddl in zip(TUI_INDEX_NAMES, TUI_INDEXES, strict=True) if n not in present
    ]
    for done, (name, ddl) in enumerate(todo):
        if cancelled is not None and cancelled():
            return done
        if progress is not None:
            progress(done, len(todo), name)
        with pool.write() as conn:
            conn.execute(ddl)
        pool.empty_wal(cancelled=cancelled)  # a kill now leaves no WAL of this index
    if progress is not None and todo:
        progress(len(todo), len(todo), "")
    return len(todo)
