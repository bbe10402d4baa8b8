"""Cheap change detection: ``PRAGMA data_version`` on one long-lived read-only connection."""

from __future__ import annotations

import sqlite3
import threading

from tract_tui.storage.errors import classify
from tract_tui.storage.inspect import sqlite_uri


class ChangeWatcher:
    """Tells when another connection committed to the file since the last look.

    ``data_version`` changes when any *other* connection commits; the check
    costs a few microseconds, so it can run several times a second.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._conn = sqlite3.connect(
                sqlite_uri(path, "mode=ro"), uri=True, check_same_thread=False, timeout=5
            )
        except sqlite3.Error as e:
            raise classify(path, e) from e
        self._lock = threading.Lock()
        self._last = self._version()

    def _version(self) -> int:
        with self._lock:
            try:
                return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as e:
                raise classify(self.path, e) from e

    def changed(self) -> bool:
        """True once for each batch of commits by others since the last call."""
        now = self._version()
        if now != self._last:
            self._last = now
            return True
        return False

    def close(self) -> None:
        with self._lock:
            self._conn.close()
