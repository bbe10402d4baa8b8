"""Run an approved action through the agent's own ``Tract``, as the library's approve does.

tract's ``approve_proposal`` executes an action at once through
``PolicyEvaluator._dispatch_action`` (``tract/policy/evaluator.py``, the same
in v5, v6 and v8). tract-tui separates the decision from the execution (a
person approves; the agent claims and runs it), so the agent needs that
dispatch itself: :func:`execute_with_tract` is it, public method for public
method, so an action run here does exactly what the library would have
done on approval.

The library is not imported by tract-tui: only the ``Tract`` object the
agent passes in is used, plus ``tract.models.annotations.Priority`` for an
annotate, imported when one runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from tract_tui.exceptions import TraceError

#: The action types the library's own approve executes.
BUILTIN_ACTIONS = ("compress", "annotate", "branch", "archive")

#: A handler for an action type the library does not know: (tract, params) -> commit hash.
Handler = Callable[[Any, dict[str, Any]], "str | None"]

_handlers: dict[str, Handler] = {}
_handlers_lock = threading.Lock()


class ActionLike(Protocol):
    """What is executed: tract-tui's or the library's ``PolicyAction`` (or a claim's action)."""

    @property
    def action_type(self) -> str: ...

    @property
    def params(self) -> Any: ...


class UnknownActionError(TraceError):
    """No way to execute this action type: not one of the library's, and no handler given."""

    def __init__(self, action_type: str) -> None:
        self.action_type = action_type
        super().__init__(
            f"cannot execute action type {action_type!r}: the tract library executes only "
            f"{', '.join(BUILTIN_ACTIONS)}; register a handler with "
            f"tract_tui.api.register_action({action_type!r}, handler) or pass handlers="
        )


def register_action(action_type: str, handler: Handler | None) -> None:
    """Execute ``action_type`` with ``handler(tract, params)`` (None removes it).

    A handler may also replace a built-in type (an agent that compresses its
    own way); it returns the commit hash it made, or None.
    """
    with _handlers_lock:
        if handler is None:
            _handlers.pop(action_type, None)
        else:
            _handlers[action_type] = handler


def execute_with_tract(
    tract: Any, action: ActionLike, *, handlers: Mapping[str, Handler] | None = None
) -> str | None:
    """Execute ``action`` on ``tract``; the commit hash it produced, where there is one.

    ``handlers`` (this call) and :func:`register_action` (every call) run
    action types the library cannot, or replace a built-in one. Raises what
    the library raises (a ``CompressionError``, a ``BranchExistsError`` ...),
    and :class:`UnknownActionError` for a type nobody handles.
    """
    action_type = action.action_type
    params = dict(action.params or {})
    with _handlers_lock:
        handler = (handlers or {}).get(action_type) or _handlers.get(action_type)
    if handler is not None:
        return handler(tract, params)
    if action_type == "compress":
        result = tract.compress(**params)
        new_commits = getattr(result, "new_commits", None)
        return str(new_commits[-1].commit_hash) if new_commits else None
    if action_type == "annotate":
        _annotate(tract, params)
        return None
    if action_type == "branch":
        made = tract.branch(**params)
        return None if made is None else str(made)
    if action_type == "archive":
        name = params.get("archive_name", f"archive/{datetime.now():%Y%m%d}")
        made = tract.branch(name, source=params.get("source"), switch=False)
        return None if made is None else str(made)
    raise UnknownActionError(action_type)


def _annotate(tract: Any, params: dict[str, Any]) -> None:
    """``_dispatch_action``'s annotate: text priority to the library's enum, unknown -> NORMAL."""
    from tract.models.annotations import Priority  # type: ignore[import-not-found]

    priorities = {"pinned": Priority.PINNED, "normal": Priority.NORMAL, "skip": Priority.SKIP}
    # not str(): a priority that is not text fails here as it does in the library
    priority = priorities.get(params.pop("priority", "normal").lower(), Priority.NORMAL)
    target = params.pop("target_hash", None)
    if target is None:
        raise ValueError("annotate action missing 'target_hash' in params")
    tract.annotate(target, priority, reason=params.pop("reason", None))
