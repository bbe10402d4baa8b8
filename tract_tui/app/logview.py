"""The log view: policy_log newest first, with combinable filters, counts and a sparkline."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input, Select, Sparkline, Static
from textual.worker import get_current_worker

from tract_tui.app.paging import PagePlan
from tract_tui.app.render import OUTCOME_STYLES, log_cells, safe
from tract_tui.app.table import Column, VirtualTable
from tract_tui.exceptions import FilterSyntaxError, QueryCancelledError
from tract_tui.models.review import LogEntry, LogFacets, LogStats
from tract_tui.review.filters import Filter, Term, parse_filter

if TYPE_CHECKING:
    from tract_tui.app.app import ReviewApp

COLUMNS = [
    Column("Time", 14),
    Column("Tract", 12),
    Column("Policy", 16),
    Column("Trigger", 7),
    Column("Action", 8),
    Column("Outcome", 8),
    Column("Reason / error", 0, 12),
]

SELECTS = (("policy", "policy"), ("outcome", "outcome"), ("trigger", "trigger"), ("tract", "tract"))


def stats_text(stats: LogStats, total: int) -> Text:
    out = Text()
    out.append(f"{total:,} row{'' if total == 1 else 's'}", style="bold")
    for outcome, n in stats.by_outcome.items():
        out.append("  ·  ")
        out.append(safe(outcome), style=OUTCOME_STYLES.get(outcome, ""))
        out.append(f" {n:,}")
    if stats.start and stats.end:
        out.append(f"\n{stats.start:%Y-%m-%d %H:%M} → {stats.end:%Y-%m-%d %H:%M}", style="dim")
    return out


class LogPane(Vertical):
    """policy_log with filters; every query runs in a cancellable worker."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", id="filter", tooltip="Edit the log filter"),
        Binding("escape", "focus_table", "Table", show=False),
    ]

    DEFAULT_CSS = """
    LogPane #log-filters { height: 3; }
    LogPane #log-filters Select { width: 1fr; }
    LogPane #log-filter { width: 2fr; }
    LogPane #log-stats { height: 2; padding: 0 1; }
    LogPane #log-spark { height: 2; margin: 0 1; }
    LogPane #log-error { height: auto; color: $error; padding: 0 1; display: none; }
    LogPane #log-error.shown { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.filter = Filter()
        self._debounce: Timer | None = None
        self.facets_loaded = False
        # the search index's catch-up: one worker at a time, run again if asked meanwhile
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
            for key, prompt in SELECTS:
                yield Select[str]([], prompt=prompt, id=f"f-{key}", allow_blank=True)
            yield Input(
                placeholder="/ filter: since:2d until:… words -word policy:…", id="log-filter"
            )
        yield Static(Text(""), id="log-error")
        yield Static(Text("…"), id="log-stats")
        yield Sparkline([], id="log-spark")
        yield VirtualTable(
            COLUMNS,
            lambda row, _w: log_cells(row),
            empty_text="No log rows match this filter.",
            id="log-table",
        )

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#log-table", VirtualTable)

    def on_mount(self) -> None:
        if self.app.is_headless:
            self.query_one("#log-filter", Input).cursor_blink = False

    # --- filter ---------------------------------------------------------------------

    def current_filter(self) -> Filter:
        """The selects' terms plus what was typed (raises FilterSyntaxError)."""
        typed = parse_filter(self.query_one("#log-filter", Input).value, "log")
        terms: list[Term] = []
        for key, _ in SELECTS:
            value = self.query_one(f"#f-{key}", Select).value
            if isinstance(value, str):
                terms.append(Term(key, value))
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
        error = self.query_one("#log-error", Static)
        try:
            flt = self.current_filter()
        except FilterSyntaxError as e:
            error.update(Text(safe(str(e))))
            error.add_class("shown")
            return
        error.remove_class("shown")
        self.filter = flt
        self.reload(keep_position=False)

    def action_focus_filter(self) -> None:
        self.query_one("#log-filter", Input).focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    # --- loading --------------------------------------------------------------------

    def load_facets(self) -> None:
        if not self.facets_loaded:
            self.facets_loaded = True
            self._load_facets()

    @work(thread=True, group="log-facets")
    def _load_facets(self) -> None:
        facets = self.review_app.service.log_facets()
        self.app.call_from_thread(self._apply_facets, facets)

    def _apply_facets(self, facets: LogFacets) -> None:
        values = {
            "policy": facets.policies,
            "outcome": facets.outcomes,
            "trigger": facets.triggers,
            "tract": facets.tracts,
        }
        for key, _ in SELECTS:
            select = self.query_one(f"#f-{key}", Select)
            current = select.value
            with select.prevent(Select.Changed):
                select.set_options((Text(safe(v)), v) for v in values[key])
                if isinstance(current, str) and current in values[key]:
                    select.value = current

    def reload(self, *, keep_position: bool = True) -> None:
        """Refetch what is on screen: the rows first, then the stats and the exact count."""
        # what is still counting for the previous filter stops now (progress handler)
        self.workers.cancel_group(self, "log-stats")
        self.workers.cancel_group(self, "log-count")
        keep = self.table.cursor_row if keep_position else None
        self._reload_rows(self.filter, keep, self.table.cursor if keep_position else 0)

    @work(thread=True, exclusive=True, group="log-rows")
    def _reload_rows(self, flt: Filter, keep: LogEntry | None, fallback: int) -> None:
        """The cursor's page, with a total that is exact when the page is short.

        Otherwise the total is provisional (one page more than shown) until
        :meth:`_count_rows` has counted: a text filter's count reads every row,
        its first page does not. A newer reload cancels this worker, and the
        progress handler stops its query at once.
        """
        worker = get_current_worker()
        service = self.review_app.service
        size = self.table.cache.page_size
        try:
            index = fallback
            if keep is not None and fallback > 0:
                newer = service.log_rank(
                    keep.key,
                    flt,
                    cap=fallback + 1,
                    cancelled=lambda: worker.is_cancelled,
                )
                index = newer if newer <= fallback else fallback
            page = index // size
            rows = service.log_at(page * size, size, flt, cancelled=lambda: worker.is_cancelled)
        except QueryCancelledError:
            return
        # a short page ends the listing: the total is known without counting
        exact = len(rows) < size and (page == 0 or bool(rows))
        total = page * size + len(rows) if exact else page * size + size
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show_rows, flt, total, index, {page: rows}, exact)

    def _show_rows(
        self, flt: Filter, total: int, index: int, pages: dict[int, list[Any]], exact: bool
    ) -> None:
        self.table.set_total(total, keep_cursor=index, pages=pages)
        # The stats (full passes for a text filter) and the count start once the rows
        # are drawn: started with them, they took the CPU from that drawing.
        self.call_after_refresh(self._after_rows, flt, self.table.cache.generation, exact)

    def _after_rows(self, flt: Filter, generation: int, exact: bool) -> None:
        if generation != self.table.cache.generation:
            return  # another filter since: its own rows will start its own counts
        self._reload_stats(flt)
        if not exact:
            self._count_rows(flt, generation)
        # after the rows (first build, live refresh, new filter): the catch-up costs a
        # millisecond when nothing is new, and never delays the rows it follows
        self.update_search_index()

    # --- the search index ---------------------------------------------------------------

    def update_search_index(self) -> None:
        """Catch the log's search index up in a thread (the first time: seconds at 1M rows).

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
        self._update_search_index()

    @work(thread=True, exclusive=True, group="log-search-index", exit_on_error=False)
    def _update_search_index(self) -> None:
        """Never fails the console: the service falls back to scanning (review/search.py)."""
        worker = get_current_worker()
        service = self.review_app.service
        while True:
            failed = True
            try:
                if not worker.is_cancelled:
                    service.update_search_index(cancelled=lambda: worker.is_cancelled)
                failed = False
            finally:
                with self._index_lock:
                    again = self._index_again and not worker.is_cancelled and not failed
                    self._indexing = again
                    self._index_again = False
            if not again:
                return

    @work(thread=True, exclusive=True, group="log-count")
    def _count_rows(self, flt: Filter, generation: int) -> None:
        worker = get_current_worker()
        try:
            total = self.review_app.service.count_log(flt, cancelled=lambda: worker.is_cancelled)
        except QueryCancelledError:
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._apply_count, generation, total)

    def _apply_count(self, generation: int, total: int) -> None:
        if generation == self.table.cache.generation:
            self.table.correct_total(total)

    @work(thread=True, exclusive=True, group="log-stats")
    def _reload_stats(self, flt: Filter) -> None:
        worker = get_current_worker()
        try:
            stats = self.review_app.service.log_stats(
                flt, buckets=60, cancelled=lambda: worker.is_cancelled
            )
        except QueryCancelledError:
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._apply_stats, stats)

    def _apply_stats(self, stats: LogStats) -> None:
        self.query_one("#log-stats", Static).update(stats_text(stats, stats.total))
        self.query_one("#log-spark", Sparkline).data = [float(b) for b in stats.buckets]

    @on(VirtualTable.NeedPages, "#log-table")
    def _need_pages(self, event: VirtualTable.NeedPages) -> None:
        cache = self.table.cache
        for page in event.pages:
            self._fetch_page(self.filter, cache.generation, cache.plan(page))

    @work(thread=True, group="log-pages")
    def _fetch_page(self, flt: Filter, generation: int, plan: PagePlan) -> None:
        service = self.review_app.service
        cache = self.table.cache

        def stale() -> bool:  # the filter changed meanwhile: nobody wants this page
            return cache.generation != generation

        rows: list[Any]
        try:
            if plan.mode == "after":
                assert isinstance(plan.anchor, LogEntry)
                key = plan.anchor.key
                rows = service.list_log(flt, after=key, limit=plan.limit, cancelled=stale)
            elif plan.mode == "before":
                assert isinstance(plan.anchor, LogEntry)
                key = plan.anchor.key
                rows = service.list_log(flt, before=key, limit=plan.limit, cancelled=stale)
            elif plan.mode == "end":
                rows = service.list_log(flt, from_end=True, limit=plan.limit, cancelled=stale)
            else:
                rows = service.log_at(plan.offset, plan.limit, flt, cancelled=stale)
        except QueryCancelledError:
            self.app.call_from_thread(cache.failed, plan.page)
            return
        except Exception:
            self.app.call_from_thread(self.table.cache.failed, plan.page)
            raise
        self.app.call_from_thread(self.table.page_loaded, generation, plan.page, rows)
