"""What ``Tract.compress(**params)`` would do, by ``tract/operations/compression.py``'s rules.

``compress_range`` takes the first-parent chain from HEAD (or part of it:
``commits``, ``from_commit``/``to_commit``), sorts each commit by its latest
annotation (``preserve`` counts as pinned; no annotation is NORMAL, not the
type's default), and cuts the NORMAL ones into groups at PINNED commits.
With ``content`` there must be one group; without it an LLM writes one
summary per group. ``_commit_compression`` then resets HEAD to the parent
of the range's first commit and commits, in range order, each pinned commit
again (a new commit with the same content) and each group's summary (an
assistant dialogue): SKIP commits, and whatever followed the range on the
chain, are no longer on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tract_tui.models.context import Context, ContextMessage
from tract_tui.review.context import (
    TractReader,
    compile_head,
    default_priority,
)
from tract_tui.storage.context import CommitRecord

KWARGS_V5 = (
    "commits", "from_commit", "to_commit", "target_tokens", "preserve", "auto_commit", "content",
    "instructions", "system_prompt", "model", "temperature", "max_tokens", "llm_config",
)  # fmt: skip
KWARGS_V6 = (*KWARGS_V5, "validator", "max_retries")
KWARGS_V8 = (
    "commits", "from_commit", "to_commit", "target_tokens", "preserve", "review", "content",
    "instructions", "system_prompt", "model", "temperature", "max_tokens", "llm_config",
    "validator", "max_retries", "triggered_by", "two_stage",
)  # fmt: skip
LLM_KWARGS = ("model", "temperature", "max_tokens", "llm_config")
DETACHED = (
    "DetachedHeadError: Cannot commit in detached HEAD state. "
    "Use 'tract checkout main' to return to your branch."
)


@dataclass(frozen=True)
class CompressOutcome:
    will_fail: str | None
    after: Context | None
    summary: str
    notes: tuple[str, ...] = ()


class Refused(Exception):
    """The library would raise this (its exception name and message)."""


def _fail(reason: str) -> CompressOutcome:
    return CompressOutcome(reason, None, f"will fail: {reason}")


def allowed(version: int) -> tuple[str, ...]:
    return KWARGS_V8 if version >= 8 else KWARGS_V6 if version >= 6 else KWARGS_V5


def resolve_range(chain: list[CommitRecord], params: dict[str, Any]) -> list[CommitRecord]:
    """``_resolve_commit_range``: the commits to compress, in chain order."""
    commits, start, end = params.get("commits"), params.get("from_commit"), params.get("to_commit")
    if not chain:
        raise Refused("CompressionError: No commits to compress")
    if commits is not None:
        wanted = set(commits)
        found = [c for c in chain if c.commit_hash in wanted]
        missing = wanted - {c.commit_hash for c in found}
        if missing:
            raise Refused("CompressionError: Commits not found in current chain: "
                          + ", ".join(sorted(missing)))  # fmt: skip
        if not found:
            raise Refused("CompressionError: No commits matched the provided list")
        return found
    hashes = [c.commit_hash for c in chain]
    lo, hi = 0, len(chain) - 1
    if start is not None:
        if start not in hashes:
            raise Refused(f"CompressionError: from_commit not found in chain: {start}")
        lo = hashes.index(start)
    if end is not None:
        if end not in hashes:
            raise Refused(f"CompressionError: to_commit not found in chain: {end}")
        hi = hashes.index(end)
    if lo > hi:
        raise Refused("CompressionError: Invalid range: from_commit is after to_commit in chain")
    return chain[lo : hi + 1]


def classify(
    reader: TractReader, commits: list[CommitRecord], preserve: Any
) -> tuple[set[str], set[str], list[CommitRecord]]:
    """(pinned hashes, skip hashes, the commits to compress), by annotations alone."""
    keep = set(preserve) if preserve else set()
    reader.preload(commits)
    pinned, skip, normal = set(), set(), []
    for c in commits:
        note = reader.annotation(c.commit_hash)
        if c.commit_hash in keep or (note is not None and note.priority == "PINNED"):
            pinned.add(c.commit_hash)
        elif note is not None and note.priority == "SKIP":
            skip.add(c.commit_hash)
        else:
            normal.append(c)
    return pinned, skip, normal


def groups_of(commits: list[CommitRecord], pinned: set[str], skip: set[str]) -> list[list[str]]:
    """``_partition_around_pinned``: runs of consecutive compressible commits."""
    groups: list[list[str]] = []
    current: list[str] = []
    for c in commits:
        if c.commit_hash in pinned:
            if current:
                groups.append(current)
                current = []
        elif c.commit_hash not in skip:
            current.append(c.commit_hash)
    if current:
        groups.append(current)
    return groups


def predict(reader: TractReader, params: Any, before: Context) -> CompressOutcome:
    """The effect of ``Tract.compress(**params)`` on the tract's current branch."""
    if not isinstance(params, dict):
        return _fail(f"TypeError: argument after ** must be a mapping, not {type(params).__name__}")
    unknown = [k for k in params if k not in allowed(reader.version)]
    if unknown:
        return _fail(
            f"TypeError: Tract.compress() got an unexpected keyword argument '{unknown[0]}'"
        )
    if reader.detached():
        return _fail(DETACHED)
    head = reader.head()
    content = params.get("content")
    try:
        if head is None:
            raise Refused("CompressionError: No commits to compress")
        chain = reader.chain(head)
        scope = resolve_range(chain, params)
        pinned, skip, normal = classify(reader, scope, params.get("preserve"))
        if not normal:
            raise Refused(
                "CompressionError: Nothing to compress -- all commits are pinned or skipped"
            )
        groups = groups_of(scope, pinned, skip)
        if content is not None and len(groups) > 1:
            raise Refused(
                "CompressionError: Manual mode provides a single summary but PINNED commits "
                f"create {len(groups)} separate groups. Use LLM mode (configure_llm()) for "
                "multi-group compression, or remove PINNED annotations from interleaving commits."
            )
        _check_recreatable(reader, scope, pinned)
    except Refused as e:
        return _fail(str(e))
    tokens = sum(c.token_count for c in normal)
    words = f"{len(normal)} message{'s' * (len(normal) != 1)} ({tokens} tokens)"
    if content is None:
        return _needs_llm(words, len(groups), any(params.get(k) is not None for k in LLM_KWARGS))
    if not isinstance(content, str):
        return _fail("ValidationError: content (the summary) is not text")
    if params.get("auto_commit") is False or (reader.version >= 8 and params.get("review")):
        return CompressOutcome(None, before, "no change: the library only plans this compression "
                               "(auto_commit false / review) and commits nothing")  # fmt: skip
    after = _after(reader, chain, scope, pinned, skip, groups, content)
    kept = len(pinned & {c.commit_hash for c in scope})
    dropped = len(chain) - chain.index(scope[0]) - len(scope)
    text = f"replaces {words} with a {len(content.split())}-word summary"
    if kept:
        text += f"; keeps {kept} pinned"
    if dropped:
        text += f"; {dropped} other commits from there on leave the branch"
    return CompressOutcome(None, after, text)


def _needs_llm(words: str, groups: int, explicit: bool) -> CompressOutcome:
    each = "a summary" if groups == 1 else f"{groups} summaries"
    text = f"an LLM writes {each} of {words} when it runs; what it says is not known yet"
    why = ("LLMConfigError" if explicit else "CompressionError: No LLM client configured and no "
           "manual content provided")  # fmt: skip
    return CompressOutcome(None, None, text, (f"fails ({why}) if the agent has no LLM configured",))


def _check_recreatable(reader: TractReader, scope: list[CommitRecord], pinned: set[str]) -> None:
    """A pinned EDIT commit is re-created without its target: ``create_commit`` refuses it."""
    for c in scope:
        if c.commit_hash in pinned and c.operation == "EDIT":
            field = "edit_target" if reader.version >= 8 else "response_to"
            raise Refused(f"EditTargetError: EDIT operation requires {field} to be set")


def _after(
    reader: TractReader,
    chain: list[CommitRecord],
    scope: list[CommitRecord],
    pinned: set[str],
    skip: set[str],
    groups: list[list[str]],
    content: str,
) -> Context:
    """The context once the range is replaced: the commits before it, then the new ones."""
    start = chain.index(scope[0])
    kept = compile_head(reader, chain[start - 1].commit_hash if start else None).messages
    first_of_group = {g[0] for g in groups}
    added: list[ContextMessage] = []
    for c in scope:
        if c.commit_hash in skip:
            continue
        if c.commit_hash in pinned:
            again = reader.message(c)
            if default_priority(c.content_type, reader.version) != "SKIP":
                added.append(ContextMessage(again.role, again.content, None, again.tokens))
        elif c.commit_hash in first_of_group:
            added.append(ContextMessage("assistant", content, None, None))
    return Context((*kept, *added))
