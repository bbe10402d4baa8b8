"""Every database call the console makes runs here: in a thread, errors in one place.

:meth:`ServiceCalls.call_service` runs a service call in a Textual thread
worker and hands its result to a callback on the event loop, unless the
worker was cancelled or the answer went stale meanwhile (a newer filter, a
newer reload). Any :class:`~tract_tui.exceptions.TraceError` it raises
becomes one notice, and so does any other exception: the console keeps
running and says what went wrong, it never dies with a traceback. This
replaces the hand-written ``get_current_worker`` / ``is_cancelled`` /
``call_from_thread`` blocks each worker used to have (Harlequin's way).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from textual.worker import Worker, get_current_worker

from tract_tui.exceptions import QueryCancelledError, TraceError
from tract_tui.text import one_line

T = TypeVar("T")
#: Polled by long reads: True means "stop, nobody wants the answer any more".
Cancelled = Callable[[], bool]


class _Host(Protocol):
    """What call_service needs of the widget (or app) it runs on."""

    @property
    def app(self) -> Any: ...

    def run_worker(self, work: Any, *args: Any, **kwargs: Any) -> Worker[Any]: ...


def error_text(error: BaseException) -> str:
    """The one line a person is shown for ``error`` (a TraceError's message is written for them)."""
    if isinstance(error, TraceError):
        return one_line(str(error), 400)
    return one_line(f"unexpected error: {type(error).__name__}: {error}", 400)


def report_error(app: Any, error: BaseException) -> None:
    """Show ``error`` as a notice; the console goes on."""
    app.notify(error_text(error), severity="error", markup=False, timeout=8)


class ServiceCalls:
    """Mixin for widgets and the app: run service calls in worker threads."""

    def call_service(
        self: _Host,
        call: Callable[[Cancelled], T],
        done: Callable[[T], object] | None = None,
        *,
        group: str,
        exclusive: bool = True,
        stale: Callable[[], bool] | None = None,
        failed: Callable[[BaseException], object] | None = None,
        always: Callable[[], object] | None = None,
    ) -> Worker[None]:
        """Run ``call(cancelled)`` in a thread; ``done(result)`` on the event loop.

        ``done`` is skipped when the worker was cancelled (``exclusive``: a
        newer call of the same group cancels it) or ``stale()`` is true.
        An error goes to ``failed`` if given, else to a notice; ``always``
        runs last on the event loop whatever happened (a cancelled call
        included), for state that must be reset.
        """
        app = self.app

        def work() -> None:
            worker = get_current_worker()

            def cancelled() -> bool:
                return worker.is_cancelled or (stale is not None and stale())

            try:
                result = call(cancelled)
            except QueryCancelledError:
                pass
            except Exception as e:  # every error of a service call ends as a notice
                app.call_from_thread(failed or (lambda err: report_error(app, err)), e)
            else:
                if done is not None and not cancelled():
                    _hand_over(app, done, result, cancelled)
            finally:
                if always is not None:
                    app.call_from_thread(always)

        return self.run_worker(
            work, thread=True, group=group, exclusive=exclusive, exit_on_error=False
        )


def _hand_over(app: Any, done: Callable[[T], object], result: T, cancelled: Cancelled) -> None:
    """Run ``done(result)`` on the event loop; a bug in it becomes a notice, not a silent end.

    (Raised inside ``call_from_thread`` it would end this worker quietly: the
    console would just not update, with nothing said.)
    """
    try:
        app.call_from_thread(_deliver, done, result, cancelled)
    except Exception as e:
        if app.is_running:
            app.call_from_thread(report_error, app, e)


def _deliver(done: Callable[[T], object], result: T, cancelled: Cancelled) -> None:
    """On the event loop: hand the result over unless it went stale on the way."""
    if not cancelled():
        done(result)
