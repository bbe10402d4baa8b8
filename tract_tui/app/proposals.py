"""The proposals view: what agents want done, what the highlighted one would do, decisions.

The table lists proposals (pending, or what a ``status:`` filter asks
for); the detail beside it (below it on a narrow terminal) shows the
highlighted one in full. The decision keys and their confirmations live in
:mod:`tract_tui.app.decide`; this module loads, lists and shows.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import Input, Static

from tract_tui.app.decide import DecisionKeys
from tract_tui.app.hints import explain_no_match
from tract_tui.app.paging import Listing, ProposalSource, read_listing
from tract_tui.app.redraw import update_steady
from tract_tui.app.render import detail_text, proposal_cells, safe
from tract_tui.app.table import VirtualTable, focus_filter
from tract_tui.app.workers import Cancelled
from tract_tui.exceptions import FilterSyntaxError, ProposalNotFoundError
from tract_tui.models.review import Order, PendingCount, Proposal
from tract_tui.present import Column
from tract_tui.review.filters import Filter, parse_filter
from tract_tui.review.service import HOOKS_FROM, NO_PROPOSALS_FROM
from tract_tui.text import truncate

if TYPE_CHECKING:
    from tract_tui.app.app import ReviewApp

#: Age, action and the reason matter most and stay; the id, then the policy, then the
#: tract give way on a narrow screen (the detail shows them all).
COLUMNS = [
    Column("Age", width=6),
    Column("Action", width=9),
    Column("Reason", min_width=28),
    Column("Tract", width=14, drop=1, max_width=34),
    Column("Policy", width=18, drop=2, max_width=26),
    Column("Id", width=8, drop=3),
]
#: The column each sort key leads with.
SORT_TITLES = {"age": "Age", "action": "Action", "tract": "Tract", "policy": "Policy"}
#: Below this many columns the detail goes under the table instead of beside it.
STACK_BELOW = 110
NO_MATCH = "No proposals match this filter."


def all_pending(counts: list[PendingCount]) -> int:
    """Every pending proposal is in one of the per-(tract, policy) counts."""
    return sum(c.count for c in counts)


def counts_text(
    counts: list[PendingCount], total: int, max_lines: int = 3, width: int = 80
) -> Text:
    """'N pending in T tracts', then one line per tract with its policies, most first.

    Tract ids are cut with an ellipsis, never silently; "+N more tracts" only
    when some did not fit in ``max_lines``.
    """
    out = Text()
    out.append(f"{total:,} pending", style="bold")
    if not counts:
        return out
    per_tract: Counter[str] = Counter()
    policies: dict[str, list[PendingCount]] = {}
    for c in counts:
        per_tract[c.tract_id] += c.count
        policies.setdefault(c.tract_id, []).append(c)
    out.append(f" in {len(per_tract)} tract{'s' if len(per_tract) != 1 else ''}")
    shown = per_tract.most_common(max_lines if len(per_tract) <= max_lines else max_lines - 1)
    if not shown:  # one line only (a short terminal): the total says it all
        return out
    name_width = min(max(len(safe(t)) for t, _ in shown), 32)
    for tract, n in shown:
        out.append("\n")
        out.append(f"{truncate(safe(tract), name_width):<{name_width}} {n:>5}  ", style="bold")
        parts = [f"{safe(c.policy_name)} {c.count}" for c in policies[tract]]
        out.append(truncate(" · ".join(parts), max(width - name_width - 10, 10)))
    hidden = len(per_tract) - len(shown)
    if hidden:
        out.append(f"\n+{hidden} more tract{'s' if hidden != 1 else ''}", style="dim")
    return out


class ProposalsPane(DecisionKeys):
    """Table of proposals + detail pane; owns the decision keys (app/decide.py)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *DecisionKeys.DECISION_BINDINGS,
        Binding("enter,plus", "zoom", "Zoom", id="zoom", tooltip="The proposal in full"),
        Binding(
            "slash",
            "focus_filter",
            "Filter",
            id="filter",
            tooltip="Filter the proposals",
            priority=True,
        ),
        Binding("s", "sort", "Sort", id="sort", show=False, tooltip="Sort by the next column"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        Binding("J", "scroll_detail(4)", "Detail down", show=False),
        Binding("K", "scroll_detail(-4)", "Detail up", show=False),
        Binding(
            "c",
            "context",
            "Context",
            id="context",
            show=False,
            tooltip="The highlighted proposal's tract in the context view",
        ),
    ]

    DEFAULT_CSS = """
    ProposalsPane #counts { height: auto; max-height: 6; padding: 0 1; color: $text-muted; }
    ProposalsPane #proposals-filter { display: none; height: 1; border: none; padding: 0 1; }
    ProposalsPane #proposals-filter.shown { display: block; }
    ProposalsPane #proposals-error { height: auto; color: $text-error; padding: 0 1;
                                     display: none; }
    ProposalsPane #proposals-error.shown { display: block; }
    ProposalsPane #main { height: 1fr; }
    ProposalsPane #proposals-table { width: 1fr; }
    ProposalsPane #proposals-table.stale { opacity: 60%; }
    ProposalsPane #detail-scroll { width: 40%; min-width: 44; max-width: 100;
                                   border-left: tall $panel; padding: 0 1; }
    ProposalsPane.stacked #main { layout: vertical; }
    ProposalsPane.stacked #detail-scroll { width: 1fr; min-width: 0; max-width: 100%;
                                           height: 45%; border-left: none;
                                           border-top: tall $panel; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.filter = Filter()
        self.order = Order()
        self._first_frame = False  # True while preloaded rows wait for their first frame
        self._detail_id: str | None = None
        #: The counts line's figures; None until the first are read ("Opening…" stays).
        self._counts: tuple[list[PendingCount], int] | None = None

    @property
    def review_app(self) -> ReviewApp:
        from tract_tui.app.app import ReviewApp

        assert isinstance(self.app, ReviewApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Static(Text("Opening…"), id="counts")
        yield Input(
            placeholder="filter: policy:… tract:… action:… status:… since:2d words",
            id="proposals-filter",
        )
        yield Static(Text(""), id="proposals-error")
        with Horizontal(id="main"):
            yield VirtualTable(
                COLUMNS,
                lambda row: proposal_cells(
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

    def on_mount(self) -> None:
        if self.app.is_headless:
            self.query_one("#proposals-filter", Input).cursor_blink = False
        # The layout before the first frame already has it (the pane is as wide as the
        # terminal): set on the first Resize, it came after that layout, and the whole
        # screen was laid out and drawn a second time for the first frame.
        self.set_class(self.app.size.width < STACK_BELOW, "stacked")

    def on_resize(self, event: events.Resize) -> None:
        # The detail's width (two fifths, 44 to 100 cells) is the CSS's: no layout here.
        self.set_class(event.size.width < STACK_BELOW, "stacked")
        self.refresh_counts()

    # --- loading ----------------------------------------------------------------

    def source(self) -> ProposalSource:
        return ProposalSource(self.review_app.service, self.filter, self.order)

    def reload(self) -> None:
        """Recount and refetch what is on screen; the cursor stays on its proposal.

        If that proposal left the listing, the cursor goes to the next one after
        it; if someone else decided it, a notice says so.
        """
        current = self.table.cursor_row
        flt, order, fallback = self.filter, self.order, self.table.cursor
        service = self.review_app.service
        size, started = self.table.cache.page_size, self.table.moves

        def load(_cancelled: Cancelled) -> tuple[Listing, list[PendingCount], str | None]:
            listing = read_listing(service, current, fallback, size, flt, order)
            counts = service.pending_counts()
            return listing, counts, self._decided_elsewhere(current)

        self.call_service(
            load,
            lambda result: self._apply_reload(result, current, started),
            group="proposals-reload",
        )

    def _decided_elsewhere(self, current: Proposal | None) -> str | None:
        """The highlighted proposal's new status when someone else decided it, else None."""
        if current is None or not current.proposal_id or current.proposal_id in self.own:
            return None
        try:
            now = self.review_app.service.get_proposal(current.proposal_id)
        except ProposalNotFoundError:
            return "deleted"
        return now.status if now.status != current.status else None

    def show_listing(self, listing: Listing) -> None:
        """Show a listing read before the app started (ReviewApp.preload); counts follow.

        The counts and the detail start after the first frame is drawn: their
        workers would otherwise take the GIL from the rendering of it.
        """
        self._first_frame = True
        self.table.source = self.source()
        self._show(listing)
        if listing.provisional:
            update_steady(self.query_one("#counts", Static), Text("Counting…", style="dim"))
        else:  # the total now, the tracts and policies once counted
            self._apply_counts([], listing.total)
        self.call_after_refresh(self._after_first_frame, listing)

    def _after_first_frame(self, listing: Listing) -> None:
        self._first_frame = False
        service = self.review_app.service
        if listing.provisional:
            self._read_exact_page()
        total = None if listing.provisional else listing.total
        self.call_service(
            lambda _c: service.pending_counts(),
            lambda counts: self._apply_counts(
                counts, all_pending(counts) if total is None else total
            ),
            group="proposals-counts",
        )
        row = self.table.cursor_row
        if row is not None:
            self._load_detail(row.proposal_id)

    def _read_exact_page(self) -> None:
        """The exact oldest-first page, in place of the rows inserted first (Listing.provisional).

        The cursor stays on the proposal it is on. A reload started meanwhile
        (a decision, a filter, a change) replaces this one and is exact too;
        either way the indexes are built once it is over (exact_order_read).
        """
        fallback = self.table.cursor
        # on the first row, the first row of the exact page: no rank (a full scan here)
        current = self.table.cursor_row if fallback else None
        flt, order, size = self.filter, self.order, self.table.cache.page_size
        service, started = self.review_app.service, self.table.moves

        def shown(listing: Listing) -> None:
            if (landed := self._landing(listing, started)) is None:
                return
            self.table.source = self.source()
            self._show(landed)

        self.call_service(
            lambda _c: read_listing(service, current, fallback, size, flt, order),
            shown,
            group="proposals-reload",
            always=self.review_app.exact_order_read,
        )

    def _landing(self, listing: Listing, started: int) -> Listing | None:
        """``listing`` with the cursor where the person moved it while it was read.

        None when that row is not on the page read: a new reload, from the
        row the cursor is on now, replaces this one.
        """
        index = self.table.landing(started, listing.index, listing.pages, attrgetter("proposal_id"))
        if index is None:
            self.reload()
            return None
        return listing if index == listing.index else listing.replace(index=index)

    def _apply_reload(
        self,
        result: tuple[Listing, list[PendingCount], str | None],
        current: Proposal | None,
        started: int,
    ) -> None:
        """Show a reload's listing and counts; ``current`` was under the cursor when it began."""
        listing, counts, elsewhere = result
        if elsewhere is not None and current is not None:
            self.app.notify(
                f"{safe(current.proposal_id)[:8]} was decided by another reviewer or agent: "
                f"{safe(elsewhere)}",
                severity="warning",
                markup=False,
                timeout=6,
            )
        if (landed := self._landing(listing, started)) is None:
            return
        self.table.source = self.source()
        self._show(landed)
        if landed.total == 0 and self.filter:
            flt, service = self.filter, self.review_app.service
            explain_no_match(self.table, service, flt, "proposals", NO_MATCH, lambda: self.filter)
        # filtered, the line still counts every pending proposal
        self._apply_counts(counts, landed.total if not self.filter else all_pending(counts))

    def _show(self, listing: Listing) -> None:
        if listing.total == 0 and not self.filter:
            self.marked.clear()
        self.table.set_total(listing.total, keep_cursor=listing.index, pages=listing.pages)
        if listing.total == 0:
            self._detail_id = None
            self.query_one("#detail", Static).update(Text(""))
        self.refresh_bindings()

    def _apply_counts(self, counts: list[PendingCount], total: int) -> None:
        self._counts = (counts, total)
        lines = 1 if self.size.height < 26 else 3 if self.size.height < 40 else 5
        text = counts_text(counts, total, lines, max(self.size.width, 40))
        if self.marked:
            text.append(f"   {len(self.marked)} marked", style="bold")
            text.append(" (Esc clears)", style="dim")
        if self.filter:
            text.append(f"\nfilter: {safe(self.filter.to_text())}", style="italic")
        if self.order.key != "age" or self.order.descending:
            way = "▼" if self.order.descending else "▲"
            text.append(f"   sorted by {self.order.key} {way}", style="dim")
        update_steady(self.query_one("#counts", Static), text)

    def refresh_counts(self) -> None:
        if self._counts is not None:
            self._apply_counts(*self._counts)

    @on(VirtualTable.Highlighted, "#proposals-table")
    def _highlighted(self, event: VirtualTable.Highlighted) -> None:
        self.bindings_may_have_changed()
        if event.row is not None:
            if not self._first_frame:  # else _after_first_frame loads it
                self._load_detail(event.row.proposal_id)
            self.run_queued_key()

    def _load_detail(self, proposal_id: str) -> None:
        """Read the proposal, predict its effect and lay it out, all in the worker.

        The effect compiles the agent's whole branch, and its diff can be
        thousands of messages: none of that may hold up a keypress.
        """
        service, now = self.review_app.service, self.review_app.now()
        scroll = self.query_one("#detail-scroll", VerticalScroll)
        # the content region still counts the vertical scrollbar's cells: leave them out
        gutter = scroll.styles.scrollbar_size_vertical or 0
        width = max(scroll.scrollable_content_region.width - gutter - 1, 30)

        def load(_cancelled: Cancelled) -> Text:
            try:
                return detail_text(service.get_detail(proposal_id), now, width=width)
            except ProposalNotFoundError as e:
                return Text(safe(str(e)))

        self.call_service(
            load, lambda text: self._show_detail(proposal_id, text), group="proposals-detail"
        )

    def _show_detail(self, proposal_id: str, text: Text) -> None:
        self.query_one("#detail", Static).update(text)
        if proposal_id != self._detail_id:  # another proposal: its detail starts at its top
            self.query_one("#detail-scroll", VerticalScroll).scroll_home(animate=False)
        self._detail_id = proposal_id

    # --- keys ---------------------------------------------------------------------

    def action_context(self) -> None:
        """The proposal's tract in the context view; an annotate's target under the cursor."""
        row = self.table.cursor_row
        if row is None:
            return
        params = row.params if isinstance(row.params, dict) else {}
        target = params.get("target_hash") if row.action_type == "annotate" else None
        self.review_app.show_context(row.tract_id, target if isinstance(target, str) else None)

    def action_scroll_detail(self, lines: int) -> None:
        self.query_one("#detail-scroll", VerticalScroll).scroll_relative(y=lines, animate=False)

    @on(VirtualTable.Selected, "#proposals-table")
    def _selected(self, event: VirtualTable.Selected) -> None:
        """A double click on a row: as Enter."""
        event.stop()
        self.action_zoom()

    def action_zoom(self) -> None:
        row = self.table.cursor_row
        if row is None or not row.proposal_id:
            return
        service, now, width = self.review_app.service, self.review_app.now(), self.app.size.width
        from tract_tui.app.modals import ZoomScreen

        def load(_cancelled: Cancelled) -> tuple[str, Text]:
            detail = service.get_detail(row.proposal_id, whole=True)
            title = f"{safe(detail.proposal.action_type)} proposal {safe(row.proposal_id)}"
            return title, detail_text(detail, now, full=True, width=width - 4)

        ZoomScreen.open_reading(self, f"proposal {safe(row.proposal_id)}", load, "proposals-zoom")

    def action_focus_filter(self) -> None:
        box = self.query_one("#proposals-filter", Input)
        box.add_class("shown")
        focus_filter(box)

    @on(Input.Submitted, "#proposals-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        box = self.query_one("#proposals-filter", Input)
        error = self.query_one("#proposals-error", Static)
        try:
            flt = parse_filter(box.value, "proposals")
        except FilterSyntaxError as e:
            error.update(Text(f"{safe(str(e))}; the list below still shows the previous filter"))
            error.add_class("shown")
            self.table.add_class("stale")
            return
        error.remove_class("shown")
        self.table.remove_class("stale")
        box.set_class(bool(box.value.strip()), "shown")
        self.filter = flt
        self.table.empty_text = NO_MATCH if flt else self._empty_text()
        self.table.focus()
        self.reload()

    def in_filter(self) -> bool:
        try:
            return self.query_one("#proposals-filter", Input).has_focus
        except NoMatches:
            return False

    def leave_filter(self) -> None:
        """Escape in the filter box: back to the table (an empty box hides)."""
        box = self.query_one("#proposals-filter", Input)
        box.set_class(bool(box.value.strip()), "shown")
        self.table.focus()

    def action_sort(self) -> None:
        self.order = self.order.next_key()
        self._sort_changed()

    def action_reverse_sort(self) -> None:
        self.order = self.order.reversed()
        self._sort_changed()

    def _sort_changed(self) -> None:
        self.table.sort_marker = (SORT_TITLES[self.order.key], self.order.descending)
        self.refresh_counts()
        self.reload()

    def _empty_text(self) -> str:
        """What an empty pending list means for this file's tract version."""
        try:
            version = self.review_app.service.version
        except AssertionError:
            return "No pending proposals."
        if version >= NO_PROPOSALS_FROM:
            return (
                f"No proposals: tract schema {version} keeps proposals in memory (hooks) "
                "and writes none to this file. Its policy log is in view 2."
            )
        if version >= HOOKS_FROM:
            return (
                f"No pending proposals. At tract schema {version} an action is executed at "
                "once unless the agent registers a 'policy' hook that leaves it pending."
            )
        return "No pending proposals. New ones appear here as agents propose them."

    def opened(self) -> None:
        """The service is open: empty-state text for this file's version."""
        self.table.empty_text = self._empty_text()

    def _binding_state(self) -> tuple[bool | None, ...]:
        try:
            return tuple(self.check_action(a, ()) for a in ("approve", "reject", "mark", "undo"))
        except NoMatches:  # not composed yet
            return ()
