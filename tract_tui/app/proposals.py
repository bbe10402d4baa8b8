"""The proposals view: pending proposals, what the highlighted one would touch, decisions."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import Static
from textual.worker import get_current_worker

from tract_tui.app.paging import Listing, PagePlan, read_listing
from tract_tui.app.render import detail_text, proposal_cells, safe, short_id
from tract_tui.app.table import Column, VirtualTable
from tract_tui.exceptions import ProposalConflictError, ProposalNotFoundError, TraceError
from tract_tui.models.review import Decision, PendingCount, Proposal, ProposalDetail

if TYPE_CHECKING:
    from tract_tui.app.app import ReviewApp

COLUMNS = [
    Column("Age", 5),
    Column("Tract", 14),
    Column("Policy", 16),
    Column("Action", 8),
    Column("Reason", 0, 12),
    Column("Id", 8),
]


def counts_text(counts: list[PendingCount], total: int, max_lines: int = 3) -> Text:
    """'N pending' then one line per tract with its policies, most first."""
    out = Text()
    out.append(f"{total} pending", style="bold")
    if not counts:
        return out
    per_tract: Counter[str] = Counter()
    policies: dict[str, list[PendingCount]] = {}
    for c in counts:
        per_tract[c.tract_id] += c.count
        policies.setdefault(c.tract_id, []).append(c)
    out.append(f" in {len(per_tract)} tract{'s' if len(per_tract) != 1 else ''}")
    for tract, n in per_tract.most_common(max_lines):
        out.append("\n")
        out.append(f"{safe(tract)[:24]:<24} {n:>4}  ", style="bold")
        parts = [f"{safe(c.policy_name)} {c.count}" for c in policies[tract]]
        out.append(" · ".join(parts))
    if len(per_tract) > max_lines:
        out.append(f"\n… and {len(per_tract) - max_lines} more tracts", style="dim")
    return out


class ProposalsPane(Vertical):
    """Table of pending proposals + detail pane; owns the decision keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "a",
            "approve",
            "Approve",
            id="approve",
            tooltip="Approve the highlighted (or marked) proposal",
        ),
        Binding("r", "reject", "Reject", id="reject", tooltip="Reject, with an optional reason"),
        Binding("space", "mark", "Mark", id="mark", tooltip="Mark for a bulk decision"),
        Binding("u", "undo", "Undo", id="undo", tooltip="Undo this session's last decision"),
    ]

    DEFAULT_CSS = """
    ProposalsPane #counts { height: auto; max-height: 5; padding: 0 1; color: $text-muted; }
    ProposalsPane #main { height: 1fr; }
    ProposalsPane #proposals-table { width: 1fr; }
    ProposalsPane #detail-scroll { width: 44; border-left: tall $panel; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.marked: set[str] = set()
        self.undo_stack: list[Decision] = []
        self.busy = False
        self._queued: list[str] = []
        self._first_frame = False  # True while preloaded rows wait for their first frame
        self._footer_state: tuple[bool | None, ...] = ()  # the keys' state the footer shows

    @property
    def review_app(self) -> ReviewApp:
        from tract_tui.app.app import ReviewApp

        assert isinstance(self.app, ReviewApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Static(Text("Opening…"), id="counts")
        with Horizontal(id="main"):
            yield VirtualTable(
                COLUMNS,
                lambda row, _w: proposal_cells(
                    row, self.review_app.now(), row.proposal_id in self.marked
                ),
                is_marked=lambda row: row.proposal_id in self.marked,
                empty_text="No pending proposals. New ones appear here as agents propose them.",
                id="proposals-table",
            )
            with VerticalScroll(id="detail-scroll"):
                yield Static(Text(""), id="detail")

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#proposals-table", VirtualTable)

    # --- loading ----------------------------------------------------------------

    def reload(self, keep_id: str | None = None) -> None:
        """Recount and refetch what is on screen, keeping the cursor on ``keep_id`` if listed."""
        current = self.table.cursor_row
        self._reload(keep_id or (current.proposal_id if current else None), self.table.cursor)

    @work(thread=True, exclusive=True, group="proposals-reload")
    def _reload(self, keep_id: str | None, fallback: int) -> None:
        worker = get_current_worker()
        service = self.review_app.service
        listing = read_listing(service, keep_id, fallback, self.table.cache.page_size)
        if worker.is_cancelled:
            return
        self.app.call_from_thread(self._apply_reload, listing.total, listing.index, listing.pages)
        counts = service.pending_counts()
        if not worker.is_cancelled:
            self.app.call_from_thread(self._apply_counts, counts, listing.total)

    def show_listing(self, listing: Listing) -> None:
        """Show a listing read before the app started (ReviewApp.preload); counts follow.

        The counts and the detail pane start after the first frame is drawn:
        their workers would otherwise take the GIL from the rendering of it.
        """
        self._first_frame = True
        self._apply_reload(listing.total, listing.index, listing.pages)
        self.call_after_refresh(self._after_first_frame, listing.total)

    def _after_first_frame(self, total: int) -> None:
        self._first_frame = False
        self._load_counts(total)
        row = self.table.cursor_row
        if row is not None:
            self._load_detail(row.proposal_id)

    @work(thread=True, exclusive=True, group="proposals-reload")
    def _load_counts(self, total: int) -> None:
        counts = self.review_app.service.pending_counts()
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._apply_counts, counts, total)

    def _apply_reload(self, total: int, index: int, pages: dict[int, list[Proposal]]) -> None:
        if total == 0:
            self.marked.clear()
        self.table.set_total(total, keep_cursor=index, pages=pages)
        if total == 0:
            self.query_one("#detail", Static).update(Text(""))
        self.refresh_bindings()

    def _apply_counts(self, counts: list[PendingCount], total: int) -> None:
        self.query_one("#counts", Static).update(counts_text(counts, total))

    @on(VirtualTable.NeedPages, "#proposals-table")
    def _need_pages(self, event: VirtualTable.NeedPages) -> None:
        cache = self.table.cache
        for page in event.pages:
            self._fetch_page(cache.generation, cache.plan(page))

    @work(thread=True, group="proposals-pages")
    def _fetch_page(self, generation: int, plan: PagePlan) -> None:
        service = self.review_app.service
        try:
            if plan.mode == "after":
                assert isinstance(plan.anchor, Proposal)
                rows = service.list_proposals(after=plan.anchor.key, limit=plan.limit)
            elif plan.mode == "before":
                assert isinstance(plan.anchor, Proposal)
                rows = service.list_proposals(before=plan.anchor.key, limit=plan.limit)
            elif plan.mode == "end":
                rows = service.list_proposals(from_end=True, limit=plan.limit)
            else:
                rows = service.proposals_at(plan.offset, plan.limit)
        except Exception:
            self.app.call_from_thread(self.table.cache.failed, plan.page)
            raise
        self.app.call_from_thread(self.table.page_loaded, generation, plan.page, rows)

    @on(VirtualTable.Highlighted, "#proposals-table")
    def _highlighted(self, event: VirtualTable.Highlighted) -> None:
        # Only when a key's availability changed: each refresh recomposes the footer
        # (tens of ms), which made every cursor move and decision pay for it.
        if self._binding_state() != self._footer_state:
            self.refresh_bindings()
        if event.row is not None:
            if not self._first_frame:  # else _after_first_frame loads it
                self._load_detail(event.row.proposal_id)
            if self._queued and not self.busy and self.app.screen is self.screen:
                self._start_decision(self._queued.pop(0))

    @work(thread=True, exclusive=True, group="proposals-detail")
    def _load_detail(self, proposal_id: str) -> None:
        try:
            detail: ProposalDetail | str = self.review_app.service.get_detail(proposal_id)
        except TraceError as e:
            detail = str(e)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_detail, detail)

    def _show_detail(self, detail: ProposalDetail | str) -> None:
        text = (
            Text(safe(detail))
            if isinstance(detail, str)
            else detail_text(detail, self.review_app.now())
        )
        self.query_one("#detail", Static).update(text)

    # --- keys ---------------------------------------------------------------------

    def _binding_state(self) -> tuple[bool | None, ...]:
        try:
            return tuple(self.check_action(a, ()) for a in ("approve", "reject", "mark", "undo"))
        except NoMatches:  # not composed yet
            return ()

    def refresh_bindings(self) -> None:
        self._footer_state = self._binding_state()
        super().refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("approve", "reject", "mark", "undo"):
            app = self.review_app
            if app.service_or_none is None or app.service.read_only:
                return None
            if action == "undo":
                return True if self.undo_stack and not self.busy else None
            if self.table.row_count == 0 and not self.marked:
                return None
        return True

    def action_mark(self) -> None:
        row = self.table.cursor_row
        if row is None:
            return
        self.marked ^= {row.proposal_id}
        self.table.refresh_row(self.table.cursor)
        self.table.action_cursor_down()
        self.refresh_bindings()

    def action_approve(self) -> None:
        self._start_decision("approved")

    def action_reject(self) -> None:
        self._start_decision("rejected")

    def _start_decision(self, status: str) -> None:
        """Decide now, or, while a decision is in flight or the row is loading, queue the key.

        Keys are never dropped: pressing ``a`` three times quickly approves the
        next three proposals, each as soon as the previous one is done.
        """
        if self.busy or (self.table.cursor_row is None and not self.marked):
            if len(self._queued) < 50:
                self._queued.append(status)
            return
        verb = "Approve" if status == "approved" else "Reject"
        if self.marked:
            self._confirm_bulk(status, verb)
            return
        row = self.table.cursor_row
        if row is None:
            return
        if status == "approved":
            self._decide_now([row.proposal_id], status, None)
        else:
            what = (
                f"{safe(row.action_type)} proposal {short_id(row.proposal_id)} "
                f"({safe(row.policy_name)})"
            )

            def done(reason: str | None) -> None:
                if reason is not None:
                    self._decide_now([row.proposal_id], status, reason)

            from tract_tui.app.modals import RejectPrompt  # when first needed (issue 4)

            self.app.push_screen(RejectPrompt(what), done)

    def _confirm_bulk(self, status: str, verb: str) -> None:
        """Count the marked proposals per policy (in a worker), then ask once."""
        self._lookup_policies(sorted(self.marked), status, verb)

    @work(thread=True, group="proposals-lookup")
    def _lookup_policies(self, ids: list[str], status: str, verb: str) -> None:
        counter: Counter[str] = Counter()
        for pid in ids:
            try:
                counter[self.review_app.service.get_proposal(pid).policy_name] += 1
            except ProposalNotFoundError:
                counter["(gone)"] += 1
        self.app.call_from_thread(self._ask_bulk, ids, counter, status, verb)

    def _ask_bulk(self, ids: list[str], policies: Counter[str], status: str, verb: str) -> None:
        body = Text()
        for name, n in policies.most_common():
            body.append(f"  {n:>4}  ", style="bold")
            body.append(f"{safe(name)}\n")
        title = f"{verb} {len(ids)} marked proposal{'s' if len(ids) != 1 else ''}?"

        from tract_tui.app.modals import ConfirmScreen, RejectPrompt  # when first needed

        def confirmed(ok: bool | None) -> None:
            if not ok:
                return
            if status == "approved":
                self._decide_now(ids, status, None)
                return

            def reason_given(note: str | None) -> None:
                if note is not None:
                    self._decide_now(ids, status, note)

            self.app.push_screen(RejectPrompt(f"{len(ids)} proposals"), reason_given)

        self.app.push_screen(ConfirmScreen(title, body), confirmed)

    @work(thread=True, exclusive=False, group="proposals-decide")
    def _decide(self, ids: list[str], status: str, note: str | None) -> None:
        service = self.review_app.service
        messages: list[tuple[str, str]] = []
        decisions: list[Decision] = []
        try:
            if len(ids) == 1:
                try:
                    decisions.append(service.decide(ids[0], status, note))
                    messages.append((f"{status.capitalize()} {ids[0][:8]}", "information"))
                except ProposalConflictError as e:
                    messages.append(
                        (
                            f"{ids[0][:8]} is already {e.current_status}; nothing was changed",
                            "warning",
                        )
                    )
                except TraceError as e:
                    messages.append((str(e), "error"))
            else:
                outcomes = service.decide_many(ids, status, note)
                decisions = [o.decision for o in outcomes if o.decision is not None]
                lines = [f"{status.capitalize()} {len(decisions)} of {len(ids)}"]
                for o in outcomes:
                    if o.decision is not None:
                        lines.append(f"{o.proposal_id[:8]} {status}")
                    else:
                        lines.append(f"{o.proposal_id[:8]} already {o.current_status or o.error}")
                severity = "information" if len(decisions) == len(ids) else "warning"
                messages.append(("\n".join(lines[:12]), severity))
        finally:
            self.app.call_from_thread(self._after_decision, decisions, messages, ids)

    def _decide_now(self, ids: list[str], status: str, note: str | None) -> None:
        self.busy = True  # before the worker starts: another key press now queues
        self._decide(ids, status, note)
        # The footer is redrawn when the decision is done (_after_decision), not now:
        # its recompose took the CPU from the commit (p50 3 -> 6 ms, p99 8 -> 15 ms);
        # check_action still refuses undo while busy, dimmed or not.

    def _after_decision(
        self, decisions: list[Decision], messages: list[tuple[str, str]], ids: list[str]
    ) -> None:
        self.busy = False
        self.undo_stack.extend(decisions)
        self.marked -= set(ids)
        for text, severity in messages:
            self.app.notify(
                safe(text, one_line=False),
                severity=severity,  # type: ignore[arg-type]
                markup=False,
                timeout=4,
            )
        # the decided row leaves the list: the same index is now the next pending one
        self._reload(None, self.table.cursor)
        self.refresh_bindings()

    def action_undo(self) -> None:
        if self.undo_stack:
            self._undo(self.undo_stack.pop())

    @work(thread=True, group="proposals-decide")
    def _undo(self, decision: Decision) -> None:
        try:
            self.review_app.service.undo(decision)
            message, severity = (
                f"Undid {decision.status} of {decision.proposal_id[:8]}",
                "information",
            )
        except ProposalConflictError as e:
            message = f"Cannot undo: {decision.proposal_id[:8]} is now {e.current_status}"
            severity = "warning"
        self.app.call_from_thread(
            self.app.notify, safe(message, one_line=False), severity=severity, markup=False
        )
        self.app.call_from_thread(self._reload, decision.proposal_id, self.table.cursor)
        self.app.call_from_thread(self.refresh_bindings)
