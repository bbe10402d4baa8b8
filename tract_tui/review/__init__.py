"""The review service: the rules of reviewing, shared by the console, the CLI and agents."""

from tract_tui.review.filters import Filter, parse_filter
from tract_tui.review.service import ChangeWatcher, ReviewService

__all__ = ["ChangeWatcher", "Filter", "ReviewService", "parse_filter"]
