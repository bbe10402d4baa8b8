"""VirtualTable: a Line-API table that renders only the visible rows.

It owns no data: rows come from a :class:`PageCache`, filled a page at a
time from the :class:`PageSource` its owner gives it, in worker threads.
Cells are ``rich.text.Text`` built by the owner from sanitised strings, so
nothing from the database is ever parsed as markup. Columns give way on a
narrow screen in the order their ``drop`` says (tract_tui.present).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.style import Style
from rich.text import Span, Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input

from tract_tui.app.paging import PageCache, PagePlan, PageSource
from tract_tui.app.workers import ServiceCalls
from tract_tui.present import Column, fit_columns

#: Drawn rows kept for redraws, and how long (seconds) one is reused.
STRIP_CACHE = 2048
STRIP_TTL = 10
#: Builds a row's cells: one Text per column of the table, in the table's column order.
Cells = Callable[[Any], list[Text]]


class VirtualTable(ServiceCalls, ScrollView, can_focus=True):
    """A table over a :class:`PageCache`, with a cursor and optional marks."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("home,g", "first", "First row", show=False),
        Binding("end,G", "last", "Last row", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "vtable--header",
        "vtable--cursor",
        "vtable--marked",
        "vtable--loading",
        "vtable--empty",
    }

    DEFAULT_CSS = """
    VirtualTable {
        height: 1fr;
        background: $surface;
        scrollbar-gutter: stable;
        overflow-x: hidden;
    }
    VirtualTable > .vtable--header { text-style: bold; background: $panel; }
    VirtualTable > .vtable--cursor { background: $primary 40%; }
    VirtualTable:focus > .vtable--cursor { background: $primary; color: $text; }
    VirtualTable > .vtable--marked { color: $text-warning; background: $warning-muted;
                                     text-style: bold; }
    VirtualTable > .vtable--loading { color: $text-muted; }
    VirtualTable > .vtable--empty { color: $text-muted; text-style: italic; }
    """

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    async def _on_key(self, event: events.Key) -> None:
        """A key's binding runs here, where the key arrives (ReviewApp.run_binding_early)."""
        run_early = getattr(self.app, "run_binding_early", None)
        if run_early is not None and await run_early(self, event):
            event.stop()
            event.prevent_default()  # not Widget._on_key, and no bubbling

    class RowMessage(Message):
        """A message about the row at ``index`` (``row`` None while that row is loading)."""

        def __init__(self, table: VirtualTable, index: int, row: Any) -> None:
            super().__init__()
            self.table = table
            self.index = index
            self.row = row

        @property
        def control(self) -> VirtualTable:
            return self.table

    class Highlighted(RowMessage):
        """The cursor moved to ``index``."""

    class Selected(RowMessage):
        """Enter (or a double click) on a row."""

    def __init__(
        self,
        columns: list[Column],
        cells: Cells,
        *,
        is_marked: Callable[[Any], bool] | None = None,
        empty_text: str = "Nothing to show.",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.columns = columns
        self.cells = cells
        self.cache: PageCache[Any] = PageCache()
        self.source: PageSource[Any] | None = None
        self.is_marked = is_marked or (lambda _row: False)
        #: Shown when there are no rows; each line of it on a line of the table.
        self.empty_text = empty_text
        #: (filter, lines added to the empty text) of the last filter explained (app/hints.py).
        self.empty_hint: tuple[Any, str] | None = None
        #: How many times the cursor was moved (keys, clicks, its owner), loads not
        #: counted: a load that started before a move must not undo it (:meth:`landing`).
        self.moves = 0
        self.loaded = False  # False until the owner first sets a total
        #: (column title, descending) of the order the rows are in, drawn in the header.
        self.sort_marker: tuple[str, bool] | None = None
        self._frame_style: Style | None = None
        self._strips: dict[tuple[Any, ...], Strip] = {}

    # --- data ---------------------------------------------------------------------

    def set_total(
        self,
        total: int,
        *,
        keep_cursor: int | None = None,
        pages: dict[int, list[Any]] | None = None,
    ) -> None:
        """Reset to ``total`` rows (cache cleared) and put the cursor at ``keep_cursor``.

        ``pages`` are rows the owner fetched together with the total (page
        number -> rows): they are on screen at once, without a round trip.
        """
        self.cache.reset(total)
        self._strips.clear()
        for page, rows in (pages or {}).items():
            self.cache.store(self.cache.generation, page, rows)
        self.loaded = True
        self._set_row_count(total)
        target = self.cursor if keep_cursor is None else keep_cursor
        self.set_reactive(VirtualTable.cursor, max(0, min(target, max(total - 1, 0))))
        self._scroll_cursor_into_view()
        self.refresh()
        self._request_missing()
        self._announce()

    def landing(
        self, started: int, index: int, pages: dict[int, list[Any]], key: Callable[[Any], object]
    ) -> int | None:
        """Where the cursor goes when a load that started at move count ``started`` lands.

        The load found the place of the row the cursor was on when it started
        (``index``). If a key moved the cursor while it ran, that move wins:
        the cursor goes to the row it is on now, found on the loaded ``pages``
        by ``key``. None when that row is not on them (or not loaded): the
        owner loads again from where the cursor is now.
        """
        if self.moves == started:
            return index
        row = self.cursor_row
        if row is None:
            return None
        wanted = key(row)
        size = self.cache.page_size
        for page, rows in pages.items():
            for i, candidate in enumerate(rows):
                if key(candidate) == wanted:
                    return page * size + i
        return None

    def _set_row_count(self, total: int) -> None:
        """Make the scrollable height ``total`` rows plus the header, laying out only if needed.

        Assigning ``virtual_size`` asks for a layout of the whole screen (its
        reactive says so), and a layout redraws every widget: 35-40 ms at
        120x36, most of what a filter took to show its rows. Only the scrollbar
        can change the screen's layout here (the table's own size is set by
        its CSS), and Textual's ``_scroll_update`` sets the scrollbar's
        visibility through a reactive that lays out when, and only when, it
        changes; otherwise just the table and its scrollbar are redrawn.
        """
        size = Size(self.size.width, total + 1)
        if size == self.virtual_size:
            return
        self.set_reactive(ScrollView.virtual_size, size)
        if self.container_size:
            self._scroll_update(size)
        else:  # not laid out yet: the first layout sizes everything
            self.refresh(layout=True)

    def correct_total(self, total: int) -> None:
        """The exact total after a provisional one: the loaded pages and the cursor stay."""
        self.cache.resize(total)
        self._set_row_count(total)
        if self.cursor >= total:
            self.set_reactive(VirtualTable.cursor, max(total - 1, 0))
            self._announce()
        self.refresh()
        self._request_missing()

    def page_loaded(self, generation: int, page: int, rows: list[Any]) -> None:
        if self.cache.store(generation, page, rows):
            self.refresh()
            if self.cache.page_of(self.cursor) == page:
                self._announce()

    @property
    def row_count(self) -> int:
        return self.cache.total

    @property
    def cursor_row(self) -> Any:
        return self.cache.get(self.cursor)

    def _visible_range(self) -> tuple[int, int]:
        top = int(self.scroll_y)
        height = max(self.scrollable_content_region.height - 1, 1)
        return top, top + height

    def _request_missing(self) -> None:
        first, last = self._visible_range()
        for page in self.cache.missing(min(first, self.cursor), max(last, self.cursor)):
            self._fetch(self.cache.generation, self.cache.plan(page))

    def _fetch(self, generation: int, plan: PagePlan[Any]) -> None:
        source = self.source
        if source is None:
            self.cache.failed(plan.page)
            return
        cache = self.cache
        self.call_service(
            lambda cancelled: plan.fetch(source, cancelled),
            lambda rows: self.page_loaded(generation, plan.page, rows),
            group=f"{self.id}-pages",
            exclusive=False,
            stale=lambda: cache.generation != generation,  # a new filter: nobody wants it
            always=lambda: cache.failed(plan.page),
        )

    def _announce(self) -> None:
        self.post_message(self.Highlighted(self, self.cursor, self.cursor_row))

    # --- cursor -------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self.moves += 1
        clamped = max(0, min(new, max(self.row_count - 1, 0)))
        if clamped != new:
            self.set_reactive(VirtualTable.cursor, clamped)
        self._scroll_cursor_into_view()
        self.refresh()
        self._request_missing()
        self._announce()

    def _scroll_cursor_into_view(self) -> None:
        # line 0 is the header; row i is drawn at line i+1
        height = max(self.scrollable_content_region.height - 1, 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._request_missing()

    def on_resize(self, event: events.Resize) -> None:
        # The drawn rows stay: each is kept under its width, and the Resize event comes
        # after the layout that drew them at the new size (clearing them here made the
        # next refresh, the first ``2``'s footer relabel, draw every row a second time).
        # The new width without a second layout of the screen (one is under way).
        self._set_row_count(self.row_count)
        self._request_missing()

    def action_cursor_up(self) -> None:
        self.cursor = max(self.cursor - 1, 0)

    def action_cursor_down(self) -> None:
        self.cursor = min(self.cursor + 1, max(self.row_count - 1, 0))

    def action_page_up(self) -> None:
        self.cursor = max(self.cursor - max(self.size.height - 2, 1), 0)

    def action_page_down(self) -> None:
        self.cursor = min(self.cursor + max(self.size.height - 2, 1), max(self.row_count - 1, 0))

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = max(self.row_count - 1, 0)

    def on_click(self, event: events.Click) -> None:
        y = event.y + int(self.scroll_y) - 1
        if 0 <= y < self.row_count and event.y >= 1:
            if y == self.cursor and event.chain >= 2:
                self.post_message(self.Selected(self, y, self.cursor_row))
            self.cursor = y

    # --- rendering ----------------------------------------------------------------

    def layout_columns(self, width: int) -> list[tuple[Column, int]]:
        """The columns that fit ``width`` cells (one space of margin), with their widths."""
        return fit_columns(self.columns, max(width - 1, 1))

    def _title(self, column: Column) -> str:
        if self.sort_marker is not None and self.sort_marker[0] == column.title:
            return f"{column.title} {'▼' if self.sort_marker[1] else '▲'}"
        return column.title

    def _line(self, texts: list[Text], widths: list[int], style: Style, width: int) -> Strip:
        segments = list(cells_line(texts, widths).render(self.app.console))
        return Strip(segments).crop_extend(0, width, style).apply_style(style)

    def render_lines(self, crop: Region) -> list[Strip]:
        # The widget's base style walks every ancestor's CSS: work it out once per
        # frame, not once per line.
        self._frame_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        shown = self.layout_columns(width)
        widths = [w for _, w in shown]
        base = self._frame_style or self.rich_style
        if y == 0:
            header = [Text(self._title(c)) for c, _ in shown]
            style = base + self.get_component_rich_style("vtable--header")
            return self._line(header, widths, style, width)
        index = y - 1 + int(self.scroll_y)
        if index >= self.row_count:
            empty = self.empty_text.split("\n") if self.loaded and not self.row_count else []
            if index < len(empty):
                style = base + self.get_component_rich_style("vtable--empty")
                return self._line([Text(empty[index])], [width - 2], style, width)
            return Strip.blank(width, base)
        row = self.cache.get(index)
        if row is None:
            style = base + self.get_component_rich_style("vtable--loading")
            return self._line([Text("…")], [width - 2], style, width)
        return self._row_strip(row, index, shown, base, width)

    def _row_strip(
        self, row: Any, index: int, shown: list[tuple[Column, int]], base: Style, width: int
    ) -> Strip:
        marked = self.is_marked(row)
        # A drawn row is kept for redraws that do not change it (the cursor moving
        # elsewhere, focus, a corrected total): the rows of a page are fixed within a
        # cache generation. The time slot lets relative ages move on.
        key = (
            self.cache.generation,
            index,
            index == self.cursor,
            marked,
            index == self.cursor and self.has_focus,  # only the cursor row shows the focus
            width,
            base,
            int(time.monotonic() // STRIP_TTL),
        )
        strip = self._strips.get(key)
        if strip is not None:
            return strip
        style = base
        if marked:
            style = style + self.get_component_rich_style("vtable--marked")
        if index == self.cursor:
            style = style + self.get_component_rich_style("vtable--cursor")
        cells = self.cells(row)
        texts = [cells[self.columns.index(c)] for c, _ in shown]
        strip = self._line(texts, [w for _, w in shown], style, width)
        if len(self._strips) >= STRIP_CACHE:
            self._strips.clear()
        self._strips[key] = strip
        return strip

    def refresh_row(self, index: int) -> None:
        y = index - int(self.scroll_y) + 1
        self.refresh(Region(0, y, self.size.width, 1))

    def refresh_rows(self) -> None:
        """Redraw every row (marks changed on several of them)."""
        self._strips.clear()
        self.refresh()


def cells_line(texts: list[Text], widths: list[int]) -> Text:
    """One table line: a space, then each cell cut or padded to its width and a space.

    The same Text, spans in the same order, as copying each cell, cutting it
    with ``Text.truncate(w, overflow="ellipsis", pad=True)`` and appending it
    with ``Text.append_text``, so the same segments are drawn (the snapshots
    compare them); tests/test_table.py checks it against that Rich code. Made
    without a Text per cell (its copy, cut and append sanitised and measured
    each cell again): a log row is drawn in 0.15 ms instead of 0.29 (a
    proposal row 0.11 instead of 0.18), and every row on screen is drawn anew
    for each filter, page or scroll that brings new rows.
    """
    parts = [" "]
    spans: list[Span] = []
    offset = 1
    for text, w in zip(texts, widths, strict=False):
        plain = text.plain
        n = cell_len(plain)
        inner = text.spans
        if n > w:  # Text.truncate's ellipsis, and its _trim_spans when that made it shorter
            cut = set_cell_size(plain, w - 1) + "…"
            if len(cut) < len(plain):
                end = len(cut)
                inner = [
                    span if span.end < end else Span(span.start, min(end, span.end), span.style)
                    for span in inner
                    if span.start < end
                ]
            plain = cut
        elif n < w:
            plain += " " * (w - n)
        if text.style:
            spans.append(Span(offset, offset + len(plain), text.style))
        spans.extend(Span(offset + a, offset + b, st) for a, b, st in inner)
        parts.append(plain)
        parts.append(" ")
        offset += len(plain) + 1
    return Text("".join(parts), end="", no_wrap=True, spans=spans)


def focus_filter(box: Input) -> None:
    """What ``/`` does: focus the filter box, or, typed in the box, a ``/`` of its text.

    ``/`` is a priority key, handled as it arrives: the keys typed right after
    it (a fast typist, a paste) then reach the box. Handled in turn, as an
    ordinary key is, they went to the list first, where the ``a`` of
    "action:" approved the highlighted proposal. ``Widget.focus()`` would
    wait for the queued keys too: the focus moves at once.
    """
    if box.has_focus:
        box.insert_text_at_cursor("/")
    else:
        box.screen.set_focus(box)
