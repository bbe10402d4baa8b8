"""The filter language shared by the console, the CLI and the API.

``policy:NAME tract:ID outcome:X trigger:X status:X action:X since:WHEN
until:WHEN`` and free words (matched in reason / error message), separated by
spaces; double or single quotes group spaces (``policy:"my policy"``), a
backslash escapes inside double quotes; a leading ``-`` negates a term.
Terms of one key are OR-ed (``policy:a policy:b``), different keys and free
words are AND-ed; negated terms exclude. WHEN is ISO (``2026-02-18``,
``2026-02-18T10:20``) or relative to now (``90s``, ``30m``, ``2h``, ``3d``,
``1w``). A date-only ``until`` includes that whole day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

from tract_tui.exceptions import FilterSyntaxError
from tract_tui.models.record import Record
from tract_tui.models.review import Criteria

VALUE_KEYS = ("policy", "tract", "outcome", "trigger", "status", "action")
TIME_KEYS = ("since", "until")
ALL_KEYS = VALUE_KEYS + TIME_KEYS
#: Which keys each listing understands.
CONTEXT_KEYS = {
    "log": ("policy", "tract", "outcome", "trigger", "action", "since", "until"),
    "proposals": ("policy", "tract", "status", "action", "since", "until"),
}

#: What each key matches: the one description the CLI's --help, the console's help and
#: the README's table are made from.
KEY_DOCS: dict[str, str] = {
    "policy": "that policy",
    "tract": "that tract",
    "action": "that action type",
    "status": "that status instead of pending (status:approved, -status:pending)",
    "outcome": "that outcome (error, skipped, approved...)",
    "trigger": "that trigger (commit, compile, review, execute)",
    "since": "created at or after WHEN",
    "until": "created at or before WHEN (a date-only until includes that day)",
}
#: Where free words are looked for, per listing.
WORD_DOCS = {"log": "the reason or the error message", "proposals": "the reason"}
WHEN_DOC = "WHEN is ISO (2026-02-18, 2026-02-18T10:20) or an age before now (90s, 30m, 2h, 3d, 1w)."
SYNTAX_DOC = (
    'Quotes group spaces (policy:"my policy"); a leading - negates a term\n'
    "(-policy:auto-pin -timeout); terms of one key are OR-ed, different keys AND-ed."
)

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_KEY = re.compile(r"^([a-z_]+):")
#: The longest age accepted: anything longer cannot be subtracted from "now" safely.
MAX_AGE = timedelta(days=365_250)


class When(Record):
    """A point in time as written: relative (an age) or absolute."""

    text: str
    age: timedelta | None
    at: datetime | None
    date_only: bool
    _fields = ("text", "age", "at", "date_only")

    def __init__(
        self,
        text: str,
        age: timedelta | None = None,
        at: datetime | None = None,
        date_only: bool = False,
    ) -> None:
        self.__dict__.update(text=text, age=age, at=at, date_only=date_only)

    def resolve(self, now: datetime, *, end_of_day: bool = False) -> datetime:
        """The datetime meant, relative to ``now`` (naive local, like the database)."""
        if self.age is not None:
            return now - self.age
        assert self.at is not None
        if self.date_only and end_of_day:
            if self.at.date() == datetime.max.date():
                return datetime.max
            return self.at + timedelta(days=1) - timedelta(microseconds=1)
        return self.at


def parse_age(text: str) -> timedelta:
    """``90s``/``30m``/``2h``/``3d``/``1w`` -> timedelta; ValueError otherwise."""
    m = _RELATIVE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not an age like 90s, 30m, 2h, 3d or 1w")
    age: timedelta | None
    try:
        age = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    except OverflowError:
        age = None
    if age is None or age > MAX_AGE:
        raise ValueError(f"{text!r} is too long an age (at most 1000 years)")
    return age


def format_age(age: timedelta) -> str:
    """An age as :func:`parse_age` reads it, in the largest whole unit (``3d``, ``90s``)."""
    seconds = int(age.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_when(text: str) -> When:
    """Parse a WHEN; ValueError with a readable message otherwise."""
    text = text.strip()
    if _RELATIVE.match(text):
        return When(text, age=parse_age(text))
    bad = ValueError(
        f"{text!r} is not a time: use ISO (2026-02-18, 2026-02-18T10:20) or an age "
        "(90s, 30m, 2h, 3d)"
    )
    try:
        at = datetime.fromisoformat(text)
        if at.tzinfo is not None:
            at = at.astimezone().replace(tzinfo=None)  # the database is naive local time
    except (ValueError, OverflowError):
        raise bad from None
    return When(text, at=at, date_only=_is_date_only(text))


def _is_date_only(text: str) -> bool:
    """A date without a time of day (``2026-02-18``, ``20260218``, ``2026-W08-3``)."""
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


class Term(Record):
    """One term: ``key`` None is a free word."""

    key: str | None
    value: str
    negated: bool
    _fields = ("key", "value", "negated")

    def __init__(self, key: str | None, value: str, negated: bool = False) -> None:
        self.__dict__.update(key=key, value=value, negated=negated)

    def to_text(self) -> str:
        value = _quote(self.value, force=self.key is None and _KEY.match(self.value) is not None)
        body = value if self.key is None else f"{self.key}:{value}"
        return ("-" if self.negated else "") + body


def _quote(value: str, *, force: bool = False) -> str:
    plain = value and not any(c.isspace() or c in "\"'\\" for c in value)
    if plain and not force and not value.startswith("-"):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Filter(Record):
    """A parsed filter: the terms in the order written (``text`` as typed, not compared)."""

    terms: tuple[Term, ...]
    text: str
    _fields = ("terms",)
    _other_fields = ("text",)

    def __init__(self, terms: tuple[Term, ...] = (), text: str = "") -> None:
        self.__dict__.update(terms=terms, text=text)

    def to_text(self) -> str:
        return " ".join(t.to_text() for t in self.terms)

    def values(self, key: str, *, negated: bool = False) -> list[str]:
        return [t.value for t in self.terms if t.key == key and t.negated == negated]

    @property
    def words(self) -> list[str]:
        return self.values_free(False)

    @property
    def excluded_words(self) -> list[str]:
        return self.values_free(True)

    def values_free(self, negated: bool) -> list[str]:
        return [t.value for t in self.terms if t.key is None and t.negated == negated]

    def when(self, key: str) -> When | None:
        """The last ``since``/``until`` given (they are validated when parsed)."""
        found = self.values(key)
        return parse_when(found[-1]) if found else None

    def bounds(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        since = self.when("since")
        until = self.when("until")
        return (
            since.resolve(now) if since else None,
            until.resolve(now, end_of_day=True) if until else None,
        )

    def criteria(self, now: datetime) -> Criteria:
        """What the filter asks for, with relative times resolved against ``now``."""
        include: dict[str, tuple[str, ...]] = {}
        exclude: dict[str, tuple[str, ...]] = {}
        for key in VALUE_KEYS:
            if wanted := self.values(key):
                include[key] = tuple(wanted)
            if unwanted := self.values(key, negated=True):
                exclude[key] = tuple(unwanted)
        since, until = self.bounds(now)
        return Criteria(
            include, exclude, tuple(self.words), tuple(self.excluded_words), since, until
        )

    def __bool__(self) -> bool:
        return bool(self.terms)


def _tokenize(text: str) -> list[tuple[str, int, int, bool]]:
    """Split into (token, start, end, key_was_quoted) honouring quotes; raise on an open quote."""
    tokens: list[tuple[str, int, int, bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        buf: list[str] = []
        first_quote_at: int | None = None
        while i < n and not text[i].isspace():
            c = text[i]
            if c in "\"'":
                if first_quote_at is None:
                    first_quote_at = len(buf)
                quote, j = c, i + 1
                while j < n and text[j] != quote:
                    if quote == '"' and text[j] == "\\" and j + 1 < n:
                        j += 1
                    buf.append(text[j])
                    j += 1
                if j >= n:
                    raise FilterSyntaxError(
                        f"unclosed {quote} in filter at column {i + 1}: {text[start:]!r}",
                        text[start:],
                        start,
                    )
                i = j + 1
            else:
                buf.append(c)
                i += 1
        token = "".join(buf)
        # a quote before the first ':' means the colon is part of a quoted word
        colon = token.find(":")
        quoted_key = first_quote_at is not None and (colon < 0 or first_quote_at <= colon)
        tokens.append((token, start, i, quoted_key))
    return tokens


#: The statuses a proposal can have (the library's five, and tract-tui's ``executing``).
STATUSES = ("pending", "approved", "rejected", "expired", "executed", "executing")


def looks_like_a_list(value: str) -> bool:
    """``executed,approved``: statuses joined by commas, which no status is (a list was meant)."""
    parts = value.split(",")
    return len(parts) > 1 and all(p.strip().lower() in STATUSES for p in parts)


#: What a value of each key is called in a hint ("'auto-compress' is a policy").
KEY_NOUNS = {
    "policy": "policy",
    "tract": "tract",
    "outcome": "log outcome",
    "trigger": "trigger",
    "status": "status",
    "action": "action type",
}


def suggest_term(flt: Filter, known: Mapping[str, Iterable[str]]) -> tuple[str, Term] | None:
    """The first free word of ``flt`` that names a known value of a key, and the term meant.

    Why: free words match only the reason (and a log row's error message). A
    person who types a policy's or a tract's name expects its rows, finds
    none, and an empty list alone does not say why. ``known`` maps a key to
    the values it has in the file; words compare case-insensitively and the
    term carries the value as stored. A word the filter already holds as
    that key's term suggests nothing.
    """
    for word in flt.words:
        folded = word.casefold()
        for key, values in known.items():
            for value in values:
                if value.casefold() == folded and value not in flt.values(key):
                    return word, Term(key, value)
    return None


def parse_filter(text: str, context: str | None = None) -> Filter:
    """Parse a filter expression; raise FilterSyntaxError naming the bad term.

    ``context`` ("log" or "proposals") restricts the keys to those that
    listing understands.
    """
    allowed = CONTEXT_KEYS.get(context, ALL_KEYS) if context else ALL_KEYS
    terms: list[Term] = []
    for token, pos, end, quoted_key in _tokenize(text):
        raw = text[pos:end]
        negated = False
        if token.startswith("-") and len(token) > 1 and not (quoted_key and text[pos] != "-"):
            negated = True
            token = token[1:]
        elif token == "-" and not quoted_key:
            raise FilterSyntaxError(f"a lone '-' in filter at column {pos + 1}", raw, pos)
        m = None if quoted_key else _KEY.match(token)
        if m is None:
            if not token:
                raise FilterSyntaxError(f"empty term {raw!r} in filter", raw, pos)
            terms.append(Term(None, token, negated))
            continue
        key, value = m.group(1), token[m.end() :]
        if key not in ALL_KEYS:
            raise FilterSyntaxError(
                f"unknown filter key {key!r} in {raw!r}; known: {', '.join(allowed)} "
                "(quote a word that contains ':')",
                raw,
                pos,
            )
        if key not in allowed:
            raise FilterSyntaxError(
                f"{key}: does not apply here (in {raw!r}); use one of: {', '.join(allowed)}",
                raw,
                pos,
            )
        if not value:
            raise FilterSyntaxError(f"{key}: needs a value (in {raw!r})", raw, pos)
        if key == "status" and looks_like_a_list(value):
            raise FilterSyntaxError(
                f"status: takes one status (in {raw!r}); repeat it for several: "
                + " ".join(f"status:{v}" for v in value.split(",") if v),
                raw,
                pos,
            )
        if key in TIME_KEYS:
            if negated:
                raise FilterSyntaxError(f"{key}: cannot be negated (in {raw!r})", raw, pos)
            try:
                parse_when(value)
            except ValueError as e:
                raise FilterSyntaxError(f"bad {key}: in {raw!r}: {e}", raw, pos) from None
        terms.append(Term(key, value, negated))
    return Filter(tuple(terms), text)
