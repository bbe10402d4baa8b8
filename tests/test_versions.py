"""Files at tract schema 6..9 open as policy-compatible: only the policy tables are touched.

The fixtures are the tract library's own v6 and v8 files; v7 (never at rest:
the library goes 6 -> 8 in one call) and v9 (no proposals written) are
those files with their version row changed, as a file met in the wild may be.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apphelpers import SIZE, clock, settle
from tract_tui.app import ReviewApp
from tract_tui.app.proposals import ProposalsPane
from tract_tui.exceptions import PolicyTablesError, SchemaTooNewError
from tract_tui.review.service import ReviewService

POLICY = {"policy_proposals", "policy_log"}


def cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tract_tui", *map(str, args)],
                          capture_output=True, text=True)  # fmt: skip


def set_version(path: Path, version: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE _trace_meta SET value=? WHERE key='schema_version'", (version,))
    conn.close()


def others_digest(path: Path) -> tuple[str, list[str]]:
    """A hash of every row and the DDL of every table but the policy tables; index names."""
    conn = sqlite3.connect(path)
    try:
        h = hashlib.sha256()
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]  # fmt: skip
        for name in names:
            if name in POLICY:
                continue
            h.update(str(conn.execute("SELECT sql FROM sqlite_master WHERE name=?",
                                      (name,)).fetchone()).encode())  # fmt: skip
            for row in conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid'):
                h.update(repr(row).encode())
        indexes = sorted(r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"))  # fmt: skip
    finally:
        conn.close()
    return h.hexdigest(), indexes


@pytest.mark.parametrize(("fixture", "version"), [(6, "6"), (6, "7"), (8, "8"), (8, "9")])
async def test_work_on_a_v6_to_v9_file_leaves_every_other_table_byte_identical(
    fixture_copy, fixture: int, version: str
) -> None:
    db = fixture_copy(fixture)
    set_version(db, version)
    before, indexes_before = others_digest(db)
    with ReviewService.open(db) as svc:
        assert svc.version == int(version)
        pending = svc.list_proposals(limit=100)
        svc.approve(pending[0].proposal_id, note="ok")
        svc.reject(pending[1].proposal_id, reason="no")
    assert cli("expire", db, "--older-than", "1m").returncode == 0
    app = ReviewApp(db, clock=clock, poll_interval=0.2)  # builds tract-tui's indexes
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
    after, indexes_after = others_digest(db)
    assert after == before  # _trace_meta, commits, blobs ... exactly as the library left them
    added = set(indexes_after) - set(indexes_before)
    assert added and all(name.startswith("ix_tui_") for name in added)


async def test_v9_says_it_writes_no_proposals_and_shows_its_log(fixture_copy) -> None:
    db = fixture_copy(8)
    set_version(db, "9")
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM policy_proposals")
    conn.close()
    listed = cli("list", db)
    assert listed.returncode == 0
    assert "tract schema 9 keeps proposals in memory" in listed.stderr
    assert cli("log", db).stdout.count("\n") > 5
    app = ReviewApp(db, clock=clock, poll_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        empty = app.query_one(ProposalsPane).table.empty_text
        assert "tract schema 9 keeps proposals in memory" in empty


async def test_v8_without_pending_says_actions_run_at_once_without_a_hook(fixture_copy) -> None:
    db = fixture_copy(8)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE policy_proposals SET status='executed' WHERE status='pending'")
    conn.close()
    listed = cli("list", db)
    assert "'policy' hook" in listed.stderr and listed.stdout.strip() == "no pending proposals"
    app = ReviewApp(db, clock=clock, poll_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "'policy' hook" in app.query_one(ProposalsPane).table.empty_text


def test_v10_and_later_are_refused_saying_why(fixture_copy) -> None:
    newer = fixture_copy(8)
    set_version(newer, "10")
    with pytest.raises(SchemaTooNewError, match="schema 10 is newer"):
        ReviewService.open(newer)
    gone = fixture_copy(8, "gone.db")
    with sqlite3.connect(gone) as conn:
        conn.executescript(
            "DROP TABLE policy_log; DROP TABLE policy_proposals;"
            "UPDATE _trace_meta SET value='11' WHERE key='schema_version';"
        )
    conn.close()
    done = cli("list", gone)
    assert done.returncode == 2
    assert "tract schema 11 has no policy tables; tract-tui reviews schema 1..9" in done.stderr


def test_a_v8_file_whose_policy_table_differs_is_refused_naming_it(fixture_copy) -> None:
    db = fixture_copy(8)
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE policy_log ADD COLUMN extra TEXT")
    conn.close()
    with pytest.raises(PolicyTablesError, match="extra column extra"):
        ReviewService.open(db)
