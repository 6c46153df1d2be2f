"""The ``/listener/*`` sink: every event received once, by its eventId (or an id derived from
it); a partner's event about a ticket we raised at it is applied to our side first (``Inbox``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

from troubleticket.domain.documents import timestamp
from troubleticket.domain.errors import InvalidRequest
from troubleticket.store.port import Collection, DuplicateId, Store
from troubleticket.types import JSON, Clock


class Inbox(Protocol):
    """What takes the events partners send about the tickets we raised at them."""

    def accept(self, event: JSON, raw: bytes, headers: Mapping[str, str]) -> bool: ...


def received_id(event: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The id an event received is recorded by: its ``eventId``; without one (or with an
    empty one), the ``webhook-id`` a Standard Webhooks sender gives every attempt of one
    message (``webhook:{id}``); without that, a digest of the event itself (``sha256:{hex}``,
    the same for the same event however its members are ordered)."""
    event_id = event.get("eventId")
    if isinstance(event_id, str) and event_id:
        return event_id
    webhook_id = headers.get("webhook-id", "").strip()
    if webhook_id:
        return f"webhook:{webhook_id[:200]}"
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"sha256:{hashlib.sha256(canonical.encode()).hexdigest()}"


class ListenerService:
    """The ``/listener/*`` sink: every event received once, by its eventId; a partner's event
    about a ticket we raised at it is applied to our side first (``inbox``)."""

    def __init__(self, store: Store, *, clock: Clock, inbox: Inbox | None = None) -> None:
        self._store = store
        self._clock = clock
        self._inbox = inbox

    def receive(
        self,
        event_type: str,
        event: JSON,
        *,
        raw: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> bool:
        """Record an event; ``False`` when its eventId was received before (nothing changes).

        An event without an ``eventId`` (TMF621 does not require one) is recorded by one
        derived from it (``received_id``), so the same event sent again is still recognised.
        A partner's event is applied before it is recorded (applying it again changes nothing),
        so one that fails half-way is applied when the partner sends it again.

        Raises:
            InvalidRequest: an eventType other than the listener's.
            Unauthorized: a partner's event not signed with the secret it was given.
        """
        event_id = received_id(event, headers or {})
        # The event's class is its @type (the schema requires it; a subclass names the
        # listener's type as its @baseType); eventType is a free string beside it. Only an
        # event of another class is refused: it was sent to the wrong listener.
        declared_by, declared = ("@type", event.get("@type"))
        if declared is None:
            declared_by, declared = ("eventType", event.get("eventType"))
        if declared is not None and event_type not in (declared, event.get("@baseType")):
            raise InvalidRequest(
                f"This listener takes {event_type}; the event's {declared_by} is {declared!r}"
            )
        if self._inbox is not None:
            self._inbox.accept(event, raw, headers or {})
        record = {
            "id": event_id,
            "eventType": event_type,
            "receivedAt": timestamp(self._clock()),
            "event": event,
        }
        try:
            self._store.insert(Collection.RECEIVED_EVENT, record)
        except DuplicateId:
            return False
        return True
