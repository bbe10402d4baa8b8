"""Rows of the policy tables as plain dataclasses, and the stored times they carry.

Every column is read as SQLite stored it and never trusted to parse: a
time may be tract's text, another ISO form, an epoch number, a BLOB or
NULL; text may be megabytes long. Listings read a bounded prefix of the
long columns (with their full length), so a table of huge rows costs no
more memory than one of short rows; the full value is read on request.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tract_tui.models.review import LogEntry, Proposal

#: Characters of ``reason`` / params a listing reads per row (the rest stays on disk).
LIST_PREFIX = 2_000
#: Characters a proposal's detail reads: more than any view shows, far less than a huge row.
DETAIL_PREFIX = 250_000

#: The GLOB of tract's own time text (``YYYY-MM-DD HH:MM:SS[.ffffff]``), which sorts as time.
CANONICAL_TIME = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]"
#: SQL true for a created_at that compares as time when compared as text.
CANONICAL_SQL = (
    "(typeof(created_at) = 'text' AND length(created_at) IN (19, 26)"
    f" AND created_at GLOB '{CANONICAL_TIME}*')"
)


def _cut(col: str, prefix: int) -> str:
    """``col`` whole when short, else its first ``prefix`` characters; then its size if cut.

    Sizes are taken in bytes (``CAST AS BLOB``): SQLite's text ``length``
    stops at a NUL, and a short value with a NUL must come back whole.
    """
    size = f"length(CAST({col} AS BLOB))"
    return (
        f"CASE WHEN {size} > {prefix} THEN substr({col}, 1, {prefix}) ELSE {col} END,"
        f" CASE WHEN {size} > {prefix} THEN {size} END"
    )


def _cols(prefix: int | None) -> str:
    if prefix is None:
        params, reason = "action_params_json, NULL", "reason, NULL"
    else:
        params, reason = _cut("action_params_json", prefix), _cut("reason", prefix)
    return (
        f"proposal_id, tract_id, policy_name, action_type, {params}, {reason}, status,"
        " created_at, resolved_at, rowid"
    )


#: The columns :func:`proposal_from` unpacks: every value whole ...
PROPOSAL_COLS = _cols(None)
#: ... or the long ones cut to :data:`LIST_PREFIX` (tables, counts by policy).
PROPOSAL_LIST_COLS = _cols(LIST_PREFIX)
#: ... or cut to :data:`DETAIL_PREFIX` (the detail pane, ``show``).
PROPOSAL_DETAIL_COLS = _cols(DETAIL_PREFIX)
#: The listing order of proposals, and the key columns of :attr:`Proposal.key`.
PROPOSAL_ORDER = ("created_at", "proposal_id", "rowid")

LOG_COLS = (
    'id, tract_id, policy_name, "trigger", action_type, reason, outcome, commit_hash,'
    " error_message, created_at"
)
LOG_ORDER = ("created_at", "id")


def parse_stored_time(raw: Any) -> datetime | None:
    """A stored time as a naive local datetime (what tract writes), or None.

    tract writes naive local text (``2026-02-18 10:20:00.123456``). Other
    writers may store ISO with ``T``, an offset (converted to local time),
    or epoch seconds (an instant, shown in local time); anything else
    (a BLOB, NULL, garbage) is None: shown as stored, never guessed.
    """
    if raw is None or isinstance(raw, bytes | bytearray | memoryview):
        return None
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        try:
            return datetime.fromtimestamp(float(raw), UTC).astimezone().replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        try:
            value = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if value.tzinfo is not None:
        try:
            value = value.astimezone().replace(tzinfo=None)
        except (OverflowError, ValueError):
            return None
    return value


def proposal_from(row: Sequence[Any]) -> Proposal:
    """A :class:`Proposal` from a row of one of the ``PROPOSAL_*COLS`` selects."""
    pid, tract, policy, action, params, params_len, reason, _reason_len = row[:8]
    status, created, resolved, rowid = row[8:]
    return Proposal(
        proposal_id=pid,
        tract_id=tract,
        policy_name=policy,
        action_type=action,
        params_raw=params,
        reason=reason,
        status=status,
        created_at=parse_stored_time(created),
        resolved_at=parse_stored_time(resolved),
        created_at_raw="" if created is None else created,
        key=(created, pid, rowid),
        params_size=None if params_len is None else int(params_len),
    )


def log_from(row: Sequence[Any]) -> LogEntry:
    """A :class:`LogEntry` from a row of :data:`LOG_COLS`."""
    log_id, tract, policy, trigger, action, reason, outcome, commit, error, created = row
    return LogEntry(
        id=log_id,
        tract_id=tract,
        policy_name=policy,
        trigger=trigger,
        action_type=action,
        reason=reason,
        outcome=outcome,
        commit_hash=commit,
        error_message=error,
        created_at=parse_stored_time(created),
        created_at_raw="" if created is None else created,
        key=(created, log_id),
    )
