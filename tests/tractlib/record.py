"""Record the library's answers for the fixture databases: tests/fixtures/library-answers.json.

usage: python -m tests.tractlib.record   (needs the library: see harness.py)

For each fixture (written by the library at v5, v6, v8) and each of its
proposals: the library's compile() of the proposal's tract, and what its
own approve_proposal did on a copy (the context after, or its exception).
tests/test_effect.py checks tract-tui's predictions against this file;
tests/test_real_library.py checks this file is still what the library says.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.tractlib.harness import ROOT, ask
from tract_tui.review.service import ReviewService

FIXTURES = ROOT / "tests" / "fixtures"
ANSWERS = FIXTURES / "library-answers.json"
RECORDED = {"tract-v5.db": "v5", "tract-v6.db": "v6", "tract-v8.db": "v8"}


def answers_for(name: str, version: str, work: Path) -> dict[str, Any]:
    """{proposal_id: {"before": ..., "outcome": ...}} for one fixture, from the library."""
    source = work / name
    shutil.copy(FIXTURES / name, source)
    svc = ReviewService.open(source, read_only=True)
    try:
        pending = svc.list_proposals(limit=1000)
    finally:
        svc.close()
    tasks: list[dict[str, Any]] = []
    for p in pending:
        copy = work / f"{p.proposal_id}.db"
        shutil.copy(FIXTURES / name, copy)
        tasks.append({"op": "compile", "db": str(source), "tract": p.tract_id})
        tasks.append({"op": "approve", "db": str(copy), "tract": p.tract_id,
                      "proposal": p.proposal_id})  # fmt: skip
    got = ask(version, tasks)
    out = {}
    for i, p in enumerate(pending):
        outcome = dict(got[2 * i + 1])
        outcome.pop("result", None)  # a repr with addresses: not part of the answer
        out[p.proposal_id] = {"before": got[2 * i], "outcome": outcome}
    return out


def record() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return {
            name: {"version": version, "proposals": answers_for(name, version, Path(tmp))}
            for name, version in RECORDED.items()
        }


def main() -> None:
    ANSWERS.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {ANSWERS}", file=sys.stderr)


if __name__ == "__main__":
    main()
