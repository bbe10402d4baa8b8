"""tract-tui never drops a lock SQLite holds on the file in the same process.

Closing any descriptor of a file releases every POSIX lock the process
holds on it, SQLite's included. An agent opens tract-tui's queue beside its
own tract connection; had tract-tui read the file's header with open() and
close(), the agent's locks would be gone and another process could write or
checkpoint under it: the real library then failed with "disk I/O error" and
readers saw a damaged schema (tests/test_real_library_loop.py found it).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tract_tui.review.service import ReviewService
from tract_tui.storage.inspect import check_header, inspect_database

TRY_TO_WRITE = (
    "import sqlite3, sys\n"
    "c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n"
    "try:\n"
    "    c.execute('BEGIN IMMEDIATE')\n"
    "except sqlite3.OperationalError as e:\n"
    "    print(e)\n"
    "else:\n"
    "    print('got the write lock')\n"
)


def other_process_tries_to_write(path: Path) -> str:
    return subprocess.run([sys.executable, "-c", TRY_TO_WRITE, str(path)],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip


def test_reading_the_header_keeps_this_processs_sqlite_locks(fixture_copy) -> None:
    db = fixture_copy(5)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")  # the lock is on the file itself then
    holder.execute("BEGIN IMMEDIATE")  # a writer (the agent's library) holds RESERVED
    try:
        assert other_process_tries_to_write(db) == "database is locked"
        check_header(str(db))
        inspect_database(db)
        ReviewService.open(db, read_only=True).close()
        assert other_process_tries_to_write(db) == "database is locked"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert other_process_tries_to_write(db) == "got the write lock"
