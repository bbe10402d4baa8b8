"""What a proposal's action would touch, as facts read from the same file.

The rules of what a reviewer is shown per action type live here; the SQL
that reads commits, refs and chains is in :mod:`tract_tui.storage.impact`.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tract_tui.models.review import Impact, Proposal
from tract_tui.storage import impact as q


def impact(conn: sqlite3.Connection, proposal: Proposal) -> Impact:
    """The facts about the proposal's target, read on ``conn`` (one snapshot)."""
    params = proposal.params if isinstance(proposal.params, dict) else {}
    builder = _BUILDERS.get(proposal.action_type)
    if builder is not None:
        return builder(conn, proposal.tract_id, params)
    return Impact(
        f"{proposal.action_type} (an action tract-tui does not know): its params",
        fields=[(str(k), short(v)) for k, v in params.items()],
    )


def _commit_facts(
    conn: sqlite3.Connection, tract_id: str, commit_hash: str
) -> tuple[list[tuple[str, str]], str | None, list[str]]:
    found = q.commit_info(conn, commit_hash)
    if found is None:
        return [("commit", commit_hash)], None, [f"commit {commit_hash[:12]} is not in this file"]
    fields = [
        ("commit", found.commit_hash),
        ("content type", found.content_type),
        ("tokens", str(found.token_count)),
        ("committed", found.created_at[:19]),
    ]
    if found.message:
        fields.append(("message", found.message))
    warnings = []
    if found.tract_id != tract_id:
        warnings.append(f"commit belongs to tract {found.tract_id}, not {tract_id}")
    return fields, content_preview(found.payload_json), warnings


def _annotate(conn: sqlite3.Connection, tract_id: str, params: dict[str, Any]) -> Impact:
    target = str(params.get("target_hash") or "")
    if not target:
        return Impact("annotate: no target_hash in params", warnings=["nothing to annotate"])
    fields, preview, warnings = _commit_facts(conn, tract_id, target)
    current = q.latest_annotation(conn, target)  # the NAME as stored: a newer one is shown as is
    fields.append(
        ("current priority", "normal (no annotation)" if current is None else current[0].lower())
    )
    fields.append(("proposed priority", str(params.get("priority", "?")).lower()))
    if params.get("reason"):
        fields.append(("annotation reason", str(params["reason"])))
    return Impact("annotate: change the priority of a commit", fields, preview, warnings)


def _tip_facts(
    conn: sqlite3.Connection, tract_id: str, tip: str
) -> tuple[list[tuple[str, str]], str | None, list[str]]:
    fields, preview, warnings = _commit_facts(conn, tract_id, tip)
    return [("tip " + k, v) for k, v in fields[:3]], preview, warnings


def _branch(conn: sqlite3.Connection, tract_id: str, params: dict[str, Any]) -> Impact:
    name, tip = q.current_branch(conn, tract_id)
    fields = [
        ("new branch", str(params.get("name", "?"))),
        ("switch to it", "yes" if params.get("switch") else "no"),
        ("from branch", name or "(detached HEAD)"),
    ]
    warnings: list[str] = []
    preview = None
    if tip:
        tip_fields, preview, warnings = _tip_facts(conn, tract_id, tip)
        fields += tip_fields
    else:
        warnings.append("the tract has no HEAD commit")
    if params.get("name") and q.branch_tip(conn, tract_id, str(params["name"])):
        warnings.append(f"branch {params['name']} already exists")
    return Impact("branch: create a branch at the current tip", fields, preview, warnings)


def _archive(conn: sqlite3.Connection, tract_id: str, params: dict[str, Any]) -> Impact:
    source = str(params.get("source") or "")
    archive = str(params.get("archive_name") or "")
    fields = [("source branch", source or "?"), ("archive as", archive or "?")]
    warnings: list[str] = []
    preview = None
    tip = q.branch_tip(conn, tract_id, source) if source else None
    if tip:
        tip_fields, preview, warnings = _tip_facts(conn, tract_id, tip)
        commits, tokens = q.chain_stats(conn, tip)
        fields += [*tip_fields, ("commits on it", str(commits)), ("tokens on it", str(tokens))]
    else:
        warnings.append(f"branch {source or '?'} does not exist (any more)")
    if archive and q.branch_tip(conn, tract_id, archive):
        warnings.append(f"branch {archive} already exists")
    return Impact("archive: move a stale branch out of the way", fields, preview, warnings)


def _compress(conn: sqlite3.Connection, tract_id: str, params: dict[str, Any]) -> Impact:
    name, tip = q.current_branch(conn, tract_id)
    fields = [("branch", name or "(detached HEAD)")]
    warnings: list[str] = []
    if tip:
        commits, tokens = q.chain_stats(conn, tip)
        fields += [("commits", str(commits)), ("tokens", str(tokens)), ("tip", tip)]
    else:
        warnings.append("the tract has no HEAD commit")
    if "auto_commit" in params:
        fields.append(("auto commit", "yes" if params["auto_commit"] else "no"))
    content = params.get("content")
    return Impact(
        "compress: replace the branch's history with a summary",
        fields,
        str(content) if content is not None else None,
        warnings,
    )


_BUILDERS = {
    "annotate": _annotate,
    "branch": _branch,
    "archive": _archive,
    "compress": _compress,
}


def short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_READABLE_KEYS = ("text", "content", "summary", "stdout", "output", "result", "body")


def _readable(data: Any, depth: int = 0) -> str:
    """The first human text in a payload (looking one level into ``payload``), else JSON."""
    if isinstance(data, dict):
        for key in _READABLE_KEYS:
            if isinstance(data.get(key), str) and data[key].strip():
                return str(data[key])
        inner = data.get("payload")
        if depth == 0 and isinstance(inner, dict | str):
            found = _readable(inner, 1)
            if found:
                return found
    if isinstance(data, str):
        return data
    if depth:
        return ""
    return json.dumps(data, ensure_ascii=False, indent=1)


def content_preview(payload_json: str | None, lines: int = 8) -> str | None:
    """The readable part of a blob payload: text / content / summary, else the JSON."""
    if payload_json is None:
        return None
    try:
        data = json.loads(payload_json)
    except ValueError:
        text = payload_json
    else:
        text = _readable(data)
    parts = text.splitlines()
    out = "\n".join(parts[:lines])
    if len(parts) > lines:
        out += f"\n… ({len(parts) - lines} more lines)"
    return out[:4000]
