"""The review service: the one home of the review rules.

The console, the CLI and the agent API all call this class and get plain
dataclasses back (``tract_tui.models.review``); none of them writes SQL.
Every method opens its own connection from the engine's pool, so the
service can be used from worker threads (one call per thread at a time per
connection; the pool hands each thread its own).

Decisions follow design.md: one ``BEGIN IMMEDIATE`` transaction that
updates the proposal only if it is still in the expected state and, in the
same transaction, writes its ``policy_log`` row; when no row changed,
nothing is written and the caller learns the current status.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    String,
    cast,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    tuple_,
    type_coerce,
    update,
)

from tract_tui.exceptions import (
    AmbiguousProposalIdError,
    DecisionTimeoutError,
    ProposalConflictError,
    ProposalNotFoundError,
    ReadOnlyError,
)
from tract_tui.models.policy import PolicyAction
from tract_tui.models.review import (
    Decision,
    DecisionOutcome,
    Impact,
    LogEntry,
    LogFacets,
    LogStats,
    PendingCount,
    Proposal,
    ProposalDetail,
)
from tract_tui.review.filters import Filter
from tract_tui.storage.engine import OpenedDatabase, open_database, write_engine
from tract_tui.storage.schema import (
    AnnotationRow,
    BlobRow,
    CommitRow,
    PolicyLogRow,
    PolicyProposalRow,
    RefRow,
)

P = PolicyProposalRow.__table__.c
L = PolicyLogRow.__table__.c
# Raw text of the columns whose stored form we must not trust to parse.
P_CREATED = type_coerce(P.created_at, String)
P_RESOLVED = type_coerce(P.resolved_at, String)
P_PARAMS = type_coerce(P.action_params_json, String)
L_CREATED = type_coerce(L.created_at, String)

DECIDED = ("approved", "rejected")
EXECUTING = "executing"
DT_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

Clock = Callable[[], datetime]


def format_dt(value: datetime) -> str:
    """The text form tract stores (naive, microseconds).

    ``isoformat`` rather than ``strftime``: strftime does not zero-pad years
    below 1000 on glibc, which would break the text comparisons.
    """
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def parse_dt(raw: Any) -> datetime | None:
    """Parse a stored datetime tolerantly; None when it is not one."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw
    try:
        value = datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    return value.replace(tzinfo=None) if value.tzinfo else value


def reviewer_name() -> str:
    """The login name of the person reviewing (recorded in every decision's log row)."""
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return os.environ.get("USER") or "unknown"


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _text_match(word: str, *cols: Any) -> ColumnElement[bool]:
    pattern = _like(word)
    return or_(*[func.coalesce(c, "").like(pattern, escape="\\") for c in cols])


def _proposal_from(row: Any) -> Proposal:
    return Proposal(
        proposal_id=row.proposal_id,
        tract_id=row.tract_id,
        policy_name=row.policy_name,
        action_type=row.action_type,
        params_raw=row.params_raw,
        reason=row.reason,
        status=row.status,
        created_at=parse_dt(row.created_raw),
        resolved_at=parse_dt(row.resolved_raw),
        created_at_raw=row.created_raw or "",
    )


def _log_from(row: Any) -> LogEntry:
    return LogEntry(
        id=row.id,
        tract_id=row.tract_id,
        policy_name=row.policy_name,
        trigger=row.trigger,
        action_type=row.action_type,
        reason=row.reason,
        outcome=row.outcome,
        commit_hash=row.commit_hash,
        error_message=row.error_message,
        created_at=parse_dt(row.created_raw),
        created_at_raw=row.created_raw or "",
    )


_PROPOSAL_COLS = (
    P.proposal_id,
    P.tract_id,
    P.policy_name,
    P.action_type,
    P_PARAMS.label("params_raw"),
    P.reason,
    P.status,
    P_CREATED.label("created_raw"),
    P_RESOLVED.label("resolved_raw"),
)
_LOG_COLS = (
    L.id,
    L.tract_id,
    L.policy_name,
    L.trigger,
    L.action_type,
    L.reason,
    L.outcome,
    L.commit_hash,
    L.error_message,
    L_CREATED.label("created_raw"),
)


def _value_terms(flt: Filter, key: str, col: Any) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    wanted = flt.values(key)
    if wanted:
        out.append(col.in_(wanted))
    unwanted = flt.values(key, negated=True)
    if unwanted:
        out.append(or_(col.is_(None), col.not_in(unwanted)))
    return out


class ReviewService:
    """Review operations on one opened tract database."""

    def __init__(
        self,
        db: OpenedDatabase,
        *,
        clock: Clock | None = None,
        reviewer: str | None = None,
    ) -> None:
        self.db = db
        self.engine: Engine = db.engine
        self._writer: Engine = write_engine(db.engine)
        self.clock: Clock = clock or datetime.now
        self.reviewer = reviewer or reviewer_name()

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
        """Open (and, unless read-only, migrate) a database; raises DatabaseOpenError."""
        return cls(
            open_database(path, read_only=read_only, create=create), clock=clock, reviewer=reviewer
        )

    @property
    def read_only(self) -> bool:
        return self.db.read_only

    @property
    def path(self) -> str:
        return self.db.path

    def close(self) -> None:
        self.engine.dispose()

    # --- plumbing ---------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        if self.read_only:
            raise ReadOnlyError(f"{self.path} is open read-only; decisions are disabled")
        with self._writer.begin() as conn:
            yield conn

    def now(self) -> datetime:
        return self.clock()

    def _log_values(
        self,
        *,
        tract_id: str,
        policy_name: str,
        action_type: str | None,
        outcome: str,
        reason: str | None,
        when: datetime,
        trigger: str = "review",
        commit_hash: str | None = None,
        error_message: str | None = None,
    ) -> dict[str, Any]:
        return {
            "tract_id": tract_id,
            "policy_name": policy_name,
            "trigger": trigger,
            "action_type": action_type,
            "reason": reason,
            "outcome": outcome,
            "commit_hash": commit_hash,
            "error_message": error_message,
            "created_at": when,
        }

    def _review_reason(self, note: str | None, prefix: str = "") -> str:
        text = f"{prefix}by {self.reviewer}"
        note = (note or "").strip()
        return f"{text}: {note}" if note else text

    # --- proposals: listing -----------------------------------------------------------

    def _proposal_where(self, flt: Filter | None) -> list[ColumnElement[bool]]:
        flt = flt or Filter()
        clauses: list[ColumnElement[bool]] = []
        if flt.values("status") or flt.values("status", negated=True):
            clauses += _value_terms(flt, "status", P.status)
        else:
            clauses.append(P.status == "pending")
        clauses += _value_terms(flt, "policy", P.policy_name)
        clauses += _value_terms(flt, "tract", P.tract_id)
        clauses += _value_terms(flt, "action", P.action_type)
        since, until = flt.bounds(self.now())
        if since is not None:
            clauses.append(literal(format_dt(since), String) <= P_CREATED)
        if until is not None:
            clauses.append(literal(format_dt(until), String) >= P_CREATED)
        for w in flt.words:
            clauses.append(_text_match(w, P.reason))
        for w in flt.excluded_words:
            clauses.append(not_(_text_match(w, P.reason)))
        return clauses

    def list_proposals(
        self,
        flt: Filter | None = None,
        *,
        after: tuple[str, str] | None = None,
        before: tuple[str, str] | None = None,
        limit: int = 100,
        from_end: bool = False,
    ) -> list[Proposal]:
        """A page of proposals (pending unless the filter says status:), oldest first.

        Keyset pagination on (created_at, proposal_id): pass the key of the last
        row seen as ``after`` (or the first as ``before``); ``from_end`` gives
        the last page. Returned rows are always in ascending order.
        """
        stmt = select(*_PROPOSAL_COLS).where(*self._proposal_where(flt))
        key = tuple_(P_CREATED, P.proposal_id)
        descending = from_end or before is not None
        if after is not None:
            stmt = stmt.where(key > tuple_(literal(after[0], String), literal(after[1])))
        if before is not None:
            stmt = stmt.where(key < tuple_(literal(before[0], String), literal(before[1])))
        if descending:
            stmt = stmt.order_by(P_CREATED.desc(), P.proposal_id.desc())
        else:
            stmt = stmt.order_by(P_CREATED, P.proposal_id)
        with self._read() as conn:
            rows = [_proposal_from(r) for r in conn.execute(stmt.limit(limit))]
        if descending:
            rows.reverse()
        return rows

    def iter_proposals(
        self, flt: Filter | None = None, *, page_size: int = 500
    ) -> Iterator[Proposal]:
        """Every listed proposal, oldest first, fetched a keyset page at a time.

        Memory stays bounded by ``page_size`` however many rows match; rows
        inserted meanwhile after the current key are picked up, none repeats.
        """
        after: tuple[str, str] | None = None
        while True:
            page = self.list_proposals(flt, after=after, limit=page_size)
            yield from page
            if len(page) < page_size:
                return
            after = (page[-1].created_at_raw, page[-1].proposal_id)

    def proposal_rank(self, proposal: Proposal, flt: Filter | None = None) -> int:
        """How many listed proposals come before this one (its row index)."""
        key = tuple_(P_CREATED, P.proposal_id)
        bound = tuple_(literal(proposal.created_at_raw, String), literal(proposal.proposal_id))
        stmt = (
            select(func.count())
            .select_from(P.proposal_id.table)
            .where(*self._proposal_where(flt), key < bound)
        )
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def proposals_at(self, offset: int, limit: int, flt: Filter | None = None) -> list[Proposal]:
        """Rows ``offset .. offset+limit`` of the listing (for a virtual table's jumps)."""
        stmt = (
            select(*_PROPOSAL_COLS)
            .where(*self._proposal_where(flt))
            .order_by(P_CREATED, P.proposal_id)
            .offset(max(offset, 0))
            .limit(limit)
        )
        with self._read() as conn:
            return [_proposal_from(r) for r in conn.execute(stmt)]

    def count_proposals(self, flt: Filter | None = None) -> int:
        stmt = (
            select(func.count()).select_from(P.proposal_id.table).where(*self._proposal_where(flt))
        )
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def pending_counts(self) -> list[PendingCount]:
        """Pending proposals per (tract, policy), most first."""
        n = func.count().label("n")
        stmt = (
            select(P.tract_id, P.policy_name, n)
            .where(P.status == "pending")
            .group_by(P.tract_id, P.policy_name)
            .order_by(n.desc(), P.tract_id, P.policy_name)
        )
        with self._read() as conn:
            return [PendingCount(r.tract_id, r.policy_name, r.n) for r in conn.execute(stmt)]

    def get_proposal(self, proposal_id: str) -> Proposal:
        """The proposal with this exact id; ProposalNotFoundError otherwise."""
        with self._read() as conn:
            row = conn.execute(select(*_PROPOSAL_COLS).where(P.proposal_id == proposal_id)).first()
        if row is None:
            raise ProposalNotFoundError(proposal_id)
        return _proposal_from(row)

    def resolve_id(self, prefix: str) -> str:
        """A full proposal id from a unique prefix (as git does).

        Raises ProposalNotFoundError or AmbiguousProposalIdError (with the candidates).
        """
        prefix = prefix.strip()
        try:
            prefix.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (e.g. from undecodable argv): no id has it
            raise ProposalNotFoundError(prefix) from None
        if not prefix:
            raise ProposalNotFoundError(prefix)
        if ord(prefix[-1]) < 0x10FFFF:
            upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            in_range = P.proposal_id < upper
        else:  # no character sorts after it: compare the prefix itself
            in_range = func.substr(P.proposal_id, 1, len(prefix)) == prefix
        stmt = (
            select(P.proposal_id)
            .where(P.proposal_id >= prefix, in_range)
            .order_by(P.proposal_id)
            .limit(20)
        )
        with self._read() as conn:
            exact = conn.execute(select(P.proposal_id).where(P.proposal_id == prefix)).first()
            if exact is not None:
                return str(exact[0])
            found = [str(r[0]) for r in conn.execute(stmt)]
        if not found:
            raise ProposalNotFoundError(prefix)
        if len(found) > 1:
            raise AmbiguousProposalIdError(prefix, found)
        return found[0]

    # --- proposals: what they touch ------------------------------------------------------

    def get_detail(self, proposal_id: str) -> ProposalDetail:
        """The proposal and what its action would touch (see :meth:`impact`)."""
        proposal = self.get_proposal(proposal_id)
        return ProposalDetail(proposal, self.impact(proposal))

    def impact(self, proposal: Proposal) -> Impact:
        params = proposal.params if isinstance(proposal.params, dict) else {}
        with self._read() as conn:
            if proposal.action_type == "annotate":
                return self._impact_annotate(conn, proposal.tract_id, params)
            if proposal.action_type == "branch":
                return self._impact_branch(conn, proposal.tract_id, params)
            if proposal.action_type == "archive":
                return self._impact_archive(conn, proposal.tract_id, params)
            if proposal.action_type == "compress":
                return self._impact_compress(conn, proposal.tract_id, params)
        return Impact(
            f"{proposal.action_type} (an action tract-tui does not know): its params",
            fields=[(str(k), _short(v)) for k, v in params.items()],
        )

    def _commit_info(
        self, conn: Connection, tract_id: str, commit_hash: str
    ) -> tuple[list[tuple[str, str]], str | None, list[str]]:
        C = CommitRow.__table__.c
        B = BlobRow.__table__.c
        row = conn.execute(
            select(
                C.commit_hash,
                C.content_type,
                C.token_count,
                C.message,
                C.tract_id,
                type_coerce(C.created_at, String).label("created"),
                B.payload_json,
            )
            .join(BlobRow.__table__, B.content_hash == C.content_hash)
            .where(C.commit_hash == commit_hash)
        ).first()
        if row is None:
            return (
                [("commit", commit_hash)],
                None,
                [f"commit {commit_hash[:12]} is not in this file"],
            )
        fields = [
            ("commit", row.commit_hash),
            ("content type", row.content_type),
            ("tokens", str(row.token_count)),
            ("committed", str(row.created)[:19]),
        ]
        if row.message:
            fields.append(("message", row.message))
        warnings = []
        if row.tract_id != tract_id:
            warnings.append(f"commit belongs to tract {row.tract_id}, not {tract_id}")
        return fields, _content_preview(row.payload_json), warnings

    def _impact_annotate(self, conn: Connection, tract_id: str, params: dict[str, Any]) -> Impact:
        target = str(params.get("target_hash") or "")
        if not target:
            return Impact("annotate: no target_hash in params", warnings=["nothing to annotate"])
        fields, preview, warnings = self._commit_info(conn, tract_id, target)
        A = AnnotationRow.__table__.c
        # The stored NAME as text: through the Enum type it would come back as
        # "Priority.SKIP", and a name a newer tract writes would raise LookupError.
        current = conn.execute(
            select(type_coerce(A.priority, String), A.reason)
            .where(A.target_hash == target)
            .order_by(A.created_at.desc(), A.id.desc())
            .limit(1)
        ).first()
        cur = "normal (no annotation)" if current is None else str(current[0]).lower()
        fields.append(("current priority", cur))
        fields.append(("proposed priority", str(params.get("priority", "?")).lower()))
        if params.get("reason"):
            fields.append(("annotation reason", str(params["reason"])))
        return Impact("annotate: change the priority of a commit", fields, preview, warnings)

    def _branch_tip(self, conn: Connection, tract_id: str, branch: str) -> str | None:
        R = RefRow.__table__.c
        row = conn.execute(
            select(R.commit_hash).where(
                R.tract_id == tract_id, R.ref_name == f"refs/heads/{branch}"
            )
        ).first()
        return None if row is None else row[0]

    def _current_branch(self, conn: Connection, tract_id: str) -> tuple[str | None, str | None]:
        """(branch name, tip commit) of the tract's HEAD."""
        R = RefRow.__table__.c
        head = conn.execute(
            select(R.commit_hash, R.symbolic_target).where(
                R.tract_id == tract_id, R.ref_name == "HEAD"
            )
        ).first()
        if head is None:
            return None, None
        if head.symbolic_target:
            name = str(head.symbolic_target).removeprefix("refs/heads/")
            return name, self._branch_tip(conn, tract_id, name)
        return None, head.commit_hash  # detached

    def _chain_stats(self, conn: Connection, tip: str) -> tuple[int, int]:
        """(commits, tokens) along the first-parent chain ending at ``tip``."""
        row = conn.exec_driver_sql(
            "WITH RECURSIVE chain(h, n) AS ("
            " SELECT ?, 0 UNION ALL"
            " SELECT c.parent_hash, chain.n + 1"
            " FROM commits c JOIN chain ON c.commit_hash = chain.h"
            " WHERE c.parent_hash IS NOT NULL AND chain.n < 1000000)"
            " SELECT count(*), coalesce(sum(c.token_count), 0) FROM chain"
            " JOIN commits c ON c.commit_hash = chain.h",
            (tip,),
        ).first()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _impact_branch(self, conn: Connection, tract_id: str, params: dict[str, Any]) -> Impact:
        name, tip = self._current_branch(conn, tract_id)
        fields = [
            ("new branch", str(params.get("name", "?"))),
            ("switch to it", "yes" if params.get("switch") else "no"),
            ("from branch", name or "(detached HEAD)"),
        ]
        warnings: list[str] = []
        preview = None
        if tip:
            tip_fields, preview, warnings = self._commit_info(conn, tract_id, tip)
            fields += [("tip " + k, v) for k, v in tip_fields[:3]]
        else:
            warnings.append("the tract has no HEAD commit")
        if params.get("name") and self._branch_tip(conn, tract_id, str(params["name"])):
            warnings.append(f"branch {params['name']} already exists")
        return Impact("branch: create a branch at the current tip", fields, preview, warnings)

    def _impact_archive(self, conn: Connection, tract_id: str, params: dict[str, Any]) -> Impact:
        source = str(params.get("source") or "")
        archive = str(params.get("archive_name") or "")
        fields = [("source branch", source or "?"), ("archive as", archive or "?")]
        warnings: list[str] = []
        preview = None
        tip = self._branch_tip(conn, tract_id, source) if source else None
        if tip:
            tip_fields, preview, warnings = self._commit_info(conn, tract_id, tip)
            fields += [("tip " + k, v) for k, v in tip_fields[:3]]
            commits, tokens = self._chain_stats(conn, tip)
            fields += [("commits on it", str(commits)), ("tokens on it", str(tokens))]
        else:
            warnings.append(f"branch {source or '?'} does not exist (any more)")
        if archive and self._branch_tip(conn, tract_id, archive):
            warnings.append(f"branch {archive} already exists")
        return Impact("archive: move a stale branch out of the way", fields, preview, warnings)

    def _impact_compress(self, conn: Connection, tract_id: str, params: dict[str, Any]) -> Impact:
        name, tip = self._current_branch(conn, tract_id)
        fields = [("branch", name or "(detached HEAD)")]
        warnings: list[str] = []
        if tip:
            commits, tokens = self._chain_stats(conn, tip)
            fields += [("commits", str(commits)), ("tokens", str(tokens))]
            fields.append(("tip", tip))
        else:
            warnings.append("the tract has no HEAD commit")
        if "auto_commit" in params:
            fields.append(("auto commit", "yes" if params["auto_commit"] else "no"))
        content = params.get("content")
        return Impact(
            "compress: replace the branch's history with a summary",
            fields,
            str(content) if content is not None else None,
            warnings,
        )

    # --- decisions ---------------------------------------------------------------------

    def _transition(
        self,
        proposal_id: str,
        *,
        expected: Sequence[str],
        new_status: str,
        outcome: str,
        reason: str,
        resolved: bool = True,
        conn: Connection | None = None,
        when: datetime | None = None,
        commit_hash: str | None = None,
        error_message: str | None = None,
        trigger: str = "review",
    ) -> Decision:
        when = when or self.now()
        if conn is None:
            with self._write() as c:
                return self._transition(
                    proposal_id,
                    expected=expected,
                    new_status=new_status,
                    outcome=outcome,
                    reason=reason,
                    resolved=resolved,
                    conn=c,
                    when=when,
                    commit_hash=commit_hash,
                    error_message=error_message,
                    trigger=trigger,
                )
        stmt = (
            update(PolicyProposalRow)
            .where(P.proposal_id == proposal_id, P.status.in_(list(expected)))
            .values(status=new_status, resolved_at=when if resolved else None)
            .returning(P.tract_id, P.policy_name, P.action_type)
        )
        # the status before: read inside the same write transaction
        before = conn.execute(select(P.status).where(P.proposal_id == proposal_id)).first()
        if before is None:
            raise ProposalNotFoundError(proposal_id)
        row = conn.execute(stmt).first()
        if row is None:
            raise ProposalConflictError(proposal_id, str(before[0]), "/".join(expected))
        log_id = conn.execute(
            insert(PolicyLogRow).values(
                self._log_values(
                    tract_id=row.tract_id,
                    policy_name=row.policy_name,
                    action_type=row.action_type,
                    outcome=outcome,
                    reason=reason,
                    when=when,
                    trigger=trigger,
                    commit_hash=commit_hash,
                    error_message=error_message,
                )
            )
        ).inserted_primary_key
        return Decision(
            proposal_id=proposal_id,
            status=new_status,
            previous_status=str(before[0]),
            resolved_at=when if resolved else None,
            log_id=int(log_id[0]) if log_id else 0,
            tract_id=row.tract_id,
            policy_name=row.policy_name,
        )

    def approve(self, proposal_id: str, note: str | None = None) -> Decision:
        """Approve if still pending; ProposalConflictError (with the status) otherwise."""
        return self._transition(
            proposal_id,
            expected=("pending",),
            new_status="approved",
            outcome="approved",
            reason=self._review_reason(note),
        )

    def reject(self, proposal_id: str, reason: str | None = None) -> Decision:
        """Reject if still pending, logging the reviewer and their reason."""
        return self._transition(
            proposal_id,
            expected=("pending",),
            new_status="rejected",
            outcome="rejected",
            reason=self._review_reason(reason),
        )

    def decide(self, proposal_id: str, status: str, note: str | None = None) -> Decision:
        if status == "approved":
            return self.approve(proposal_id, note)
        if status == "rejected":
            return self.reject(proposal_id, note)
        raise ValueError(f"cannot decide {status!r}")

    def decide_many(
        self, ids: Sequence[str], status: str, note: str | None = None
    ) -> list[DecisionOutcome]:
        """Decide each id in its own transaction; report per id, never raise for one."""
        out: list[DecisionOutcome] = []
        for pid in ids:
            try:
                out.append(DecisionOutcome(pid, decision=self.decide(pid, status, note)))
            except ProposalConflictError as e:
                out.append(DecisionOutcome(pid, current_status=e.current_status))
            except ProposalNotFoundError:
                out.append(DecisionOutcome(pid, error="not found"))
        return out

    def undo(self, decision: Decision) -> Decision:
        """Put a decided proposal back to pending, if it still has that decision."""
        return self._transition(
            decision.proposal_id,
            expected=(decision.status,),
            new_status="pending",
            outcome="reopened",
            resolved=False,
            reason=self._review_reason(None, prefix=f"undo of {decision.status} "),
        )

    def expire(
        self, older_than: timedelta, *, dry_run: bool = False, flt: Filter | None = None
    ) -> list[Proposal]:
        """Pending proposals created before now - older_than become expired (logged)."""
        now = self.now()
        cutoff = literal(format_dt(now - older_than), String)
        where = [*self._proposal_where(flt), P.status == "pending", cutoff > P_CREATED]
        stmt = select(*_PROPOSAL_COLS).where(*where).order_by(P_CREATED, P.proposal_id)
        if dry_run:
            with self._read() as conn:
                return [_proposal_from(r) for r in conn.execute(stmt)]
        done: list[Proposal] = []
        reason = f"pending longer than {older_than}; expired by {self.reviewer}"
        with self._write() as conn:
            for row in list(conn.execute(stmt)):
                p = _proposal_from(row)
                self._transition(
                    p.proposal_id,
                    expected=("pending",),
                    new_status="expired",
                    outcome="expired",
                    reason=reason,
                    conn=conn,
                    when=now,
                )
                done.append(p)
        return done

    # --- agents -----------------------------------------------------------------------

    def claim_next(self, tract_id: str, *, skip: Sequence[str] = ()) -> Proposal | None:
        """Atomically take one approved proposal of this tract (status -> executing).

        The UPDATE ... WHERE status='approved' runs in a BEGIN IMMEDIATE
        transaction, so two processes can never claim the same proposal.
        """
        with self._write() as conn:
            stmt = (
                select(P.proposal_id)
                .where(P.tract_id == tract_id, P.status == "approved")
                .order_by(P_CREATED, P.proposal_id)
                .limit(1)
            )
            if skip:
                stmt = stmt.where(P.proposal_id.not_in(list(skip)))
            found = conn.execute(stmt).first()
            if found is None:
                return None
            conn.execute(
                update(PolicyProposalRow)
                .where(P.proposal_id == found[0], P.status == "approved")
                .values(status=EXECUTING)
            )
            row = conn.execute(select(*_PROPOSAL_COLS).where(P.proposal_id == found[0])).one()
        return _proposal_from(row)

    def mark_executed(self, proposal_id: str, commit_hash: str | None = None) -> Decision:
        return self._transition(
            proposal_id,
            expected=(EXECUTING,),
            new_status="executed",
            outcome="executed",
            reason="executed by the agent",
            trigger="execute",
            commit_hash=commit_hash,
        )

    def mark_failed(self, proposal_id: str, error: str) -> Decision:
        """Log the error and give the proposal back as approved, for a retry."""
        return self._transition(
            proposal_id,
            expected=(EXECUTING,),
            new_status="approved",
            outcome="error",
            reason="execution failed; left approved for a retry",
            trigger="execute",
            error_message=error,
            resolved=True,
        )

    def release(self, proposal_id: str) -> None:
        """Give back a claim without a result (no log row)."""
        with self._write() as conn:
            conn.execute(
                update(PolicyProposalRow)
                .where(P.proposal_id == proposal_id, P.status == EXECUTING)
                .values(status="approved")
            )

    # --- the log ----------------------------------------------------------------------

    def _log_where(self, flt: Filter | None) -> list[ColumnElement[bool]]:
        flt = flt or Filter()
        clauses: list[ColumnElement[bool]] = []
        clauses += _value_terms(flt, "policy", L.policy_name)
        clauses += _value_terms(flt, "tract", L.tract_id)
        clauses += _value_terms(flt, "outcome", L.outcome)
        clauses += _value_terms(flt, "trigger", L.trigger)
        clauses += _value_terms(flt, "action", L.action_type)
        since, until = flt.bounds(self.now())
        if since is not None:
            clauses.append(literal(format_dt(since), String) <= L_CREATED)
        if until is not None:
            clauses.append(literal(format_dt(until), String) >= L_CREATED)
        for w in flt.words:
            clauses.append(_text_match(w, L.reason, L.error_message))
        for w in flt.excluded_words:
            clauses.append(not_(_text_match(w, L.reason, L.error_message)))
        return clauses

    def _log_select(self, flt: Filter | None) -> Select[Any]:
        return select(*_LOG_COLS).where(*self._log_where(flt))

    def list_log(
        self,
        flt: Filter | None = None,
        *,
        after: tuple[str, int] | None = None,
        before: tuple[str, int] | None = None,
        limit: int = 100,
        from_end: bool = False,
    ) -> list[LogEntry]:
        """A page of the log, newest first; keyset on (created_at, id).

        ``after`` = the key of the last row seen (continue to older rows);
        ``before`` = the key of the first row seen (newer rows); ``from_end``
        = the oldest page. Rows are always returned newest first.
        """
        stmt = self._log_select(flt)
        key = tuple_(L_CREATED, L.id)
        ascending = from_end or before is not None
        if after is not None:
            stmt = stmt.where(key < tuple_(literal(after[0], String), literal(after[1])))
        if before is not None:
            stmt = stmt.where(key > tuple_(literal(before[0], String), literal(before[1])))
        if ascending:
            stmt = stmt.order_by(L_CREATED, L.id)
        else:
            stmt = stmt.order_by(L_CREATED.desc(), L.id.desc())
        with self._read() as conn:
            rows = [_log_from(r) for r in conn.execute(stmt.limit(limit))]
        if ascending:
            rows.reverse()
        return rows

    def iter_log(self, flt: Filter | None = None, *, page_size: int = 500) -> Iterator[LogEntry]:
        """Every matching log row, newest first, a keyset page at a time (bounded memory)."""
        after: tuple[str, int] | None = None
        while True:
            page = self.list_log(flt, after=after, limit=page_size)
            yield from page
            if len(page) < page_size:
                return
            after = (page[-1].created_at_raw, page[-1].id)

    def log_at(self, offset: int, limit: int, flt: Filter | None = None) -> list[LogEntry]:
        stmt = (
            self._log_select(flt)
            .order_by(L_CREATED.desc(), L.id.desc())
            .offset(max(offset, 0))
            .limit(limit)
        )
        with self._read() as conn:
            return [_log_from(r) for r in conn.execute(stmt)]

    def count_log(self, flt: Filter | None = None) -> int:
        stmt = select(func.count()).select_from(L.id.table).where(*self._log_where(flt))
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def log_stats(self, flt: Filter | None = None, *, buckets: int = 48) -> LogStats:
        """Counts per outcome and evaluations over time (``buckets`` equal slices)."""
        where = self._log_where(flt)
        with self._read() as conn:
            by_outcome = {
                str(r[0]): int(r[1])
                for r in conn.execute(
                    select(L.outcome, func.count())
                    .where(*where)
                    .group_by(L.outcome)
                    .order_by(func.count().desc())
                )
            }
            total = sum(by_outcome.values())
            if not total:
                return LogStats(0, {}, [0] * buckets, None, None)
            lo, hi = conn.execute(
                select(func.min(L_CREATED), func.max(L_CREATED)).where(*where)
            ).one()
            start, end = parse_dt(lo), parse_dt(hi)
            if start is None or end is None:
                return LogStats(total, by_outcome, [0] * buckets, start, end)
            span = max((end - start).total_seconds(), 1.0)
            width = span / buckets
            offset_s = (
                func.julianday(L_CREATED) - func.julianday(literal(format_dt(start), String))
            ) * 86400.0
            bucket = func.min(cast(offset_s / width, Integer), buckets - 1).label("bucket")
            counts = [0] * buckets
            for b, n in conn.execute(select(bucket, func.count()).where(*where).group_by(bucket)):
                if b is not None:
                    counts[min(max(int(b), 0), buckets - 1)] += int(n)
        return LogStats(total, by_outcome, counts, start, end)

    def log_facets(self) -> LogFacets:
        """Distinct policies, outcomes, triggers and tracts (index skip-scans, not full scans)."""
        with self._read() as conn:
            return LogFacets(
                policies=self._distinct(conn, "policy_log", "policy_name"),
                outcomes=self._distinct(conn, "policy_log", "outcome"),
                triggers=self._distinct(conn, "policy_log", '"trigger"'),
                tracts=self._distinct(conn, "policy_log", "tract_id"),
            )

    def _distinct(self, conn: Connection, table: str, col: str, cap: int = 500) -> list[str]:
        sql = (
            f"WITH RECURSIVE d(v, n) AS ("
            f" SELECT min({col}), 1 FROM {table} UNION ALL"
            f" SELECT (SELECT min({col}) FROM {table} WHERE {col} > d.v), n + 1 FROM d"
            f" WHERE d.v IS NOT NULL AND n < {cap})"
            f" SELECT v FROM d WHERE v IS NOT NULL"
        )
        return [str(r[0]) for r in conn.exec_driver_sql(sql)]

    def proposal_facets(self) -> LogFacets:
        with self._read() as conn:
            return LogFacets(
                policies=self._distinct(conn, "policy_proposals", "policy_name"),
                outcomes=self._distinct(conn, "policy_proposals", "status"),
                triggers=[],
                tracts=self._distinct(conn, "policy_proposals", "tract_id"),
            )

    def gc_log(
        self, before: datetime, *, tract_id: str | None = None, dry_run: bool = False
    ) -> int:
        """Delete log rows created strictly before ``before`` (one tract or all); how many."""
        from tract_tui.storage.engine import create_session_factory
        from tract_tui.storage.sqlite import SqlitePolicyRepository

        where = [literal(format_dt(before), String) > L_CREATED]
        if tract_id is not None:
            where.append(L.tract_id == tract_id)
        if dry_run:
            with self._read() as conn:
                return int(
                    conn.execute(
                        select(func.count()).select_from(L.id.table).where(*where)
                    ).scalar_one()
                )
        if self.read_only:
            raise ReadOnlyError(f"{self.path} is open read-only")
        factory = create_session_factory(self._writer)
        with factory.begin() as session:
            repo = SqlitePolicyRepository(session)
            if tract_id is not None:
                return repo.delete_log_entries(tract_id, before)
            tracts = [str(r[0]) for r in session.execute(select(L.tract_id).distinct())]
            return sum(repo.delete_log_entries(t, before) for t in tracts)

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


class ChangeWatcher:
    """Cheap change detection: ``PRAGMA data_version`` on one long-lived connection.

    data_version changes when any *other* connection commits to the file; the
    check costs a few microseconds, so it can run several times a second.
    """

    def __init__(self, path: str) -> None:
        uri = f"file:{os.path.abspath(path)}?mode=ro"
        self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=5)
        self._lock = threading.Lock()
        self._last = self._version()

    def _version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        """True once for each batch of commits by others since the last call."""
        now = self._version()
        if now != self._last:
            self._last = now
            return True
        return False

    def close(self) -> None:
        self._conn.close()


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _content_preview(payload_json: str | None, lines: int = 8) -> str | None:
    """The readable part of a blob payload: text / content / summary, else the JSON."""
    if payload_json is None:
        return None
    try:
        data = json.loads(payload_json)
    except ValueError:
        text = payload_json
    else:
        if isinstance(data, dict):
            for key in ("text", "content", "summary", "output", "result"):
                if isinstance(data.get(key), str):
                    text = data[key]
                    break
            else:
                text = json.dumps(data, ensure_ascii=False, indent=1)
        else:
            text = json.dumps(data, ensure_ascii=False)
    parts = text.splitlines()
    out = "\n".join(parts[:lines])
    if len(parts) > lines:
        out += f"\n… ({len(parts) - lines} more lines)"
    return out[:4000]


def action_of(proposal: Proposal) -> PolicyAction:
    """The PolicyAction an agent executes for a claimed proposal."""
    params = proposal.params if isinstance(proposal.params, dict) else {}
    return PolicyAction(proposal.action_type, dict(params), proposal.reason or "")
