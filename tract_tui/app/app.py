"""ReviewApp: a small App; the panes own their behaviour, the service owns the rules."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Header, Static

from tract_tui.app.paging import Listing, preload_first_page
from tract_tui.app.proposals import ProposalsPane
from tract_tui.app.tabbar import TabBar
from tract_tui.exceptions import TraceError
from tract_tui.review.service import ChangeWatcher, Clock, ReviewService

# The modal screens (and the Input widget they use) are imported when first shown, as
# the log view is: neither is needed for the first frame (issue 4).
if TYPE_CHECKING:
    from tract_tui.app.logview import LogPane

#: The GIL switch interval while the app runs (Python's default is 0.005 s); see on_load.
SWITCH_INTERVAL = 0.0005


class CoalescingFooter(Footer):
    """A Footer that rebuilds once per frame, however often the bindings change.

    Textual's Footer queues a full recompose (15-25 ms here) for every
    ``refresh_bindings``; focus, the tabs and the first rows asked for six in
    the first 100 ms after launch, and a decision asks for two or three.
    """

    _recompose_queued = False

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._recompose_queued:
            self._recompose_queued = True
            self.call_after_refresh(self._queued_recompose)

    async def _queued_recompose(self) -> None:
        self._recompose_queued = False  # a change from now on queues another
        await self.recompose()


class ReviewApp(App[int]):
    """Review pending proposals and read the policy log of one tract database.

    ``clock`` (naive local time, like the database) is injectable for tests;
    ``read_only`` opens without writing; ``service`` lets a caller pass an
    already opened database (the CLI opens first to report errors on stderr).
    """

    TITLE = "tract-tui"
    CSS = """
    #banner { display: none; background: $warning; color: $background; text-style: bold;
              padding: 0 1; height: 1; }
    #banner.shown { display: block; }
    #tabs { height: 1fr; }
    #tabs > Vertical { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "1",
            "show_tab('proposals')",
            "Proposals",
            id="tab-proposals",
            tooltip="Pending proposals",
        ),
        Binding("2", "show_tab('log')", "Log", id="tab-log", tooltip="The policy log"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Keys"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self,
        db_path: str | os.PathLike[str] | None = None,
        *,
        clock: Clock | None = None,
        read_only: bool = False,
        service: ReviewService | None = None,
        create: bool = False,
        poll_interval: float = 0.5,
    ) -> None:
        super().__init__()
        if db_path is None and service is None:
            raise ValueError("ReviewApp needs a db_path or a service")
        self.db_path = str(db_path) if db_path is not None else service.path  # type: ignore[union-attr]
        self.clock: Clock = clock or datetime.now
        self.read_only_requested = read_only
        self.create = create
        self.poll_interval = poll_interval
        self.service_or_none: ReviewService | None = service
        self.watcher: ChangeWatcher | None = None
        self._preloaded: Listing | None = None
        self._switch_interval: float | None = None
        #: Called once the first frame (with the preloaded rows) is drawn.
        self.first_frame_hooks: list[Callable[[], object]] = []
        self.sub_title = os.path.basename(self.db_path)

    @property
    def service(self) -> ReviewService:
        assert self.service_or_none is not None, "database not open yet"
        return self.service_or_none

    def now(self) -> datetime:
        return self.clock()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="banner")
        yield TabBar([("proposals", "Proposals"), ("log", "Log")], "proposals", id="tab-bar")
        with ContentSwitcher(id="tabs", initial="proposals"):
            with Vertical(id="proposals"):
                yield ProposalsPane(id="proposals-pane")
            # The log view is built the first time it is shown (log_pane): its selects,
            # input and sparkline would otherwise add to every launch (issue 4).
            yield Vertical(id="log")
        yield CoalescingFooter()

    def on_load(self) -> None:
        # Workers (SQLite, which releases the GIL) and Textual's output thread wait for
        # the GIL while the event loop renders: at the default 5 ms switch interval a
        # decision's four statements could each wait 5 ms, and a drawn frame sit that
        # long before it is written. 0.5 ms keeps a keypress-to-commit under 10 ms.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)

    def on_mount(self) -> None:
        if self.service_or_none is not None:
            self._opened(self.service_or_none)
        else:
            self._open()

    @work(thread=True, group="open")
    def _open(self) -> None:
        try:
            service = ReviewService.open(
                self.db_path,
                read_only=self.read_only_requested,
                create=self.create,
                clock=self.clock,
            )
        except TraceError as e:
            from tract_tui.app.modals import ErrorScreen

            self.call_from_thread(self.push_screen, ErrorScreen(str(e)))
            return
        self.call_from_thread(self._opened, service)

    def _opened(self, service: ReviewService) -> None:
        self.service_or_none = service
        if service.read_only:
            banner = self.query_one("#banner", Static)
            banner.update(Text("READ-ONLY — decisions are disabled; the file is not written."))
            banner.add_class("shown")
        pane = self.query_one(ProposalsPane)
        pane.table.focus()
        if self._preloaded is not None:  # read by preload() before the screen started
            pane.show_listing(self._preloaded)
            self._preloaded = None
        else:
            self._watch_then_load()
        self.set_interval(self.poll_interval, self._poll)
        self.refresh_bindings()
        self.call_after_refresh(self._first_frame_drawn)

    def _first_frame_drawn(self) -> None:
        hooks, self.first_frame_hooks = self.first_frame_hooks, []
        for hook in hooks:
            hook()

    def preload(self, preloaded: tuple[ChangeWatcher, Listing] | None = None) -> None:
        """Before :meth:`run`: the change baseline, then the first page of pending proposals.

        Read before the screen starts, the rows are in its very first frame. A
        worker started from on_mount would deliver them only after that first
        frame is drawn, and cost a second one (0.1-0.2 s at launch, issue 4).
        ``preloaded`` is what :func:`~tract_tui.app.paging.preload_first_page`
        already read (``run_console`` reads it while Textual is imported).
        """
        if preloaded is None:
            preloaded = preload_first_page(self.service)
        if preloaded is not None:
            self.watcher, self._preloaded = preloaded

    # --- live ---------------------------------------------------------------------

    @work(thread=True, group="open")
    def _watch_then_load(self) -> None:
        """Take the data_version baseline first, so no write after it goes unnoticed."""
        self.watcher = self.service.watcher()
        self.call_from_thread(self.query_one(ProposalsPane).reload)

    @work(thread=True, exclusive=True, group="poll")
    def _poll(self) -> None:
        if self.watcher is not None and self.watcher.changed():
            self.call_from_thread(self.refresh_views)

    def refresh_views(self) -> None:
        """Another process (or we) wrote: refresh what is on screen, keep the cursors."""
        self.query_one(ProposalsPane).reload()
        log = self.log_pane_if_built()
        if log is not None and log.facets_loaded:
            log.reload()

    # --- keys ---------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        switcher = self.query_one("#tabs", ContentSwitcher)
        if switcher.current == tab:
            return
        switcher.current = tab
        self.query_one(TabBar).active = tab
        self._tab_shown(tab)

    def on_tab_bar_activated(self, event: TabBar.Activated) -> None:
        self.action_show_tab(event.tab)

    def log_pane_if_built(self) -> LogPane | None:
        for node in self.query("#log-pane"):  # by id: no need to import the module yet
            return cast("LogPane", node)
        return None

    def _tab_shown(self, tab: str) -> None:
        if self.service_or_none is None:
            return
        if tab == "log":
            log = self.log_pane_if_built()
            if log is None:  # first time shown: build it, then show it once it is mounted
                from tract_tui.app.logview import LogPane

                log = LogPane(id="log-pane")
                self.query_one("#log", Vertical).mount(log)
                self.call_after_refresh(self._show_log, log)
            else:
                self._show_log(log)
        else:
            self.query_one(ProposalsPane).table.focus()

    def _show_log(self, log: LogPane) -> None:
        if not log.facets_loaded:
            log.load_facets()
            log.reload(keep_position=False)
        log.table.focus()

    def action_help(self) -> None:
        from tract_tui.app.modals import HelpScreen

        self.push_screen(HelpScreen())

    def on_unmount(self) -> None:
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
        if self.watcher is not None:
            self.watcher.close()
