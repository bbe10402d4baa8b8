"""CoalescingFooter: Textual's Footer, rebuilt at most once per frame.

Textual's Footer queues a full recompose (tens of milliseconds) for every
``refresh_bindings``; focus, the tabs and the first rows ask for several
right after launch, and a decision asks for two or three. It
overrides Footer internals (``bindings_changed``, ``_bindings_ready``);
tests/test_structure.py fails loudly if a Textual release renames them.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class CoalescingFooter(Footer):
    """A Footer that rebuilds once per frame, however often the bindings change."""

    _recompose_queued = False

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._recompose_queued:
            self._recompose_queued = True
            self.call_after_refresh(self._queued_recompose)

    async def _queued_recompose(self) -> None:
        self._recompose_queued = False  # a change from now on queues another
        await self.recompose()
