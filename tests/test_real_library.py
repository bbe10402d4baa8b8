"""tract-tui against the real tract library, differentially: the library's answer is the truth.

The databases are written by the library itself (its authors' generator,
and tests/tractlib/scenarios.py: edits, pinned commits in the middle of a
range, hidden output, an earlier compression, branches, a detached HEAD,
an empty tract, several tracts), at each schema version (v5, v6, v8).

- before: tract-tui's compiled context equals the library's ``compile()``
  message by message (role and content), for every tract and branch;
- after: on a copy, the library approves each pending proposal itself. If
  it raises, tract-tui predicted ``will_fail`` (with the library's reason);
  if not, tract-tui's ``context_after`` equals the library's ``compile()``.
  The one thing a file cannot tell, whether the agent has an LLM to write
  a summary, tract-tui says instead of guessing (``notes``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.tractlib.compare import check, messages
from tests.tractlib.harness import VERSIONS, Library, ask, run_script
from tests.tractlib.record import ANSWERS, answers_for
from tract_tui.review.service import ReviewService


@pytest.fixture(scope="module", params=VERSIONS)
def written(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(version, the library's databases, the proposals scenarios.py wrote)."""
    version = request.param
    out = tmp_path_factory.mktemp(f"lib-{version}")
    scenarios = out / "scenarios.db"
    labels = json.loads(run_script(version, "scenarios.py", str(scenarios)))
    generated = out / "generated.db"
    run_script(version, "make_tract_db.py", str(generated))
    return version, [scenarios, generated], labels


def snapshot(path: Path, tmp: Path) -> Path:
    """A copy to read from (the original stays the library's, untouched by tract-tui)."""
    copy = tmp / f"read-{path.name}"
    shutil.copy(path, copy)
    return copy


def test_compile_equals_the_library_for_every_tract_and_branch(written, tmp_path: Path) -> None:
    version, dbs, _ = written
    checked = 0
    for db in dbs:
        svc = ReviewService.open(snapshot(db, tmp_path), read_only=True)
        try:
            refs = svc.context_refs()
            tasks = [{"op": "compile", "db": str(db), "tract": t} for t, _, _ in refs]
            ours = [messages(svc.context(t)) for t, _, _ in refs]
            for tract, _, branches in refs:
                for branch in branches:
                    tip = svc.branch_tip(tract, branch)
                    tasks.append({"op": "compile", "db": str(db), "tract": tract, "head": tip})
                    ours.append(messages(svc.context(tract, branch)))
        finally:
            svc.close()
        answers = ask(version, tasks)
        for task, mine, theirs in zip(tasks, ours, answers, strict=True):
            assert mine == theirs["messages"], (version, db.name, task)
            checked += 1
    assert checked >= 10


def test_every_prediction_matches_what_the_library_does(written, tmp_path: Path) -> None:
    version, dbs, _ = written
    cases: list[tuple[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for db in dbs:
        svc = ReviewService.open(snapshot(db, tmp_path), read_only=True)
        try:
            for p in svc.list_proposals(limit=1000):
                copy = tmp_path / f"{db.stem}-{p.proposal_id}.db"
                shutil.copy(db, copy)
                tasks.append({"op": "compile", "db": str(db), "tract": p.tract_id})
                tasks.append({"op": "approve", "db": str(copy), "tract": p.tract_id,
                              "proposal": p.proposal_id})  # fmt: skip
                cases.append((f"{db.stem}:{p.reason}", svc.effect(p.proposal_id)))
        finally:
            svc.close()
    answers = ask(version, tasks)
    kinds: dict[str, int] = {"executed": 0, "failed": 0, "llm": 0}
    for i, (label, effect) in enumerate(cases):
        kinds[check(effect, answers[2 * i], answers[2 * i + 1], (version, label))] += 1
    assert kinds["executed"] >= 12 and kinds["failed"] >= 12 and kinds["llm"] >= 1, kinds


def test_a_service_kept_open_predicts_right_as_the_library_changes_the_file(
    written, tmp_path: Path
) -> None:
    """The service keeps tracts it read between looks (review/tractcache.py). Here the
    library executes proposal after proposal in place, on the very file one service
    keeps open: each prediction, made from what was kept, still matches what the library
    then does, and every tract's context matches its compile() after each step."""
    version, dbs, _ = written
    db = tmp_path / "kept.db"
    shutil.copy(dbs[0], db)
    svc = ReviewService.open(db, read_only=True)
    kinds: dict[str, int] = {"executed": 0, "failed": 0, "llm": 0}
    try:
        pending = svc.list_proposals(limit=1000)
        tracts = sorted({p.tract_id for p in pending})
        for tract in tracts:
            svc.context(tract)  # read and kept before the library changes anything
        with Library(version) as library:
            for p in pending:
                label = (version, p.reason)
                compiled = library.ask({"op": "compile", "db": str(db), "tract": p.tract_id})
                effect = svc.effect(p.proposal_id)
                done = library.ask({"op": "approve", "db": str(db), "tract": p.tract_id,
                                    "proposal": p.proposal_id})  # fmt: skip
                kinds[check(effect, compiled, done, label)] += 1
                for tract in tracts:
                    theirs = library.ask({"op": "compile", "db": str(db), "tract": tract})
                    assert messages(svc.context(tract)) == theirs["messages"], (label, tract)
    finally:
        svc.close()
    assert kinds["executed"] >= 8 and kinds["failed"] >= 4, kinds


def test_the_recorded_answers_are_still_the_librarys(written) -> None:
    """tests/fixtures/library-answers.json (what test_effect.py checks against) is not stale."""
    version = written[0]
    recorded = json.loads(ANSWERS.read_text())
    for name, entry in recorded.items():
        if entry["version"] == version:
            with tempfile.TemporaryDirectory() as tmp:
                assert answers_for(name, version, Path(tmp)) == entry["proposals"], name


def test_the_library_reads_every_pending_proposal_we_list(written, tmp_path: Path) -> None:
    """tract-tui lists exactly the proposals the library calls pending, tract by tract."""
    version, dbs, _ = written
    for db in dbs:
        svc = ReviewService.open(snapshot(db, tmp_path), read_only=True)
        try:
            by_tract: dict[str, set[str]] = {}
            for p in svc.list_proposals(limit=1000):
                by_tract.setdefault(p.tract_id, set()).add(p.proposal_id)
        finally:
            svc.close()
        tracts = sorted(by_tract)
        answers = ask(version, [{"op": "pending", "db": str(db), "tract": t} for t in tracts])
        assert {t: set(a["ids"]) for t, a in zip(tracts, answers, strict=True)} == by_tract
