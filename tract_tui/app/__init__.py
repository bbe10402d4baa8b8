"""The Textual console (the only package that imports Textual).

Importing this package does not import Textual: :func:`run_console` opens the
database and reads the first page in a thread while Textual is being imported.
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

    Launch time: the file is opened and the first page read in a thread
    while Textual is imported (SQLite releases the GIL), and the cyclic
    garbage collector is paused until the first frame is drawn: startup
    allocates a few hundred thousand long-lived objects, and collecting them
    would land full passes on the first frame. Once drawn, one collection
    and ``gc.freeze()`` keep those objects out of every later pass, which
    also keeps a decision's worst case free of collector pauses
    (benchmarks/bench.py measures both).
    """
    gc.disable()
    try:
        if demo:
            from tract_tui.demo import ensure_demo_database

            path = str(ensure_demo_database(reset=reset))
        if path is None:
            print("tract-tui: give a database path (or --demo)", file=sys.stderr)
            return 2
        return _run_app(_Opener(path, read_only=read_only, create=create))
    finally:
        gc.enable()


class _Opener(threading.Thread):
    """Opens the file, then reads its first page, while the main thread imports Textual.

    Why the open too: the first connection to a file whose WAL a killed
    process left reads that WAL back whole (150 ms for the 475 MB a console
    killed while indexing a 10M-row file leaves), which then runs beside
    Textual's import instead of before it.
    """

    def __init__(self, path: str, *, read_only: bool, create: bool) -> None:
        super().__init__(name="tract-tui-preload", daemon=True)
        self.path = path
        self.read_only = read_only
        self.create = create
        self.opened = threading.Event()
        self.service: ReviewService | None = None
        self.error: BaseException | None = None
        self.first_page: FirstPage = None

    def start(self) -> None:
        """Import what :meth:`run` needs first: imported in the thread, beside Textual's
        import in the main thread, they waited for the GIL and delayed the open by 40 ms."""
        import tract_tui.app.paging
        import tract_tui.review.service  # noqa: F401

        super().start()

    def run(self) -> None:
        from tract_tui.app.paging import preload_first_page
        from tract_tui.review.service import ReviewService

        try:
            self.service = ReviewService.open(
                self.path, read_only=self.read_only, create=self.create
            )
        except BaseException as e:  # handed to the main thread, which reports it
            self.error = e
            return
        finally:
            self.opened.set()
        self.first_page = preload_first_page(self.service)


def _run_app(opener: _Opener) -> int:
    from tract_tui.exceptions import TraceError
    from tract_tui.text import printable

    opener.start()
    from tract_tui.app.app import ReviewApp  # Textual: ~0.15 s, while the opener reads

    opener.opened.wait()
    if isinstance(opener.error, TraceError):
        print(f"tract-tui: {printable(str(opener.error))}", file=sys.stderr)
        return 2
    if opener.error is not None:
        raise opener.error
    service = opener.service
    assert service is not None  # set before opened, unless error was
    try:
        app = ReviewApp(opener.path, service=service)
        opener.join(PRELOAD_WAIT)
        if opener.is_alive():  # a slow first page: no blank screen meanwhile

            def arrived(cancelled: Callable[[], bool]) -> FirstPage:
                while opener.is_alive():
                    if cancelled():
                        return None
                    opener.join(0.05)
                return opener.first_page

            app.preload_later(arrived)
        else:
            app.preload(opener.first_page)  # the first rows are in the first frame
        app.first_frame_hooks.append(lambda: app.set_timer(GC_SETTLE_DELAY, settle_gc))
        result = app.run()
        return int(result or 0)
    finally:
        service.close()


def settle_gc() -> None:
    """Collect once, freeze the survivors, collect as usual from now on (see run_console)."""
    gc.collect()
    gc.freeze()
    gc.enable()
