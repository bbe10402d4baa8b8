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
from typing import TYPE_CHECKING, Any

from tract_tui.exceptions import (
    AmbiguousProposalIdError,
    DecisionTimeoutError,
    ProposalConflictError,
    ProposalNotFoundError,
    QueryCancelledError,
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
from tract_tui.storage.connection import ConnectionPool
from tract_tui.storage.engine import (
    OpenedDatabase,
    busy_error,
    open_database,
    sqlite_uri,
    write_engine,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tract_tui.review.search import SearchIndex

# The SQL below is plain SQLite run on sqlite3 connections (storage/connection.py):
# importing SQLAlchemy would cost the console's launch about 0.3 s and 15-20 MB (issue 4).
# Datetime, JSON and enum columns are read as the text tract stored, never trusted to parse.

DECIDED = ("approved", "rejected")
EXECUTING = "executing"
#: Proposals expired per write transaction (see :meth:`ReviewService.expire`).
EXPIRE_BATCH = 100
DT_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

Clock = Callable[[], datetime]
#: Polled during long reads: True means "stop, nobody wants the answer any more".
Cancelled = Callable[[], bool]


def _is_busy(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another connection held the lock past the busy timeout."""
    text = str(error)
    return "database is locked" in text or "database table is locked" in text or "busy" in text


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


def _like(word: str) -> tuple[str, bool]:
    """The LIKE pattern for ``word`` anywhere, and whether it needs ``ESCAPE '\\'``."""
    if not any(c in word for c in "%_"):
        return f"%{word}%", False  # no ESCAPE: a backslash is then an ordinary character
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%", True


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class _Where:
    """A WHERE clause built term by term (AND-ed), with its ``?`` parameters in order."""

    def __init__(self) -> None:
        self.terms: list[str] = []
        self.params: list[Any] = []
        #: Read the table by rowid only (set with the search index's candidates).
        self.not_indexed = False

    def table(self, name: str) -> str:
        """``name`` as the FROM clause names it (``NOT INDEXED`` when asked)."""
        return f"{name} NOT INDEXED" if self.not_indexed else name

    def add(self, term: str, *params: Any) -> _Where:
        self.terms.append(term)
        self.params.extend(params)
        return self

    def copy(self) -> _Where:
        other = _Where()
        other.terms, other.params = list(self.terms), list(self.params)
        other.not_indexed = self.not_indexed
        return other

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.terms) if self.terms else ""

    def without(self, terms: Sequence[str]) -> _Where:
        """The same clause without these terms (and their parameters)."""
        other, i = _Where(), 0
        other.not_indexed = self.not_indexed
        for term in self.terms:
            n = term.count("?")
            if term not in terms:
                other.add(term, *self.params[i : i + n])
            i += n
        return other

    def text_only(self) -> bool:
        """Only free-word terms (LIKE): no index can narrow the rows."""
        return bool(self.terms) and all(" LIKE ?" in t for t in self.terms)


#: The WHERE terms of since: / until: (see _log_where and _proposal_where).
_TIME_TERMS = ("? <= created_at", "? >= created_at")
#: The search index's prefilter of free words (see _log_where): the rows not
#: indexed yet (newer than indexed_max), and the candidates among the others.
_CANDIDATES_TERM = "(id > ? OR id IN (SELECT value FROM json_each(?)))"
#: A listing with the search index scans every row not indexed yet, then sorts
#: what matched; without it, a scan newest first stops once a page is full. Up to
#: this many rows not indexed, the first always wins (about 10 ms at most).
_TAIL_ROWS = 20_000
#: The page the estimate of a listing's scan assumes (the console's page size).
_PAGE_ROWS = 100


def _bucket_edges(lo: str, start: datetime, end: datetime, buckets: int) -> list[str]:
    """The first created_at of each of ``buckets`` equal slices of ``start .. end``."""
    width = max((end - start).total_seconds(), 1.0) / buckets
    return [lo] + [format_dt(start + timedelta(seconds=width * i)) for i in range(1, buckets)]


def _bucket_case(edges: list[str], first: int, last: int) -> tuple[str, list[str]]:
    """SQL giving the bucket of ``created_at`` among ``first..last``: a binary search."""
    if first == last:
        return str(first), []
    mid = (first + last + 1) // 2
    below, below_params = _bucket_case(edges, first, mid - 1)
    above, above_params = _bucket_case(edges, mid, last)
    sql = f"CASE WHEN created_at < ? THEN {below} ELSE {above} END"
    return sql, [edges[mid], *below_params, *above_params]


def _value_terms(where: _Where, flt: Filter, key: str, col: str) -> None:
    wanted = flt.values(key)
    if wanted:
        where.add(f"{col} IN ({_marks(len(wanted))})", *wanted)
    unwanted = flt.values(key, negated=True)
    if unwanted:
        where.add(f"({col} IS NULL OR {col} NOT IN ({_marks(len(unwanted))}))", *unwanted)


def _text_match(where: _Where, word: str, cols: Sequence[str], *, negated: bool = False) -> None:
    """``word`` (case-insensitive for ASCII, as LIKE is) in any of ``cols``.

    A NULL column does not match; a negated term keeps the rows where no
    column matches (NULLs included: ``IS NOT 1`` is true for NULL).
    """
    pattern, escape = _like(word)
    like = " LIKE ? ESCAPE '\\'" if escape else " LIKE ?"
    term = "(" + " OR ".join(f"{c}{like}" for c in cols) + ")"
    where.add(f"{term} IS NOT 1" if negated else term, *([pattern] * len(cols)))


def _proposal_from(row: Sequence[Any]) -> Proposal:
    pid, tract, policy, action, params, reason, status, created, resolved = row
    return Proposal(
        proposal_id=pid,
        tract_id=tract,
        policy_name=policy,
        action_type=action,
        params_raw=params,
        reason=reason,
        status=status,
        created_at=parse_dt(created),
        resolved_at=parse_dt(resolved),
        created_at_raw=created or "",
    )


def _log_from(row: Sequence[Any]) -> LogEntry:
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
        created_at=parse_dt(created),
        created_at_raw=created or "",
    )


#: The columns :func:`_proposal_from` and :func:`_log_from` unpack, in order.
_PROPOSAL_COLS = (
    "proposal_id, tract_id, policy_name, action_type, action_params_json, reason, status,"
    " created_at, resolved_at"
)
_LOG_COLS = (
    'id, tract_id, policy_name, "trigger", action_type, reason, outcome, commit_hash,'
    " error_message, created_at"
)
_LOG_INSERT = (
    'INSERT INTO policy_log (tract_id, policy_name, "trigger", action_type, reason, outcome,'
    " commit_hash, error_message, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _log_params(values: dict[str, Any]) -> tuple[Any, ...]:
    """The parameters of :data:`_LOG_INSERT` from :meth:`ReviewService._log_values`."""
    created = values["created_at"]
    return (
        values["tract_id"],
        values["policy_name"],
        values["trigger"],
        values["action_type"],
        values["reason"],
        values["outcome"],
        values["commit_hash"],
        values["error_message"],
        format_dt(created) if isinstance(created, datetime) else created,
    )


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

    @property
    def search(self) -> SearchIndex | None:
        """The log's search index (a cache file, see review/search.py); None in memory.

        Made on first use: its imports (hashlib, urllib) would cost the launch.
        """
        with self._search_lock:
            if not self._search_made:
                self._search_made = True
                if self.db.path not in ("", ":memory:"):
                    from tract_tui.review.search import SearchIndex

                    try:
                        self._search = SearchIndex(self.db.path)
                    except (OSError, RuntimeError, ValueError):  # no home to cache in
                        self._search = None
            return self._search

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (made on first use; the service's own SQL does not need it)."""
        return self.db.engine

    def close(self) -> None:
        self.pool.close()
        self.db.dispose()

    # --- plumbing ---------------------------------------------------------------

    @contextmanager
    def _read(self, cancelled: Cancelled | None = None) -> Iterator[sqlite3.Connection]:
        """A pooled connection in one read transaction (a consistent snapshot).

        ``cancelled`` is polled while SQLite works; once true, the query stops
        and :class:`QueryCancelledError` is raised.
        """
        if cancelled is not None and cancelled():
            raise QueryCancelledError("the query was cancelled")
        try:
            with self.pool.read(cancelled) as conn:
                yield conn
        except sqlite3.OperationalError as e:
            if cancelled is not None and "interrupt" in str(e) and cancelled():
                raise QueryCancelledError("the query was cancelled") from e
            if _is_busy(e):
                raise busy_error(self.path) from e
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection in one BEGIN IMMEDIATE transaction; ReadOnlyError if read-only.

        Another process holding the lock past the busy timeout is a
        :class:`~tract_tui.exceptions.DatabaseBusyError` (a TraceError the
        console and the CLI show as a message), never a raw driver error.
        """
        try:
            with self.pool.write() as conn:
                yield conn
        except sqlite3.OperationalError as e:
            if _is_busy(e):
                raise busy_error(self.path) from e
            raise

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

    def _proposal_where(self, flt: Filter | None) -> _Where:
        flt = flt or Filter()
        where = _Where()
        if flt.values("status") or flt.values("status", negated=True):
            _value_terms(where, flt, "status", "status")
        else:
            where.add("status = 'pending'")
        _value_terms(where, flt, "policy", "policy_name")
        _value_terms(where, flt, "tract", "tract_id")
        _value_terms(where, flt, "action", "action_type")
        since, until = flt.bounds(self.now())
        if since is not None:
            where.add("? <= created_at", format_dt(since))
        if until is not None:
            where.add("? >= created_at", format_dt(until))
        for w in flt.words:
            _text_match(where, w, ("reason",))
        for w in flt.excluded_words:
            _text_match(where, w, ("reason",), negated=True)
        return where

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
        where = self._proposal_where(flt)
        descending = from_end or before is not None
        if after is not None:
            where.add("(created_at, proposal_id) > (?, ?)", after[0], after[1])
        if before is not None:
            where.add("(created_at, proposal_id) < (?, ?)", before[0], before[1])
        order = "DESC" if descending else "ASC"
        sql = (
            f"SELECT {_PROPOSAL_COLS} FROM policy_proposals{where.sql()}"
            f" ORDER BY created_at {order}, proposal_id {order} LIMIT ?"
        )
        with self._read() as conn:
            rows = [_proposal_from(r) for r in conn.execute(sql, [*where.params, limit])]
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
        where = self._proposal_where(flt).add(
            "(created_at, proposal_id) < (?, ?)", proposal.created_at_raw, proposal.proposal_id
        )
        with self._read() as conn:
            sql = f"SELECT count(*) FROM policy_proposals{where.sql()}"
            return int(conn.execute(sql, where.params).fetchone()[0])

    def proposals_at(self, offset: int, limit: int, flt: Filter | None = None) -> list[Proposal]:
        """Rows ``offset .. offset+limit`` of the listing (for a virtual table's jumps)."""
        where = self._proposal_where(flt)
        sql = (
            f"SELECT {_PROPOSAL_COLS} FROM policy_proposals{where.sql()}"
            " ORDER BY created_at, proposal_id LIMIT ? OFFSET ?"
        )
        with self._read() as conn:
            params = [*where.params, limit, max(offset, 0)]
            return [_proposal_from(r) for r in conn.execute(sql, params)]

    def count_proposals(self, flt: Filter | None = None) -> int:
        where = self._proposal_where(flt)
        with self._read() as conn:
            sql = f"SELECT count(*) FROM policy_proposals{where.sql()}"
            return int(conn.execute(sql, where.params).fetchone()[0])

    def pending_counts(self) -> list[PendingCount]:
        """Pending proposals per (tract, policy), most first."""
        sql = (
            "SELECT tract_id, policy_name, count(*) AS n FROM policy_proposals"
            " WHERE status = 'pending' GROUP BY tract_id, policy_name"
            " ORDER BY n DESC, tract_id, policy_name"
        )
        with self._read() as conn:
            return [PendingCount(t, p, n) for t, p, n in conn.execute(sql)]

    def get_proposal(self, proposal_id: str) -> Proposal:
        """The proposal with this exact id; ProposalNotFoundError otherwise."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_PROPOSAL_COLS} FROM policy_proposals WHERE proposal_id = ?",
                (proposal_id,),
            ).fetchone()
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
        nxt = ord(prefix[-1]) + 1
        if nxt <= 0x10FFFF and not 0xD800 <= nxt <= 0xDFFF:
            in_range, bound = "proposal_id < ?", prefix[:-1] + chr(nxt)
        else:  # no encodable character sorts right after it: compare the prefix itself
            in_range, bound = f"substr(proposal_id, 1, {len(prefix)}) = ?", prefix
        sql = (
            f"SELECT proposal_id FROM policy_proposals WHERE proposal_id >= ? AND {in_range}"
            " ORDER BY proposal_id LIMIT 20"
        )
        with self._read() as conn:
            exact = conn.execute(
                "SELECT proposal_id FROM policy_proposals WHERE proposal_id = ?", (prefix,)
            ).fetchone()
            if exact is not None:
                return str(exact[0])
            found = [str(r[0]) for r in conn.execute(sql, (prefix, bound))]
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
        self, conn: sqlite3.Connection, tract_id: str, commit_hash: str
    ) -> tuple[list[tuple[str, str]], str | None, list[str]]:
        found = conn.execute(
            "SELECT c.commit_hash, c.content_type, c.token_count, c.message, c.tract_id,"
            " c.created_at, b.payload_json"
            " FROM commits AS c JOIN blobs AS b ON b.content_hash = c.content_hash"
            " WHERE c.commit_hash = ?",
            (commit_hash,),
        ).fetchone()
        if found is None:
            return (
                [("commit", commit_hash)],
                None,
                [f"commit {commit_hash[:12]} is not in this file"],
            )
        chash, content_type, tokens, message, owner, created, payload_json = found
        fields = [
            ("commit", chash),
            ("content type", content_type),
            ("tokens", str(tokens)),
            ("committed", str(created)[:19]),
        ]
        if message:
            fields.append(("message", message))
        warnings = []
        if owner != tract_id:
            warnings.append(f"commit belongs to tract {owner}, not {tract_id}")
        return fields, _content_preview(payload_json), warnings

    def _impact_annotate(
        self, conn: sqlite3.Connection, tract_id: str, params: dict[str, Any]
    ) -> Impact:
        target = str(params.get("target_hash") or "")
        if not target:
            return Impact("annotate: no target_hash in params", warnings=["nothing to annotate"])
        fields, preview, warnings = self._commit_info(conn, tract_id, target)
        # The stored enum NAME as text (a name a newer tract writes is shown as it is).
        current = conn.execute(
            "SELECT priority, reason FROM annotations WHERE target_hash = ?"
            " ORDER BY created_at DESC, id DESC LIMIT 1",
            (target,),
        ).fetchone()
        cur = "normal (no annotation)" if current is None else str(current[0]).lower()
        fields.append(("current priority", cur))
        fields.append(("proposed priority", str(params.get("priority", "?")).lower()))
        if params.get("reason"):
            fields.append(("annotation reason", str(params["reason"])))
        return Impact("annotate: change the priority of a commit", fields, preview, warnings)

    def _branch_tip(self, conn: sqlite3.Connection, tract_id: str, branch: str) -> str | None:
        row = conn.execute(
            "SELECT commit_hash FROM refs WHERE tract_id = ? AND ref_name = ?",
            (tract_id, f"refs/heads/{branch}"),
        ).fetchone()
        return None if row is None else row[0]

    def _current_branch(
        self, conn: sqlite3.Connection, tract_id: str
    ) -> tuple[str | None, str | None]:
        """(branch name, tip commit) of the tract's HEAD."""
        head = conn.execute(
            "SELECT commit_hash, symbolic_target FROM refs"
            " WHERE tract_id = ? AND ref_name = 'HEAD'",
            (tract_id,),
        ).fetchone()
        if head is None:
            return None, None
        commit_hash, symbolic_target = head
        if symbolic_target:
            name = str(symbolic_target).removeprefix("refs/heads/")
            return name, self._branch_tip(conn, tract_id, name)
        return None, commit_hash  # detached

    def _chain_stats(self, conn: sqlite3.Connection, tip: str) -> tuple[int, int]:
        """(commits, tokens) along the first-parent chain ending at ``tip``."""
        row = conn.execute(
            "WITH RECURSIVE chain(h, n) AS ("
            " SELECT ?, 0 UNION ALL"
            " SELECT c.parent_hash, chain.n + 1"
            " FROM commits c JOIN chain ON c.commit_hash = chain.h"
            " WHERE c.parent_hash IS NOT NULL AND chain.n < 1000000)"
            " SELECT count(*), coalesce(sum(c.token_count), 0) FROM chain"
            " JOIN commits c ON c.commit_hash = chain.h",
            (tip,),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _impact_branch(
        self, conn: sqlite3.Connection, tract_id: str, params: dict[str, Any]
    ) -> Impact:
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

    def _impact_archive(
        self, conn: sqlite3.Connection, tract_id: str, params: dict[str, Any]
    ) -> Impact:
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

    def _impact_compress(
        self, conn: sqlite3.Connection, tract_id: str, params: dict[str, Any]
    ) -> Impact:
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
        conn: sqlite3.Connection | None = None,
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
        # The status before, read inside the same write transaction. With one expected
        # status the UPDATE's own WHERE says it (one statement less on the hot path).
        previous = expected[0] if len(expected) == 1 else self._status_of(conn, proposal_id)
        changed = conn.execute(
            "UPDATE policy_proposals SET status = ?, resolved_at = ?"
            f" WHERE proposal_id = ? AND status IN ({_marks(len(expected))})"
            " RETURNING tract_id, policy_name, action_type",
            (new_status, format_dt(when) if resolved else None, proposal_id, *expected),
        ).fetchall()
        if not changed:
            current = self._status_of(conn, proposal_id)
            raise ProposalConflictError(proposal_id, current, "/".join(expected))
        tract_id, policy_name, action_type = changed[0]
        values = self._log_values(
            tract_id=tract_id,
            policy_name=policy_name,
            action_type=action_type,
            outcome=outcome,
            reason=reason,
            when=when,
            trigger=trigger,
            commit_hash=commit_hash,
            error_message=error_message,
        )
        log_id = conn.execute(_LOG_INSERT, _log_params(values)).lastrowid
        return Decision(
            proposal_id=proposal_id,
            status=new_status,
            previous_status=previous,
            resolved_at=when if resolved else None,
            log_id=int(log_id or 0),
            tract_id=tract_id,
            policy_name=policy_name,
        )

    def _status_of(self, conn: sqlite3.Connection, proposal_id: str) -> str:
        """The proposal's status now; ProposalNotFoundError if there is no such proposal."""
        row = conn.execute(
            "SELECT status FROM policy_proposals WHERE proposal_id = ?", (proposal_id,)
        ).fetchone()
        if row is None:
            raise ProposalNotFoundError(proposal_id)
        return str(row[0])

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
        """Pending proposals created before now - older_than become expired (logged).

        Each proposal changes together with its log row; they are committed
        ``EXPIRE_BATCH`` at a time, so a large expiry never holds the write
        lock for long (a crash mid-way leaves some expired, the rest pending).
        """
        now = self.now()
        where = self._proposal_where(flt).add("status = 'pending'")
        where.add("? > created_at", format_dt(now - older_than))
        sql = (
            f"SELECT {_PROPOSAL_COLS} FROM policy_proposals{where.sql()}"
            " ORDER BY created_at, proposal_id"
        )
        if dry_run:
            with self._read() as conn:
                return [_proposal_from(r) for r in conn.execute(sql, where.params)]
        done: list[Proposal] = []
        reason = f"pending longer than {older_than}; expired by {self.reviewer}"
        # A batch per transaction: each proposal still changes together with its log
        # row, but thousands of expiries never hold the write lock for seconds (other
        # writers would wait past their busy timeout and fail with "database is locked").
        while True:
            with self._write() as conn:
                page = conn.execute(f"{sql} LIMIT ?", [*where.params, EXPIRE_BATCH]).fetchall()
                batch = [_proposal_from(r) for r in page]
                for p in batch:
                    self._transition(
                        p.proposal_id,
                        expected=("pending",),
                        new_status="expired",
                        outcome="expired",
                        reason=reason,
                        conn=conn,
                        when=now,
                    )
            done += batch
            if len(batch) < EXPIRE_BATCH:
                return done

    # --- agents -----------------------------------------------------------------------

    def claim_next(self, tract_id: str, *, skip: Sequence[str] = ()) -> Proposal | None:
        """Atomically take one approved proposal of this tract (status -> executing).

        The UPDATE ... WHERE status='approved' runs in a BEGIN IMMEDIATE
        transaction, so two processes can never claim the same proposal.
        """
        with self._write() as conn:
            where = _Where().add("tract_id = ?", tract_id).add("status = 'approved'")
            if skip:
                where.add(f"proposal_id NOT IN ({_marks(len(skip))})", *skip)
            found = conn.execute(
                f"SELECT proposal_id FROM policy_proposals{where.sql()}"
                " ORDER BY created_at, proposal_id LIMIT 1",
                where.params,
            ).fetchone()
            if found is None:
                return None
            conn.execute(
                "UPDATE policy_proposals SET status = ?"
                " WHERE proposal_id = ? AND status = 'approved'",
                (EXECUTING, found[0]),
            )
            row = conn.execute(
                f"SELECT {_PROPOSAL_COLS} FROM policy_proposals WHERE proposal_id = ?", (found[0],)
            ).fetchone()
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

    def release_stuck(self, proposal_id: str, note: str | None = None) -> Decision:
        """A reviewer gives back a claim whose agent died: approved again, logged as an error.

        A killed agent leaves its proposal ``executing`` for good (the schema
        keeps no claim time to expire it by); only a person can tell it is stuck.
        """
        reason = f"claim released by {self.reviewer}" + (f": {note}" if note else "")
        return self._transition(
            proposal_id,
            expected=(EXECUTING,),
            new_status="approved",
            outcome="error",
            reason=reason,
            trigger="review",
            error_message="the claiming agent did not finish; approved again for a retry",
            resolved=True,
        )

    def release(self, proposal_id: str) -> None:
        """Give back a claim without a result (no log row)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE policy_proposals SET status = 'approved'"
                " WHERE proposal_id = ? AND status = ?",
                (proposal_id, EXECUTING),
            )

    # --- the log ----------------------------------------------------------------------

    def _log_where(
        self,
        flt: Filter | None,
        conn: sqlite3.Connection,
        *,
        listing: bool = False,
        cancelled: Cancelled | None = None,
    ) -> _Where:
        """The WHERE clause of a log query, read on ``conn`` (for the search index).

        ``listing``: the query sorts newest first and stops at a page (see
        :meth:`_prefilter`).
        """
        flt = flt or Filter()
        where = _Where()
        _value_terms(where, flt, "policy", "policy_name")
        _value_terms(where, flt, "tract", "tract_id")
        _value_terms(where, flt, "outcome", "outcome")
        _value_terms(where, flt, "trigger", '"trigger"')
        _value_terms(where, flt, "action", "action_type")
        since, until = flt.bounds(self.now())
        if since is not None:
            where.add("? <= created_at", format_dt(since))
        if until is not None:
            where.add("? >= created_at", format_dt(until))
        for w in flt.words:
            _text_match(where, w, ("reason", "error_message"))
        for w in flt.excluded_words:
            _text_match(where, w, ("reason", "error_message"), negated=True)
        if flt.words:
            self._prefilter(where, flt.words, conn, listing=listing, cancelled=cancelled)
        return where

    def _prefilter(
        self,
        where: _Where,
        words: Sequence[str],
        conn: sqlite3.Connection,
        *,
        listing: bool,
        cancelled: Cancelled | None,
    ) -> None:
        """Narrow free words to the search index's candidate rows, when that pays.

        The LIKE terms stay: they check every candidate (the index is only a
        prefilter). Rows newer than the index are scanned; the others are
        looked up by id (``NOT INDEXED``: the planner would otherwise walk the
        time index in order and test each row against the list). A listing
        whose rows not indexed yet are many gets the index only when the
        word is rare enough there that a scan newest first would read more
        rows to fill a page (estimated from the candidates' share of the
        indexed rows): while the index is being built, a common word's first
        page stays instant.
        """
        index = self.search
        if index is None:
            return
        found = index.candidates(words, conn, count=not listing, cancelled=cancelled)
        if found is None:
            return
        if listing and found.count:
            newest = conn.execute("SELECT max(id) FROM policy_log").fetchone()[0]
            tail = int(newest or 0) - found.indexed_max
            if tail > _TAIL_ROWS and tail * found.count > _PAGE_ROWS * found.indexed_max:
                return
        where.add(_CANDIDATES_TERM, found.indexed_max, found.ids_json)
        where.not_indexed = True

    def update_search_index(self, cancelled: Cancelled | None = None) -> int:
        """Bring the log's search index up to date; how many rows it indexed.

        Seconds for a million rows the first time, a millisecond when nothing
        is new. Stops soon after ``cancelled`` returns True (what was done is
        kept). Never raises for a cache problem, and never writes to the
        database (it is read through its own read-only connection).
        """
        index = self.search
        return index.update(cancelled=cancelled) if index is not None else 0

    def list_log(
        self,
        flt: Filter | None = None,
        *,
        after: tuple[str, int] | None = None,
        before: tuple[str, int] | None = None,
        limit: int = 100,
        from_end: bool = False,
        cancelled: Cancelled | None = None,
    ) -> list[LogEntry]:
        """A page of the log, newest first; keyset on (created_at, id).

        ``after`` = the key of the last row seen (continue to older rows);
        ``before`` = the key of the first row seen (newer rows); ``from_end``
        = the oldest page. Rows are always returned newest first.
        """
        ascending = from_end or before is not None
        order = "ASC" if ascending else "DESC"
        with self._read(cancelled) as conn:
            where = self._log_where(flt, conn, listing=True, cancelled=cancelled)
            if after is not None:
                where.add("(created_at, id) < (?, ?)", after[0], after[1])
            if before is not None:
                where.add("(created_at, id) > (?, ?)", before[0], before[1])
            sql = (
                f"SELECT {_LOG_COLS} FROM {where.table('policy_log')}{where.sql()}"
                f" ORDER BY created_at {order}, id {order} LIMIT ?"
            )
            rows = [_log_from(r) for r in conn.execute(sql, [*where.params, limit])]
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

    def log_at(
        self,
        offset: int,
        limit: int,
        flt: Filter | None = None,
        *,
        cancelled: Cancelled | None = None,
    ) -> list[LogEntry]:
        with self._read(cancelled) as conn:
            where = self._log_where(flt, conn, listing=True, cancelled=cancelled)
            sql = (
                f"SELECT {_LOG_COLS} FROM {where.table('policy_log')}{where.sql()}"
                " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
            )
            params = [*where.params, limit, max(offset, 0)]
            return [_log_from(r) for r in conn.execute(sql, params)]

    def log_rank(
        self,
        key: tuple[str, int],
        flt: Filter | None = None,
        *,
        cap: int | None = None,
        cancelled: Cancelled | None = None,
    ) -> int:
        """How many matching rows come before the row with this (created_at, id) key.

        Newest first, like :meth:`list_log`; ``cap`` stops counting there (the
        answer is then ``cap``), so a deep cursor never costs a deep scan.
        """
        with self._read(cancelled) as conn:
            where = self._log_where(flt, conn, listing=cap is not None, cancelled=cancelled)
            where.add("(created_at, id) > (?, ?)", key[0], key[1])
            table = where.table("policy_log")
            if cap is None:
                sql, params = f"SELECT count(*) FROM {table}{where.sql()}", where.params
            else:
                sql = f"SELECT count(*) FROM (SELECT 1 FROM {table}{where.sql()} LIMIT ?)"
                params = [*where.params, max(cap, 0)]
            return int(conn.execute(sql, params).fetchone()[0])

    def count_log(self, flt: Filter | None = None, *, cancelled: Cancelled | None = None) -> int:
        with self._read(cancelled) as conn:
            where = self._log_where(flt, conn, cancelled=cancelled)
            sql = f"SELECT count(*) FROM {where.table('policy_log')}{where.sql()}"
            return int(conn.execute(sql, where.params).fetchone()[0])

    def log_stats(
        self, flt: Filter | None = None, *, buckets: int = 48, cancelled: Cancelled | None = None
    ) -> LogStats:
        """Counts per outcome and evaluations over time (``buckets`` equal slices).

        Bucket ``i`` counts the rows with ``created_at`` in ``[start + i*width,
        start + (i+1)*width)`` (the last one up to the newest row), as one
        range count per bucket: each is an index range for the indexed
        filters, instead of computing a bucket from every row's date.
        """
        with self._read(cancelled) as conn:
            where = self._log_where(flt, conn, cancelled=cancelled)
            params = where.params
            if where.text_only() or where.not_indexed:
                return self._log_stats_scan(conn, where, buckets)
            by_outcome = self._count_by_outcome(conn, where)
            total = sum(by_outcome.values())
            if not total:
                return LogStats(0, {}, [0] * buckets, None, None)
            # one ORDER BY ... LIMIT 1 each way: an index end, where min() and max()
            # in one query would read every row
            lo = conn.execute(
                f"SELECT created_at FROM policy_log{where.sql()} ORDER BY created_at LIMIT 1",
                params,
            ).fetchone()[0]
            hi = conn.execute(
                f"SELECT created_at FROM policy_log{where.sql()} ORDER BY created_at DESC LIMIT 1",
                params,
            ).fetchone()[0]
            start, end = parse_dt(lo), parse_dt(hi)
            if start is None or end is None:
                return LogStats(total, by_outcome, [0] * buckets, start, end)
            edges = _bucket_edges(lo, start, end, buckets)
            # Every bucket lies inside since/until (its edges are between the first and
            # the last matching row), so those terms go: left in, SQLite may bound the
            # index range by until: instead of the bucket's end and read to the end.
            inner = where.without(_TIME_TERMS)
            ranged = inner.copy().add("created_at >= ?").add("created_at < ?")
            last = inner.copy().add("created_at >= ?").add("created_at <= ?")
            counts = []
            for i, edge in enumerate(edges):
                if i < buckets - 1:
                    sql, bound = f"SELECT count(*) FROM policy_log{ranged.sql()}", edges[i + 1]
                else:
                    sql, bound = f"SELECT count(*) FROM policy_log{last.sql()}", hi
                bucket_params = [*inner.params, edge, bound]
                counts.append(int(conn.execute(sql, bucket_params).fetchone()[0]))
        return LogStats(total, by_outcome, counts, start, end)

    def _count_by_outcome(self, conn: sqlite3.Connection, where: _Where) -> dict[str, int]:
        """Rows per outcome, most first, by the cheapest plan for the filter's shape.

        No filter: GROUP BY on the (covering) outcome index. Only since/until:
        one covering range count per outcome on (outcome, created_at). Anything
        else: "+outcome" keeps the planner on the filter's own index (without
        it, at 1M rows, it walked the whole outcome index: 113 ms for 2 days).
        """
        if where.terms and all(t in _TIME_TERMS for t in where.terms):
            counts = []
            for outcome in self._distinct(conn, "policy_log", "outcome"):
                scoped = where.copy().add("outcome = ?", outcome)
                sql = f"SELECT count(*) FROM policy_log{scoped.sql()}"
                n = int(conn.execute(sql, scoped.params).fetchone()[0])
                if n:
                    counts.append((outcome, n))
            counts.sort(key=lambda c: -c[1])
            return dict(counts)
        group = "+outcome" if where.terms else "outcome"
        return {
            str(o): int(n)
            for o, n in conn.execute(
                f"SELECT outcome, count(*) FROM policy_log{where.sql()}"
                f" GROUP BY {group} ORDER BY count(*) DESC",
                where.params,
            )
        }

    def _log_stats_scan(self, conn: sqlite3.Connection, where: _Where, buckets: int) -> LogStats:
        """:meth:`log_stats` for free words: every row, or every candidate row, is read.

        Two plain table scans (``NOT INDEXED``: walking an index would add a
        random row lookup per row, several times slower), the second putting
        each matching row in its bucket with a binary search of CASEs over
        the same edges the range counts use. With the search index's
        candidates, the same two passes read only those rows (by id) and the
        rows not indexed yet.
        """
        rows = conn.execute(
            "SELECT outcome, n, min(lo) OVER (), max(hi) OVER () FROM ("
            " SELECT outcome, count(*) AS n, min(created_at) AS lo, max(created_at) AS hi"
            f" FROM policy_log NOT INDEXED{where.sql()} GROUP BY outcome) ORDER BY n DESC",
            where.params,
        ).fetchall()
        if not rows:
            return LogStats(0, {}, [0] * buckets, None, None)
        by_outcome = {str(o): int(n) for o, n, _, _ in rows}
        total = sum(by_outcome.values())
        lo, hi = rows[0][2], rows[0][3]
        start, end = parse_dt(lo), parse_dt(hi)
        if start is None or end is None:
            return LogStats(total, by_outcome, [0] * buckets, start, end)
        edges = _bucket_edges(lo, start, end, buckets)
        case, case_params = _bucket_case(edges, 0, buckets - 1)
        ranged = where.copy().add("created_at >= ?", lo).add("created_at <= ?", hi)
        counts = [0] * buckets
        for b, n in conn.execute(
            f"SELECT {case}, count(*) FROM policy_log NOT INDEXED{ranged.sql()} GROUP BY 1",
            [*case_params, *ranged.params],
        ):
            counts[int(b)] += int(n)
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

    def _distinct(
        self, conn: sqlite3.Connection, table: str, col: str, cap: int = 500
    ) -> list[str]:
        sql = (
            f"WITH RECURSIVE d(v, n) AS ("
            f" SELECT min({col}), 1 FROM {table} UNION ALL"
            f" SELECT (SELECT min({col}) FROM {table} WHERE {col} > d.v), n + 1 FROM d"
            f" WHERE d.v IS NOT NULL AND n < {cap})"
            f" SELECT v FROM d WHERE v IS NOT NULL"
        )
        return [str(r[0]) for r in conn.execute(sql)]

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
        if dry_run:
            where = _Where().add("? > created_at", format_dt(before))
            if tract_id is not None:
                where.add("tract_id = ?", tract_id)
            with self._read() as conn:
                sql = f"SELECT count(*) FROM policy_log{where.sql()}"
                return int(conn.execute(sql, where.params).fetchone()[0])
        if self.read_only:
            raise ReadOnlyError(f"{self.path} is open read-only")
        # the repository (SQLAlchemy) does the deleting: imported here, not at launch
        from sqlalchemy import select

        from tract_tui.storage.engine import create_session_factory
        from tract_tui.storage.schema import PolicyLogRow
        from tract_tui.storage.sqlite import SqlitePolicyRepository

        factory = create_session_factory(write_engine(self.db.engine))
        with factory.begin() as session:
            repo = SqlitePolicyRepository(session)
            if tract_id is not None:
                return repo.delete_log_entries(tract_id, before)
            column = PolicyLogRow.__table__.c.tract_id
            tracts = [str(r[0]) for r in session.execute(select(column).distinct())]
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
        uri = sqlite_uri(path, "mode=ro")
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


_READABLE_KEYS = ("text", "content", "summary", "stdout", "output", "result", "body")


def _readable(data: Any, depth: int = 0) -> str:
    """The first human text in a payload (looking one level into ``payload``), else JSON."""
    if isinstance(data, dict):
        for key in _READABLE_KEYS:
            if isinstance(data.get(key), str) and data[key].strip():
                return str(data[key])
        inner = data.get("payload")
        if depth == 0 and isinstance(inner, dict | str):
            found = _readable(inner, 1)
            if found:
                return found
    if isinstance(data, str):
        return data
    if depth:
        return ""
    return json.dumps(data, ensure_ascii=False, indent=1)


def _content_preview(payload_json: str | None, lines: int = 8) -> str | None:
    """The readable part of a blob payload: text / content / summary, else the JSON."""
    if payload_json is None:
        return None
    try:
        data = json.loads(payload_json)
    except ValueError:
        text = payload_json
    else:
        text = _readable(data)
    parts = text.splitlines()
    out = "\n".join(parts[:lines])
    if len(parts) > lines:
        out += f"\n… ({len(parts) - lines} more lines)"
    return out[:4000]


def action_of(proposal: Proposal) -> PolicyAction:
    """The PolicyAction an agent executes for a claimed proposal."""
    params = proposal.params if isinstance(proposal.params, dict) else {}
    return PolicyAction(proposal.action_type, dict(params), proposal.reason or "")
