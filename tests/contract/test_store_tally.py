"""``Store.tally``: counts by value, on every adapter, equal to counting by hand."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from troubleticket.store.port import MATCH_ALL, Collection, Store
from troubleticket.store.query import Filter, matches, parse_filter

TICKETS = Collection.TROUBLE_TICKET

DOCS: list[dict[str, Any]] = [
    {"id": "a", "status": "acknowledged", "priority": "1", "slaJeopardy": "none"},
    {"id": "b", "status": "acknowledged", "priority": "1", "slaJeopardy": "warning"},
    {"id": "c", "status": "inProgress", "priority": "1", "slaJeopardy": "warning"},
    {"id": "d", "status": "inProgress", "priority": "2", "slaJeopardy": "breach"},
    {"id": "e", "status": "closed", "priority": "2", "slaJeopardy": "breach"},
    {"id": "f", "status": "pending", "priority": "3"},
    {"id": "g", "status": "pending", "priority": "3", "note": [{"text": "x"}], "x": {"y": "z"}},
]


@pytest.fixture
def tickets(store: Store) -> Store:
    for doc in DOCS:
        store.insert(TICKETS, doc)
    return store


def by_hand(where: Filter, by: list[tuple[str, ...]]) -> dict[tuple[Any, ...], int]:
    def value(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
        for step in path:
            doc = doc.get(step) if isinstance(doc, dict) else None  # type: ignore[assignment]
        return doc

    return dict(Counter(tuple(value(d, p) for p in by) for d in DOCS if matches(d, where)).items())


@pytest.mark.parametrize(
    ("query", "by"),
    [
        ("status=acknowledged,inProgress,pending", [("priority",), ("slaJeopardy",)]),
        ("", [("status",)]),
        ("", []),
        ("priority=3", [("x", "y")]),
        ("status.ne=closed", [("priority",)]),
        # a filter MongoDB cannot answer alone (judged document by document there)
        ("note.text=x", [("priority",)]),
    ],
)
def test_tally_counts_what_the_filter_selects_by_value(
    tickets: Store, query: str, by: list[tuple[str, ...]]
) -> None:
    where = parse_filter(query) if query else MATCH_ALL
    assert tickets.tally(TICKETS, where, by) == by_hand(where, by)


def test_tally_of_the_open_tickets_by_priority_and_jeopardy(tickets: Store) -> None:
    where = parse_filter("status=acknowledged,inProgress,pending")
    assert tickets.tally(TICKETS, where, [("priority",), ("slaJeopardy",)]) == {
        ("1", "none"): 1,
        ("1", "warning"): 2,
        ("2", "breach"): 1,
        ("3", None): 2,
    }


def test_tally_follows_writes_and_deletes(tickets: Store) -> None:
    stored = tickets.get(TICKETS, "a")
    assert stored is not None
    tickets.replace(TICKETS, {**stored.doc, "status": "closed"}, expected_version=stored.version)
    tickets.delete(TICKETS, "b")
    assert tickets.tally(TICKETS, MATCH_ALL, [("status",)]) == {
        ("closed",): 2,
        ("inProgress",): 2,
        ("pending",): 2,
    }


def test_tally_of_an_empty_selection_is_empty(tickets: Store) -> None:
    assert tickets.tally(TICKETS, parse_filter("status=rejected"), [("priority",)]) == {}
