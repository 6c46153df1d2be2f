"""The last translation step for SQLite: a store-neutral ``Filter``/``SortKey`` list to SQL.

Attributes that lists filter and sort on most (status, severity, priority, ticketType, the
creation and update dates, the related party id) have indexed columns; conditions on them become
plain SQL and use the index. Any other attribute path is evaluated by ``store.query``'s reference
evaluator, registered as SQL functions, so every path — through arrays too — means exactly what
it means for every other store. Literals always travel as SQL parameters, never as SQL text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

from troubleticket.store.cursor import cursor_values, sort_signature
from troubleticket.store.port import ListQuery
from troubleticket.store.query import (
    AnyOf,
    Comparison,
    Filter,
    Op,
    SortKey,
    canonical_instant,
    compare,
    day_bounds,
    group_matches,
    sort_value,
)

Path = tuple[str, ...]
SQL = tuple[str, list[Any]]


class Kind(Enum):
    TEXT = "text"
    # Written by the server in one canonical form (UTC, milliseconds, "Z"), so text order is
    # time order and a literal in any offset is compared after converting it to that form.
    INSTANT = "instant"


@dataclass(frozen=True, slots=True)
class Layout:
    """How one collection is laid out: its table, indexed columns and side tables."""

    table: str
    columns: Mapping[Path, tuple[str, Kind]] = field(default_factory=dict)
    # Column lists to index, beyond the primary key and the unique id.
    indexes: tuple[tuple[str, ...], ...] = ()
    # (table, column) holding each related party id of a document, keyed by the document's seq.
    party_ids: tuple[str, str] | None = None


PARTY_ID_PATH: Path = ("relatedParty", "partyOrPartyRole", "id")

_SQL_OPS = {Op.EQ: "=", Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<="}


def _column_condition(column: str, kind: Kind, comparison: Comparison) -> SQL:
    op, literal = comparison.op, comparison.value
    if op is Op.REGEX:
        return f"tt_regex(?, {column})", [literal]
    if op is Op.NE:
        inner, params = _column_condition(column, kind, Comparison(comparison.path, Op.EQ, literal))
        return f"({column} IS NULL OR NOT ({inner}))", params
    if kind is Kind.INSTANT:
        day = day_bounds(literal)
        if op is Op.EQ and day is not None:
            return f"({column} >= ? AND {column} < ?)", list(day)
        canonical = canonical_instant(literal)
        if canonical is not None:
            return f"{column} {_SQL_OPS[op]} ?", [canonical]
    return f"{column} {_SQL_OPS[op]} ?", [literal]


def _encode(comparisons: list[Comparison]) -> str:
    return json.dumps([[list(c.path), c.op.value, c.value] for c in comparisons])


@lru_cache(maxsize=256)
def _decode(encoded: str) -> AnyOf:
    return AnyOf(tuple(Comparison(tuple(p), Op(op), value) for p, op, value in json.loads(encoded)))


def _group_condition(layout: Layout, group: AnyOf) -> SQL:
    parts: list[str] = []
    params: list[Any] = []
    evaluated: list[Comparison] = []
    for comparison in group.comparisons:
        indexed = layout.columns.get(comparison.path)
        if indexed is not None:
            sql, values = _column_condition(*indexed, comparison)
        elif comparison.path == PARTY_ID_PATH and comparison.op is Op.EQ and layout.party_ids:
            side, column = layout.party_ids
            sql, values = f"seq IN (SELECT seq FROM {side} WHERE {column} = ?)", [comparison.value]
        else:
            evaluated.append(comparison)
            continue
        parts.append(sql)
        params.extend(values)
    if evaluated:
        parts.append("tt_match(doc, ?)")
        params.append(_encode(evaluated))
    return "(" + " OR ".join(parts) + ")", params


def where_clause(layout: Layout, flt: Filter) -> SQL:
    """``WHERE …`` (or an empty string) and its parameters for a filter."""
    if not flt.groups:
        return "", []
    parts: list[str] = []
    params: list[Any] = []
    for group in flt.groups:
        sql, values = _group_condition(layout, group)
        parts.append(sql)
        params.extend(values)
    return "WHERE " + " AND ".join(parts), params


@dataclass(frozen=True, slots=True)
class SortExpression:
    sql: str
    params: list[Any]
    descending: bool


def sort_expressions(layout: Layout, sort: tuple[SortKey, ...]) -> list[SortExpression]:
    """The ordering of a listing: insertion order (``seq``), or the keys and then ``id``."""
    if not sort:
        return [SortExpression("seq", [], False)]
    expressions = []
    for key in sort:
        indexed = layout.columns.get(key.path)
        if indexed is not None:
            expressions.append(SortExpression(indexed[0], [], key.descending))
        else:
            expressions.append(
                SortExpression("tt_sort(doc, ?)", [json.dumps(list(key.path))], key.descending)
            )
    # Deterministic pages: documents equal on every key are ordered by id.
    expressions.append(SortExpression("id", [], False))
    return expressions


def order_clause(expressions: list[SortExpression], *, reverse: bool = False) -> SQL:
    """``ORDER BY …``; ``reverse`` walks the same order backwards (for ``before`` pages)."""
    parts = [f"{e.sql} {'ASC' if e.descending == reverse else 'DESC'}" for e in expressions]
    return "ORDER BY " + ", ".join(parts), [p for e in expressions for p in e.params]


def _beyond(expression: SortExpression, value: Any, upward: bool) -> SQL:
    # SQLite orders NULL before every value; ``upward`` means towards larger values.
    if upward:
        if value is None:
            return f"{expression.sql} IS NOT NULL", list(expression.params)
        return f"{expression.sql} > ?", [*expression.params, value]
    if value is None:
        return "0", []
    return f"({expression.sql} < ? OR {expression.sql} IS NULL)", [
        *expression.params,
        value,
        *expression.params,
    ]


def keyset_clause(expressions: list[SortExpression], values: list[Any], *, forward: bool) -> SQL:
    """The rows strictly after (``forward``) or before the position ``values`` in the order."""
    alternatives: list[str] = []
    params: list[Any] = []
    for i, (expression, value) in enumerate(zip(expressions, values, strict=True)):
        terms: list[str] = []
        for earlier, earlier_value in zip(expressions[:i], values[:i], strict=True):
            terms.append(f"{earlier.sql} IS ?")
            params.extend([*earlier.params, earlier_value])
        upward = forward != expression.descending
        sql, beyond_params = _beyond(expression, value, upward)
        terms.append(sql)
        params.extend(beyond_params)
        alternatives.append("(" + " AND ".join(terms) + ")")
    return "(" + " OR ".join(alternatives) + ")", params


@lru_cache(maxsize=64)
def _doc(text: str) -> Any:
    # A row's document is decoded once even when several conditions of a query need it.
    return json.loads(text)


def _tt_match(doc: str, encoded: str) -> bool:
    return group_matches(_doc(doc), _decode(encoded))


def _tt_regex(pattern: str, value: Any) -> bool:
    return value is not None and compare(value, Op.REGEX, pattern)


def _tt_sort(doc: str, encoded_path: str) -> Any:
    return sort_value(_doc(doc), tuple(json.loads(encoded_path)))


def register_functions(conn: sqlite3.Connection) -> None:
    """Make the reference evaluator available to SQL on this connection."""
    conn.create_function("tt_match", 2, _tt_match, deterministic=True)
    conn.create_function("tt_regex", 2, _tt_regex, deterministic=True)
    conn.create_function("tt_sort", 2, _tt_sort, deterministic=True)


@dataclass(frozen=True, slots=True)
class ListPlan:
    """The two statements of one listing: the count of matches and the page."""

    table: str
    condition: str
    params: list[Any]
    keys: list[SortExpression]
    signature: str
    forward: bool
    cursor: str | None
    paged: str
    paged_params: list[Any]

    @classmethod
    def build(cls, layout: Layout, query: ListQuery) -> ListPlan:
        condition, params = where_clause(layout, query.where)
        keys = sort_expressions(layout, query.sort)
        signature = sort_signature(query.sort)
        forward = query.before is None
        cursor = query.after if forward else query.before
        paged, paged_params = condition, params
        if cursor is not None:
            keyset, keyset_params = keyset_clause(
                keys, cursor_values(cursor, signature, len(keys)), forward=forward
            )
            paged = f"{condition} AND {keyset}" if condition else f"WHERE {keyset}"
            paged_params = [*params, *keyset_params]
        return cls(
            layout.table, condition, params, keys, signature, forward, cursor, paged, paged_params
        )

    def count_sql(self) -> tuple[str, list[Any]]:
        return f"SELECT count(*) FROM {self.table} {self.condition}", self.params

    def page_sql(self, limit: int, offset: int) -> tuple[str, list[Any]]:
        # Selects the sort keys too (they make the cursors), and one row beyond the page, which
        # tells whether there is more in the walking direction.
        order, order_params = order_clause(self.keys, reverse=not self.forward)
        key_columns = ", ".join(k.sql for k in self.keys)
        key_params = [p for k in self.keys for p in k.params]
        return (
            f"SELECT doc, {key_columns} FROM {self.table} {self.paged} {order} LIMIT ? OFFSET ?",
            [*key_params, *self.paged_params, *order_params, limit + 1, offset],
        )
