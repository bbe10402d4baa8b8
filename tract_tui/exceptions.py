"""Errors of tract-tui.

Everything raised on purpose derives from :class:`TraceError`, so a caller
(the CLI, the app) can catch one class and show ``str(error)``: every message
is written for the person at the keyboard (what was found, what to do).
"""

from __future__ import annotations


class TraceError(Exception):
    """Base class of every error tract-tui raises on purpose."""


class PolicyExecutionError(TraceError):
    """A policy action could not be executed."""


class PolicyConfigError(TraceError):
    """A policy is configured wrongly."""


# --- opening a database -----------------------------------------------------


class DatabaseOpenError(TraceError):
    """The file could not be opened as a tract database; it was left unchanged."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


class DatabaseNotFoundError(DatabaseOpenError):
    """The path does not exist (and creating a database was not asked for)."""


class NotADatabaseFileError(DatabaseOpenError):
    """The path is a directory, an empty file, or a file that is not SQLite."""


class CorruptDatabaseError(DatabaseOpenError):
    """The file is SQLite but truncated or damaged."""


class NotATractDatabaseError(DatabaseOpenError):
    """A SQLite database of another application (tables, but no _trace_meta)."""


class SchemaVersionError(DatabaseOpenError):
    """The schema_version row is missing, not a number, or newer than we know."""


class SchemaTooNewError(SchemaVersionError):
    """The database was written by a newer tract than this tract-tui supports."""


class ReadOnlyDatabaseError(DatabaseOpenError):
    """The database is read-only and cannot be used as asked (e.g. it needs migrating)."""


class DatabaseBusyError(DatabaseOpenError):
    """Another process held the database locked for longer than the busy timeout."""


class DatabaseAccessError(DatabaseOpenError):
    """A read or write failed for a reason outside tract-tui: the disk, a trigger, a constraint.

    Nothing was written by the failed transaction; the message says what SQLite reported.
    """


class DiskFullError(DatabaseAccessError):
    """The disk (or the file's size limit) is full: the file is fine once space is freed."""


class DatabaseMovedError(DatabaseAccessError):
    """The file was moved, renamed or replaced since it was opened: writing now would be lost."""


class PolicyTablesError(DatabaseOpenError):
    """The policy tables are not shaped as tract writes them (a column missing or foreign)."""


# --- reviewing --------------------------------------------------------------


class ReviewError(TraceError):
    """A review request could not be carried out."""


class ProposalNotFoundError(ReviewError):
    """No proposal has this id (or id prefix)."""

    def __init__(self, proposal_id: str) -> None:
        super().__init__(f"no proposal with id {proposal_id!r}")
        self.proposal_id = proposal_id


class AmbiguousProposalIdError(ReviewError):
    """An id prefix matches more than one proposal."""

    def __init__(self, prefix: str, candidates: list[str]) -> None:
        shown = ", ".join(candidates[:10]) + (" ..." if len(candidates) > 10 else "")
        super().__init__(f"id prefix {prefix!r} is ambiguous: {shown}")
        self.prefix = prefix
        self.candidates = candidates


class ProposalConflictError(ReviewError):
    """The proposal is no longer in the state the request needs; nothing was written."""

    def __init__(self, proposal_id: str, current_status: str, wanted: str = "pending") -> None:
        super().__init__(
            f"proposal {proposal_id[:12]} is {current_status}, not {wanted}; nothing was changed"
        )
        self.proposal_id = proposal_id
        self.current_status = current_status


class ReadOnlyError(ReviewError):
    """A write was asked of a queue opened read-only."""


class FilterSyntaxError(ReviewError):
    """A filter expression has a term that cannot be understood."""

    def __init__(self, message: str, term: str, position: int = 0) -> None:
        super().__init__(message)
        self.term = term
        self.position = position


class DecisionTimeoutError(ReviewError):
    """No reviewer decided the proposal within the given time."""


class QueryCancelledError(ReviewError):
    """A long read was abandoned because its caller no longer wants the answer."""


class UndoRefusedError(ReviewError):
    """An undo was refused: an agent acted on the proposal after the decision."""


class ResultNotRecordedError(ReviewError):
    """An action ran, but its result could not be recorded; the claim stays ``executing``.

    Raised after bounded retries. The proposal is never handed out again, so
    the action cannot run twice; a person decides what to do with it.
    """

    def __init__(self, proposal_id: str, cause: BaseException) -> None:
        super().__init__(
            f"proposal {proposal_id[:12]} ran, but its result could not be recorded ({cause}); "
            "it stays 'executing' so that it never runs again. Record it later with "
            "claim.mark_executed() / mark_failed(), or look at it with "
            "'tract-tui list PATH --filter status:executing'"
        )
        self.proposal_id = proposal_id
        self.cause = cause


class UnknownActionError(PolicyExecutionError):
    """``execute_with_tract`` met an action type it has no handler for."""
