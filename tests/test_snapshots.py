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
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
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
    size: tuple[int, int] = SIZE,
    now: Callable[[], datetime] = clock,
    **app_kw: Any,
) -> bool:
    app = ReviewApp(path, clock=now, poll_interval=3600, **app_kw)
    app.animation_level = "none"  # the tab underline animates when a tab label changes

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        if before is not None:
            await before(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot, 2)
        await settle(pilot)

    return bool(snap_compare(app, terminal_size=size, run_before=run_before))


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


# --- every view at the three sizes a reviewer meets (80x24 is where most terminals open) ---

SIZES = {"80x24": (80, 24), "120x36": (120, 36), "200x50": (200, 50)}


def v8_clock() -> datetime:
    """A time just after the library wrote the v8 fixture (its rows are from 2026-12-01)."""
    return datetime(2026, 12, 1, 15, 0, 0)


def library_file(fixture_copy: Any) -> Path:
    """The library's v8 file with tract-tui's indexes already built (no progress line)."""
    from tract_tui.review.service import ReviewService

    db: Path = fixture_copy(8)
    with ReviewService.open(db) as svc:
        svc.ensure_indexes()
    return db


def with_history(path: Path) -> Path:
    """Two decisions by tract-tui (one with a note), so the history has rows of its own."""
    from tract_tui.review.service import ReviewService

    with ReviewService.open(path, clock=v8_clock, reviewer="reviewer") as svc:
        first, second = pending_ids(path)[:2]
        svc.approve(first, note="hidden on purpose")
        svc.reject(second, reason="not a tangent")
    return path


@pytest.mark.parametrize("size", SIZES)
def test_proposals_at(snap_compare, fixture_copy, size: str) -> None:
    db = library_file(fixture_copy)
    assert shoot(snap_compare, db, "j", "j", "j", size=SIZES[size], now=v8_clock)


@pytest.mark.parametrize("size", SIZES)
def test_log_at(snap_compare, fixture_copy, size: str) -> None:
    assert shoot(snap_compare, library_file(fixture_copy), "2", size=SIZES[size], now=v8_clock)


@pytest.mark.parametrize("size", SIZES)
def test_context_at(snap_compare, fixture_copy, size: str) -> None:
    db = library_file(fixture_copy)
    assert shoot(snap_compare, db, "j", "j", "j", "c", size=SIZES[size], now=v8_clock)


@pytest.mark.parametrize("size", SIZES)
def test_history_at(snap_compare, fixture_copy, size: str) -> None:
    db = with_history(library_file(fixture_copy))
    assert shoot(snap_compare, db, "4", size=SIZES[size], now=v8_clock)


@pytest.mark.parametrize("size", ["80x24", "200x50"])
def test_zoomed_compress_at(snap_compare, v5_db: Path, size: str) -> None:
    assert shoot(snap_compare, v5_db, "j", "j", "enter", size=SIZES[size])


def test_marks_confirmation_at_80x24(snap_compare, v5_db: Path) -> None:
    assert shoot(snap_compare, v5_db, "v", "j", "j", "j", "v", "a", size=SIZES["80x24"])
