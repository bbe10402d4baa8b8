"""The command line's grammar: which words are commands, their options, their help.

A usage error is one line on stderr and exit 2, never argparse's usage
block. The filter help of each command is made from the filter grammar
(:mod:`tract_tui.present`), so ``list --help`` shows exactly the keys
``list`` accepts.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, NoReturn

from tract_tui import __version__
from tract_tui.cli.output import PROG
from tract_tui.exceptions import TraceError
from tract_tui.present import filter_help_text
from tract_tui.review.filters import Filter, When, parse_age, parse_filter, parse_when

COMMANDS = ("list", "show", "approve", "reject", "expire", "release", "log", "gc")
#: Options whose value may start with "-" (a negated filter term, a note): glued as --opt=VALUE.
GLUED_OPTIONS = ("--filter", "--note", "--reason")
DEFAULT_LOG_LIMIT = 50

EXIT_HELP = """\
exit status: 0 done; 1 some IDs were not decided (not pending, not found, or stopped
by an error such as a lock; each is reported, the rest was done); 2 bad usage or bad
input (missing file, not a tract database, newer schema, bad filter, ambiguous ID
prefix, read-only file for a decision); 130 interrupted.
"""


class UsageError(Exception):
    """Bad usage; printed as ``PROG: message`` (PROG may be ``tract-tui list``)."""

    def __init__(self, message: str, prog: str = PROG) -> None:
        super().__init__(message)
        self.prog = prog


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


def _filter_epilog(context: str) -> str:
    return (
        "filter language (one string; quote it in the shell):\n"
        + filter_help_text(context)
        + "\n\n"
        + EXIT_HELP
    )


def _commands(
    sub: argparse._SubParsersAction[Any],
) -> Callable[..., argparse.ArgumentParser]:
    def command(
        name: str, help_text: str, description: str, *, context: str | None = None
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name,
            help=help_text,
            description=description,
            epilog=_filter_epilog(context) if context else EXIT_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("path", metavar="PATH", help="the tract SQLite database")
        return p

    return command


def _json_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def _ids(p: argparse.ArgumentParser, reason: str) -> None:
    p.add_argument("ids", metavar="ID", nargs="+", help="proposal ids or unique prefixes")
    p.add_argument(
        "--reason" if reason == "reason" else "--note",
        metavar="TEXT",
        help="why (kept in the log row)" if reason == "reason" else "a note kept in the log row",
    )
    _json_flag(p, "a report per ID")


def _filter_option(p: argparse.ArgumentParser, context: str, what: str) -> None:
    p.add_argument("--filter", metavar="EXPR", type=_filter_arg(context), default=Filter(),
                   help=f"only {what} matching EXPR (see below)")  # fmt: skip


def _list_args(p: argparse.ArgumentParser) -> None:
    _filter_option(p, "proposals", "proposals")
    p.add_argument("--limit", metavar="N", type=_limit_arg, default=0, help="at most N (0: all)")
    _json_flag(p, "one array of proposal objects")


def _show_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", metavar="ID", help="a proposal id or any unique prefix of one")
    _json_flag(p, "one object")


def _expire_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--older-than", metavar="AGE", type=_age_arg, required=True,
                   help="30m, 2h, 7d ...")  # fmt: skip
    _filter_option(p, "proposals", "proposals")
    p.add_argument("--dry-run", action="store_true", help="only say what would expire")
    _json_flag(p, "a report")


def _log_args(p: argparse.ArgumentParser) -> None:
    _filter_option(p, "log", "rows")
    p.add_argument("--limit", metavar="N", type=_limit_arg, default=DEFAULT_LOG_LIMIT,
                   help=f"at most N rows (default {DEFAULT_LOG_LIMIT}; 0: all)")  # fmt: skip
    _json_flag(p, "one array of log objects")


def _gc_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--before", metavar="WHEN", type=_when_arg, required=True,
                   help="rows created before WHEN: an ISO date/time or an age (30d)")  # fmt: skip
    p.add_argument("--tract", metavar="ID", help="only this tract's rows")
    p.add_argument("--dry-run", action="store_true", help="only count")
    _json_flag(p, "a report")


_DECIDED = "each decision is logged with your login."
#: name, one-line help, description, filter context, the function adding its options.
COMMAND_SPECS: list[tuple[str, str, str, str | None, Callable[[argparse.ArgumentParser], None]]] = [
    ("list", "pending proposals, oldest first",
     "List pending proposals, oldest first (status: in the filter lists others).",
     "proposals", _list_args),
    ("show", "one proposal and what it would do",
     "Show one proposal in full: what approving it would do to the agent's context.",
     None, _show_args),
    ("approve", "approve pending proposals",
     f"Approve proposals that are still pending; {_DECIDED}", None, lambda p: _ids(p, "note")),
    ("reject", "reject pending proposals",
     f"Reject proposals that are still pending; {_DECIDED}", None, lambda p: _ids(p, "reason")),
    ("release", "give back claims whose agent died",
     "Put proposals stuck in 'executing' (their agent was killed mid-action) back to\n"
     "approved, so an agent can claim them again; each is logged as an error with\n"
     "your login. Find them with: list PATH --filter status:executing",
     None, lambda p: _ids(p, "reason")),
    ("expire", "expire proposals pending for too long",
     "Mark pending proposals older than AGE as expired (each logged).", "proposals",
     _expire_args),
    ("log", "the policy log, newest first", "Print the policy log, newest first.", "log",
     _log_args),
    ("gc", "delete old log rows",
     "Delete policy log rows older than WHEN (ISO date/time, or an age such as 30d).",
     None, _gc_args),
]  # fmt: skip


def build_command_parser() -> argparse.ArgumentParser:
    """The parser of the subcommands (``tract-tui list PATH ...``)."""
    parser = _Parser(
        prog=PROG,
        description="Review tract policy proposals from the shell.",
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    command = _commands(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    for name, help_text, description, context, add_args in COMMAND_SPECS:
        add_args(command(name, help_text, description, context=context))
    return parser


def build_console_parser() -> argparse.ArgumentParser:
    """The parser of ``tract-tui PATH`` / ``tract-tui --demo`` (the Textual console)."""
    commands = "\n".join(f"  {PROG} {c} PATH ..." for c in COMMANDS)
    parser = _Parser(
        prog=PROG,
        usage=f"{PROG} [-h] [--version] PATH [--read-only] [--create]\n"
        f"       {PROG} --demo [--reset]\n"
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
    parser.add_argument(
        "--reset", action="store_true", help="with --demo: build the demo database afresh"
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def positionals(argv: Sequence[str]) -> list[str]:
    """The arguments that are not options (up to ``--``, after which all are)."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--":
            out.extend(it)
            break
        if not (arg.startswith("-") and arg != "-"):
            out.append(arg)
    return out


def is_command(argv: Sequence[str]) -> bool:
    """Is the first non-option argument a subcommand name (else: the console)?"""
    for arg in argv:
        if arg == "--":
            return False
        if arg.startswith("-") and arg != "-":
            continue
        return arg in COMMANDS
    return False


def unknown_command(argv: Sequence[str]) -> str | None:
    """A mistyped command (``lst db``) named with a suggestion; None when it is not one.

    Two or more positional words whose first is not a command and not a file
    that exists can only be a command gone wrong.
    """
    import os

    words = positionals(argv)
    if len(words) < 2 or words[0] in COMMANDS or os.path.exists(words[0]):
        return None
    close = difflib.get_close_matches(words[0], COMMANDS, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]}?)" if close else f"; commands: {', '.join(COMMANDS)}"
    return f"unknown command {words[0]!r}{hint}"


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
