"""The Textual console (the only package that imports Textual).

Importing this package does not import Textual: :func:`run_console` opens the
database and reads the first page while Textual is being imported.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tract_tui.app.app import ReviewApp
    from tract_tui.app.paging import FirstPage
    from tract_tui.review.service import ReviewService

__all__ = ["ReviewApp", "run_console", "settle_gc"]

#: After the first frame: collect what startup left behind, then move the survivors
#: (Textual's modules, styles and widgets) out of the collector's sight for good.
GC_SETTLE_DELAY = 0.25

#: Seconds the screen waits, once Textual is imported, for a first page still being read.
#: Read by then, the rows are in the first frame; slower (a first open of a file of
#: millions of rows whose ix_tui_* indexes are not built yet: a full scan of its
#: proposals), the screen comes first and the rows when they are read.
PRELOAD_WAIT = 0.1


def __getattr__(name: str) -> Any:
    if name == "ReviewApp":
        from tract_tui.app.app import ReviewApp

        return ReviewApp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_console(
    path: str | None,
    *,
    demo: bool = False,
    read_only: bool = False,
    create: bool = False,
    reset: bool = False,
) -> int:
    """Open ``path`` (or the demo database) and run the console; return the exit code.

    The database is opened before the screen switches to the app, so a file we
    refuse is one line on stderr (exit 2), not a screen to dismiss.

    Launch time: the first page is read in a thread while Textual is imported
    (SQLite releases the GIL), and the cyclic garbage collector is paused
    until the first frame is drawn: startup allocates a few hundred thousand
    long-lived objects, and collecting them would land full passes on the
    first frame. Once drawn, one collection and ``gc.freeze()`` keep those
    objects out of every later pass, which also keeps a decision's worst
    case free of collector pauses (benchmarks/bench.py measures both).
    """
    from tract_tui.exceptions import TraceError
    from tract_tui.review.service import ReviewService
    from tract_tui.text import printable

    gc.disable()
    try:
        try:
            if demo:
                from tract_tui.demo import ensure_demo_database

                path = str(ensure_demo_database(reset=reset))
            if path is None:
                print("tract-tui: give a database path (or --demo)", file=sys.stderr)
                return 2
            service = ReviewService.open(path, read_only=read_only, create=create)
        except TraceError as e:
            print(f"tract-tui: {printable(str(e))}", file=sys.stderr)
            return 2
        try:
            return _run_app(path, service)
        finally:
            service.close()
    finally:
        gc.enable()


def _run_app(path: str, service: ReviewService) -> int:
    from tract_tui.app.paging import preload_first_page

    preloaded: list[FirstPage] = [None]

    def preload() -> None:
        preloaded[0] = preload_first_page(service)

    reader = threading.Thread(target=preload, name="tract-tui-preload", daemon=True)
    reader.start()
    from tract_tui.app.app import ReviewApp  # Textual: ~0.2 s, while the reader reads

    app = ReviewApp(path, service=service)
    reader.join(PRELOAD_WAIT)
    if reader.is_alive():  # a slow first page: no blank screen meanwhile

        def arrived(cancelled: Callable[[], bool]) -> FirstPage:
            while reader.is_alive():
                if cancelled():
                    return None
                reader.join(0.05)
            return preloaded[0]

        app.preload_later(arrived)
    else:
        app.preload(preloaded[0])  # the first rows are in the first frame
    app.first_frame_hooks.append(lambda: app.set_timer(GC_SETTLE_DELAY, settle_gc))
    result = app.run()
    return int(result or 0)


def settle_gc() -> None:
    """Collect once, freeze the survivors, collect as usual from now on (see run_console)."""
    gc.collect()
    gc.freeze()
    gc.enable()
