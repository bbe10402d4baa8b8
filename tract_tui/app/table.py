"""VirtualTable: a Line-API table that renders only the visible rows.

It owns no data: rows come from a :class:`PageCache` the owner fills from
worker threads. When rows that should be on screen are missing, the table
posts :class:`VirtualTable.NeedPages`; the owner fetches them and calls
:meth:`VirtualTable.page_loaded`. Cells are ``rich.text.Text`` built by the
owner from sanitised strings, so nothing from the database is ever parsed
as markup.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tract_tui.app.paging import PageCache

#: Drawn rows kept for redraws, and how long (seconds) one is reused.
STRIP_CACHE = 2048
STRIP_TTL = 10


@dataclass(frozen=True)
class Column:
    title: str
    width: int = 0  # 0 = take the remaining width
    min_width: int = 8


class VirtualTable(ScrollView, can_focus=True):
    """A table over a :class:`PageCache`, with a cursor and optional marks."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
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
    VirtualTable > .vtable--marked { color: $warning; text-style: bold; }
    VirtualTable > .vtable--loading { color: $text-muted; }
    VirtualTable > .vtable--empty { color: $text-muted; text-style: italic; }
    """

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    class NeedPages(Message):
        """Rows on screen are not loaded: fetch these pages."""

        def __init__(self, table: VirtualTable, pages: list[int]) -> None:
            super().__init__()
            self.table = table
            self.pages = pages

        @property
        def control(self) -> VirtualTable:
            return self.table

    class Highlighted(Message):
        """The cursor moved to ``index`` (``row`` None while that row is loading)."""

        def __init__(self, table: VirtualTable, index: int, row: Any) -> None:
            super().__init__()
            self.table = table
            self.index = index
            self.row = row

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(
        self,
        columns: list[Column],
        cells: Callable[[Any, list[int]], list[Text]],
        *,
        cache: PageCache[Any] | None = None,
        is_marked: Callable[[Any], bool] | None = None,
        empty_text: str = "Nothing to show.",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = columns
        self.cells = cells
        self.cache: PageCache[Any] = cache or PageCache()
        self.is_marked = is_marked or (lambda _row: False)
        self.empty_text = empty_text
        self.loaded = False  # False until the owner first sets a total
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
        number -> rows): they are on screen at once, without a round trip
        through :class:`NeedPages`.
        """
        self.cache.reset(total)
        self._strips.clear()
        for page, rows in (pages or {}).items():
            self.cache.store(self.cache.generation, page, rows)
        self.loaded = True
        self.virtual_size = Size(self.size.width, total + 1)
        target = self.cursor if keep_cursor is None else keep_cursor
        self.set_reactive(VirtualTable.cursor, max(0, min(target, max(total - 1, 0))))
        self._scroll_cursor_into_view(animate=False)
        self.refresh()
        self._request_missing()
        self._announce()

    def correct_total(self, total: int) -> None:
        """The exact total after a provisional one: the loaded pages and the cursor stay."""
        self.cache.resize(total)
        self.virtual_size = Size(self.size.width, total + 1)
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
        first = min(first, self.cursor)
        last = max(last, self.cursor)
        pages = self.cache.missing(first, last)
        if pages:
            self.post_message(self.NeedPages(self, pages))

    def _announce(self) -> None:
        self.post_message(self.Highlighted(self, self.cursor, self.cursor_row))

    # --- cursor -------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        clamped = max(0, min(new, max(self.row_count - 1, 0)))
        if clamped != new:
            self.set_reactive(VirtualTable.cursor, clamped)
        self._scroll_cursor_into_view()
        self.refresh()
        self._request_missing()
        self._announce()

    def _scroll_cursor_into_view(self, animate: bool = False) -> None:
        # line 0 is the header; row i is drawn at line i+1
        height = max(self.scrollable_content_region.height - 1, 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=animate, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=animate, immediate=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._request_missing()

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, self.row_count + 1)
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
            self.cursor = y

    # --- rendering ----------------------------------------------------------------

    def widths(self, total: int) -> list[int]:
        fixed = sum(c.width for c in self.columns if c.width) + len(self.columns)
        flex = [c for c in self.columns if not c.width]
        rest = max(total - fixed, 0)
        out = []
        for c in self.columns:
            out.append(c.width if c.width else max(rest // max(len(flex), 1), c.min_width))
        return out

    def _line(self, texts: list[Text], widths: list[int], style: Style, width: int) -> Strip:
        line = Text(" ", end="", no_wrap=True)
        for text, w in zip(texts, widths, strict=False):
            cell = text.copy()
            cell.no_wrap = True
            cell.truncate(w, overflow="ellipsis", pad=True)
            line.append_text(cell)
            line.append(" ")
        segments = list(line.render(self.app.console))
        strip = Strip(segments).crop_extend(0, width, style)
        return strip.apply_style(style)

    def render_lines(self, crop: Region) -> list[Strip]:
        # The widget's base style walks every ancestor's CSS: work it out once per
        # frame, not once per line (it was a quarter of the table's drawing time).
        self._frame_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        widths = self.widths(width - 1)
        base = self._frame_style or self.rich_style
        if y == 0:
            header = [Text(c.title) for c in self.columns]
            return self._line(
                header, widths, base + self.get_component_rich_style("vtable--header"), width
            )
        index = y - 1 + int(self.scroll_y)
        if index >= self.row_count:
            if index == 0 and self.loaded:
                text = Text(self.empty_text)
                style = base + self.get_component_rich_style("vtable--empty")
                return self._line([text], [width - 2], style, width)
            return Strip.blank(width, base)
        row = self.cache.get(index)
        style = base
        if row is None:
            texts = [Text("…")]
            style = base + self.get_component_rich_style("vtable--loading")
            return self._line(texts, [width - 2], style, width)
        marked = self.is_marked(row)
        # A drawn row is kept for redraws that do not change it (the cursor moving
        # elsewhere, focus, a corrected total): the rows of a page are fixed within a
        # cache generation. The time slot lets relative ages move on.
        key = (
            self.cache.generation,
            index,
            index == self.cursor,
            marked,
            self.has_focus,
            width,
            base,
            int(time.monotonic() // STRIP_TTL),
        )
        strip = self._strips.get(key)
        if strip is not None:
            return strip
        texts = self.cells(row, widths)
        if marked:
            style = style + self.get_component_rich_style("vtable--marked")
        if index == self.cursor:
            style = style + self.get_component_rich_style("vtable--cursor")
        strip = self._line(texts, widths, style, width)
        if len(self._strips) >= STRIP_CACHE:
            self._strips.clear()
        self._strips[key] = strip
        return strip

    def refresh_row(self, index: int) -> None:
        y = index - int(self.scroll_y) + 1
        self.refresh(Region(0, y, self.size.width, 1))
