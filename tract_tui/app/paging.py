"""A page cache for virtual lists (no Textual): only the rows on screen are ever loaded.

The owner fetches pages in worker threads with :meth:`PageCache.plan`, which
says how to fetch a page cheaply: by keyset from a cached neighbour, from the
end, or (only for far jumps) by offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from tract_tui.exceptions import ProposalNotFoundError

if TYPE_CHECKING:
    from tract_tui.models.review import Proposal
    from tract_tui.review.service import ChangeWatcher, ReviewService

T = TypeVar("T")
#: Rows per page: a screenful or three.
PAGE_SIZE = 100


@dataclass(frozen=True)
class PagePlan:
    """How to fetch page ``page``: ``mode`` is after / before / end / offset."""

    page: int
    mode: str
    limit: int
    offset: int = 0
    anchor: object = None


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

    def plan(self, page: int) -> PagePlan:
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

    def index_where(self, predicate: object) -> int | None:
        """Index of the first cached row for which ``predicate(row)`` is true."""
        assert callable(predicate)
        for p in sorted(self._pages):
            for i, row in enumerate(self._pages[p]):
                if predicate(row):
                    return p * self.page_size + i
        return None


@dataclass(frozen=True)
class Listing:
    """What the table shows after a load: the total, the cursor and the cursor's page."""

    total: int
    index: int
    pages: dict[int, list[Proposal]]


def read_listing(
    service: ReviewService, keep_id: str | None, fallback: int, page_size: int
) -> Listing:
    """Count the pending proposals, find ``keep_id``'s row, fetch the page it is on.

    The cursor's page travels with the total, so the rows reach the screen in
    one step; the per-tract counts (a GROUP BY over every pending row) follow.
    """
    total = service.count_proposals()
    index = fallback
    if keep_id is not None:
        try:
            p = service.get_proposal(keep_id)
        except ProposalNotFoundError:
            p = None
        if p is not None and p.status == "pending":
            index = service.proposal_rank(p)
    page = min(max(index, 0), max(total - 1, 0)) // page_size
    rows = service.proposals_at(page * page_size, page_size) if total else []
    return Listing(total, index, {page: rows})


def preload_first_page(service: ReviewService) -> tuple[ChangeWatcher, Listing] | None:
    """The change baseline, then the first page of pending proposals; None on any error.

    The baseline comes first, so no write after it goes unnoticed. It needs no
    Textual: ``run_console`` reads it in a thread while Textual is imported.
    On an error nothing is kept, and the app loads (and reports) as usual.
    """
    try:
        watcher = service.watcher()
    except Exception:
        return None
    try:
        listing = read_listing(service, None, 0, PAGE_SIZE)
    except Exception:
        watcher.close()
        return None
    return watcher, listing
