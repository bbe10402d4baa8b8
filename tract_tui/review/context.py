"""The tract library's ``compile``, re-implemented read-only: the messages an agent sends.

It follows ``tract/engine/compiler.py`` (``DefaultContextCompiler``) rule by
rule, so a reviewer sees the context exactly as the library builds it:

1. the first-parent chain from the head, within the head's tract, root
   first; a merge commit brings its second parent's own commits just
   before it;
2. an EDIT commit replaces the content of its target (the latest edit by
   time wins) and is not a message of its own;
3. each commit's priority is its latest annotation, else the default of its
   content type (instructions are pinned; from schema 8 on reasoning is
   skipped); SKIP hides a commit;
4. each remaining commit becomes a message: its role from its content type
   (a dialogue's own role), its text as the library extracts it.

The library is not imported: tract-tui works without it installed. Tests
compare this module with the library's own ``compile()`` on databases the
library writes (tests/test_real_library.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tract_tui.models.context import Context, ContextMessage, ContextRow, ContextView
from tract_tui.storage import context as q
from tract_tui.storage.context import AnnotationRecord, CommitRecord

#: The role of each built-in content type (``BUILTIN_TYPE_HINTS[...].default_role``).
ROLES = {
    "instruction": "system",
    "dialogue": "user",
    "tool_io": "tool",
    "reasoning": "assistant",
    "artifact": "assistant",
    "output": "assistant",
    "freeform": "assistant",
    "session": "system",
}
#: ``DEFAULT_TYPE_PRIORITIES`` up to schema 7, and what schema 8 changed.
DEFAULT_PRIORITIES = {
    "instruction": "PINNED",
    "dialogue": "NORMAL",
    "tool_io": "NORMAL",
    "reasoning": "NORMAL",
    "artifact": "NORMAL",
    "output": "NORMAL",
    "freeform": "NORMAL",
}
DEFAULT_PRIORITIES_V8 = {**DEFAULT_PRIORITIES, "reasoning": "SKIP"}
MISSING = ContextMessage("system", "[missing content]", None, None)


def default_priority(content_type: str, version: int) -> str:
    table = DEFAULT_PRIORITIES_V8 if version >= 8 else DEFAULT_PRIORITIES
    return table.get(content_type, "NORMAL")


def message_text(data: dict[str, Any]) -> tuple[str, Any]:
    """(role, text) of a blob's content, as ``_map_role`` and ``_extract_message_text`` do."""
    content_type = data.get("content_type", "unknown")
    if content_type == "dialogue":
        role = data.get("role", "user")
    else:
        role = ROLES.get(content_type, "assistant")
    if content_type == "tool_io":
        header = f"Tool {data.get('direction', 'call')}: {data.get('tool_name', 'unknown')}"
        if data.get("status"):
            header += f" ({data['status']})"
        return role, f"{header}\n{json.dumps(data.get('payload', {}), indent=2)}"
    if content_type == "freeform":
        return role, json.dumps(data.get("payload", {}), indent=2)
    if "text" in data:
        return role, data["text"]
    if "content" in data:
        return role, data["content"]
    return role, json.dumps(data)


class TextCache:
    """(role, text) of blobs by content hash, kept between reads: a blob never changes.

    Blobs are content-addressed, so an entry is right for as long as the
    file exists; only the extraction (``json`` parsing, and the library's
    ``indent=2`` dump of tool payloads) is saved, which is most of the cost
    of compiling a long branch. Bounded: cleared when it grows past
    ``limit`` entries (a reviewer's working set is a few tracts).
    """

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._texts: dict[str, tuple[str, str, bool]] = {}

    def get(self, content_hash: str) -> tuple[str, str, bool] | None:
        return self._texts.get(content_hash)

    def put(self, content_hash: str, entry: tuple[str, str, bool]) -> None:
        if len(self._texts) >= self.limit:
            self._texts = {}
        self._texts[content_hash] = entry


@dataclass
class TractReader:
    """One tract's commits and annotations, read at once; blobs and merge parents on demand.

    Holds the connection of one read snapshot for as long as it is used.
    ``version`` is the file's schema version (defaults changed at 8).
    ``texts`` carries extracted message texts between readers (the service
    keeps one), so a second look at the same tract decodes nothing again.
    review/tractcache.py's ``load`` builds it, sharing what a service kept
    (commits, annotations, chains, walks, compiled rows) while it holds.
    """

    conn: sqlite3.Connection
    tract_id: str
    version: int
    commits: dict[str, CommitRecord] = field(default_factory=dict)
    refs: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    texts: TextCache = field(default_factory=TextCache)
    _payloads: dict[str, str] = field(default_factory=dict)
    _notes: dict[str, AnnotationRecord | None] = field(default_factory=dict)
    #: True once every annotation of this tract's commits is in _notes (tractcache.load).
    _all_notes: bool = False
    _merges: dict[str, list[str]] | None = None
    #: walk() and context_rows() by head: one look (before, after, a range) reuses them.
    _chains: dict[str, list[CommitRecord]] = field(default_factory=dict)
    _walks: dict[str, list[CommitRecord]] = field(default_factory=dict)
    _rows: dict[str, list[ContextRow]] = field(default_factory=dict)
    #: A blob was missing (it may yet be written): this look's rows are not kept.
    _missing: bool = False

    # --- refs ----------------------------------------------------------------------

    def head(self) -> str | None:
        """HEAD's commit, through its branch when it is attached (``RefRepository.get_head``)."""
        found = self.refs.get("HEAD")
        if found is None:
            return None
        commit_hash, symbolic = found
        if symbolic:
            return self.refs.get(symbolic, (None, None))[0]
        return commit_hash

    def current_branch(self) -> str | None:
        symbolic = self.refs.get("HEAD", (None, None))[1]
        if symbolic and symbolic.startswith("refs/heads/"):
            return symbolic.removeprefix("refs/heads/")
        return None

    def detached(self) -> bool:
        head = self.refs.get("HEAD")
        return head is not None and head[1] is None

    def branch_tip(self, name: str) -> str | None:
        return self.refs.get(f"refs/heads/{name}", (None, None))[0]

    def branches(self) -> list[str]:
        return sorted(
            r.removeprefix("refs/heads/") for r in self.refs if r.startswith("refs/heads/")
        )

    # --- what compile reads --------------------------------------------------------------

    def chain(self, head: str) -> list[CommitRecord]:
        """First-parent ancestors of ``head`` within the tract, root first (get_ancestors).

        Kept per head, like the walk: callers read it, never change it.
        """
        found = self._chains.get(head)
        if found is None:
            found = self._chains[head] = self._chain(head)
        return found

    def _chain(self, head: str) -> list[CommitRecord]:
        out: list[CommitRecord] = []
        current: str | None = head
        known = self._chains
        while current is not None and current in self.commits:
            if current in known:  # an ancestor's chain, kept: the agent committed since
                out.reverse()
                return [*known[current], *out]
            c = self.commits[current]
            out.append(c)
            current = c.parent_hash
        out.reverse()
        return out

    def merge_parents(self) -> dict[str, list[str]]:
        """Parents of the tract's merge commits, read once."""
        if self._merges is None:
            self._merges = q.tract_merge_parents(self.conn, self.tract_id)
        return self._merges

    def payload(self, content_hash: str) -> str | None:
        if content_hash not in self._payloads:
            self._payloads.update(q.payloads(self.conn, [content_hash]))
        return self._payloads.get(content_hash)

    def preload(self, commits: Iterable[CommitRecord]) -> None:
        """Read the blobs (those not already extracted) and annotations of many commits."""
        commits = list(commits)
        extracted, raw = self.texts._texts, self._payloads
        want = {h for c in commits if (h := c.content_hash) not in raw and h not in extracted}
        self._payloads.update(q.payloads(self.conn, want))
        notes, own = self._notes, self.commits if self._all_notes else {}
        hashes = [h for c in commits if (h := c.commit_hash) not in notes and h not in own]
        found = q.latest_annotations(self.conn, hashes)
        self._notes.update({h: found.get(h) for h in hashes})

    def _noted(self, commit_hash: str) -> bool:
        return commit_hash in self._notes or (self._all_notes and commit_hash in self.commits)

    def annotation(self, commit_hash: str) -> AnnotationRecord | None:
        if not self._noted(commit_hash):
            self._notes[commit_hash] = q.latest_annotations(self.conn, [commit_hash]).get(
                commit_hash
            )
        return self._notes.get(commit_hash)

    def priority(self, c: CommitRecord) -> str:
        note = self.annotation(c.commit_hash)
        return note.priority if note is not None else default_priority(c.content_type, self.version)

    def text(self, content_hash: str) -> tuple[str, str, bool]:
        """(role, text, known size) of a blob as the library extracts it; cached by hash."""
        cached = self.texts.get(content_hash)
        if cached is not None:
            return cached
        raw = self.payload(content_hash)
        if raw is None:  # not cached: the blob may still be written
            self._missing = True
            return MISSING.role, MISSING.content, False
        try:
            data = json.loads(raw)
        except ValueError:
            entry = ("system", "[content is not JSON]", False)
        else:
            role, text = message_text(data if isinstance(data, dict) else {})
            entry = (str(role), text if isinstance(text, str) else json.dumps(text), True)
        self.texts.put(content_hash, entry)
        self._payloads.pop(content_hash, None)
        return entry

    def message(self, c: CommitRecord, source: CommitRecord | None = None) -> ContextMessage:
        """``c``'s message, its content from ``source`` (an edit of it) when given."""
        source = source or c
        role, text, sized = self.text(source.content_hash)
        return ContextMessage(role, text, c.commit_hash, source.token_count if sized else None)


def walk(reader: TractReader, head: str) -> list[CommitRecord]:
    """The commits compile reads: the chain, each merge's second parent's own commits first.

    Kept per head on the reader (a list nobody changes): predicting an
    effect walks the same head for the context before and after.
    """
    found = reader._walks.get(head)
    if found is None:
        found = reader._walks[head] = _walk(reader, head)
    return found


def head_rows(reader: TractReader, head: str) -> list[ContextRow]:
    """``context_rows`` of the walk from ``head``, kept on the reader like the walk."""
    found = reader._rows.get(head)
    if found is None:
        commits = walk(reader, head)
        found = _grown_rows(reader, commits)
        if found is None:
            found = context_rows(reader, commits)
        if not reader._missing:
            reader._rows[head] = found
    return found


#: How far back from a new head to look for one whose rows are kept.
GROWN_LIMIT = 1_000


def _grown_rows(reader: TractReader, commits: list[CommitRecord]) -> list[ContextRow] | None:
    """The rows of an ancestor's head, kept, plus those of the commits added after it.

    Exact when the added commits are plain (no EDIT: an edit rewrites an
    earlier row) and the tract has no merges (a merge brings commits from
    before). Otherwise None: compile the whole walk.
    """
    if reader.merge_parents():
        return None
    kept = reader._rows
    for back in range(1, min(len(commits), GROWN_LIMIT) + 1):
        c = commits[-back]
        if c.operation == "EDIT":
            return None
        known = kept.get(c.commit_hash) if back > 1 else None
        if known is not None:
            return [*known, *context_rows(reader, commits[len(commits) - back + 1 :])]
    return None


def _walk(reader: TractReader, head: str) -> list[CommitRecord]:
    first = reader.chain(head)
    parents = reader.merge_parents()
    if not parents:
        return first
    seen = {c.commit_hash for c in first}
    out: list[CommitRecord] = []
    for c in first:
        extra = parents.get(c.commit_hash, [])
        if len(extra) >= 2:
            branch: list[CommitRecord] = []
            current: str | None = extra[1]
            while current is not None and current not in seen:
                found = reader.commits.get(current)
                if found is None:
                    break
                branch.append(found)
                current = found.parent_hash
            branch.reverse()
            seen.update(b.commit_hash for b in branch)
            out.extend(branch)
        out.append(c)
    return out


def context_rows(reader: TractReader, commits: list[CommitRecord]) -> list[ContextRow]:
    """Every message-bearing commit of a walked list, in order, with its priority.

    EDIT commits are not rows (they replace their target's content: the
    latest edit by time wins); a SKIP commit is a row that is not ``shown``.
    The loop is written flat (no method call per commit that it can avoid):
    it runs once per commit of a branch on every look at a proposal.
    """
    reader.preload(commits)
    edits: dict[str, CommitRecord] = {}
    for c in commits:
        if c.operation == "EDIT" and c.edit_target is not None:
            known = edits.get(c.edit_target)
            if known is None or c.created_at > known.created_at:
                edits[c.edit_target] = c
    reader.preload(edits.values())
    defaults = DEFAULT_PRIORITIES_V8 if reader.version >= 8 else DEFAULT_PRIORITIES
    notes = reader._notes
    cached = reader.texts._texts
    text = reader.text
    rows = []
    for c in commits:
        if c.operation == "EDIT":
            continue
        note = notes.get(c.commit_hash)
        priority = note.priority if note is not None else defaults.get(c.content_type, "NORMAL")
        source = edits.get(c.commit_hash) or c
        extracted = cached.get(source.content_hash) or text(source.content_hash)
        role, content, sized = extracted
        tokens = source.token_count if sized else None
        message = ContextMessage(role, content, c.commit_hash, tokens)
        rows.append(ContextRow(message, priority, priority != "SKIP", source is not c))
    return rows


def compile_head(reader: TractReader, head: str | None) -> Context:
    """What ``Tract.compile()`` returns for a head (empty when there is none)."""
    if head is None:
        return Context(())
    return Context(tuple(r.message for r in head_rows(reader, head) if r.shown))


def context_view(reader: TractReader, branch: str | None) -> ContextView:
    """``branch``'s compiled context row by row (HEAD's, attached or detached, when None)."""
    if branch is None:
        head, shown_branch = reader.head(), reader.current_branch()
    else:
        head, shown_branch = reader.branch_tip(branch), branch
    rows = head_rows(reader, head) if head is not None else []
    return ContextView(reader.tract_id, shown_branch, head, tuple(rows))
