"""The review queue for agents and scripts: the same service the console and CLI use.

No Textual here (an agent process should not pay for a UI it never shows)::

    from tract_tui.api import open_queue

    with open_queue("agent.db") as queue:
        for claim in queue.claim_approved("support-agent"):
            with claim:                      # normal exit: executed; exception: error
                claim.commit_hash = run(claim.action)

Claims are exactly-once across processes: taking one is a conditional
``UPDATE ... WHERE status = 'approved'`` in a ``BEGIN IMMEDIATE``
transaction, and a claimed proposal is ``executing`` until it is resolved.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Generator, Iterator
from datetime import timedelta
from types import TracebackType
from typing import Any

from tract_tui.exceptions import ProposalConflictError
from tract_tui.models.policy import PolicyAction
from tract_tui.models.review import Decision, LogEntry, Proposal, ProposalDetail
from tract_tui.review.filters import Filter, parse_age, parse_filter
from tract_tui.review.service import ReviewService, action_of

__all__ = ["Claim", "Claims", "ReviewQueue", "open_queue"]

#: The longest error text kept in a log row (the rest is cut, marked with "…").
MAX_ERROR_CHARS = 10_000


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
        self._claims: weakref.WeakSet[Claims] = weakref.WeakSet()

    # --- lifetime ---------------------------------------------------------------

    @property
    def path(self) -> str:
        return self.service.path

    @property
    def read_only(self) -> bool:
        return self.service.read_only

    def close(self) -> None:
        """Release any claim still held by an unfinished :meth:`claim_approved`, then close."""
        for claims in list(self._claims):
            claims.close()
        self.service.close()

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
        return self.service.get_proposal(proposal_id)

    def detail(self, proposal_id: str) -> ProposalDetail:
        """The proposal and what its action would touch."""
        return self.service.get_detail(proposal_id)

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

        Each is a :class:`Claim`; use it as a context manager (see the
        module docstring). A claim left unresolved is released (back to
        approved, no log row) when the iteration advances or is closed; a
        proposal whose execution failed is not handed out again by the same
        iteration.
        """
        claims = Claims(self, tract_id)
        self._claims.add(claims)
        return claims


class Claim:
    """One approved proposal this agent holds (status ``executing``) until it is resolved.

    Unpacks as ``(proposal_id, action)``. As a context manager, leaving the
    block normally marks it executed (log outcome ``executed`` with
    :attr:`commit_hash`); an exception marks it failed (log outcome
    ``error`` with the message, proposal back to ``approved`` for a retry)
    and propagates.
    """

    def __init__(self, queue: ReviewQueue, proposal: Proposal) -> None:
        self._service = queue.service
        self.proposal = proposal
        self.action: PolicyAction = action_of(proposal)
        #: Set this to the commit your action produced; logged when the claim succeeds.
        self.commit_hash: str | None = None
        #: ``claimed``, then ``executed``, ``failed`` or ``released``.
        self.state = "claimed"
        self.decision: Decision | None = None

    @property
    def proposal_id(self) -> str:
        return self.proposal.proposal_id

    @property
    def tract_id(self) -> str:
        return self.proposal.tract_id

    @property
    def resolved(self) -> bool:
        return self.state != "claimed"

    def __iter__(self) -> Iterator[Any]:
        return iter((self.proposal_id, self.action))

    def __repr__(self) -> str:
        return f"<Claim {self.proposal_id} {self.action.action_type} {self.state}>"

    def _check_open(self) -> None:
        if self.resolved:
            raise ProposalConflictError(self.proposal_id, self.state, "claimed")

    def mark_executed(self, commit_hash: str | None = None) -> Decision:
        """Record success: the proposal becomes ``executed`` (log row with the commit hash)."""
        self._check_open()
        if commit_hash is not None:
            self.commit_hash = commit_hash
        self.decision = self._service.mark_executed(self.proposal_id, self.commit_hash)
        self.state = "executed"
        return self.decision

    def mark_failed(self, error: BaseException | str) -> Decision:
        """Record a failure: an ``error`` log row, and the proposal approved again."""
        self._check_open()
        if isinstance(error, BaseException):
            message = str(error)
            text = f"{type(error).__name__}: {message}" if message else type(error).__name__
        else:
            text = error
        if len(text) > MAX_ERROR_CHARS:
            text = text[: MAX_ERROR_CHARS - 1] + "…"
        self.decision = self._service.mark_failed(self.proposal_id, text)
        self.state = "failed"
        return self.decision

    def release(self) -> None:
        """Give the proposal back (approved again) without a result or a log row."""
        if self.resolved:
            return
        self._service.release(self.proposal_id)
        self.state = "released"

    def __enter__(self) -> Claim:
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.resolved:  # the agent called mark_executed / mark_failed itself
            return
        if exc is None:
            self.mark_executed()
        else:
            self.mark_failed(exc)


class Claims(Iterator[Claim]):
    """The iterator :meth:`ReviewQueue.claim_approved` returns; also a context manager.

    Closing it (``with``, :meth:`close`, the queue closing, or the iterator
    being dropped) releases a claim still open.
    """

    def __init__(self, queue: ReviewQueue, tract_id: str) -> None:
        self.tract_id = tract_id
        self._gen = self._run(queue, tract_id)

    @staticmethod
    def _run(queue: ReviewQueue, tract_id: str) -> Generator[Claim, None, None]:
        skip: list[str] = []  # failed or released here: not handed out again
        while True:
            proposal = queue.service.claim_next(tract_id, skip=skip)
            if proposal is None:
                return
            claim = Claim(queue, proposal)
            try:
                yield claim
            finally:
                claim.release()  # no-op once resolved
                if claim.state in ("failed", "released"):
                    skip.append(claim.proposal_id)

    def __iter__(self) -> Claims:
        return self

    def __next__(self) -> Claim:
        return next(self._gen)

    def close(self) -> None:
        self._gen.close()

    def __enter__(self) -> Claims:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
