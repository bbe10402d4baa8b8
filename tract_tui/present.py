"""How tract-tui presents its data, once, for both front ends (no Textual here).

The console and the command line show the same proposals and log rows; what
they share is decided here so the two cannot drift: the colour of each
status and outcome, how params are printed (and up to what size), how a
block of untrusted text is cut, how times and ages read, the table columns,
and the help text made from the filter grammar and the key bindings. Every
string from the database still goes through :mod:`tract_tui.text`
(``printable``), the single rule for untrusted text.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tract_tui.models.record import Record
from tract_tui.models.review import Proposal
from tract_tui.review.filters import (
    CONTEXT_KEYS,
    KEY_DOCS,
    KEY_NOUNS,
    SYNTAX_DOC,
    WHEN_DOC,
    WORD_DOCS,
)
from tract_tui.text import one_line, printable

if TYPE_CHECKING:
    from tract_tui.models.context import Context, ContextMessage, Effect

#: The style of each status (proposals) and outcome (log rows), as Rich style words.
STATUS_STYLES: dict[str, str] = {
    "pending": "yellow",
    "proposed": "yellow",
    "approved": "green",
    "executing": "cyan",
    "executed": "green",
    "rejected": "red",
    "error": "bold red",
    "expired": "magenta",
    "reopened": "cyan",
    "skipped": "dim",
    "conflict": "bold red",
}
#: SGR codes of the style words the CLI uses (it writes its own escapes: no Rich console).
_SGR = {
    "bold": "1",
    "dim": "2",
    "italic": "3",
    "underline": "4",
    "reverse": "7",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}

#: Params longer than this are shown as their raw text: pretty-printing megabytes only
#: to show the first part of them would stall the screen.
MAX_PRETTY_PARAMS = 200_000
#: The most characters of one text block (a reason, params, content) a view shows.
MAX_BLOCK = 20_000
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: How far in the future a row's time may be before it is pointed out (clock or time-zone skew).
FUTURE_SLACK_SECONDS = 60


def style_of(status: str | None) -> str:
    return STATUS_STYLES.get(status or "", "")


def sgr(style: str) -> str:
    """The ANSI SGR parameters of a style string ("bold red" -> "1;31"); "" if none known."""
    return ";".join(_SGR[w] for w in style.split() if w in _SGR)


def show_time(value: datetime | None, raw: object = "") -> str:
    """A stored time to the second (no microseconds), or the stored text when it is not a time."""
    if value is not None:
        return value.strftime(TIME_FORMAT)
    return printable("" if raw is None else str(raw))


def age(created: datetime | None, now: datetime) -> str:
    """Compact age: 45s, 12m, 3h, 5d, 7w; a time in the future reads ``+5m`` (clock skew)."""
    if created is None:
        return "?"
    seconds = int((now - created).total_seconds())
    if seconds < -FUTURE_SLACK_SECONDS:
        return "+" + age(now, created)
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    if seconds < 86400 * 14:
        return f"{seconds // 86400}d"
    return f"{seconds // (86400 * 7)}w"


def future_note(created: datetime | None, now: datetime) -> str | None:
    """A sentence when ``created`` lies more than a minute ahead of ``now``, else None.

    tract stores naive local times, so a reviewer in another time zone than
    the agent (or a skewed clock) sees rows "from the future"; their age
    would silently be wrong, so it is said instead.
    """
    if created is None:
        return None
    ahead = (created - now).total_seconds()
    if ahead <= FUTURE_SLACK_SECONDS:
        return None
    return (
        f"created {age(now, created)} in the future by this machine's clock: the agent's "
        "clock or time zone differs (tract stores local times without a zone)"
    )


def block(text: str | None, *, limit: int = MAX_BLOCK, what: str = "characters") -> str:
    """Untrusted multi-line text made printable: tabs expanded, cut with a note past ``limit``."""
    if not text:
        return ""
    more = len(text) - limit
    if more > 0:
        text = f"{text[:limit]}\n… ({more:,} more {what} not shown)"
    return printable(text.replace("\r\n", "\n").expandtabs(4), newlines=True)


def params_text(p: Proposal) -> tuple[str, str | None]:
    """(the params to show, why they are shown raw or None): pretty JSON when it parsed.

    The same text and the same size limit for the console's detail and ``show``.
    """
    raw = p.params_raw
    if raw is None:
        return "null", None
    if p.params_valid and len(raw) <= MAX_PRETTY_PARAMS:
        try:
            return json.dumps(p.params, indent=2, ensure_ascii=False), None
        except (RecursionError, ValueError):
            return raw, "could not be printed as JSON"
    if p.params_valid:
        return raw, f"{len(raw):,} characters; shown raw"
    return raw, f"{p.params_problem}; shown raw"


# --- tables ------------------------------------------------------------------------


def _no_cell(_row: Any) -> str | None:
    return None


class Column(Record):
    """A table column, for the console's table and the CLI's alike.

    ``get`` returns the raw (untrusted) cell text of a row; ``width`` 0 means
    "take what is left"; ``cap`` is the most a sized column takes in the
    CLI; ``drop`` orders which columns give way first on a narrow screen
    (0 never, higher first); ``style`` gives a row's cell style.
    """

    title: str
    get: Callable[[Any], str | None]
    width: int
    min_width: int
    cap: int
    drop: int
    style: Callable[[Any], str | None] | None
    #: A sized column may grow up to this many cells when the flexible one has plenty.
    max_width: int
    _fields = ("title", "get", "width", "min_width", "cap", "drop", "style", "max_width")

    def __init__(
        self,
        title: str,
        get: Callable[[Any], str | None] = _no_cell,
        width: int = 0,
        min_width: int = 8,
        cap: int = 24,
        drop: int = 0,
        style: Callable[[Any], str | None] | None = None,
        max_width: int = 0,
    ) -> None:
        self.__dict__.update(
            title=title,
            get=get,
            width=width,
            min_width=min_width,
            cap=cap,
            drop=drop,
            style=style,
            max_width=max_width,
        )


#: Cells a flexible column keeps before sized columns may grow (see Column.max_width).
COMFORTABLE = 60


def fit_columns(columns: list[Column], total: int) -> list[tuple[Column, int]]:
    """The columns that fit in ``total`` cells, with their widths (flexible ones share the rest).

    Columns with the highest ``drop`` go first until the fixed ones and the
    flexible ones' minimum fit; one space separates two columns.
    """
    shown = list(columns)
    while True:
        fixed = sum(c.width for c in shown if c.width) + len(shown)
        flex = [c for c in shown if not c.width]
        need = fixed + sum(c.min_width for c in flex)
        droppable = [c for c in shown if c.drop]
        if need <= total or not droppable:
            break
        shown.remove(max(droppable, key=lambda c: c.drop))
    rest = max(total - fixed, 0)
    share = rest // max(len(flex), 1)
    widths = {id(c): c.width or max(share, c.min_width) for c in shown}
    spare = share - COMFORTABLE if flex else 0
    for c in shown:  # a wide screen: the sized columns stop cutting names short
        if spare <= 0:
            break
        if c.width and c.max_width > c.width:
            grow = min(c.max_width - c.width, spare)
            widths[id(c)] += grow
            spare -= grow
            for f in flex:
                widths[id(f)] -= grow // len(flex)
    return [(c, widths[id(c)]) for c in shown]


# --- help ----------------------------------------------------------------------------


class KeyBinding(Protocol):
    """What help needs of a key binding (Textual's Binding has these)."""

    key: str
    description: str
    show: bool


def filter_help(context: str | None = None) -> list[tuple[str, str]]:
    """(term, what it matches) for the filter language, from the grammar itself."""
    keys = CONTEXT_KEYS.get(context or "", tuple(KEY_DOCS))
    rows = [(f"{k}:WHEN" if k in ("since", "until") else f"{k}:VALUE", KEY_DOCS[k]) for k in keys]
    where = WORD_DOCS.get(context or "", "the reason (log: or the error message)")
    rows.append(("word", f"appears in {where}, case-insensitively"))
    return rows


def filter_help_text(context: str | None = None, indent: str = "  ") -> str:
    """The filter language as a few lines of plain text (the CLI's --help, the console's help)."""
    width = max(len(term) for term, _ in filter_help(context))
    lines = [f"{indent}{term:<{width}}  {what}" for term, what in filter_help(context)]
    notes = [f"{indent}{line}" for line in (*SYNTAX_DOC.split("\n"), WHEN_DOC)]
    return "\n".join([*lines, *notes])


def no_match_hint(word: str, key: str, suggestion: str, context: str) -> tuple[str, str]:
    """What a filter that found nothing is told when its free ``word`` is a value of ``key``.

    Both front ends say it (the console under its empty list, the CLI on stderr):
    the term meant, written as each takes it (``suggestion``), and why the word
    alone found nothing. The caller makes ``word`` and ``suggestion`` printable.
    """
    return (
        f"'{word}' is a {KEY_NOUNS[key]}: try {suggestion}",
        f"(free words search only {WORD_DOCS[context]})",
    )


def key_label(key: str) -> str:
    """How a key is written for a person: ``question_mark`` -> ``?``, ``ctrl+c`` -> ``Ctrl+C``."""
    names = {
        "question_mark": "?",
        "asterisk": "*",
        "slash": "/",
        "space": "Space",
        "escape": "Escape",
        "enter": "Enter",
        "tab": "Tab",
        "shift+tab": "Shift+Tab",
        "up": "↑",
        "down": "↓",
        "pageup": "PgUp",
        "pagedown": "PgDn",
        "home": "Home",
        "end": "End",
        "plus": "+",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
    }
    if key in names:
        return names[key]
    if key.startswith("ctrl+"):
        return "Ctrl+" + key[5:].upper()
    return key


def key_help(
    groups: Iterable[tuple[str, Iterable[KeyBinding]]],
) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group title, [(keys, what they do)]) from the bindings themselves.

    Bindings with the same description are merged (``j / ↓``), so the help
    screen lists every key a view answers to and never drifts from them.
    """
    out = []
    for title, bindings in groups:
        merged: dict[str, list[str]] = {}
        for b in bindings:
            labels = [key_label(k.strip()) for k in b.key.split(",")]
            merged.setdefault(b.description, []).extend(labels)
        out.append((title, [(" / ".join(dict.fromkeys(keys)), d) for d, keys in merged.items()]))
    return out


# --- the context a proposal changes ---------------------------------------------------


def context_diff(before: Context, after: Context) -> list[tuple[str, ContextMessage]]:
    """The after context as a diff of the before one: ("=", kept), ("-", gone), ("+", new).

    Messages are matched by role and content (a pinned commit a compression
    commits again is the same message to the agent), in order.
    """
    a = [(m.role, m.content) for m in before.messages]
    b = [(m.role, m.content) for m in after.messages]
    out: list[tuple[str, ContextMessage]] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out += [("=", m) for m in before.messages[i1:i2]]
            continue
        out += [("-", m) for m in before.messages[i1:i2]]
        out += [("+", m) for m in after.messages[j1:j2]]
    return out


class Fold(Record):
    """Messages of one run left out of a compact diff: how many, and their tokens."""

    count: int
    tokens: int
    unchanged: bool
    _fields = ("count", "tokens", "unchanged")

    def __init__(self, count: int, tokens: int, unchanged: bool) -> None:
        self.__dict__.update(count=count, tokens=tokens, unchanged=unchanged)

    def text(self) -> str:
        word = "unchanged" if self.unchanged else "more"
        return f"… {self.count} {word} ({self.tokens} tokens)"


def fold_diff(
    diff: list[tuple[str, ContextMessage]],
) -> list[tuple[str, ContextMessage | Fold]]:
    """A compact diff, for the detail pane and ``show``: every change stays in view.

    An unchanged stretch shows its two edges (where the change starts and
    ends); a long removed or added stretch its first two and last message,
    with a count and token sum between, so a 400-message compression is
    four lines.
    """
    out: list[tuple[str, ContextMessage | Fold]] = []
    runs: list[tuple[str, list[ContextMessage]]] = []
    for op, m in diff:
        if runs and runs[-1][0] == op:
            runs[-1][1].append(m)
        else:
            runs.append((op, [m]))
    for op, run in runs:
        head = 1 if op == "=" else 2
        if len(run) <= head + 2:
            out += [(op, m) for m in run]
            continue
        folded = run[head:-1]
        out += [(op, m) for m in run[:head]]
        out.append((op, Fold(len(folded), sum(m.tokens or 0 for m in folded), op == "=")))
        out.append((op, run[-1]))
    return out


def first_line(text: str, width: int = 80) -> str:
    """A message's first non-blank line, one line, cut to ``width``."""
    for line in text.splitlines():
        if line.strip():
            return one_line(line.strip(), width)
    return ""


def message_line(m: ContextMessage, width: int = 80) -> str:
    """role, tokens and first line of a message, for a diff or a list."""
    tokens = "?" if m.tokens is None else str(m.tokens)
    head = f"{m.role:<9} {tokens:>5}t  "
    return head + first_line(m.content, max(width - len(head), 10))


def effect_headline(effect: Effect) -> str:
    """The verdict a reviewer reads first (the failure when it will fail)."""
    return effect.summary


def context_line(effect: Effect) -> str:
    """Which context the effect is on, and its size before and after."""
    before, after = effect.context_before, effect.context_after
    where = f"on {effect.branch}" if effect.branch else "(detached HEAD)"
    tokens = "?" if before.tokens is None else str(before.tokens)
    line = f"context {where}: {len(before.messages)} messages, {tokens} tokens"
    if after is not None and after != before:
        known = sum(m.tokens or 0 for m in after.messages)
        unknown = sum(1 for m in after.messages if m.tokens is None)
        after_tokens = f"{known} tokens" + (" + the summary's" if unknown else "")
        line += f" → {len(after.messages)} messages, {after_tokens}"
    return line
