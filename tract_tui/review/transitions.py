"""The decision table: every way a proposal's status may change, in one place.

Each :class:`~tract_tui.models.review.Transition` names the statuses it
leaves, the status it sets, and the log row it writes (outcome and
trigger); :func:`tract_tui.storage.decisions.apply` is the one function
that applies any of them, as one conditional UPDATE plus its log row in
the caller's transaction.

::

    pending --approve--> approved --claim--> executing --executed--> executed
       |  \\--reject--> rejected               |   \\--failed / release_stuck--> approved
       \\--expire--> expired                    \\--release (no log row)--> approved
    approved / rejected --undo--> pending
"""

from __future__ import annotations

from tract_tui.models.review import Transition

EXECUTING = "executing"

APPROVE = Transition("approve", ("pending",), "approved", "approved")
REJECT = Transition("reject", ("pending",), "rejected", "rejected")
EXPIRE = Transition("expire", ("pending",), "expired", "expired")
UNDO_APPROVE = Transition("undo", ("approved",), "pending", "reopened", resolved_at="clear")
UNDO_REJECT = Transition("undo", ("rejected",), "pending", "reopened", resolved_at="clear")
CLAIM = Transition("claim", ("approved",), EXECUTING, None, resolved_at="keep")
EXECUTED = Transition("executed", (EXECUTING,), "executed", "executed", trigger="execute")
FAILED = Transition("failed", (EXECUTING,), "approved", "error", trigger="execute")
RELEASE_STUCK = Transition("release_stuck", (EXECUTING,), "approved", "error")
RELEASE = Transition("release", (EXECUTING,), "approved", None, resolved_at="keep")

#: The decisions a person makes, by the status they lead to.
DECIDE = {"approved": APPROVE, "rejected": REJECT}
#: Undoing a decision, by the status it had led to.
UNDO = {"approved": UNDO_APPROVE, "rejected": UNDO_REJECT}
