"""benchmarks/bench.py --quick keeps working (its timings are printed, never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"


def test_quick_benchmark_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "tract-tui scale benchmark" in out
    header = re.compile(r"^\| metric +\| +floor \| +tract-tui \| +ratio \| target +\|", re.M)
    assert header.search(out), out
    for metric in ("launch -> first rows", "decision committed, p99", "log filter", "'G'",
                   "first open (no ix_tui_* yet)", "open after a killed console",
                   "first '2' -> log rows", "log --json --limit 0"):  # fmt: skip
        assert metric in out, metric
    assert "search index build (first open, once" in out  # its own line, like the ix_tui_*


def test_effect_benchmark_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH.parent / "bench_effect.py"), "--commits", "300",
         "--reps", "3", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: a target missed (printed)
    for action in ("compress", "annotate", "branch", "archive"):
        assert re.search(rf"^{action}( +[0-9.]+){{4}} +(PASS|FAIL)", done.stdout, re.M), done.stdout


def test_wal_recovery_benchmark_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH.parent / "walrecovery.py"), "--sizes", "2", "--reps", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^WAL +2 MB: first read +[0-9.]+ ms", done.stdout, re.M), done.stdout
