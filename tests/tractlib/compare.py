"""One rule for "tract-tui's prediction agrees with what the library did", used twice.

tests/test_real_library.py asks the library live; tests/test_effect.py reads
its answers recorded in tests/fixtures/library-answers.json (so a clone
without the library still checks the predictions against the library's word).
"""

from __future__ import annotations

from typing import Any

from tract_tui.models.context import Context, Effect


def messages(context: Context) -> list[list[Any]]:
    return [[m.role, m.content] for m in context.messages]


def check(effect: Effect, before: dict[str, Any], outcome: dict[str, Any], label: object) -> str:
    """Assert ``effect`` matches the library's compile before and its approve; the kind of case.

    "executed": the library ran it and the context after is the one predicted;
    "failed": it raised, and tract-tui predicted that with the same exception;
    "llm": it needs an LLM the file cannot show, and tract-tui said so.
    """
    assert messages(effect.context_before) == before["messages"], label
    if outcome["ok"]:
        assert effect.will_fail is None, (label, effect.will_fail)
        assert effect.context_after is not None, (label, effect.summary)
        assert messages(effect.context_after) == outcome["after"], label
        return "executed"
    if effect.will_fail is None:  # only what the file cannot show may be left open
        assert effect.context_after is None and "LLM" in " ".join(effect.notes), (
            label, outcome["error"], effect.summary)  # fmt: skip
        assert "No LLM client configured" in outcome["error"]
        return "llm"
    theirs, ours = outcome["error"], effect.will_fail
    assert ours.split(":")[0] == theirs.split(":")[0], (label, ours, theirs)
    if not theirs.startswith("IntegrityError"):  # SQLAlchemy adds its SQL to that one
        assert theirs.startswith(ours[:60]) or ours.startswith(theirs[:60]), (label, ours, theirs)
    return "failed"
