"""The /listener/* sink: each takes the events of its own type, once per eventId.

The valid events are the ones this server itself sends to a hub, so the same tests show that
every event the server emits conforms to the contract's schema for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.assertions import assert_tmf_error, created, patch
from tests.builders import API, SPECIFICATIONS, TICKETS, a_specification, a_ticket
from troubleticket.api.contract import load_spec
from troubleticket.notify.delivery import DeliveryPolicy, Outcome
from troubleticket.notify.dispatcher import Dispatcher
from troubleticket.store.port import Collection, ListQuery, Store

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from tests.conftest import FrozenClock

LISTENER_PATHS = sorted(p for p in load_spec()["paths"] if p.startswith("/listener/"))
POLICY = DeliveryPolicy(schedule=(0, 5, 60), timeout=1.0, lease=10.0, concurrency=2)
EVENT_TIME = "2026-11-20T08:00:00.000Z"


def event_type_of(path: str) -> str:
    """``/listener/troubleTicketCreateEvent`` -> ``TroubleTicketCreateEvent``."""
    stem = path.rsplit("/", 1)[1]
    return stem[:1].upper() + stem[1:]


def listener_of(event_type: str) -> str:
    return f"{API}/listener/{event_type[:1].lower()}{event_type[1:]}"


EVENT_TYPES = [event_type_of(path) for path in LISTENER_PATHS]


class Recorder:
    """A sender that keeps each event it is asked to deliver, and answers 204."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        self.events.append(json.loads(body))
        return Outcome(204)


def received(store: Store) -> int:
    return store.list(Collection.RECEIVED_EVENT, ListQuery()).counted


@pytest.fixture
def emitted(client: TestClient, store: Store, clock: FrozenClock) -> Iterator[list[dict[str, Any]]]:
    """Every event the server sent to a hub while tickets and specifications went through
    create, attribute change, each status event, a jeopardy warning, an escalation and delete,
    and recovery activities through theirs."""
    recorder = Recorder()
    dispatcher = Dispatcher(store, sender=recorder, clock=clock, worker_id="w", policy=POLICY)
    try:
        created(client, f"{API}/hub", {"@type": "Hub", "callback": "https://client.example/cb"})
        ticket = f"{TICKETS}/{created(client, TICKETS, a_ticket())['id']}"
        # Past 75 % of the acknowledge target (8 h for a Low ticket): the next change raises the
        # warning, and the manual escalation below its own event.
        clock.advance(hours=7)
        steps: list[dict[str, Any]] = [
            {"escalationLevel": 1, "escalationReason": "Customer called twice"},
            {"status": "inProgress"},
            {"description": "Dial tone lost again"},
            {"status": "pending", "statusChangeReason": "Which handset model?"},
            {"status": "inProgress"},
            {"status": "resolved"},
        ]
        for step in steps:
            clock.advance(seconds=1)
            response = patch(client, ticket, {"@type": "TroubleTicket", **step})
            assert response.status_code == 200, response.text
        assert client.delete(ticket).status_code == 204
        # recovery activities of another ticket: created, renamed, started, one deleted
        work = f"{TICKETS}/{created(client, TICKETS, a_ticket(status='inProgress'))['id']}"
        activity = {"@type": "RecoveryActivity", "activityType": "diagnose"}
        first = created(client, f"{work}/recoveryActivity", activity)["id"]
        for change in ({"name": "Line test"}, {"state": "inProgress"}):
            url = f"{work}/recoveryActivity/{first}"
            response = patch(client, url, {"@type": "RecoveryActivity", **change})
            assert response.status_code == 200, response.text
        second = created(client, f"{work}/recoveryActivity", activity)["id"]
        assert client.delete(f"{work}/recoveryActivity/{second}").status_code == 204
        specification = created(client, SPECIFICATIONS, a_specification())
        spec = f"{SPECIFICATIONS}/{specification['id']}"
        for change in ({"lifecycleStatus": "retired"}, {"name": "Broadband outage"}):
            response = patch(client, spec, {"@type": "TroubleTicketSpecification", **change})
            assert response.status_code == 200, response.text
        assert client.delete(spec).status_code == 204
        for _ in range(50):
            if not dispatcher.run_once():
                break
        yield recorder.events
    finally:
        dispatcher.close()


def first_of(events: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    matching = [event for event in events if event["eventType"] == event_type]
    assert matching, f"the server emitted no {event_type}"
    return matching[0]


def a_minimal_event(event_type: str, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "@type": event_type,
        "eventId": "evt-1",
        "eventType": event_type,
        "eventTime": EVENT_TIME,
        "event": {},
    }
    event.update(overrides)
    return event


def test_the_contract_has_a_listener_for_each_event_type() -> None:
    assert len(LISTENER_PATHS) == 16
    assert {
        "TroubleTicketResolvedEvent",
        "TroubleTicketInformationRequiredEvent",
        "TroubleTicketJeopardyAlertEvent",
        "TroubleTicketEscalationEvent",
        "RecoveryActivityCreateEvent",
        "RecoveryActivityAttributeValueChangeEvent",
        "RecoveryActivityStateChangeEvent",
        "RecoveryActivityDeleteEvent",
    } <= set(EVENT_TYPES)


class TestReceivingAnEvent:
    @pytest.mark.parametrize("path", LISTENER_PATHS)
    def test_a_valid_event_is_recorded_once_by_its_event_id(
        self, client: TestClient, store: Store, emitted: list[dict[str, Any]], path: str
    ) -> None:
        event_type = event_type_of(path)
        event = first_of(emitted, event_type)

        response = client.post(f"{API}{path}", json=event)

        assert response.status_code == 204, response.text
        assert response.content == b""
        stored = store.get(Collection.RECEIVED_EVENT, event["eventId"])
        assert stored is not None
        assert stored.doc["eventType"] == event_type
        assert stored.doc["event"] == event

        again = client.post(f"{API}{path}", json=event)

        assert again.status_code == 204, again.text
        assert again.content == b""
        assert received(store) == 1

    def test_a_repeated_event_id_keeps_the_first_event(
        self, client: TestClient, store: Store
    ) -> None:
        path = listener_of("TroubleTicketCreateEvent")
        first = a_minimal_event("TroubleTicketCreateEvent", title="first")
        assert client.post(path, json=first).status_code == 204

        response = client.post(path, json={**first, "title": "second"})

        assert response.status_code == 204, response.text
        stored = store.get(Collection.RECEIVED_EVENT, first["eventId"])
        assert stored is not None
        assert stored.doc["event"]["title"] == "first"
        assert received(store) == 1

    def test_the_same_event_id_on_another_listener_is_not_recorded_again(
        self, client: TestClient, store: Store
    ) -> None:
        create = a_minimal_event("TroubleTicketCreateEvent")
        delete = a_minimal_event("TroubleTicketDeleteEvent")
        assert client.post(listener_of("TroubleTicketCreateEvent"), json=create).status_code == 204

        response = client.post(listener_of("TroubleTicketDeleteEvent"), json=delete)

        assert response.status_code == 204, response.text
        assert received(store) == 1

    def test_a_minimal_event_is_accepted(self, client: TestClient, store: Store) -> None:
        event = a_minimal_event("TroubleTicketStatusChangeEvent")

        response = client.post(listener_of("TroubleTicketStatusChangeEvent"), json=event)

        assert response.status_code == 204, response.text
        assert received(store) == 1


class TestEventsWithoutAnEventId:
    """TMF621's event schemas do not require ``eventId``: such an event is recorded by an id
    derived from it, so the same event sent again is still recognised."""

    @pytest.mark.parametrize("path", LISTENER_PATHS)
    def test_it_is_accepted_and_recorded_by_a_digest_of_itself(
        self, client: TestClient, store: Store, path: str
    ) -> None:
        event = a_minimal_event(event_type_of(path))
        del event["eventId"]
        reordered = dict(reversed(list(event.items())))

        first = client.post(f"{API}{path}", json=event)
        again = client.post(f"{API}{path}", json=reordered)

        assert first.status_code == again.status_code == 204, first.text
        assert received(store) == 1
        digest = hashlib.sha256(
            json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        stored = store.get(Collection.RECEIVED_EVENT, f"sha256:{digest}")
        assert stored is not None and stored.doc["event"] == event

    def test_an_empty_event_id_is_as_none(self, client: TestClient, store: Store) -> None:
        event = a_minimal_event("TroubleTicketCreateEvent", eventId="")

        for _ in range(2):
            response = client.post(listener_of("TroubleTicketCreateEvent"), json=event)
            assert response.status_code == 204, response.text

        assert received(store) == 1

    def test_another_event_is_another_record(self, client: TestClient, store: Store) -> None:
        first = a_minimal_event("TroubleTicketCreateEvent")
        second = a_minimal_event("TroubleTicketCreateEvent", eventTime="2026-11-20T08:00:01Z")
        for event in (first, second):
            del event["eventId"]
            response = client.post(listener_of("TroubleTicketCreateEvent"), json=event)
            assert response.status_code == 204, response.text

        assert received(store) == 2

    def test_a_standard_webhooks_message_id_names_it_when_sent(
        self, client: TestClient, store: Store
    ) -> None:
        event = a_minimal_event("TroubleTicketCreateEvent")
        del event["eventId"]
        retried = {**event, "eventTime": "2026-11-20T08:05:00Z"}  # a sender's later attempt

        for body in (event, retried):
            response = client.post(
                listener_of("TroubleTicketCreateEvent"),
                json=body,
                headers={"webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"},
            )
            assert response.status_code == 204, response.text

        assert received(store) == 1
        assert store.get(Collection.RECEIVED_EVENT, "webhook:msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")


class TestRefusedEvents:
    @pytest.mark.parametrize("path", LISTENER_PATHS)
    def test_an_event_of_another_type_is_a_400_naming_the_expected_type(
        self, client: TestClient, store: Store, path: str
    ) -> None:
        expected = event_type_of(path)
        other = next(t for t in EVENT_TYPES if t != expected)

        response = client.post(f"{API}{path}", json=a_minimal_event(other))

        assert_tmf_error(response, 400, "invalidRequest", mentions=(expected, other))
        assert received(store) == 0

    def test_the_class_of_the_event_decides_and_its_event_type_is_kept_as_sent(
        self, client: TestClient, store: Store
    ) -> None:
        # The contract's own listener example has @type TroubleTicketCreateEvent and a free
        # eventType ('CXJAD'): @type is the class, eventType a string beside it.
        event = a_minimal_event("TroubleTicketCreateEvent", eventType="CXJAD")

        response = client.post(listener_of("TroubleTicketCreateEvent"), json=event)

        assert response.status_code == 204, response.text
        stored = store.get(Collection.RECEIVED_EVENT, "evt-1")
        assert stored is not None
        assert stored.doc["eventType"] == "TroubleTicketCreateEvent"
        assert stored.doc["event"] == event

    def test_a_subclass_of_the_listeners_event_is_taken(self, client: TestClient) -> None:
        event = a_minimal_event(
            "TroubleTicketCreateEvent",
            **{"@type": "FibreTroubleTicketCreateEvent", "@baseType": "TroubleTicketCreateEvent"},
        )

        response = client.post(listener_of("TroubleTicketCreateEvent"), json=event)

        assert response.status_code == 204, response.text

    def test_an_at_type_of_another_event_is_a_400(self, client: TestClient, store: Store) -> None:
        event = a_minimal_event("TroubleTicketCreateEvent", **{"@type": "TroubleTicketDeleteEvent"})

        response = client.post(listener_of("TroubleTicketCreateEvent"), json=event)

        assert_tmf_error(
            response,
            400,
            "invalidRequest",
            mentions=("TroubleTicketCreateEvent", "TroubleTicketDeleteEvent"),
        )
        assert received(store) == 0

    @pytest.mark.parametrize(
        ("raw", "mentions"),
        [
            pytest.param(b"[1]", ("object",), id="array"),
            pytest.param(b'"an event"', ("object",), id="string"),
            pytest.param(b"42", ("object",), id="number"),
        ],
    )
    def test_a_body_that_is_not_an_object_is_a_400(
        self, client: TestClient, store: Store, raw: bytes, mentions: tuple[str, ...]
    ) -> None:
        response = client.post(
            listener_of("TroubleTicketCreateEvent"),
            content=raw,
            headers={"content-type": "application/json"},
        )

        assert_tmf_error(response, 400, "invalidRequest", mentions=mentions)
        assert received(store) == 0

    @pytest.mark.parametrize(
        ("overrides", "named"),
        [
            pytest.param({"eventTime": "yesterday"}, "eventTime", id="eventTime-not-a-date"),
            pytest.param({"eventId": 7}, "eventId", id="eventId-not-a-string"),
            pytest.param({"event": "created"}, "event", id="payload-not-an-object"),
            pytest.param(
                {"event": {"troubleTicket": {"id": "1"}}}, "@type", id="ticket-without-type"
            ),
        ],
    )
    def test_an_event_that_violates_the_schema_is_a_400(
        self, client: TestClient, store: Store, overrides: dict[str, Any], named: str
    ) -> None:
        event = a_minimal_event("TroubleTicketCreateEvent", **overrides)

        response = client.post(listener_of("TroubleTicketCreateEvent"), json=event)

        assert_tmf_error(response, 400, "invalidRequest", mentions=(named,))
        assert received(store) == 0

    def test_an_event_without_type_is_a_400(self, client: TestClient, store: Store) -> None:
        event = a_minimal_event("TroubleTicketCreateEvent")
        del event["@type"]

        response = client.post(listener_of("TroubleTicketCreateEvent"), json=event)

        assert_tmf_error(response, 400, "invalidRequest", mentions=("@type",))
        assert received(store) == 0


class TestEmittedEventsConformToTheContract:
    def test_the_server_emits_every_event_type_of_the_contract(
        self, emitted: list[dict[str, Any]]
    ) -> None:
        assert {event["eventType"] for event in emitted} == set(EVENT_TYPES)

    def test_every_emitted_event_is_accepted_by_its_own_listener(
        self, client: TestClient, store: Store, emitted: list[dict[str, Any]]
    ) -> None:
        for event in emitted:
            assert event["@type"] == event["eventType"], event
            response = client.post(listener_of(event["eventType"]), json=event)
            assert response.status_code == 204, (event["eventType"], response.text)

        assert received(store) == len(emitted) == len({e["eventId"] for e in emitted})
