"""A trigram index of the log's text, kept in a cache file beside (not in) the database.

The log's free words are matched with ``LIKE '%word%'`` on ``reason`` and
``error_message``, which reads every row: at a million rows, far too slow for
a word that matches one. This module keeps an FTS5 trigram index of those two
columns, so a word's candidate rows come back at once. It is
only ever a prefilter: the LIKE terms stay in the query and check every
candidate against the database, so the index may hold more (rows deleted
since, trigrams that match but not in order) but must never hold less.

Where it lives, and why not in the database itself: in a cache file,
``$TRACT_TUI_CACHE_DIR`` or the platform's user cache directory
(``~/.cache/tract-tui`` on Linux, platformdirs decides), then
``search/<sha256 of the database's realpath>.db``.
So the user's database is never grown, the agents' inserts never pay for it,
a read-only open can use and build it too, and building it never takes the
database's write lock (it is attached read-only). ``TRACT_TUI_SEARCH_INDEX=0``
turns it off: every search is then the plain LIKE scan.

How it stays right:

- ``policy_log.id`` is an ``INTEGER PRIMARY KEY`` (not AUTOINCREMENT): new
  rows get ids above every existing one. The index covers the ids up to
  ``indexed_max``; the query scans the rows above it (the newest, few) and
  looks the candidates up by id below it, so a deleted row simply does not
  join. Once per process, a catch-up that finds more deleted rows in the
  index than live ones (``gc``) rebuilds it, smaller.
- Deleting the newest rows lets SQLite hand their ids out again, to rows with
  other text. The meta table keeps a witness of the row ``indexed_max``: its
  ``created_at`` and a hash of its text. When that row is gone or differs (ids
  reused, or another database now sits at that path), reads ignore the index
  and the next catch-up rebuilds it.
- Log rows are written once and never edited (tract and tract-tui only insert
  and delete them); an edit of an indexed row's text is not seen by the index.

Catch-up (:meth:`SearchIndex.update`) runs entirely inside SQLite, one
transaction per :data:`BATCH_ROWS` rows that also advances ``indexed_max``, so
two processes catching up at once never index a row twice and a killed
catch-up keeps what it committed. Any failure of the cache (an unwritable
directory, a corrupt file, an SQLite without FTS5 or the trigram tokenizer, a
full disk) only means no candidates: the search falls back to the scan. A
corrupt cache file is deleted and rebuilt by the next catch-up.

No Textual and no SQLAlchemy here: plain ``sqlite3``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tract_tui.storage.errors import is_corrupt
from tract_tui.storage.inspect import sqlite_uri

#: Bump when the cache's layout changes: an older cache file is then rebuilt.
FORMAT_VERSION = 1
#: Rows indexed per transaction: a fraction of a second of work, so the cache's
#: write lock is never held long, progress survives a kill, and a cancelled
#: catch-up loses at most one batch.
BATCH_ROWS = 50_000
#: At most this many candidates are used for a page of rows; more, and the caller
#: scans newest first instead. Looking candidates up by id and sorting them costs
#: in proportion to their number; past this cap that cost leaves the filter target
#: (benchmarks/bench.py measures it), while a word with more candidates is common
#: enough for a scan newest first to fill a page quickly, and ruling it out costs
#: only reading CAP + 1 rowids.
CAP = 10_000
#: A count (or the stats) reads every row without the index, so it takes more
#: candidates: up to a tenth of the indexed rows, at most this many. Looking that
#: many up by id stays well under the scan they replace, at every size measured.
COUNT_CAP = 50_000
#: Trigrams used per query (a long word has many; any subset is still a superset).
MAX_TRIGRAMS = 32
#: Candidate lists remembered per index (the rows, count and stats of one filter
#: each ask for the same words, and ruling a common word out is not free).
#: At most 8 x COUNT_CAP ids as JSON text: a few megabytes.
MEMO_SIZE = 8
#: The index is rebuilt when it holds more rows deleted since (``gc``) than live
#: ones, and at least this many: dead rows only make candidate lists longer.
DEAD_ROWS = 10_000
#: How long a catch-up waits for another process's batch (its lock) before giving up.
BUSY_TIMEOUT_S = 30.0

Cancelled = Callable[[], bool]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
"""
_FTS = (
    "CREATE VIRTUAL TABLE log_fts USING fts5(reason, error_message,"
    " content='', tokenize='trigram', detail='none')"
)
#: The witness columns of a policy_log row, read as bytes (no text decoding can fail).
_WITNESS_SQL = (
    "SELECT CAST(created_at AS BLOB), typeof(reason), CAST(reason AS BLOB),"
    " typeof(error_message), CAST(error_message AS BLOB) FROM {schema}policy_log WHERE id = ?"
)


def enabled() -> bool:
    """False when ``TRACT_TUI_SEARCH_INDEX=0`` (or ``off``/``no``/``false``)."""
    value = os.environ.get("TRACT_TUI_SEARCH_INDEX", "1").strip().lower()
    return value not in ("0", "off", "no", "false")


def cache_root() -> Path:
    """``$TRACT_TUI_CACHE_DIR``, else the user's cache directory (tract_tui.settings.cache_dir)."""
    from tract_tui.settings import cache_dir

    return cache_dir()


def index_path(db_path: str | os.PathLike[str]) -> Path:
    """The cache file of the database at ``db_path`` (by its resolved real path)."""
    real = os.path.realpath(db_path)
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return cache_root() / "search" / f"{digest}.db"


def trigrams(words: Iterable[str], limit: int = MAX_TRIGRAMS) -> list[str]:
    """The distinct 3-character pieces of the words that have 3 characters or more.

    Words with a NUL are skipped: LIKE stops reading a pattern there, and an FTS
    query string cannot hold one.
    """
    found: dict[str, None] = {}
    for word in words:
        if "\x00" in word:
            continue
        for i in range(len(word) - 2):
            found.setdefault(word[i : i + 3])
    grams = list(found)
    if len(grams) > limit:  # evenly spread over the words: still a superset of the matches
        step = len(grams) / limit
        grams = [grams[int(i * step)] for i in range(limit)]
    return grams


def match_query(grams: Sequence[str]) -> str:
    """An FTS5 query AND-ing each trigram, each quoted as an FTS5 string."""
    return " AND ".join('"' + g.replace('"', '""') + '"' for g in grams)


def _witness(row: Sequence[object] | None) -> tuple[bytes, str] | None:
    """(created_at bytes, hash of the row's reason and error message) of a witness row."""
    if row is None:
        return None
    created, *text = row
    digest = hashlib.sha256()
    for part in text:
        data = part if isinstance(part, bytes) else str(part).encode()
        digest.update(len(data).to_bytes(8, "big") + data)
    return (created if isinstance(created, bytes) else str(created).encode()), digest.hexdigest()


@dataclass(frozen=True)
class Candidates:
    """The rows that may contain the words, among those with ``id <= indexed_max``.

    Rows above ``indexed_max`` are not indexed yet: the caller scans them.
    """

    indexed_max: int
    count: int
    #: The candidates' ids as a JSON array (what ``json_each`` reads in the query).
    ids_json: str

    @property
    def ids(self) -> list[int]:
        return [int(i) for i in json.loads(self.ids_json)]


@dataclass(frozen=True)
class _State:
    indexed_max: int
    created: bytes | None
    text_hash: str | None


class SearchIndex:
    """The search cache of one database file (see the module docstring)."""

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.db_path = os.path.realpath(db_path)
        self.path = index_path(self.db_path)
        self._memo: OrderedDict[tuple[object, ...], tuple[int, str] | None] = OrderedDict()
        self._memo_lock = threading.Lock()
        self._dead_checked = False
        self._emptied = False  # a rebuild started: free pages to give back when done

    # --- reading ----------------------------------------------------------------------

    def candidates(
        self,
        words: Sequence[str],
        conn: sqlite3.Connection,
        *,
        count: bool = False,
        cancelled: Cancelled | None = None,
    ) -> Candidates | None:
        """The candidate rows of ``words`` (all must appear), or None: scan instead.

        ``conn`` is a connection to the database itself, used to check the
        witness row. None when the index is off, missing, unreadable or stale,
        when no word has 3 characters, or when more rows may match than
        :data:`CAP` (:data:`COUNT_CAP` or a tenth of the rows for a ``count``,
        which would otherwise read every row). Never writes anything.
        """
        grams = trigrams(words)
        if not grams or not enabled() or not self.path.is_file():
            return None
        try:
            with self._reader(cancelled) as cache:
                state = self._state(cache)
                if state is None or state.indexed_max <= 0:
                    return None
                if not self._witness_holds(conn, "", state):
                    return None
                cap = CAP
                if count:
                    cap = max(CAP, min(COUNT_CAP, state.indexed_max // 10))
                key = (tuple(grams), cap, state.indexed_max, state.text_hash)
                with self._memo_lock:
                    hit, known = key in self._memo, self._memo.get(key)
                if not hit:
                    n, ids_json = cache.execute(  # the JSON is made by SQLite: no row in Python
                        "SELECT count(*), json_group_array(rowid) FROM"
                        " (SELECT rowid FROM log_fts WHERE log_fts MATCH ? LIMIT ?)",
                        (match_query(grams), cap + 1),
                    ).fetchone()
                    known = (int(n), str(ids_json)) if n <= cap else None
                    with self._memo_lock:
                        self._memo[key] = known
                        while len(self._memo) > MEMO_SIZE:
                            self._memo.popitem(last=False)
        except (sqlite3.Error, OSError):
            return None
        if known is None:
            return None
        return Candidates(state.indexed_max, *known)

    def indexed_max(self) -> int:
        """The highest policy_log id indexed (0: nothing, or no usable cache)."""
        if not self.path.is_file():
            return 0
        try:
            with self._reader(None) as cache:
                state = self._state(cache)
        except (sqlite3.Error, OSError):
            return 0
        return state.indexed_max if state is not None else 0

    @contextmanager
    def _reader(self, cancelled: Cancelled | None) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(
            sqlite_uri(self.path, "mode=ro"),
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )
        with closing(conn):
            conn.execute("PRAGMA busy_timeout = 1000")
            if cancelled is not None:
                conn.set_progress_handler(lambda: 1 if cancelled() else 0, 20_000)
            conn.execute("BEGIN")  # meta and index read in one snapshot
            yield conn

    def _state(self, cache: sqlite3.Connection) -> _State | None:
        """The meta table, or None when it is not a usable index of this database."""
        meta = dict(cache.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT_VERSION or meta.get("db_path") != self.db_path:
            return None
        created = meta.get("witness_created")
        return _State(
            int(meta.get("indexed_max") or 0),
            created if isinstance(created, bytes) else None,
            meta.get("witness_hash"),
        )

    def _witness_holds(self, conn: sqlite3.Connection, schema: str, state: _State) -> bool:
        """The row ``indexed_max`` is still the one indexed (ids were not handed out again)."""
        if state.indexed_max <= 0:
            return True
        row = conn.execute(_WITNESS_SQL.format(schema=schema), (state.indexed_max,)).fetchone()
        return _witness(row) == (state.created, state.text_hash)

    # --- writing ----------------------------------------------------------------------

    def update(self, *, cancelled: Cancelled | None = None, batch: int = BATCH_ROWS) -> int:
        """Index the rows added since the last catch-up; how many were indexed.

        Rebuilds from scratch when the witness row changed. Stops between
        batches (or inside one, which is then rolled back) once ``cancelled``
        returns True. Never raises for a cache problem: the search then scans.
        """
        if not enabled():
            return 0
        done = [0]
        for attempt in range(2):
            try:
                self._update(cancelled, max(batch, 1), done)
                break
            except sqlite3.DatabaseError as e:
                if attempt == 0 and not isinstance(e, sqlite3.OperationalError) and is_corrupt(e):
                    self.delete()  # a corrupt cache: start again from an empty file
                    continue
                break
            except OSError:
                break
        return done[0]

    def delete(self) -> None:
        """Remove the cache file (and its -wal/-shm). Always safe: it is rebuilt."""
        for suffix in ("", "-wal", "-shm", "-journal"):
            with suppress(OSError):
                os.unlink(f"{self.path}{suffix}")

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            sqlite_uri(self.path, "mode=rwc"),
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_S,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        return conn

    def _update(self, cancelled: Cancelled | None, batch: int, done: list[int]) -> None:
        stop = cancelled or (lambda: False)
        if stop():
            return
        with closing(self._connect()) as conn:
            conn.execute("ATTACH DATABASE ? AS src", (sqlite_uri(self.db_path, "mode=ro"),))
            conn.set_progress_handler(lambda: 1 if stop() else 0, 20_000)
            try:
                if not self._dead_checked:  # once per process: two counts, ~0.2 s at 1M
                    with self._batch(conn):
                        if self._mostly_dead(conn):
                            self._reset(conn)
                    self._dead_checked = True
                while not stop():
                    with self._batch(conn):
                        n = self._index_batch(conn, batch)
                    if n < 0:
                        break
                    done[0] += n
                if self._emptied:  # a rebuild done: give back what the old index freed
                    self._emptied = False
                    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
                    if free * 4 > conn.execute("PRAGMA page_count").fetchone()[0]:
                        conn.execute("VACUUM main")
            except sqlite3.OperationalError as e:
                if "interrupt" in str(e) and stop():
                    return
                raise

    @contextmanager
    def _batch(self, conn: sqlite3.Connection) -> Iterator[None]:
        """One transaction holding the cache's write lock from its first statement.

        Not ``BEGIN IMMEDIATE``: that would start a write transaction on every
        attached file, the tract database included. A deferred transaction
        whose first statement writes takes the cache's lock alone (waiting for
        another process's batch), and reads the database at one snapshot.
        """
        conn.execute("BEGIN")
        try:
            conn.execute("UPDATE meta SET value = value WHERE key = 'format'")  # the lock
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _index_batch(self, conn: sqlite3.Connection, batch: int) -> int:
        """Index the next ids in the current transaction; rows indexed, -1 when up to date."""
        state = self._own_state(conn)
        if state is None or not self._witness_holds(conn, "src.", state):
            self._reset(conn)
            state = _State(0, None, None)
        start = state.indexed_max
        first = conn.execute("SELECT min(id) FROM src.policy_log WHERE id > ?", (start,))
        low = first.fetchone()[0]
        if low is None:
            return -1
        high = conn.execute(
            "SELECT max(id) FROM src.policy_log WHERE id >= ? AND id < ?",
            (low, min(int(low) + batch, 2**63 - 1)),
        ).fetchone()[0]
        cursor = conn.execute(
            "INSERT INTO log_fts (rowid, reason, error_message)"
            " SELECT id, reason, error_message FROM src.policy_log WHERE id BETWEEN ? AND ?",
            (low, high),
        )
        witness = _witness(conn.execute(_WITNESS_SQL.format(schema="src."), (high,)).fetchone())
        assert witness is not None  # read in this transaction's snapshot
        conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [
                ("indexed_max", int(high)),
                ("witness_created", witness[0]),
                ("witness_hash", witness[1]),
                ("updated_at", time.time()),
            ],
        )
        return max(cursor.rowcount, 0)

    def _own_state(self, conn: sqlite3.Connection) -> _State | None:
        """The meta of the cache being written (None: new, another format or another file)."""
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_fts'"
        ).fetchone()
        return self._state(conn) if exists else None

    def _mostly_dead(self, conn: sqlite3.Connection) -> bool:
        """More rows deleted from the log since they were indexed than live ones."""
        state = self._own_state(conn)
        if state is None or state.indexed_max <= 0:
            return False
        indexed = conn.execute("SELECT count(*) FROM log_fts_docsize").fetchone()[0]
        live = conn.execute("SELECT count(*) FROM src.policy_log").fetchone()[0]
        newer = conn.execute(
            "SELECT count(*) FROM src.policy_log WHERE id > ?", (state.indexed_max,)
        ).fetchone()[0]
        dead = int(indexed) - (int(live) - int(newer))
        return dead >= DEAD_ROWS and dead > int(live) - int(newer)

    def _reset(self, conn: sqlite3.Connection) -> None:
        """Empty the index (in the current transaction): the next batches rebuild it."""
        self._emptied = True
        conn.execute("DROP TABLE IF EXISTS log_fts")
        conn.execute(_FTS)
        conn.execute("DELETE FROM meta")
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("format", FORMAT_VERSION), ("db_path", self.db_path), ("indexed_max", 0)],
        )


def cache_size(path: Path) -> int:
    """Bytes used by a cache file with its -wal (for reports)."""
    total = 0
    for suffix in ("", "-wal"):
        with suppress(OSError):
            total += os.path.getsize(f"{path}{suffix}")
    return total
