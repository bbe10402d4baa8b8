"""The history view: decided proposals, latest decision first, with who decided and why.

Every decision shown is read from what was recorded: the ``review`` row
tract-tui logged for the proposal (the reviewer and their note), or, with
no such row, "outside tract-tui" (the tract library's own approve and
reject write none). A proposal executed although tract-tui rejected it is
marked as a conflict. The detail lists every row tract-tui logged for the
proposal (decisions, undo, claims released, executions, errors): a
proposal's log rows, and from the log view (``p``) a log row's proposal.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Static

from tract_tui.app.hints import explain_no_match
from tract_tui.app.redraw import update_steady
from tract_tui.app.render import log_text, safe, short_id
from tract_tui.app.table import VirtualTable, focus_filter
from tract_tui.app.workers import Cancelled, ServiceCalls
from tract_tui.exceptions import FilterSyntaxError, ProposalNotFoundError
from tract_tui.models.history import Decided, HistoryDetail, HistoryRow
from tract_tui.models.review import split_trailer
from tract_tui.present import Column, block, params_text, show_time, style_of
from tract_tui.review.filters import Filter, parse_filter

if TYPE_CHECKING:
    from tract_tui.app.app import ReviewApp
    from tract_tui.review.service import ReviewService

COLUMNS = [
    Column("Decided", width=11),
    Column("Status", width=9),
    Column("Action", width=9),
    Column("By", width=12, drop=1, max_width=24),
    Column("Note / reason", min_width=20),
    Column("Tract", width=14, drop=2, max_width=30),
    Column("Policy", width=16, drop=3, max_width=24),
]
OUTSIDE = "outside tract-tui"


def conflict_text(d: Decided, status: str) -> str:
    """What overrode tract-tui's decision, said plainly (storage/history.LEADS_TO)."""
    if d.outcome == "rejected":
        return (f"⚠ CONFLICT: {safe(status)} although tract-tui logged its rejection. The tract "
                "library's approve checks the status, then updates it without a condition, so "
                "it can approve (and run) a proposal rejected a moment before.")  # fmt: skip
    if d.outcome == "approved":
        return (f"⚠ CONFLICT: {safe(status)} although tract-tui logged its approval. The tract "
                "library's reject checks the status of the row it read earlier, then updates "
                "it without a condition, so it can overwrite an approval made since.")  # fmt: skip
    return f"⚠ CONFLICT: {safe(status)} although tract-tui logged it {safe(d.outcome or '?')}."


EMPTY = "No decided proposals yet: approved, rejected, expired and executed ones appear here."
NO_MATCH = "No decided proposals match this filter."
STACK_BELOW = 110


def by_text(d: Decided | None) -> str:
    if d is None:
        return "-"
    return "outside" if d.outside else safe(d.by or "?")


def history_cells(row: HistoryRow) -> list[Text]:
    """Decided, status, action, by, note, tract, policy: the history table's columns."""
    p, d = row.proposal, row.decided
    when = d.at if d is not None and d.at is not None else p.resolved_at
    status = Text(safe(p.status), style=style_of(p.status))
    if d is not None and d.conflict:
        status = Text("CONFLICT", style="bold red")
    note = (d.note if d is not None and d.note else None) or (p.reason or "").strip()
    return [
        Text(when.strftime("%m-%d %H:%M") if when else "-", style="dim"),
        status,
        Text(safe(p.action_type), style="bold"),
        Text(by_text(d), style="italic dim" if d is not None and d.outside else ""),
        Text(safe(note)),
        Text(safe(p.tract_id)),
        Text(safe(p.policy_name)),
    ]


def decided_text(d: Decided | None, status: str) -> Text:
    """Who decided, when and with what note; outside tract-tui and conflicts said plainly."""
    out = Text()
    if d is None:
        out.append("not decided yet (pending)\n", style="bold")
        return out
    if d.conflict:
        out.append(conflict_text(d, status) + "\n\n", style="bold red")
    if d.outside:
        out.append(f"{safe(status)} {OUTSIDE}", style="bold")
        out.append(f" at {show_time(d.at)}\n" if d.at else "\n")
        out.append("No tract-tui row records this decision: the tract library's own approve "
                   "or reject (or another program) made it, and those write no log row.\n",
                   style="dim")  # fmt: skip
        return out
    out.append(f"{safe(d.outcome or status)} by {safe(d.by or '?')}", style="bold")
    out.append(f" at {show_time(d.at)}\n" if d.at else "\n")
    if d.note:
        out.append("note: ", style="bold")
        out.append(safe(d.note, one_line=False) + "\n")
    return out


def history_detail_text(detail: HistoryDetail) -> Text:
    """The decision, every row tract-tui logged for the proposal, then the proposal itself."""
    p = detail.proposal
    out = Text()
    out.append(f" {safe(p.action_type)} ", style="bold reverse")
    out.append(f"  {safe(p.policy_name)}", style="bold")
    out.append(f"  {safe(p.status)}", style=style_of(p.status))
    out.append(f"  {short_id(p.proposal_id)}\n\n", style="dim")
    out.append_text(decided_text(detail.decided, p.status))
    out.append("\nRecord", style="bold underline")
    out.append(f"  ({len(detail.trail)} row{'s' * (len(detail.trail) != 1)} tract-tui logged)\n",
               style="dim")  # fmt: skip
    for e in detail.trail:
        out.append(f"{show_time(e.created_at, e.created_at_raw)}  ", style="dim")
        out.append(f"{safe(e.trigger):<8} ", style="dim")
        out.append(f"{safe(e.outcome):<9}", style=style_of(e.outcome))
        out.append(f" {safe(log_text(e))}")
        if e.commit_hash:
            out.append(f"  commit {short_id(e.commit_hash, 12)}", style="dim")
        out.append("\n")
    if not detail.trail:
        out.append("(none)\n", style="dim")
    out.append("\nReason\n", style="bold underline")
    out.append(safe(split_trailer(p.reason)[0] or "(no reason given)", one_line=False) + "\n")
    params, why = params_text(p)
    out.append("\nParams", style="bold underline")
    out.append(f"  ({why})\n" if why else "\n", style="yellow")
    out.append(block(params), style="cyan")
    out.append("\n\n")
    out.append(f"created {show_time(p.created_at, p.created_at_raw)}", style="dim")
    out.append(f" · resolved {show_time(p.resolved_at)}" if p.resolved_at else "", style="dim")
    out.append(f"\n{safe(p.proposal_id)}", style="dim")
    return out


class HistorySource:
    """Decided proposals matching a filter, latest decision first (ReviewService.list_history)."""

    def __init__(self, service: ReviewService, flt: Filter | None = None) -> None:
        self.service = service
        self.filter = flt

    def after(self, row: HistoryRow, limit: int, cancelled: Cancelled) -> list[HistoryRow]:
        key = self.service.history_key(row)
        return self.service.list_history(self.filter, after=key, limit=limit)

    def before(self, row: HistoryRow, limit: int, cancelled: Cancelled) -> list[HistoryRow]:
        key = self.service.history_key(row)
        return self.service.list_history(self.filter, before=key, limit=limit)

    def last(self, limit: int, cancelled: Cancelled) -> list[HistoryRow]:
        return self.service.list_history(self.filter, from_end=True, limit=limit)

    def at(self, offset: int, limit: int, cancelled: Cancelled) -> list[HistoryRow]:
        return self.service.history_at(offset, limit, self.filter)


class HistoryPane(ServiceCalls, Vertical):
    """Decided proposals and, beside them, the highlighted one's record."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,plus", "zoom", "Zoom", id="history-zoom", tooltip="The record in full"),
        Binding(
            "slash",
            "focus_filter",
            "Filter",
            id="history-filter",
            tooltip="Filter the history (status:rejected, policy:…, words)",
            priority=True,
        ),
        Binding("J", "scroll_detail(4)", "Detail down", show=False),
        Binding("K", "scroll_detail(-4)", "Detail up", show=False),
    ]

    DEFAULT_CSS = """
    HistoryPane #history-summary { height: 1; padding: 0 1; color: $text-muted; }
    HistoryPane #history-filter { display: none; height: 1; border: none; padding: 0 1; }
    HistoryPane #history-filter.shown { display: block; }
    HistoryPane #history-error { height: auto; color: $text-error; padding: 0 1; display: none; }
    HistoryPane #history-error.shown { display: block; }
    HistoryPane #history-main { height: 1fr; }
    HistoryPane #history-table { width: 1fr; }
    HistoryPane #history-table.stale { opacity: 60%; }
    HistoryPane #history-detail-scroll { width: 40%; min-width: 44; max-width: 100;
                                         border-left: tall $panel; padding: 0 1; }
    HistoryPane.stacked #history-main { layout: vertical; }
    HistoryPane.stacked #history-detail-scroll { width: 1fr; min-width: 0; max-width: 100%;
                                                 height: 45%; border-left: none;
                                                 border-top: tall $panel; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.filter = Filter()
        self.loaded = False
        self._detail_id: str | None = None

    @property
    def review_app(self) -> ReviewApp:
        from tract_tui.app.app import ReviewApp

        assert isinstance(self.app, ReviewApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Static(Text("…"), id="history-summary")
        yield Input(placeholder="filter: status:rejected policy:… tract:… since:2d words",
                    id="history-filter")  # fmt: skip
        yield Static(Text(""), id="history-error")
        with Horizontal(id="history-main"):
            yield VirtualTable(COLUMNS, history_cells, empty_text=EMPTY, id="history-table")
            with VerticalScroll(id="history-detail-scroll"):
                yield Static(Text(""), id="history-detail")

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#history-table", VirtualTable)

    def on_mount(self) -> None:
        if self.app.is_headless:
            self.query_one("#history-filter", Input).cursor_blink = False
        self.set_class(self.app.size.width < STACK_BELOW, "stacked")  # as ProposalsPane

    def on_resize(self) -> None:
        # the detail's width (two fifths, 44 to 100 cells) is the CSS's
        self.set_class(self.size.width < STACK_BELOW, "stacked")

    def shown(self) -> None:
        if not self.loaded:
            self.reload()
        self.screen.set_focus(self.table)  # at once: keys typed right after ``4`` are its

    def refresh_data(self) -> None:
        if self.loaded:
            self.reload()

    # --- loading ----------------------------------------------------------------------

    def reload(self) -> None:
        """Count and fetch the page the cursor is on; the cursor keeps its proposal."""
        self.loaded = True
        keep: HistoryRow | None = self.table.cursor_row
        fallback, flt = self.table.cursor, self.filter
        service, size = self.review_app.service, self.table.cache.page_size

        def load(_c: Cancelled) -> tuple[int, int, list[HistoryRow]]:
            total = service.count_history(flt)
            index = fallback if keep is None else service.history_rank(keep, flt)
            index = min(max(index, 0), max(total - 1, 0))
            page = index // size
            return total, index, service.history_at(page * size, size, flt) if total else []

        started = self.table.moves
        self.call_service(load, lambda r: self._show(flt, started, *r), group="history-rows")

    def _show(
        self, flt: Filter, started: int, total: int, index: int, rows: list[HistoryRow]
    ) -> None:
        """Show a reload's rows; a key that moved the cursor meanwhile is not undone."""
        page = index // self.table.cache.page_size
        landed = self.table.landing(started, index, {page: rows}, attrgetter("proposal_id"))
        if landed is None:
            self.reload()
            return
        self.table.source = HistorySource(self.review_app.service, flt)
        self.table.set_total(total, keep_cursor=landed, pages={page: rows})
        if total == 0:
            service = self.review_app.service
            explain_no_match(self.table, service, flt, "proposals", NO_MATCH, lambda: self.filter)
        self._summary(total)

    def _summary(self, total: int) -> None:
        what = "decided proposal" + ("s" if total != 1 else "")
        scope = " matching the filter" if self.filter else ""
        update_steady(
            self.query_one("#history-summary", Static),
            Text(f"{total:,} {what}{scope}, latest decision first · Enter: the full record"),
        )

    @on(VirtualTable.Highlighted, "#history-table")
    def _highlighted(self, event: VirtualTable.Highlighted) -> None:
        if event.row is not None:
            self._load_detail(event.row.proposal_id)

    def _load_detail(self, proposal_id: str) -> None:
        service = self.review_app.service

        def load(_c: Cancelled) -> Text:
            try:
                return history_detail_text(service.history_detail(proposal_id))
            except ProposalNotFoundError as e:
                return Text(safe(str(e)))

        def show(text: Text) -> None:
            self.query_one("#history-detail", Static).update(text)
            if proposal_id != self._detail_id:
                self.query_one("#history-detail-scroll", VerticalScroll).scroll_home(animate=False)
            self._detail_id = proposal_id

        self.call_service(load, show, group="history-detail")

    # --- keys -------------------------------------------------------------------------

    @on(VirtualTable.Selected, "#history-table")
    def _selected(self, event: VirtualTable.Selected) -> None:
        event.stop()
        self.action_zoom()

    def action_zoom(self) -> None:
        row: HistoryRow | None = self.table.cursor_row
        if row is not None and row.proposal_id:
            self.review_app.zoom_record(row.proposal_id)

    def action_scroll_detail(self, lines: int) -> None:
        self.query_one("#history-detail-scroll", VerticalScroll).scroll_relative(
            y=lines, animate=False
        )

    def action_focus_filter(self) -> None:
        box = self.query_one("#history-filter", Input)
        box.add_class("shown")
        focus_filter(box)

    @on(Input.Submitted, "#history-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        box = self.query_one("#history-filter", Input)
        error = self.query_one("#history-error", Static)
        try:
            flt = parse_filter(box.value, "proposals")
        except FilterSyntaxError as e:
            error.update(Text(f"{safe(str(e))}; the rows below are for the previous filter"))
            error.add_class("shown")
            self.table.add_class("stale")
            return
        error.remove_class("shown")
        self.table.remove_class("stale")
        box.set_class(bool(box.value), "shown")
        self.filter = flt
        self.table.empty_text = NO_MATCH if flt else EMPTY
        self.table.cursor = 0
        self.reload()
        self.table.focus()
