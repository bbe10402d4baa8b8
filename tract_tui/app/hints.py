"""What an empty filtered list says when a free word names a policy, a tract, a status...

Free words match only the reason (and a log row's error message): typed
alone, a policy's name finds nothing, and "No proposals match this filter."
does not say why. When a filter found no row and one of its free words is a
value of a key in this file, the list's empty line gains the term that was
probably meant (``policy:auto-compress``). The lookup runs in a worker after
the empty list is drawn, once per filter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tract_tui.app.render import safe
from tract_tui.present import no_match_hint
from tract_tui.review.filters import Filter

if TYPE_CHECKING:
    from tract_tui.app.table import VirtualTable
    from tract_tui.review.service import ReviewService


def hint_lines(word: str, key: str, term: str, context: str) -> str:
    """The lines under the empty text: the term meant, and why the word found nothing."""
    return "\n".join(no_match_hint(safe(word), key, safe(term), context))


def explain_no_match(
    table: VirtualTable,
    service: ReviewService,
    flt: Filter,
    context: str,
    base: str,
    shown: Callable[[], Filter],
) -> None:
    """After ``flt`` found no row: add the hint (if any) to ``table``'s empty text ``base``.

    ``shown`` returns the filter on screen when the answer comes: a newer
    filter, or rows that arrived meanwhile, drop it. The answer is kept for
    the filter, so a live reload of the same empty list does not ask again.
    """
    if not flt.words or table.row_count:
        return
    cached = table.empty_hint
    if cached is not None and cached[0] == flt:
        table.empty_text = base + cached[1]
        table.refresh()
        return

    def done(found: tuple[str, str, str] | None) -> None:
        extra = "" if found is None else "\n" + hint_lines(*found, context)
        table.empty_hint = (flt, extra)
        if shown() == flt and not table.row_count:
            table.empty_text = base + extra
            table.refresh()

    def lookup(_cancelled: Callable[[], bool]) -> tuple[str, str, str] | None:
        found = service.filter_hint(flt, context)
        return None if found is None else (found[0], str(found[1].key), found[1].to_text())

    table.call_service(lookup, done, group="empty-hint")
