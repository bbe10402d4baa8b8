"""The tract library deciding on its own, as a plain tract user would, for a while.

usage: python library_decider.py DB SECONDS   (prints "ready", then what it did, as JSON)

Round after round, for every tract in DB, it asks the library for the
pending proposals and approves every other one (the library executes it
at once) and rejects the rest, until SECONDS have passed. What the library
refuses (tract-tui decided it first: "not pending") or fails to execute is
counted, not fatal: the test checks that nothing was lost or done twice.
Its first line, once the library is imported and has opened a tract, tells
the test to start deciding too: on a loaded machine the import alone took
long enough for tract-tui to decide everything first.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(__file__))
from oracle import open_tract

warnings.simplefilter("ignore")


def main() -> None:
    db, seconds = sys.argv[1], float(sys.argv[2])
    con = sqlite3.connect(db)
    tracts = [r[0] for r in con.execute("SELECT DISTINCT tract_id FROM policy_proposals")]
    con.close()
    done: dict[str, list[str]] = {"approved": [], "rejected": [], "refused": [], "failed": []}
    with contextlib.suppress(Exception):
        open_tract(db, tracts[0]).close()  # imported and ready
    print("ready", flush=True)
    end, turn = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        for tract in tracts:
            t = open_tract(db, tract)
            try:
                for p in t.get_pending_proposals():
                    turn += 1
                    try:
                        if turn % 2:
                            t.approve_proposal(p.proposal_id)
                            done["approved"].append(p.proposal_id)
                        else:
                            t.reject_proposal(p.proposal_id, "rejected by the library")
                            done["rejected"].append(p.proposal_id)
                    except Exception as e:
                        kind = "refused" if "not pending" in str(e) else "failed"
                        done[kind].append(p.proposal_id)
            finally:
                with contextlib.suppress(Exception):
                    t.close()
        time.sleep(0.05)
    print(json.dumps(done))


if __name__ == "__main__":
    main()
