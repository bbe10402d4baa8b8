"""``list --json`` and ``log --json``: every matching row, streamed, as fast as plain SQLite.

Rows come from one cursor (one row in memory at a time, whatever the file
holds). Params that SQLite says are valid JSON text are written as they are
stored: parsing and re-encoding them is most of the cost of the obvious
program (and of the old path), and it changes nothing. Anything else (not
text, not valid, an exponent Python reads as infinity, nesting deeper than
tract-tui pretty-prints, an output stream that is not UTF-8) takes the
general path through the models' ``to_json``, so both paths print the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import islice
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any

from tract_tui.cli.output import dump_json, escape_json_text
from tract_tui.models.review import MAX_PARAMS_DEPTH, LogEntry, Proposal
from tract_tui.review.filters import Filter

if TYPE_CHECKING:
    from tract_tui.review.service import ReviewService

#: A str as a JSON string, exactly as json.dumps(ensure_ascii=False) writes it (C speed).
_str: Callable[[str], str] = encode_basestring


def _opt(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


#: An exponent of three digits or more: JSON allows it, Python reads 1e400 as infinity.
_BIG_EXPONENT = re.compile(r"[eE][+-]?\d{3}")
#: A JSON string (the text is valid JSON): hashes in strings hold "e904" and are no exponent.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
#: Stored times in tract's own form: printed as stored (what the models print too).
_CANONICAL = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\Z")


def _time(raw: Any, *, null: bool = False) -> bool:
    """A stored time the models would print exactly as stored (None only where ``null``)."""
    if raw is None:
        return null
    return isinstance(raw, str) and _CANONICAL.match(raw) is not None


def _as_is(params: Any, valid: Any, kind: Any) -> bool:
    """May these stored params be written as they are?"""
    if kind != "text" or valid != 1:
        return False
    if params.count("[") + params.count("{") > MAX_PARAMS_DEPTH:
        return False  # maybe nested deeper than the models read it: their path decides
    if ("e" not in params and "E" not in params) or not _BIG_EXPONENT.search(params):
        return True
    return _BIG_EXPONENT.search(_JSON_STRING.sub('""', params)) is None


def proposal_line(row: tuple[Any, ...]) -> list[str] | None:
    """One proposal's JSON object in pieces, or None when it must go the general way.

    ``conflict`` (last): its status contradicts the last decision tract-tui
    logged for it (storage/history.overridden_decisions); false for every other row.
    """
    pid, tract, policy, action, params, reason, status, created, resolved, valid, kind = row[:11]
    if not (_as_is(params, valid, kind) and _time(created) and _time(resolved, null=True)):
        return None
    if not all(isinstance(v, str) for v in (pid, tract, policy, action, status)) or not pid:
        return None  # (an empty id prints as null, as the models print it)
    if reason is not None and not isinstance(reason, str):
        return None
    head = (f'{{"proposal_id": {_str(pid)}, "tract_id": {_str(tract)}, "policy_name": '
            f'{_str(policy)}, "action_type": {_str(action)}, "params": ')  # fmt: skip
    tail = (f', "reason": {_opt(reason)}, "status": {_str(status)}, "created_at": '
            f'{_str(created)}, "resolved_at": {_opt(resolved)}, "conflict": '
            f'{"true" if row[11] else "false"}}}')  # fmt: skip
    return [escape_json_text(head), escape_json_text(params), escape_json_text(tail)]


def _proposal(row: tuple[Any, ...]) -> Proposal:
    from tract_tui.storage.rows import proposal_from

    pid, tract, policy, action, params, reason, status, created, resolved = row[:9]
    return proposal_from((pid, tract, policy, action, params, None, reason, None, status,
                          created, resolved, 0))  # fmt: skip


def proposals_json(
    svc: ReviewService, flt: Filter, limit: int, *, ascii_only: bool
) -> Iterator[str | list[str]]:
    rows = svc.stream_proposal_rows(flt)
    for row in islice(rows, limit) if limit else rows:
        line = None if ascii_only else proposal_line(row)
        if line is not None:
            yield line
        else:
            whole = {**_proposal(row).to_json(), "conflict": bool(row[11])}
            yield dump_json(whole, ascii_only=ascii_only)


def log_line(row: tuple[Any, ...]) -> str | None:
    """One log row's JSON object, or None when it must go the general way."""
    if not _time(row[-1]) or not isinstance(row[0], int):
        return None
    values = row[1:9]
    if not all(v is None or isinstance(v, str) for v in values):
        return None
    tract, policy, trigger, action, reason, outcome, commit, error = (_opt(v) for v in values)
    return escape_json_text(
        f'{{"id": {row[0]}, "tract_id": {tract}, "policy_name": {policy}, "trigger": {trigger},'
        f' "action_type": {action}, "reason": {reason}, "outcome": {outcome},'
        f' "commit_hash": {commit}, "error_message": {error}, "created_at": {_str(row[9])}}}'
    )


def log_json(svc: ReviewService, flt: Filter, limit: int, *, ascii_only: bool) -> Iterator[str]:
    from tract_tui.storage.rows import log_from

    rows = svc.stream_log_rows(flt)
    for row in islice(rows, limit) if limit else rows:
        line = None if ascii_only else log_line(row)
        if line is None:
            entry: LogEntry = log_from(row)
            line = dump_json(entry.to_json(), ascii_only=ascii_only)
        yield line
