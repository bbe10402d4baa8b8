"""The table's line builder draws exactly what Rich's own Text code would.

``cells_line`` builds a table line without a Text per cell (the drawing of
new rows was half of what a filter took to show them). What it must keep is
every segment: the snapshots compare segments, and a different split of the
same characters would be another SVG. The oracle here is the code it
replaced: copy each cell, ``truncate(w, overflow="ellipsis", pad=True)``,
``append_text``, a space between.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.style import Style
from rich.text import Span, Text

from tract_tui.app.table import cells_line

CONSOLE = Console(width=200, color_system="truecolor", force_terminal=True)


def rich_line(texts: list[Text], widths: list[int]) -> Text:
    """The replaced code, verbatim."""
    line = Text(" ", end="", no_wrap=True)
    for text, w in zip(texts, widths, strict=False):
        cell = text.copy()
        cell.no_wrap = True
        cell.truncate(w, overflow="ellipsis", pad=True)
        line.append_text(cell)
        line.append(" ")
    return line


# Single-width letters, wide CJK and emoji, a combining mark, a zero-width joiner:
# the cut and the padding count cells, not characters.
CHARS = st.sampled_from([*"ab ZÅé—…", "中", "文", "😀", "\u0301", "\u200d", "ｱ"])
STYLES = st.sampled_from(["", "bold", "dim", "red", "bold red", Style(italic=True), Style()])


@st.composite
def cells(draw: st.DrawFn) -> Text:
    plain = "".join(draw(st.lists(CHARS, max_size=14)))
    text = Text(plain, style=draw(STYLES))
    for _ in range(draw(st.integers(0, 3))):  # spans anywhere in the cell, empty ones too
        start = draw(st.integers(0, len(plain)))
        end = draw(st.integers(start, len(plain)))
        text.spans.append(Span(start, end, draw(STYLES) or "underline"))
    return text


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(cells(), st.integers(0, 16)), max_size=7))
def test_cells_line_draws_what_rich_draws(columns: list[tuple[Text, int]]) -> None:
    texts = [t for t, _ in columns]
    widths = [w for _, w in columns]
    before = [t.copy() for t in texts]
    mine, theirs = cells_line(texts, widths), rich_line(texts, widths)
    assert mine.plain == theirs.plain
    assert mine.spans == theirs.spans
    assert list(mine.render(CONSOLE)) == list(theirs.render(CONSOLE))
    # the cells are the caller's (kept in the row cache): never changed
    assert [(t.plain, t.spans, t.style) for t in texts] == [
        (t.plain, t.spans, t.style) for t in before
    ]


def test_real_cells_of_both_tables_draw_as_rich_does() -> None:
    """The cells the views really build, cut at every width from nothing to all of them."""
    from datetime import datetime

    from tract_tui.app.render import log_cells, proposal_cells
    from tract_tui.models.review import LogEntry, Proposal

    now = datetime(2026, 12, 2, 12, 0, 0)
    proposal = Proposal(
        proposal_id="0123456789abcdef", tract_id="tract-中文-😀", policy_name="auto-compress",
        action_type="compress", params_raw='{"target": 1}', reason="context over 80%\tof 中文",
        status="pending", created_at=datetime(2026, 12, 1, 11, 0), resolved_at=None,
    )  # fmt: skip
    entry = LogEntry(
        id=7, tract_id="t1", policy_name="p", trigger="compile", action_type=None,
        outcome="error", reason="it failed", commit_hash=None,
        error_message="database is locked", created_at=datetime(2026, 12, 2, 11, 0),
    )  # fmt: skip
    for texts in (proposal_cells(proposal, now, True), proposal_cells(proposal, now, False),
                  log_cells(entry)):  # fmt: skip
        for w in range(0, 30):
            widths = [w] * len(texts)
            assert list(cells_line(texts, widths).render(CONSOLE)) == list(
                rich_line(texts, widths).render(CONSOLE)
            )
