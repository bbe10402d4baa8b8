"""Virtual lists (no Textual): a page cache, and the page sources that fill it.

A :class:`VirtualTable` shows rows by index; only the pages on screen are
ever loaded. Each view supplies a :class:`PageSource` (how to read rows
after or before a row, the last rows, or rows at an offset), and
:meth:`PageCache.plan` says which of those is cheapest for a page: by key
from a cached neighbour, from the end, or (only for far jumps) by offset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from tract_tui.models.record import Record
from tract_tui.models.review import Order

if TYPE_CHECKING:
    from tract_tui.models.review import LogEntry, Proposal
    from tract_tui.review.filters import Filter
    from tract_tui.review.service import ChangeWatcher, ReviewService

T = TypeVar("T")
Row = TypeVar("Row")
#: Rows per page: a screenful or three.
PAGE_SIZE = 100
Cancelled = Callable[[], bool]
Mode = Literal["after", "before", "end", "offset"]


class PageSource(Protocol[Row]):
    """Where a table's rows come from; every method runs in a worker thread."""

    def after(self, row: Any, limit: int, cancelled: Cancelled) -> list[Row]:
        """The ``limit`` rows that follow ``row`` in the listing."""

    def before(self, row: Any, limit: int, cancelled: Cancelled) -> list[Row]:
        """The ``limit`` rows that come just before ``row`` (in listing order)."""

    def last(self, limit: int, cancelled: Cancelled) -> list[Row]:
        """The listing's last ``limit`` rows (in listing order)."""

    def at(self, offset: int, limit: int, cancelled: Cancelled) -> list[Row]:
        """Rows ``offset .. offset + limit`` (a far jump: costs the offset)."""


class PagePlan(Record, Generic[T]):
    """How to fetch page ``page``: from ``anchor`` (a cached neighbour), the end, an offset."""

    page: int
    mode: Mode
    limit: int
    offset: int
    anchor: T | None
    _fields = ("page", "mode", "limit", "offset", "anchor")

    def __init__(
        self, page: int, mode: Mode, limit: int, offset: int = 0, anchor: T | None = None
    ) -> None:
        self.__dict__.update(page=page, mode=mode, limit=limit, offset=offset, anchor=anchor)

    def fetch(self, source: PageSource[T], cancelled: Cancelled) -> list[T]:
        if self.mode == "after" and self.anchor is not None:
            return source.after(self.anchor, self.limit, cancelled)
        if self.mode == "before" and self.anchor is not None:
            return source.before(self.anchor, self.limit, cancelled)
        if self.mode == "end":
            return source.last(self.limit, cancelled)
        return source.at(self.offset, self.limit, cancelled)


class PageCache(Generic[T]):
    """Rows by index, in pages; ``generation`` changes whenever the cache is invalidated."""

    def __init__(self, page_size: int = PAGE_SIZE, max_pages: int = 40) -> None:
        self.page_size = page_size
        self.max_pages = max_pages
        self.total = 0
        self.generation = 0
        self._pages: dict[int, list[T]] = {}
        self._loading: set[int] = set()

    def reset(self, total: int) -> None:
        """New data: forget every page (rows may have shifted)."""
        self.total = max(total, 0)
        self.generation += 1
        self._pages.clear()
        self._loading.clear()

    def resize(self, total: int) -> None:
        """The same rows, a corrected total (an exact count after an estimate): pages stay."""
        self.total = max(total, 0)

    def get(self, index: int) -> T | None:
        if index < 0 or index >= self.total:
            return None
        page = self._pages.get(index // self.page_size)
        if page is None:
            return None
        offset = index % self.page_size
        return page[offset] if offset < len(page) else None

    def page_of(self, index: int) -> int:
        return index // self.page_size

    def missing(self, first: int, last: int) -> list[int]:
        """Pages covering rows first..last that are neither cached nor being loaded."""
        if self.total == 0:
            return []
        first = max(first, 0)
        last = min(last, self.total - 1)
        pages = range(first // self.page_size, last // self.page_size + 1)
        return [p for p in pages if p not in self._pages and p not in self._loading]

    def plan(self, page: int) -> PagePlan[T]:
        """Choose the cheapest way to fetch ``page`` and mark it as loading."""
        self._loading.add(page)
        size = self.page_size
        start = page * size
        limit = min(size, self.total - start)
        prev = self._pages.get(page - 1)
        if prev and len(prev) == size:
            return PagePlan(page, "after", limit, start, prev[-1])
        nxt = self._pages.get(page + 1)
        if nxt:
            return PagePlan(page, "before", limit, start, nxt[0])
        if page == 0:
            return PagePlan(page, "offset", limit, 0)
        if start + limit >= self.total:
            return PagePlan(page, "end", limit, start)
        return PagePlan(page, "offset", limit, start)

    def store(self, generation: int, page: int, rows: list[T]) -> bool:
        """Keep a fetched page unless the cache was reset meanwhile; True if kept."""
        self._loading.discard(page)
        if generation != self.generation:
            return False
        self._pages[page] = rows
        if len(self._pages) > self.max_pages:
            far = max(self._pages, key=lambda p: abs(p - page))
            del self._pages[far]
        return True

    def failed(self, page: int) -> None:
        self._loading.discard(page)

    def rows(self) -> list[T]:
        """Cached rows in order (for tests and for finding a key on screen)."""
        return [r for p in sorted(self._pages) for r in self._pages[p]]


class ProposalSource:
    """Proposals matching a filter, in a listing order (see ReviewService.list_proposals)."""

    def __init__(
        self, service: ReviewService, flt: Filter | None = None, order: Order | None = None
    ) -> None:
        self.service = service
        self.filter = flt
        self.order = order or Order()

    def after(self, row: Proposal, limit: int, cancelled: Cancelled) -> list[Proposal]:
        key = self.service.order_key(row, self.order)
        return self.service.list_proposals(self.filter, after=key, limit=limit, order=self.order)

    def before(self, row: Proposal, limit: int, cancelled: Cancelled) -> list[Proposal]:
        key = self.service.order_key(row, self.order)
        return self.service.list_proposals(self.filter, before=key, limit=limit, order=self.order)

    def last(self, limit: int, cancelled: Cancelled) -> list[Proposal]:
        return self.service.list_proposals(
            self.filter, from_end=True, limit=limit, order=self.order
        )

    def at(self, offset: int, limit: int, cancelled: Cancelled) -> list[Proposal]:
        return self.service.proposals_at(offset, limit, self.filter, self.order)


class LogSource:
    """Log rows matching a filter, newest first; a cancelled read stops at once."""

    def __init__(self, service: ReviewService, flt: Filter | None = None) -> None:
        self.service = service
        self.filter = flt

    def after(self, row: LogEntry, limit: int, cancelled: Cancelled) -> list[LogEntry]:
        return self.service.list_log(self.filter, after=row.key, limit=limit, cancelled=cancelled)

    def before(self, row: LogEntry, limit: int, cancelled: Cancelled) -> list[LogEntry]:
        return self.service.list_log(self.filter, before=row.key, limit=limit, cancelled=cancelled)

    def last(self, limit: int, cancelled: Cancelled) -> list[LogEntry]:
        return self.service.list_log(self.filter, from_end=True, limit=limit, cancelled=cancelled)

    def at(self, offset: int, limit: int, cancelled: Cancelled) -> list[LogEntry]:
        return self.service.log_at(offset, limit, self.filter, cancelled=cancelled)


class Listing(Record):
    """What the table shows after a load: the total, the cursor and the cursor's page."""

    total: int
    index: int
    pages: dict[int, list[Proposal]]
    #: The rows inserted first, shown while the exact oldest-first page is read
    #: (ReviewService.first_inserted_pending); ``total`` is then just their number.
    provisional: bool
    _fields = ("total", "index", "pages", "provisional")

    def __init__(
        self, total: int, index: int, pages: dict[int, list[Proposal]], provisional: bool = False
    ) -> None:
        self.__dict__.update(total=total, index=index, pages=pages, provisional=provisional)


if TYPE_CHECKING:
    #: What preload_first_page reads: the change baseline and the first page (None on error).
    FirstPage = tuple[ChangeWatcher, Listing] | None


def read_listing(
    service: ReviewService,
    keep: Proposal | None,
    fallback: int,
    page_size: int,
    flt: Filter | None = None,
    order: Order | None = None,
) -> Listing:
    """Count the listed proposals, find ``keep``'s place, fetch the page it is on.

    The cursor stays on the proposal it was on (``keep``); when that one is
    no longer listed (decided, here or elsewhere) it goes to the first listed
    proposal after it, never to whatever now sits on its screen row. Both
    are one count of the rows before ``keep``'s key, which never changes.
    ``fallback`` (an index) only when there was no row. The cursor's page
    travels with the total, so the rows reach the screen in one step.
    """
    order = order or Order()
    total = service.count_proposals(flt)
    index = fallback if keep is None else service.proposal_rank(keep, flt, order)
    index = min(max(index, 0), max(total - 1, 0))
    page = index // page_size
    rows = service.proposals_at(page * page_size, page_size, flt, order) if total else []
    return Listing(total, index, {page: rows})


def preload_first_page(service: ReviewService) -> FirstPage:
    """The change baseline, then the first page of pending proposals; None on any error.

    On a large file tract-tui never indexed, the exact page is a full scan
    (0.6-0.85 s at 1.5M proposals): the first page is then the rows inserted
    first, marked provisional, and the console reads the exact one after its
    first frame. The baseline comes first, so no write after it goes unnoticed. It needs no
    Textual: ``run_console`` reads it in a thread while Textual is imported.
    On an error nothing is kept, and the app loads (and reports) as usual.
    """
    try:
        watcher = service.watcher()
    except Exception:
        return None
    try:
        first = service.first_inserted_pending(PAGE_SIZE)
        if first is not None:
            listing = Listing(len(first), 0, {0: first}, provisional=True)
        else:
            listing = read_listing(service, None, 0, PAGE_SIZE)
    except Exception:
        watcher.close()
        return None
    return watcher, listing
