"""The review service: the facade the console, the CLI and the agent API all call.

It holds no SQL of its own. Each method borrows a connection (one read
snapshot, or one ``BEGIN IMMEDIATE`` write), calls the query it needs in
:mod:`tract_tui.storage`, and applies the review rules: filters resolved
against the clock (:mod:`~tract_tui.review.filters`), decisions from the
transition table (:mod:`~tract_tui.review.transitions`), what a reviewer
is shown (:mod:`~tract_tui.review.impact`). It returns plain dataclasses
and raises only :class:`~tract_tui.exceptions.TraceError` subclasses, so
it can be used from any thread (each call borrows its own connection).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tract_tui.exceptions import (
    AmbiguousProposalIdError,
    DecisionTimeoutError,
    ProposalNotFoundError,
    ReadOnlyError,
    UndoRefusedError,
)
from tract_tui.models.review import (
    Decision,
    DecisionOutcome,
    Impact,
    LogFacets,
    Order,
    PendingCount,
    Proposal,
    ProposalDetail,
    Transition,
)
from tract_tui.review import housekeeping
from tract_tui.review import transitions as tr
from tract_tui.review.contextreads import ContextReads
from tract_tui.review.filters import STATUSES, Filter, Term, suggest_term
from tract_tui.review.history import HistoryReads
from tract_tui.review.housekeeping import EXPIRE_BATCH
from tract_tui.review.logreads import LogReads
from tract_tui.storage import decisions, proposals
from tract_tui.storage.connection import ConnectionPool
from tract_tui.storage.decisions import Target
from tract_tui.storage.indexes import Progress, build_missing
from tract_tui.storage.open import OpenedDatabase, open_database
from tract_tui.storage.sql import Where, distinct, format_dt
from tract_tui.storage.version import HOOKS_FROM, NO_PROPOSALS_FROM
from tract_tui.storage.watch import ChangeWatcher

if TYPE_CHECKING:
    from tract_tui.models.policy import PolicyAction
    from tract_tui.storage.search import SearchIndex

EXECUTING = tr.EXECUTING

Clock = Callable[[], datetime]
#: Polled during long reads: True means "stop, nobody wants the answer any more".
Cancelled = Callable[[], bool]

__all__ = [
    "EXPIRE_BATCH",
    "HOOKS_FROM",
    "NO_PROPOSALS_FROM",
    "ChangeWatcher",
    "Clock",
    "ReviewService",
    "format_dt",
]


def reviewer_name() -> str:
    """The login name of the person reviewing (recorded in every decision's log row)."""
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return os.environ.get("USER") or "unknown"


def action_of(proposal: Proposal) -> PolicyAction:
    """The PolicyAction an agent executes for a claimed proposal."""
    from tract_tui.models.policy import PolicyAction

    params = proposal.params if isinstance(proposal.params, dict) else {}
    return PolicyAction(proposal.action_type, dict(params), proposal.reason or "")


class ReviewService(LogReads, ContextReads, HistoryReads):
    """Review operations on one opened tract database (the log's are in review/logreads.py)."""

    def __init__(
        self, db: OpenedDatabase, *, clock: Clock | None = None, reviewer: str | None = None
    ) -> None:
        self.db = db
        if db.path in ("", ":memory:"):  # one in-memory database: share the engine's connection
            raw = db.engine.raw_connection().driver_connection
            self.pool = ConnectionPool(db.path, shared=raw)
        else:
            self.pool = ConnectionPool(db.path, read_only=db.read_only)
        self.clock: Clock = clock or datetime.now
        self.reviewer = reviewer or reviewer_name()
        self._search: SearchIndex | None = None
        self._search_made = False
        self._search_lock = threading.Lock()
        self._proposal_nulls = db.key_nullable("policy_proposals", "created_at", "proposal_id")
        self._log_nulls = db.key_nullable("policy_log", "created_at")

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        create: bool = False,
        clock: Clock | None = None,
        reviewer: str | None = None,
    ) -> ReviewService:
        """Open (and, unless read-only, migrate) a database; raises DatabaseOpenError.

        The pool's first connection is made while the one that inspected the
        file is still open, so a WAL a killed process left is recovered once
        (see open_database's ``hold``).
        """
        with contextlib.ExitStack() as hold:
            db = open_database(path, read_only=read_only, create=create, hold=hold)
            service = cls(db, clock=clock, reviewer=reviewer)
            try:
                service.pool.warm()
            except BaseException:
                service.close()
                raise
        return service

    @property
    def read_only(self) -> bool:
        return self.db.read_only

    @property
    def path(self) -> str:
        return self.db.path

    @property
    def version(self) -> int:
        return self.db.version

    @property
    def search(self) -> SearchIndex | None:
        """The log's search cache (storage/search.py); None in memory. Made on first use."""
        with self._search_lock:
            if not self._search_made:
                self._search_made = True
                if self.db.path not in ("", ":memory:"):
                    from tract_tui.storage.search import SearchIndex

                    try:
                        self._search = SearchIndex(self.db.path)
                    except (OSError, RuntimeError, ValueError):  # no home to cache in
                        self._search = None
            return self._search

    def close(self) -> None:
        self.pool.close()
        self.db.dispose()

    def __enter__(self) -> ReviewService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> datetime:
        return self.clock()

    def _criteria_where(self, flt: Filter | None) -> Where:
        return proposals.where((flt or Filter()).criteria(self.now()))

    def _reason(self, note: str | None, prefix: str = "") -> str:
        text = f"{prefix}by {self.reviewer}"
        note = (note or "").strip()
        return f"{text}: {note}" if note else text

    def ensure_indexes(
        self, progress: Progress | None = None, cancelled: Cancelled | None = None
    ) -> int:
        """Build tract-tui's missing ``ix_tui_*`` indexes (storage/indexes.py); how many."""
        if self.read_only or self.db.path in ("", ":memory:"):
            return 0
        return build_missing(self.pool, progress=progress, cancelled=cancelled)

    # --- proposals ------------------------------------------------------------------

    def list_proposals(
        self,
        flt: Filter | None = None,
        *,
        after: Sequence[Any] | None = None,
        before: Sequence[Any] | None = None,
        limit: int = 100,
        from_end: bool = False,
        order: Order | None = None,
    ) -> list[Proposal]:
        """A page of proposals (pending unless the filter says status:), oldest first.

        Keyset pagination: pass the :attr:`Proposal.key` of the last row seen as
        ``after`` (or of the first as ``before``; in another ``order``, the key
        :meth:`order_key` gives); ``from_end`` gives the last page. Rows are
        always returned in listing order.
        """
        clause = self._criteria_where(flt)
        order = order or Order()
        with self.pool.read() as conn:
            return proposals.page(
                conn,
                clause,
                after=after,
                before=before,
                limit=limit,
                from_end=from_end,
                nullable=self._proposal_nulls,
                order=order,
            )

    def iter_proposals(
        self, flt: Filter | None = None, *, page_size: int = 500
    ) -> Iterator[Proposal]:
        """Every listed proposal, oldest first, fetched a keyset page at a time.

        Memory stays bounded by ``page_size`` however many rows match; rows
        inserted meanwhile after the current key are picked up, none repeats.
        """
        after: Sequence[Any] | None = None
        while True:
            page = self.list_proposals(flt, after=after, limit=page_size)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].key

    def stream_proposals(self, flt: Filter | None = None) -> Iterator[Proposal]:
        """Every listed proposal, whole, from one snapshot and one cursor."""
        clause = self._criteria_where(flt)
        with self.pool.read() as conn:
            yield from proposals.stream(conn, clause)

    def stream_proposal_rows(self, flt: Filter | None = None) -> Iterator[tuple[Any, ...]]:
        """Every listed proposal as stored (storage/proposals.RAW_COLS), one snapshot, in order.

        For the CLI's ``--json``, which passes valid JSON params through untouched.
        """
        clause = self._criteria_where(flt)
        with self.pool.read() as conn:
            yield from proposals.stream_raw(conn, clause)

    def proposal_rank(
        self, proposal: Proposal, flt: Filter | None = None, order: Order | None = None
    ) -> int:
        """How many listed proposals come before this one (its row index).

        The proposal need not be listed any more: the answer is then the index
        of the first listed proposal after it.
        """
        clause = self._criteria_where(flt)
        order = order or Order()
        with self.pool.read() as conn:
            return proposals.rank(
                conn, clause, proposals.key_of(order, proposal), self._proposal_nulls, order
            )

    def order_key(self, proposal: Proposal, order: Order | None = None) -> tuple[Any, ...]:
        """``proposal``'s keyset key in ``order`` (pass it as ``after``/``before``)."""
        return proposals.key_of(order or Order(), proposal)

    def proposals_at(
        self, offset: int, limit: int, flt: Filter | None = None, order: Order | None = None
    ) -> list[Proposal]:
        """Rows ``offset .. offset+limit`` of the listing (for a virtual table's jumps)."""
        clause = self._criteria_where(flt)
        with self.pool.read() as conn:
            return proposals.at(conn, clause, offset, limit, order or Order())

    def proposal_ids(self, flt: Filter | None = None, *, limit: int = 100_000) -> list[str]:
        """The ids of every listed proposal (up to ``limit``): marking all that match."""
        clause = self._criteria_where(flt)
        with self.pool.read() as conn:
            return proposals.ids(conn, clause, limit)

    def count_by(self, ids: Sequence[str], what: str = "action_type") -> dict[str, int]:
        """How many of these proposals have each action type (or policy_name)."""
        if what not in ("action_type", "policy_name"):
            raise ValueError(what)
        with self.pool.read() as conn:
            return proposals.count_by(conn, what, ids)

    def first_inserted_pending(self, limit: int) -> list[Proposal] | None:
        """The pending proposals inserted first, when the exact first page would need a scan.

        None when the exact page is cheap (tract-tui's index is there, or the
        file is small) or these rows cannot be found by seeks; see
        :func:`tract_tui.storage.proposals.first_inserted_pending`.
        """
        with self.pool.read() as conn:
            return proposals.first_inserted_pending(conn, limit)

    def count_proposals(self, flt: Filter | None = None) -> int:
        clause = self._criteria_where(flt)
        with self.pool.read() as conn:
            return proposals.count(conn, clause)

    def pending_counts(self) -> list[PendingCount]:
        """Pending proposals per (tract, policy), most first."""
        with self.pool.read() as conn:
            return proposals.pending_counts(conn)

    def filter_hint(self, flt: Filter, context: str) -> tuple[str, Term] | None:
        """A free word of ``flt`` that names a value of a key here, and the term meant.

        For a filter that found nothing (see :func:`suggest_term`). The values:
        the log's policies, tracts, outcomes and triggers for the log (what its
        drop-downs offer, index skip-scans); the pending proposals' policies and
        tracts (the counts line's read) and the statuses for proposals.
        """
        if not flt.words:
            return None
        known: dict[str, list[str]]
        if context == "log":
            facets = self.log_facets()
            known = {
                "policy": facets.policies,
                "tract": facets.tracts,
                "outcome": facets.outcomes,
                "trigger": facets.triggers,
            }
        else:
            counts = self.pending_counts()
            known = {
                "policy": sorted({c.policy_name for c in counts}),
                "tract": sorted({c.tract_id for c in counts}),
                "status": list(STATUSES),
            }
        return suggest_term(flt, known)

    def get_proposal(self, proposal_id: str, *, whole: bool = False) -> Proposal:
        """The proposal with this exact id; ProposalNotFoundError otherwise."""
        with self.pool.read() as conn:
            found = proposals.get(conn, proposal_id, whole=whole)
        if found is None:
            raise ProposalNotFoundError(proposal_id)
        return found

    def resolve_id(self, prefix: str) -> str:
        """A full proposal id from a unique prefix (as git does).

        Compared exactly as given, byte for byte: an id that exists is never
        mapped to another one (``"dup "`` is not ``"dup"``). Only when nothing
        matches as given is surrounding white space dropped (a pasted id).
        Raises ProposalNotFoundError or AmbiguousProposalIdError (with the candidates).
        """
        try:
            prefix.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (e.g. from undecodable argv): no id has it
            raise ProposalNotFoundError(prefix) from None
        if not prefix:
            raise ProposalNotFoundError(prefix)
        with self.pool.read() as conn:
            found = proposals.ids_with_prefix(conn, prefix)
            if not found and prefix.strip() and prefix.strip() != prefix:
                found = proposals.ids_with_prefix(conn, prefix.strip())
        if not found:
            raise ProposalNotFoundError(prefix)
        if len(found) > 1:
            raise AmbiguousProposalIdError(prefix, found)
        return found[0]

    def proposal_facets(self) -> LogFacets:
        with self.pool.read() as conn:
            return LogFacets(
                policies=distinct(conn, "policy_proposals", "policy_name"),
                outcomes=distinct(conn, "policy_proposals", "status"),
                triggers=[],
                tracts=distinct(conn, "policy_proposals", "tract_id"),
            )

    def get_detail(self, proposal_id: str, *, whole: bool = False) -> ProposalDetail:
        """The proposal and what its action would touch (one snapshot).

        Long values are read up to a bound (more than any view shows) unless ``whole``.
        """
        from tract_tui.review.impact import impact as impact_of

        with self.pool.read() as conn:
            found = proposals.get(conn, proposal_id, whole=whole)
            if found is None:
                raise ProposalNotFoundError(proposal_id)
            return ProposalDetail(found, impact_of(conn, found), self._effect(conn, found))

    def impact(self, proposal: Proposal) -> Impact:
        from tract_tui.review.impact import impact as impact_of

        with self.pool.read() as conn:
            return impact_of(conn, proposal)

    # --- decisions ----------------------------------------------------------------------

    def _apply(
        self,
        transition: Transition,
        proposal_id: str,
        reason: str | None,
        wait: bool = True,
        **extra: str | None,
    ) -> Decision:
        with self.pool.write(wait=wait) as conn:
            return decisions.apply(
                conn, transition, Target(proposal_id), when=self.now(), reason=reason, **extra
            )

    def approve(self, proposal_id: str, note: str | None = None) -> Decision:
        """Approve if still pending; ProposalConflictError (with the status) otherwise."""
        return self._apply(tr.APPROVE, proposal_id, self._reason(note))

    def reject(self, proposal_id: str, reason: str | None = None) -> Decision:
        """Reject if still pending, logging the reviewer and their reason."""
        return self._apply(tr.REJECT, proposal_id, self._reason(reason))

    def decide(
        self, proposal_id: str, status: str, note: str | None = None, *, wait: bool = True
    ) -> Decision:
        """Approve or reject; ``wait`` False raises DatabaseBusyError at once if locked."""
        transition = tr.DECIDE.get(status)
        if transition is None:
            raise ValueError(f"cannot decide {status!r}")
        return self._apply(transition, proposal_id, self._reason(note), wait)

    def decide_many(
        self, ids: Sequence[str], status: str, note: str | None = None
    ) -> list[DecisionOutcome]:
        """Decide each id in its own transaction; report per id, never raise for one.

        A failure that is not about the proposal (a lock held past the busy
        timeout, a full disk) stops the run: the ids already decided are
        reported as decided, the rest with that error, and nothing is lost.
        """
        from tract_tui.exceptions import ProposalConflictError, TraceError

        if self.read_only:
            raise ReadOnlyError(f"{self.path} is open read-only; decisions are disabled")
        out: list[DecisionOutcome] = []
        stopped: str | None = None
        for pid in ids:
            if stopped is not None:
                out.append(DecisionOutcome(pid, error=stopped))
                continue
            try:
                out.append(DecisionOutcome(pid, decision=self.decide(pid, status, note)))
            except ProposalConflictError as e:
                out.append(DecisionOutcome(pid, current_status=e.current_status))
            except ProposalNotFoundError:
                out.append(DecisionOutcome(pid, error="not found"))
            except TraceError as e:
                stopped = f"not decided: {e}"
                out.append(DecisionOutcome(pid, error=stopped))
        return out

    def undo(self, decision: Decision) -> Decision:
        """Put a decided proposal back to pending, if nobody acted on it since.

        Refused (:class:`UndoRefusedError`) once an agent's execute or error
        row follows the decision, even when the proposal is ``approved``
        again after a failed attempt; a conflict when its status moved on.
        """
        transition = tr.UNDO.get(decision.status)
        if transition is None:
            raise ValueError(f"cannot undo {decision.status!r}")
        reason = self._reason(None, prefix=f"undo of {decision.status} ")
        with self.pool.write() as conn:
            acted = decisions.acted_after(conn, decision.proposal_id, decision.log_id)
            if acted is not None:
                raise UndoRefusedError(
                    f"cannot undo: an agent already acted on {decision.proposal_id[:12]} "
                    f"({acted}) after it was {decision.status}"
                )
            return decisions.apply(
                conn, transition, Target(decision.proposal_id), when=self.now(), reason=reason
            )

    def expire(
        self, older_than: timedelta, *, dry_run: bool = False, flt: Filter | None = None
    ) -> list[Proposal]:
        """Pending proposals created before now - older_than become expired (logged).

        Times are compared as times, whatever form they are stored in; rows
        whose time cannot be read are left pending (:meth:`expire_report`
        counts them). Each proposal changes together with its log row,
        committed ``EXPIRE_BATCH`` at a time, so a large expiry never holds
        the write lock for long.
        """
        return self.expire_report(older_than, dry_run=dry_run, flt=flt).proposals

    def expire_report(
        self, older_than: timedelta, *, dry_run: bool = False, flt: Filter | None = None
    ) -> housekeeping.ExpireReport:
        """The proposals expired (or, ``dry_run``, that would be), and the rows left alone."""
        return housekeeping.expire(self, older_than, dry_run=dry_run, flt=flt)

    def gc_log(
        self, before: datetime, *, tract_id: str | None = None, dry_run: bool = False
    ) -> int:
        """Delete log rows created strictly before ``before`` (one tract or all); how many."""
        return self.gc_report(before, tract_id=tract_id, dry_run=dry_run)[0]

    def gc_report(
        self, before: datetime, *, tract_id: str | None = None, dry_run: bool = False
    ) -> tuple[int, int]:
        """(log rows deleted, or that would be; rows whose time is unreadable, kept)."""
        if not dry_run and self.read_only:
            raise ReadOnlyError(f"{self.path} is open read-only")
        return housekeeping.gc(self, before, tract_id=tract_id, dry_run=dry_run)

    # --- agents -----------------------------------------------------------------------

    def claim_next(self, tract_id: str, *, skip: Sequence[str] = ()) -> Proposal | None:
        """Atomically take the oldest approved proposal of this tract (status -> executing).

        The conditional UPDATE runs in a BEGIN IMMEDIATE transaction, so two
        processes can never claim the same proposal.
        """
        with self.pool.write() as conn:
            found = decisions.next_claimable(conn, tract_id, skip)
            if found is None:
                return None
            decisions.apply(conn, tr.CLAIM, Target(found), when=self.now(), reason=None)
            return proposals.get(conn, found, whole=True)

    def mark_executed(self, proposal_id: str, commit_hash: str | None = None) -> Decision:
        return self._apply(
            tr.EXECUTED, proposal_id, "executed by the agent", commit_hash=commit_hash
        )

    def mark_failed(self, proposal_id: str, error: str) -> Decision:
        """Log the error and give the proposal back as approved, for a retry."""
        reason = "execution failed; left approved for a retry"
        return self._apply(tr.FAILED, proposal_id, reason, error_message=error)

    def release_stuck(self, proposal_id: str, note: str | None = None) -> Decision:
        """A reviewer gives back a claim whose agent died: approved again, logged as an error.

        A killed agent leaves its proposal ``executing`` for good (the schema
        keeps no claim time to expire it by); only a person can tell it is stuck.
        """
        reason = f"claim released by {self.reviewer}" + (f": {note}" if note else "")
        error = "the claiming agent did not finish; approved again for a retry"
        return self._apply(tr.RELEASE_STUCK, proposal_id, reason, error_message=error)

    def release(self, proposal_id: str) -> None:
        """Give back a claim without a result (no log row); a no-op if it is not executing."""
        from tract_tui.exceptions import ProposalConflictError

        with contextlib.suppress(ProposalConflictError, ProposalNotFoundError):
            self._apply(tr.RELEASE, proposal_id, None)

    # --- watching for other processes ---------------------------------------------------

    def watcher(self) -> ChangeWatcher:
        return ChangeWatcher(self.path)

    def wait_for_decision(
        self, proposal_id: str, timeout: float, *, poll: float = 0.05
    ) -> Proposal:
        """Block until the proposal is no longer pending; DecisionTimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        watcher = self.watcher()
        try:
            while True:
                p = self.get_proposal(proposal_id)
                if p.status != "pending":
                    return p
                while not watcher.changed():
                    if time.monotonic() >= deadline:
                        raise DecisionTimeoutError(
                            f"proposal {proposal_id[:12]} was not decided within {timeout:g} s"
                        )
                    time.sleep(poll)
        finally:
            watcher.close()
