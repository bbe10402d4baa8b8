"""Turn review dataclasses into ``rich.text.Text`` for the console.

Every string from the database goes through :mod:`tract_tui.text` and into
a ``Text`` object (never markup), so agents' text can neither style, link
nor control the terminal. What is shown, and in which colour, is decided
by :mod:`tract_tui.present`, the same for the command line.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text

from tract_tui.models.review import LogEntry, Proposal, ProposalDetail, split_trailer
from tract_tui.present import (
    Fold,
    age,
    block,
    context_diff,
    context_line,
    first_line,
    fold_diff,
    future_note,
    message_line,
    params_text,
    show_time,
    style_of,
)
from tract_tui.text import one_line as _one_line
from tract_tui.text import printable, printable_id

if TYPE_CHECKING:
    from tract_tui.models.context import ContextMessage, ContextRow, ContextView, Effect

#: Kept for callers that styled by outcome; the one map is tract_tui.present.STATUS_STYLES.
OUTCOME_STYLES = {k: style_of(k) for k in ("approved", "rejected", "error", "expired")}


def safe(value: object, *, one_line: bool = True) -> str:
    """Printable text of a DB value ('' for None): one line, or a block with tabs expanded."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return _one_line(text, 400) if one_line else block(text)


def short_id(value: str, n: int = 8) -> str:
    return printable_id(value)[:n] or "(none)"


def proposal_cells(p: Proposal, now: datetime, marked: bool) -> list[Text]:
    """Age, action, reason, tract, policy, id: the proposals table's columns, in order."""
    first = Text()
    first.append("● " if marked else "  ", style="bold")
    first.append(age(p.created_at, now))
    return [
        first,
        Text(safe(p.action_type), style="bold"),
        Text(safe((p.reason or "").strip() or "(no reason)")),
        Text(safe(p.tract_id)),
        Text(safe(p.policy_name)),
        Text(short_id(p.proposal_id), style="dim"),
    ]


def log_text(e: LogEntry) -> str:
    """A log row's text on one line: an error first (it is what went wrong), then the reason."""
    reason, _pid = split_trailer(e.reason)
    if e.error_message:
        return f"{e.error_message} — {reason}" if reason else e.error_message
    return reason or ""


def log_cells(e: LogEntry) -> list[Text]:
    """Time, outcome, text, tract, policy, trigger, action: the log table's columns, in order."""
    when = e.created_at.strftime("%m-%d %H:%M:%S") if e.created_at else safe(e.created_at_raw)
    return [
        Text(when, style="dim"),
        Text(safe(e.outcome), style=style_of(e.outcome)),
        Text(safe(log_text(e)), style="red" if e.error_message else ""),
        Text(safe(e.tract_id)),
        Text(safe(e.policy_name)),
        Text(safe(e.trigger)),
        Text(safe(e.action_type or "-")),
    ]


def _label(out: Text, name: str, value: str, style: str = "") -> None:
    out.append(f"{name}: ", style="bold")
    out.append(value, style=style)
    out.append("\n")


MARKS = {"-": ("\u2212 ", "red"), "+": ("+ ", "green"), "=": ("  ", "dim")}


def effect_text(effect: Effect | None, *, full: bool = False, width: int = 60) -> Text:
    """The verdict first, then what changes in the agent's context as a diff of messages.

    ``full`` (the zoomed view): every message, before and after, in full.
    """
    out = Text()
    if effect is None:
        return out
    if effect.will_fail:
        out.append("Will fail: ", style="bold red")
        out.append(safe(effect.will_fail, one_line=False), style="red")
    else:
        out.append(safe(effect.summary, one_line=False), style="bold")
    out.append("\n")
    for note in effect.notes:
        out.append(f"⚠ {safe(note, one_line=False)}\n", style="yellow")
    if effect.duplicate_of:
        ids = ", ".join(short_id(i) for i in effect.duplicate_of[:5])
        out.append(f"⚠ duplicates: {ids}\n", style="yellow")
    before, after = effect.context_before, effect.context_after
    out.append(safe(context_line(effect)) + "\n", style="dim")
    if after is not None and after != before:
        _diff_lines(out, context_diff(before, after), full=full, width=width)
    return out


def _diff_lines(
    out: Text, diff: list[tuple[str, ContextMessage]], *, full: bool, width: int
) -> None:
    """The diff as lines: folded in the pane (:func:`fold_diff`), whole when zoomed."""
    if full:
        for op, m in diff:
            mark, style = MARKS[op]
            out.append(mark, style=f"bold {style}")
            out.append(message_line(m, width - len(mark)) + "\n", style=style)
            out.append(safe(m.content, one_line=False) + "\n\n", style=style if op != "=" else "")
        return
    for op, item in fold_diff(diff):
        mark, style = MARKS[op]
        if isinstance(item, Fold):
            out.append(f"{mark}{item.text()}\n", style=f"dim {style}")
            continue
        out.append(mark, style=f"bold {style}")
        out.append(message_line(item, width - len(mark)) + "\n", style=style)


def detail_text(
    detail: ProposalDetail, now: datetime, *, full: bool = False, width: int = 60
) -> Text:
    """The detail pane: the verdict and the context diff, reason, facts, params, ids, times."""
    p = detail.proposal
    impact = detail.impact
    out = Text()
    out.append(f" {safe(p.action_type)} ", style="bold reverse")
    out.append("  ")
    out.append(safe(p.policy_name), style="bold")
    out.append(f"  {safe(p.status)}", style=style_of(p.status))
    out.append(f"  {short_id(p.proposal_id)}", style="dim")
    out.append("\n\n")
    if detail.effect is not None:
        out.append_text(effect_text(detail.effect, full=full, width=width))
        out.append("\n")
    out.append("Reason\n", style="bold underline")
    out.append(safe(p.reason or "(no reason given)", one_line=False))
    out.append("\n\n")
    out.append(safe(impact.title), style="bold underline")
    out.append("\n")
    for warning in impact.warnings:
        out.append(f"⚠ {safe(warning)}\n", style="bold yellow")
    for name, value in impact.fields:
        _label(out, safe(name), safe(value))
    if impact.preview:
        out.append("\n")
        out.append(safe(impact.preview, one_line=False), style="italic")
        out.append("\n")
    params, why = params_text(p)
    out.append("\nParams", style="bold underline")
    if why:
        out.append(f"  ({why})", style="yellow")
    out.append("\n")
    out.append(block(params), style="cyan")
    out.append("\n\n")
    _times(out, p, now)
    _label(out, "tract", safe(p.tract_id))
    _label(out, "proposal", printable_id(p.proposal_id) or "(stored without an id)")
    out.rstrip()
    return out


def _times(out: Text, p: Proposal, now: datetime) -> None:
    _label(
        out,
        "created",
        f"{show_time(p.created_at, p.created_at_raw)} ({age(p.created_at, now)} ago)",
    )
    note = future_note(p.created_at, now)
    if note:
        out.append(f"⚠ {note}\n", style="bold yellow")
    if p.resolved_at:
        _label(out, "resolved", show_time(p.resolved_at))


def log_detail_text(e: LogEntry) -> Text:
    """A log row in full: an error row leads with its error; the proposal it names, if any."""
    reason, pid = split_trailer(e.reason)
    out = Text()
    out.append(safe(e.outcome), style=f"bold {style_of(e.outcome)}")
    out.append(f"  {safe(e.policy_name)}", style="bold")
    out.append(f"  {safe(e.trigger)}\n\n")
    if e.error_message:
        out.append("Error\n", style="bold underline red")
        out.append(safe(e.error_message, one_line=False), style="red")
        out.append("\n\n")
    out.append("Reason\n", style="bold underline")
    out.append(safe(reason, one_line=False) if reason else "(none)")
    out.append("\n\n")
    _label(out, "time", show_time(e.created_at, e.created_at_raw))
    _label(out, "tract", safe(e.tract_id))
    _label(out, "action", safe(e.action_type or "-"))
    if e.commit_hash:
        _label(out, "commit", printable(e.commit_hash))
    if pid is not None:
        _label(out, "proposal", printable_id(pid))
    _label(out, "log row", str(e.id))
    out.rstrip()
    return out


# --- the context view ----------------------------------------------------------------

PRIORITY_STYLES = {"PINNED": "bold cyan", "SKIP": "dim", "IMPORTANT": "bold"}


def context_row_cells(row: ContextRow, position: int | None) -> list[Text]:
    """#, commit, role, priority, tokens, first line: a context view row; hidden ones dim."""
    m = row.message
    dim = "" if row.shown else "dim"
    tokens = "?" if m.tokens is None else str(m.tokens)
    text = first_line(m.content, 400)
    return [
        Text(str(position) if position is not None else "-", style="dim"),
        Text(short_id(m.commit_hash or "", 8), style="dim"),
        Text(safe(m.role), style=dim),
        Text(safe(row.priority.lower()), style=PRIORITY_STYLES.get(row.priority, dim)),
        Text(tokens, style=dim),
        Text(safe(text) + (" (edited)" if row.edited else ""), style=dim),
    ]


def context_summary(view: ContextView, hidden: int, showing_hidden: bool) -> Text:
    """Which context this is (tract, branch, head) and its size: one or two lines."""
    context = view.context
    out = Text()
    out.append(safe(view.tract_id), style="bold")
    where = f" · {safe(view.branch)}" if view.branch else " · detached HEAD"
    out.append(where)
    if view.head:
        out.append(f" @ {short_id(view.head, 12)}", style="dim")
    tokens = "?" if context.tokens is None else f"{context.tokens:,}"
    out.append(f"   {len(context.messages):,} messages, {tokens} tokens")
    if hidden:
        state = "dimmed, h hides them" if showing_hidden else "not listed, h shows them"
        out.append(f"   {hidden:,} hidden by SKIP ({state})", style="dim")
    return out


def context_row_text(row: ContextRow) -> Text:
    """One message in full, with its commit, priority and size first."""
    m = row.message
    out = Text()
    _label(out, "role", safe(m.role))
    _label(out, "commit", safe(m.commit_hash or "(not committed)"))
    _label(out, "priority", safe(row.priority.lower()))
    _label(out, "tokens", "?" if m.tokens is None else str(m.tokens))
    state = "in the context" if row.shown else "hidden: not in the context (SKIP)"
    _label(out, "state", state + (", content from an edit" if row.edited else ""))
    out.append("\n")
    out.append(safe(m.content, one_line=False))
    return out
