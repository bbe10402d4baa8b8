"""The log view: policy_log newest first, with combinable filters, counts and a sparkline.

Every query runs in a worker (app/workers.py); a newer filter cancels the
older one's queries at once. The rows come first, the counts after them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Select, Sparkline, Static

from tract_tui.app.hints import explain_no_match
from tract_tui.app.paging import LogSource
from tract_tui.app.redraw import update_steady
from tract_tui.app.render import log_cells, log_detail_text, safe
from tract_tui.app.table import VirtualTable, focus_filter
from tract_tui.app.workers import Cancelled, ServiceCalls
from tract_tui.exceptions import FilterSyntaxError
from tract_tui.models.review import LogEntry, LogFacets, LogStats, split_trailer
from tract_tui.present import Column, style_of
from tract_tui.review.filters import Filter, Term, parse_filter
from tract_tui.text import truncate

if TYPE_CHECKING:
    from tract_tui.app.app import ReviewApp

#: Time, outcome and the text stay; tract, policy, trigger, action give way (action first).
COLUMNS = [
    Column("Time", width=14),
    Column("Outcome", width=9),
    Column("Reason / error", min_width=20),
    Column("Tract", width=14, drop=2, max_width=34),
    Column("Policy", width=18, drop=1, max_width=26),
    Column("Trigger", width=8, drop=3),
    Column("Action", width=9, drop=4),
]

SELECTS = ("policy", "outcome", "trigger", "tract")
#: How far a live refresh looks for the row the cursor was on (rows newer than it).
RANK_CAP = 10_000
EMPTY_LOG = "The policy log is empty: agents' policies log every evaluation here."
NO_MATCH = "No log rows match this filter."


class SelectSlot(Widget):
    """A drop-down's place and look, until the drop-down itself is mounted (LogPane.shown).

    Drawn for the first time, the four drop-downs (five widgets each, and
    an option list) were a third of the first ``2``: 116 against 83 ms
    without them, in tmux at 100k rows (median of 10). A slot is one widget
    drawn as an empty drop-down (its border, prompt and arrow), so nothing
    moves when the real one takes its place right after the rows are drawn.
    """

    DEFAULT_CSS = """
    SelectSlot {
        border: tall $border-blurred; color: $foreground 50%; background: $surface;
        width: 1fr; height: 3; padding: 0 2;
    }
    """

    def __init__(self, prompt: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.prompt = prompt

    def render(self) -> Text:
        width = self.content_size.width
        if width < 3:
            return Text(truncate(self.prompt, width), no_wrap=True)
        return Text(f"{truncate(self.prompt, width - 2):<{width - 2}} ▼", no_wrap=True)


def stats_text(stats: LogStats, total: int) -> Text:
    """The time range first (it must never be pushed out), then the count per outcome."""
    out = Text()
    if stats.start and stats.end:
        out.append(f"{stats.start:%Y-%m-%d %H:%M} → {stats.end:%Y-%m-%d %H:%M}  ", style="dim")
    out.append(f"{total:,} row{'' if total == 1 else 's'}", style="bold")
    for outcome, n in stats.by_outcome.items():
        out.append("  ·  ")
        out.append(safe(outcome), style=style_of(outcome))
        out.append(f" {n:,}")
    return out


class LogPane(ServiceCalls, Vertical):
    """policy_log with filters; every query runs in a cancellable worker."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "focus_filter",
            "Filter",
            id="filter",
            tooltip="Edit the log filter",
            priority=True,
        ),
        Binding("escape", "focus_table", "Back to the table", show=False),
        # Enter is the views' own binding (the help names it), acted on in typing order.
        Binding("enter", "zoom_row", "", show=False),
        Binding(
            "p",
            "proposal",
            "Proposal",
            id="log-proposal",
            tooltip="The proposal this row is about: its decisions and execution",
        ),
    ]

    DEFAULT_CSS = """
    LogPane #log-filters { height: 3; }
    LogPane #log-filters Select, LogPane #log-filters SelectSlot { width: 1fr; min-width: 12; }
    LogPane #log-filters SelectCurrent Static#label { text-wrap: nowrap; text-overflow: ellipsis; }
    LogPane #log-filter { width: 2fr; min-width: 20; }
    LogPane #log-stats { height: auto; max-height: 3; padding: 0 1; }
    LogPane #log-spark { height: 2; margin: 0 1; }
    LogPane #log-error { height: auto; color: $text-error; padding: 0 1; display: none; }
    LogPane #log-error.shown { display: block; }
    LogPane #log-table.stale { opacity: 60%; }
    LogPane.short #log-spark { display: none; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.filter = Filter()
        self._debounce: Timer | None = None
        self.facets_loaded = False
        self._facets: LogFacets | None = None
        #: The drop-downs replace their slots after the view's first frame (SelectSlot).
        self._selects_asked = False
        self._selects_mounted = False
        #: Read while hidden (prepare): the stats, count and search catch-up wait for shown().
        self._deferred: tuple[Filter, int, bool] | None = None
        #: prepare() or shown(), asked for before the widgets were composed: run on mount.
        self._ready = False
        self._asked: Callable[[], None] | None = None
        # the search cache's catch-up: one worker at a time, run again if asked meanwhile
        self._index_lock = threading.Lock()
        self._indexing = False
        self._index_again = False

    @property
    def review_app(self) -> ReviewApp:
        from tract_tui.app.app import ReviewApp

        assert isinstance(self.app, ReviewApp)
        return self.app

    def compose(self) -> ComposeResult:
        with Horizontal(id="log-filters"):
            for key in SELECTS:
                yield SelectSlot(key, id=f"slot-{key}")
            yield Input(
                placeholder="/ filter: since:2d until:… words -word policy:…", id="log-filter"
            )
        yield Static(Text(""), id="log-error")
        yield Static(Text("…"), id="log-stats")
        yield Sparkline([], id="log-spark")
        yield VirtualTable(COLUMNS, log_cells, empty_text=EMPTY_LOG, id="log-table")

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#log-table", VirtualTable)

    def on_mount(self) -> None:
        try:
            if self.app.is_headless:
                self.query_one("#log-filter", Input).cursor_blink = False
        except NoMatches:  # mounted as the app closed (the prebuild): its children are gone
            return
        self._ready = True
        asked, self._asked = self._asked, None
        if asked is not None:
            asked()

    def on_resize(self) -> None:
        self.set_class(self.size.height < 16, "short")

    # --- filter ---------------------------------------------------------------------

    def current_filter(self) -> Filter:
        """The selects' terms plus what was typed (raises FilterSyntaxError)."""
        typed = parse_filter(self.query_one("#log-filter", Input).value, "log")
        terms: list[Term] = []
        for select in self.query(Select):  # none until mounted (mount_selects)
            key = (select.id or "").removeprefix("f-")
            if key in SELECTS and isinstance(select.value, str):
                terms.append(Term(key, select.value))
        return Filter((*terms, *typed.terms))

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.apply_filter()

    @on(Input.Changed, "#log-filter")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.25, self.apply_filter)

    @on(Input.Submitted, "#log-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._debounce is not None:  # Enter applies now: no second reload after the pause
            self._debounce.stop()
            self._debounce = None
        self.apply_filter()
        self.table.focus()

    def apply_filter(self) -> None:
        """Apply the filter; a bad one is named and the rows on screen are marked stale."""
        error = self.query_one("#log-error", Static)
        try:
            flt = self.current_filter()
        except FilterSyntaxError as e:
            error.update(Text(f"{safe(str(e))}; the rows below are for the previous filter"))
            error.add_class("shown")
            self.table.add_class("stale")
            return
        error.remove_class("shown")
        self.table.remove_class("stale")
        self.filter = flt
        self.table.empty_text = NO_MATCH if flt else EMPTY_LOG
        self.reload(keep_position=False)

    def prepare(self) -> None:
        """Read the drop-downs' values and the first rows while hidden (the console's idle time).

        Shown later, the view then draws once with its rows, instead of
        laying out again for each answer. The stats, the exact count and the
        search cache's catch-up (full passes on a large log) wait for
        :meth:`shown`: nobody may ever look at them.
        """
        if not self._ready:
            self._asked = self._asked or self.prepare
        elif not self.facets_loaded:
            self.load_facets()
            self.reload(keep_position=False)

    def shown(self) -> None:
        """On screen: the first time, load the drop-downs and the rows; take the focus."""
        if not self._ready:
            self._asked = self.shown
            return
        self.prepare()
        if self._deferred is not None:
            # after the frame that shows the view, as _show_rows does: started now, the
            # stats, the exact count and the search catch-up (full passes over the log)
            # took the CPU from that frame, and the first ``2`` grew with the log's size
            deferred, self._deferred = self._deferred, None
            self.call_after_refresh(self._after_rows, *deferred)
        self.screen.set_focus(self.table)  # at once: keys typed right after ``2`` are its
        if not self._selects_asked:
            self.call_after_refresh(self.mount_selects)

    async def mount_selects(self) -> None:
        """The drop-downs in place of their slots, filled with the values read so far."""
        if self._selects_asked:
            return
        self._selects_asked = True
        row = self.query_one("#log-filters", Horizontal)
        slots = list(row.query(SelectSlot))
        selects = [Select[str]([], prompt=key, id=f"f-{key}", allow_blank=True) for key in SELECTS]
        with self.app.batch_update():
            await row.mount_all(selects, before=slots[0] if slots else 0)
            await row.remove_children(slots)
        # only now: values that arrive while they are being mounted wait for this
        self._selects_mounted = True
        if self._facets is not None:
            self._fill_selects(self._facets)

    def refresh_data(self) -> None:
        """The file changed: new drop-down values, the rows on screen reread."""
        if self.facets_loaded:
            self.load_facets()
            self.reload()

    def action_proposal(self) -> None:
        """The highlighted row's proposal, with its whole record (rows tract-tui logged name it)."""
        row: LogEntry | None = self.table.cursor_row
        pid = split_trailer(row.reason)[1] if row is not None else None
        if pid is None:
            self.notify("This row names no proposal: tract-tui's own rows do, the tract "
                        "library's rows do not.", markup=False, timeout=5)  # fmt: skip
            return
        self.review_app.zoom_record(pid)

    def action_focus_filter(self) -> None:
        focus_filter(self.query_one("#log-filter", Input))

    def action_focus_table(self) -> None:
        self.table.focus()

    # --- loading --------------------------------------------------------------------

    def load_facets(self) -> None:
        """The values present in the log, offered by the drop-downs (learned anew each refresh)."""
        self.facets_loaded = True
        service = self.review_app.service
        self.call_service(lambda _c: service.log_facets(), self._apply_facets, group="log-facets")

    def _apply_facets(self, facets: LogFacets) -> None:
        if facets == self._facets:
            return
        self._facets = facets
        if self._selects_mounted:
            self._fill_selects(facets)

    def _fill_selects(self, facets: LogFacets) -> None:
        values = {
            "policy": facets.policies,
            "outcome": facets.outcomes,
            "trigger": facets.triggers,
            "tract": facets.tracts,
        }
        for key in SELECTS:
            select = self.query_one(f"#f-{key}", Select)
            current = select.value
            with select.prevent(Select.Changed):
                options = [
                    (Text(truncate(safe(v), 40), no_wrap=True, overflow="ellipsis"), v)
                    for v in values[key]
                ]
                select.set_options(options)
                if isinstance(current, str) and current in values[key]:
                    select.value = current

    def reload(self, *, keep_position: bool = True) -> None:
        """Refetch what is on screen: the rows first, then the stats and the exact count.

        With ``keep_position`` the cursor stays on the row it was on, however
        many rows arrived above it.
        """
        self.workers.cancel_group(self, "log-stats")  # their queries stop now
        self.workers.cancel_group(self, "log-count")
        keep = self.table.cursor_row if keep_position else None
        fallback = self.table.cursor if keep_position else 0
        flt, size = self.filter, self.table.cache.page_size
        service = self.review_app.service

        def load(cancelled: Cancelled) -> tuple[int, int, list[LogEntry], bool]:
            index = fallback
            if keep is not None:
                index = service.log_rank(
                    keep.key, flt, cap=fallback + RANK_CAP, cancelled=cancelled
                )
            page = index // size
            rows = service.log_at(page * size, size, flt, cancelled=cancelled)
            # a short page ends the listing: the total is known without counting
            exact = len(rows) < size and (page == 0 or bool(rows))
            total = page * size + len(rows) if exact else page * size + size
            return total, index, rows, exact

        started = self.table.moves if keep_position else None
        self.call_service(load, lambda r: self._show_rows(flt, started, *r), group="log-rows")

    def _show_rows(
        self, flt: Filter, started: int | None, total: int, index: int, rows: list[Any], exact: bool
    ) -> None:
        """Show a reload's rows; ``started``: the table's move count when it kept the position."""
        page = index // self.table.cache.page_size
        if started is not None:  # a key that moved the cursor meanwhile is not undone
            landed = self.table.landing(started, index, {page: rows}, attrgetter("id"))
            if landed is None:
                self.reload()
                return
            index = landed
        self.table.source = LogSource(self.review_app.service, flt)
        self.table.set_total(total, keep_cursor=index, pages={page: rows})
        if total == 0 and exact:
            service = self.review_app.service
            explain_no_match(self.table, service, flt, "log", NO_MATCH, lambda: self.filter)
        # The stats (full passes for a text filter) and the count start once the rows
        # are drawn: started with them, they took the CPU from that drawing.
        after = (flt, self.table.cache.generation, exact)
        if self.review_app.current_tab == "log":
            self.call_after_refresh(self._after_rows, *after)
        else:
            self._deferred = after

    def _after_rows(self, flt: Filter, generation: int, exact: bool) -> None:
        self._deferred = None
        if generation != self.table.cache.generation:
            return  # another filter since: its own rows will start its own counts
        service = self.review_app.service
        self.call_service(
            lambda c: service.log_stats(flt, buckets=60, cancelled=c),
            self._apply_stats,
            group="log-stats",
        )
        if not exact:
            self.call_service(
                lambda c: service.count_log(flt, cancelled=c),
                lambda total: self._apply_count(generation, total),
                group="log-count",
            )
        self.update_search_index()

    def _apply_count(self, generation: int, total: int) -> None:
        if generation == self.table.cache.generation:
            self.table.correct_total(total)

    def _apply_stats(self, stats: LogStats) -> None:
        update_steady(self.query_one("#log-stats", Static), stats_text(stats, stats.total))
        self.query_one("#log-spark", Sparkline).data = [float(b) for b in stats.buckets]

    @on(VirtualTable.Selected, "#log-table")
    def _selected(self, event: VirtualTable.Selected) -> None:
        """A double click on a row: as Enter."""
        self.zoom(event.row)

    def action_zoom_row(self) -> None:
        if self.table.cursor_row is not None:
            self.zoom(self.table.cursor_row)

    def zoom(self, row: LogEntry) -> None:
        """The row in full (an error row leads with its error)."""
        from tract_tui.app.modals import ZoomScreen

        title = f"log row {row.id}: {safe(row.outcome)} · {safe(row.policy_name)}"
        self.app.push_screen(ZoomScreen(title, log_detail_text(row)))

    # --- the search cache ---------------------------------------------------------------

    def update_search_index(self) -> None:
        """Catch the log's search cache up in a thread (the first time: seconds at 1M rows).

        One catch-up at a time: asked while one runs, it runs once more when
        that one ends (a live refresh every poll would otherwise cancel and
        restart it before it finishes a batch).
        """
        with self._index_lock:
            if self._indexing:
                self._index_again = True
                return
            self._indexing = True
            self._index_again = False
        service = self.review_app.service

        def catch_up(cancelled: Cancelled) -> None:
            while True:
                if not cancelled():
                    service.update_search_index(cancelled=cancelled)
                with self._index_lock:
                    again = self._index_again and not cancelled()
                    self._index_again = False
                    if not again:
                        return

        def done() -> None:
            with self._index_lock:
                self._indexing = False

        self.call_service(catch_up, group="log-search-index", always=done)
