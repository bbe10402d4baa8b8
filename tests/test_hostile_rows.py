"""Rows other writers may store: every one listed once, none mis-aged, none mishandled (issue 15).

tract declares its time and id columns NOT NULL and writes one time format;
a foreign writer (or a hand-made table) may store epoch numbers, ISO with
``T``, offsets, BLOBs, NULLs, or no id at all. tract-tui must page through
all of them exactly once, count what it lists, compare times as times, and
never expire or delete a row newer than the cut-off.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import sha256
from tract_tui.cli import main
from tract_tui.exceptions import PolicyTablesError
from tract_tui.review.service import ReviewService
from tract_tui.storage.open import open_database

NOW = datetime(2026, 3, 1, 12, 0, 0)
ROOT = Path(__file__).parent.parent


def svc_at(path: Path) -> ReviewService:
    return ReviewService.open(path, clock=lambda: NOW)


def loose_table(path: Path) -> None:
    """Rebuild policy_proposals and policy_log without their NOT NULLs (a foreign schema)."""
    with sqlite3.connect(path) as conn:
        for table in ("policy_proposals", "policy_log"):
            (ddl,) = conn.execute(
                "SELECT sql FROM sqlite_master WHERE name = ?", (table,)
            ).fetchone()
            conn.execute(f"ALTER TABLE {table} RENAME TO old_{table}")
            conn.execute(ddl.replace(" NOT NULL", ""))
            conn.execute(f"INSERT INTO {table} SELECT * FROM old_{table}")
            conn.execute(f"DROP TABLE old_{table}")


def add(path: Path, rows: list[tuple[Any, ...]]) -> None:
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO policy_proposals VALUES (?, 'support-agent', 'p', 'annotate', '{}', ?,"
            " 'pending', ?, NULL)",
            rows,
        )


def add_log(path: Path, stamps: list[Any]) -> None:
    with sqlite3.connect(path) as conn:
        conn.executemany(
            'INSERT INTO policy_log (tract_id, policy_name, "trigger", outcome, reason,'
            " created_at) VALUES ('t', 'p', 'commit', 'skipped', 'odd time', ?)",
            [(s,) for s in stamps],
        )


def every_listed(svc: ReviewService, page_size: int) -> list[Any]:
    return [p.key for p in svc.iter_proposals(page_size=page_size)]


ODD_TIMES = [
    b"\x00\x01blob",
    bytes(range(200, 210)),
    1772366400,  # an epoch number (2026-03-01 12:00 UTC)
    1772366400.5,
    "2026-02-27T10:00:00",  # ISO with T
    "2026-02-27 10:00:00+05:00",  # an offset
    "not a time at all",
]


@pytest.mark.parametrize("page_size", [1, 2, 3, 500])
def test_paging_returns_every_row_once_whatever_created_at_holds(
    v5_db: Path, page_size: int
) -> None:
    loose_table(v5_db)
    odd = [(f"odd{i}", "odd row", t) for i, t in enumerate(ODD_TIMES)]
    odd += [(f"null{i}", "no time", None) for i in range(3)]
    odd += [(None, "no id", "2026-02-20 10:00:00.000000"), (None, "no id", None)]
    add(v5_db, odd)
    svc = svc_at(v5_db)
    try:
        keys = every_listed(svc, page_size)
        assert len(keys) == len(set(keys)) == svc.count_proposals() == 10 + len(odd)
        listed = list(svc.iter_proposals(page_size=page_size))
        assert sum(1 for p in listed if p.proposal_id == "") == 2  # listed, not decidable
        keys_from_end = [p.key for p in svc.list_proposals(from_end=True, limit=1000)]
        assert keys_from_end == keys  # the last page, read backwards, agrees
    finally:
        svc.close()


def test_the_log_pages_every_row_once_with_odd_times(v5_db: Path) -> None:
    loose_table(v5_db)
    add_log(v5_db, [*ODD_TIMES, None, None])
    svc = svc_at(v5_db)
    try:
        for size in (1, 3, 500):
            ids = [e.id for e in svc.iter_log(page_size=size)]
            assert len(ids) == len(set(ids)) == svc.count_log() == 34 + len(ODD_TIMES) + 2
    finally:
        svc.close()


def test_cli_list_with_blob_times_ends_and_log_all_keeps_every_row(
    v5_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loose_table(v5_db)
    add(v5_db, [(f"b{i:03d}", "blob time", bytes([i % 256, 7])) for i in range(500)])
    add_log(v5_db, [bytes([i % 256]) for i in range(300)])
    assert main(["list", str(v5_db), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == len({p["proposal_id"] for p in listed}) == 510
    assert main(["log", str(v5_db), "--json", "--limit", "0"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 334
    assert main(["list", str(v5_db)]) == 0  # the table too: it ends
    assert len(capsys.readouterr().out.splitlines()) == 511


def test_a_null_id_lists_as_null_and_expire_still_commits(
    v5_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loose_table(v5_db)
    add(v5_db, [(None, "no id, old", "2026-01-01 00:00:00.000000")])
    assert main(["list", str(v5_db), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["proposal_id"] for p in listed].count(None) == 1
    assert main(["list", str(v5_db)]) == 0
    assert "(none)" in capsys.readouterr().out
    svc = svc_at(v5_db)
    try:
        expired = svc.expire(timedelta(days=1))
    finally:
        svc.close()
    assert len(expired) == 11  # the row without an id too, and nothing rolled back
    with sqlite3.connect(v5_db) as conn:
        assert conn.execute(
            "SELECT status FROM policy_proposals WHERE proposal_id IS NULL"
        ).fetchone() == ("expired",)


def test_expire_and_gc_compare_real_times_and_never_touch_a_newer_row(v5_db: Path) -> None:
    loose_table(v5_db)
    one_minute = NOW - timedelta(minutes=1)
    two_hours = NOW - timedelta(hours=2)
    epoch = lambda d: d.astimezone().timestamp()  # noqa: E731 - local naive -> instant
    rows = [
        ("fresh-epoch", "r", epoch(one_minute)),
        ("old-epoch", "r", epoch(two_hours)),
        ("fresh-T", "r", one_minute.isoformat()),
        ("old-T", "r", two_hours.isoformat()),
        ("fresh-offset", "r", one_minute.astimezone().isoformat()),
        ("old-offset", "r", two_hours.astimezone().isoformat()),
        ("unreadable", "r", b"\x00"),
    ]
    with sqlite3.connect(v5_db) as conn:
        conn.execute("UPDATE policy_proposals SET status = 'rejected'")  # only ours stay pending
    add(v5_db, rows)
    add_log(v5_db, [r[2] for r in rows])
    svc = svc_at(v5_db)
    try:
        report = svc.expire_report(timedelta(hours=1))
        assert {p.proposal_id for p in report.proposals} == {"old-epoch", "old-T", "old-offset"}
        assert report.unreadable == 1
        deleted, kept = svc.gc_report(NOW - timedelta(hours=1), tract_id="t")
        assert (deleted, kept) == (3, 1)
        remaining = {e.created_at_raw for e in svc.iter_log(None) if e.tract_id == "t"}
    finally:
        svc.close()
    assert len(remaining) == 4  # the three fresh ones and the unreadable one


def test_gc_deletes_in_batches_so_a_writer_never_times_out(v5_db: Path, tmp_path: Path) -> None:
    svc = ReviewService.open(v5_db)
    svc.close()
    with sqlite3.connect(v5_db) as conn:
        conn.executemany(
            'INSERT INTO policy_log (tract_id, policy_name, "trigger", outcome, created_at)'
            " VALUES ('t', 'p', 'commit', 'skipped', ?)",
            [(f"2020-01-01 00:00:{i % 60:02d}.{i:06d}",) for i in range(60_000)],
        )
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(v5_db), str(tmp_path / "stop")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    assert main(["gc", str(v5_db), "--before", "2021-01-01"]) == 0
    (tmp_path / "stop").touch()
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert int(out.strip()) > 0  # it wrote all along, never waiting past its timeout


WRITER = """
import os, sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=1.0, isolation_level=None)
n = 0
print("writing", flush=True)
while not os.path.exists(sys.argv[2]):
    conn.execute("INSERT INTO policy_log (tract_id, policy_name, \\"trigger\\", outcome,"
                 " created_at) VALUES ('w', 'p', 'commit', 'skipped', '2030-01-01 00:00:00')")
    n += 1
    time.sleep(0.002)
print(n)
"""


def test_a_v4_file_with_a_foreign_policy_table_is_refused_untouched(fixture_copy) -> None:
    path = fixture_copy(4)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE policy_proposals (id INTEGER PRIMARY KEY, what TEXT)")
    conn.close()
    before = sha256(path)
    with pytest.raises(PolicyTablesError, match="policy_proposals has no column"):
        open_database(path)
    assert sha256(path) == before
    assert not Path(f"{path}-wal").exists()


def test_ids_are_never_stripped_or_folded(v5_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nfc, nfd = unicodedata.normalize("NFC", "café-x"), unicodedata.normalize("NFD", "café-x")
    add(v5_db, [("dup", "r", "2026-02-20 10:00:00"), ("dup ", "r", "2026-02-20 10:00:01"),
                (nfc, "r", "2026-02-20 10:00:02"), (nfd, "r", "2026-02-20 10:00:03"),
                ("ab\u200bcdef", "r", "2026-02-20 10:00:04")])  # fmt: skip
    assert main(["approve", str(v5_db), "dup ", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["proposal_id"] == "dup "  # never mapped to "dup"
    assert main(["approve", str(v5_db), nfd, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["proposal_id"] == nfd
    assert main(["list", str(v5_db)]) == 0
    table = capsys.readouterr().out
    assert "ab\\u200bcd" in table  # the invisible character is shown
    assert "caf\\xe9-x" in table or "caf\\xe9" in table  # NFC and NFD print differently
    with sqlite3.connect(v5_db) as conn:
        statuses = dict(conn.execute(
            "SELECT proposal_id, status FROM policy_proposals WHERE proposal_id IN (?, ?, ?, ?)",
            ("dup", "dup ", nfc, nfd),
        ).fetchall())  # fmt: skip
    assert statuses == {"dup": "pending", "dup ": "approved", nfc: "pending", nfd: "approved"}


def test_a_row_dated_in_the_future_is_said_to_be(
    v5_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ahead = (datetime.now() + timedelta(hours=3)).isoformat(sep=" ", timespec="microseconds")
    add(v5_db, [("future1", "from another time zone", ahead)])
    assert main(["show", str(v5_db), "future1"]) == 0
    assert "in the future" in capsys.readouterr().out
    with sqlite3.connect(v5_db) as conn:  # make it old by its own clock and expire it
        conn.execute("UPDATE policy_proposals SET status='rejected' WHERE proposal_id != 'future1'")
    assert main(["expire", str(v5_db), "--older-than", "1m", "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert "would expire 0 proposals" in captured.out  # never expired "from the future"
    assert "1 pending proposal(s) are dated in the future" in captured.err
