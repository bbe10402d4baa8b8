"""The review queue for agents and scripts: the same service the console and CLI use.

No Textual here (an agent process should not pay for a UI it never shows)::

    from tract_tui.api import execute_with_tract, open_queue

    with open_queue("agent.db") as queue:
        for claim in queue.claim_approved("support-agent"):
            with claim:                      # normal exit: executed; exception: error
                claim.commit_hash = execute_with_tract(tract, claim.action)

Exactly once, for real:

- Taking a claim is a conditional ``UPDATE ... WHERE status = 'approved'`` in
  a ``BEGIN IMMEDIATE`` transaction: two agents never get the same proposal.
- A claim handed out is held (``executing``) until it is resolved, whatever
  the caller does with the iterator: advancing it, closing it or dropping it
  releases nothing. Only :meth:`Claim.release` on a claim whose body never
  ran, or closing the queue while such a claim is still unentered, gives it
  back.
- Once the body of ``with claim:`` has run, the claim is never released and
  never handed out again: recording its result is retried (a lock held by
  another process, a disk full for a moment) and, if that still fails, the
  proposal stays ``executing`` and :class:`ResultNotRecordedError` says so.
  A person then decides; the action cannot run twice.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import TracebackType
from typing import Any

from tract_tui.exceptions import (
    DatabaseAccessError,
    DatabaseBusyError,
    ProposalConflictError,
    ResultNotRecordedError,
)
from tract_tui.execute import UnknownActionError, execute_with_tract, register_action
from tract_tui.models.context import Effect
from tract_tui.models.policy import PolicyAction
from tract_tui.models.review import Decision, LogEntry, Proposal, ProposalDetail
from tract_tui.review.filters import Filter, parse_age, parse_filter
from tract_tui.review.service import ReviewService, action_of

__all__ = [
    "Claim",
    "Claims",
    "ReviewQueue",
    "UnknownActionError",
    "execute_with_tract",
    "open_queue",
    "register_action",
]

#: The longest error text kept in a log row (the rest is cut, marked with "…").
MAX_ERROR_CHARS = 10_000
#: Attempts at recording a claim's result before giving up (each waits the busy timeout).
RECORD_ATTEMPTS = 6
#: Seconds between two attempts at recording a result (doubled each time).
RECORD_BACKOFF = 0.2


def open_queue(
    path: str | os.PathLike[str],
    *,
    create: bool = False,
    read_only: bool = False,
    reviewer: str | None = None,
) -> ReviewQueue:
    """Open a tract database (migrating it to v5 like the console does) as a review queue.

    Raises a :class:`~tract_tui.exceptions.DatabaseOpenError` subclass for
    anything that is not a tract database it may open (the file is then left
    unchanged). ``reviewer`` is the name recorded in decision log rows
    (default: the login name).
    """
    return ReviewQueue(
        ReviewService.open(path, create=create, read_only=read_only, reviewer=reviewer)
    )


def _as_filter(value: str | Filter | None) -> Filter | None:
    if value is None or isinstance(value, Filter):
        return value
    return parse_filter(value, "proposals")


class ReviewQueue:
    """Proposals of one database: list, decide, expire, and claim what was approved.

    Every method is one short transaction of its own. Methods taking a
    ``proposal_id`` want the full id (use :meth:`resolve` for a prefix a
    person typed). Conflicts raise
    :class:`~tract_tui.exceptions.ProposalConflictError` with
    ``current_status``; unknown ids raise ``ProposalNotFoundError``.
    """

    def __init__(self, service: ReviewService) -> None:
        self.service = service
        self._held: set[Claim] = set()
        self._held_lock = threading.Lock()

    # --- lifetime ---------------------------------------------------------------

    @property
    def path(self) -> str:
        return self.service.path

    @property
    def read_only(self) -> bool:
        return self.service.read_only

    def close(self) -> None:
        """Give back claims handed out but never entered, then close the database.

        A claim whose ``with`` block is running (in another thread) is left
        alone: it records its own result when it ends.
        """
        with self._held_lock:
            held = list(self._held)
        for claim in held:
            claim.release()
        self.service.close()

    def _hold(self, claim: Claim) -> None:
        with self._held_lock:
            self._held.add(claim)

    def _drop(self, claim: Claim) -> None:
        with self._held_lock:
            self._held.discard(claim)

    def __enter__(self) -> ReviewQueue:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- reading -----------------------------------------------------------------

    def iter_pending(self, filter: str | Filter | None = None) -> Iterator[Proposal]:
        """Pending proposals, oldest first, fetched a page at a time (bounded memory).

        ``filter`` is the filter language (a string) or a parsed
        :class:`~tract_tui.review.filters.Filter`; a ``status:`` term lists
        other statuses instead, as in the console.
        """
        return self.service.iter_proposals(_as_filter(filter))

    def pending(self, filter: str | Filter | None = None) -> list[Proposal]:
        """Every pending proposal (see :meth:`iter_pending` to stream them)."""
        return list(self.iter_pending(filter))

    def get(self, proposal_id: str) -> Proposal:
        """The proposal with exactly this id (ProposalNotFoundError otherwise)."""
        return self.service.get_proposal(proposal_id, whole=True)

    def detail(self, proposal_id: str) -> ProposalDetail:
        """The proposal and what its action would touch."""
        return self.service.get_detail(proposal_id, whole=True)

    def effect(self, proposal_id: str) -> Effect:
        """What approving the proposal would do to the agent's context (before, after, failure)."""
        return self.service.effect(proposal_id)

    def resolve(self, prefix: str) -> str:
        """The full id for a unique prefix (AmbiguousProposalIdError lists the candidates)."""
        return self.service.resolve_id(prefix)

    def log(self, filter: str | Filter | None = None, *, limit: int = 100) -> list[LogEntry]:
        """The newest ``limit`` log rows matching ``filter`` (log keys: outcome:, trigger: ...)."""
        flt = parse_filter(filter, "log") if isinstance(filter, str) else filter
        out: list[LogEntry] = []
        for entry in self.service.iter_log(flt, page_size=min(max(limit, 1), 500)):
            if len(out) >= limit:
                break
            out.append(entry)
        return out

    # --- deciding ----------------------------------------------------------------

    def approve(self, proposal_id: str, note: str | None = None) -> Decision:
        """Approve if still pending (one transaction with its log row)."""
        return self.service.approve(proposal_id, note)

    def reject(self, proposal_id: str, reason: str | None = None) -> Decision:
        """Reject if still pending, logging ``reason``."""
        return self.service.reject(proposal_id, reason)

    def expire(
        self,
        older_than: timedelta | str,
        *,
        dry_run: bool = False,
        filter: str | Filter | None = None,
    ) -> list[Proposal]:
        """Pending proposals older than ``older_than`` ("2h" or a timedelta) become expired.

        Returns the proposals expired (as they were before), or with
        ``dry_run`` those that would be.
        """
        age = parse_age(older_than) if isinstance(older_than, str) else older_than
        return self.service.expire(age, dry_run=dry_run, flt=_as_filter(filter))

    def wait_for_decision(self, proposal_id: str, timeout: float) -> Proposal:
        """Block until a reviewer decides the proposal; return it (``.status`` is the decision).

        Polls ``PRAGMA data_version`` (microseconds per check), re-reading the
        row only after another connection committed. Raises
        :class:`~tract_tui.exceptions.DecisionTimeoutError` after ``timeout``
        seconds.
        """
        return self.service.wait_for_decision(proposal_id, timeout)

    # --- executing -----------------------------------------------------------------

    def claim_approved(self, tract_id: str) -> Claims:
        """Hand over this tract's approved proposals one at a time, oldest first.

        Each is a :class:`Claim`, held until it is resolved; use it as a
        context manager (see the module docstring). A proposal whose
        execution failed is not handed out again by the same iteration.
        """
        return Claims(self, tract_id)


class Claim:
    """One approved proposal this agent holds (status ``executing``) until it is resolved.

    Unpacks as ``(proposal_id, action)``. As a context manager, leaving the
    block normally marks it executed (log outcome ``executed`` with
    :attr:`commit_hash`); an exception marks it failed (log outcome
    ``error`` with the message, proposal back to ``approved`` for a retry)
    and propagates. ``state``: ``claimed``, ``running`` (inside ``with``),
    then ``executed``, ``failed``, ``released``, ``unrecorded`` (it ran;
    its result could not be written: the proposal stays ``executing``) or
    ``conflict`` (someone else moved the proposal while it ran).
    """

    def __init__(self, queue: ReviewQueue, proposal: Proposal) -> None:
        self._queue = queue
        self._service = queue.service
        self.proposal = proposal
        self.action: PolicyAction = action_of(proposal)
        #: Set this to the commit your action produced; logged when the claim succeeds.
        self.commit_hash: str | None = None
        self.state = "claimed"
        self.decision: Decision | None = None
        self._lock = threading.Lock()

    @property
    def proposal_id(self) -> str:
        return self.proposal.proposal_id

    @property
    def tract_id(self) -> str:
        return self.proposal.tract_id

    @property
    def resolved(self) -> bool:
        return self.state not in ("claimed", "running")

    def __iter__(self) -> Iterator[Any]:
        return iter((self.proposal_id, self.action))

    def __repr__(self) -> str:
        return f"<Claim {self.proposal_id} {self.action.action_type} {self.state}>"

    def _begin_record(self) -> None:
        """The body ran (or its result is being given): from now on it is never released."""
        with self._lock:
            if self.resolved:
                raise ProposalConflictError(self.proposal_id, self.state, "claimed")
            self.state = "running"

    def _record(self, outcome: str, write: Callable[[], Decision]) -> Decision:
        """Write the result, retrying what another process or the disk briefly prevents."""
        delay = RECORD_BACKOFF
        decision: Decision | None = None
        for attempt in range(RECORD_ATTEMPTS):
            try:
                decision = write()
                break
            except ProposalConflictError:
                self.state = "conflict"  # someone else moved it (a reviewer's release)
                self._queue._drop(self)
                raise
            except (DatabaseBusyError, DatabaseAccessError) as e:
                if attempt == RECORD_ATTEMPTS - 1:
                    self.state = "unrecorded"
                    self._queue._drop(self)
                    raise ResultNotRecordedError(self.proposal_id, e) from e
                time.sleep(delay)
                delay *= 2
        assert decision is not None
        self.decision = decision
        self.state = outcome
        self._queue._drop(self)
        return decision

    def mark_executed(self, commit_hash: str | None = None) -> Decision:
        """Record success: the proposal becomes ``executed`` (log row with the commit hash)."""
        self._begin_record()
        if commit_hash is not None:
            self.commit_hash = commit_hash
        return self._record(
            "executed", lambda: self._service.mark_executed(self.proposal_id, self.commit_hash)
        )

    def mark_failed(self, error: BaseException | str) -> Decision:
        """Record a failure: an ``error`` log row, and the proposal approved again."""
        self._begin_record()
        if isinstance(error, BaseException):
            message = str(error)
            text = f"{type(error).__name__}: {message}" if message else type(error).__name__
        else:
            text = error
        if len(text) > MAX_ERROR_CHARS:
            text = text[: MAX_ERROR_CHARS - 1] + "…"
        return self._record("failed", lambda: self._service.mark_failed(self.proposal_id, text))

    def release(self) -> None:
        """Give the proposal back (approved again, no log row) if its body never ran.

        A no-op once the claim was entered or resolved: an action that may
        have run is never handed out again.
        """
        with self._lock:
            if self.state != "claimed":
                return
            self.state = "released"
        self._queue._drop(self)
        self._service.release(self.proposal_id)

    def __enter__(self) -> Claim:
        with self._lock:
            if self.state != "claimed":
                raise ProposalConflictError(self.proposal_id, self.state, "claimed")
            self.state = "running"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.state != "running":  # the agent called mark_executed / mark_failed itself
            return
        if exc is None:
            self.mark_executed()
        else:
            self.mark_failed(exc)


class Claims(Iterator[Claim]):
    """The iterator :meth:`ReviewQueue.claim_approved` returns; also a context manager.

    Advancing, closing or dropping it never releases a claim already handed
    out (see the module docstring); closing only stops further claims.
    """

    def __init__(self, queue: ReviewQueue, tract_id: str) -> None:
        self.tract_id = tract_id
        self._queue = queue
        self._handed: list[Claim] = []
        self._closed = False

    def __iter__(self) -> Claims:
        return self

    def __next__(self) -> Claim:
        if self._closed:
            raise StopIteration
        # failed or released here: not handed out again by this iteration
        skip = [c.proposal_id for c in self._handed if c.state in ("failed", "released")]
        proposal = self._queue.service.claim_next(self.tract_id, skip=skip)
        if proposal is None:
            self._closed = True
            raise StopIteration
        claim = Claim(self._queue, proposal)
        self._queue._hold(claim)
        self._handed.append(claim)
        return claim

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> Claims:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
