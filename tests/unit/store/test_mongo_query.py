"""The MongoDB translation: which comparisons become MongoDB conditions, and which are left to
the reference evaluator (whose results the store contract checks on every adapter)."""

from __future__ import annotations

from typing import Any

import pytest

from troubleticket.store.mongo import LAYOUTS
from troubleticket.store.mongo_query import (
    OrderKey,
    compile_filter,
    keyset_condition,
    native_order,
    sort_spec,
)
from troubleticket.store.port import Collection
from troubleticket.store.query import parse_filter, parse_sort

TICKETS = LAYOUTS[Collection.TROUBLE_TICKET]


@pytest.mark.parametrize(
    ("raw", "condition"),
    [
        ("status=acknowledged", {"k.status": "acknowledged"}),
        ("status=acknowledged,held", {"$or": [{"k.status": "acknowledged"}, {"k.status": "held"}]}),
        ("status.ne=closed", {"$nor": [{"k.status": "closed"}]}),
        # a date-time in any offset compares with the canonical UTC key
        (
            "creationDate.gt=2026-11-20T10:00:00%2B02:00",
            {"k.creationDate": {"$gt": "2026-11-20T08:00:00.000Z"}},
        ),
        (
            "creationDate=2026-11-20",
            {
                "k.creationDate": {
                    "$gte": "2026-11-20T00:00:00.000Z",
                    "$lt": "2026-11-21T00:00:00.000Z",
                }
            },
        ),
        ("note.author=Jane", {"doc.note.author": {"$in": ["Jane"]}}),
        (
            "troubleTicketCharacteristic.value=12",
            {"doc.troubleTicketCharacteristic.value": {"$in": ["12", 12]}},
        ),
        (
            "troubleTicketCharacteristic.value.gte=2.5",
            {
                "$or": [
                    {"doc.troubleTicketCharacteristic.value": {"$gte": "2.5"}},
                    {"doc.troubleTicketCharacteristic.value": {"$gte": 2.5}},
                ]
            },
        ),
        ("name.ne=x", {"doc.name": {"$nin": ["x"]}}),
    ],
)
def test_comparisons_mongodb_means_exactly_the_same_way_become_conditions(
    raw: str, condition: dict[str, Any]
) -> None:
    compiled = compile_filter(TICKETS, parse_filter(raw))

    assert compiled.condition == condition
    assert compiled.residual == ()


@pytest.mark.parametrize(
    "raw",
    [
        "status.regex=^ack",  # RE2 here, PCRE in MongoDB
        "requestedResolutionDate.gt=2026-11-21T08:00:00Z",  # unkeyed date-times: any offset
        "troubleTicketCharacteristic.value=true",  # booleans and 0/1 are equated by some fakes
        "troubleTicketCharacteristic.value=1",
        "troubleTicketCharacteristic.value.ne=0",
    ],
)
def test_what_mongodb_would_mean_differently_is_left_to_the_evaluator(raw: str) -> None:
    flt = parse_filter(raw)
    compiled = compile_filter(TICKETS, flt)

    assert compiled.condition == {}
    assert compiled.residual == flt.groups


def test_one_residual_comparison_leaves_its_group_to_the_evaluator_and_the_rest_to_mongodb() -> (
    None
):
    flt = parse_filter("severity=Minor&status=held;note.text.regex=call")
    compiled = compile_filter(TICKETS, flt)

    assert compiled.condition == {"k.severity": "Minor"}
    assert compiled.residual == (flt.groups[1],)


def test_keyed_sorts_are_mongodb_orders_ending_in_id_and_others_are_not() -> None:
    assert native_order(TICKETS, ()) == [OrderKey("_id")]
    assert native_order(TICKETS, parse_sort("-creationDate,severity")) == [
        OrderKey("k.creationDate", True),
        OrderKey("k.severity"),
        OrderKey("id"),
    ]
    assert native_order(TICKETS, parse_sort("id")) == [OrderKey("id"), OrderKey("id")]
    assert native_order(TICKETS, parse_sort("name")) is None


def test_a_before_page_walks_the_order_backwards() -> None:
    keys = [OrderKey("k.creationDate", True), OrderKey("id")]

    assert sort_spec(keys) == [("k.creationDate", -1), ("id", 1)]
    assert sort_spec(keys, reverse=True) == [("k.creationDate", 1), ("id", -1)]


def test_the_keyset_after_a_position_names_each_way_to_be_later() -> None:
    keys = [OrderKey("k.severity"), OrderKey("id")]

    after = keyset_condition(keys, ["Minor", "t-5"], forward=True)

    assert after == {
        "$or": [
            {"k.severity": {"$gt": "Minor"}},
            {"$and": [{"k.severity": "Minor"}, {"id": {"$gt": "t-5"}}]},
        ]
    }


def test_missing_values_sort_first_so_nothing_lies_before_them() -> None:
    keys = [OrderKey("k.priority")]

    assert keyset_condition(keys, [None], forward=True) == {"k.priority": {"$ne": None}}
    assert keyset_condition(keys, [None], forward=False) == {"_id": {"$exists": False}}
    # numbers sort before strings, so strings are later than any number
    assert keyset_condition(keys, [3], forward=True) == {
        "$or": [{"k.priority": {"$gt": 3}}, {"k.priority": {"$type": "string"}}]
    }
