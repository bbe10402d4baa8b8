"""Helpers to drive the real ReviewApp headless."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from tests.conftest import untrailed_rows

NOW = datetime(2026, 2, 25, 12, 0, 0)
SIZE = (120, 36)


def clock() -> datetime:
    return NOW


async def settle(pilot: Pilot[Any], rounds: int = 4) -> None:
    """Let workers finish and their results land (each may start another).

    A worker a newer one of its group replaced ends cancelled: that is fine.
    """
    for _ in range(rounds):
        await pilot.pause()
        for _attempt in range(20):  # under load the live poll can be replaced twice in a row
            try:
                await pilot.app.workers.wait_for_complete()
                break
            except WorkerCancelled:  # raised at once: wait again for the others
                await pilot.pause()
    await pilot.pause()


def rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def pending_ids(path: Path) -> list[str]:
    return [
        r[0]
        for r in rows(
            path,
            "SELECT proposal_id FROM policy_proposals WHERE status="
            "'pending' ORDER BY created_at, proposal_id",
        )
    ]


def status_of(path: Path, pid: str) -> str:
    return rows(path, "SELECT status FROM policy_proposals WHERE proposal_id=?", (pid,))[0][0]


def review_logs(path: Path, pid_policy: str | None = None) -> list[tuple[Any, ...]]:
    """Review rows, their reasons without the proposal trailer (tests/conftest.untrailed)."""
    return untrailed_rows(
        rows(
            path,
            "SELECT policy_name, trigger, outcome, reason, action_type, tract_id "
            "FROM policy_log WHERE trigger='review' ORDER BY id",
        )
    )
