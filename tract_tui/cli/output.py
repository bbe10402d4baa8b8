"""Where a command writes: tables for people, JSON for programs, one line per error.

Text from the database goes through :mod:`tract_tui.text` before it
reaches a table; ``--json`` carries it exactly (JSON-escaped, with the few
characters a terminal would act on escaped too). Output degrades to what
the stream can encode (``PYTHONIOENCODING=ascii``): a report is never lost
because a decoration could not be printed after the decision was made.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import shutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import IO, Any

from tract_tui.present import Column, sgr
from tract_tui.text import cell_width, fit, one_line

PROG = "tract-tui"
# Characters json.dumps(ensure_ascii=False) leaves raw but a terminal might act on
# (DEL, C1 controls, line separators, bidi overrides and marks, lone surrogates):
# escaped as \uXXXX, which decodes to the very same string.
_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\u00ad\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u206f"
    "\ufeff\ud800-\udfff]"
)
#: What our own decorations become on a stream that cannot encode them.
_PLAIN = str.maketrans(
    {
        "…": "...",
        "·": "-",
        "⏎": "|",
        "→": "->",
        "─": "-",
        "│": "|",
        "✓": "ok",
        "⚠": "!",
        "\u2212": "-",
        "␛": "^[",
    }
)


def color_wanted(stream: IO[str]) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org) or TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _encoding(stream: IO[str]) -> str:
    name = getattr(stream, "encoding", None) or "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def degrade(text: str, encoding: str) -> str:
    """``text`` as ``encoding`` can carry it: decorations made plain, the rest escaped."""
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        plain = text.translate(_PLAIN)
        return plain.encode(encoding, "backslashreplace").decode(encoding)


class Output:
    """Where a command writes, and whether it may use colour escapes."""

    def __init__(self, stream: IO[str] | None = None, *, color: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.color = color_wanted(self.stream) if color is None else color
        self.encoding = _encoding(self.stream)
        self.unicode = self.encoding in ("utf-8", "utf-16", "utf-32", "utf-8-sig")

    def style(self, text: str, style: str | None) -> str:
        """``text`` (already printable) wrapped in our own SGR codes when colour is on."""
        codes = sgr(style or "")
        if not self.color or not codes or not text:
            return text
        return f"\x1b[{codes}m{text}\x1b[0m"

    def write(self, text: str) -> None:
        self.stream.write(text if self.unicode else degrade(text, self.encoding))

    def line(self, text: str = "") -> None:
        self.write(text + "\n")

    def json(self, value: Any) -> None:
        self.line(dump_json(value, ascii_only=not self.unicode))

    def json_array(self, items: Iterable[str | list[str]]) -> None:
        """Stream one JSON array of already-encoded objects, one per line, holding none.

        Lines are gathered into writes of about 64 kB (a write per piece cost
        more than encoding them). An item may come in pieces (a list of
        strings): a piece of that size or more is written as it is, so a row
        of megabytes is not first joined into one more copy of itself.
        """
        write = self.stream.write
        buf: list[str] = ["["]
        held = 0
        sep = "\n"
        for item in items:
            buf.append(sep)
            sep = ",\n"
            for piece in (item,) if isinstance(item, str) else item:
                if len(piece) >= JSON_WRITE_CHUNK:
                    write("".join(buf))
                    buf, held = [], 0
                    write(piece)
                else:
                    buf.append(piece)
                    held += len(piece)
            if held >= JSON_WRITE_CHUNK:
                write("".join(buf))
                buf, held = [], 0
        buf.append("]\n" if sep == "\n" else "\n]\n")
        write("".join(buf))


#: ``json_array`` writes about this many characters at a time.
JSON_WRITE_CHUNK = 65536


def dump_json(value: Any, *, ascii_only: bool = False) -> str:
    """JSON that carries every string exactly yet puts no raw control character on a terminal."""
    if ascii_only:
        return json.dumps(value, ensure_ascii=True)
    return escape_json_text(json.dumps(value, ensure_ascii=False))


def escape_json_text(text: str) -> str:
    """Valid JSON text with the characters a terminal would act on written as ``\\uXXXX``."""
    if _JSON_UNSAFE.search(text) is None:
        return text  # the common case: no copy
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def error_line(message: str, prog: str = PROG) -> None:
    """The one line an error gets on stderr (made printable: it may quote input)."""
    text = f"{prog}: {one_line(message)}"
    try:
        sys.stderr.write(degrade(text, _encoding(sys.stderr)) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def terminal_width() -> int:
    """Columns for tables: the terminal's, $COLUMNS, or 120 on a pipe (at least 60)."""
    return max(shutil.get_terminal_size(fallback=(120, 24)).columns, 60)


def write_table(
    out: Output,
    rows: Iterable[Any],
    columns: Sequence[Column],
    last: Column,
    *,
    width: int | None = None,
    sample: int = 200,
) -> int:
    """Print rows under a header; sized columns from the first rows, ``last`` fills up.

    Rows are streamed: only the first ``sample`` are held to size the
    columns. Every cell goes through :func:`one_line`, so no control
    character from the database reaches the terminal. Returns the row count.
    """
    width = width or terminal_width()
    it = iter(rows)
    head = list(islice(it, sample))
    if not head:
        return 0
    widths = []
    for col in columns:
        natural = max(cell_width(one_line(col.get(r), col.cap)) for r in head)
        widths.append(max(min(natural, col.cap), len(col.title)))
    last_width = max(width - sum(widths) - 2 * len(columns), 20)

    def render(values: list[str], styles: list[str | None], last_text: str) -> str:
        cells = [out.style(fit(v, w), s) for v, w, s in zip(values, widths, styles, strict=True)]
        return "  ".join([*cells, last_text]).rstrip()

    out.line(
        render([c.title for c in columns], ["bold"] * len(columns), out.style(last.title, "bold"))
    )
    count = 0
    for row in _chain(head, it):
        values = [one_line(c.get(row), w) for c, w in zip(columns, widths, strict=True)]
        styles = [c.style(row) if c.style else None for c in columns]
        out.line(render(values, styles, one_line(last.get(row), last_width)))
        count += 1
    return count


def _chain(head: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from head
    head.clear()  # let the sample go once printed
    yield from rest
