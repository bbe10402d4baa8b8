"""An agent's compiled context, and what a proposal would do to it (plain dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class ContextMessage(NamedTuple):
    """One message the agent sends its LLM.

    ``commit_hash`` is None for a message the action would commit (a
    summary); ``tokens`` is the commit's stored token count, None where only
    the library's tokenizer could tell (text not committed yet). A named
    tuple, not a dataclass: a long branch makes thousands per look, and a
    tuple is several times cheaper to build.
    """

    role: str
    content: str
    commit_hash: str | None
    tokens: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "content": self.content,
            "commit_hash": self.commit_hash,
            "tokens": self.tokens,
        }


@dataclass(frozen=True)
class Context:
    """A compiled context: its messages in order."""

    messages: tuple[ContextMessage, ...]

    @property
    def tokens(self) -> int | None:
        """The messages' stored token counts added up; None when one is not known.

        The library's own total counts per-message overhead too: it is close, not equal.
        """
        counts = [m.tokens for m in self.messages]
        return None if any(t is None for t in counts) else sum(c or 0 for c in counts)

    def to_json(self) -> dict[str, Any]:
        return {"messages": [m.to_json() for m in self.messages], "tokens": self.tokens}


@dataclass(frozen=True)
class Effect:
    """What approving a proposal would do, predicted by the library's own rules.

    ``will_fail`` is the library's reason when executing would raise, else
    None. ``context_after`` is None when the action fails or its content
    cannot be known before it runs (an LLM summary). ``duplicate_of`` names
    other proposals that would do the same (one executed, the rest fail or
    repeat it). ``summary`` is the one-line verdict a reviewer reads first.
    """

    tract_id: str
    branch: str | None
    will_fail: str | None
    context_before: Context
    context_after: Context | None
    summary: str
    duplicate_of: tuple[str, ...] = ()
    #: False when tract-tui does not know the action type.
    predictable: bool = True
    #: What the prediction assumes or cannot see (an LLM, a hook), shown with it.
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "will_fail": self.will_fail,
            "duplicate_of": list(self.duplicate_of) or None,
            "context_before": self.context_before.to_json(),
            "context_after": None if self.context_after is None else self.context_after.to_json(),
            "summary": self.summary,
            "predictable": self.predictable,
            "notes": list(self.notes),
        }


class ContextRow(NamedTuple):
    """One commit of a compiled branch as the context view lists it (a tuple, for speed).

    ``shown`` is False for a commit its priority hides (SKIP): it is not in
    the agent's context, but a reviewer checking an annotate wants to see
    it. ``edited`` says the content is an edit's, not the commit's own.
    """

    message: ContextMessage
    priority: str
    shown: bool
    edited: bool = False


@dataclass(frozen=True)
class ContextView:
    """A tract's branch (or detached HEAD) compiled for reading, commit by commit."""

    tract_id: str
    branch: str | None
    head: str | None
    rows: tuple[ContextRow, ...]

    @property
    def context(self) -> Context:
        """What the agent sends: the shown rows' messages."""
        return Context(tuple(r.message for r in self.rows if r.shown))
