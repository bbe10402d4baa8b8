"""The tract library's own answers, as JSON: run inside an environment with tract installed.

usage: python oracle.py TASKS.json   (a list of tasks; prints a list of answers)
       python oracle.py -            (one task per line on stdin, one answer per line out:
                                      a test interleaves the library's steps with its own)

Tasks:
  {"op": "compile", "db": PATH, "tract": ID, "head": HASH or null}
      the messages the library compiles (HEAD's context, or a given head's)
  {"op": "approve", "db": PATH, "tract": ID, "proposal": ID}
      Tract.approve_proposal on that file (the caller passes a copy), then compile()
  {"op": "reject", "db": PATH, "tract": ID, "proposal": ID, "reason": TEXT}
  {"op": "pending", "db": PATH, "tract": ID}   the library's get_pending_proposals ids

No policy runs: the saved policy config is replaced by none, so compiling never
writes a proposal or a log row of its own.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
import warnings

from tract import Tract

warnings.simplefilter("ignore")


class WordCounter:
    """Offline token counter (tiktoken cannot download its encodings here)."""

    def count_text(self, text: str) -> int:
        return len(text.split())

    def count_messages(self, messages: list[dict]) -> int:
        return 3 + sum(
            3 + sum(len(v.split()) for v in m.values() if isinstance(v, str)) for m in messages
        )


def open_tract(path: str, tract_id: str) -> Tract:
    t = Tract.open(path, tract_id=tract_id, tokenizer=WordCounter())
    t.configure_policies(policies=[])
    return t


def messages(compiled) -> list[list[object]]:
    return [[m.role, m.content] for m in compiled.messages]


def run(task: dict) -> dict:
    t = open_tract(task["db"], task["tract"])
    try:
        if task["op"] == "compile":
            head = task.get("head")
            if head:
                return {"messages": messages(t._compiler.compile(t.tract_id, head))}
            return {"messages": messages(t.compile())}
        if task["op"] == "pending":
            return {"ids": [p.proposal_id for p in t.get_pending_proposals()]}
        if task["op"] == "reject":
            t.reject_proposal(task["proposal"], task.get("reason", ""))
            return {"ok": True}
        try:
            result = t.approve_proposal(task["proposal"])
        except Exception as e:  # the library refused: its own exception and message
            return {"ok": False, "error": f"{type(e).__name__}: {e}"}
        t.close()
        t = open_tract(task["db"], task["tract"])
        return {"ok": True, "result": repr(result)[:200], "after": messages(t.compile())}
    finally:
        with contextlib.suppress(Exception):
            t.close()


def answer(task: dict) -> dict:
    try:
        return run(task)
    except Exception:
        return {"crash": traceback.format_exc()}


def main() -> None:
    if sys.argv[1] == "-":
        for line in sys.stdin:
            print(json.dumps(answer(json.loads(line))), flush=True)
        return
    with open(sys.argv[1]) as f:
        tasks = json.load(f)
    out = []
    for task in tasks:
        try:
            out.append(run(task))
        except Exception:
            out.append({"crash": traceback.format_exc()})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
