"""The outbox through the store port, on every adapter: events are written with their change.

A write that lands records its events; a write that does not land (a taken id, a stale version,
a missing document) records none; ``relay_events`` makes recorded events visible in the event
collection exactly once, however often it runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.threads import run_together
from troubleticket.store.port import Collection, DuplicateId, ListQuery, Store
from troubleticket.store.query import Filter, parse_filter

TICKETS = Collection.TROUBLE_TICKET
EVENTS = Collection.EVENT


def a_ticket(ticket_id: str, **attributes: Any) -> dict[str, Any]:
    return {"id": ticket_id, "@type": "TroubleTicket", **attributes}


def an_event(event_id: str, ticket_id: str, order: str = "000000000001.000") -> dict[str, Any]:
    return {
        "id": event_id,
        "eventType": "TroubleTicketCreateEvent",
        "state": "recorded",
        "recordedAt": "2026-11-20T08:00:00.000Z",
        "resource": {"collection": "troubleTicket", "id": ticket_id},
        "resourceKey": f"troubleTicket/{ticket_id}",
        "orderKey": order,
        "body": {"eventId": event_id, "event": {"troubleTicket": {"id": ticket_id, "$odd": 1}}},
    }


def recorded(store: Store) -> list[str]:
    """The ids of the visible events, in insertion order, after relaying whatever is pending."""
    while store.relay_events():
        pass
    return [event["id"] for event in store.list(EVENTS, ListQuery(limit=1000)).items]


def test_an_insert_records_its_events_with_it(store: Store) -> None:
    store.insert(TICKETS, a_ticket("t-1"), events=[an_event("e-1", "t-1"), an_event("e-2", "t-1")])

    assert recorded(store) == ["e-1", "e-2"]
    event = store.get(EVENTS, "e-1")
    assert event is not None and event.doc == an_event("e-1", "t-1")


def test_an_insert_refused_for_a_taken_id_records_no_event(store: Store) -> None:
    store.insert(TICKETS, a_ticket("t-1"))

    with pytest.raises(DuplicateId):
        store.insert(TICKETS, a_ticket("t-1"), events=[an_event("e-1", "t-1")])

    assert recorded(store) == []


def test_a_replace_records_its_events_only_when_it_lands(store: Store) -> None:
    store.insert(TICKETS, a_ticket("t-1", n=0))
    landed = store.replace(
        TICKETS, a_ticket("t-1", n=1), expected_version=1, events=[an_event("e-1", "t-1")]
    )
    stale = store.replace(
        TICKETS, a_ticket("t-1", n=2), expected_version=1, events=[an_event("e-2", "t-1")]
    )

    assert landed is not None and stale is None
    assert recorded(store) == ["e-1"]


def test_a_delete_records_its_events_and_the_document_is_gone_at_once(store: Store) -> None:
    store.insert(TICKETS, a_ticket("t-1", status="acknowledged"))
    store.insert(TICKETS, a_ticket("t-2", status="acknowledged"))

    assert store.delete(TICKETS, "t-1", expected_version=1, events=[an_event("e-1", "t-1")])

    # before any relay: the deleted ticket is invisible to every read
    assert store.get(TICKETS, "t-1") is None
    listed = store.list(TICKETS, ListQuery(limit=10))
    assert [doc["id"] for doc in listed.items] == ["t-2"] and listed.total == 1
    by_status = store.list(TICKETS, ListQuery(where=_status("acknowledged"), limit=10))
    assert [doc["id"] for doc in by_status.items] == ["t-2"]
    assert [item.doc["id"] for item in store.scan(TICKETS)] == ["t-2"]
    assert store.replace(TICKETS, a_ticket("t-1"), expected_version=1) is None
    assert recorded(store) == ["e-1"]
    assert store.get(TICKETS, "t-1") is None


def test_a_delete_of_a_missing_or_changed_document_records_no_event(store: Store) -> None:
    store.insert(TICKETS, a_ticket("t-1"))
    store.replace(TICKETS, a_ticket("t-1", n=1), expected_version=1)

    assert not store.delete(TICKETS, "t-1", expected_version=1, events=[an_event("e-1", "t-1")])
    assert not store.delete(TICKETS, "nope", events=[an_event("e-2", "nope")])

    assert recorded(store) == []
    assert store.get(TICKETS, "t-1") is not None


def test_events_of_successive_changes_keep_their_order(store: Store) -> None:
    store.insert(TICKETS, a_ticket("t-1"), events=[an_event("e-1", "t-1")])
    for version in range(1, 4):
        store.replace(
            TICKETS,
            a_ticket("t-1", n=version),
            expected_version=version,
            events=[an_event(f"e-{version + 1}", "t-1")],
        )
    store.delete(TICKETS, "t-1", events=[an_event("e-5", "t-1")])

    assert recorded(store) == ["e-1", "e-2", "e-3", "e-4", "e-5"]


def test_relaying_again_and_concurrently_moves_each_event_once(store: Store) -> None:
    for n in range(20):
        store.insert(TICKETS, a_ticket(f"t-{n}"), events=[an_event(f"e-{n}", f"t-{n}")])

    run_together(lambda _n: store.relay_events(), range(4))

    assert sorted(recorded(store)) == sorted(f"e-{n}" for n in range(20))
    assert store.relay_events() == 0


def _status(value: str) -> Filter:
    return parse_filter(f"status={value}")
