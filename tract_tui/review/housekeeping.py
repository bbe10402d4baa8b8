"""Expiring stale proposals and deleting old log rows, in batches, by real times.

Both jobs compare a row's time as a time, whatever form it was stored in:
tract's own text is compared on the index, other forms (epoch numbers, ISO
with ``T``, offsets) are parsed; a row whose time cannot be read is never
touched, only counted. Both commit a batch per transaction, so another
writer (an agent, a reviewer) never waits past its busy timeout.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tract_tui.models.record import Record
from tract_tui.models.review import Proposal
from tract_tui.review import transitions as tr
from tract_tui.review.filters import Filter, format_age
from tract_tui.storage import decisions, proposals
from tract_tui.storage.decisions import Target
from tract_tui.storage.rows import PROPOSAL_LIST_COLS, proposal_from
from tract_tui.storage.sql import Where, marks

if TYPE_CHECKING:
    from tract_tui.review.service import ReviewService

#: Proposals expired (or log rows deleted) per write transaction: a long job never
#: holds the write lock past another writer's busy timeout.
EXPIRE_BATCH = 100
GC_BATCH = 1_000
#: After each batch the job pauses at least as long as the batch held the write lock (and
#: this long at the least): another writer's busy handler wakes up at growing intervals and
#: must find the lock free, or back-to-back batches starve it past its timeout.
MIN_PAUSE = 0.005
#: How far ahead of this machine's clock a row may be dated before it is called "in the future".
FUTURE_SLACK = timedelta(minutes=1)


def _expire_reason(service: ReviewService, age: timedelta) -> str:
    return f"pending longer than {format_age(age)}; expired by {service.reviewer}"


@contextmanager
def batch(service: ReviewService) -> Iterator[sqlite3.Connection]:
    """One batch's write transaction, then a pause as long as it held the lock."""
    began = time.monotonic()
    with service.pool.write() as conn:
        yield conn
    time.sleep(max(time.monotonic() - began, MIN_PAUSE))


def _read(service: ReviewService, rowids: list[int]) -> list[Proposal]:
    if not rowids:
        return []
    with service.pool.read() as conn:
        sql = (
            f"SELECT {PROPOSAL_LIST_COLS} FROM policy_proposals WHERE rowid IN"
            f" ({marks(len(rowids))}) ORDER BY created_at, proposal_id, rowid"
        )
        return [proposal_from(r) for r in conn.execute(sql, rowids)]


class ExpireReport(Record):
    """What an expiry did (or, as a dry run, would do).

    ``unreadable``: pending rows whose time is not a time (left pending);
    ``future``: pending rows dated more than a minute ahead of this machine's
    clock (another time zone, or a skewed clock: never expired for it).
    """

    proposals: list[Proposal]
    unreadable: int
    future: int
    _fields = ("proposals", "unreadable", "future")

    def __init__(self, proposals: list[Proposal], unreadable: int = 0, future: int = 0) -> None:
        self.__dict__.update(proposals=proposals, unreadable=unreadable, future=future)


def expire(
    service: ReviewService, age: timedelta, *, dry_run: bool, flt: Filter | None
) -> ExpireReport:
    """Expire pending proposals older than ``age`` (with ``dry_run``: only say which)."""
    now = service.now()
    cutoff = now - age
    clause = proposals.where((flt or Filter()).criteria(now)).add("status = 'pending'")
    with service.pool.read() as conn:
        others, unreadable = decisions.older_otherwise(conn, "policy_proposals", clause, cutoff)
        future = decisions.count_newer(conn, "policy_proposals", clause, now + FUTURE_SLACK)
        if dry_run:
            canonical = decisions.older_canonical(conn, "policy_proposals", clause, cutoff, -1)
            return ExpireReport(_read(service, canonical + others), unreadable, future)
    reason = _expire_reason(service, age)
    done: list[Proposal] = []
    while True:
        with batch(service) as conn:
            rowids = decisions.older_canonical(
                conn, "policy_proposals", clause, cutoff, EXPIRE_BATCH
            )
            done += _expire_rows(service, conn, rowids, now, reason)
        if len(rowids) < EXPIRE_BATCH:
            break
    for start in range(0, len(others), EXPIRE_BATCH):
        chunk = others[start : start + EXPIRE_BATCH]
        with batch(service) as conn:
            done += _expire_rows(service, conn, chunk, now, reason)
    return ExpireReport(done, unreadable, future)


def _expire_rows(
    service: ReviewService,
    conn: sqlite3.Connection,
    rowids: list[int],
    now: datetime,
    reason: str,
) -> list[Proposal]:
    """Expire these rows (each with its log row) in the caller's transaction."""
    if not rowids:
        return []
    sql = f"SELECT {PROPOSAL_LIST_COLS} FROM policy_proposals WHERE rowid IN ({marks(len(rowids))})"
    rows = [proposal_from(r) for r in conn.execute(sql, rowids)]
    expired = []
    for p in sorted(rows, key=lambda r: r.key[2]):
        if p.status != "pending":
            continue  # decided meanwhile by someone else: theirs stands
        decisions.apply(conn, tr.EXPIRE, Target(rowid=p.key[2]), when=now, reason=reason)
        expired.append(p)
    return expired


def gc(
    service: ReviewService, before: datetime, *, tract_id: str | None, dry_run: bool
) -> tuple[int, int]:
    """(log rows deleted, or that would be; rows with an unreadable time, kept)."""
    clause = Where()
    if tract_id is not None:
        clause.add("tract_id = ?", tract_id)
    with service.pool.read() as conn:
        others, unreadable = decisions.older_otherwise(conn, "policy_log", clause, before)
        if dry_run:
            canonical = decisions.older_canonical(conn, "policy_log", clause, before, -1)
            return len(canonical) + len(others), unreadable
    deleted = 0
    while True:
        with batch(service) as conn:
            rowids = decisions.older_canonical(conn, "policy_log", clause, before, GC_BATCH)
            _delete(conn, rowids)
        deleted += len(rowids)
        if len(rowids) < GC_BATCH:
            break
    for start in range(0, len(others), GC_BATCH):
        with batch(service) as conn:
            _delete(conn, others[start : start + GC_BATCH])
        deleted += len(others[start : start + GC_BATCH])
    return deleted, unreadable


def _delete(conn: sqlite3.Connection, rowids: list[int]) -> None:
    if rowids:
        conn.execute(f"DELETE FROM policy_log WHERE rowid IN ({marks(len(rowids))})", rowids)
