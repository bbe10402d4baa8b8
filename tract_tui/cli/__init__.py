"""The command line: ``tract-tui PATH`` opens the console, subcommands script the review.

Exit codes: 0 done; 1 some IDs were not decided (each reported); 2 bad
usage or bad input (one line on stderr, never a traceback); 130
interrupted. Text read from the database is untrusted: the tables go
through :mod:`tract_tui.text`, ``--json`` carries it exactly.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence

from tract_tui.cli.commands import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, HANDLERS
from tract_tui.cli.output import PROG, Output, error_line
from tract_tui.cli.parser import (
    COMMANDS,
    UsageError,
    build_command_parser,
    build_console_parser,
    glue_values,
    is_command,
    unknown_command,
)
from tract_tui.exceptions import TraceError

__all__ = ["COMMANDS", "glue_values", "is_command", "main"]


def run_command(argv: Sequence[str]) -> int:
    from tract_tui.review.service import ReviewService

    args = build_command_parser().parse_args(glue_values(argv))
    out = Output()
    svc = ReviewService.open(args.path)
    try:
        note = version_note(svc.version, args.command)
        if note is not None:
            error_line(f"note: {note}")
        code = HANDLERS[args.command](svc, args, out)
        out.stream.flush()
        return code
    finally:
        svc.close()


#: The subcommands about proposals (a v9 file has none to show them).
PROPOSAL_COMMANDS = ("list", "show", "approve", "reject", "expire", "release")


def version_note(version: int, command: str) -> str | None:
    """What a file's tract version means for ``command``: v9 writes no proposals."""
    from tract_tui.review.service import NO_PROPOSALS_FROM

    if version >= NO_PROPOSALS_FROM and command in PROPOSAL_COMMANDS:
        return (f"tract schema {version} keeps proposals in memory (hooks) and writes none to "
                f"this file; its policy log is here: {PROG} log PATH")  # fmt: skip
    return None


def run_console_command(argv: Sequence[str]) -> int:
    mistyped = unknown_command(argv)
    if mistyped is not None:
        raise UsageError(f"{mistyped} (see {PROG} --help)")
    args = build_console_parser().parse_args(list(argv))
    if args.path is None and not args.demo:
        raise UsageError(f"give a database PATH or --demo (see {PROG} --help)")
    if args.reset and not args.demo:
        raise UsageError(f"--reset goes with --demo (see {PROG} --help)")
    try:
        app = importlib.import_module("tract_tui.app")
        run_console: Callable[..., int] = app.run_console
    except (ImportError, AttributeError) as e:
        raise UsageError(f"the console is not available here ({e})") from None
    return int(
        run_console(
            args.path,
            demo=args.demo,
            read_only=args.read_only,
            create=args.create,
            reset=args.reset,
        )
        or 0
    )


def describe(error: BaseException) -> str:
    """One line for an unexpected error (never a traceback)."""
    text = str(error).strip().splitlines()
    message = text[0] if text else type(error).__name__
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
