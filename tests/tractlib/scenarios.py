"""Write a tract database full of situations to predict, through the library's own API.

usage: python scenarios.py OUT.db     (prints the proposals it wrote, as JSON)

Each tract is one situation: edits, pinned commits in the middle of a range,
hidden tool output, an earlier compression, several branches, a detached
HEAD, an empty tract, a merge, and another tract's commit. Proposals are
written by the library's policy evaluator (``_create_proposal``, the code
path a collaborative policy takes), each under a policy name of its own so
none suppresses another. Nothing here writes SQL.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import warnings

from tract import (
    ArtifactContent,
    CommitOperation,
    DialogueContent,
    Policy,
    PolicyAction,
    Priority,
    ReasoningContent,
    ToolIOContent,
    Tract,
)

warnings.simplefilter("ignore")
sys.path.insert(0, os.path.dirname(__file__))
from oracle import WordCounter  # noqa: E402

EDIT_KW = (
    "edit_target"
    if "edit_target" in inspect.signature(Tract.commit).parameters
    else ("response_to")
)


class Named(Policy):
    """A stand-in policy: only its name is used (the evaluator files the proposal under it)."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def trigger(self) -> str:
        return "commit"

    def evaluate(self, t: Tract) -> PolicyAction | None:
        return None


def propose(t: Tract, label: str, action: str, params: object, written: list) -> None:
    """File a pending proposal the way a collaborative policy does in this library version.

    Up to schema 6 the evaluator writes it (``_create_proposal``); from 8 on it goes
    through ``_handle_collaborative``, and a ``policy`` hook that leaves it undecided
    keeps it pending (without one the library would execute it at once).
    """
    t.configure_policies(policies=[])
    pa = PolicyAction(action_type=action, params=params, reason=label, autonomy="collaborative")
    evaluator = t._policy_evaluator
    if hasattr(evaluator, "_create_proposal"):
        pid = evaluator._create_proposal(Named(label), pa).proposal_id
    else:
        if "policy" not in t._hooks:
            t.on("policy", lambda pending: None)
        before = {p.proposal_id for p in t.get_pending_proposals()}
        evaluator._handle_collaborative(Named(label), pa)
        (pid,) = {p.proposal_id for p in t.get_pending_proposals()} - before
    written.append({"tract": t.tract_id, "label": label, "proposal": pid})


def edit(t: Tract, target: str, text: str) -> str:
    content = DialogueContent(role="user", text=text)
    return t.commit(content, operation=CommitOperation.EDIT, **{EDIT_KW: target}).commit_hash


def conversation(t: Tract) -> dict[str, str]:
    h = {"system": t.system("You are a support agent. Be precise.").commit_hash}
    h["q1"] = t.user("My refund for order 88412 failed three times.").commit_hash
    h["a1"] = t.assistant("Let me look the order up.").commit_hash
    h["call"] = t.commit(ToolIOContent(tool_name="lookup", direction="call",
                                       payload={"order": 88412})).commit_hash  # fmt: skip
    h["result"] = t.commit(ToolIOContent(
        tool_name="lookup", direction="result", status="success",
        payload={"events": [f"attempt {i}: declined, token expired" for i in range(8)]},
    )).commit_hash  # fmt: skip
    h["think"] = t.commit(ReasoningContent(text="Token expired; re-issue it.")).commit_hash
    h["q2"] = t.user("Can you fix it today?").commit_hash
    h["q2edit"] = edit(t, h["q2"], "Can you fix it today, please? It is urgent.")
    code = ArtifactContent(
        artifact_type="code", language="python", content="token = reissue(order)"
    )
    h["patch"] = t.commit(code).commit_hash
    h["a2"] = t.assistant("Re-issued the token; the refund retries tonight.").commit_hash
    t.annotate(h["result"], Priority.SKIP, reason="bulky")
    t.annotate(h["a1"], Priority.PINNED, reason="keep")
    return h


def tract_conv(path: str, written: list) -> dict[str, str]:
    t = Tract.open(path, tract_id="conv", tokenizer=WordCounter())
    h = conversation(t)
    t.branch("feature/x", switch=False)
    p = lambda *a: propose(t, *a, written)  # noqa: E731
    summary = "Summary: refund failed on an expired token; re-issued."
    p("annotate-hide", "annotate", {"target_hash": h["a2"], "priority": "skip"})
    p("annotate-show", "annotate", {"target_hash": h["result"], "priority": "normal"})
    p("annotate-same", "annotate", {"target_hash": h["system"], "priority": "pinned"})
    p("annotate-missing", "annotate", {"target_hash": "deadbeef" * 8, "priority": "skip"})
    p("annotate-important", "annotate", {"target_hash": h["q1"], "priority": "important"})
    p("annotate-number", "annotate", {"target_hash": h["q1"], "priority": 5})
    p("annotate-no-target", "annotate", {"priority": "skip"})
    p("annotate-edited", "annotate", {"target_hash": h["q2"], "priority": "skip"})
    p("compress-split", "compress", {"content": summary})
    p("compress-after-pin", "compress", {"content": summary, "from_commit": h["call"]})
    p("compress-llm", "compress", {"from_commit": h["call"]})
    p("compress-plan-only", "compress", {"auto_commit": False, "content": summary,
                                          "from_commit": h["call"]})  # fmt: skip
    p("compress-list", "compress", {"content": summary, "commits": [h["q2"], h["a2"]]})
    p("compress-preserve", "compress", {"content": summary, "from_commit": h["call"],
                                         "preserve": [h["patch"]]})  # fmt: skip
    p("compress-upto", "compress", {"content": summary, "from_commit": h["call"],
                                     "to_commit": h["think"]})  # fmt: skip
    p("compress-missing", "compress", {"content": summary, "commits": ["nope"]})
    p("compress-foreign-kwarg", "compress", {"content": summary, "foo": 1})
    p("branch-new", "branch", {"name": "tangent/1", "switch": False})
    p("branch-exists", "branch", {"name": "feature/x", "switch": False})
    p("branch-invalid", "branch", {"name": "bad..name"})
    p("branch-switch", "branch", {"name": "tangent/2", "switch": True})
    p("branch-from", "branch", {"name": "tangent/3", "source": h["q1"], "switch": True})
    p("branch-kwarg", "branch", {"name": "tangent/4", "color": "red"})
    p("archive-by-name", "archive", {"archive_name": "archive/feature-x", "source": "feature/x"})
    p("archive-by-hash", "archive", {"archive_name": "archive/at-q1", "source": h["q1"]})
    p("unknown-action", "pause", {"minutes": 5})
    t.close()
    return h


def tract_others(path: str, conv: dict[str, str], written: list) -> None:
    summary = "Earlier: the user asked about a refund."
    t = Tract.open(path, tract_id="compressed", tokenizer=WordCounter())
    t.system("You are terse.")
    first = t.user("First question about a refund.").commit_hash
    t.assistant("First answer.")
    t.compress(content=summary, from_commit=first)
    later = t.user("A follow-up after the compression.").commit_hash
    pinned_edit = edit(t, later, "A follow-up, edited.")
    t.assistant("The follow-up answer.")
    t.annotate(pinned_edit, Priority.PINNED, reason="keep the edit")
    propose(t, "compress-again", "compress", {"content": "All of it."}, written)
    propose(t, "compress-pinned-edit", "compress", {"content": "x", "from_commit": later},
            written)  # fmt: skip
    propose(t, "annotate-other-tract", "annotate",
            {"target_hash": conv["a2"], "priority": "skip"}, written)  # fmt: skip
    t.close()
    t = Tract.open(path, tract_id="detached", tokenizer=WordCounter())
    one = t.user("one").commit_hash
    t.assistant("two")
    t.checkout(one)
    propose(t, "compress-detached", "compress", {"content": "s"}, written)
    propose(t, "branch-detached", "branch", {"name": "rescue", "switch": False}, written)
    t.close()
    t = Tract.open(path, tract_id="empty", tokenizer=WordCounter())
    propose(t, "compress-empty", "compress", {"content": "s"}, written)
    propose(t, "branch-empty", "branch", {"name": "first"}, written)
    t.close()


def main() -> None:
    out = sys.argv[1]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(out + suffix):
            os.remove(out + suffix)
    written: list = []
    conv = tract_conv(out, written)
    tract_others(out, conv, written)
    print(json.dumps(written))


if __name__ == "__main__":
    main()
