"""Tracts read once and kept between looks, for as long as the file says they are the same.

A reviewer moves from proposal to proposal, most of them on the same long
tract; each look compiled the branch from scratch (read every commit,
walk the chain, build every message): about 100 ms at 5,000 commits. The
library only inserts commits and annotations (and deletes them together),
so two cheap keys (storage/context.py's ``commits_key`` and
``annotations_key``) tell whether what was read still holds:

- both keys equal: the commits, chains, walks and compiled rows are reused;
  only the refs are read again (a branch may have moved);
- commits only added (the count grew by exactly the new rows): those rows
  are read and added; chains, walks and rows of the heads seen before stay
  right (a commit added later is on none of their chains);
- annotations changed: the tract's annotations are read again and the
  compiled rows dropped;
- anything else: the tract is read again from scratch.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass

from tract_tui.models.context import ContextRow
from tract_tui.review.context import TextCache, TractReader
from tract_tui.storage import context as q
from tract_tui.storage.context import AnnotationRecord, CommitRecord


@dataclass
class TractCache:
    """What readers of one tract share while its keys hold (dicts only ever added to)."""

    commits_key: tuple[int, int, str | None]
    notes_key: tuple[object, ...]
    commits: dict[str, CommitRecord]
    notes: dict[str, AnnotationRecord | None]
    merges: dict[str, list[str]] | None
    chains: dict[str, list[CommitRecord]]
    walks: dict[str, list[CommitRecord]]
    rows: dict[str, list[ContextRow]]


def _commits(
    conn: sqlite3.Connection,
    tract_id: str,
    key: tuple[int, int, str | None],
    old: TractCache | None,
) -> tuple[dict[str, CommitRecord], bool]:
    """The tract's commits, and whether what was derived from ``old``'s still holds."""
    if old is not None and old.commits_key == key:
        return old.commits, True
    if old is not None and key[1] > old.commits_key[1]:
        added = q.commits_of(conn, tract_id, after_rowid=old.commits_key[1])
        if key[0] == old.commits_key[0] + len(added):  # nothing deleted meanwhile
            return {**old.commits, **added}, True
    return q.commits_of(conn, tract_id), False


def load(
    conn: sqlite3.Connection,
    tract_id: str,
    version: int,
    texts: TextCache,
    old: TractCache | None = None,
) -> tuple[TractReader, TractCache]:
    """A reader of ``tract_id`` in ``conn``'s snapshot, reusing ``old`` where it holds."""
    commits_key, notes_key = q.commits_key(conn, tract_id), q.annotations_key(conn)
    commits, kept = _commits(conn, tract_id, commits_key, old)
    base = old if kept else None  # what was derived from the commits still holds
    notes_base = base if base is not None and base.notes_key == notes_key else None
    cache = TractCache(
        commits_key,
        notes_key,
        commits,
        notes_base.notes if notes_base is not None else dict(q.tract_annotations(conn, tract_id)),
        base.merges if base is not None and base.commits_key == commits_key else None,
        base.chains if base is not None else {},
        base.walks if base is not None else {},
        notes_base.rows if notes_base is not None else {},
    )
    reader = TractReader(
        conn,
        tract_id,
        version,
        commits=commits,
        refs=q.refs_of(conn, tract_id),
        texts=texts,
        _notes=cache.notes,
        _all_notes=True,
        _merges=cache.merges,
        _chains=cache.chains,
        _walks=cache.walks,
        _rows=cache.rows,
    )
    return reader, cache


class TractCaches:
    """The service's kept tracts (the few most recently looked at), safe across workers."""

    def __init__(self, limit: int = 8) -> None:
        self.limit = limit
        self.texts = TextCache()
        self._tracts: OrderedDict[str, TractCache] = OrderedDict()
        self._lock = threading.Lock()

    def reader(self, conn: sqlite3.Connection, tract_id: str, version: int) -> TractReader:
        with self._lock:
            old = self._tracts.get(tract_id)
        reader, cache = load(conn, tract_id, version, self.texts, old)
        with self._lock:
            self._tracts[tract_id] = cache
            self._tracts.move_to_end(tract_id)
            while len(self._tracts) > self.limit:
                self._tracts.popitem(last=False)
        return reader
