"""Snapshot tests of the console (pytest-textual-snapshot).

Deterministic: 120x36, injected clock, fixture data, no live polling, no
cursor blink, no animations, every worker awaited before the picture. Regenerate only for an
intended UI change (`pytest tests/test_snapshots.py --snapshot-update`) and
look at the SVGs before committing them.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tests.apphelpers import SIZE, clock, pending_ids, settle
from tract_tui.app import ReviewApp

HOSTILE = (
    "[bold red]URGENT[/] [link=https://evil.example]click me[/link] "
    "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07osc8 link\x1b]8;;\x07 "
    "nul\x00 bell\x07 rtl \u202eevil\u202c emoji 🚀 e\u0301"
)


def shoot(
    snap_compare: Any,
    path: Path,
    *keys: str,
    before: Callable[[Pilot[Any]], Awaitable[None]] | None = None,
    **app_kw: Any,
) -> bool:
    app = ReviewApp(path, clock=clock, poll_interval=3600, **app_kw)
    app.animation_level = "none"  # the tab underline animates when a tab label changes

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        if before is not None:
            await before(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot, 2)
        await settle(pilot)

    return bool(snap_compare(app, terminal_size=SIZE, run_before=run_before))


def test_proposal_annotate(snap_compare, v5_db: Path) -> None:
    assert shoot(snap_compare, v5_db)


def test_proposal_branch(snap_compare, v5_db: Path) -> None:
    assert shoot(snap_compare, v5_db, "j")


def test_proposal_compress(snap_compare, v5_db: Path) -> None:
    assert shoot(snap_compare, v5_db, "j", "j")


def test_proposal_archive(snap_compare, v5_db: Path) -> None:
    ids = pending_ids(v5_db)
    archive = ids.index("cd05c8abc3344daab2aae1d3e29e0dd6")
    assert shoot(snap_compare, v5_db, *(["j"] * archive))


def test_reject_prompt(snap_compare, v5_db: Path) -> None:
    assert shoot(snap_compare, v5_db, "r", *"duplicate of c923d08e")


def test_bulk_confirmation(snap_compare, v5_db: Path) -> None:
    assert shoot(snap_compare, v5_db, "space", "space", "space", "space", "a")


def test_conflict_notice(snap_compare, v5_db: Path) -> None:
    first = pending_ids(v5_db)[0]

    async def decided_elsewhere(pilot: Pilot[Any]) -> None:
        with sqlite3.connect(v5_db) as conn:
            conn.execute(
                "UPDATE policy_proposals SET status='approved' WHERE proposal_id=?", (first,)
            )

    assert shoot(snap_compare, v5_db, "a", before=decided_elsewhere)


def test_log_view_filtered(snap_compare, v5_db: Path) -> None:
    async def filtered(pilot: Pilot[Any]) -> None:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("slash")
        await pilot.press(*"since:2026-02-18 -outcome:skipped")
        await pilot.press("enter")
        await settle(pilot)

    assert shoot(snap_compare, v5_db, before=filtered)


def test_help(snap_compare, v5_db: Path) -> None:
    assert shoot(snap_compare, v5_db, "question_mark")


def test_read_only_banner(snap_compare, v5_db: Path) -> None:
    os.chmod(v5_db, 0o444)
    assert shoot(snap_compare, v5_db)


def test_hostile_reason_is_inert(snap_compare, v5_db: Path) -> None:
    with sqlite3.connect(v5_db) as conn:
        conn.execute(
            "UPDATE policy_proposals SET reason=?, action_params_json=? WHERE proposal_id=?",
            (
                HOSTILE,
                '{"target_hash": "[link=https://x]x[/link]", "note": "\\u001b[2J"}',
                pending_ids(v5_db)[0],
            ),
        )
    assert shoot(snap_compare, v5_db)
