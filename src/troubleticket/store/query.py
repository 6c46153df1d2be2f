"""TMF630 list queries: one store-neutral representation, its parser, and the reference evaluator.

A list request such as ``?status=acknowledged,rejected&creationDate.gt=2026-01-01&sort=-severity``
carries an attribute filter (TMF630 Part 1 §4.4) and a ``sort``. This module owns:

* the representation: a :class:`Filter` is an AND of :class:`AnyOf` groups, each an OR of
  :class:`Comparison` s (an attribute path, an :class:`Op` and the literal exactly as sent);
* :func:`parse_filter`, which reads it from the *raw* URL query string, because the order of the
  terms, ``;`` alternatives and which characters were percent-encoded all change the meaning and
  are lost in a pre-parsed mapping; and :func:`parse_sort`;
* :func:`matches`, a pure evaluator over a JSON document.

Each store compiles the one representation into its own query language (SQL, a MongoDB filter,
...), so the API and services never see a store's syntax. The evaluator is the reference semantics
those compilers are tested against, and it also decides which events a subscriber's query selects.

Literals stay strings until compared: the type of the stored value decides how (numbers
numerically, ``true``/``false`` for booleans, date-times as instants, other strings as strings).
Client regular expressions run on RE2, whose matching time is linear in the input, so a hostile
pattern cannot stall the server.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import unquote_plus

import re2

from troubleticket.domain.errors import InvalidRequest
from troubleticket.types import INT64_MAX, INT64_MIN


class Op(StrEnum):
    """A comparison operator; ``NE`` is only reachable through the ``.ne`` suffix."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    REGEX = "regex"


@dataclass(frozen=True, slots=True)
class Comparison:
    """``path op value``; ``value`` is the percent-decoded literal, typed only when compared."""

    path: tuple[str, ...]
    op: Op
    value: str


@dataclass(frozen=True, slots=True)
class AnyOf:
    """True when any of its comparisons is true (OR)."""

    comparisons: tuple[Comparison, ...]


@dataclass(frozen=True, slots=True)
class Filter:
    """True when every group is true (AND); an empty filter matches everything."""

    groups: tuple[AnyOf, ...] = ()


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ``sort`` attribute, ascending unless ``descending``."""

    path: tuple[str, ...]
    descending: bool = False


RESERVED = frozenset({"fields", "offset", "limit", "sort", "filter", "before", "after"})
"""Query parameters that are not attribute filters when sent as plain ``name=value``."""

MAX_TERMS = 50
"""Most comparisons one filter may hold."""

MAX_VALUE_LENGTH = 1024
"""Longest literal (after percent-decoding) one term may carry."""

MAX_REGEX_LENGTH = 256
"""Longest regular expression a ``regex`` comparison may carry."""

MAX_SORT_KEYS = 10

# Operators as written in a query, tried at each position in this order: two characters first.
_TWO_CHAR_OPS = {">=": Op.GTE, "<=": Op.LTE, "==": Op.EQ, "*=": Op.REGEX}
_ONE_CHAR_OPS = {"=": Op.EQ, ">": Op.GT, "<": Op.LT}
_SUFFIX_OPS = {op.value: op for op in Op}

_SEGMENT = r"[@A-Za-z_][A-Za-z0-9_@-]*"
_NAME = re.compile(rf"{_SEGMENT}(?:\.{_SEGMENT})*")

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INSTANT = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?P<zone>[Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
)

_SHOWN_LENGTH = 80

# A date-time whose "+hh:mm" offset was written into the URL unencoded, so that form decoding
# turned the "+" into a space: "2026-11-21T10:00:00 02:00".
_SPACED_OFFSET = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9:.]+) ([0-9]{2}:[0-9]{2})")


def _restore_offset(value: str) -> str:
    """Give back the "+" of a date-time offset that form decoding made a space."""
    found = _SPACED_OFFSET.fullmatch(value)
    return f"{found.group(1)}+{found.group(2)}" if found else value


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_filter(raw_query: str, reserved: frozenset[str] = RESERVED) -> Filter:
    """Parse the attribute filter of a raw URL query string (TMF630 Part 1 §4.4).

    Terms are separated by ``&`` and AND together; ``;`` separates alternatives within a term,
    which OR together. Each alternative is percent-decoded (a ``+`` stays a ``+``) and split at its
    first operator: ``=``, ``==``, ``>``, ``>=``, ``<``, ``<=``, ``*=`` (regex), or ``=`` after a
    ``.gt .gte .lt .lte .eq .ne .regex`` suffix on the name. An equality value with commas is an
    OR of its items, a ``.ne`` value with commas an AND of inequalities. Equality-only terms on
    the same attribute OR together (``status=a&status=b``). Plain ``name=value`` terms whose name
    is in ``reserved`` (paging, ``fields``, ``sort``...) are left to their own handlers.

    Raises InvalidRequest, naming the term, for anything it cannot read: a term is never dropped.
    """
    budget = _Budget()
    groups: list[AnyOf] = []
    # Equality-only terms on one path merge into the group the first of them created.
    eq_groups: dict[tuple[str, ...], int] = {}
    for term in raw_query.split("&"):
        if not term:
            continue
        clauses = _parse_term(term, reserved, budget)
        if clauses is None:
            continue
        path = _equality_path(clauses)
        if path is not None and path in eq_groups:
            index = eq_groups[path]
            groups[index] = AnyOf(groups[index].comparisons + clauses[0])
            continue
        if path is not None:
            eq_groups[path] = len(groups)
        groups.extend(AnyOf(clause) for clause in clauses)
    return Filter(tuple(groups))


def parse_sort(raw: str | None) -> tuple[SortKey, ...]:
    """Parse an (already percent-decoded) ``sort`` value such as ``-creationDate,severity,+name``.

    A leading ``-`` sorts descending, ``+`` or nothing ascending. A ``+`` turned into a space by
    form decoding is tolerated, as is whitespace around keys.
    """
    if raw is None or not raw.strip():
        return ()
    items = raw.split(",")
    if len(items) > MAX_SORT_KEYS:
        raise InvalidRequest(f"sort names {len(items)} attributes; at most {MAX_SORT_KEYS} allowed")
    keys: list[SortKey] = []
    for item in items:
        name = item.strip()
        descending = name.startswith("-")
        if name[:1] in "+-":
            name = name[1:]
        if not _NAME.fullmatch(name):
            raise InvalidRequest(f"Invalid sort attribute {_shown(item)} in sort={_shown(raw)}")
        keys.append(SortKey(tuple(name.split(".")), descending))
    return tuple(keys)


class _Budget:
    """Counts comparisons so a query holds at most MAX_TERMS of them."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used = 0

    def spend(self, count: int, term: str) -> None:
        self.used += count
        if self.used > MAX_TERMS:
            raise InvalidRequest(
                f"The filter holds more than {MAX_TERMS} comparisons (at term {_shown(term)})"
            )


_Clause = tuple[Comparison, ...]


def _parse_term(term: str, reserved: frozenset[str], budget: _Budget) -> list[_Clause] | None:
    """One ``&`` term as AND-ed clauses (each an OR), or None when it is a reserved parameter."""
    alternatives = term.split(";")
    # Each alternative in conjunctive form: a list of clauses that must all hold.
    forms: list[list[_Clause]] = []
    for position, raw_alternative in enumerate(alternatives):
        # A query string is form-encoded: "+" is a space, as every form-encoding client sends it.
        alternative = unquote_plus(raw_alternative)
        name, token, value = _split_operator(alternative, term)
        value = _restore_offset(value)
        if position == 0 and token == "=" and name in reserved:
            return None
        form = _parse_alternative(name, token, value, term)
        budget.spend(sum(len(clause) for clause in form), term)
        forms.append(form)
    if len(forms) == 1:
        return forms[0]
    return _or_of_forms(forms, term, budget)


def _split_operator(alternative: str, term: str) -> tuple[str, str, str]:
    """Split at the first operator, scanning left to right, two-character operators first."""
    for index, char in enumerate(alternative):
        pair = alternative[index : index + 2]
        if pair in _TWO_CHAR_OPS:
            return alternative[:index], pair, alternative[index + 2 :]
        if char in _ONE_CHAR_OPS:
            return alternative[:index], char, alternative[index + 1 :]
    raise InvalidRequest(f"Filter term {_shown(term)} has no comparison operator")


def _parse_alternative(name: str, token: str, value: str, term: str) -> list[_Clause]:
    """One alternative in conjunctive form."""
    op = _TWO_CHAR_OPS.get(token) or _ONE_CHAR_OPS[token]
    if token == "=":
        base, dot, suffix = name.rpartition(".")
        if dot and suffix in _SUFFIX_OPS:
            name, op = base, _SUFFIX_OPS[suffix]
    if not _NAME.fullmatch(name):
        raise InvalidRequest(f"Invalid filter attribute name {_shown(name)} in {_shown(term)}")
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidRequest(
            f"The value for {name!r} in filter term {_shown(term)} is longer than "
            f"{MAX_VALUE_LENGTH} characters"
        )
    path = tuple(name.split("."))
    if op is Op.REGEX:
        _regex(value)
    if op is Op.EQ:
        return [tuple(Comparison(path, op, item) for item in value.split(","))]
    if op is Op.NE:
        return [(Comparison(path, op, item),) for item in value.split(",")]
    return [(Comparison(path, op, value),)]


def _or_of_forms(forms: list[list[_Clause]], term: str, budget: _Budget) -> list[_Clause]:
    """Distribute an OR of conjunctive forms back into one conjunctive form.

    Only a ``.ne`` comma list gives a form more than one clause, so this is nearly always a
    single clause; the size is checked before anything is built.
    """
    clause_count = math.prod(len(form) for form in forms)
    total = sum(sum(len(clause) for clause in form) * (clause_count // len(form)) for form in forms)
    already = sum(sum(len(clause) for clause in form) for form in forms)
    budget.spend(total - already, term)
    return [tuple(itertools.chain.from_iterable(choice)) for choice in itertools.product(*forms)]


def _equality_path(clauses: list[_Clause]) -> tuple[str, ...] | None:
    """The path when a term is one clause of equalities on a single path, else None."""
    if len(clauses) != 1:
        return None
    paths = {c.path for c in clauses[0]}
    if len(paths) != 1 or any(c.op is not Op.EQ for c in clauses[0]):
        return None
    return paths.pop()


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _regex(pattern: str) -> Any:
    """The compiled RE2 pattern; InvalidRequest when it is too long or RE2 rejects it."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise InvalidRequest(
            f"Regular expression {_shown(pattern)} is longer than {MAX_REGEX_LENGTH} characters"
        )
    try:
        return _compiled(pattern)
    except (re2.error, UnicodeError, ValueError, TypeError) as exc:
        raise InvalidRequest(f"Invalid regular expression {_shown(pattern)}") from exc


def _shown(text: str) -> str:
    """``text`` quoted for an error message, cut short so a huge input is not echoed back."""
    if len(text) > _SHOWN_LENGTH:
        return repr(text[:_SHOWN_LENGTH] + "...")
    return repr(text)


# ---------------------------------------------------------------------------------------------
# Evaluation


def values_at(doc: Mapping[str, Any], path: tuple[str, ...]) -> list[Any]:
    """Every value at ``path``, stepping into each element of any array met on the way.

    Arrays at the end are flattened too, so the result holds no lists; missing keys and
    non-object intermediates contribute nothing.
    """
    current: list[Any] = [doc]
    for segment in path:
        current = [
            item[segment]
            for value in current
            for item in _flattened(value)
            if isinstance(item, Mapping) and segment in item
        ]
    return [item for value in current for item in _flattened(value)]


def _flattened(value: Any) -> Iterator[Any]:
    """``value`` itself, or the elements of a list at any depth, in order."""
    if not isinstance(value, list):
        yield value
        return
    stack: list[Iterator[Any]] = [iter(value)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            yield item
        else:
            stack.pop()


def compare(actual: Any, op: Op, literal: str) -> bool:
    """Whether one scalar ``actual`` value satisfies ``op literal``.

    The type of ``actual`` decides how ``literal`` is read:

    * bool: ``eq`` against ``"true"``/``"false"``; ordering never holds; ``regex`` runs on
      ``"true"``/``"false"``.
    * int or float: numerically, when the literal is a finite number, else never; ``regex``
      runs on the number's JSON text.
    * str: as instants when both sides are date-times or dates (a value without offset is UTC;
      a date-only literal means, for ``eq``, the same UTC day and otherwise midnight UTC that
      day), else as case-sensitive strings; ``regex`` searches the string.
    * None, objects and arrays: never.

    ``ne`` is the negation of ``eq`` for this one value; a filter's ``ne`` is decided over all
    values at the path by :func:`group_matches`.
    """
    if op is Op.NE:
        return not compare(actual, Op.EQ, literal)
    if isinstance(actual, bool):
        text = "true" if actual else "false"
        if op is Op.REGEX:
            return _search(literal, text)
        return op is Op.EQ and literal == text
    if isinstance(actual, int | float):
        if op is Op.REGEX:
            return _search(literal, json.dumps(actual))
        number = number_of(literal)
        return number is not None and _ordered(actual, op, number)
    if isinstance(actual, str):
        if op is Op.REGEX:
            return _search(literal, actual)
        return _compare_text(actual, op, literal)
    return False


def group_matches(doc: Mapping[str, Any], group: AnyOf) -> bool:
    """Whether any comparison of ``group`` holds for ``doc``.

    A comparison holds when any value at its path satisfies it, except ``ne``, which holds when
    no value at its path equals the literal (so a missing attribute satisfies ``ne``).
    """
    for comparison in group.comparisons:
        candidates = values_at(doc, comparison.path)
        if comparison.op is Op.NE:
            if not any(compare(value, Op.EQ, comparison.value) for value in candidates):
                return True
        elif any(compare(value, comparison.op, comparison.value) for value in candidates):
            return True
    return False


def matches(doc: Mapping[str, Any], flt: Filter) -> bool:
    """Whether ``doc`` satisfies every group of ``flt``; the empty filter matches everything."""
    return all(group_matches(doc, group) for group in flt.groups)


def sort_value(doc: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value ``doc`` sorts by on ``path``: its first value there, typed for ordering.

    A date-time (or date) string becomes its :func:`canonical_instant`, so instants in different
    offsets order chronologically as strings; a bool becomes 0 or 1; numbers and other strings
    stay as they are; a missing value, an object or an array gives None.

    Values of different types order as a SQL or MongoDB store orders them: None first, then
    numbers, then strings (reversed as a whole for a descending key). Breaking ties, on ``id``,
    is the caller's job.
    """
    candidates = values_at(doc, path)
    if not candidates:
        return None
    value = candidates[0]
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return float(value)  # kept before such integers were refused; SQLite orders it so
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        canonical = canonical_instant(value)
        return value if canonical is None else canonical
    return None


def instant(text: str) -> datetime | None:
    """The UTC instant ``text`` names, or None when it is not an ISO 8601 date-time or date.

    Accepted: ``YYYY-MM-DD`` (midnight UTC) and ``YYYY-MM-DDTHH:MM[:SS[.fraction]]`` with an
    optional ``Z`` or ``±HH:MM`` (no offset means UTC); ``t`` and ``z`` may be lowercase. Never
    raises.
    """
    found = _INSTANT.fullmatch(text)
    if found is None:
        return None
    normalized = text.upper()
    if normalized.endswith("Z"):
        normalized = normalized[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(normalized)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def canonical_instant(text: str) -> str | None:
    """``text`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC, milliseconds), or None if not a date-time.

    A date alone gives midnight UTC of that day.
    """
    moment = instant(text)
    if moment is None:
        return None
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
        f"{moment.microsecond // 1000:03d}Z"
    )


def day_bounds(literal: str) -> tuple[str, str] | None:
    """For a date-only literal, the canonical instants starting that UTC day and the next.

    What equality with a date means for a stored date-time; stores compile it to a range.
    """
    if len(literal) != 10:
        return None
    start = instant(literal)
    if start is None:
        return None
    render = "%Y-%m-%dT%H:%M:%S.000Z"
    return start.strftime(render), (start + timedelta(days=1)).strftime(render)


def _date_only(text: str) -> date | None:
    """The date when ``text`` is a date without a time."""
    found = _INSTANT.fullmatch(text)
    if found is None or found.group("date") != text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _compare_text(actual: str, op: Op, literal: str) -> bool:
    actual_instant = instant(actual)
    literal_instant = instant(literal) if actual_instant is not None else None
    if actual_instant is None or literal_instant is None:
        return _ordered(actual, op, literal)
    if op is Op.EQ:
        day = _date_only(literal)
        if day is not None:
            return actual_instant.date() == day
    return _ordered(actual_instant, op, literal_instant)


def _ordered(actual: Any, op: Op, literal: Any) -> bool:
    """``actual op literal`` for two values of one ordered kind."""
    if op is Op.EQ:
        return bool(actual == literal)
    if op is Op.GT:
        return bool(actual > literal)
    if op is Op.GTE:
        return bool(actual >= literal)
    if op is Op.LT:
        return bool(actual < literal)
    if op is Op.LTE:
        return bool(actual <= literal)
    return False


def number_of(literal: str) -> int | float | None:
    """The finite number ``literal`` spells in plain ASCII int or float syntax, else None."""
    if not _NUMBER.fullmatch(literal):
        return None
    try:
        return int(literal)
    except ValueError:
        number = float(literal)
    return number if math.isfinite(number) else None


def _search(pattern: str, text: str) -> bool:
    """Whether RE2 finds ``pattern`` anywhere in ``text`` (lone surrogates kept as bytes)."""
    return _regex(pattern).search(text.encode("utf-8", "surrogatepass")) is not None
