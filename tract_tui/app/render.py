"""Turn review dataclasses into ``rich.text.Text`` for the console.

Every string from the database goes through :func:`tract_tui.text.printable`
and into a ``Text`` object (never markup), so agents' text can neither style,
link nor control the terminal.
"""

from __future__ import annotations

import json
from datetime import datetime

from rich.text import Text

from tract_tui.models.review import LogEntry, Proposal, ProposalDetail
from tract_tui.text import one_line as _one_line
from tract_tui.text import printable

MAX_BLOCK = 20_000

OUTCOME_STYLES = {
    "approved": "green",
    "executed": "green",
    "rejected": "red",
    "error": "bold red",
    "proposed": "yellow",
    "expired": "magenta",
    "reopened": "cyan",
    "skipped": "dim",
    "pending": "yellow",
}


def safe(value: object, *, one_line: bool = True) -> str:
    """Printable text of a DB value ('' for None)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if one_line:
        return _one_line(text, 400)
    if len(text) > MAX_BLOCK:
        more = len(text) - MAX_BLOCK
        text = f"{text[:MAX_BLOCK]}\n… ({more:,} more characters not shown)"
    text = text.replace("\r\n", "\n").expandtabs(4)
    return printable(text, newlines=True)


def age(created: datetime | None, now: datetime) -> str:
    """Compact age: 45s, 12m, 3h, 5d, 7w (negative ages, from clock skew, show as 0s)."""
    if created is None:
        return "?"
    seconds = int((now - created).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    if seconds < 86400 * 14:
        return f"{seconds // 86400}d"
    return f"{seconds // (86400 * 7)}w"


def short_id(value: str, n: int = 8) -> str:
    return safe(value)[:n]


def proposal_cells(p: Proposal, now: datetime, marked: bool) -> list[Text]:
    first = Text()
    first.append("● " if marked else "  ", style="bold yellow")
    first.append(age(p.created_at, now))
    return [
        first,
        Text(safe(p.tract_id)),
        Text(safe(p.policy_name)),
        Text(safe(p.action_type), style="bold"),
        Text(safe((p.reason or "").strip() or "(no reason)")),
        Text(short_id(p.proposal_id), style="dim"),
    ]


def log_cells(e: LogEntry) -> list[Text]:
    when = e.created_at.strftime("%m-%d %H:%M:%S") if e.created_at else safe(e.created_at_raw)
    text = e.reason or ""
    if e.error_message:
        text = f"{text} — {e.error_message}" if text else e.error_message
    return [
        Text(when, style="dim"),
        Text(safe(e.tract_id)),
        Text(safe(e.policy_name)),
        Text(safe(e.trigger)),
        Text(safe(e.action_type or "-")),
        Text(safe(e.outcome), style=OUTCOME_STYLES.get(e.outcome, "")),
        Text(safe(text)),
    ]


#: Params longer than this are shown as their raw text: pretty-printing megabytes
#: only to show the first 20,000 characters would stall the screen.
MAX_PRETTY = 200_000


def params_json(p: Proposal) -> str:
    """Pretty JSON of the params, or the raw text when it is not JSON (or very large)."""
    if p.params_raw is None:
        return "null"
    raw = p.params_raw
    if p.params_valid and len(raw) <= MAX_PRETTY:
        try:
            text = json.dumps(p.params, indent=2, ensure_ascii=False)
        except (RecursionError, ValueError):
            text = raw
        return text[:MAX_BLOCK] + ("\n…" if len(text) > MAX_BLOCK else "")
    return raw[:MAX_BLOCK] + ("…" if len(raw) > MAX_BLOCK else "")


def detail_text(detail: ProposalDetail, now: datetime) -> Text:
    """The detail pane: reason, what the action touches, params, ids and times."""
    p = detail.proposal
    impact = detail.impact
    out = Text()

    def label(name: str, value: str, style: str = "") -> None:
        out.append(f"{name}: ", style="bold")
        out.append(value, style=style)
        out.append("\n")

    out.append(safe(p.action_type), style="bold reverse")
    out.append("  ")
    out.append(safe(p.policy_name), style="bold")
    out.append(f"  {safe(p.status)}", style=OUTCOME_STYLES.get(p.status, ""))
    out.append("\n\n")
    out.append("Reason\n", style="bold underline")
    out.append(safe(p.reason or "(no reason given)", one_line=False))
    out.append("\n\n")
    out.append(safe(impact.title), style="bold underline")
    out.append("\n")
    for warning in impact.warnings:
        out.append(f"⚠ {safe(warning)}\n", style="bold yellow")
    for name, value in impact.fields:
        label(safe(name), safe(value))
    if impact.preview:
        out.append("\n")
        out.append(safe(impact.preview, one_line=False), style="italic")
        out.append("\n")
    out.append("\nParams", style="bold underline")
    if not p.params_valid:
        out.append(f"  ({p.params_problem}; shown raw)", style="yellow")
    elif len(p.params_raw or "") > MAX_PRETTY:
        out.append(f"  ({len(p.params_raw or ''):,} characters; shown raw)", style="yellow")
    out.append("\n")
    out.append(safe(params_json(p), one_line=False), style="cyan")
    out.append("\n\n")
    created = p.created_at.isoformat(sep=" ") if p.created_at else safe(p.created_at_raw)
    label("created", f"{created} ({age(p.created_at, now)} ago)")
    if p.resolved_at:
        label("resolved", p.resolved_at.isoformat(sep=" "))
    label("tract", safe(p.tract_id))
    label("proposal", safe(p.proposal_id))
    out.rstrip()
    return out
