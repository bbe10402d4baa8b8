"""What approving does to the agent's context: checked against the library's recorded word.

tests/fixtures/library-answers.json holds what the real tract library did
with each fixture proposal (tests/tractlib/record.py wrote it; the real
library tests check it is still true), so these run without the library.
The proposals added here by hand are rows only: the commits, branches and
annotations they act on are the library's own.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tractlib.compare import check
from tract_tui.api import open_queue
from tract_tui.models.context import Context, ContextMessage
from tract_tui.present import Fold, context_diff, fold_diff
from tract_tui.review.service import ReviewService

FIXTURES = Path(__file__).parent / "fixtures"
ANSWERS = json.loads((FIXTURES / "library-answers.json").read_text())
SUPPORT_TIP = "d06cd5665664b8c7fb048e90631e4d4c05ba063a8ff5ff41080060e3ac4188ed"
TOOL_RESULT = "74dd284ead757aee5933cdb4ad852c293d8765ad74ce73add6ae2530b5905561"


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_every_fixture_prediction_matches_the_library(name: str, tmp_path: Path) -> None:
    copy = tmp_path / name
    copy.write_bytes((FIXTURES / name).read_bytes())
    recorded = ANSWERS[name]["proposals"]
    kinds: dict[str, int] = {}
    with ReviewService.open(copy, read_only=True) as svc:
        listed = {p.proposal_id for p in svc.list_proposals(limit=1000)}
        assert listed == set(recorded)
        for pid, answer in recorded.items():
            kind = check(svc.effect(pid), answer["before"], answer["outcome"], (name, pid))
            kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds.get("executed", 0) >= 4 and kinds.get("failed", 0) >= 2, kinds


def add(path: Path, pid: str, action: str, params: Any, **cols: Any) -> None:
    row = {"proposal_id": pid, "tract_id": "support-agent", "policy_name": "by-hand",
           "action_type": action, "action_params_json": json.dumps(params), "reason": "test",
           "status": "pending", "created_at": "2026-12-01 13:30:00.000000", **cols}  # fmt: skip
    with sqlite3.connect(path) as conn:
        conn.execute(
            f"INSERT INTO policy_proposals ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
    conn.close()


@pytest.fixture
def v8(fixture_copy: Callable[..., Path]) -> Path:
    return fixture_copy(8)


def test_an_annotate_that_changes_nothing_is_no_change_not_a_failure(v8: Path) -> None:
    add(v8, "same", "annotate", {"target_hash": TOOL_RESULT, "priority": "normal"})
    with ReviewService.open(v8, read_only=True) as svc:
        effect = svc.effect("same")
    assert effect.will_fail is None
    assert effect.context_after == effect.context_before
    assert "no change" in effect.summary


def test_a_target_that_does_not_exist_fails_with_the_libraries_reason(v8: Path) -> None:
    add(v8, "gone", "annotate", {"target_hash": "f" * 64, "priority": "skip"})
    with ReviewService.open(v8, read_only=True) as svc:
        effect = svc.effect("gone")
    assert effect.will_fail == f"CommitNotFoundError: Commit not found: {'f' * 64}"
    assert effect.context_after is None and effect.summary.startswith("will fail")


def test_a_branch_that_exists_fails_and_same_named_pending_ones_are_duplicates(v8: Path) -> None:
    add(v8, "exists", "branch", {"name": "feature/refund-flow", "switch": False})
    add(v8, "twin", "branch", {"name": "tangent/main/20261201-132639", "switch": False},
        policy_name="auto-branch")  # fmt: skip
    with ReviewService.open(v8, read_only=True) as svc:
        exists, twin, original = (svc.effect(i) for i in ("exists", "twin", "8fa060b067bf49ac"))
    assert exists.will_fail is not None and "already exists" in exists.will_fail
    assert twin.will_fail is None and original.will_fail is None  # each fine on its own
    assert twin.duplicate_of == ("8fa060b067bf49ac",)
    assert original.duplicate_of == ("twin",)
    assert any("once one is executed" in n for n in twin.notes)


def test_a_branch_with_switch_changes_nothing_in_the_messages_but_says_where(v8: Path) -> None:
    add(v8, "sw", "branch", {"name": "side", "switch": True})
    with ReviewService.open(v8, read_only=True) as svc:
        effect = svc.effect("sw")
    assert effect.will_fail is None and effect.context_after == effect.context_before
    assert "side" in effect.summary


def test_an_unknown_action_is_not_predicted(v8: Path) -> None:
    add(v8, "odd", "teleport", {"to": "mars"})
    with ReviewService.open(v8, read_only=True) as svc:
        effect = svc.effect("odd")
    assert not effect.predictable
    assert "tract-tui cannot predict this action" in effect.summary


def test_show_json_and_the_agent_api_carry_the_same_effect(v8: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tract_tui", "show", str(v8), "36eca1041bb84cb0", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    shown = json.loads(done.stdout)["effect"]
    with open_queue(v8, read_only=True) as queue:
        effect = queue.effect("36eca1041bb84cb0")
    assert shown == effect.to_json()
    assert shown["will_fail"] is None and shown["duplicate_of"] is None
    before = shown["context_before"]["messages"]
    after = shown["context_after"]["messages"]
    assert len(before) - len(after) == 1
    assert TOOL_RESULT in {m["commit_hash"] for m in before} - {m["commit_hash"] for m in after}
    assert shown["summary"].startswith("hides 1 message")
    assert set(before[0]) == {"role", "content", "commit_hash", "tokens"}


def test_show_prints_the_verdict_and_a_compact_diff(v8: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tract_tui", "show", str(v8), "36eca1041bb84cb0"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    verdict = lines.index("hides 1 message, \u221253 tokens (74dd284e)")
    assert lines[verdict + 1].strip().startswith("context on main: 9 messages")
    removed = [line for line in lines if line.startswith("  - ")]
    assert len(removed) == 1 and "tool" in removed[0] and "53t" in removed[0]
    assert any("unchanged" in line for line in lines)  # the long kept stretch is folded


def test_a_failing_proposal_shows_will_fail_first(v8: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tract_tui", "show", str(v8), "d87973982fcb4a94", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    effect = json.loads(done.stdout)["effect"]
    assert effect["will_fail"].startswith("CompressionError: Manual mode provides a single")
    assert effect["context_after"] is None


def msg(i: int, tokens: int = 10) -> ContextMessage:
    return ContextMessage("user", f"message {i}", f"{i:064x}", tokens)


def test_a_long_compression_folds_to_a_few_lines_with_counts() -> None:
    before = Context(tuple(msg(i) for i in range(400)))
    summary = ContextMessage("assistant", "summary", None, None)
    after = Context((before.messages[0], summary, *before.messages[-3:]))
    folded = fold_diff(context_diff(before, after))
    assert len(folded) <= 10
    removed = [item for op, item in folded if op == "-"]
    fold = next(i for i in removed if isinstance(i, Fold))
    assert fold.count == 396 - 3 and fold.tokens == 10 * (396 - 3)
    assert ("+", summary) in folded
