"""Regenerate the README's screenshots from the built-in demo database.

    .venv/bin/python screenshots/make_screenshots.py

Deterministic: a fixed clock, a fixed demo build (seed, UTC offset) and
fixed terminal sizes, so a rerun only changes the SVGs when the UI changed.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tract_tui.app import ReviewApp
from tract_tui.demo import build_demo_database
from tract_tui.review.service import ReviewService

HERE = Path(__file__).parent
NOW = datetime(2026, 11, 24, 12, 0, 0)

SHOTS: list[tuple[str, Sequence[str], tuple[int, int]]] = [
    ("proposals", (), (120, 36)),
    ("proposals-80x24", (), (80, 24)),
    ("compress-zoom", ("j", "j", "enter"), (120, 36)),
    ("context", ("c",), (120, 36)),
    ("history", ("a", "r", *"not a tangent", "enter", "4"), (120, 36)),
    ("reject-prompt", ("j", "r", *"branch names like this clutter the list"), (120, 36)),
    ("bulk-confirm", ("space", "space", "space", "a"), (120, 36)),
    ("log-filtered", ("2", "slash", *"outcome:error since:3d", "enter"), (120, 36)),
    ("proposals-200x50", (), (200, 50)),
]


async def settle(pilot: Pilot[Any]) -> None:
    for _ in range(4):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def shoot(db: Path, name: str, keys: Sequence[str], size: tuple[int, int]) -> Path:
    app = ReviewApp(db, clock=lambda: NOW, poll_interval=3600)
    app.animation_level = "none"
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        out = HERE / f"{name}.svg"
        app.save_screenshot(filename=out.name, path=str(HERE))
    return out


async def main() -> None:
    os.environ["LOGNAME"] = "reviewer"  # decisions name a fixed reviewer, not your login
    with tempfile.TemporaryDirectory() as tmp:
        for name, keys, size in SHOTS:
            db = build_demo_database(Path(tmp) / "demo.db", now=NOW, utc_offset=timedelta(0))
            with ReviewService.open(db, clock=lambda: NOW, reviewer="reviewer") as svc:
                svc.ensure_indexes()  # no "building indexes" line in the pictures
            print(await shoot(db, name, keys, size))


if __name__ == "__main__":
    asyncio.run(main())
