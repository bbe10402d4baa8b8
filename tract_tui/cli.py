"""The command line: ``tract-tui PATH`` opens the console, subcommands script the review.

Every subcommand goes through :class:`~tract_tui.review.ReviewService`, so a
decision made here is the same one-transaction, only-if-pending decision the
console makes. Exit codes: 0 done; 1 some IDs were not pending or not found
(each reported on stderr); 2 bad usage or bad input (one line on stderr,
never a traceback). Text read from the database is untrusted: the tables go
through :mod:`tract_tui.text`, ``--json`` carries it exactly (JSON-escaped).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import IO, TYPE_CHECKING, Any, NoReturn

from tract_tui import __version__
from tract_tui.exceptions import (
    ProposalConflictError,
    ProposalNotFoundError,
    ReadOnlyError,
    TraceError,
)
from tract_tui.review.filters import Filter, When, parse_age, parse_filter, parse_when
from tract_tui.text import cell_width, fit, one_line, printable

if TYPE_CHECKING:
    from tract_tui.models.review import Decision, DecisionOutcome, LogEntry, Proposal
    from tract_tui.review.service import ReviewService

PROG = "tract-tui"
COMMANDS = ("list", "show", "approve", "reject", "expire", "release", "log", "gc")
#: Options whose value may start with "-" (a negated filter term, a note): glued as --opt=VALUE.
GLUED_OPTIONS = ("--filter", "--note", "--reason")
PAGE = 500
#: ``show`` pretty-prints params up to this many characters (the block is cut at 4,000).
MAX_PRETTY_PARAMS = 200_000
DEFAULT_LOG_LIMIT = 50

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad usage; printed as ``PROG: message`` (PROG may be ``tract-tui list``)."""

    def __init__(self, message: str, prog: str = PROG) -> None:
        super().__init__(message)
        self.prog = prog


# --- output ---------------------------------------------------------------------

STYLES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}
STATUS_STYLE = {
    "pending": "yellow",
    "approved": "green",
    "executing": "cyan",
    "executed": "cyan",
    "rejected": "red",
    "expired": "dim",
    "error": "red",
    "proposed": "yellow",
    "skipped": "dim",
    "reopened": "magenta",
}
# Characters json.dumps(ensure_ascii=False) leaves raw but a terminal might act on
# (DEL, C1 controls, line separators, bidi overrides, lone surrogates): escaped
# as \\uXXXX, which decodes to the very same string.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def color_wanted(stream: IO[str]) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org) or TERM=dumb."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class Output:
    """Where a command writes, and whether it may use colour escapes."""

    def __init__(self, stream: IO[str] | None = None, *, color: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.color = color_wanted(self.stream) if color is None else color

    def style(self, text: str, *names: str | None) -> str:
        """``text`` (already printable) wrapped in our own SGR codes when colour is on."""
        codes = [STYLES[n] for n in names if n and n in STYLES]
        if not self.color or not codes or not text:
            return text
        return f"\x1b[{';'.join(codes)}m{text}\x1b[0m"

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def json(self, value: Any) -> None:
        self.line(dump_json(value, self.stream))

    def json_array(self, items: Iterable[dict[str, Any]]) -> None:
        """Stream one JSON array, an object per line, without holding all of it."""
        first = True
        self.stream.write("[")
        for item in items:
            self.stream.write("\n" if first else ",\n")
            self.stream.write(dump_json(item, self.stream))
            first = False
        self.stream.write("]\n" if first else "\n]\n")


def dump_json(value: Any, stream: IO[str] | None = None) -> str:
    """JSON that carries every string exactly yet puts no raw control character on a terminal."""
    text = json.dumps(value, ensure_ascii=False)
    text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        text = json.dumps(value, ensure_ascii=True)
    return text


def error_line(message: str, prog: str = PROG) -> None:
    """The one line an error gets on stderr (made printable: it may quote input)."""
    text = f"{prog}: {one_line(message)}"
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def terminal_width() -> int:
    """Columns for tables: the terminal's, $COLUMNS, or 120 on a pipe (at least 60)."""
    return max(shutil.get_terminal_size(fallback=(120, 24)).columns, 60)


# --- tables -----------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One table column: ``get`` returns the raw (untrusted) cell text."""

    title: str
    get: Callable[[Any], str | None]
    cap: int = 24
    style: Callable[[Any], str | None] | None = None


def write_table(
    out: Output,
    rows: Iterable[Any],
    columns: Sequence[Column],
    last: Column,
    *,
    width: int | None = None,
    sample: int = 200,
) -> int:
    """Print rows under a header; fixed columns sized from the first rows, ``last`` fills up.

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
    rest = width - sum(widths) - 2 * len(columns)
    last_width = max(rest, 20)

    def render(values: list[str], styles: list[str | None], last_text: str) -> str:
        cells = [out.style(fit(v, w), s) for v, w, s in zip(values, widths, styles, strict=True)]
        return "  ".join([*cells, last_text]).rstrip()

    header = render(
        [c.title for c in columns], ["bold"] * len(columns), out.style(last.title, "bold")
    )
    out.line(header)
    count = 0
    for row in _chain(head, it):
        values = [one_line(c.get(row), w) for c, w in zip(columns, widths, strict=True)]
        styles = [c.style(row) if c.style else None for c in columns]
        last_text = one_line(last.get(row), last_width)
        out.line(render(values, styles, last_text))
        count += 1
    return count


def _chain(head: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from head
    head.clear()  # let the sample go once printed
    yield from rest


def _time(value: datetime | None, raw: str) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else raw


def proposal_columns(with_status: bool) -> tuple[list[Column], Column]:
    cols = [
        Column("ID", lambda p: p.proposal_id[:12], 12),
        Column("CREATED", lambda p: _time(p.created_at, p.created_at_raw), 19),
    ]
    if with_status:
        cols.append(Column("STATUS", lambda p: p.status, 10, lambda p: STATUS_STYLE.get(p.status)))
    cols += [
        Column("TRACT", lambda p: p.tract_id, 14),
        Column("POLICY", lambda p: p.policy_name, 24),
        Column("ACTION", lambda p: p.action_type, 10),
    ]
    return cols, Column("REASON", lambda p: p.reason)


def log_detail(e: LogEntry) -> str:
    parts = [e.reason or ""]
    if e.error_message:
        parts.append(f"error: {e.error_message}")
    if e.commit_hash:
        parts.append(f"commit {e.commit_hash[:12]}")
    return " · ".join(p for p in parts if p)


def log_columns() -> tuple[list[Column], Column]:
    cols = [
        Column("TIME", lambda e: _time(e.created_at, e.created_at_raw), 19),
        Column("TRACT", lambda e: e.tract_id, 14),
        Column("POLICY", lambda e: e.policy_name, 24),
        Column("TRIGGER", lambda e: e.trigger, 8),
        Column("ACTION", lambda e: e.action_type, 10),
        Column("OUTCOME", lambda e: e.outcome, 9, lambda e: STATUS_STYLE.get(e.outcome)),
    ]
    return cols, Column("DETAIL", log_detail)


# --- argument parsing --------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit 2), not usage + message."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)", self.prog)


def _filter_arg(context: str) -> Callable[[str], Filter]:
    def parse(text: str) -> Filter:
        try:
            return parse_filter(text, context)
        except TraceError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def _age_arg(text: str) -> timedelta:
    try:
        return parse_age(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _when_arg(text: str) -> When:
    try:
        return parse_when(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _limit_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative (0 means no limit)")
    return value


FILTER_HELP = """\
filter language (one string; quote it in the shell):
  policy:NAME tract:ID status:X action:X outcome:X trigger:X since:WHEN until:WHEN
  and free words (matched in the reason / error message). Quotes group spaces
  (policy:"my policy"); a leading '-' negates a term (-policy:auto-pin -timeout).
  Terms of one key are OR-ed, different keys AND-ed. WHEN is ISO (2026-02-18,
  2026-02-18T10:20) or an age before now (90s, 30m, 2h, 3d, 1w).
"""

EXIT_HELP = """\
exit status: 0 done; 1 some IDs were not pending or not found (each reported);
2 bad usage or bad input (missing file, not a tract database, newer schema,
bad filter, ambiguous ID prefix, read-only file for a decision).
"""


def build_command_parser() -> argparse.ArgumentParser:
    """The parser of the subcommands (``tract-tui list PATH ...``)."""
    parser = _Parser(
        prog=PROG,
        description="Review tract policy proposals from the shell.",
        epilog=FILTER_HELP + "\n" + EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=description,
            epilog=EXIT_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("path", metavar="PATH", help="the tract SQLite database")
        return p

    def json_flag(p: argparse.ArgumentParser, what: str) -> None:
        p.add_argument("--json", action="store_true", help=f"print {what} as JSON")

    p = command(
        "list",
        "pending proposals, oldest first",
        "List pending proposals, oldest first (status: in the filter lists others).",
    )
    p.epilog = FILTER_HELP + "\n" + EXIT_HELP
    p.add_argument(
        "--filter",
        metavar="EXPR",
        type=_filter_arg("proposals"),
        default=Filter(),
        help="see below",
    )
    p.add_argument("--limit", metavar="N", type=_limit_arg, default=0, help="at most N (0: all)")
    json_flag(p, "one array of proposal objects")

    p = command("show", "one proposal and what it would touch", "Show one proposal in full.")
    p.add_argument("id", metavar="ID", help="a proposal id or any unique prefix of one")
    json_flag(p, "one object")

    p = command(
        "approve",
        "approve pending proposals",
        "Approve proposals that are still pending; each decision is logged with your login.",
    )
    p.add_argument("ids", metavar="ID", nargs="+", help="proposal ids or unique prefixes")
    p.add_argument("--note", metavar="TEXT", help="a note kept in the log row")
    json_flag(p, "a report per ID")

    p = command(
        "reject",
        "reject pending proposals",
        "Reject proposals that are still pending; each decision is logged with your login.",
    )
    p.add_argument("ids", metavar="ID", nargs="+", help="proposal ids or unique prefixes")
    p.add_argument("--reason", metavar="TEXT", help="why (kept in the log row)")
    json_flag(p, "a report per ID")

    p = command(
        "release",
        "give back claims whose agent died",
        "Put proposals stuck in 'executing' (their agent was killed mid-action) back to\n"
        "approved, so an agent can claim them again; each is logged as an error with your\n"
        "login. Find them with: list PATH --filter status:executing",
    )
    p.add_argument("ids", metavar="ID", nargs="+", help="proposal ids or unique prefixes")
    p.add_argument("--reason", metavar="TEXT", help="why (kept in the log row)")
    json_flag(p, "a report per ID")

    p = command(
        "expire",
        "expire proposals pending for too long",
        "Mark pending proposals older than AGE as expired (each logged).",
    )
    p.epilog = FILTER_HELP + "\n" + EXIT_HELP
    p.add_argument(
        "--older-than", metavar="AGE", type=_age_arg, required=True, help="30m, 2h, 7d ..."
    )
    p.add_argument(
        "--filter", metavar="EXPR", type=_filter_arg("proposals"), default=Filter(), help="only"
    )
    p.add_argument("--dry-run", action="store_true", help="only say what would expire")
    json_flag(p, "a report")

    p = command("log", "the policy log, newest first", "Print the policy log, newest first.")
    p.epilog = FILTER_HELP + "\n" + EXIT_HELP
    p.add_argument(
        "--filter", metavar="EXPR", type=_filter_arg("log"), default=Filter(), help="see below"
    )
    p.add_argument(
        "--limit",
        metavar="N",
        type=_limit_arg,
        default=DEFAULT_LOG_LIMIT,
        help=f"at most N rows (default {DEFAULT_LOG_LIMIT}; 0: all)",
    )
    json_flag(p, "one array of log objects")

    p = command(
        "gc",
        "delete old log rows",
        "Delete policy log rows older than WHEN (ISO date/time, or an age such as 30d).",
    )
    p.add_argument("--before", metavar="WHEN", type=_when_arg, required=True)
    p.add_argument("--tract", metavar="ID", help="only this tract's rows")
    p.add_argument("--dry-run", action="store_true", help="only count")
    json_flag(p, "a report")
    return parser


def build_console_parser() -> argparse.ArgumentParser:
    """The parser of ``tract-tui PATH`` / ``tract-tui --demo`` (the Textual console)."""
    commands = "\n".join(f"  {PROG} {c} PATH ..." for c in COMMANDS)
    parser = _Parser(
        prog=PROG,
        usage=f"{PROG} [-h] [--version] PATH [--read-only] [--create]\n"
        f"       {PROG} --demo\n"
        f"       {PROG} COMMAND PATH ... (see below)",
        description="Open a tract database in the review console.",
        epilog=f"commands (each has --help):\n{commands}\n\n"
        f"A file named like a command opens with a path: {PROG} ./list\n\n" + EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", metavar="PATH", nargs="?", help="the tract SQLite database")
    parser.add_argument("--read-only", action="store_true", help="never write (no decisions)")
    parser.add_argument("--create", action="store_true", help="make a new database at PATH")
    parser.add_argument("--demo", action="store_true", help="open a generated demo database")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def is_command(argv: Sequence[str]) -> bool:
    """Is the first non-option argument a subcommand name (else: the console)?"""
    for arg in argv:
        if arg == "--":
            return False
        if arg.startswith("-") and arg != "-":
            continue
        return arg in COMMANDS
    return False


def glue_values(argv: Sequence[str]) -> list[str]:
    """``--filter -policy:x`` -> ``--filter=-policy:x`` (argparse would take it for an option)."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--":
            out.append(arg)
            out.extend(it)
            break
        if arg in GLUED_OPTIONS:
            value = next(it, None)
            out.append(arg if value is None else f"{arg}={value}")
        else:
            out.append(arg)
    return out


# --- commands ----------------------------------------------------------------------


def open_service(path: str) -> ReviewService:
    """Open (and migrate) like the console; falls back to read-only for unwritable files."""
    from tract_tui.review.service import ReviewService

    return ReviewService.open(path)


def _require_writable(svc: ReviewService, verb: str) -> None:
    if svc.read_only:
        raise ReadOnlyError(
            f"{svc.path}: is read-only here (the file or its directory is not writable); "
            f"cannot {verb}"
        )


def cmd_list(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    flt: Filter = args.filter
    rows: Iterable[Proposal] = svc.iter_proposals(flt, page_size=PAGE)
    if args.limit:
        rows = islice(rows, args.limit)
    if args.json:
        out.json_array(p.to_json() for p in rows)
        return EXIT_OK
    with_status = bool(flt.values("status") or flt.values("status", negated=True))
    cols, last = proposal_columns(with_status)
    if not write_table(out, rows, cols, last):
        out.line("no proposals match" if flt else "no pending proposals")
    return EXIT_OK


def cmd_show(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    try:
        detail = svc.get_detail(svc.resolve_id(args.id))
    except ProposalNotFoundError as e:
        error_line(str(e))
        return EXIT_PARTIAL
    if args.json:
        out.json(detail.to_json())
        return EXIT_OK
    p, impact = detail.proposal, detail.impact

    def label(name: str) -> str:
        return out.style(f"{name:<9}", "bold")

    status = out.style(printable(p.status), STATUS_STYLE.get(p.status))
    if p.resolved_at:
        status += f"  (resolved {_time(p.resolved_at, '')})"
    out.line(f"{label('proposal')} {printable(p.proposal_id)}")
    out.line(f"{label('status')} {status}")
    out.line(f"{label('tract')} {printable(p.tract_id)}")
    out.line(f"{label('policy')} {printable(p.policy_name)}")
    out.line(f"{label('action')} {printable(p.action_type)}")
    out.line(f"{label('created')} {printable(_time(p.created_at, p.created_at_raw))}")
    out.line(f"{label('reason')} {_block(p.reason, indent=10).lstrip()}")
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
        for line in _block(impact.preview, indent=0).splitlines():
            out.line("  " + out.style("│", "dim") + " " + line)
    out.line()
    out.line(out.style("params", "bold"))
    raw = p.params_raw or ""
    if p.params_valid and len(raw) <= MAX_PRETTY_PARAMS:
        params_text = json.dumps(p.params, ensure_ascii=False, indent=2)
    elif p.params_valid:  # megabytes: shown raw (and cut below), not pretty-printed first
        params_text = raw
    else:
        params_text = f"({p.params_problem}) {raw}"
    out.line(_block(params_text, indent=2))
    return EXIT_OK


def _block(text: str | None, *, indent: int, limit: int = 4000, max_lines: int = 60) -> str:
    """Multi-line untrusted text, printable, indented, cut with a note (--json has it all)."""
    if not text:
        return " " * indent + "-"
    shown = text[:limit]
    lines = printable(shown, newlines=True).split("\n")
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


#: One ID's result: (as given, full id or None, its decision, or its status if not decided).
IdOutcome = tuple[str, "str | None", "Decision | None", "str | None"]


def report_per_id(
    out: Output,
    as_json: bool,
    outcomes: Iterable[IdOutcome],
    *,
    done_key: str,
    label: str,
    wanted: str,
) -> int:
    """Report each ID: done, or why not (its status was not ``wanted``, or no such ID).

    One line per ID done (or a ``--json`` object), one stderr line per ID not
    done; exit 1 when any was not.
    """
    report: list[dict[str, Any]] = []
    failed = False
    for given, full, d, current in outcomes:
        if d is not None:
            report.append(
                {
                    "id": given,
                    "proposal_id": full,
                    done_key: True,
                    "status": d.status,
                    "log_id": d.log_id,
                    "error": None,
                }
            )
            if not as_json:
                who = f"{one_line(d.tract_id, 40)} · {one_line(d.policy_name, 40)}"
                out.line(
                    f"{out.style(label, STATUS_STYLE[d.status])} {printable(d.proposal_id)}  {who}"
                )
            continue
        failed = True
        if current is not None:
            message = f"is {current}, not {wanted}; nothing was changed"
        else:
            message = "no such proposal"
        report.append(
            {
                "id": given,
                "proposal_id": full,
                done_key: False,
                "status": current,
                "log_id": None,
                "error": message,
            }
        )
        error_line(f"{full or given}: {message}")
    if as_json:
        out.json(report)
    return EXIT_PARTIAL if failed else EXIT_OK


def cmd_decide(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    status = "approved" if args.command == "approve" else "rejected"
    note = args.note if args.command == "approve" else args.reason
    _require_writable(svc, args.command)
    resolved = resolve_ids(svc, args.ids)
    found = [full for _, full in resolved if full is not None]
    results: dict[str, DecisionOutcome] = {
        r.proposal_id: r for r in svc.decide_many(found, status, note)
    }
    outcomes: list[IdOutcome] = []
    for given, full in resolved:
        r = results.get(full) if full is not None else None
        if r is None:
            outcomes.append((given, full, None, None))
        else:
            outcomes.append((given, full, r.decision, r.current_status))
    return report_per_id(
        out, args.json, outcomes, done_key="decided", label=status, wanted="pending"
    )


def cmd_release(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    _require_writable(svc, "release claims")

    def release(
        given: str, full: str | None
    ) -> tuple[str, str | None, Decision | None, str | None]:
        if full is None:
            return given, full, None, None
        try:
            return given, full, svc.release_stuck(full, args.reason), None
        except ProposalConflictError as e:
            return given, full, None, e.current_status
        except ProposalNotFoundError:
            return given, full, None, None

    outcomes = (release(given, full) for given, full in resolve_ids(svc, args.ids))
    return report_per_id(
        out, args.json, outcomes, done_key="released", label="released", wanted="executing"
    )


def cmd_expire(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    age: timedelta = args.older_than
    if not args.dry_run:
        _require_writable(svc, "expire proposals")
    done = svc.expire(age, dry_run=args.dry_run, flt=args.filter)
    if args.json:
        out.json(
            {
                "dry_run": args.dry_run,
                "older_than_seconds": age.total_seconds(),
                "count": len(done),
                "proposal_ids": [p.proposal_id for p in done],
            }
        )
        return EXIT_OK
    cols, last = proposal_columns(False)
    write_table(out, done, cols, last)
    verb = "would expire" if args.dry_run else "expired"
    noun = "proposal" if len(done) == 1 else "proposals"
    out.line(f"{verb} {len(done)} {noun} pending longer than {_age_text(age)}")
    return EXIT_OK


def _age_text(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def cmd_log(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    rows: Iterable[LogEntry] = svc.iter_log(args.filter, page_size=PAGE)
    if args.limit:
        rows = islice(rows, args.limit)
    if args.json:
        out.json_array(e.to_json() for e in rows)
        return EXIT_OK
    cols, last = log_columns()
    if not write_table(out, rows, cols, last):
        out.line("no log rows match" if args.filter else "the log is empty")
    return EXIT_OK


def cmd_gc(svc: ReviewService, args: argparse.Namespace, out: Output) -> int:
    when: When = args.before
    before = when.resolve(svc.now())
    if not args.dry_run:
        _require_writable(svc, "delete log rows")
    count = svc.gc_log(before, tract_id=args.tract, dry_run=args.dry_run)
    if args.json:
        out.json(
            {
                "dry_run": args.dry_run,
                "before": before.isoformat(sep=" "),
                "tract_id": args.tract,
                "count": count,
            }
        )
        return EXIT_OK
    verb = "would delete" if args.dry_run else "deleted"
    scope = f" of tract {one_line(args.tract, 60)}" if args.tract else ""
    rows = "log row" if count == 1 else "log rows"
    out.line(f"{verb} {count} {rows}{scope} older than {before:%Y-%m-%d %H:%M:%S}")
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


def run_command(argv: Sequence[str]) -> int:
    args = build_command_parser().parse_args(glue_values(argv))
    out = Output()
    svc = open_service(args.path)
    try:
        code = HANDLERS[args.command](svc, args, out)
        out.stream.flush()
        return code
    finally:
        svc.close()


def run_console_command(argv: Sequence[str]) -> int:
    args = build_console_parser().parse_args(list(argv))
    if args.path is None and not args.demo:
        raise UsageError(f"give a database PATH or --demo (see {PROG} --help)")
    try:
        app = importlib.import_module("tract_tui.app")
        run_console: Callable[..., int] = app.run_console
    except (ImportError, AttributeError) as e:
        raise UsageError(f"the console is not available here ({e})") from None
    return int(
        run_console(args.path, demo=args.demo, read_only=args.read_only, create=args.create) or 0
    )


def describe(error: BaseException) -> str:
    """One line for an unexpected error (a driver error is reduced to its own message)."""
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).strip().splitlines()
    message = text[0] if text else type(error).__name__
    if "locked" in message or "busy" in message:
        return "the database is locked by another process; try again when it is done"
    if isinstance(error, OSError):
        return message
    return f"{type(error).__name__}: {message}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tract-tui`` and ``python -m tract_tui``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if is_command(args):
            return run_command(args)
        return run_console_command(args)
    except SystemExit as e:  # --help / --version
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)
    except UsageError as e:
        error_line(str(e), e.prog)
    except TraceError as e:
        error_line(str(e))
    except KeyboardInterrupt:
        error_line("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (| head): say nothing more, and stop Python complaining at exit
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK
    except Exception as e:
        if os.environ.get("TRACT_TUI_DEBUG"):
            raise
        error_line(describe(e) + " (set TRACT_TUI_DEBUG=1 for a traceback)")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
