"""Modal screens: the reject prompt, bulk confirmation, help and the error screen."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tract_tui.app.render import safe

MODAL_CSS = """
{name} {{ align: center middle; background: $background 60%; }}
{name} > Vertical {{
    width: 72; height: auto; max-height: 90%;
    border: thick $primary; background: $surface; padding: 1 2;
}}
{name} .title {{ text-style: bold; margin-bottom: 1; }}
{name} .hint {{ color: $text-muted; margin-top: 1; }}
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

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """Ask once before a bulk decision; y/Enter confirms, n/Escape cancels."""

    DEFAULT_CSS = MODAL_CSS.format(name="ConfirmScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "confirm", "Yes"),
        Binding("n,escape", "cancel", "No"),
    ]

    def __init__(self, title: str, body: Text) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text), classes="title")
            yield Static(self.body)
            yield Static("y / Enter: go ahead · n / Escape: cancel", classes="hint")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


KEYS: list[tuple[str, str]] = [
    ("a", "approve the highlighted proposal (or the marked ones)"),
    ("r", "reject, with an optional reason (Enter rejects, Escape cancels)"),
    ("space", "mark / unmark the highlighted proposal for a bulk decision"),
    ("u", "undo this session's last decision (back to pending)"),
    ("j / k, ↓ / ↑", "move the cursor"),
    ("g / G", "first / last row"),
    ("PgUp / PgDn", "page up / down"),
    ("1 / 2", "proposals / policy log"),
    ("/", "edit the log filter"),
    ("Escape", "leave the filter, back to the table"),
    ("?", "this help"),
    ("q", "quit"),
]

FILTER_HELP = (
    "Filter terms: policy:NAME tract:ID outcome:X trigger:X action:X since:WHEN until:WHEN "
    "and free words (searched in reason and error). Quote values with spaces; a leading - "
    "negates a term. WHEN: 2026-02-18, 2026-02-18T10:20, or 90s / 30m / 2h / 3d."
)


class HelpScreen(ModalScreen[None]):
    """The key table."""

    DEFAULT_CSS = MODAL_CSS.format(name="HelpScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        body = Text()
        for key, what in KEYS:
            body.append(f"{key:>14}  ", style="bold")
            body.append(f"{what}\n")
        body.append("\n")
        body.append(FILTER_HELP, style="italic")
        with Vertical():
            yield Static("tract-tui keys", classes="title")
            yield Static(body)
            yield Static("Escape closes", classes="hint")

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
