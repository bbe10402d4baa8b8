"""``list --json`` / ``log --json`` fast paths print what the models' general path prints.

The fast path writes valid stored JSON params as they are and builds each
object by hand. For every row it takes, its text must read back as the
same JSON value as ``dump_json(model.to_json())``, and be byte-identical
where the stored params are spelled as Python spells them (stored text
such as ``12e3`` is passed through, not re-spelled ``12000.0``). The rows it
refuses go the general way (an exponent Python reads as infinity, odd times).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tract_tui.cli.fastjson import _proposal, log_line, proposal_line
from tract_tui.cli.output import dump_json
from tract_tui.storage.connection import connect
from tract_tui.storage.rows import log_from
from tract_tui.storage.sql import stream_fast

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
HEXISH = st.text("0123456789abcdefE+-.", min_size=1, max_size=12)
JSON_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | TEXT
    | HEXISH
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
TIME = st.sampled_from(
    ["2026-02-25 12:00:00.000001", "2026-02-25 12:00:00", "2026-02-25T12:00:00", "1740000000"]
)


@st.composite
def params_text(draw: st.DrawFn) -> str:
    text = json.dumps(draw(JSON_VALUE), ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):  # numbers as another writer may spell them: 1e400, 2E+308
        text = json.dumps({"n": draw(st.sampled_from(["1e400", "2E+308", "-5e-324", "12e3"]))})
        text = text.replace('"n": "', '"n": ').rstrip('"}') + "}"
    return text


@settings(max_examples=400, deadline=None)
@given(
    pid=TEXT, tract=TEXT, policy=TEXT, action=TEXT, params=params_text(),
    reason=st.none() | TEXT, status=st.sampled_from(["pending", "executed", "rejected"]),
    created=TIME, resolved=st.none() | TIME, conflict=st.booleans(),
)  # fmt: skip
def test_proposal_fast_path_equals_general_path(
    pid: str, tract: str, policy: str, action: str, params: str, reason: str | None,
    status: str, created: str, resolved: str | None, conflict: bool,
) -> None:  # fmt: skip
    json.loads(params)  # the strategy makes valid JSON text (json_valid = 1)
    row: tuple[Any, ...] = (pid, tract, policy, action, params, reason, status, created,
                            resolved, 1, "text", conflict)  # fmt: skip
    fast = proposal_line(row)
    general = dump_json({**_proposal(row).to_json(), "conflict": conflict})
    if fast is not None:
        text = "".join(fast)
        assert json.loads(text) == json.loads(general)
        if params == json.dumps(json.loads(params), ensure_ascii=False):
            assert text == general
    assert json.loads(general)["conflict"] is conflict


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.none() | TEXT, min_size=8, max_size=8),
    created=TIME, rid=st.integers(1, 2**62),
)  # fmt: skip
def test_log_fast_path_equals_general_path(
    values: list[str | None], created: str, rid: int
) -> None:
    row = (rid, *values, created)
    fast = log_line(row)
    if fast is not None:
        assert fast == dump_json(log_from(row).to_json())


def test_a_hash_in_a_string_is_no_exponent() -> None:
    """ "6e904" inside a string once sent a quarter of real rows down the slow path."""
    row = ("p", "t", "pol", "annotate", '{"target_hash": "636e904ab"}', "r", "pending",
           "2026-02-25 12:00:00.000001", None, 1, "text", False)  # fmt: skip
    assert proposal_line(row) is not None
    big = ("p", "t", "pol", "annotate", '{"x": 1e400}', "r", "pending",
           "2026-02-25 12:00:00.000001", None, 1, "text", False)  # fmt: skip
    assert proposal_line(big) is None  # Python reads it as infinity: the general path decides


def test_stream_fast_reads_past_bad_utf8_in_a_later_batch(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 in the third batch: every row comes, in order, the bad one
    with U+FFFD (the rows before it are not repeated)."""
    db = tmp_path / "t.db"
    sqlite3.connect(db).close()  # connect() opens existing files only
    conn = connect(str(db))
    conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, s TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"row {i}") for i in range(1200)])
    conn.execute("UPDATE t SET s = CAST(X'6F6BFF' AS TEXT) WHERE n = 1100")
    got = list(stream_fast(conn, "SELECT n, s FROM t ORDER BY n", (), batch=500))
    conn.close()
    assert [n for n, _ in got] == list(range(1200))
    assert got[1100][1] == "ok\ufffd" and got[1099][1] == "row 1099"
