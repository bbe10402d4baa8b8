"""Play the agent: wait for a reviewer's decision, then execute what was approved.

    python examples/agent.py [PATH] [TRACT_ID] [--wait SECONDS]

PATH is a tract database (default: a fresh demo database in a temporary
directory, where this script also plays the reviewer so there is something
to execute). With ``--wait``, the agent first waits for a person to decide
its oldest pending proposal: run ``tract-tui approve PATH ID`` (or press
``a`` in the console) in another terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from tract_tui.api import open_queue
from tract_tui.exceptions import DecisionTimeoutError, TraceError
from tract_tui.models.policy import PolicyAction
from tract_tui.text import one_line


def execute(action: PolicyAction) -> str | None:
    """Where a real agent runs the action with its own tract; returns the new commit hash.

    E.g. ``tract.compress(content=action.params["content"])``; here we only print it.
    """
    if action.action_type not in ("compress", "annotate", "branch", "archive"):
        raise ValueError(f"this agent does not know how to {action.action_type!r}")
    params = one_line(json.dumps(action.params, ensure_ascii=False), 70)  # untrusted text
    print(f"  running {action.action_type} {params}")
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", help="tract database (default: a new demo database)")
    parser.add_argument("tract", nargs="?", default="support-agent", help="the agent's tract id")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS")
    args = parser.parse_args()
    demo = args.path is None
    if demo:
        from tract_tui.demo import build_demo_database

        path = build_demo_database(Path(tempfile.mkdtemp()) / "demo.db")
        print(f"demo database: {path}")
    else:
        path = Path(args.path)

    try:
        with open_queue(path) as queue:
            pending = queue.pending(f"tract:{args.tract}")
            print(f"{len(pending)} pending proposal(s) for {args.tract}")
            if pending and (args.wait or demo):
                oldest = pending[0]
                if demo:  # no second terminal in a demo: play the reviewer too
                    queue.approve(oldest.proposal_id, note="approved by examples/agent.py")
                print(f"waiting for a decision on {oldest.proposal_id}")
                decided = queue.wait_for_decision(oldest.proposal_id, timeout=args.wait or 1)
                print(f"  reviewer said: {decided.status}")

            for claim in queue.claim_approved(args.tract):
                proposal_id, action = claim  # a claim unpacks as (id, PolicyAction)
                print(f"claimed {proposal_id}")
                try:
                    with claim:  # success -> executed; an exception -> error row, approved again
                        claim.commit_hash = execute(action)
                except ValueError as e:
                    print(f"  failed, left approved for a retry: {e}")
                    continue
                print(f"  executed {proposal_id}")
    except DecisionTimeoutError as e:
        print(f"no decision yet: {e}", file=sys.stderr)
        return 1
    except TraceError as e:
        print(f"agent: {one_line(str(e))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
