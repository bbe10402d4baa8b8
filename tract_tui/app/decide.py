"""The decision keys of the proposals view: approve, reject, marks, undo, copy.

Rules a reviewer can rely on:

- Approving an action type that replaces or moves context away (compress,
  archive, any type tract-tui does not know) asks first; which types ask is
  a setting (tract_tui.settings), kept between runs.
- Marks scale: a range (``v`` ... ``v``), every proposal the filter matches
  (``*``, after a confirmation naming the count per action type), a count on
  screen, Escape clears them. One confirmation decides them all.
- One ``u`` undoes one whole action (a bulk decision is one action). An undo
  that fails (a lock, an agent acted meanwhile) keeps its entry.
- Keys pressed while a decision is in flight are queued, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical

from tract_tui.app.render import safe, short_id
from tract_tui.app.workers import Cancelled, ServiceCalls, error_text, report_error
from tract_tui.exceptions import (
    DatabaseBusyError,
    ProposalConflictError,
    TraceError,
    UndoRefusedError,
)
from tract_tui.models.review import Decision, DecisionOutcome, Proposal

if TYPE_CHECKING:
    from tract_tui.app.app import ReviewApp
    from tract_tui.app.table import VirtualTable

#: The most marks "mark every match" sets at once.
MARK_ALL_LIMIT = 100_000
#: Keys queued while a decision is in flight.
QUEUE_LIMIT = 50


class DecisionKeys(ServiceCalls, Vertical):
    """Mixin-like base of the proposals pane: the decision keys and their state."""

    DECISION_BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "a",
            "approve",
            "Approve",
            id="approve",
            tooltip="Approve the highlighted (or marked) proposals",
        ),
        Binding("r", "reject", "Reject", id="reject", tooltip="Reject, with an optional reason"),
        Binding("space", "mark", "Mark", id="mark", tooltip="Mark for a bulk decision"),
        Binding(
            "v", "mark_range", "Mark a range (v here, move, v there)", id="mark-range", show=False
        ),
        Binding(
            "asterisk",
            "mark_all",
            "Mark all",
            show=False,
            tooltip="Mark every proposal the filter matches",
        ),
        Binding("escape", "escape", "Clear marks / back to the list", show=False),
        Binding("u", "undo", "Undo", id="undo", tooltip="Undo this session's last decision"),
        Binding("y", "copy_id", "Copy id", show=False, tooltip="Copy the proposal id"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.marked: set[str] = set()
        #: One entry per action (a bulk decision is one action): what ``u`` undoes.
        self.undo_stack: list[list[Decision]] = []
        #: Proposals this console decided: a refresh does not report them as "decided elsewhere".
        self.own: set[str] = set()
        self.busy = False
        self.range_start: int | None = None
        self._queued: list[str] = []
        self._footer_state: tuple[bool | None, ...] = ()

    # provided by the pane
    filter: Any

    @property
    def table(self) -> VirtualTable:
        raise NotImplementedError

    @property
    def review_app(self) -> ReviewApp:
        raise NotImplementedError

    def reload(self) -> None:
        raise NotImplementedError

    def refresh_counts(self) -> None:
        raise NotImplementedError

    def _binding_state(self) -> tuple[bool | None, ...]:
        raise NotImplementedError

    # --- availability ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("approve", "reject", "mark", "undo", "mark_range", "mark_all"):
            app = self.review_app
            if app.service_or_none is None or app.service.read_only:
                return None
            if action == "undo":
                return True if self.undo_stack and not self.busy else None
            if self.table.row_count == 0 and not self.marked:
                return None
        if action == "escape":
            return True if self.marked or self.range_start is not None or self.in_filter() else None
        return True

    def in_filter(self) -> bool:
        raise NotImplementedError

    def refresh_bindings(self) -> None:
        self._footer_state = self._binding_state()
        super().refresh_bindings()

    def bindings_may_have_changed(self) -> None:
        """Refresh the footer only when a key's availability changed (a recompose costs ms)."""
        if self._binding_state() != self._footer_state:
            self.refresh_bindings()

    # --- marks ----------------------------------------------------------------------

    def _marks_changed(self) -> None:
        self.table.refresh_rows()
        self.refresh_counts()
        self.refresh_bindings()

    def action_mark(self) -> None:
        row = self.table.cursor_row
        if row is None or not row.proposal_id:
            return
        self.marked ^= {row.proposal_id}
        self.table.refresh_row(self.table.cursor)
        self.table.action_cursor_down()
        self.refresh_counts()
        self.refresh_bindings()

    def action_mark_range(self) -> None:
        """``v`` starts a range at the cursor; ``v`` again marks every row between the two."""
        if self.range_start is None:
            self.range_start = self.table.cursor
            self.app.notify("Range started: move, then v to mark it (Escape cancels)", timeout=3)
            self.refresh_bindings()
            return
        first, last = sorted((self.range_start, self.table.cursor))
        self.range_start = None
        source = self.table.source
        if source is None:
            return
        self.call_service(
            lambda c: [p.proposal_id for p in source.at(first, last - first + 1, c)],
            self._add_marks,
            group="proposals-marks",
        )

    def _add_marks(self, ids: list[str]) -> None:
        self.marked |= {i for i in ids if i}
        self._marks_changed()

    def action_mark_all(self) -> None:
        """Mark every proposal the current filter matches, after saying how many of what."""
        service, flt = self.review_app.service, self.filter

        def load(_c: Cancelled) -> tuple[list[str], dict[str, int]]:
            ids = service.proposal_ids(flt, limit=MARK_ALL_LIMIT)
            return ids, service.count_by(ids, "action_type")

        self.call_service(load, self._confirm_mark_all, group="proposals-marks")

    def _confirm_mark_all(self, found: tuple[list[str], dict[str, int]]) -> None:
        ids, per_type = found
        if not ids:
            self.app.notify("Nothing matches the filter", timeout=3)
            return
        from tract_tui.app.modals import ConfirmScreen

        title = f"Mark all {len(ids):,} proposal{'s' if len(ids) != 1 else ''} the filter matches?"
        self.app.push_screen(
            ConfirmScreen(title, _count_lines(per_type)),
            lambda ok: self._add_marks(ids) if ok else None,
        )

    def action_escape(self) -> None:
        """Escape: out of the filter box first, then a range being marked, then the marks."""
        if self.in_filter():
            self.leave_filter()
        elif self.range_start is not None:
            self.range_start = None
            self.refresh_bindings()
        else:
            self.marked.clear()
            self._marks_changed()

    def leave_filter(self) -> None:
        raise NotImplementedError

    def action_copy_id(self) -> None:
        row = self.table.cursor_row
        if row is None or not row.proposal_id:
            return
        self.app.copy_to_clipboard(row.proposal_id)  # OSC 52: the terminal's clipboard
        self.app.notify(f"Copied {safe(row.proposal_id)}", markup=False, timeout=3)

    # --- deciding -------------------------------------------------------------------

    def action_approve(self) -> None:
        self._start_decision("approved")

    def action_reject(self) -> None:
        self._start_decision("rejected")

    def run_queued_key(self) -> None:
        if self._queued and not self.busy and self.app.screen is self.screen:
            self._start_decision(self._queued.pop(0))

    def _start_decision(self, status: str) -> None:
        """Decide now, or, while a decision is in flight or the row is loading, queue the key."""
        if self.busy or (self.table.cursor_row is None and not self.marked):
            if len(self._queued) < QUEUE_LIMIT:
                self._queued.append(status)
            return
        if self.marked:
            self._confirm_bulk(status, sorted(self.marked))
            return
        row: Proposal = self.table.cursor_row
        if not row.proposal_id:
            self.app.notify(
                "This proposal was stored without an id: it cannot be decided",
                severity="warning",
                timeout=5,
            )
            return
        if status == "rejected":
            self._ask_reason([row.proposal_id], _what(row))
        elif self.review_app.settings.asks_before(row.action_type):
            self._confirm_destructive(row)
        else:
            self.decide_now([row.proposal_id], status, None)

    def _confirm_destructive(self, row: Proposal) -> None:
        from tract_tui.app.modals import ConfirmScreen

        body = Text()
        body.append(f"{safe(row.action_type)}", style="bold")
        body.append(
            " may replace or move part of the agent's context. Read its detail (Enter) first.\n\n"
        )
        body.append(safe(row.reason or ""), style="italic")
        hint = "y / Enter: approve · n / Escape: cancel · (this confirmation is a setting)"
        self.app.push_screen(
            ConfirmScreen(f"Approve {_what(row)}?", body, hint),
            lambda ok: self.decide_now([row.proposal_id], "approved", None) if ok else None,
        )

    def _ask_reason(self, ids: list[str], what: str) -> None:
        from tract_tui.app.modals import RejectPrompt

        self.app.push_screen(
            RejectPrompt(what),
            lambda reason: self.decide_now(ids, "rejected", reason) if reason is not None else None,
        )

    def _confirm_bulk(self, status: str, ids: list[str]) -> None:
        """Count the marked proposals per action type and policy (in a worker), then ask once."""
        service = self.review_app.service

        def load(_c: Cancelled) -> tuple[dict[str, int], dict[str, int]]:
            return service.count_by(ids, "action_type"), service.count_by(ids, "policy_name")

        self.call_service(
            load, lambda counts: self._ask_bulk(status, ids, *counts), group="proposals-lookup"
        )

    def _ask_bulk(
        self, status: str, ids: list[str], per_type: dict[str, int], per_policy: dict[str, int]
    ) -> None:
        from tract_tui.app.modals import ConfirmScreen

        verb = "Approve" if status == "approved" else "Reject"
        body = _count_lines(per_type)
        body.append("\n")
        body.append_text(_count_lines(per_policy))
        gone = len(ids) - sum(per_type.values())
        if gone:
            body.append(f"\n  {gone} no longer in the file", style="dim")
        title = f"{verb} {len(ids):,} marked proposal{'s' if len(ids) != 1 else ''}?"

        def confirmed(ok: bool | None) -> None:
            if not ok:
                return
            if status == "approved":
                self.decide_now(ids, status, None)
            else:
                self._ask_reason(ids, f"{len(ids):,} proposals")

        self.app.push_screen(ConfirmScreen(title, body), confirmed)

    def decide_now(self, ids: list[str], status: str, note: str | None) -> None:
        """Decide; the cursor stays on its proposal (or the next one after it).

        One proposal is decided right here when the write lock is free: that
        is 0.2-0.3 ms of SQLite, while a worker's thread hand-offs (each
        waiting for the event loop to let go of the GIL) cost several times
        that. When another process holds the lock, or for a bulk decision,
        a worker does it and waits, and the console stays responsive.
        """
        self.busy = True  # before the worker starts: another key press now queues
        self.own.update(ids)
        service = self.review_app.service
        if len(ids) == 1 and self._decided_at_once(ids[0], status, note):
            return

        def run(_c: Cancelled) -> list[DecisionOutcome]:
            if len(ids) == 1:
                try:
                    return [DecisionOutcome(ids[0], decision=service.decide(ids[0], status, note))]
                except ProposalConflictError as e:
                    return [DecisionOutcome(ids[0], current_status=e.current_status)]
            return service.decide_many(ids, status, note)

        self.call_service(
            run,
            lambda outcomes: self._after_decision(ids, status, outcomes),
            group="proposals-decide",
            exclusive=False,
            always=self._decision_done,
        )

    def _decided_at_once(self, pid: str, status: str, note: str | None) -> bool:
        """Decide ``pid`` on the event loop if the lock is free now; False to use a worker."""
        try:
            decision = self.review_app.service.decide(pid, status, note, wait=False)
        except DatabaseBusyError:
            return False
        except ProposalConflictError as e:
            outcomes = [DecisionOutcome(pid, current_status=e.current_status)]
        except TraceError as e:
            report_error(self.app, e)
            self._decision_done()
            return True
        else:
            outcomes = [DecisionOutcome(pid, decision=decision)]
        self._after_decision([pid], status, outcomes)
        self._decision_done()
        return True

    def _decision_done(self) -> None:
        self.busy = False
        self.reload()
        self.refresh_bindings()
        self.run_queued_key()

    def _after_decision(self, ids: list[str], status: str, outcomes: list[DecisionOutcome]) -> None:
        decisions = [o.decision for o in outcomes if o.decision is not None]
        if decisions:
            self.undo_stack.append(decisions)
        self.marked -= {
            o.proposal_id for o in outcomes if o.decision is not None or o.current_status
        }
        self.refresh_counts()
        if len(ids) == 1:
            o = outcomes[0]
            if o.decision is not None:
                self.app.notify(f"{status.capitalize()} {short_id(o.proposal_id)}", timeout=3)
            else:
                self.app.notify(
                    f"{short_id(o.proposal_id)} is already {safe(o.current_status or o.error)};"
                    " nothing was changed",
                    severity="warning",
                    timeout=5,
                )
            return
        lines = [f"{status.capitalize()} {len(decisions)} of {len(ids)}"]
        for o in outcomes:
            if o.decision is None:
                lines.append(
                    f"{short_id(o.proposal_id)} already {safe(o.current_status or o.error)}"
                )
        self.app.notify(
            "\n".join(lines[:12]),
            markup=False,
            timeout=6,
            severity="information" if len(decisions) == len(ids) else "warning",
        )

    # --- undo -----------------------------------------------------------------------

    def action_undo(self) -> None:
        if not self.undo_stack or self.busy:
            return
        action = self.undo_stack.pop()
        self.busy = True
        service = self.review_app.service
        undone: list[Decision] = []

        def run(_c: Cancelled) -> list[str]:
            problems = []
            for d in reversed(action):
                try:
                    service.undo(d)
                    undone.append(d)
                except (ProposalConflictError, UndoRefusedError) as e:
                    undone.append(d)  # it cannot be undone now or later: drop it
                    problems.append(f"{short_id(d.proposal_id)}: {_conflict_text(e)}")
            return problems

        def failed(error: BaseException) -> None:
            kept = [d for d in action if d not in undone]
            if kept:
                self.undo_stack.append(kept)  # a lost undo entry goes back on the stack
            self.app.notify(
                f"Undo failed ({error_text(error)}); press u to try again",
                severity="error",
                markup=False,
                timeout=8,
            )

        self.call_service(
            run,
            lambda problems: self._undone(action, problems),
            group="proposals-undo",
            exclusive=False,
            failed=failed,
            always=self._decision_done,
        )

    def _undone(self, action: list[Decision], problems: list[str]) -> None:
        done = len(action) - len(problems)
        what = (
            f"{action[0].status} of {short_id(action[0].proposal_id)}"
            if len(action) == 1
            else f"{action[0].status} of {len(action)} proposals"
        )
        if done:
            self.app.notify(
                f"Undid {what}" if not problems else f"Undid {done} of {len(action)}", timeout=4
            )
        if problems:
            self.app.notify(
                "Cannot undo: " + "\n".join(problems[:10]),
                severity="warning",
                markup=False,
                timeout=8,
            )


def _what(row: Proposal) -> str:
    return f"{safe(row.action_type)} proposal {short_id(row.proposal_id)} ({safe(row.policy_name)})"


def _conflict_text(e: TraceError) -> str:
    if isinstance(e, ProposalConflictError):
        return f"now {safe(e.current_status)}"
    return safe(str(e))


def _count_lines(counts: dict[str, int]) -> Text:
    body = Text()
    for name, n in sorted(counts.items(), key=lambda c: (-c[1], c[0])):
        body.append(f"  {n:>6,}  ", style="bold")
        body.append(f"{safe(name)}\n")
    return body


Callback = Callable[[], object]
