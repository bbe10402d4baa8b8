"""Record (tract_tui/models/record.py): the frozen-dataclass behaviour the launch path relies on."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest

from tract_tui.app.paging import Listing
from tract_tui.models.record import Record
from tract_tui.models.review import Criteria, LogEntry, Order, Proposal
from tract_tui.review.filters import Filter, Term


def proposal(**changes: object) -> Proposal:
    values: dict[str, object] = {
        "proposal_id": "p1",
        "tract_id": "t",
        "policy_name": "pol",
        "action_type": "annotate",
        "params_raw": '{"a": 1}',
        "reason": "why",
        "status": "pending",
        "created_at": datetime(2026, 1, 2, 3, 4, 5),
        "resolved_at": None,
        "created_at_raw": "2026-01-02 03:04:05",
        "key": ("2026-01-02 03:04:05", "p1", 1),
    }
    values.update(changes)
    return Proposal(**values)  # type: ignore[arg-type]


def test_equal_values_are_equal_and_hash_alike_and_the_key_is_not_compared() -> None:
    a, b = proposal(), proposal(key=("other", "p1", 99), params_size=None)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != proposal(reason="another") and a != proposal(status="approved")
    assert Order() == Order("age", False) != Order("age", True)
    assert Filter((Term("tract", "x"),), "tract:x") == Filter((Term("tract", "x"),), "tract:x ")
    assert Term("tract", "x") != Filter((Term("tract", "x"),))  # another class is never equal


def test_a_record_cannot_be_changed() -> None:
    p = proposal()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.status = "approved"  # mypy does not know a Record is frozen: the runtime does
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.reason
    assert p.status == "pending"


def test_stored_values_that_are_not_text_become_text_and_a_missing_id_is_empty() -> None:
    p = proposal(proposal_id=None, reason=123, params_raw=b'{"b": 2}')
    assert (p.proposal_id, p.reason, p.params_raw) == ("", "123", '{"b": 2}')
    assert p.params == {"b": 2}  # cached on the instance, which is still frozen
    e = LogEntry(1, "t", 7, "commit", None, None, "skipped", None, None, None)  # type: ignore[arg-type]
    assert e.policy_name == "7"


def test_defaults_are_not_shared_and_repr_names_the_compared_fields() -> None:
    a, b = Criteria(), Criteria()
    assert a.include == {} and a.include is not b.include
    assert repr(Order()) == "Order(key='age', descending=False)"
    assert "key=" not in repr(proposal()).split("created_at_raw")[1]


def test_replace_keeps_every_other_field() -> None:
    listing = Listing(10, 3, {0: [proposal()]}, provisional=True)
    moved = listing.replace(index=4)
    assert (moved.total, moved.index, moved.provisional) == (10, 4, True)
    assert moved.pages is listing.pages
    p = proposal(params_size=5000)
    assert p.replace(status="approved").params_size == 5000
    assert p.replace(status="approved").key == p.key


def all_records() -> list[type[Record]]:
    """Every Record subclass once every module of the launch path is imported."""
    import tract_tui.app.app
    import tract_tui.cli  # noqa: F401  (every module of the launch path, records included)

    def subclasses(cls: type[Record]) -> list[type[Record]]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    return subclasses(Record)


def test_every_record_names_each_init_parameter_once_and_declares_it() -> None:
    """What a dataclass derived from its annotations, a Record spells out three times (the
    annotations, ``__init__``, ``_fields`` + ``_other_fields``): they must agree, or equality
    and ``replace`` would silently leave a field out."""
    import inspect

    found = all_records()
    assert len(found) >= 25
    for cls in found:
        params = [p for p in inspect.signature(cls).parameters]
        named = [*cls._fields, *cls._other_fields]
        declared = [n for n in inspect.get_annotations(cls) if not n.startswith("_")]
        assert sorted(named) == sorted(params) == sorted(declared), cls.__qualname__
        assert len(set(named)) == len(named), cls.__qualname__


def test_mypy_knows_a_record_is_frozen(tmp_path: Path) -> None:
    """What the runtime refuses, the type checker refuses too (Record's dataclass_transform).

    Assigning a field of each record of the launch path, in a probe file: mypy
    must report every line (a frozen dataclass's fields are read-only to it).
    """
    import shutil
    import subprocess
    import sys

    if shutil.which("mypy", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mypy is not installed (it comes with the test extra)")

    lines = ["from typing import Any", "", "", "def probe(values: list[Any]) -> None:"]
    records = [c for c in all_records() if c._fields]
    for i, cls in enumerate(records):
        lines.insert(0, f"from {cls.__module__} import {cls.__name__} as R{i}")
        lines.append(f"    r{i}: R{i} = values[{i}]")
        lines.append(f"    r{i}.{cls._fields[0]} = values[{i}]  # line of R{i}")
    probe = tmp_path / "probe.py"
    probe.write_text("\n".join(lines) + "\n")
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir=/dev/null", "--follow-imports=silent",
         "--no-error-summary", str(probe)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    text = probe.read_text().splitlines()
    flagged = {text[int(line.split(":")[1]) - 1].split("# line of ")[-1] for line in
               r.stdout.splitlines() if "is read-only" in line}  # fmt: skip
    assert flagged == {f"R{i}" for i in range(len(records))}, r.stdout
