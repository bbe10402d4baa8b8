"""ReviewApp: a small App; the views own their behaviour, the service owns the rules."""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Header, Static

from tract_tui import settings as user_settings
from tract_tui.app.footer import CoalescingFooter
from tract_tui.app.paging import Listing, preload_first_page
from tract_tui.app.proposals import ProposalsPane
from tract_tui.app.redraw import MainScreen, update_steady
from tract_tui.app.tabbar import TabBar
from tract_tui.app.views import Views
from tract_tui.app.workers import Cancelled, ServiceCalls, report_error
from tract_tui.exceptions import TraceError
from tract_tui.review.service import ChangeWatcher, Clock, ReviewService
from tract_tui.text import printable

if TYPE_CHECKING:
    from tract_tui.app.paging import FirstPage

# The log view, the modal screens and the Input widget are imported when first shown:
# none of them is needed for the first frame.

#: The GIL switch interval while the app runs (Python's default is 0.005 s); see on_load.
SWITCH_INTERVAL = 0.0005
#: Seconds after the first frame at which the log view is built, hidden (Views.prebuild_log).
PREBUILD_LOG_AFTER = 0.4
#: The status line while the rows inserted first stand in for the exact page (78 cells).
PROVISIONAL_LINE = "In insertion order until the exact order is read (first open of a large file)…"
TABS = [("proposals", "Proposals"), ("log", "Log"), ("context", "Context"), ("history", "History")]


class ReviewApp(Views, ServiceCalls, App[int]):
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
    #status { display: none; height: 1; padding: 0 1; color: $text-muted; background: $panel; }
    #status.shown { display: block; }
    #tabs { height: 1fr; }
    #tabs > Vertical { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "1",
            "show_tab('proposals')",
            "Proposals",
            id="tab-proposals",
            show=False,
            tooltip="Pending proposals",
        ),
        Binding("2", "show_tab('log')", "Log", id="tab-log", show=False, tooltip="The policy log"),
        Binding(
            "3",
            "show_tab('context')",
            "Context",
            id="tab-context",
            show=False,
            tooltip="A tract's compiled context, message by message",
        ),
        Binding(
            "4",
            "show_tab('history')",
            "History",
            id="tab-history",
            show=False,
            tooltip="Decided proposals: who decided, when, with what note",
        ),
        Binding("question_mark", "help", "Help", id="help", tooltip="Every key"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding(
            "ctrl+p", "command_palette", "Commands", show=False, tooltip="Every command, searchable"
        ),
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
        #: Opened by the app itself (no ``service`` given): closed by it on unmount.
        self._owns_service = service is None
        self.watcher: ChangeWatcher | None = None
        self._preloaded: Listing | None = None
        #: Waits for a first page run_console began reading and returns it (preload_later).
        self._late_preload: Callable[[Cancelled], FirstPage] | None = None
        #: The first rows on screen are the ones inserted first (Listing.provisional)
        #: until the exact page is read.
        self._provisional = False
        #: False until the ``ix_tui_*`` build is over (or failed): the log view's prebuild
        #: waits for it (see Views.prebuild_log)
        self.indexes_settled = False
        self.prebuild_waiting = False
        self._switch_interval: float | None = None
        #: Called once the first frame (with the preloaded rows) is drawn.
        self.first_frame_hooks: list[Callable[[], object]] = []
        #: The screen each key was typed at, until it is handled (see on_key).
        self._key_screens: weakref.WeakKeyDictionary[events.Key, Screen[Any]] = (
            weakref.WeakKeyDictionary()
        )
        self.settings = user_settings.load()
        # a file name may hold escape sequences: shown only as printable text
        self.sub_title = printable(os.path.basename(self.db_path))

    @property
    def service(self) -> ReviewService:
        assert self.service_or_none is not None, "database not open yet"
        return self.service_or_none

    def now(self) -> datetime:
        return self.clock()

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen(id="_default")

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="banner")
        yield TabBar(TABS, "proposals", id="tab-bar")
        with ContentSwitcher(id="tabs", initial="proposals"):
            with Vertical(id="proposals"):
                yield ProposalsPane(id="proposals-pane")
            # The log view is built the first time it is shown (log_pane): its selects,
            # input and sparkline would otherwise add to every launch.
            yield Vertical(id="log")
            yield Vertical(id="context")
            yield Vertical(id="history")
        yield Static(id="status")
        yield CoalescingFooter(show_command_palette=False)  # Ctrl+P is in the help

    def on_load(self) -> None:
        # Workers (SQLite, which releases the GIL) and Textual's output thread wait for
        # the GIL while the event loop renders: at Python's default switch interval each
        # of a decision's statements could wait that long. A shorter one keeps a
        # keypress-to-commit short (benchmarks/bench.py measures it).
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        if self.settings.theme and self.settings.theme in self.available_themes:
            self.theme = self.settings.theme

    def watch_theme(self, theme: str) -> None:
        if theme != self.settings.theme and self.is_running:
            self.settings.theme = theme  # a chosen theme is remembered
            user_settings.save(self.settings)

    def on_mount(self) -> None:
        if self.service_or_none is not None:
            self._opened(self.service_or_none)
        else:
            self._open()

    def _open(self) -> None:
        def open_it(_c: Cancelled) -> ReviewService:
            return ReviewService.open(
                self.db_path,
                read_only=self.read_only_requested,
                create=self.create,
                clock=self.clock,
            )

        def refused(error: BaseException) -> None:
            from tract_tui.app.modals import ErrorScreen

            if isinstance(error, TraceError):
                self.push_screen(ErrorScreen(str(error)))
            else:
                report_error(self, error)

        self.call_service(open_it, self._opened, group="open", failed=refused)

    def _opened(self, service: ReviewService) -> None:
        self.service_or_none = service
        if service.read_only:
            banner = self.query_one("#banner", Static)
            banner.update(Text("READ-ONLY — decisions are disabled; the file is not written."))
            banner.add_class("shown")
        pane = self.query_one(ProposalsPane)
        pane.opened()
        pane.table.focus()
        if self._preloaded is not None:  # read by preload() before the screen started
            self._show_first_listing(self._preloaded)
            self._preloaded = None
        elif self._late_preload is not None:
            self._await_first_page(self._late_preload)
        else:
            self._watch_then_load()
        self.set_interval(self.poll_interval, self._poll)
        self.refresh_bindings()
        self.call_after_refresh(self._first_frame_drawn)

    def _first_frame_drawn(self) -> None:
        hooks, self.first_frame_hooks = self.first_frame_hooks, []
        for hook in hooks:
            hook()
        # else once the first page is read (_first_page), or the exact one (exact_order_read)
        if self._late_preload is None and not self._provisional:
            self._build_indexes()
        self.set_timer(PREBUILD_LOG_AFTER, self.prebuild_log)

    def preload(self, preloaded: FirstPage = None) -> None:
        """Before :meth:`run`: the change baseline, then the first page of pending proposals.

        Read before the screen starts, the rows are in its very first frame.
        ``preloaded`` is what :func:`~tract_tui.app.paging.preload_first_page`
        already read (``run_console`` reads it while Textual is imported).
        """
        if preloaded is None:
            preloaded = preload_first_page(self.service)
        if preloaded is not None:
            self.watcher, self._preloaded = preloaded

    def preload_later(self, wait: Callable[[Cancelled], FirstPage]) -> None:
        """Before :meth:`run`: the first page is still being read; ``wait`` returns it.

        The screen starts without it (``run_console`` waits only briefly): on
        a large file tract-tui never indexed, reading the oldest pending
        proposals is a full scan of them, seconds at millions of rows, and the
        screen stayed blank meanwhile. A line says what is being read, the rows
        follow, and the indexes are built after that (both at once slowed the
        scan down).
        """
        self._late_preload = wait

    def _await_first_page(self, wait: Callable[[Cancelled], FirstPage]) -> None:
        self._status("Reading the oldest pending proposals (the first open of a large file)…")
        self.call_service(
            wait, self._first_page, group="first-page", failed=self._first_page_failed
        )

    def _first_page(self, preloaded: FirstPage) -> None:
        self._late_preload = None
        self._status("")
        if preloaded is None:  # it failed: read (and report) as usual
            self._watch_then_load()
        else:
            self.watcher, listing = preloaded
            self._show_first_listing(listing)
        if not self._provisional:
            self._build_indexes()

    def _show_first_listing(self, listing: Listing) -> None:
        self._provisional = listing.provisional
        if listing.provisional:
            self._status(PROVISIONAL_LINE)
        self.query_one(ProposalsPane).show_listing(listing)

    def exact_order_read(self) -> None:
        """The exact first page replaced the rows inserted first: now build the indexes.

        Not before: building them reads the same rows as the exact page's scan,
        and both at once slowed that scan down.
        """
        if self._provisional:
            self._provisional = False
            self._status("")
            self._build_indexes()

    def _first_page_failed(self, error: BaseException) -> None:
        report_error(self, error)
        self._first_page(None)

    # --- tract-tui's indexes, after the first frame -------------------------------------

    def _build_indexes(self) -> None:
        """Build missing ``ix_tui_*`` indexes in a worker, with a progress line.

        The lists work meanwhile (slower, on tract's own indexes); a failure
        (another process holding the lock) only means they stay slower.
        """
        service = self.service

        def progress(done: int, total: int, name: str) -> None:
            text = (
                f"Building tract-tui's indexes for fast lists ({done} of {total}: {name})…"
                if done < total
                else ""
            )
            self.call_from_thread(self._status, text)

        def failed(error: BaseException) -> None:
            settled()
            self.notify(
                f"tract-tui's indexes were not built ({error}); lists stay slower",
                severity="warning",
                markup=False,
                timeout=6,
            )

        def settled(_built: int = 0) -> None:
            self._status("")
            self.indexes_settled = True
            if self.prebuild_waiting:
                self.prebuild_waiting = False
                self.prebuild_log()

        self.call_service(
            lambda c: service.ensure_indexes(progress=progress, cancelled=c),
            settled,
            group="indexes",
            failed=failed,
        )

    def _status(self, text: str) -> None:
        status = self.query_one("#status", Static)
        update_steady(status, Text(text))
        status.set_class(bool(text), "shown")

    # --- live ---------------------------------------------------------------------

    def _watch_then_load(self) -> None:
        """Take the data_version baseline first, so no write after it goes unnoticed."""
        service = self.service

        def baseline(watcher: ChangeWatcher) -> None:
            self.watcher = watcher
            self.query_one(ProposalsPane).reload()

        self.call_service(lambda _c: service.watcher(), baseline, group="watch")

    def _poll(self) -> None:
        watcher = self.watcher
        if watcher is None:
            return
        self.call_service(
            lambda _c: watcher.changed(),
            lambda changed: self.refresh_views() if changed else None,
            group="poll",
        )

    def refresh_views(self) -> None:
        """Another process (or we) wrote: refresh what is on screen, keep the cursors."""
        self.query_one(ProposalsPane).reload()
        for tab in ("log", "context", "history"):
            pane = self.built(tab)
            if pane is not None:
                pane.refresh_data()

    # --- views --------------------------------------------------------------------

    def action_help(self) -> None:
        from tract_tui.app.contextview import ContextPane
        from tract_tui.app.historyview import HistoryPane
        from tract_tui.app.logview import LogPane
        from tract_tui.app.modals import HelpScreen
        from tract_tui.app.table import VirtualTable

        groups = self.help_groups(VirtualTable, LogPane, ContextPane, HistoryPane)
        self.push_screen(HelpScreen(groups))

    def help_groups(self, *classes: Any) -> list[tuple[str, list[Any]]]:
        """(title, bindings) of every view, for the help screen: the keys themselves."""
        table_cls, log_cls, context_cls, history_cls = classes
        return [
            ("Everywhere", _bindings(self.BINDINGS)),
            ("Lists", _bindings(table_cls.BINDINGS)),
            ("Proposals (1)", _bindings(ProposalsPane.BINDINGS)),
            ("Log (2)", [*_bindings(log_cls.BINDINGS), _Key("enter", "the row in full")]),
            ("Context (3)", [*_bindings(context_cls.BINDINGS), _Key("enter", "the message")]),
            ("History (4)", _bindings(history_cls.BINDINGS)),
            ("Moving between parts", [_Key("tab", "next part"), _Key("shift+tab", "previous")]),
        ]

    def action_quit(self) -> None:  # type: ignore[override]
        self.exit(0)

    # --- keys typed faster than a screen opens -------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._key_screens[event] = self.screen  # where it was typed
        await super().on_event(event)

    def on_key(self, event: events.Key) -> None:
        """A key on its way back up from a screen that another covered meanwhile: typed
        right after ``r`` or Enter (or pasted), it met the new prompt or zoom before that
        had the focus, found no binding and was dropped; the reason lost its first letters.
        It goes to the screen on top now, as if typed there."""
        typed_at = self._key_screens.pop(event, None)
        if typed_at is not None and typed_at is not self.screen:
            event.prevent_default()  # no bindings looked up on a screen it was not typed at
            self.post_message(events.Key(event.key, event.character))

    async def run_binding_early(self, widget: Widget, event: events.Key) -> bool:
        """Run ``event``'s binding at the focused list it reached; True if one ran.

        Why: Textual looks an ordinary binding up only once the key has
        bubbled from the focused widget through each ancestor to the app, one
        message queue each. From a proposals row that is six hops, 2.75 of a
        decision's 4.8 ms (benchmarks/bench.py). The lookup here is the app's
        own (the focus chain, nearest first), so the same binding runs; and as
        every key reaches the focused list in the order it was typed, keys
        still act in that order (a priority binding would jump the queue).
        Only on the main screen, for the widget that has the focus, for a key
        typed at that screen; anything else goes up as before (see on_key).
        """
        if (
            widget is not self.focused
            or self.screen is not self.screen_stack[0]
            or widget.screen is not self.screen
            or self._key_screens.get(event) is not self.screen
        ):
            return False
        if not await self._check_bindings(event.key):
            return False
        self._key_screens.pop(event, None)
        return True

    async def _shutdown(self) -> None:
        """Let a view being mounted finish before Textual takes the screens down."""
        await self.views_mounted()
        await super()._shutdown()

    # --- the command palette (Ctrl+P) ---------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        pane = self.query_one(ProposalsPane) if screen is self.screen_stack[0] else None
        if pane is not None:
            yield SystemCommand(
                "Approve", "Approve the highlighted (or marked) proposals", pane.action_approve
            )
            yield SystemCommand(
                "Reject", "Reject the highlighted (or marked) proposals", pane.action_reject
            )
            yield SystemCommand(
                "Filter proposals", "Edit the proposals filter", self._go_filter_proposals
            )
            yield SystemCommand(
                "Mark all matching", "Mark every proposal the filter matches", pane.action_mark_all
            )
            yield SystemCommand("Undo", "Undo this session's last decision", pane.action_undo)
        yield SystemCommand(
            "Go to proposals",
            "The pending proposals (1)",
            lambda: self.action_show_tab("proposals"),
        )
        yield SystemCommand("Go to log", "The policy log (2)", lambda: self.action_show_tab("log"))
        yield SystemCommand(
            "Toggle light / dark theme",
            "Switch between the light and dark theme",
            self.action_toggle_theme,
        )
        yield SystemCommand(
            "Toggle confirmation of destructive approvals",
            "compress, archive and unknown action types ask before approval",
            self.action_toggle_confirm,
        )
        yield SystemCommand("Help", "Every key", self.action_help)
        yield from super().get_system_commands(screen)

    def _go_filter_proposals(self) -> None:
        self.action_show_tab("proposals")
        self.query_one(ProposalsPane).action_focus_filter()

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def action_toggle_confirm(self) -> None:
        on = not all(self.settings.confirm.values())
        self.settings.confirm = {k: on for k in self.settings.confirm}
        user_settings.save(self.settings)
        self.notify(
            f"Destructive approvals {'ask first' if on else 'no longer ask'} "
            "(kept in your settings)",
            timeout=4,
        )

    def on_unmount(self) -> None:
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
        if self.watcher is not None:
            self.watcher.close()
        if self._owns_service and self.service_or_none is not None:
            self.service_or_none.close()  # idle connections and the checkpointer thread


class _Key:
    """A key the help lists that no Binding declares (Textual's own: Tab, Enter in a list)."""

    show = True

    def __init__(self, key: str, description: str) -> None:
        self.key = key
        self.description = description


def _bindings(items: Iterable[Any]) -> list[Any]:
    return [b for b in items if isinstance(b, Binding) and b.description]
