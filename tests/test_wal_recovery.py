"""A WAL left by a killed process is read back (SQLite's recovery) once per open, not twice.

Why it matters: the first connection to such a file reads the whole WAL
before its first read, and so does the next one whenever no connection
stayed open in between. A console killed while it built an index on a
10M-row file leaves 475 MB of WAL: 150 ms a recovery. tract-tui's open
once closed the connection that inspected the file before the pool's
first connection opened, and paid it twice.

SQLite says when it recovers a WAL (``SQLITE_NOTICE_RECOVER_WAL`` through
its error log); these tests count those notices in a fresh process, with
the log callback installed through ctypes before any connection exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tract_tui.review.service import ReviewService
from tract_tui.storage.open import open_database

KILLED_WRITER = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("PRAGMA wal_autocheckpoint = 0")
conn.executemany(
    "INSERT INTO policy_log (tract_id, policy_name, trigger, action_type, reason, outcome,"
    " created_at) VALUES ('killed', 'writer', 'commit', NULL, ?, 'skipped', '2026-01-01')",
    [(f"left in the WAL {i}",) for i in range(2000)],
)
conn.commit()
os._exit(0)  # killed: no close, no checkpoint, the WAL stays as it is
"""

COUNT_RECOVERIES = """
import ctypes, json, sys
import _sqlite3

SQLITE_CONFIG_LOG = 16
SQLITE_NOTICE_RECOVER_WAL = 283
lib = ctypes.CDLL(_sqlite3.__file__)  # its libsqlite3, whether linked in or beside it
LOG = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)
recovered = []
callback = LOG(lambda _arg, code, _msg: recovered.append(code == SQLITE_NOTICE_RECOVER_WAL))
lib.sqlite3_config.argtypes = [ctypes.c_int, LOG, ctypes.c_void_p]
assert lib.sqlite3_shutdown() == 0
assert lib.sqlite3_config(SQLITE_CONFIG_LOG, callback, None) == 0
assert lib.sqlite3_initialize() == 0

path, how = sys.argv[1], sys.argv[2]
if how == "console":  # what run_console does before the screen starts
    from tract_tui.app import _Opener

    opener = _Opener(path, read_only=False, create=False)
    opener.start()
    opener.join()
    assert opener.error is None, opener.error
    service = opener.service
    assert opener.first_page is not None
    opener.first_page[0].close()
else:  # the CLI's and the API's open
    from tract_tui.review.service import ReviewService

    service = ReviewService.open(path)
rows = service.count_log()
service.close()
print(json.dumps({"recoveries": sum(recovered), "log_rows": rows}))
"""


def killed_writer_wal(db: Path) -> int:
    """Leave a WAL with 2000 committed log rows in it, as a killed writer does; log rows now."""
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(db)], check=True)
    assert Path(f"{db}-wal").stat().st_size > 100_000  # the rows are in the WAL only
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = int(conn.execute("SELECT count(*) FROM policy_log").fetchone()[0])
    return rows


@pytest.mark.parametrize("how", ["console", "service"])
def test_a_killed_writers_wal_is_recovered_once(v5_db: Path, how: str) -> None:
    rows = killed_writer_wal(v5_db)
    r = subprocess.run(
        [sys.executable, "-c", COUNT_RECOVERIES, str(v5_db), how],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout.strip().splitlines()[-1])
    assert found == {"recoveries": 1, "log_rows": rows}  # the WAL's rows were all read


def side_files(db: Path) -> list[str]:
    return sorted(s for s in ("-wal", "-shm") if os.path.exists(f"{db}{s}"))


def test_the_inspecting_connection_is_held_until_the_stack_closes(v5_db: Path) -> None:
    with contextlib.closing(sqlite3.connect(v5_db)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
    assert side_files(v5_db) == []  # closed cleanly: WAL mode, no side file
    open_database(v5_db)
    assert side_files(v5_db) == []  # not held: closed, its side files removed
    with contextlib.ExitStack() as hold:
        open_database(v5_db, hold=hold)
        assert side_files(v5_db) == ["-shm", "-wal"]  # still open
    assert side_files(v5_db) == []


def fds_on(db: Path) -> int:
    names = (str(db), f"{db}-wal", f"{db}-shm")
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found += os.readlink(f"/proc/self/fd/{fd}") in names
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc (Linux)")
def test_a_service_open_and_close_leaves_no_connection_open(v5_db: Path) -> None:
    ReviewService.open(v5_db).close()  # the header's descriptor, kept for good (read_header)
    before = fds_on(v5_db)
    service = ReviewService.open(v5_db)
    assert fds_on(v5_db) > before  # the pool's connection, kept for the next read
    service.count_proposals()
    service.close()
    assert fds_on(v5_db) == before
