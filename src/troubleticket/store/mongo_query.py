"""The last translation step for MongoDB: a store-neutral ``Filter``/``SortKey`` list to a query.

A comparison becomes a MongoDB condition wherever MongoDB's own matching means exactly what the
reference evaluator in ``store.query`` means:

* On the *keyed* attributes of a collection (status, severity, creationDate ...: scalar strings by
  the contract) the adapter stores a key next to the document — the attribute's sort value, with
  date-times in one canonical UTC form — so every operator but ``regex`` is an indexed condition,
  date-times in any offset included.
* On any other path, equality, inequality and ordering against a literal that is not a
  date-time: MongoDB steps through arrays on a dotted path the way the evaluator does, and its
  type bracketing compares numbers with numbers and strings with strings, as the evaluator does.

What MongoDB cannot mean the same way — regular expressions (RE2 here, PCRE there), date-time
literals on unkeyed paths (stored in any offset), ``0``/``1``/``true``/``false`` literals (some
drivers and fakes equate booleans with 0 and 1) — is left as a *residual*: the group it belongs
to is evaluated by the reference evaluator on the documents MongoDB selected by the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from troubleticket.store.query import (
    AnyOf,
    Comparison,
    Filter,
    Op,
    SortKey,
    canonical_instant,
    day_bounds,
    instant,
    number_of,
    sort_value,
)
from troubleticket.types import JSON

Path = tuple[str, ...]
Condition = dict[str, Any]

DOC = "doc"
"""The field holding the resource document itself."""

KEYS = "k"
"""The field holding the keys of the keyed attributes, by attribute name."""

_MONGO_OPS = {Op.GT: "$gt", Op.GTE: "$gte", Op.LT: "$lt", Op.LTE: "$lte"}

# Literals some MongoDB implementations match against booleans as well as numbers.
_BOOLEAN_LIKE = frozenset({0, 1})


def _key_name(path: Path) -> str:
    # One flat field per keyed attribute, so a nested path never becomes a nested key.
    return "_".join(path)


@dataclass(frozen=True, slots=True)
class Layout:
    """How one collection is stored: its MongoDB collection and its keyed attributes."""

    collection: str
    keyed: tuple[Path, ...] = ()
    # Compound indexes beyond the unique id, as lists of (field, direction).
    indexes: tuple[tuple[tuple[str, int], ...], ...] = field(default=())

    def key_field(self, path: Path) -> str | None:
        """The field holding the key of ``path``, when ``path`` is keyed."""
        return f"{KEYS}.{_key_name(path)}" if path in self.keyed else None

    def keys_of(self, doc: JSON) -> dict[str, Any]:
        """The stored keys of ``doc``: each keyed attribute's sort value."""
        return {_key_name(path): sort_value(doc, path) for path in self.keyed}


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A MongoDB condition, and the groups it leaves to the reference evaluator."""

    condition: Condition
    residual: tuple[AnyOf, ...]


def _and(conditions: list[Condition]) -> Condition:
    if not conditions:
        return {}
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def _or(conditions: list[Condition]) -> Condition:
    return conditions[0] if len(conditions) == 1 else {"$or": conditions}


def _keyed_condition(name: str, comparison: Comparison) -> Condition | None:
    op, literal = comparison.op, comparison.value
    if op is Op.REGEX:
        return None
    if op is Op.NE:
        equal = _keyed_condition(name, Comparison(comparison.path, Op.EQ, literal))
        return None if equal is None else {"$nor": [equal]}
    canonical = canonical_instant(literal)
    if op is Op.EQ:
        day = day_bounds(literal)
        if day is not None:
            return {name: {"$gte": day[0], "$lt": day[1]}}
        return {name: canonical if canonical is not None else literal}
    return {name: {_MONGO_OPS[op]: canonical if canonical is not None else literal}}


def _path_condition(name: str, comparison: Comparison) -> Condition | None:
    op, literal = comparison.op, comparison.value
    if op is Op.REGEX or instant(literal) is not None or literal in ("true", "false"):
        return None
    number = number_of(literal)
    if number in _BOOLEAN_LIKE:
        return None
    candidates: list[Any] = [literal] if number is None else [literal, number]
    if op is Op.EQ:
        return {name: {"$in": candidates}}
    if op is Op.NE:
        return {name: {"$nin": candidates}}
    return _or([{name: {_MONGO_OPS[op]: value}} for value in candidates])


def _comparison_condition(layout: Layout, comparison: Comparison) -> Condition | None:
    keyed = layout.key_field(comparison.path)
    if keyed is not None:
        return _keyed_condition(keyed, comparison)
    return _path_condition(f"{DOC}.{'.'.join(comparison.path)}", comparison)


def compile_filter(layout: Layout, flt: Filter) -> CompiledFilter:
    """The MongoDB condition for ``flt``, and the groups it could not express exactly."""
    conditions: list[Condition] = []
    residual: list[AnyOf] = []
    for group in flt.groups:
        alternatives = [_comparison_condition(layout, c) for c in group.comparisons]
        if any(alternative is None for alternative in alternatives):
            residual.append(group)
        else:
            conditions.append(_or([a for a in alternatives if a is not None]))
    return CompiledFilter(_and(conditions), tuple(residual))


# ---------------------------------------------------------------------------------------------
# Order and keyset positions

ID = "id"
"""The resource id field, unique; the last key of every keyed order."""

SEQ = "_id"
"""Insertion order: MongoDB ObjectIds, made by the adapter as it inserts."""


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One field of a MongoDB order."""

    name: str
    descending: bool = False


def native_order(layout: Layout, sort: tuple[SortKey, ...]) -> list[OrderKey] | None:
    """The MongoDB order for ``sort``, or ``None`` when a key is not a keyed attribute."""
    if not sort:
        return [OrderKey(SEQ)]
    keys: list[OrderKey] = []
    for key in sort:
        name = ID if key.path == (ID,) else layout.key_field(key.path)
        if name is None:
            return None
        keys.append(OrderKey(name, key.descending))
    keys.append(OrderKey(ID))
    return keys


def sort_spec(keys: list[OrderKey], *, reverse: bool = False) -> list[tuple[str, int]]:
    """``cursor.sort`` argument; ``reverse`` walks the same order backwards."""
    return [(key.name, 1 if key.descending == reverse else -1) for key in keys]


def _type_rank(value: Any) -> int:
    # MongoDB orders null (and missing) before numbers, and numbers before strings.
    if value is None:
        return 0
    return 1 if isinstance(value, int | float) else 2


def _beyond(name: str, value: Any, upward: bool) -> Condition | None:
    """Documents whose ``name`` sorts strictly above (``upward``) or below ``value``.

    Keys hold null, numbers or strings; MongoDB compares a value only with values of its own
    type, so the ranks above or below are named explicitly. ``None``: no document does.
    """
    rank = _type_rank(value)
    if upward:
        same = {name: {"$gt": value}} if value is not None else None
        higher = [{name: {"$type": "string"}}] if rank == 1 else []
        if rank == 0:
            return {name: {"$ne": None}}
        return _or([c for c in (same, *higher) if c is not None])
    if rank == 0:
        return None
    lower: list[Condition] = [{name: None}]
    if rank == 2:
        lower.append({name: {"$type": "number"}})
    return _or([{name: {"$lt": value}}, *lower])


def keyset_condition(keys: list[OrderKey], values: list[Any], *, forward: bool) -> Condition:
    """The documents strictly after (``forward``) or before the position ``values``."""
    alternatives: list[Condition] = []
    for i, (key, value) in enumerate(zip(keys, values, strict=True)):
        beyond = _beyond(key.name, value, forward != key.descending)
        if beyond is None:
            continue
        equal = [{earlier.name: v} for earlier, v in zip(keys[:i], values[:i], strict=True)]
        alternatives.append(_and([*equal, beyond]))
    if not alternatives:
        # Nothing lies beyond the position: a condition no document meets.
        return {SEQ: {"$exists": False}}
    return _or(alternatives)


def position_of(record: Mapping[str, Any], keys: list[OrderKey]) -> list[Any]:
    """A stored record's values for ``keys`` (its position in that order), JSON-ready."""
    values: list[Any] = []
    for key in keys:
        if key.name == SEQ:
            values.append(str(record[SEQ]))
        elif key.name == ID:
            values.append(record[ID])
        else:
            values.append(record.get(KEYS, {}).get(key.name.removeprefix(f"{KEYS}."), None))
    return values
