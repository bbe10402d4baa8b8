"""TabBar: the two views' tabs drawn by one widget.

Textual's TabbedContent is a dozen widgets (tabs, scroll containers, an
animated underline, panes), each styled and laid out before the first frame:
a measurable part of the launch (benchmarks/bench.py). The console has fixed tabs, so one
widget draws them (a label line and an underline, as Textual's Tabs look) and
a ContentSwitcher shows the view.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


class TabBar(Widget):
    """Tab labels over an underline; a click on a label (or its underline) activates it."""

    DEFAULT_CSS = """
    TabBar { height: 2; width: 1fr; }
    TabBar > .tabbar--active { color: $foreground; text-style: bold; }
    TabBar > .tabbar--inactive { color: $foreground 50%; }
    TabBar > .tabbar--bar { color: $block-cursor-background; background: $foreground 10%; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tabbar--active",
        "tabbar--inactive",
        "tabbar--bar",
    }

    active: reactive[str] = reactive("", layout=False)

    class Activated(Message):
        """A tab was clicked (the app decides what showing it means)."""

        def __init__(self, tab: str) -> None:
            super().__init__()
            self.tab = tab

    def __init__(self, tabs: list[tuple[str, str]], active: str, *, id: str | None = None) -> None:
        """``tabs``: (id, label) pairs, in order."""
        super().__init__(id=id)
        self.tabs = tabs
        self.set_reactive(TabBar.active, active)

    def _spans(self) -> list[tuple[int, int, str]]:
        """(first cell, end cell, tab id) of each label, padding included."""
        spans, x = [], 0
        for tab_id, label in self.tabs:
            width = len(label) + 2
            spans.append((x, x + width, tab_id))
            x += width
        return spans

    def render(self) -> Text:
        active_style = self.get_component_rich_style("tabbar--active")
        inactive_style = self.get_component_rich_style("tabbar--inactive")
        bar = self.get_component_rich_style("tabbar--bar")
        text = Text(no_wrap=True, overflow="crop", end="")
        for tab_id, label in self.tabs:
            text.append(f" {label} ", active_style if tab_id == self.active else inactive_style)
        text.append("\n")
        width = max(self.size.width, 1)
        lit = Style.from_color(bar.color)
        unlit = Style.from_color(bar.bgcolor)
        for start, end, tab_id in self._spans():
            text.append("━" * (end - start), lit if tab_id == self.active else unlit)
        used = self._spans()[-1][1] if self.tabs else 0
        text.append("━" * max(width - used, 0), unlit)
        return text

    def on_click(self, event: events.Click) -> None:
        for start, end, tab_id in self._spans():
            if start <= event.x < end:
                event.stop()
                self.post_message(self.Activated(tab_id))
                return
