"""The Textual console (the only package that imports Textual)."""

from __future__ import annotations

import sys

from tract_tui.app.app import ReviewApp

__all__ = ["ReviewApp", "run_console"]


def run_console(
    path: str | None, *, demo: bool = False, read_only: bool = False, create: bool = False
) -> int:
    """Open ``path`` (or the demo database) and run the console; return the exit code.

    The database is opened before the screen switches to the app, so a file we
    refuse is one line on stderr (exit 2), not a screen to dismiss.
    """
    from tract_tui.exceptions import TraceError
    from tract_tui.review.service import ReviewService
    from tract_tui.text import printable

    try:
        if demo:
            from tract_tui.demo import ensure_demo_database

            path = str(ensure_demo_database())
        if path is None:
            print("tract-tui: give a database path (or --demo)", file=sys.stderr)
            return 2
        service = ReviewService.open(path, read_only=read_only, create=create)
    except TraceError as e:
        print(f"tract-tui: {printable(str(e))}", file=sys.stderr)
        return 2
    app = ReviewApp(path, service=service)
    app.preload()  # the first rows are in the first frame
    try:
        result = app.run()
    finally:
        service.close()
    return int(result or 0)
