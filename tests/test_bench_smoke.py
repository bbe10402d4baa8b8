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
    for metric in ("launch -> first rows", "decision committed, p99", "log filter", "'G'"):
        assert metric in out, metric
    assert "search index build (first open, once" in out  # its own line, like the ix_tui_*
