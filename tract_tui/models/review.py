"""Plain results of the review service, handed to the UI, the CLI and agents."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

from tract_tui.models.record import Record

#: Params nested deeper than this are treated as unparsed text: rendering them (and
#: JSON-encoding them again) would run into Python's recursion limit.
MAX_PARAMS_DEPTH = 200


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(sep=" ")


def _as_text(value: Any) -> Any:
    """A stored value as text: SQLite may hand back numbers or bytes for any column.

    Columns declared ``JSON`` or ``DATETIME`` have NUMERIC affinity, so a
    writer's ``"123"`` is stored (and read back) as the integer 123; a
    foreign writer may store a BLOB anywhere. None and str pass unchanged.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _text_fields(obj: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(obj, name)
        if value is not None and not isinstance(value, str):
            object.__setattr__(obj, name, _as_text(value))


def _strict_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _strict_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} overflows a float")
    return value


def _depth(value: Any) -> int:
    """How deeply lists/objects nest in ``value`` (iterative: no recursion limit)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_PARAMS_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def parse_params(raw: str | None) -> tuple[Any, str | None]:
    """(the JSON value, None) or (None, why it is shown as raw text instead).

    Strict JSON only (no NaN/Infinity, which would not survive being encoded
    again), nested at most :data:`MAX_PARAMS_DEPTH` deep.
    """
    if raw is None:
        return None, None
    try:
        value = json.loads(raw, parse_constant=_strict_constant, parse_float=_strict_float)
    except (ValueError, TypeError):
        return None, "not valid JSON"
    except RecursionError:
        return None, f"nested more than {MAX_PARAMS_DEPTH} levels deep"
    # No value nests deeper than the text has brackets: most params skip the walk.
    brackets = raw.count("[") + raw.count("{")
    if brackets > MAX_PARAMS_DEPTH and _depth(value) > MAX_PARAMS_DEPTH:
        return None, f"nested more than {MAX_PARAMS_DEPTH} levels deep"
    return value, None


_PROPOSAL_TEXT = (
    "proposal_id",
    "tract_id",
    "policy_name",
    "action_type",
    "params_raw",
    "reason",
    "status",
    "created_at_raw",
)
#: Proposal's compared fields, in __init__'s order (all but key and params_size).
_PROPOSAL_FIELDS = (*_PROPOSAL_TEXT[:-1], "created_at", "resolved_at", "created_at_raw")
_LOG_TEXT = (
    "tract_id",
    "policy_name",
    "trigger",
    "action_type",
    "reason",
    "outcome",
    "commit_hash",
    "error_message",
    "created_at_raw",
)


class Criteria(Record):
    """What a listing asks for, with times resolved: the SQL layer turns it into WHERE terms.

    ``include`` maps a filter key (policy, tract, status, outcome, trigger,
    action) to the values any of which must match; ``exclude`` to values
    none of which may. ``words`` must all appear in the row's text,
    ``excluded_words`` none of them.
    """

    include: Mapping[str, tuple[str, ...]]
    exclude: Mapping[str, tuple[str, ...]]
    words: tuple[str, ...]
    excluded_words: tuple[str, ...]
    since: datetime | None
    until: datetime | None
    _fields = ("include", "exclude", "words", "excluded_words", "since", "until")

    def __init__(
        self,
        include: Mapping[str, tuple[str, ...]] | None = None,
        exclude: Mapping[str, tuple[str, ...]] | None = None,
        words: tuple[str, ...] = (),
        excluded_words: tuple[str, ...] = (),
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> None:
        self.__dict__.update(
            include={} if include is None else include,
            exclude={} if exclude is None else exclude,
            words=words,
            excluded_words=excluded_words,
            since=since,
            until=until,
        )


class Proposal(Record):
    """One row of policy_proposals as the reviewer sees it.

    ``params_raw`` is the stored text exactly; ``params`` is its JSON value,
    or None when it is not JSON (``params_valid`` says which, and
    ``params_problem`` why). Parsed once, on first use (do not mutate it).
    Stored values that are not text (SQLite's NUMERIC affinity turns a
    ``"123"`` params into an integer) are turned into text. A row stored
    without an id has ``proposal_id`` "" (``null`` in JSON): it is listed
    but cannot be decided. ``key`` is the row's place in the listing order,
    each value exactly as stored (for keyset paging); ``params_size`` the
    stored params' length when only a prefix was read (``params_raw`` then
    holds that prefix).
    """

    proposal_id: str
    tract_id: str
    policy_name: str
    action_type: str
    params_raw: str | None
    reason: str | None
    status: str
    created_at: datetime | None
    resolved_at: datetime | None
    created_at_raw: str
    key: tuple[Any, ...]
    params_size: int | None
    _fields = _PROPOSAL_FIELDS
    _other_fields = ("key", "params_size")

    def __init__(
        self,
        proposal_id: str,
        tract_id: str,
        policy_name: str,
        action_type: str,
        params_raw: str | None,
        reason: str | None,
        status: str,
        created_at: datetime | None,
        resolved_at: datetime | None,
        created_at_raw: str = "",
        key: tuple[Any, ...] = (),
        params_size: int | None = None,
    ) -> None:
        self.__dict__.update(
            proposal_id="" if proposal_id is None else proposal_id,
            tract_id=tract_id,
            policy_name=policy_name,
            action_type=action_type,
            params_raw=params_raw,
            reason=reason,
            status=status,
            created_at=created_at,
            resolved_at=resolved_at,
            created_at_raw=created_at_raw,
            key=key,
            params_size=params_size,
        )
        _text_fields(self, _PROPOSAL_TEXT)

    @property
    def params_cut(self) -> bool:
        """Only a prefix of the params was read (a huge value; the detail reads it all)."""
        return self.params_size is not None and self.params_size > len(self.params_raw or "")

    @cached_property
    def _parsed(self) -> tuple[Any, str | None]:
        if self.params_cut:
            return None, f"{self.params_size:,} characters; only the first part was read"
        return parse_params(self.params_raw)

    @property
    def params(self) -> Any:
        return self._parsed[0]

    @property
    def params_valid(self) -> bool:
        return self._parsed[1] is None

    @property
    def params_problem(self) -> str | None:
        """Why the params are shown as raw text (None when they parsed)."""
        return self._parsed[1]

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (CLI ``--json``, API); strings carried exactly."""
        return {
            "proposal_id": self.proposal_id or None,
            "tract_id": self.tract_id,
            "policy_name": self.policy_name,
            "action_type": self.action_type,
            "params": self.params if self.params_valid else self.params_raw,
            "reason": self.reason,
            "status": self.status,
            "created_at": iso(self.created_at) or self.created_at_raw,
            "resolved_at": iso(self.resolved_at),
        }


class LogEntry(Record):
    """One row of policy_log."""

    id: int
    tract_id: str
    policy_name: str
    trigger: str
    action_type: str | None
    reason: str | None
    outcome: str
    commit_hash: str | None
    error_message: str | None
    created_at: datetime | None
    created_at_raw: str
    key: tuple[Any, ...]
    _fields = ("id", *_LOG_TEXT[:-1], "created_at", "created_at_raw")
    _other_fields = ("key",)

    def __init__(
        self,
        id: int,
        tract_id: str,
        policy_name: str,
        trigger: str,
        action_type: str | None,
        reason: str | None,
        outcome: str,
        commit_hash: str | None,
        error_message: str | None,
        created_at: datetime | None,
        created_at_raw: str = "",
        key: tuple[Any, ...] = (),
    ) -> None:
        self.__dict__.update(
            id=id,
            tract_id=tract_id,
            policy_name=policy_name,
            trigger=trigger,
            action_type=action_type,
            reason=reason,
            outcome=outcome,
            commit_hash=commit_hash,
            error_message=error_message,
            created_at=created_at,
            created_at_raw=created_at_raw,
            key=key,
        )
        _text_fields(self, _LOG_TEXT)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tract_id": self.tract_id,
            "policy_name": self.policy_name,
            "trigger": self.trigger,
            "action_type": self.action_type,
            "reason": self.reason,
            "outcome": self.outcome,
            "commit_hash": self.commit_hash,
            "error_message": self.error_message,
            "created_at": iso(self.created_at) or self.created_at_raw,
        }


class Impact(Record):
    """What a proposal's action would touch, read from the same database.

    ``fields`` are (label, value) pairs; ``preview`` is content to show as a
    block (e.g. the first lines of a commit); ``warnings`` are things the
    reviewer should know (target missing, branch already exists...).
    """

    title: str
    fields: list[tuple[str, str]]
    preview: str | None
    warnings: list[str]
    _fields = ("title", "fields", "preview", "warnings")

    def __init__(
        self,
        title: str,
        fields: list[tuple[str, str]] | None = None,
        preview: str | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.__dict__.update(
            title=title,
            fields=[] if fields is None else fields,
            preview=preview,
            warnings=[] if warnings is None else warnings,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "fields": {k: v for k, v in self.fields},
            "preview": self.preview,
            "warnings": list(self.warnings),
        }


class ProposalDetail(Record):
    """A proposal with what it would touch (``impact``) and do (``effect``, see models/context)."""

    proposal: Proposal
    impact: Impact
    effect: Any
    _fields = ("proposal", "impact", "effect")

    def __init__(self, proposal: Proposal, impact: Impact, effect: Any = None) -> None:
        self.__dict__.update(proposal=proposal, impact=impact, effect=effect)

    def to_json(self) -> dict[str, Any]:
        data = self.proposal.to_json()
        data["impact"] = self.impact.to_json()
        data["effect"] = None if self.effect is None else self.effect.to_json()
        return data


class Decision(Record):
    """A decision that was written: the proposal's new state and its log row id."""

    proposal_id: str
    status: str
    previous_status: str
    resolved_at: datetime | None
    log_id: int
    tract_id: str
    policy_name: str
    _fields = (
        "proposal_id",
        "status",
        "previous_status",
        "resolved_at",
        "log_id",
        "tract_id",
        "policy_name",
    )

    def __init__(
        self,
        proposal_id: str,
        status: str,
        previous_status: str,
        resolved_at: datetime | None,
        log_id: int,
        tract_id: str,
        policy_name: str,
    ) -> None:
        self.__dict__.update(
            proposal_id=proposal_id,
            status=status,
            previous_status=previous_status,
            resolved_at=resolved_at,
            log_id=log_id,
            tract_id=tract_id,
            policy_name=policy_name,
        )


class DecisionOutcome(Record):
    """Per-id result of a bulk decision: ``decision`` or the ``current_status`` that blocked it."""

    proposal_id: str
    decision: Decision | None
    current_status: str | None
    error: str | None
    _fields = ("proposal_id", "decision", "current_status", "error")

    def __init__(
        self,
        proposal_id: str,
        decision: Decision | None = None,
        current_status: str | None = None,
        error: str | None = None,
    ) -> None:
        self.__dict__.update(
            proposal_id=proposal_id,
            decision=decision,
            current_status=current_status,
            error=error,
        )

    @property
    def ok(self) -> bool:
        return self.decision is not None


class PendingCount(Record):
    """How many proposals of one tract and policy are pending."""

    tract_id: str
    policy_name: str
    count: int
    _fields = ("tract_id", "policy_name", "count")

    def __init__(self, tract_id: str, policy_name: str, count: int) -> None:
        self.__dict__.update(tract_id=tract_id, policy_name=policy_name, count=count)


class LogStats(Record):
    """Counts per outcome and a histogram of evaluations over time, for one filter."""

    total: int
    by_outcome: dict[str, int]
    buckets: list[int]
    start: datetime | None
    end: datetime | None
    _fields = ("total", "by_outcome", "buckets", "start", "end")

    def __init__(
        self,
        total: int,
        by_outcome: dict[str, int],
        buckets: list[int],
        start: datetime | None,
        end: datetime | None,
    ) -> None:
        self.__dict__.update(
            total=total, by_outcome=by_outcome, buckets=buckets, start=start, end=end
        )


class LogFacets(Record):
    """The values present in the log, to offer as filter choices."""

    policies: list[str]
    outcomes: list[str]
    triggers: list[str]
    tracts: list[str]
    _fields = ("policies", "outcomes", "triggers", "tracts")

    def __init__(
        self, policies: list[str], outcomes: list[str], triggers: list[str], tracts: list[str]
    ) -> None:
        self.__dict__.update(policies=policies, outcomes=outcomes, triggers=triggers, tracts=tracts)


#: What a proposals listing may be sorted by (age: the time it was proposed).
SORT_KEYS = ("age", "action", "tract", "policy")


class Order(Record):
    """A proposals listing's order: ``key`` (one of :data:`SORT_KEYS`) leads, then age.

    ``descending`` reverses every column, ties included (newest first).
    """

    key: str
    descending: bool
    _fields = ("key", "descending")

    def __init__(self, key: str = "age", descending: bool = False) -> None:
        self.__dict__.update(key=key, descending=descending)

    def next_key(self) -> Order:
        """The same direction, by the next sort key."""
        keys = list(SORT_KEYS)
        return Order(keys[(keys.index(self.key) + 1) % len(keys)], self.descending)

    def reversed(self) -> Order:
        return Order(self.key, not self.descending)


class Transition(Record):
    """One row of the decision table: which statuses it leaves, where it goes, what it logs.

    ``outcome`` None means no log row (a claim, a silent release);
    ``resolved_at`` says what becomes of that column: ``set`` to the
    decision's time, ``clear`` (back to pending) or ``keep`` (a claim).
    """

    name: str
    expected: tuple[str, ...]
    new_status: str
    outcome: str | None
    trigger: str
    resolved_at: str
    _fields = ("name", "expected", "new_status", "outcome", "trigger", "resolved_at")

    def __init__(
        self,
        name: str,
        expected: tuple[str, ...],
        new_status: str,
        outcome: str | None,
        trigger: str = "review",
        resolved_at: str = "set",
    ) -> None:
        self.__dict__.update(
            name=name,
            expected=expected,
            new_status=new_status,
            outcome=outcome,
            trigger=trigger,
            resolved_at=resolved_at,
        )


#: How a log row written by tract-tui names its proposal: a last line of the reason.
#: The tract library never reads policy_log, so the link costs it nothing. The id is
#: JSON-quoted, so any stored id (quotes, newlines) is carried exactly.
TRAILER_PREFIX = "\n[tract-tui proposal "


def proposal_trailer(proposal_id: str) -> str:
    """The last line tract-tui appends to the reason of each row it logs for a proposal."""
    # ensure_ascii off: the same text as SQLite's json_quote(), so SQL can build it too
    return f"{TRAILER_PREFIX}{json.dumps(proposal_id, ensure_ascii=False)}]"


def split_trailer(reason: str | None) -> tuple[str | None, str | None]:
    """(the reason without tract-tui's trailer, the proposal id it names or None)."""
    if not reason or not reason.endswith("]"):
        return reason, None
    at = reason.rfind(TRAILER_PREFIX)
    if at < 0:
        return reason, None
    try:
        pid = json.loads(reason[at + len(TRAILER_PREFIX) : -1])
    except ValueError:
        return reason, None
    if not isinstance(pid, str):
        return reason, None
    return reason[:at], pid
