"""The stored shapes of the notification pipeline: outbox events and deliveries.

An *event record* (``Collection.EVENT``) is written in the same atomic write as the change that
raised it, and holds the event document subscribers get (``body``). The dispatcher fans each one
out into one *delivery* (``Collection.DELIVERY``) per subscribed hub whose query selects it, and
works each delivery through its states::

    pending --claim--> delivering --2xx--> delivered
       ^                   |  failure, attempts left
       +-------------------+
                           |  failure, schedule exhausted
                           +--> dead        (hub deleted meanwhile: cancelled)

``orderKey`` orders the events of one resource (its version, then the event's place in the
change), so a delivery waits for the earlier ones of the same resource to the same hub. The
events of a child resource (a recovery activity) are ordered with its parent's: a subscriber
gets a ticket's and its activities' events in the order they happened.
"""

from __future__ import annotations

from datetime import datetime

from troubleticket.domain.documents import timestamp
from troubleticket.domain.events import Raised, envelope
from troubleticket.store.port import Collection
from troubleticket.types import JSON, IdFactory

# Event record states
RECORDED = "recorded"
FANNED_OUT = "fannedOut"

# Delivery states
PENDING = "pending"
DELIVERING = "delivering"
DELIVERED = "delivered"
DEAD = "dead"
CANCELLED = "cancelled"
UNFINISHED = (PENDING, DELIVERING)

# Fields of a delivery only the dispatcher reads; the API does not show them.
INTERNAL_DELIVERY_FIELDS = frozenset({"resourceKey", "orderKey", "leaseUntil", "leaseOwner"})


def order_key(version: int, index: int) -> str:
    """Sorts as text in the order the events of one resource happened."""
    return f"{version:012d}.{index:03d}"


FIRST_EVENT = order_key(1, 0)
"""The order key of the first event of a resource: its creation."""


def resource_key(collection: Collection, resource_id: str) -> str:
    return f"{collection.value}/{resource_id}"


def event_records(
    raised: list[Raised],
    *,
    collection: Collection,
    resource_id: str,
    version: int,
    now: datetime,
    new_id: IdFactory,
    priority: str | None = None,
    ordered_with: str | None = None,
    first_index: int = 0,
    target: str | None = None,
    parties: list[str] | None = None,
) -> list[JSON]:
    """The outbox records of the events one change raised (``version``: the version it wrote).

    ``ordered_with``: the resource key whose events these are ordered with (a child's events
    are ordered with its parent's, which wrote them); ``first_index``: the place of the first
    of them among the events of that write. ``target``: an internal request to one system
    (``partner:{id}``), delivered there alone and never to hubs. ``parties``: the parties
    whose hubs may get these events (those of the ticket); a partner's hub gets no event
    without its party here.
    """
    key = ordered_with or resource_key(collection, resource_id)
    records = []
    for index, event in enumerate(raised, start=first_index):
        event_id = new_id()
        body = envelope(event, event_id=event_id, now=now, priority=priority)
        records.append(
            {
                "id": event_id,
                "eventType": event.event_type,
                "state": RECORDED,
                "recordedAt": timestamp(now),
                "resource": {"collection": collection.value, "id": resource_id},
                "resourceKey": key,
                "orderKey": order_key(version, index),
                "body": body,
            }
        )
        if target is not None:
            records[-1]["target"] = target
        if parties is not None:
            records[-1]["parties"] = parties
    return records


def new_delivery(
    *,
    delivery_id: str,
    hub_id: str,
    event: JSON,
    now: datetime,
    due: datetime | None = None,
    replay_of: str | None = None,
) -> JSON:
    """A delivery of one event record to one hub, first due at ``due`` (default: now)."""
    resource = event["resource"]
    stamp = timestamp(now)
    delivery: JSON = {
        "id": delivery_id,
        "@type": "EventDelivery",
        "hubId": hub_id,
        "eventId": event["id"],
        "eventType": event["eventType"],
        "resource": {
            "@type": f"{_class_name(resource['collection'])}Ref",
            "id": resource["id"],
            "@referredType": _class_name(resource["collection"]),
        },
        "resourceKey": event["resourceKey"],
        "orderKey": event["orderKey"],
        "state": PENDING,
        "attempts": 0,
        "nextAttemptAt": timestamp(due) if due is not None else stamp,
        "createdAt": stamp,
    }
    if replay_of is not None:
        delivery["replayOf"] = replay_of
    return delivery


def _class_name(collection: str) -> str:
    return collection[:1].upper() + collection[1:]
