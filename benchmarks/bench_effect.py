"""How long predicting a proposal's effect takes on a long branch (issue 12: under 50 ms).

usage:
    .venv/bin/python benchmarks/bench_effect.py [--commits 5000] [--reps 30] [--out DIR]

The database is the tract library's own v8 fixture (its schema, its
tracts) plus one tract of ``--commits`` commits written in the same shape
the library writes: an instruction, dialogue, tool calls and results,
reasoning, edits, pinned and skipped commits, and four pending proposals
on it (a compress over the whole branch, an annotate, a branch, an
archive).

The floor is a plain program doing the least any compile must: read the
tract's commits and their blobs with ``sqlite3`` and decode each payload.
Printed per proposal: the median and the slowest effect in milliseconds,
the ratio to the floor, and PASS/FAIL against 50 ms (the median).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tract_tui.review.service import ReviewService  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "tract-v8.db"
TRACT = "long-agent"
TARGET_MS = 50.0
FLOOR = (
    "import json, sqlite3, sys, time\n"
    "t = time.perf_counter()\n"
    "conn = sqlite3.connect(sys.argv[1])\n"
    "rows = conn.execute('SELECT c.commit_hash, c.parent_hash, b.payload_json FROM commits c"
    " JOIN blobs b ON b.content_hash = c.content_hash WHERE c.tract_id = ?', (sys.argv[2],))\n"
    "n = sum(1 for _h, _p, payload in rows if json.loads(payload))\n"
    "print((time.perf_counter() - t) * 1000)\n"
)


def digest(*parts: object) -> str:
    return hashlib.sha256("\x00".join(map(str, parts)).encode()).hexdigest()


def payload(i: int) -> tuple[str, dict[str, object]]:
    """The content type and payload of commit ``i``: a conversation with tools."""
    if i == 0:
        return "instruction", {"content_type": "instruction",
                               "text": "You are a long-running support agent."}  # fmt: skip
    kind = i % 10
    if kind in (3, 7):
        lines = [f"line {j}" for j in range(8)]
        return "tool_io", {
            "content_type": "tool_io",
            "direction": "call" if kind == 3 else "result",
            "tool_name": "lookup",
            "status": "success",
            "payload": {"order": i, "lines": lines},
        }
    if kind == 5:
        return "reasoning", {"content_type": "reasoning", "text": f"thinking about step {i}"}
    role = "user" if i % 2 else "assistant"
    text = f"message {i}: " + " ".join(f"word{j}" for j in range(i % 40 + 5))
    return "dialogue", {"content_type": "dialogue", "role": role, "text": text}


def build(path: Path, n: int) -> dict[str, str]:
    """Add the long tract and its proposals to a copy of the fixture; the proposal ids."""
    shutil.copy(FIXTURE, path)
    start = datetime(2026, 11, 1, 9, 0, 0)
    conn = sqlite3.connect(path)
    parent = None
    hashes = []
    with conn:
        for i in range(n):
            ctype, data = payload(i)
            blob = json.dumps(data)
            when = (start + timedelta(seconds=i)).isoformat(sep=" ")
            content = digest("blob", blob)
            tokens = len(blob.split())
            conn.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?, ?)",
                         (content, blob, len(blob), tokens, when))  # fmt: skip
            operation, target = "APPEND", None
            if i % 250 == 249:  # an edit of the commit before it
                operation, target = "EDIT", hashes[-1]
            commit = digest("commit", TRACT, i)
            conn.execute(
                "INSERT INTO commits (commit_hash, tract_id, parent_hash, content_hash,"
                " content_type, operation, edit_target, message, token_count, metadata_json,"
                " generation_config_json, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (commit, TRACT, parent, content, ctype, operation, target, None, tokens,
                 None, None, when),
            )  # fmt: skip
            if i == 0 or (i % 97 == 0 and ctype != "tool_io"):
                conn.execute("INSERT INTO annotations (tract_id, target_hash, priority, reason,"
                             " created_at) VALUES (?, ?, 'PINNED', 'keep', ?)",
                             (TRACT, commit, when))  # fmt: skip
            elif ctype == "tool_io" and i % 20 == 7:
                conn.execute("INSERT INTO annotations (tract_id, target_hash, priority, reason,"
                             " created_at) VALUES (?, ?, 'SKIP', 'bulky', ?)",
                             (TRACT, commit, when))  # fmt: skip
            hashes.append(commit)
            parent = commit
        conn.execute("INSERT INTO refs VALUES (?, 'HEAD', NULL, 'refs/heads/main')", (TRACT,))
        conn.execute("INSERT INTO refs VALUES (?, 'refs/heads/main', ?, NULL)", (TRACT, parent))
        side = hashes[n // 2]
        conn.execute("INSERT INTO refs VALUES (?, 'refs/heads/side', ?, NULL)", (TRACT, side))
        when = (start + timedelta(seconds=n)).isoformat(sep=" ")
        proposals = {
            "compress": {"content": "Summary of the long conversation so far."},
            "annotate": {"target_hash": hashes[n - 3], "priority": "skip", "reason": "bulky"},
            "branch": {"name": "tangent/long", "switch": False},
            "archive": {"archive_name": "archive/side", "source": side},
        }
        ids = {}
        for action, params in proposals.items():
            pid = digest("proposal", action)[:32]
            ids[action] = pid
            conn.execute(
                "INSERT INTO policy_proposals VALUES (?, ?, 'bench', ?, ?, 'bench', 'pending', ?,"
                " NULL)", (pid, TRACT, action, json.dumps(params), when),
            )  # fmt: skip
    conn.close()
    return ids


def floor_ms(path: Path, reps: int) -> list[float]:
    return [
        float(
            subprocess.run(
                [sys.executable, "-c", FLOOR, str(path), TRACT],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(reps)
    ]


def cold_ms(path: Path, pid: str, reps: int) -> list[float]:
    """The first effect of a service just opened (its connection made before the clock)."""
    out = []
    for _ in range(reps):
        with ReviewService.open(path, read_only=True) as svc:
            svc.list_proposals(limit=1)
            t = time.perf_counter()
            svc.effect(pid)
            out.append((time.perf_counter() - t) * 1000)
    return out


def after_append_ms(path: Path, pid: str, reps: int) -> list[float]:
    """A look after the agent committed one more message (the tract was kept)."""
    out = []
    with ReviewService.open(path, read_only=True) as svc:
        svc.effect(pid)
        conn = sqlite3.connect(path)
        try:
            for i in range(reps):
                with conn:
                    main = "SELECT commit_hash FROM refs WHERE tract_id = ? AND ref_name = ?"
                    head = conn.execute(main, (TRACT, "refs/heads/main")).fetchone()[0]
                    ctype, data = payload(1000 + i)
                    blob = json.dumps(data)
                    content, commit = digest("blob+", blob, i), digest("commit+", i)
                    conn.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?, ?)",
                                 (content, blob, len(blob), 5, "2026-11-02 09:00:00"))  # fmt: skip
                    conn.execute(
                        "INSERT INTO commits (commit_hash, tract_id, parent_hash, content_hash,"
                        " content_type, operation, token_count, created_at) VALUES"
                        " (?, ?, ?, ?, ?, 'APPEND', 5, '2026-11-02 09:00:00')",
                        (commit, TRACT, head, content, ctype),
                    )
                    conn.execute("UPDATE refs SET commit_hash = ? WHERE tract_id = ? AND"
                                 " ref_name = 'refs/heads/main'", (commit, TRACT))  # fmt: skip
                t = time.perf_counter()
                svc.effect(pid)
                out.append((time.perf_counter() - t) * 1000)
        finally:
            conn.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"effect-{args.commits}.db"
    ids = build(path, args.commits)
    floor = statistics.median(floor_ms(path, max(args.reps // 3, 5)))
    failed = False
    print(f"{args.commits:,} commits on one branch; floor (read + decode every commit): "
          f"{floor:.1f} ms")  # fmt: skip
    print(f"{'action':<10} {'first':>7} {'p50 ms':>8} {'max ms':>8} {'x floor':>8}  "
          "verdict / summary")  # fmt: skip
    for action, pid in ids.items():
        first = statistics.median(cold_ms(path, pid, max(args.reps // 5, 3)))
        with ReviewService.open(path, read_only=True) as svc:
            svc.effect(pid)  # the console's first look at this tract: not timed here
            times = []
            for _ in range(args.reps):
                t = time.perf_counter()
                effect = svc.effect(pid)
                times.append((time.perf_counter() - t) * 1000)
        p50 = statistics.median(times)
        ok = p50 < TARGET_MS
        failed |= not ok
        print(
            f"{action:<10} {first:7.1f} {p50:8.1f} {max(times):8.1f} {p50 / floor:8.2f}  "
            f"{'PASS' if ok else 'FAIL'} (<{TARGET_MS:.0f} ms)  {effect.summary[:60]}"
        )
    grown = statistics.median(after_append_ms(path, ids["annotate"], max(args.reps // 3, 5)))
    print(f"{'annotate, after the agent added a commit':<44} {grown:7.1f} ms  (p50; "
          "the kept tract reads the new rows only)")  # fmt: skip
    print("first: the first look at the tract in a service just opened (every blob decoded);"
          " p50/max: each later look, as the console moves between proposals")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
