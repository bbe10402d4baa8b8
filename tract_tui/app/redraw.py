"""Redrawing no more than what changed: a focus change, a line of text (issue 14).

Two Textual defaults each redrew far more than they changed, inside the keys
benchmarks/bench.py times (a filter applied with Enter, the first ``2``, a
decision):

- ``Screen.focused`` is a plain ``Reactive``, so each focus change repaints
  the whole screen: every widget's every line composed again, 30-37 ms at
  120x36 measured at 100k log rows. What a focus change alters on screen is
  the look of the widgets whose focus changed, and Textual restyles those
  (with their ``:focus`` and ``:focus-within`` relatives) in
  ``Screen._update_focus_styles``, and they repaint themselves.
  :class:`MainScreen` declares the reactive without the repaint; its watcher
  (the footer's bindings) is Textual's own. tests/test_redraw.py fails if
  Textual stops declaring ``focused`` this way.
- ``Static.update`` lays out the whole screen (and then redraws all of it,
  15-25 ms) unless told the size cannot change. :func:`update_steady` tells it
  so when the new text needs the same height as the old.
"""

from __future__ import annotations

from textual.reactive import Reactive
from textual.screen import Screen
from textual.visual import VisualType
from textual.widget import Widget
from textual.widgets import Static


class MainScreen(Screen[object]):
    """The console's one non-modal screen (the views, the tab bar, the footer)."""

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)


def update_steady(widget: Static, content: VisualType) -> None:
    """``widget.update(content)``, laying the screen out only if the new text changes its size.

    For a line whose width its CSS sets (the default): a fixed height never
    changes; an ``auto`` one changes when the text wraps to another number of
    lines at the width it has now. An ``auto`` width, or a widget not laid out
    yet, always lays out.
    """
    width = widget.content_size.width
    styles = widget.styles
    if not width or (styles.width is not None and styles.width.is_auto):
        widget.update(content)
        return
    if styles.height is not None and not styles.height.is_auto:
        widget.update(content, layout=False)
        return
    container, viewport = widget.container_size, widget.app.size
    before = widget.get_content_height(container, viewport, width)
    widget.update(content, layout=False)
    if widget.get_content_height(container, viewport, width) != before:
        widget.refresh(layout=True)
