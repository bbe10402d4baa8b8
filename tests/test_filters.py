"""The filter language: examples for every key, and hypothesis properties.

Properties: whatever the parser accepts round-trips through ``to_text``;
whatever it rejects raises FilterSyntaxError naming the offending term (a
piece of the input, quoted in the message); nothing else ever escapes it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tract_tui.exceptions import FilterSyntaxError
from tract_tui.review.filters import (
    MAX_AGE,
    TIME_KEYS,
    VALUE_KEYS,
    Filter,
    Term,
    looks_like_a_list,
    parse_age,
    parse_filter,
    parse_when,
)

NOW = datetime(2026, 2, 25, 12, 0, 0)


# --- examples ---------------------------------------------------------------------


@pytest.mark.parametrize("key", VALUE_KEYS)
def test_each_value_key_and_its_negation(key: str) -> None:
    f = parse_filter(f"{key}:a {key}:b -{key}:c")
    assert f.terms == (Term(key, "a"), Term(key, "b"), Term(key, "c", negated=True))
    assert f.values(key) == ["a", "b"]
    assert f.values(key, negated=True) == ["c"]


def test_free_words_and_negated_words() -> None:
    f = parse_filter("timeout -o3-mini 'two words' -\"not this\"")
    assert f.words == ["timeout", "two words"]
    assert f.excluded_words == ["o3-mini", "not this"]


def test_quotes_group_spaces_in_values_and_escape_in_double_quotes() -> None:
    f = parse_filter('policy:"my policy" tract:\'a b\' "say \\"hi\\""')
    assert f.values("policy") == ["my policy"]
    assert f.values("tract") == ["a b"]
    assert f.words == ['say "hi"']


def test_a_quoted_key_is_a_word_and_values_may_hold_colons() -> None:
    assert parse_filter('"policy:x"').terms == (Term(None, "policy:x"),)
    assert parse_filter("policy:a:b").terms == (Term("policy", "a:b"),)
    assert parse_filter('"-"').terms == (Term(None, "-"),)
    assert parse_filter('-"-"').terms == (Term(None, "-", negated=True),)


def test_since_and_until_relative_and_iso() -> None:
    f = parse_filter("since:2h until:30m")
    assert f.bounds(NOW) == (NOW - timedelta(hours=2), NOW - timedelta(minutes=30))
    f = parse_filter("since:2026-02-18 until:2026-02-18")
    since, until = f.bounds(NOW)
    assert since == datetime(2026, 2, 18)
    assert until == datetime(2026, 2, 18, 23, 59, 59, 999999)  # a date-only until: whole day
    f = parse_filter("since:2026-02-18T10:20 until:90s")
    assert f.bounds(NOW) == (datetime(2026, 2, 18, 10, 20), NOW - timedelta(seconds=90))
    assert parse_filter("since:3d since:1w").bounds(NOW)[0] == NOW - timedelta(weeks=1)


def test_iso_with_offset_becomes_local_naive() -> None:
    when = parse_when("2026-02-18T10:20:00+00:00")
    assert when.at is not None and when.at.tzinfo is None
    assert when.at == datetime(2026, 2, 18, 10, 20, tzinfo=UTC).astimezone().replace(tzinfo=None)


def test_basic_iso_date_counts_as_a_whole_day() -> None:
    assert parse_when("20260218").date_only
    assert not parse_when("2026-02-18T00:00").date_only
    assert parse_when("9999-12-31").resolve(NOW, end_of_day=True) == datetime.max


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        (" 7d ", timedelta(days=7)),
    ],
)
def test_parse_age(text: str, age: timedelta) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["", "2", "h", "2x", "-2h", "2.5h", "2 h", "99999999999999d"])
def test_parse_age_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_age(text)


def test_parse_age_bound() -> None:
    assert parse_age(f"{MAX_AGE.days}d") == MAX_AGE
    with pytest.raises(ValueError, match="too long"):
        parse_age(f"{MAX_AGE.days + 1}d")


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("bogus:x", "bogus:x"),
        ("policy:a nope:b", "nope:b"),
        ("policy:", "policy:"),
        ("-since:2h", "-since:2h"),
        ("since:yesterday", "since:yesterday"),
        ("until:2026-13-01", "until:2026-13-01"),
        ("since:9999999999999w", "since:9999999999999w"),
        ('policy:"unclosed', 'policy:"unclosed'),
        ("a - b", "-"),
        ('a ""', '""'),
        ('bogus:"a b" c', 'bogus:"a b"'),
    ],
)
def test_errors_name_the_term(text: str, term: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(text)
    assert info.value.term == term
    assert repr(term) in str(info.value)
    assert text[info.value.position :].startswith(term)


@pytest.mark.parametrize(
    ("context", "text"),
    [("proposals", "outcome:error"), ("proposals", "trigger:commit"), ("log", "status:pending")],
)
def test_context_restricts_keys(context: str, text: str) -> None:
    with pytest.raises(FilterSyntaxError, match="does not apply here"):
        parse_filter(text, context)
    assert parse_filter(text).terms  # fine without a context


def test_empty_filter_is_falsy() -> None:
    assert not parse_filter("   ")
    assert parse_filter("x")
    assert Filter().to_text() == ""


# --- properties ---------------------------------------------------------------------

values = st.text(min_size=1, max_size=12)
whens = st.one_of(
    st.builds(lambda n, u: f"{n}{u}", st.integers(0, 5000), st.sampled_from("smhdw")),
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat(timespec="minutes")),
)
value_terms = st.builds(Term, st.sampled_from(VALUE_KEYS), values, st.booleans()).filter(
    lambda t: not (t.key == "status" and looks_like_a_list(t.value))  # refused on purpose
)
word_terms = st.builds(Term, st.none(), values, st.booleans())
time_terms = st.builds(Term, st.sampled_from(TIME_KEYS), whens)
filters = st.lists(st.one_of(value_terms, word_terms, time_terms), max_size=6).map(
    lambda ts: Filter(tuple(ts))
)


@given(filters)
@settings(max_examples=300)
def test_built_filters_round_trip(f: Filter) -> None:
    text = f.to_text()
    assert parse_filter(text) == f
    assert parse_filter(text).to_text() == text


FRAGMENTS = [
    "policy:",
    "tract:",
    "status:",
    "outcome:",
    "trigger:",
    "action:",
    "since:",
    "until:",
    "bogus:",
    "-",
    '"',
    "'",
    "\\",
    " ",
    "\t",
    ":",
    "2h",
    "30m",
    "2026-02-18",
    "T10:20",
    "x",
    "é",
]
expressions = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)), max_size=12).map(
    "".join
)


@given(expressions)
@settings(max_examples=600)
@example('"-"')
@example("since:99999999999999d")
@example("until:0001-01-01T00:00+14:00")
@example("a\u2028b")
def test_accepted_round_trips_rejected_names_the_term(text: str) -> None:
    try:
        f = parse_filter(text)
    except FilterSyntaxError as e:
        assert e.term, "the error names a term"
        assert text[e.position :].startswith(e.term)
        assert repr(e.term) in str(e)
        return
    assert parse_filter(f.to_text()) == f
    f.bounds(NOW)  # every accepted time resolves


@given(expressions, st.sampled_from(["log", "proposals"]))
@settings(max_examples=200)
def test_context_parse_accepts_a_subset(text: str, context: str) -> None:
    try:
        f = parse_filter(text, context)
    except FilterSyntaxError:
        return
    assert parse_filter(text) == f


def test_a_comma_list_of_statuses_is_refused_with_the_repeated_form() -> None:
    with pytest.raises(FilterSyntaxError) as e:
        parse_filter("status:executed,approved", "proposals")
    assert "status:executed status:approved" in str(e.value)
    both = parse_filter("status:executed status:approved", "proposals")
    assert [t.value for t in both.terms] == ["executed", "approved"]
