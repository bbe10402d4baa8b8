"""Switching views, and building each one the first time it is shown (a ReviewApp mixin).

Only the proposals view is in the first frame. The log, context and
history views (their widgets, and for the log its selects, input and
sparkline) are imported and mounted when first asked for: a launch pays for
none of them. Each lazily built view has ``shown()`` (it is on screen now:
load what it needs, take the focus) and ``refresh_data()`` (the file
changed: reread what is on screen).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Protocol, cast

from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import ContentSwitcher

from tract_tui.app.proposals import ProposalsPane
from tract_tui.app.tabbar import TabBar

if TYPE_CHECKING:
    from tract_tui.app.contextview import ContextPane


class LazyView(Protocol):
    def shown(self) -> None: ...

    def refresh_data(self) -> None: ...


def _build(tab: str) -> Any:
    """A new pane for ``tab`` (its module imported now, not at launch)."""
    if tab == "log":
        from tract_tui.app.logview import LogPane

        return LogPane(id="log-pane")
    if tab == "context":
        from tract_tui.app.contextview import ContextPane

        return ContextPane(id="context-pane")
    from tract_tui.app.historyview import HistoryPane

    return HistoryPane(id="history-pane")


class Views:
    """Tabs 1-4 and the panes behind them; mixed into ReviewApp (an App)."""

    service_or_none: Any

    def built(self, tab: str) -> LazyView | None:
        """The pane of ``tab`` if it was built (by id: its module need not be imported)."""
        for node in cast(Any, self).query(f"#{tab}-pane"):
            return cast(LazyView, node)
        return None

    def pane(self, tab: str) -> LazyView:
        """The pane of ``tab``, built and mounted the first time it is asked for."""
        found = self.built(tab)
        if found is None:
            found = _build(tab)
            mounting = cast(Any, self).query_one(f"#{tab}", Vertical).mount(found)
            self._mounting = [*getattr(self, "_mounting", []), mounting]
        return found

    async def views_mounted(self, timeout: float = 2.0) -> None:
        """Wait (a bounded time) for views still being mounted.

        A view mounted as the app shuts down (the log's prebuild at the
        moment of ``q``) met children already taken down: Textual's Select
        then failed in its own ``on_mount``. Shutdown waits for this first.
        """
        mounting: list[Any] = getattr(self, "_mounting", [])
        self._mounting = []
        for awaited in mounting:
            with contextlib.suppress(Exception):  # timed out, or the view went away: close
                await asyncio.wait_for(asyncio.ensure_future(awaited), timeout)

    @property
    def current_tab(self) -> str | None:
        """The tab on screen ("proposals", "log", "context" or "history")."""
        current: str | None = cast(Any, self).query_one("#tabs", ContentSwitcher).current
        return current

    def prebuild_log(self) -> None:
        """Build the log view now, hidden, and read its first rows: the first ``2`` only shows it.

        Importing and composing it (selects, input, sparkline, table), then
        laying it out once per answer (drop-downs, rows), made the first
        ``2`` a half-second wait. Done shortly after the first frame, before
        a person has read it, nobody waits for it.
        """
        app = cast(Any, self)
        stack = app.screen_stack
        if self.service_or_none is None or not stack:  # not open yet, or closing
            return
        if stack[-1] is not stack[0]:  # a zoom, help or prompt is open: later
            app.set_timer(1.0, self.prebuild_log)
            return
        if not app.indexes_settled:
            # after the index build: without ix_tui_* its first page and drop-downs are
            # full scans of the log (seconds at 1M rows) that slowed the build and kept
            # its WAL from starting over (a ``2`` meanwhile builds it at once)
            app.prebuild_waiting = True
            return
        if self.built("log") is None:
            from tract_tui.app.logview import LogPane

            try:
                pane = cast(LogPane, self.pane("log"))
            except NoMatches:  # the main screen is being taken down: the app is closing
                return
            pane.prepare()  # on mount, if not mounted yet

    def action_show_tab(self, tab: str) -> None:
        app = cast(Any, self)
        switcher = app.query_one("#tabs", ContentSwitcher)
        if switcher.current == tab:
            return
        switcher.current = tab
        app.query_one(TabBar).active = tab
        if self.service_or_none is None:
            return
        if tab == "proposals":
            # at once, not after the queued keys (Widget.focus): an ``a`` typed right after
            # ``1`` went to the hidden view that still had the focus, and was lost
            app.screen.set_focus(app.query_one(ProposalsPane).table)
            return
        first = self.built(tab) is None
        pane = self.pane(tab)
        if first:  # mounted on the next refresh: show it then
            app.call_after_refresh(pane.shown)
        else:
            pane.shown()

    def on_tab_bar_activated(self, event: TabBar.Activated) -> None:
        self.action_show_tab(event.tab)

    def show_context(self, tract: str, commit: str | None = None) -> None:
        """The context view on ``tract``'s HEAD, the cursor on ``commit`` (from a proposal)."""
        self.action_show_tab("context")
        cast("ContextPane", self.pane("context")).activate(tract, commit)

    def zoom_record(self, proposal_id: str) -> None:
        """A proposal's record on the whole screen: its decision and every row logged for it."""
        from tract_tui.app.historyview import history_detail_text
        from tract_tui.app.modals import ZoomScreen
        from tract_tui.app.render import safe

        app = cast(Any, self)
        service = app.service

        def load(_c: Any) -> tuple[str, Any]:
            detail = service.history_detail(proposal_id)
            title = f"{safe(detail.proposal.action_type)} proposal {safe(proposal_id)}: record"
            return title, history_detail_text(detail)

        ZoomScreen.open_reading(app, f"proposal {safe(proposal_id)}: record", load, "record-zoom")
