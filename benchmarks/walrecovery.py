"""What SQLite's WAL recovery costs on this machine, by the size of the WAL left behind.

usage:
    .venv/bin/python benchmarks/walrecovery.py [--sizes 25,50,100,200,475] [--reps 5]

Why: after a process is killed with committed pages in its WAL and no other
connection holds the file, the next open must read and checksum the whole WAL
before its first read (``SQLITE_NOTICE_RECOVER_WAL``). That is the part of
bench.py's "open after a killed console" at 10M (475 MB of WAL) that tract-tui
cannot remove, only run beside Textual's import; this script measures it alone.

For each size: a writer commits one transaction of about N MB of pages with
automatic checkpoints off, then kills itself (``kill -9``), leaving its WAL
and shared-memory file. Each repetition copies those files and times, in a
fresh process, ``sqlite3.connect`` plus the first read. Printed: the WAL size
and the median time, and the cost per MB.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

#: One transaction of ``n`` MB of table pages, committed, then the writer dies.
WRITER = """
import os, signal, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("PRAGMA wal_autocheckpoint=0")
conn.execute("CREATE TABLE t (x BLOB)")
conn.execute("BEGIN")
for _ in range(int(sys.argv[2]) * 256):  # 256 rows of 3.9 KB: about 1 MB of pages
    conn.execute("INSERT INTO t VALUES (randomblob(3900))")
conn.execute("COMMIT")
os.kill(os.getpid(), signal.SIGKILL)
"""
#: A fresh process's open and first read, in seconds.
FIRST_READ = """
import sqlite3, sys, time
began = time.perf_counter()
sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM sqlite_master").fetchone()
print(time.perf_counter() - began)
"""
SUFFIXES = ("", "-wal", "-shm")


def killed_writer(path: Path, mb: int) -> float:
    """Leave ``path`` as a writer killed with about ``mb`` MB in its WAL; the WAL's MB."""
    for suffix in SUFFIXES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    subprocess.run([sys.executable, "-c", WRITER, str(path), str(mb)], check=False)
    return Path(f"{path}-wal").stat().st_size / 1e6


def first_read(left: Path, run: Path) -> float:
    """Seconds to the first read of a copy of the files ``left`` names."""
    for suffix in SUFFIXES:
        if Path(f"{left}{suffix}").exists():
            shutil.copy(f"{left}{suffix}", f"{run}{suffix}")
        else:
            Path(f"{run}{suffix}").unlink(missing_ok=True)
    found = subprocess.run(
        [sys.executable, "-c", FIRST_READ, str(run)], capture_output=True, text=True, check=True
    )
    return float(found.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25,50,100,200,475", help="MB of WAL, comma-separated")
    parser.add_argument("--reps", type=int, default=5, help="timed first reads per size")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tract-walrecovery-"))
    try:
        empty = work / "empty.db"
        killed_writer(empty, 0)
        floor = statistics.median(first_read(empty, work / "run.db") for _ in range(args.reps))
        print(f"WAL of one table creation: first read {floor * 1000:6.1f} ms (the floor)")
        for mb in (int(s) for s in args.sizes.split(",") if s.strip()):
            left = work / f"left-{mb}.db"
            wal = killed_writer(left, mb)
            took = statistics.median(first_read(left, work / "run.db") for _ in range(args.reps))
            per = (took - floor) * 1000 / wal if wal else 0.0
            print(
                f"WAL {wal:6.0f} MB: first read {took * 1000:6.1f} ms"
                f" (median of {args.reps}; {per:.2f} ms a MB over the floor)",
                flush=True,
            )
            for suffix in SUFFIXES:
                Path(f"{left}{suffix}").unlink(missing_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
