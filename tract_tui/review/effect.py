"""What approving a proposal will do to the agent's context, by the tract library's rules.

The library executes an approved action in ``PolicyEvaluator._dispatch_action``
(``tract/policy/evaluator.py``): ``compress`` calls ``Tract.compress(**params)``,
``annotate`` ``Tract.annotate(target, priority, reason=...)``, ``branch``
``Tract.branch(**params)``, ``archive`` ``Tract.branch(archive_name,
source=source, switch=False)``; anything else raises. Each predictor here
walks the same checks in the same order, so a failure is predicted with the
library's own exception and message, and a success with the context its
``compile()`` would return afterwards. Where the outcome depends on what the
file cannot show (the agent's LLM, a hook), the effect says so in ``notes``
instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tract_tui.models.context import Context, ContextMessage, Effect
from tract_tui.models.review import Proposal
from tract_tui.review import effect_compress
from tract_tui.review.context import TractReader, compile_head, head_rows, walk
from tract_tui.storage import context as q

#: The priorities ``_dispatch_action`` understands; any other text means NORMAL.
ANNOTATE_PRIORITIES = {"pinned": "PINNED", "normal": "NORMAL", "skip": "SKIP"}
BRANCH_KWARGS = ("name", "source", "switch")
_FORBIDDEN_NAME = set(" \t\n~^:?*[\\")


@dataclass(frozen=True)
class Outcome:
    """A predictor's answer: the failure, or the context after (None: not knowable)."""

    will_fail: str | None
    after: Context | None
    summary: str
    notes: tuple[str, ...] = ()


def fail(reason: str) -> Outcome:
    return Outcome(reason, None, f"will fail: {reason}")


def _params(proposal: Proposal) -> Any:
    """The params as the library reads them: its JSON column, or {} for NULL/null."""
    if not proposal.params_valid:
        return proposal  # a marker: not JSON at all
    return proposal.params if proposal.params is not None else {}


def predict(reader: TractReader, proposal: Proposal, duplicates: tuple[str, ...] = ()) -> Effect:
    """The effect of executing ``proposal`` now, on the tract ``reader`` reads."""
    before = compile_head(reader, reader.head())
    branch = reader.current_branch()
    params = _params(proposal)
    predictor = PREDICTORS.get(proposal.action_type)
    if proposal.params_cut:
        outcome = Outcome(None, None, f"params of {proposal.params_size:,} characters: only "
                          "their first part was read here; `tract-tui show ID --json` reads "
                          "them whole and predicts")  # fmt: skip
    elif params is proposal:
        outcome = fail(f"JSONDecodeError: the params are not JSON ({proposal.params_problem})")
    elif predictor is None:
        reason = (f"ValueError: Unknown action_type: {proposal.action_type} (the tract library "
                  "executes only compress, annotate, branch and archive)")  # fmt: skip
        outcome = Outcome(reason, None, "tract-tui cannot predict this action; the tract library "
                          "cannot execute it (only an agent's own handler can)")  # fmt: skip
    else:
        outcome = predictor(reader, params, before)
    notes = outcome.notes
    if proposal.status not in ("pending", "approved", "executing"):
        notes = (*notes, f"it is {proposal.status}: nothing will execute it")
    if duplicates:
        notes = (*notes, duplicate_note(len(duplicates)))
    return Effect(
        tract_id=proposal.tract_id,
        branch=branch,
        will_fail=outcome.will_fail,
        context_before=before,
        context_after=outcome.after,
        summary=outcome.summary,
        duplicate_of=duplicates,
        predictable=predictor is not None,
        notes=notes,
    )


def duplicate_note(n: int) -> str:
    other = "another" if n == 1 else f"{n} other"
    return (f"{other} approved or identical proposal{'s' if n > 1 else ''} of this policy for "
            "this tract exist: once one is executed, the rest repeat it or fail")  # fmt: skip


# --- annotate ----------------------------------------------------------------------------


def _annotate(reader: TractReader, params: Any, before: Context) -> Outcome:
    if not isinstance(params, dict):
        return fail(f"TypeError: the params are a {type(params).__name__}, not an object")
    priority = params.get("priority", "normal")
    if not isinstance(priority, str):
        return fail(f"AttributeError: '{type(priority).__name__}' object has no attribute 'lower'")
    new = ANNOTATE_PRIORITIES.get(priority.lower(), "NORMAL")
    target = params.get("target_hash")
    if target is None:
        return fail("ValueError: annotate action missing 'target_hash' in params")
    owner = q.commit(reader.conn, str(target)) if isinstance(target, str) else None
    if owner is None:
        return fail(f"CommitNotFoundError: Commit not found: {target}")
    head = reader.head()
    commits = walk(reader, head) if head is not None else []
    on_branch = next((c for c in commits if c.commit_hash == target), None)
    was = reader.priority(on_branch) if on_branch is not None else None
    after = before
    if on_branch is not None and head is not None and (was == "SKIP") != (new == "SKIP"):
        # only the target's own row can change: shown or not, by its new priority
        after = Context(tuple(
            r.message for r in head_rows(reader, head)
            if (r.shown if r.message.commit_hash != target else new != "SKIP")
        ))  # fmt: skip
    short = target[:8]
    if owner != reader.tract_id:
        return Outcome(None, after, f"sets {short} of tract {owner} to {new.lower()}; this "
                       "tract's context does not change", ("the annotation is stored here but "
                       f"affects tract {owner}'s context",))  # fmt: skip
    if on_branch is None:
        where = reader.current_branch() or "the detached HEAD"
        return Outcome(None, after, f"no change: {short} is not on {where}, so not in this "
                       f"context; it becomes {new.lower()}")  # fmt: skip
    if on_branch.operation == "EDIT":
        return Outcome(None, after, f"no change: {short} is an edit; the message it edits "
                       "keeps its own priority")  # fmt: skip
    return Outcome(None, after, annotate_verdict(before, after, short, new, was))


def annotate_verdict(
    before: Context, after: Context, short: str, new: str, was: str | None = None
) -> str:
    gone = len(before.messages) - len(after.messages)
    tokens = (before.tokens or 0) - (after.tokens or 0)
    if gone > 0:
        minus = "\u2212"
        return f"hides {gone} message{'s' * (gone > 1)}, {minus}{tokens} tokens ({short})"
    if gone < 0:
        return f"shows {-gone} hidden message{'s' * (gone < -1)}, +{-tokens} tokens ({short})"
    if was == new:
        return f"no change: {short} is {new.lower()} already"
    if new == "PINNED":
        return f"no change now; pins {short}, which compression then keeps verbatim"
    if was == "PINNED":
        return f"no change now; unpins {short}, which compression may then summarise"
    return f"no change: {short} stays in the context ({(was or '').lower()} → {new.lower()})"


# --- branch and archive ----------------------------------------------------------------------


def branch_name_problem(name: Any) -> str | None:
    """InvalidBranchNameError's message for a name the library refuses (validate_branch_name)."""
    if not isinstance(name, str):
        return f"TypeError: the branch name is a {type(name).__name__}, not text"
    why = None
    if not name:
        why = "branch name cannot be empty"
    elif ".." in name:
        why = "branch name cannot contain '..'"
    elif name.endswith(".lock"):
        why = "branch name cannot end with '.lock'"
    elif name.startswith("."):
        why = "branch name cannot start with '.'"
    elif name.endswith("."):
        why = "branch name cannot end with '.'"
    elif _FORBIDDEN_NAME & set(name):
        why = "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"
    elif name.startswith("/") or name.endswith("/") or "//" in name:
        why = "branch name has invalid slash usage"
    return None if why is None else f"InvalidBranchNameError: Invalid branch name '{name}': {why}"


def create_branch(
    reader: TractReader, name: Any, source: Any, switch: bool, before: Context
) -> Outcome:
    """``create_branch``'s checks in order, then the context after it."""
    problem = branch_name_problem(name)
    if problem is not None:
        return fail(problem)
    if reader.branch_tip(name) is not None:
        return fail(f"BranchExistsError: Branch already exists: {name}")
    if source is None:
        source = reader.head()
        if source is None:
            return fail("TraceError: Cannot create branch: no commits exist")
    elif not isinstance(source, str) or q.commit(reader.conn, source) is None:
        kind = ("a branch name, not a commit" if isinstance(source, str)
                and reader.branch_tip(source) else "no commit of this file")  # fmt: skip
        return fail("IntegrityError: FOREIGN KEY constraint failed (the library takes source "
                    f"{source!r} as a commit hash; it is {kind})")  # fmt: skip
    at = f"at {source[:8]}"
    if not switch:
        return Outcome(None, before, f"creates branch '{name}' {at}; the context does not change")
    after = compile_head(reader, source)
    same = "does not change" if after == before else f"becomes {source[:8]}'s"
    return Outcome(None, after, f"creates branch '{name}' {at} and switches to it; "
                   f"the context {same}")  # fmt: skip


def _branch(reader: TractReader, params: Any, before: Context) -> Outcome:
    if not isinstance(params, dict):
        return fail(f"TypeError: argument after ** must be a mapping, not {type(params).__name__}")
    unknown = [k for k in params if k not in BRANCH_KWARGS]
    if unknown:
        return fail(f"TypeError: Tract.branch() got an unexpected keyword argument '{unknown[0]}'")
    if "name" not in params:
        return fail("TypeError: Tract.branch() missing 1 required positional argument: 'name'")
    switch = bool(params.get("switch", True))
    return create_branch(reader, params["name"], params.get("source"), switch, before)


def _archive(reader: TractReader, params: Any, before: Context) -> Outcome:
    if not isinstance(params, dict):
        return fail(f"AttributeError: '{type(params).__name__}' object has no attribute 'get'")
    name = params.get("archive_name", f"archive/{datetime.now():%Y%m%d}")
    return create_branch(reader, name, params.get("source"), False, before)


def _compress(reader: TractReader, params: Any, before: Context) -> Outcome:
    found = effect_compress.predict(reader, params, before)
    return Outcome(found.will_fail, found.after, found.summary, found.notes)


PREDICTORS: dict[str, Callable[[TractReader, Any, Context], Outcome]] = {
    "annotate": _annotate,
    "branch": _branch,
    "archive": _archive,
    "compress": _compress,
}


def summary_message(text: str) -> ContextMessage:
    """The message a compression's summary becomes (an assistant dialogue, not yet committed)."""
    return ContextMessage("assistant", text, None, None)
