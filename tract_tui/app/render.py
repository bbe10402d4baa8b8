"""Turn review dataclasses into ``rich.text.Text`` for the console.

Every string from the database goes through :mod:`tract_tui.text` and into
a ``Text`` object (never markup), so agents' text can neither style, link
nor control the terminal. What is shown, and in which colour, is decided
by :mod:`tract_tui.present`, the same for the command line.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from tract_tui.models.review import LogEntry, Proposal, ProposalDetail, split_trailer
from tract_tui.present import age, block, future_note, params_text, show_time, style_of
from tract_tui.text import one_line as _one_line
from tract_tui.text import printable, printable_id

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


def detail_text(detail: ProposalDetail, now: datetime) -> Text:
    """The detail pane: reason, what the action touches, params, ids and times."""
    p = detail.proposal
    impact = detail.impact
    out = Text()
    out.append(f" {safe(p.action_type)} ", style="bold reverse")
    out.append("  ")
    out.append(safe(p.policy_name), style="bold")
    out.append(f"  {safe(p.status)}", style=style_of(p.status))
    out.append(f"  {short_id(p.proposal_id)}", style="dim")
    out.append("\n\n")
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
