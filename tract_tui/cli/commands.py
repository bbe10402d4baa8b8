"""The subcommands: each one calls the review service and writes its answer.

Every decision goes through :class:`~tract_tui.review.service.ReviewService`,
so a decision made here is the same one-transaction, only-if-pending
decision the console makes. A bulk decision reports every ID, decided or
not, even when an error (a lock, a full disk) stops it part-way.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from tract_tui.cli.output import Output, error_line, terminal_width, write_table
from tract_tui.exceptions import ProposalConflictError, ProposalNotFoundError, ReadOnlyError
from tract_tui.models.review import LogEntry, Proposal, split_trailer
from tract_tui.present import (
    Column,
    Fold,
    block,
    context_diff,
    context_line,
    effect_headline,
    fold_diff,
    future_note,
    message_line,
    no_match_hint,
    params_text,
    show_time,
    style_of,
)
from tract_tui.review.filters import Filter, When, format_age
from tract_tui.storage.version import HOOKS_FROM, NO_PROPOSALS_FROM
from tract_tui.text import cell_width, fit, one_line, printable, printable_id

if TYPE_CHECKING:
    from tract_tui.models.context import Effect
    from tract_tui.models.review import Decision, DecisionOutcome
    from tract_tui.review.service import ReviewService

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PAGE = 500


def proposal_columns(with_status: bool) -> tuple[list[Column], Column]:
    cols = [
        Column("ID", lambda p: printable_id(p.proposal_id)[:12] or "(none)", cap=12),
        Column("CREATED", lambda p: show_time(p.created_at, p.created_at_raw), cap=19),
    ]
    if with_status:
        cols.append(
            Column("STATUS", lambda p: p.status, cap=10, style=lambda p: style_of(p.status))
        )
    cols += [
        Column("TRACT", lambda p: p.tract_id, cap=14),
        Column("POLICY", lambda p: p.policy_name, cap=24),
        Column("ACTION", lambda p: p.action_type, cap=10),
    ]
    return cols, Column("REASON", lambda p: p.reason)


def log_detail(e: LogEntry) -> str:
    """A log row's text on one line: the reason, the error, the commit."""
    reason, _pid = split_trailer(e.reason)
    parts = [reason or ""]
    if e.error_message:
        parts.append(f"error: {e.error_message}")
    if e.commit_hash:
        parts.append(f"commit {e.commit_hash[:12]}")
    return " · ".join(p for p in parts if p)


def log_columns() -> tuple[list[Column], Column]:
    cols = [
        Column("TIME", lambda e: show_time(e.created_at, e.created_at_raw), cap=19),
        Column("TRACT", lambda e: e.tract_id, cap=14),
        Column("POLICY", lambda e: e.policy_name, cap=24),
        Column("TRIGGER", lambda e: e.trigger, cap=8),
        Column("ACTION", lambda e: e.action_type, cap=10),
        Column("OUTCOME", lambda e: e.outcome, cap=9, style=lambda e: style_of(e.outcome)),
    ]
    return cols, Column("DETAIL", log_detail)


def require_writable(svc: ReviewService, verb: str) -> None:
    if svc.read_only:
        raise ReadOnlyError(
            f"{svc.path}: is read-only here (the file or its directory is not writable); "
            f"cannot {verb}"
        )


def explain_no_match(svc: ReviewService, flt: Filter, context: str) -> None:
    """After a listing ``flt`` found nothing: the term a free word of it probably meant.

    On stderr, as a note: free words search only the reason (app/hints.py
    says the same in the console).
    """
    found = svc.filter_hint(flt, context)
    if found is not None:
        word, term = found
        meant = f"--filter {shlex.quote(term.to_text())}"
        error_line("note: " + " ".join(no_match_hint(word, str(term.key), meant, context)))


def cmd_list(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    flt: Filter = args.filter
    if args.json:
        from tract_tui.cli.fastjson import proposals_json

        out.json_array(proposals_json(svc, flt, args.limit, ascii_only=not out.unicode))
        return EXIT_OK
    rows: Iterable[Proposal] = svc.iter_proposals(flt, page_size=PAGE)
    if args.limit:
        rows = islice(rows, args.limit)
    with_status = bool(flt.values("status") or flt.values("status", negated=True))
    cols, last = proposal_columns(with_status)
    if not write_table(out, rows, cols, last):
        out.line("no proposals match" if flt else "no pending proposals")
        explain_no_match(svc, flt, "proposals")
        if not flt and HOOKS_FROM <= svc.version < NO_PROPOSALS_FROM:
            error_line(
                f"note: at tract schema {svc.version} an action is executed at once unless "
                "the agent registers a 'policy' hook that leaves it pending"
            )
    return EXIT_OK


def cmd_show(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    try:
        detail = svc.get_detail(svc.resolve_id(args.id), whole=args.json)
    except ProposalNotFoundError as e:
        error_line(str(e))
        return EXIT_PARTIAL
    if args.json:
        out.json(detail.to_json())
        return EXIT_OK
    p, impact = detail.proposal, detail.impact

    def label(name: str) -> str:
        return out.style(f"{name:<9}", "bold")

    status = out.style(printable(p.status), style_of(p.status))
    if p.resolved_at:
        status += f"  (resolved {show_time(p.resolved_at)})"
    out.line(f"{label('proposal')} {printable_id(p.proposal_id)}")
    out.line(f"{label('status')} {status}")
    out.line(f"{label('tract')} {printable(p.tract_id)}")
    out.line(f"{label('policy')} {printable(p.policy_name)}")
    out.line(f"{label('action')} {printable(p.action_type)}")
    out.line(f"{label('created')} {show_time(p.created_at, p.created_at_raw)}")
    if (note := future_note(p.created_at, svc.now())) is not None:
        out.line(f"{' ' * 10}{out.style('! ' + note, 'yellow')}")
    out.line(f"{label('reason')} {_indented(p.reason, 10).lstrip()}")
    out.line()
    if detail.effect is not None:
        _effect_lines(detail.effect, out)
        out.line()
    out.line(out.style(one_line(impact.title), "bold"))
    if impact.fields:
        key_width = min(max(cell_width(one_line(k, 24)) for k, _ in impact.fields), 24)
        for key, value in impact.fields:
            out.line(f"  {fit(one_line(key, 24), key_width)}  {one_line(value, 500)}")
    for warning in impact.warnings:
        out.line("  " + out.style("! " + one_line(warning, 500), "yellow"))
    if impact.preview:
        out.line()
        for line in _indented(impact.preview, 0).splitlines():
            out.line("  " + out.style("│", "dim") + " " + line)
    out.line()
    text, why = params_text(p)
    out.line(out.style("params", "bold") + (f"  ({why})" if why else ""))
    out.line(_indented(text, 2))
    return EXIT_OK


DIFF_STYLES = {"-": ("-", "red"), "+": ("+", "green"), "=": (" ", "dim")}


def _effect_lines(effect: Effect, out: Output) -> None:
    """The verdict, what it assumes, and the context diff, folded (``--json`` has it whole)."""
    verdict = one_line(effect_headline(effect), 500)
    out.line(out.style(verdict, "bold red" if effect.will_fail else "bold"))
    for note in effect.notes:
        out.line("  " + out.style("! " + one_line(note, 500), "yellow"))
    if effect.duplicate_of:
        ids = ", ".join(printable_id(i)[:12] for i in effect.duplicate_of[:5])
        out.line("  " + out.style(f"! duplicates: {ids}", "yellow"))
    out.line("  " + out.style(one_line(context_line(effect), 500), "dim"))
    after = effect.context_after
    if after is None or after == effect.context_before:
        return
    width = max(terminal_width() - 4, 40)
    for op, item in fold_diff(context_diff(effect.context_before, after)):
        mark, style = DIFF_STYLES[op]
        text = item.text() if isinstance(item, Fold) else message_line(item, width)
        out.line(f"  {out.style(mark + ' ' + text, style)}")


def _indented(text: str | None, indent: int, *, limit: int = 4000, max_lines: int = 60) -> str:
    """Multi-line untrusted text, printable, indented, cut with a note (--json has it all)."""
    if not text:
        return " " * indent + "-"
    lines = block(text[:limit], limit=limit).split("\n")
    cut = len(text) > limit or len(lines) > max_lines
    lines = lines[:max_lines]
    if cut:
        lines.append(f"… ({len(text):,} characters in all; --json shows everything)")
    pad = " " * indent
    return "\n".join(pad + line for line in lines)


def resolve_ids(svc: ReviewService, given: Sequence[str]) -> list[tuple[str, str | None]]:
    """(as given, full id or None when not found), duplicates dropped.

    An ambiguous prefix raises AmbiguousProposalIdError before anything is decided.
    """
    out: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for g in given:
        try:
            full: str | None = svc.resolve_id(g)
        except ProposalNotFoundError:
            full = None
        key = full if full is not None else f"\0{g}"
        if key not in seen:
            seen.add(key)
            out.append((g, full))
    return out


#: One ID's result: (as given, full id or None, its decision, its status if not decided,
#: the error that stopped it).
IdOutcome = tuple[str, "str | None", "Decision | None", "str | None", "str | None"]


def report_per_id(
    out: Output,
    as_json: bool,
    outcomes: Iterable[IdOutcome],
    *,
    done_key: str,
    label: str,
    wanted: str,
) -> int:
    """Report each ID: done, or why not (its status was not ``wanted``, no such ID, an error).

    One line per ID done (or a ``--json`` object), one stderr line per ID not
    done; exit 1 when any was not.
    """
    report: list[dict[str, Any]] = []
    failed = False
    for given, full, d, current, error in outcomes:
        entry = {
            "id": given,
            "proposal_id": full,
            done_key: d is not None,
            "status": d.status if d is not None else current,
            "log_id": d.log_id if d is not None else None,
            "error": None,
        }
        report.append(entry)
        if d is not None:
            if not as_json:
                who = f"{one_line(d.tract_id, 40)} · {one_line(d.policy_name, 40)}"
                out.line(
                    f"{out.style(label, style_of(d.status))} {printable_id(d.proposal_id)}  {who}"
                )
            continue
        failed = True
        if error is not None:
            message = error
        elif current is not None:
            message = f"is {current}, not {wanted}; nothing was changed"
        else:
            message = "no such proposal"
        entry["error"] = message
        error_line(f"{printable_id(full or given)}: {message}")
    if as_json:
        out.json(report)
    return EXIT_PARTIAL if failed else EXIT_OK


def _outcome(given: str, full: str | None, r: DecisionOutcome | None) -> IdOutcome:
    if r is None:
        return given, full, None, None, None
    error = r.error if r.error not in (None, "not found") else None
    return given, full, r.decision, r.current_status, error


def cmd_decide(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    status = "approved" if args.command == "approve" else "rejected"
    note = args.note if args.command == "approve" else args.reason
    require_writable(svc, args.command)
    resolved = resolve_ids(svc, args.ids)
    found = [full for _, full in resolved if full is not None]
    results = {r.proposal_id: r for r in svc.decide_many(found, status, note)}
    outcomes = [_outcome(g, full, results.get(full) if full else None) for g, full in resolved]
    return report_per_id(
        out, args.json, outcomes, done_key="decided", label=status, wanted="pending"
    )


def cmd_release(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    from tract_tui.exceptions import TraceError

    require_writable(svc, "release claims")
    stopped: list[str] = []

    def release(given: str, full: str | None) -> IdOutcome:
        if full is None:
            return given, full, None, None, None
        if stopped:
            return given, full, None, None, stopped[0]
        try:
            return given, full, svc.release_stuck(full, args.reason), None, None
        except ProposalConflictError as e:
            return given, full, None, e.current_status, None
        except ProposalNotFoundError:
            return given, full, None, None, None
        except TraceError as e:
            stopped.append(f"not released: {e}")
            return given, full, None, None, stopped[0]

    outcomes = [release(given, full) for given, full in resolve_ids(svc, args.ids)]
    return report_per_id(
        out, args.json, outcomes, done_key="released", label="released", wanted="executing"
    )


def cmd_expire(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    age: timedelta = args.older_than
    if not args.dry_run:
        require_writable(svc, "expire proposals")
    report = svc.expire_report(age, dry_run=args.dry_run, flt=args.filter)
    done = report.proposals
    if args.json:
        out.json({
            "dry_run": args.dry_run, "older_than_seconds": age.total_seconds(),
            "count": len(done), "proposal_ids": [p.proposal_id or None for p in done],
            "unreadable_times": report.unreadable, "future_times": report.future,
        })  # fmt: skip
        return EXIT_OK
    cols, last = proposal_columns(False)
    write_table(out, done, cols, last)
    verb = "would expire" if args.dry_run else "expired"
    noun = "proposal" if len(done) == 1 else "proposals"
    out.line(f"{verb} {len(done)} {noun} pending longer than {format_age(age)}")
    if report.unreadable:
        error_line(f"{report.unreadable} pending proposal(s) have a created_at that is not a "
                   "time; they were left pending")  # fmt: skip
    if report.future:
        error_line(f"{report.future} pending proposal(s) are dated in the future by this "
                   "machine's clock (the agent's clock or time zone differs); they were left "
                   "pending")  # fmt: skip
    return EXIT_OK


def cmd_log(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    if args.json:
        from tract_tui.cli.fastjson import log_json

        out.json_array(log_json(svc, args.filter, args.limit, ascii_only=not out.unicode))
        return EXIT_OK
    rows: Iterable[LogEntry] = svc.iter_log(args.filter, page_size=PAGE)
    if args.limit:
        rows = islice(rows, args.limit)
    cols, last = log_columns()
    if not write_table(out, rows, cols, last):
        out.line("no log rows match" if args.filter else "the log is empty")
        explain_no_match(svc, args.filter, "log")
    return EXIT_OK


def cmd_gc(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    when: When = args.before
    before = when.resolve(svc.now())
    if not args.dry_run:
        require_writable(svc, "delete log rows")
    count, unreadable = svc.gc_report(before, tract_id=args.tract, dry_run=args.dry_run)
    if args.json:
        out.json(
            {
                "dry_run": args.dry_run,
                "before": before.isoformat(sep=" "),
                "tract_id": args.tract,
                "count": count,
                "unreadable_times": unreadable,
            }
        )
        return EXIT_OK
    verb = "would delete" if args.dry_run else "deleted"
    scope = f" of tract {one_line(args.tract, 60)}" if args.tract else ""
    rows = "log row" if count == 1 else "log rows"
    out.line(f"{verb} {count} {rows}{scope} older than {before:%Y-%m-%d %H:%M:%S}")
    if unreadable:
        error_line(f"{unreadable} log row(s) have a created_at that is not a time; they were kept")
    return EXIT_OK


HANDLERS: dict[str, Callable[[ReviewService, argparse.Namespace, Output], int]] = {
    "list": cmd_list,
    "show": cmd_show,
    "approve": cmd_decide,
    "reject": cmd_decide,
    "expire": cmd_expire,
    "release": cmd_release,
    "log": cmd_log,
    "gc": cmd_gc,
}
