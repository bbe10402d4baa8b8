"""Modal screens: the reject prompt, confirmations, help, the zoomed detail, the error screen."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from tract_tui.app.render import safe
from tract_tui.present import KeyBinding, filter_help, key_help

MODAL_CSS = """
{name} {{ align: center middle; background: $background 60%; }}
{name} > Vertical {{
    width: 76; max-width: 100%; height: auto; max-height: 100%;
    border: thick $primary; background: $surface; padding: 0 2;
}}
{name} .title {{ text-style: bold; margin: 1 0; }}
{name} .hint {{ color: $text-muted; margin: 1 0; }}
"""


class RejectPrompt(ModalScreen[str | None]):
    """Ask for an optional reason: Enter rejects (returns the text), Escape cancels (None)."""

    DEFAULT_CSS = MODAL_CSS.format(name="RejectPrompt")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Reject {self.what}"), classes="title")
            yield Input(placeholder="reason (optional)", id="reason")
            yield Static("Enter rejects · Escape cancels", classes="hint")

    def on_mount(self) -> None:
        if self.app.is_headless:  # deterministic screenshots: no blinking cursor
            self.query_one(Input).cursor_blink = False

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def on_key(self, event: events.Key) -> None:
        """Keys that came before the box had the focus (typed fast after ``r``, or pasted)
        belong in it: they were lost, and the reason started mid-word."""
        box = self.query_one("#reason", Input)
        if event.is_printable and event.character is not None:  # the box takes all of these
            event.stop()
            box.insert_text_at_cursor(event.character)
            box.focus()
        elif event.key == "enter" and self.focused is not box:  # not the box's own Enter
            event.stop()
            self.dismiss(box.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """Ask once before a bulk or destructive decision; y/Enter confirms, n/Escape cancels."""

    DEFAULT_CSS = (
        MODAL_CSS.format(name="ConfirmScreen")
        + """
    ConfirmScreen #confirm-body { height: auto; max-height: 20; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "confirm", "Yes"),
        Binding("n,escape", "cancel", "No"),
    ]

    def __init__(self, title: str, body: Text, hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.hint = hint or "y / Enter: go ahead · n / Escape: cancel"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text), classes="title")
            with VerticalScroll(id="confirm-body"):
                yield Static(self.body)
            yield Static(self.hint, classes="hint")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


def help_text(groups: Iterable[tuple[str, Iterable[KeyBinding]]]) -> Text:
    """Every key of every view (made from the bindings themselves), then the filter language."""
    body = Text()
    for title, rows in key_help(groups):
        if not rows:
            continue
        body.append(f"{title}\n", style="bold underline")
        for keys, what in rows:
            body.append(f"{keys:>16}  ", style="bold")
            body.append(f"{what}\n")
        body.append("\n")
    body.append("Filter language (/ in a list)\n", style="bold underline")
    for term, what in filter_help():
        body.append(f"{term:>16}  ", style="bold")
        body.append(f"{what}\n")
    body.append(
        "\nQuotes group spaces; a leading - negates a term; terms of one key are OR-ed.\n"
        "WHEN: 2026-02-18, 2026-02-18T10:20, or an age: 90s 30m 2h 3d 1w.",
        style="italic",
    )
    return body


class HelpScreen(ModalScreen[None]):
    """The key table: every binding of every view, and the filter language; it scrolls."""

    DEFAULT_CSS = (
        MODAL_CSS.format(name="HelpScreen")
        + """
    HelpScreen > Vertical { width: 90; height: 100%; }
    HelpScreen #help-body { height: 1fr; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close"),
        Binding("down,j", "scroll('down')", "Scroll down", show=False),
        Binding("up,k", "scroll('up')", "Scroll up", show=False),
    ]

    def __init__(self, groups: Iterable[tuple[str, Iterable[KeyBinding]]]) -> None:
        super().__init__()
        self.body = help_text(groups)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("tract-tui keys", classes="title")
            with VerticalScroll(id="help-body"):
                yield Static(self.body)
            yield Static("↑ ↓ PgUp PgDn scroll · Escape closes", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_scroll(self, direction: str) -> None:
        body = self.query_one("#help-body", VerticalScroll)
        body.scroll_relative(y=1 if direction == "down" else -1, animate=False)

    def action_close(self) -> None:
        self.dismiss(None)


class ZoomScreen(Screen[None]):
    """One proposal or log row in full, on the whole screen; it scrolls."""

    DEFAULT_CSS = """
    ZoomScreen #zoom-title { dock: top; height: 1; background: $panel; padding: 0 1;
                             text-style: bold; }
    ZoomScreen #zoom-body { padding: 0 1; }
    ZoomScreen #zoom-hint { dock: bottom; height: 1; color: $text-muted; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,enter,plus", "close", "Back"),
        Binding("down,j", "scroll(1)", "Scroll down", show=False),
        Binding("up,k", "scroll(-1)", "Scroll up", show=False),
        Binding("pagedown,space", "page(1)", "Page down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("home,g", "top", "Top", show=False),
        Binding("end,G", "bottom", "Bottom", show=False),
    ]

    def __init__(self, title: str, body: Text | None = None) -> None:
        """``body`` None: the screen opens at once and says it is reading; ``fill`` it later.

        Opened before its content is read, it takes the keys typed right after
        the Enter that asked for it: they once went to the list below and an
        ``a`` typed fast approved the proposal being zoomed.
        """
        super().__init__()
        self.title_text = title
        self.body = body if body is not None else Text("reading…", style="dim")

    def fill(self, title: str, body: Text) -> None:
        """The content, once read (before or after the screen was composed)."""
        self.title_text, self.body = title, body
        for widget in self.query("#zoom-title").results(Static):
            widget.update(Text(title))
        for widget in self.query("#zoom-text").results(Static):
            widget.update(body)

    def failed(self, error: BaseException) -> None:
        """The content could not be read: close, and say why."""
        from tract_tui.app.workers import report_error

        if self.is_attached and self in self.app.screen_stack:
            self.dismiss(None)
        report_error(self.app, error)

    @classmethod
    def open_reading(
        cls, host: Any, title: str, load: Callable[[Any], tuple[str, Text]], group: str
    ) -> None:
        """Open a zoom now and fill it with ``load``'s (title, body), read by ``host``
        (a ServiceCalls widget or app) in a worker: the keys typed next are the zoom's."""
        screen = cls(title)
        host.app.push_screen(screen)
        host.call_service(load, lambda z: screen.fill(*z), group=group, failed=screen.failed)

    def compose(self) -> ComposeResult:
        yield Static(Text(self.title_text), id="zoom-title")
        with VerticalScroll(id="zoom-body"):
            yield Static(self.body, id="zoom-text")
        yield Static("↑ ↓ PgUp PgDn g G scroll · Escape / Enter back", id="zoom-hint")

    def on_mount(self) -> None:
        self.query_one("#zoom-body").focus()

    def _scroller(self) -> VerticalScroll:
        return self.query_one("#zoom-body", VerticalScroll)

    def action_scroll(self, lines: int) -> None:
        self._scroller().scroll_relative(y=lines, animate=False)

    def action_page(self, pages: int) -> None:
        body = self._scroller()
        body.scroll_relative(y=pages * max(body.size.height - 1, 1), animate=False)

    def action_top(self) -> None:
        self._scroller().scroll_home(animate=False)

    def action_bottom(self) -> None:
        self._scroller().scroll_end(animate=False)

    def action_close(self) -> None:
        self.dismiss(None)


class ErrorScreen(ModalScreen[None]):
    """A database that cannot be opened: the one-line reason, then quit."""

    DEFAULT_CSS = (
        MODAL_CSS.format(name="ErrorScreen")
        + """
    ErrorScreen > Vertical { border: thick $error; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "close", "Quit")]

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Cannot open the database", classes="title")
            yield Static(Text(safe(self.message)))
            yield Static("q / Enter / Escape quits", classes="hint")

    def action_close(self) -> None:
        self.app.exit(return_code=2, message=safe(self.message))
