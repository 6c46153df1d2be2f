"""Stored documents for the export/import tests: realistic ones, and one rich in JSON edge cases."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from tests.builders import a_full_ticket, a_specification, a_ticket
from troubleticket.domain.specification import create_specification
from troubleticket.domain.ticket import create_ticket
from troubleticket.store.port import DOCUMENT_COLLECTIONS, Collection, ListQuery, Store
from troubleticket.types import JSON

TICKETS = Collection.TROUBLE_TICKET
SPECIFICATIONS = Collection.TROUBLE_TICKET_SPECIFICATION
HUBS = Collection.HUB
EVENTS = Collection.EVENT
DELIVERIES = Collection.DELIVERY
CREATED = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)


def counts(**by_name: int) -> dict[Collection, int]:
    """A count for every collection, in their order: zero but for those named."""
    every: dict[Collection, int] = dict.fromkeys(DOCUMENT_COLLECTIONS, 0)
    for name, count in by_name.items():
        every[Collection(name)] = count
    return every


def counts_by_name(**by_name: int) -> dict[str, int]:
    """``counts`` keyed by collection name, as the header and the end line write them."""
    return {collection.value: count for collection, count in counts(**by_name).items()}


def ticket(doc_id: str, *, minute: int = 0, full: bool = False) -> JSON:
    """A ticket as the service stores it."""
    body = a_full_ticket() if full else a_ticket(description=f"ticket {doc_id}")
    return create_ticket(body, resource_id=doc_id, now=CREATED + timedelta(minutes=minute))


def specification(doc_id: str) -> JSON:
    return create_specification(
        a_specification(name=f"spec {doc_id}"), resource_id=doc_id, now=CREATED
    )


def rich_ticket(doc_id: str) -> JSON:
    """A stored ticket using every kind of JSON value a round trip could bend.

    Keys are deliberately out of alphabetical order, and floats with integral values sit next
    to integers, so that a reordering or a 1.0 -> 1 shows in the document's JSON text.
    """
    doc = ticket(doc_id, full=True)
    doc.update(
        {
            "zebra": "first of the extra keys, yet last in the alphabet",
            "alpha": 1,
            "description": "Ünïcödé — 日本語 — עברית — ملف — emoji 🛠️👩🏽‍💻🇧🇪 — 𝔘𝔫𝔦",
            "controlCharacters": "tab\t lf\n cr\r nul\x00 bell\x07 esc\x1b del\x7f",
            # Line separators a str.splitlines() would break a line at; JSON leaves them raw.
            "lineSeparators": "ls\u2028 ps\u2029 nel\x85 vt\x0b ff\x0c fs\x1c",
            "escapes": 'back\\slash "quoted" /solidus </script>',
            "zero": 0.0,
            "negativeZero": -0.0,
            "integralFloat": 1.0,
            "integer": 1,
            "beyondDoublePrecision": 2**53 + 1,
            "negativeBig": -(2**63),
            "tiny": 1e-300,
            "subnormal": 5e-324,
            "largest": 1.7976931348623157e308,
            "third": 1 / 3,
            "flags": {"yes": True, "no": False, "nothing": None},
            "empties": {"list": [], "object": {}, "string": ""},
            "nested": {"z": [1, [2.5, [3, {"y": None, "b": [{}], "a": [[[]]]}]]], "m": {"k": {}}},
            "mixed": [0.0, 0, "0", False, None, [], {}, -1.5e-7],
            "troubleTicketCharacteristic": [
                {"@type": "FloatCharacteristic", "name": "ratio", "value": 0.0},
                {"@type": "IntegerCharacteristic", "name": "count", "value": 9007199254740993},
                {"@type": "ObjectCharacteristic", "name": "o", "value": {"ß": "ẞ", "k": [True]}},
            ],
        }
    )
    return doc


def as_text(doc: JSON) -> str:
    """A document's JSON text in its own key order: differs on reordering, 1.0 vs 1, -0.0 vs 0."""
    return json.dumps(doc, ensure_ascii=False)


def listed(store: Store, collection: Collection) -> list[JSON]:
    """Every document of a collection in insertion order, read page by page."""
    docs: list[JSON] = []
    after: str | None = None
    while True:
        page = store.list(collection, ListQuery(limit=50, after=after))
        docs.extend(page.items)
        if page.next_cursor is None or not page.items:
            return docs
        after = page.next_cursor


def hub(doc_id: str, *, query: str = "eventType=TroubleTicketCreateEvent") -> JSON:
    """A subscription as the service stores it, secret included."""
    return {
        "id": doc_id,
        "@type": "Hub",
        "callback": f"https://client.example/cb/{doc_id}",
        "query": query,
        "secret": "whsec_" + base64.b64encode(bytes(range(32))).decode(),
        "appendEventListenerPath": False,
        "createdAt": "2026-11-20T08:00:00.000Z",
    }


def event_record(doc_id: str, ticket_id: str, *, version: int = 1) -> JSON:
    """An outbox record of a ticket's create event, already fanned out."""
    return {
        "id": doc_id,
        "eventType": "TroubleTicketCreateEvent",
        "state": "fannedOut",
        "recordedAt": "2026-11-20T08:01:00.000Z",
        "resource": {"collection": "troubleTicket", "id": ticket_id},
        "resourceKey": f"troubleTicket/{ticket_id}",
        "orderKey": f"{version:012d}.000",
        "body": {
            "@type": "TroubleTicketCreateEvent",
            "@baseType": "Event",
            "eventId": doc_id,
            "eventType": "TroubleTicketCreateEvent",
            "eventTime": "2026-11-20T08:01:00.000Z",
            "timeOccurred": "2026-11-20T08:01:00.000Z",
            "correlationId": doc_id,
            "domain": "troubleTicket",
            "title": "TroubleTicketCreateEvent",
            "event": {"troubleTicket": ticket(ticket_id)},
        },
    }


def delivery(hub_id: str, event: JSON, *, state: str, attempts: int) -> JSON:
    """The delivery of an event record to a hub, after ``attempts`` tries."""
    resource = event["resource"]
    return {
        "id": f"{hub_id}:{event['id']}",
        "@type": "EventDelivery",
        "hubId": hub_id,
        "eventId": event["id"],
        "eventType": event["eventType"],
        "resource": {
            "@type": "TroubleTicketRef",
            "id": resource["id"],
            "@referredType": "TroubleTicket",
        },
        "resourceKey": event["resourceKey"],
        "orderKey": event["orderKey"],
        "state": state,
        "attempts": attempts,
        "nextAttemptAt": "2026-11-20T09:30:00.000Z",
        "createdAt": "2026-11-20T08:01:00.000Z",
        "lastAttemptAt": "2026-11-20T09:14:00.000Z",
        "lastError": "HTTP 503 from https://client.example/cb/hub-1",
    }


def notification_documents() -> dict[Collection, list[JSON]]:
    """Subscriptions, events and deliveries, in the order they are inserted."""
    events = [event_record("ev-1", "tt-1"), event_record("ev-2", "tt-2", version=3)]
    return {
        HUBS: [hub("hub-1"), hub("hub-2", query="")],
        EVENTS: events,
        DELIVERIES: [
            delivery("hub-1", events[0], state="dead", attempts=8),
            delivery("hub-2", events[0], state="delivered", attempts=1),
            delivery("hub-1", events[1], state="pending", attempts=0),
        ],
    }


def insert_notifications(store: Store) -> None:
    """Store ``notification_documents``, each at its own version: some were written again."""
    for collection, docs in notification_documents().items():
        for doc in docs:
            store.insert(collection, doc)
    # hub-2 was edited once; ev-1 was written twice (recorded, then fanned out); the dead
    # delivery once per failed attempt after the first.
    rewrites = {(HUBS, "hub-2"): 1, (EVENTS, "ev-1"): 1, (DELIVERIES, "hub-1:ev-1"): 7}
    for (collection, doc_id), times in rewrites.items():
        for _ in range(times):
            stored = store.get(collection, doc_id)
            assert stored is not None
            assert store.replace(collection, stored.doc, expected_version=stored.version)
