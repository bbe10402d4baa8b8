"""``list --json`` and ``log --json``: every matching row, streamed from one cursor."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import TYPE_CHECKING

from tract_tui.cli.output import dump_json
from tract_tui.review.filters import Filter

if TYPE_CHECKING:
    from tract_tui.review.service import ReviewService


def proposals_json(
    svc: ReviewService, flt: Filter, limit: int, *, ascii_only: bool
) -> Iterator[str]:
    rows = svc.stream_proposals(flt)
    for p in islice(rows, limit) if limit else rows:
        yield dump_json(p.to_json(), ascii_only=ascii_only)


def log_json(svc: ReviewService, flt: Filter, limit: int, *, ascii_only: bool) -> Iterator[str]:
    rows = svc.stream_log(flt)
    for e in islice(rows, limit) if limit else rows:
        yield dump_json(e.to_json(), ascii_only=ascii_only)
