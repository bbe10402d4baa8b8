"""Issue 14's measurements beside bench.py's: the first open, an open after a killed console,
an open while another process writes, the first switch to the log view, and the JSON output
of the command line against the obvious plain programs.

Used by bench.py (``run_size``); each returns figures with the floor measured in the same run.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: The obvious program ``list --json`` is held to (issue 14): read the rows with sqlite3,
#: parse each params document with json.loads, write the same objects with json.dumps.
OBVIOUS_LIST = (
    "import json, sqlite3, sys\n"
    "conn = sqlite3.connect(sys.argv[1])\n"
    'cur = conn.execute("SELECT proposal_id, tract_id, policy_name, action_type,'
    " action_params_json, reason, status, created_at, resolved_at FROM policy_proposals"
    " WHERE status = 'pending' ORDER BY created_at, proposal_id\")\n"
    "out = sys.stdout\n"
    "out.write('[')\n"
    "first = True\n"
    "for pid, tract, policy, action, params, reason, status, created, resolved in cur:\n"
    "    item = {'proposal_id': pid, 'tract_id': tract, 'policy_name': policy,"
    " 'action_type': action, 'params': json.loads(params) if params else None,"
    " 'reason': reason, 'status': status, 'created_at': created, 'resolved_at': resolved}\n"
    "    out.write(('' if first else ',\\n') + json.dumps(item, ensure_ascii=False))\n"
    "    first = False\n"
    "out.write(']\\n')\n"
)
#: ... and ``log --json --limit 0``: every log row, newest first, as objects.
OBVIOUS_LOG = (
    "import json, sqlite3, sys\n"
    "conn = sqlite3.connect(sys.argv[1])\n"
    'cur = conn.execute(\'SELECT id, tract_id, policy_name, "trigger", action_type, reason,'
    " outcome, commit_hash, error_message, created_at FROM policy_log"
    " ORDER BY created_at DESC, id DESC')\n"
    "cols = [d[0] for d in cur.description]\n"
    "out = sys.stdout\n"
    "out.write('[')\n"
    "first = True\n"
    "for row in cur:\n"
    "    out.write(('' if first else ',\\n') + json.dumps(dict(zip(cols, row)),"
    " ensure_ascii=False))\n"
    "    first = False\n"
    "out.write(']\\n')\n"
)
#: Another process writing while the console opens: a log row every few milliseconds.
WRITER = (
    "import sqlite3, sys, time\n"
    "conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)\n"
    "i = 0\n"
    "while True:\n"
    '    conn.execute("INSERT INTO policy_log (tract_id, policy_name, trigger, action_type,'
    " reason, outcome, created_at) VALUES ('bench-writer', 'writer', 'commit', NULL,"
    " 'written while the console opens', 'skipped', strftime('%Y-%m-%d %H:%M:%f', 'now'))\")\n"
    "    i += 1\n"
    "    time.sleep(0.005)\n"
)


def cold_copy(path: Path, dest: Path) -> Path:
    """A copy of ``path`` as tract-tui never saw it: none of its ix_tui_* indexes.

    Written out to disk before it returns: at 10M rows the copy is 5.6 GB, and
    the kernel flushing it while the console started (and not while the floor
    did, before the copy) slowed the console down: at 10M its first open measured
    1.36x in a full run (median of 2, each launched right after its copy), and
    1.22x for the same code on the same copy once flushed (median of 7).
    """
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    src = sqlite3.connect(path)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
        query = "SELECT name FROM sqlite_master WHERE type='index' AND name LIKE 'ix_tui_%'"
        names = [r[0] for r in dst.execute(query)]
        for name in names:
            dst.execute(f'DROP INDEX "{name}"')
        dst.commit()
        dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        src.close()
        dst.close()
    os.sync()
    return dest


def _pane_pid(term: Any) -> int:
    return int(term.tmux("display-message", "-p", "-t", term.target, "#{pane_pid}").stdout)


def _screen(term: Any) -> str:
    return str(term.tmux("capture-pane", "-p", "-t", term.target).stdout)


def killed_after_index_build(term: Any, argv: list[str], expect: str, timeout: float = 600) -> None:
    """Start the console on the file ``argv`` ends with, let it build its indexes (a large
    WAL), then kill -9 it.

    Built means present in the file: the progress line is not a signal, since
    the rows are on screen before it appears (a 10M run killed every console
    before its first index, and so timed a second never-indexed open).
    """
    from tract_tui.storage.indexes import tui_indexes_missing

    path = argv[-1]
    term.tmux("respawn-pane", "-k", "-t", term.target, "exec " + " ".join(argv), check=True)
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if expect in _screen(term) and not tui_indexes_missing(path):
            break
        time.sleep(0.2)
    time.sleep(0.3)
    os.kill(_pane_pid(term), signal.SIGKILL)
    time.sleep(0.3)
    os.sync()  # what the index build wrote is on disk, as cold_copy's copy is


def bench_opens(
    term: Any, path: Path, floor_argv: list[str], app_argv: list[str], expect: str,
    reps: int, settle: float, work: Path,
) -> dict[str, Any]:  # fmt: skip
    """Seconds to first rows: a never-opened file, one a killed console left, one being written.

    Each on a fresh copy (made before the clock starts), each right after a
    launch of the bare-app floor in the same state of the machine: after the
    copy (at 10M, 5.6 GB through the page cache, which the floor launched
    before it did not face: 1.31x that way, in a full run) and, for the file
    being written, while the writer runs.
    """
    found: dict[str, list[float]] = {
        k: [] for k in ("cold", "killed", "written", "floor_cold", "floor_killed", "floor_written")
    }
    wal_mb: list[float] = []
    copy = work / "open.db"

    def timed(case: str) -> None:
        s, _mb = term.launch(floor_argv, "floor-ready", settle=settle)
        found[f"floor_{case}"].append(s)
        s, _mb = term.launch([*app_argv, str(copy)], expect, settle=settle)
        found[case].append(s)

    for _ in range(reps):
        cold_copy(path, copy)
        timed("cold")
        cold_copy(path, copy)
        killed_after_index_build(term, [*app_argv, str(copy)], expect)
        wal = Path(f"{copy}-wal")
        wal_mb.append(wal.stat().st_size / 1e6 if wal.exists() else 0.0)
        timed("killed")
        cold_copy(path, copy)
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(copy)])
        try:
            time.sleep(0.2)
            timed("written")
        finally:
            writer.kill()
            writer.wait()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    return {**found, "wal_mb": wal_mb}


#: Seconds between the first rows and the first ``2``: a person reads the screen first.
#: The console builds the log view (hidden) 0.4 s after its first frame.
READ_FIRST_SCREEN = 1.0


def newest_log_time(path: Path) -> str:
    """``HH:MM:SS`` of the log's newest row: on screen once the log view's first row is."""
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT created_at FROM policy_log ORDER BY created_at DESC, id DESC LIMIT 1"
        ).fetchone()
    return str(row[0])[11:19]


def bench_log_switch(
    term: Any, argv: list[str], first_rows: str, log_row: str, reps: int
) -> dict[str, list[float]]:
    """Milliseconds from ``2`` to the log's first row on screen, in a real terminal (tmux).

    ``first``: the first ``2`` of a fresh console, READ_FIRST_SCREEN after its
    first rows; ``again``: ``1`` then ``2`` once more, the view already shown.
    """
    found: dict[str, list[float]] = {"first": [], "again": []}
    for _ in range(reps):
        term.start(argv, first_rows)
        time.sleep(READ_FIRST_SCREEN)
        found["first"].append(term.press("2", log_row) * 1000)
        time.sleep(0.3)
        term.press("1", first_rows)
        time.sleep(0.3)
        found["again"].append(term.press("2", log_row) * 1000)
        term.quit()
    return found


def wall_output(argv: list[str], reps: int) -> list[float]:
    """Milliseconds for ``argv`` to write all of its output to a pipe that discards it."""
    out = []
    for _ in range(reps):
        began = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        out.append((time.perf_counter() - began) * 1000)
    return out


def obvious(program: str, path: Path) -> list[str]:
    return [sys.executable, "-c", program, str(path)]


def has_tmux() -> bool:
    return shutil.which("tmux") is not None
