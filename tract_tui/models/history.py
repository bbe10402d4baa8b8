"""What the history shows of a decided proposal: who decided it, when, with what note.

Read from the log rows tract-tui writes beside each decision (see
:func:`~tract_tui.models.review.proposal_trailer`), never guessed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tract_tui.models.record import Record
from tract_tui.models.review import LogEntry, Proposal, iso, split_trailer


class Decided(Record):
    """Who decided a proposal, when and with what note: read from its log rows, never guessed.

    ``recorded`` is False when no tract-tui row records the decision: the
    library (or something else) decided it, which writes no log row. ``conflict``:
    its status contradicts the decision tract-tui logged (``outcome``):
    approved or executed although rejected, rejected although approved (the
    library's approve and reject check a status, then update without a condition).
    """

    by: str | None
    note: str | None
    at: datetime | None
    outcome: str | None
    conflict: bool
    #: False when no tract-tui row records the decision (decided outside tract-tui).
    recorded: bool
    _fields = ("by", "note", "at", "outcome", "conflict", "recorded")

    def __init__(
        self,
        by: str | None,
        note: str | None,
        at: datetime | None,
        outcome: str | None,
        conflict: bool = False,
        recorded: bool = True,
    ) -> None:
        self.__dict__.update(
            by=by, note=note, at=at, outcome=outcome, conflict=conflict, recorded=recorded
        )

    @property
    def outside(self) -> bool:
        return not self.recorded

    def to_json(self) -> dict[str, Any]:
        return {
            "decided_by": self.by,
            "note": self.note,
            "decided_at": iso(self.at),
            "decided_outside_tract_tui": self.outside,
            "conflict": self.conflict,
        }


def reviewer_and_note(reason: str | None) -> tuple[str | None, str | None]:
    """(reviewer, note) from a decision row's reason as tract-tui writes it.

    "by NAME" / "by NAME: note" (approve, reject, undo), "...; expired by
    NAME" (expiry), "claim released by NAME: note" (release).
    """
    text, _pid = split_trailer(reason)
    text = (text or "").strip()
    if text.startswith("by "):
        name, _, note = text[3:].partition(": ")
        return name.strip() or None, note.strip() or None
    for marker in ("; expired by ", "released by "):
        if marker in text:
            head, _, name = text.partition(marker)
            name, _, note = name.partition(": ")
            return name.strip() or None, (note or head).strip() or None
    return None, text or None


class HistoryRow(Record):
    """A decided proposal as the history lists it, with who decided it (see :class:`Decided`)."""

    proposal: Proposal
    decided: Decided | None
    _fields = ("proposal", "decided")

    def __init__(self, proposal: Proposal, decided: Decided | None) -> None:
        self.__dict__.update(proposal=proposal, decided=decided)

    @property
    def proposal_id(self) -> str:
        return self.proposal.proposal_id

    def to_json(self) -> dict[str, Any]:
        return {**self.proposal.to_json(), **(self.decided.to_json() if self.decided else {})}


class HistoryDetail(Record):
    """One proposal's record: who decided it, and every row tract-tui logged for it."""

    proposal: Proposal
    decided: Decided | None
    trail: tuple[LogEntry, ...]
    _fields = ("proposal", "decided", "trail")

    def __init__(
        self, proposal: Proposal, decided: Decided | None, trail: tuple[LogEntry, ...]
    ) -> None:
        self.__dict__.update(proposal=proposal, decided=decided, trail=trail)
