"""A real tract agent whose collaborative policies propose, and a person decides in tract-tui.

    python examples/agent.py PATH [--tract ID] [--seconds 30] [--turns N] [--json]

The agent (the tract library's own ``Tract``, with a word-counting
tokenizer so nothing is downloaded) talks for ``--seconds``: each turn
commits a user message, a tool call and its result, and an answer, then
compiles. Its collaborative policies propose as it goes: hide a large tool
result (annotate), compress when the context passes half its budget. The
proposals wait in PATH for a person:

    tract-tui PATH                     # the console: a approves, r rejects
    tract-tui approve PATH ID          # or the command line

Between turns the agent claims what was approved and executes it with
``execute_with_tract`` (exactly what the library's own approve would have
run), and prints its context before and after: the next ``compile()`` shows
the effect. ``--json`` prints one JSON object per event instead (the tests
read them). Needs the tract library (``pip install tract-ai``, or a wheel
from ``../shared/tract-wheels``); without it the script says so and stops.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from typing import Any

from tract_tui.api import execute_with_tract, open_queue
from tract_tui.text import one_line

SUMMARY = "Summary so far: refunds failed on an expired payment token; the agent re-issued it."


class WordCounter:
    """Offline token counter: the library's default (tiktoken) downloads its encodings."""

    def count_text(self, text: str) -> int:
        return len(text.split())

    def count_messages(self, messages: list[dict[str, Any]]) -> int:
        return 3 + sum(
            3 + sum(len(v.split()) for v in m.values() if isinstance(v, str)) for m in messages
        )


def policies() -> list[Any]:
    """The agent's collaborative policies: the library's compress, and a custom annotate."""
    from tract import Policy, PolicyAction
    from tract.policy.builtin import CompressPolicy

    class HideLargeToolOutput(Policy):  # type: ignore[misc]
        """Propose hiding a tool result over 40 tokens from the context (a person decides)."""

        @property
        def name(self) -> str:
            return "hide-large-tool-output"

        @property
        def trigger(self) -> str:
            return "commit"

        def evaluate(self, t: Any) -> Any:
            last = t.log(limit=1)
            if not last or last[0].content_type != "tool_io" or last[0].token_count <= 40:
                return None
            c = last[0]
            return PolicyAction(
                action_type="annotate",
                params={
                    "target_hash": c.commit_hash,
                    "priority": "skip",
                    "reason": "tool output over 40 tokens",
                },
                reason=f"tool result {c.commit_hash[:8]} has {c.token_count} tokens",
                autonomy="collaborative",
            )

    return [CompressPolicy(threshold=0.5, summary_content=SUMMARY), HideLargeToolOutput()]


def open_agent(path: str, tract_id: str, budget: int) -> Any:
    from tract import TokenBudgetConfig, Tract, TractConfig

    config = TractConfig(token_budget=TokenBudgetConfig(max_tokens=budget))
    t = Tract.open(path, tract_id=tract_id, config=config, tokenizer=WordCounter())
    t.configure_policies(policies=policies())
    if hasattr(t, "on"):  # schema 8+: a policy hook that decides nothing leaves it pending
        t.on("policy", lambda pending: None)
    return t


def turn(t: Any, n: int) -> None:
    """One exchange: a question, a tool call, its (sometimes large) result, an answer."""
    from tract import ToolIOContent

    if not t.log(limit=1):
        t.system("You are a refund support agent. Be precise; never invent account data.")
    t.user(f"Order {88400 + n}: my refund failed again. Can you check?")
    t.commit(ToolIOContent(tool_name="lookup_order", direction="call",
                           payload={"order": 88400 + n}))  # fmt: skip
    events = [f"attempt {i}: declined (token expired)" for i in range(3 + 5 * (n % 3))]
    t.commit(ToolIOContent(tool_name="lookup_order", direction="result", status="success",
                           payload={"order": 88400 + n, "events": events}))  # fmt: skip
    t.assistant(f"The payment token for order {88400 + n} expired; I re-issued it.")
    t.compile()  # compile-time policies (compress) evaluate here


def context_size(t: Any) -> tuple[int, int]:
    messages = t.compile().messages
    return len(messages), sum(len(str(m.content).split()) for m in messages)


def execute_approved(t: Any, queue: Any, say: Any) -> int:
    """Claim every approved proposal of this tract and run it; how many ran."""
    done = 0
    for claim in queue.claim_approved(t.tract_id):
        before = context_size(t)
        try:
            with claim:  # success: executed (its commit logged); an exception: an error row
                claim.commit_hash = execute_with_tract(t, claim.action)
        except Exception as e:  # the library refused (e.g. a branch that exists): logged
            say("failed", proposal=claim.proposal_id, action=claim.action.action_type,
                error=one_line(f"{type(e).__name__}: {e}", 200))  # fmt: skip
            continue
        after = context_size(t)
        done += 1
        sizes = {"messages": [before[0], after[0]], "words": [before[1], after[1]]}
        say("executed", proposal=claim.proposal_id, action=claim.action.action_type,
            commit=claim.commit_hash, **sizes)  # fmt: skip
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="the tract database (made if missing)")
    parser.add_argument("--tract", default="support-agent", help="the agent's tract id")
    parser.add_argument("--seconds", type=float, default=30, help="how long to keep talking")
    parser.add_argument("--turns", type=int, default=0, help="stop talking after N turns")
    linger = "after talking, keep executing approvals this many seconds"
    parser.add_argument("--linger", type=float, default=0, help=linger)
    parser.add_argument("--budget", type=int, default=400, help="the context's token budget")
    parser.add_argument("--json", action="store_true", help="one JSON object per event")
    args = parser.parse_args()

    def say(event: str, **fields: Any) -> None:
        if args.json:
            print(json.dumps({"event": event, **fields}), flush=True)
        else:
            print(event, " ".join(f"{k}={one_line(str(v), 60)}" for k, v in fields.items()))

    try:
        import tract  # noqa: F401
    except ImportError:
        print("examples/agent.py needs the tract library: pip install tract-ai "
              "(or a wheel from ../shared/tract-wheels)", file=sys.stderr)  # fmt: skip
        return 2
    warnings.simplefilter("ignore")  # the library warns about undecided hooks on purpose
    t = open_agent(args.path, args.tract, args.budget)
    try:
        with open_queue(args.path) as queue:
            start, n = time.monotonic(), 0
            while time.monotonic() - start < args.seconds and not (args.turns and n >= args.turns):
                turn(t, n)
                n += 1
                say("turn", n=n, pending=len(queue.pending(f"tract:{args.tract}")))
                execute_approved(t, queue, say)
                time.sleep(0.2)
            end = time.monotonic() + args.linger
            while True:
                execute_approved(t, queue, say)
                if time.monotonic() >= end:
                    break
                time.sleep(0.2)
        messages, words = context_size(t)
        say("done", turns=n, messages=messages, words=words)
    finally:
        t.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
