"""TMF630 filtering and sorting through the store port, on every adapter.

Each query is checked twice: against ids written out by hand, and against the reference
evaluator in ``store.query`` over the same documents, so every adapter means exactly what the
evaluator means.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest

from troubleticket.domain.errors import InvalidRequest
from troubleticket.store.cursor import sort_signature
from troubleticket.store.port import Collection, ListQuery, Store
from troubleticket.store.query import Filter, SortKey, matches, parse_filter, parse_sort

TICKETS = Collection.TROUBLE_TICKET


def party(party_id: str, role: str = "customer") -> dict[str, Any]:
    return {
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "role": role,
        "partyOrPartyRole": {"@type": "PartyRef", "id": party_id},
    }


CORPUS: list[dict[str, Any]] = [
    {
        "id": "t1",
        "@type": "TroubleTicket",
        "status": "acknowledged",
        "severity": "Critical",
        "priority": "High",
        "ticketType": "incident",
        "creationDate": "2026-11-20T08:00:00.000Z",
        "lastUpdate": "2026-11-20T08:00:00.000Z",
        "requestedResolutionDate": "2026-11-21T10:00:00+02:00",
        "relatedParty": [party("42"), party("7", "owner")],
        "note": [{"@type": "Note", "author": "Jane", "text": "Line down"}],
        "troubleTicketCharacteristic": [
            {"@type": "IntegerCharacteristic", "name": "affectedUsers", "value": 12}
        ],
    },
    {
        "id": "t2",
        "@type": "TroubleTicket",
        "status": "inProgress",
        "severity": "Minor",
        "priority": "Low",
        "ticketType": "complaint",
        "creationDate": "2026-11-21T09:30:00.000Z",
        "lastUpdate": "2026-11-22T12:00:00.000Z",
        "requestedResolutionDate": "2026-11-21T08:00:00Z",
        "relatedParty": [party("43")],
        "note": [
            {"@type": "Note", "author": "John", "text": "Called back"},
            {"@type": "Note", "author": "Jane", "text": "Fixed?"},
        ],
        "troubleTicketCharacteristic": [
            {"@type": "IntegerCharacteristic", "name": "affectedUsers", "value": 3}
        ],
    },
    {
        "id": "t3",
        "@type": "TroubleTicket",
        "status": "resolved",
        "severity": "Critical",
        "priority": "Medium",
        "ticketType": "incident",
        "creationDate": "2026-11-22T23:59:59.999Z",
        "lastUpdate": "2026-11-23T00:00:00.000Z",
        "relatedParty": [party("42", "reporter")],
        "troubleTicketCharacteristic": [
            {"@type": "BooleanCharacteristic", "name": "vip", "value": True}
        ],
    },
    {
        "id": "t4",
        "@type": "TroubleTicket",
        "status": "acknowledged",
        "severity": "Major",
        "ticketType": "request",
        "creationDate": "2026-11-23T00:00:00.000Z",
        "lastUpdate": "2026-11-23T00:00:00.000Z",
        "name": "O'Brien; DROP TABLE trouble_ticket; --",
    },
]

# raw query string -> ids expected, in insertion order
FILTERS: list[tuple[str, list[str]]] = [
    ("", ["t1", "t2", "t3", "t4"]),
    ("status=acknowledged", ["t1", "t4"]),
    ("status=acknowledged&severity=Critical", ["t1"]),
    ("status=acknowledged,resolved", ["t1", "t3", "t4"]),
    ("status=acknowledged&status=resolved", ["t1", "t3", "t4"]),
    ("status=acknowledged;status=inProgress", ["t1", "t2", "t4"]),
    ("status.ne=acknowledged", ["t2", "t3"]),
    ("status.ne=acknowledged,resolved", ["t2"]),
    ("status.eq=resolved", ["t3"]),
    ("priority.ne=High", ["t2", "t3", "t4"]),
    ("creationDate.gt=2026-11-21T09:30:00Z", ["t3", "t4"]),
    ("creationDate.gte=2026-11-21T11:30:00%2B02:00", ["t2", "t3", "t4"]),
    ("creationDate%3E%3D2026-11-21T09:30:00Z", ["t2", "t3", "t4"]),
    ("creationDate%3C2026-11-21T09:30:00Z", ["t1"]),
    ("creationDate%3C%3D2026-11-21T09:30:00Z", ["t1", "t2"]),
    ("creationDate%3E2026-11-21&creationDate%3C2026-11-23", ["t2", "t3"]),
    ("creationDate=2026-11-22", ["t3"]),
    (
        "creationDate.lt=2026-11-21T00:00:00Z;creationDate.gt=2026-11-22T12:00:00Z",
        ["t1", "t3", "t4"],
    ),
    ("lastUpdate.gte=2026-11-23", ["t3", "t4"]),
    ("requestedResolutionDate.lt=2026-11-21T09:00:00Z", ["t1", "t2"]),
    ("requestedResolutionDate=2026-11-21T08:00:00.000Z", ["t1", "t2"]),
    ("relatedParty.partyOrPartyRole.id=42", ["t1", "t3"]),
    ("relatedParty.partyOrPartyRole.id=42,43", ["t1", "t2", "t3"]),
    ("relatedParty.role=owner", ["t1"]),
    ("note.author=Jane", ["t1", "t2"]),
    ("note.author=Jane&note.author=John", ["t1", "t2"]),
    ("note.author.ne=Jane", ["t3", "t4"]),
    ("troubleTicketCharacteristic.value.gt=5", ["t1"]),
    ("troubleTicketCharacteristic.value=true", ["t3"]),
    ("severity.regex=^Cri", ["t1", "t3"]),
    ("severity*=or$", ["t2", "t4"]),
    ("note.text.regex=Fix", ["t2"]),
    ("%40type=TroubleTicket", ["t1", "t2", "t3", "t4"]),
    ("@type=Other", []),
    ("name=O%27Brien%3B%20DROP%20TABLE%20trouble_ticket%3B%20--", ["t4"]),
    ("ticketType=incident&fields=status&offset=0&limit=10&sort=id", ["t1", "t3"]),
]


@pytest.fixture
def corpus(store: Store) -> Store:
    for doc in CORPUS:
        store.insert(TICKETS, doc)
    return store


def ids(store: Store, where: Filter, sort: tuple[SortKey, ...] = ()) -> list[str]:
    page = store.list(TICKETS, ListQuery(offset=0, limit=100, where=where, sort=sort))
    assert page.total == len(page.items)
    return [doc["id"] for doc in page.items]


@pytest.mark.parametrize(("raw", "expected"), FILTERS, ids=[raw or "(none)" for raw, _ in FILTERS])
def test_a_filter_selects_the_same_tickets_as_the_reference_evaluator(
    corpus: Store, raw: str, expected: list[str]
) -> None:
    where = parse_filter(raw)

    assert ids(corpus, where) == expected
    assert [doc["id"] for doc in CORPUS if matches(doc, where)] == expected


def test_sql_text_in_a_value_is_matched_literally_and_leaves_the_store_intact(
    corpus: Store,
) -> None:
    hostile = parse_filter("name=x%27%20OR%201=1%20--&severity=Critical")
    assert ids(corpus, hostile) == []
    assert len(ids(corpus, Filter())) == len(CORPUS)


def test_the_total_counts_every_match_while_the_page_holds_only_limit(corpus: Store) -> None:
    page = corpus.list(
        TICKETS, ListQuery(offset=1, limit=1, where=parse_filter("severity=Critical"))
    )
    assert page.total == 2
    assert [doc["id"] for doc in page.items] == ["t3"]


SORTS: list[tuple[str, list[str]]] = [
    ("creationDate", ["t1", "t2", "t3", "t4"]),
    ("-creationDate", ["t4", "t3", "t2", "t1"]),
    ("severity,-creationDate", ["t3", "t1", "t4", "t2"]),
    ("-severity,id", ["t2", "t4", "t1", "t3"]),
    ("priority", ["t4", "t1", "t2", "t3"]),
    ("-priority", ["t3", "t2", "t1", "t4"]),
    ("status,-lastUpdate", ["t4", "t1", "t2", "t3"]),
    ("requestedResolutionDate", ["t3", "t4", "t1", "t2"]),
    ("note.author,id", ["t3", "t4", "t1", "t2"]),
    ("troubleTicketCharacteristic.value", ["t4", "t3", "t2", "t1"]),
]


@pytest.mark.parametrize(("raw", "expected"), SORTS, ids=[raw for raw, _ in SORTS])
def test_sorting_orders_by_the_keys_then_by_id(
    corpus: Store, raw: str, expected: list[str]
) -> None:
    assert ids(corpus, Filter(), parse_sort(raw)) == expected


def test_sorting_and_filtering_combine_with_paging(corpus: Store) -> None:
    page = corpus.list(
        TICKETS,
        ListQuery(
            offset=1,
            limit=2,
            where=parse_filter("status.ne=inProgress"),
            sort=parse_sort("-creationDate"),
        ),
    )
    assert page.total == 3
    assert [doc["id"] for doc in page.items] == ["t3", "t1"]


def test_an_updated_ticket_is_found_by_its_new_values_only(corpus: Store) -> None:
    current = corpus.get(TICKETS, "t2")
    assert current is not None
    changed = {**current.doc, "status": "resolved", "relatedParty": [party("99")]}
    assert corpus.replace(TICKETS, changed, expected_version=current.version)

    assert ids(corpus, parse_filter("status=inProgress")) == []
    assert ids(corpus, parse_filter("relatedParty.partyOrPartyRole.id=43")) == []
    assert ids(corpus, parse_filter("relatedParty.partyOrPartyRole.id=99")) == ["t2"]


def test_a_deleted_ticket_is_no_longer_found_by_its_party(corpus: Store) -> None:
    assert corpus.delete(TICKETS, "t3")
    assert ids(corpus, parse_filter("relatedParty.partyOrPartyRole.id=42")) == ["t1"]


@pytest.mark.parametrize(("raw", "expected"), SORTS, ids=[raw for raw, _ in SORTS])
def test_cursors_walk_every_sort_order_forwards_and_backwards(
    corpus: Store, raw: str, expected: list[str]
) -> None:
    sort = parse_sort(raw)
    forwards: list[str] = []
    page = corpus.list(TICKETS, ListQuery(offset=0, limit=1, sort=sort))
    while True:
        forwards += [doc["id"] for doc in page.items]
        if page.next_cursor is None:
            break
        page = corpus.list(TICKETS, ListQuery(offset=0, limit=1, sort=sort, after=page.next_cursor))
    assert forwards == expected

    backwards: list[str] = [doc["id"] for doc in page.items]
    while page.prev_cursor is not None:
        page = corpus.list(
            TICKETS, ListQuery(offset=0, limit=1, sort=sort, before=page.prev_cursor)
        )
        backwards = [doc["id"] for doc in page.items] + backwards
    assert backwards == expected


def test_a_cursor_page_is_not_shifted_by_documents_inserted_before_it(corpus: Store) -> None:
    first = corpus.list(TICKETS, ListQuery(offset=0, limit=2, sort=parse_sort("id")))
    corpus.insert(TICKETS, {"id": "t0", "@type": "TroubleTicket", "status": "acknowledged"})

    assert first.next_cursor is not None
    second = corpus.list(
        TICKETS, ListQuery(offset=0, limit=2, sort=parse_sort("id"), after=first.next_cursor)
    )
    assert [doc["id"] for doc in second.items] == ["t3", "t4"]
    assert second.total == len(CORPUS) + 1


def test_a_cursor_for_another_sort_order_is_refused(corpus: Store) -> None:
    page = corpus.list(TICKETS, ListQuery(offset=0, limit=1, sort=parse_sort("severity")))
    assert page.next_cursor is not None
    with pytest.raises(InvalidRequest, match="sort order"):
        corpus.list(
            TICKETS,
            ListQuery(offset=0, limit=1, sort=parse_sort("-severity"), after=page.next_cursor),
        )


def forged(signature: str, values: list[Any] | str) -> str:
    """A cursor in the server's format that it never issued."""
    raw = json.dumps({"s": signature, "v": values}) if isinstance(values, list) else values
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "values",
    [
        pytest.param([2**63, "t-1"], id="integer-beyond-64-bits"),
        pytest.param([-(2**63) - 1, "t-1"], id="negative-integer-beyond-64-bits"),
        pytest.param('{"s": "priority", "v": [1e999, "t-1"]}', id="infinite-float"),
        pytest.param([True, "t-1"], id="bool"),
        pytest.param([{"a": 1}, "t-1"], id="object"),
        pytest.param("[" * 1500 + "]" * 1500, id="deeply-nested"),
        pytest.param('{"s": "priority", "v": ["\\ud800", "t-1"]}', id="lone-surrogate"),
    ],
)
@pytest.mark.parametrize("direction", ["after", "before"])
def test_a_forged_cursor_is_refused_as_not_issued(
    corpus: Store, values: list[Any] | str, direction: str
) -> None:
    query = ListQuery(offset=0, limit=2, sort=parse_sort("priority"))
    cursor = forged(sort_signature(query.sort), values)

    with pytest.raises(InvalidRequest, match="not one this server issued"):
        corpus.list(
            TICKETS,
            replace(query, after=cursor) if direction == "after" else replace(query, before=cursor),
        )
