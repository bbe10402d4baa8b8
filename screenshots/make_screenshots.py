"""Regenerate the README's screenshots from the built-in demo database.

    .venv/bin/python screenshots/make_screenshots.py

Deterministic: a fixed clock, a fixed demo build (seed, UTC offset) and a
120x36 terminal, so a rerun only changes the SVGs when the UI changed.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tract_tui.app import ReviewApp
from tract_tui.demo import build_demo_database

HERE = Path(__file__).parent
NOW = datetime(2026, 11, 24, 12, 0, 0)

SHOTS: list[tuple[str, Sequence[str]]] = [
    ("proposals", ()),
    ("reject-prompt", ("j", "r", *"branch names like this clutter the list")),
    ("bulk-confirm", ("space", "space", "space", "a")),
    ("log-filtered", ("2", "slash", *"outcome:error since:3d", "enter")),
]


async def settle(pilot: Pilot[Any]) -> None:
    for _ in range(4):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def shoot(db: Path, name: str, keys: Sequence[str]) -> Path:
    app = ReviewApp(db, clock=lambda: NOW, poll_interval=3600)
    app.animation_level = "none"
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        out = HERE / f"{name}.svg"
        app.save_screenshot(filename=out.name, path=str(HERE))
    return out


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, keys in SHOTS:
            db = build_demo_database(Path(tmp) / "demo.db", now=NOW, utc_offset=timedelta(0))
            print(await shoot(db, name, keys))


if __name__ == "__main__":
    asyncio.run(main())
