"""The context view: a tract's branch compiled as its agent sees it, message by message.

A reviewer checks here what a proposal refers to: which messages are in
the context, in what order, with which commit, priority and size, and
which commits a SKIP hides (shown dimmed; ``h`` hides them). The rows are
compiled by :mod:`tract_tui.review.context`, the library's own rules; the
view reads them in a worker and keeps them in memory (a 5,000-commit
branch is a few hundred kilobytes), paging them to the table like any
other list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Select, Static

from tract_tui.app.redraw import update_steady
from tract_tui.app.render import context_row_cells, context_row_text, context_summary, safe
from tract_tui.app.table import VirtualTable
from tract_tui.app.workers import Cancelled, ServiceCalls
from tract_tui.models.context import ContextRow, ContextView
from tract_tui.present import Column
from tract_tui.text import truncate

if TYPE_CHECKING:
    from tract_tui.app.app import ReviewApp

COLUMNS = [
    Column("#", width=5),
    Column("Commit", width=8, drop=2),
    Column("Role", width=9),
    Column("Priority", width=9, drop=1),
    Column("Tokens", width=6, drop=3),
    Column("Message", min_width=20),
]
#: A choice in the picker: tract and branch, "" for the tract's HEAD.
SEP = "\x1f"
EMPTY = "This branch has no commits yet."
NO_TRACTS = "No tract in this file has a commit: there is no context to show."


class ListSource:
    """Rows already in memory, paged like a query: each row is (index, ContextRow)."""

    def __init__(self, rows: list[tuple[int, ContextRow]]) -> None:
        self.rows = rows

    def after(self, row: Any, limit: int, cancelled: Cancelled) -> list[Any]:
        return self.rows[row[0] + 1 : row[0] + 1 + limit]

    def before(self, row: Any, limit: int, cancelled: Cancelled) -> list[Any]:
        return self.rows[max(row[0] - limit, 0) : row[0]]

    def last(self, limit: int, cancelled: Cancelled) -> list[Any]:
        return self.rows[-limit:] if limit else []

    def at(self, offset: int, limit: int, cancelled: Cancelled) -> list[Any]:
        return self.rows[offset : offset + limit]


def choice(tract: str, branch: str | None) -> str:
    return f"{tract}{SEP}{branch or ''}"


class ContextPane(ServiceCalls, Vertical):
    """Pick a tract and branch; read its compiled context (Enter: a message in full)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "h",
            "toggle_hidden",
            "Hidden commits",
            id="toggle-hidden",
            tooltip="Show or hide the commits a SKIP keeps out of the context",
        ),
        Binding(
            "b",
            "focus_picker",
            "Tract/branch",
            id="pick",
            tooltip="Choose which tract and branch to read",
        ),
        # Enter is the views' own binding (the help names it), acted on in typing order.
        Binding("enter", "zoom_row", "", show=False),
    ]

    DEFAULT_CSS = """
    ContextPane #ctx-top { height: 3; }
    ContextPane #ctx-pick { width: 1fr; }
    ContextPane #ctx-summary { height: auto; max-height: 2; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_hidden = True
        self.view: ContextView | None = None
        self.loaded = False
        #: A commit to put the cursor on once the rows are in (set by show_tract).
        self._goto: str | None = None
        self._mounted = False
        self._request: tuple[str | None, str | None] | None = None
        #: A row's place in the agent's context (1-based) by table index; hidden rows have none.
        self._positions: dict[int, int] = {}

    @property
    def review_app(self) -> ReviewApp:
        from tract_tui.app.app import ReviewApp

        assert isinstance(self.app, ReviewApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Select[str]([], prompt="tract / branch", id="ctx-pick", allow_blank=True)
        yield Static(Text("…"), id="ctx-summary")
        yield VirtualTable(COLUMNS, self._cells, empty_text=EMPTY, id="ctx-table")

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#ctx-table", VirtualTable)

    def _cells(self, row: tuple[int, ContextRow]) -> list[Text]:
        return context_row_cells(row[1], self._positions.get(row[0]))

    # --- choosing ---------------------------------------------------------------------

    def load_choices(self, then: str | None = None) -> None:
        """Read every tract and its branches into the picker; then show ``then`` (or HEAD)."""
        self.loaded = True
        service = self.review_app.service
        self.call_service(
            lambda _c: service.context_refs(),
            lambda refs: self._apply_choices(refs, then),
            group="context-refs",
        )

    def _apply_choices(
        self, refs: list[tuple[str, str | None, list[str]]], then: str | None
    ) -> None:
        options: list[tuple[Text, str]] = []
        for tract, current, branches in refs:
            head = f"HEAD → {current}" if current else "HEAD (detached)"
            options.append((self._label(tract, head), choice(tract, None)))
            options += [(self._label(tract, b), choice(tract, b)) for b in branches if b != current]
        picker = self.query_one("#ctx-pick", Select)
        old = picker.value
        with picker.prevent(Select.Changed):
            picker.set_options(options)
        values = [v for _, v in options]
        wanted = then if then in values else old if old in values else None
        if wanted is None and values:
            wanted = values[0]
        if wanted is None:
            self.table.empty_text = NO_TRACTS
            self.table.set_total(0)
            update_steady(self.query_one("#ctx-summary", Static), Text(""))
            return
        with picker.prevent(Select.Changed):
            picker.value = wanted
        self.reload()

    def _label(self, tract: str, branch: str) -> Text:
        return Text(truncate(f"{safe(tract)} · {safe(branch)}", 60), no_wrap=True)

    def activate(self, tract: str | None = None, commit: str | None = None) -> None:
        """Shown: load the first time, or read ``tract``'s HEAD with the cursor on ``commit``.

        Called right after the pane is mounted its widgets may not exist yet:
        the request then waits for :meth:`on_mount`.
        """
        if tract is not None or self._request is None:  # a plain "shown" keeps a tract asked for
            self._request = (tract, commit)
        if self._mounted:
            self._serve()

    def shown(self) -> None:
        self.activate()

    def refresh_data(self) -> None:
        if self.loaded:
            self.load_choices()

    def on_mount(self) -> None:
        self._mounted = True
        if self._request is not None:
            self._serve()

    def _serve(self) -> None:
        request, self._request = self._request, None
        if request is None:
            return
        tract, commit = request
        if tract is not None:
            self._goto = commit
            self.load_choices(then=choice(tract, None))
        elif not self.loaded:
            self.load_choices()
        self.screen.set_focus(self.table)  # at once: keys typed right after ``3`` are its

    @on(Select.Changed, "#ctx-pick")
    def _picked(self, event: Select.Changed) -> None:
        event.stop()
        self.reload()
        self.table.focus()

    def action_focus_picker(self) -> None:
        self.query_one("#ctx-pick", Select).focus()

    def action_toggle_hidden(self) -> None:
        self.show_hidden = not self.show_hidden
        if self.view is not None:
            self._show(self.view, keep=self.table.cursor_row)

    # --- loading ----------------------------------------------------------------------

    def reload(self) -> None:
        """Compile the chosen branch again (in a worker); the cursor keeps its commit."""
        value = self.query_one("#ctx-pick", Select).value
        if not isinstance(value, str):
            return
        tract, branch = value.split(SEP, 1)
        keep, started = self.table.cursor_row, self.table.moves
        service = self.review_app.service

        def show(view: ContextView) -> None:
            # a key that moved the cursor while the branch compiled is not undone
            self._show(view, keep=keep if self.table.moves == started else self.table.cursor_row)

        self.call_service(
            lambda _c: service.context_view(tract, branch or None), show, group="context-rows"
        )

    def _show(self, view: ContextView, keep: tuple[int, ContextRow] | None = None) -> None:
        self.view = view
        rows = [r for r in view.rows if self.show_hidden or r.shown]
        numbered = list(enumerate(rows))
        positions: dict[int, int] = {}
        place = 0
        for i, r in numbered:
            if r.shown:
                place += 1
                positions[i] = place
        self._positions = positions
        self.table.source = ListSource(numbered)
        target = self._goto or (keep[1].message.commit_hash if keep else None)
        self._goto = None
        index = next((i for i, r in numbered if r.message.commit_hash == target), 0)
        size = self.table.cache.page_size
        page = index // size
        self.table.set_total(
            len(numbered),
            keep_cursor=index,
            pages={page: numbered[page * size : (page + 1) * size]},
        )
        hidden = sum(1 for r in view.rows if not r.shown)
        update_steady(
            self.query_one("#ctx-summary", Static), context_summary(view, hidden, self.show_hidden)
        )

    @on(VirtualTable.Selected, "#ctx-table")
    def _selected(self, event: VirtualTable.Selected) -> None:
        """A double click on a message: as Enter."""
        self.zoom(event.row[1])

    def action_zoom_row(self) -> None:
        if self.table.cursor_row is not None:
            self.zoom(self.table.cursor_row[1])

    def zoom(self, row: ContextRow) -> None:
        """A message, all of it."""
        from tract_tui.app.modals import ZoomScreen

        commit = safe(row.message.commit_hash or "")[:12]
        tract = safe(self.view.tract_id) if self.view else ""
        title = f"{tract} · {commit} · {safe(row.priority.lower())}"
        self.app.push_screen(ZoomScreen(title, context_row_text(row)))
