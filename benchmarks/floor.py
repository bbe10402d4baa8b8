"""The launch floor of bench.py: a bare Textual app with a header, a footer and an empty table.

    python benchmarks/floor.py

The title ("floor-ready") is what bench.py waits for on screen; ``q`` quits.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header


class Floor(App[None]):
    TITLE = "floor-ready"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable()
        yield Footer()


if __name__ == "__main__":
    Floor().run()
