"""Make untrusted text from the database safe to put on a terminal.

Reasons, params and commit content are written by agents, so they may hold
anything: ESC sequences that recolour or move the cursor, OSC 8 hyperlinks,
NUL bytes, C1 controls (``U+009B`` is a one-character CSI on some
terminals), bidi overrides that reorder the rest of a line, invisible
Unicode "tag" characters that smuggle hidden text, lone surrogates that
cannot even be encoded. This module is the one place that decides what
reaches the screen; the CLI table and the console both go through it.

Rules (:func:`printable`):

- C0 controls ``U+0000..U+001F`` become their Control Pictures
  (``U+2400..U+241F``: ``␀``, ``␛``, ``␊`` ...); DEL becomes ``␡``.
  With ``newlines=True`` a plain ``\\n`` is kept (for multi-line blocks).
- C1 controls ``U+0080..U+009F``, the line/paragraph separators
  ``U+2028``/``U+2029``, bidi embeddings/overrides/isolates
  (``U+202A..U+202E``, ``U+2066..U+2069``) and tag characters
  (``U+E0000..U+E007F``) become visible escape text such as ``\\x9b`` or
  ``\\u202e``.
- Lone surrogates become ``U+FFFD``.

Identifiers (proposal ids, tract ids in reports) go through
:func:`printable_id`, which also escapes every non-ASCII character, so two
ids that differ only in Unicode normalisation (NFC ``é`` against NFD
``e`` + U+0301) print differently too.

Widths are Rich's (grapheme clusters, emoji sequences), the same model the
console draws with, so the CLI's columns and the console's agree.

Nothing else is changed: markup such as ``[bold]`` is not touched here,
so callers must hand the result to Rich/Textual as plain ``Text``, never as
markup. Printable text never contains ESC, so no escape sequence (CSI, OSC 8,
...) can start from it.
"""

from __future__ import annotations

import re

from rich.cells import cell_len as cell_width
from rich.cells import set_cell_size

__all__ = ["cell_width", "fit", "one_line", "printable", "printable_id", "truncate"]

ELLIPSIS = "…"
#: What a line break becomes in one-line (table) text.
LINE_BREAK = "⏎"

#: Invisible or steering characters besides the controls (see the module docstring).
_INVISIBLE = (
    "\u00ad\u061c\u180e\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f"
)
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
_UNSAFE_KEEP_NL = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_INVISIBLE}]")
_NOT_ASCII = re.compile("[^\x20-\x7e]")
_LINE_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def _placeholder(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str | None, *, newlines: bool = False) -> str:
    """``text`` with every control or invisible-steering character made visible.

    None gives "". With ``newlines`` True, ``\\n`` survives (and only it:
    ``\\r`` would let a line overwrite itself).
    """
    if not text:
        return ""
    pattern = _UNSAFE_KEEP_NL if newlines else _UNSAFE
    return pattern.sub(lambda m: _placeholder(m.group()), text)


def printable_id(text: str | None) -> str:
    """An identifier as printable ASCII: anything else is shown as its escape (``\\u00e9``)."""
    if not text:
        return ""
    if text.isascii() and text.isprintable():
        return text
    return _NOT_ASCII.sub(lambda m: _placeholder(m.group()), text)


def truncate(text: str, width: int, *, force: bool = False) -> str:
    """Cut ``text`` to at most ``width`` cells, ending with ``…`` when cut (or ``force``)."""
    if width <= 0:
        return ""
    if not force and cell_width(text) <= width:
        return text
    return set_cell_size(text, width - 1) + ELLIPSIS


def one_line(text: str | None, width: int | None = None) -> str:
    """Printable text on one line: line breaks shown as ``⏎``, tabs as spaces, cut to width.

    Safe for a table cell. Very long input is cut before it is scanned, so a
    10 MB reason costs no more than a short one.
    """
    if not text:
        return ""
    cut = False
    if width is not None:
        budget = max(width, 1) * 8 + 64
        if len(text) > budget:
            text, cut = text[:budget], True
    flat = _LINE_BREAKS.sub(LINE_BREAK, text).replace("\t", " ")
    safe = printable(flat)
    if width is None:
        return safe
    return truncate(safe, width, force=cut)


def fit(text: str, width: int) -> str:
    """``text`` (already printable, one line) cut or padded to exactly ``width`` cells."""
    return set_cell_size(truncate(text, width), width)
