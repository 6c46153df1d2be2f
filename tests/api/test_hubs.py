"""Subscriptions over HTTP: /hub, the events each hub receives, signing, deliveries and replay."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.assertions import BASE_URL, assert_tmf_error, created, patch
from tests.builders import API, TICKETS, a_ticket
from troubleticket.domain.signing import verify
from troubleticket.notify.delivery import DeliveryPolicy, Outcome
from troubleticket.notify.dispatcher import Dispatcher
from troubleticket.store.port import Collection, ListQuery, Store

if TYPE_CHECKING:
    import httpx
    from starlette.testclient import TestClient

    from tests.conftest import FrozenClock

HUBS = f"{API}/hub"
CALLBACK = "https://client.example/listener"
NOW = "2026-11-20T08:00:00.000Z"  # the frozen clock's starting instant, as the server writes it
SCHEDULE = (0, 5, 60)
POLICY = DeliveryPolicy(schedule=SCHEDULE, timeout=1.0, lease=10.0, concurrency=2)
INTERNAL_FIELDS = {"resourceKey", "orderKey", "leaseUntil", "leaseOwner"}
CREATE = "TroubleTicketCreateEvent"
STATUS_CHANGE = "TroubleTicketStatusChangeEvent"


def a_secret(size: int = 32) -> str:
    return "whsec_" + base64.b64encode(os.urandom(size)).decode()


def a_hub(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"@type": "Hub", "callback": CALLBACK}
    body.update(overrides)
    return body


@dataclass(frozen=True)
class Call:
    url: str
    body: bytes
    headers: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def event_type(self) -> str:
        return self.event["eventType"]  # type: ignore[no-any-return]

    @property
    def ticket_id(self) -> str:
        return self.event["event"]["troubleTicket"]["id"]  # type: ignore[no-any-return]


@dataclass
class FakeSender:
    """Records every attempt and answers with ``status``."""

    status: int = 204
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        with self._lock:
            self.calls.append(Call(url, body, dict(headers)))
        return Outcome(self.status)

    def to(self, url: str) -> list[Call]:
        return [call for call in self.calls if call.url == url]


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def dispatcher(store: Store, clock: FrozenClock, sender: FakeSender) -> Iterator[Dispatcher]:
    opened = Dispatcher(store, sender=sender, clock=clock, worker_id="w", policy=POLICY)
    yield opened
    opened.close()


def drain(dispatcher: Dispatcher) -> None:
    """Pass after pass until nothing is due (a resource's events go one per pass)."""
    for _ in range(50):
        if not dispatcher.run_once():
            return
    raise AssertionError("the dispatcher never went idle")


def register(client: TestClient, **overrides: Any) -> dict[str, Any]:
    return created(client, HUBS, a_hub(**overrides))


def a_ticket_in_progress(client: TestClient, **overrides: Any) -> dict[str, Any]:
    ticket = created(client, TICKETS, a_ticket(**overrides))
    response = patch(
        client, f"{TICKETS}/{ticket['id']}", {"@type": "TroubleTicket", "status": "inProgress"}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def deliveries(client: TestClient, hub: dict[str, Any], query: str = "") -> httpx.Response:
    response = client.get(f"{HUBS}/{hub['id']}/delivery{query}")
    assert response.status_code == 200, response.text
    return response  # type: ignore[no-any-return]


def delivery_doc(store: Store, delivery_id: str) -> dict[str, Any]:
    stored = store.get(Collection.DELIVERY, delivery_id)
    assert stored is not None, delivery_id
    return stored.doc


def only_delivery(store: Store, hub: dict[str, Any]) -> dict[str, Any]:
    page = store.list(Collection.DELIVERY, ListQuery())
    own = [d for d in page.items if d["hubId"] == hub["id"]]
    assert len(own) == 1, own
    return own[0]


def replay(client: TestClient, hub: dict[str, Any], **body: Any) -> httpx.Response:
    return client.post(  # type: ignore[no-any-return]
        f"{HUBS}/{hub['id']}/replay", json={"@type": "EventReplay", **body}
    )


class TestRegisteringAHub:
    def test_a_registered_hub_is_answered_201_readable_and_deletable(
        self, client: TestClient
    ) -> None:
        response = client.post(HUBS, json=a_hub())

        assert response.status_code == 201, response.text
        hub = response.json()
        href = f"{BASE_URL}{HUBS}/{hub['id']}"
        assert hub == {
            "id": hub["id"],
            "href": href,
            "@type": "Hub",
            "callback": CALLBACK,
            "signed": False,
            "appendEventListenerPath": False,
            "createdAt": NOW,
        }
        assert response.headers["Location"] == href

        read = client.get(f"{HUBS}/{hub['id']}")
        assert read.status_code == 200, read.text
        assert read.json() == hub

        deleted = client.delete(f"{HUBS}/{hub['id']}")
        assert deleted.status_code == 204, deleted.text
        assert deleted.content == b""

        assert_tmf_error(client.get(f"{HUBS}/{hub['id']}"), 404, "notFound")

    def test_deleting_an_unknown_hub_is_a_404(self, client: TestClient) -> None:
        assert_tmf_error(client.delete(f"{HUBS}/no-such-hub"), 404, "notFound")

    def test_reading_an_unknown_hub_is_a_404(self, client: TestClient) -> None:
        assert_tmf_error(client.get(f"{HUBS}/no-such-hub"), 404, "notFound")

    def test_a_hub_keeps_its_query_and_listener_path_option(self, client: TestClient) -> None:
        query = "eventType=TroubleTicketStatusChangeEvent"
        hub = register(client, query=query, appendEventListenerPath=True)

        assert hub["query"] == query
        assert hub["appendEventListenerPath"] is True
        assert client.get(hub["href"].removeprefix(BASE_URL)).json() == hub


class TestCallbackValidation:
    def test_a_hub_without_callback_is_a_400(self, client: TestClient) -> None:
        response = client.post(HUBS, json={"@type": "Hub"})

        assert_tmf_error(response, 400, "invalidRequest", mentions=("callback",))

    @pytest.mark.parametrize(
        "callback",
        [
            pytest.param("/cb", id="relative"),
            pytest.param("ftp://x/cb", id="ftp"),
            pytest.param("https://user:pw@client.example/cb", id="user-and-password"),
            pytest.param("https://user@client.example/cb", id="user"),
            pytest.param("http://", id="no-host"),
            pytest.param("https://client.example:99999/cb", id="port-out-of-range"),
            pytest.param("https://client.example/cb#frag", id="fragment"),
            pytest.param("javascript:alert(1)", id="javascript"),
            pytest.param("https://client.example/" + "a" * 3000, id="too-long"),
            pytest.param("", id="empty"),
        ],
    )
    def test_a_callback_that_is_not_an_absolute_http_url_is_a_400(
        self, client: TestClient, callback: str
    ) -> None:
        response = client.post(HUBS, json=a_hub(callback=callback))

        assert_tmf_error(response, 400, "invalidRequest", mentions=("callback",))

    def test_nothing_is_stored_for_a_refused_hub(self, client: TestClient, store: Store) -> None:
        client.post(HUBS, json=a_hub(callback="ftp://x/cb"))

        assert store.list(Collection.HUB, ListQuery()).total == 0

    @pytest.mark.parametrize(
        "callback",
        [
            "http://127.0.0.1:8081/cb",
            "https://[::1]:8443/cb",
            "https://client.example/tmf/listener?tenant=7",
        ],
    )
    def test_ip_hosts_ports_and_query_strings_are_accepted(
        self, client: TestClient, callback: str
    ) -> None:
        hub = register(client, callback=callback)

        assert hub["callback"] == callback


class TestHubQuery:
    @pytest.mark.parametrize(
        "query",
        [
            "eventType=TroubleTicketStatusChangeEvent,TroubleTicketResolvedEvent"
            "&event.troubleTicket.severity=Critical",
            "event.troubleTicket.severity=Critical;event.troubleTicket.priority=High",
            "eventTime.gte=2026-01-01T00:00:00Z",
        ],
    )
    def test_a_tmf630_filter_is_accepted(self, client: TestClient, query: str) -> None:
        assert register(client, query=query)["query"] == query

    @pytest.mark.parametrize(
        ("query", "named"),
        [
            ("a..b=1", "a..b"),
            ("$where=1", "$where"),
            (".a=1", ".a"),
            ("severity&status=held", "severity"),
            ("name*=(", "("),
        ],
    )
    def test_a_query_that_is_not_a_filter_is_a_400_naming_it(
        self, client: TestClient, query: str, named: str
    ) -> None:
        response = client.post(HUBS, json=a_hub(query=query))

        assert_tmf_error(response, 400, "invalidRequest", mentions=("query", named))

    def test_an_empty_query_selects_every_event(
        self, client: TestClient, dispatcher: Dispatcher, sender: FakeSender
    ) -> None:
        hub = register(client, query="")
        assert "query" not in hub

        a_ticket_in_progress(client)
        drain(dispatcher)

        assert [call.event_type for call in sender.calls] == [CREATE, STATUS_CHANGE]

    def test_a_query_that_compares_nothing_is_kept_as_data_and_selects_every_event(
        self, client: TestClient, dispatcher: Dispatcher, sender: FakeSender
    ) -> None:
        # TMF621 calls query "additional data to be passed"; its own example passes "data".
        hub = register(client, query="data")
        assert hub["query"] == "data"

        a_ticket_in_progress(client)
        drain(dispatcher)

        assert [call.event_type for call in sender.calls] == [CREATE, STATUS_CHANGE]


class TestSecret:
    def test_a_hub_with_a_secret_is_signed_and_never_shows_it(self, client: TestClient) -> None:
        secret = a_secret()

        response = client.post(HUBS, json=a_hub(secret=secret))

        assert response.status_code == 201, response.text
        hub = response.json()
        assert hub["signed"] is True
        assert "secret" not in hub
        assert secret not in response.text
        read = client.get(f"{HUBS}/{hub['id']}")
        assert read.status_code == 200, read.text
        assert "secret" not in read.json()
        assert secret not in read.text
        assert secret[len("whsec_") :] not in read.text

    @pytest.mark.parametrize(
        "secret",
        [
            pytest.param("abc", id="no-prefix"),
            pytest.param("whsec_not*base64", id="not-base64"),
            pytest.param(a_secret(8), id="8-bytes"),
            pytest.param(a_secret(100), id="100-bytes"),
            pytest.param(12345, id="number"),
        ],
    )
    def test_a_malformed_secret_is_a_400(
        self, client: TestClient, store: Store, secret: Any
    ) -> None:
        response = client.post(HUBS, json=a_hub(secret=secret))

        assert_tmf_error(response, 400, "invalidRequest", mentions=("secret",))
        assert store.list(Collection.HUB, ListQuery()).total == 0


class TestHubBody:
    def test_an_attribute_a_hub_does_not_have_is_ignored(
        self, client: TestClient, store: Store
    ) -> None:
        # Hub_FVO allows more attributes than it names; none of them means anything to a hub
        response = client.post(HUBS, json=a_hub(colour="red", topic={"a": 1}))

        assert response.status_code == 201, response.text
        assert "colour" not in response.json() and "topic" not in response.json()
        [stored] = store.list(Collection.HUB, ListQuery()).items
        assert "colour" not in stored and stored["callback"] == CALLBACK

    def test_the_type_is_kept_as_sent(self, client: TestClient) -> None:
        # the contract gives Hub's @type no value; a client's model may name it otherwise
        response = client.post(HUBS, json=a_hub(**{"@type": "EventSubscription"}))

        assert response.status_code == 201, response.text
        assert response.json()["@type"] == "EventSubscription"
        assert client.get(f"{HUBS}/{response.json()['id']}").json()["@type"] == "EventSubscription"

    def test_a_missing_type_is_a_400_as_the_spec_requires_it(self, client: TestClient) -> None:
        response = client.post(HUBS, json={"callback": CALLBACK})

        assert_tmf_error(response, 400, "invalidRequest", mentions=("@type",))

    def test_append_event_listener_path_must_be_a_boolean(self, client: TestClient) -> None:
        response = client.post(HUBS, json=a_hub(appendEventListenerPath="yes"))

        assert_tmf_error(response, 400, "invalidRequest", mentions=("appendEventListenerPath",))


class TestWhatAHubReceives:
    def test_each_hub_receives_the_events_its_query_selects(
        self, client: TestClient, dispatcher: Dispatcher, sender: FakeSender
    ) -> None:
        critical_only = register(
            client,
            callback="https://a.example/listener",
            query=f"eventType={STATUS_CHANGE}&event.troubleTicket.severity=Critical",
        )
        everything = register(client, callback="https://b.example/listener")
        critical = a_ticket_in_progress(client, severity="Critical")
        minor = a_ticket_in_progress(client, severity="Minor")

        drain(dispatcher)

        assert {call.url for call in sender.calls} == {
            critical_only["callback"],
            everything["callback"],
        }
        to_a = sender.to(critical_only["callback"])
        assert [(call.event_type, call.ticket_id) for call in to_a] == [
            (STATUS_CHANGE, critical["id"])
        ]
        assert to_a[0].event["event"]["troubleTicket"]["status"] == "inProgress"
        to_b = sender.to(everything["callback"])
        assert len(to_b) == 4
        for ticket in (critical, minor):
            assert [call.event_type for call in to_b if call.ticket_id == ticket["id"]] == [
                CREATE,
                STATUS_CHANGE,
            ]

    def test_an_event_is_sent_as_json_with_its_envelope(
        self, client: TestClient, dispatcher: Dispatcher, sender: FakeSender
    ) -> None:
        register(client)
        ticket = created(client, TICKETS, a_ticket())

        drain(dispatcher)

        (call,) = sender.calls
        assert call.headers["Content-Type"] == "application/json"
        event = call.event
        assert event["@type"] == event["eventType"] == CREATE
        assert event["eventTime"] == NOW
        assert event["event"]["troubleTicket"] == ticket

    @pytest.mark.parametrize(
        "callback", ["https://client.example/base", "https://client.example/base/"]
    )
    def test_append_event_listener_path_posts_to_the_listener_of_the_event(
        self, client: TestClient, dispatcher: Dispatcher, sender: FakeSender, callback: str
    ) -> None:
        register(client, callback=callback, appendEventListenerPath=True)
        a_ticket_in_progress(client)

        drain(dispatcher)

        assert [call.url for call in sender.calls] == [
            "https://client.example/base/listener/troubleTicketCreateEvent",
            "https://client.example/base/listener/troubleTicketStatusChangeEvent",
        ]

    def test_append_event_listener_path_keeps_the_query_string_of_the_callback(
        self, client: TestClient, dispatcher: Dispatcher, sender: FakeSender
    ) -> None:
        register(
            client, callback="https://client.example/tmf?tenant=7", appendEventListenerPath=True
        )
        created(client, TICKETS, a_ticket())

        drain(dispatcher)

        assert [call.url for call in sender.calls] == [
            "https://client.example/tmf/listener/troubleTicketCreateEvent?tenant=7"
        ]

    def test_a_hub_registered_after_an_event_does_not_receive_it(
        self, client: TestClient, dispatcher: Dispatcher, sender: FakeSender, clock: FrozenClock
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())
        clock.advance(seconds=1)
        register(client)  # the create event is recorded but not yet fanned out

        drain(dispatcher)
        assert sender.calls == []

        patch(client, f"{TICKETS}/{ticket['id']}", {"@type": "TroubleTicket", "status": "held"})
        drain(dispatcher)
        assert [call.event_type for call in sender.calls] == [STATUS_CHANGE]

    def test_a_deleted_hub_receives_nothing_more(
        self, client: TestClient, dispatcher: Dispatcher, sender: FakeSender
    ) -> None:
        hub = register(client)
        client.delete(f"{HUBS}/{hub['id']}")

        created(client, TICKETS, a_ticket())
        drain(dispatcher)

        assert sender.calls == []


class TestSigning:
    def test_every_attempt_to_a_signed_hub_carries_a_verifiable_signature(
        self,
        client: TestClient,
        dispatcher: Dispatcher,
        sender: FakeSender,
        clock: FrozenClock,
    ) -> None:
        secret = a_secret()
        register(client, secret=secret)
        a_ticket_in_progress(client)
        sender.status = 500
        dispatcher.run_once()  # first attempt of the create event fails
        sender.status = 204
        clock.advance(seconds=5)

        drain(dispatcher)

        assert [call.event_type for call in sender.calls] == [CREATE, CREATE, STATUS_CHANGE]
        for call in sender.calls:
            event_id = call.event["eventId"]
            timestamp = call.headers["webhook-timestamp"]
            signature = call.headers["webhook-signature"]
            assert call.headers["webhook-id"] == event_id
            assert signature.startswith("v1,")
            now = int(timestamp)
            assert verify(secret, event_id, now, call.body, signature, now=now)
            assert not verify(a_secret(), event_id, now, call.body, signature, now=now)
            assert not verify(secret, event_id, now, call.body + b" ", signature, now=now)
        assert sender.calls[0].headers["webhook-id"] == sender.calls[1].headers["webhook-id"]

    def test_a_hub_without_a_secret_gets_no_signature(
        self, client: TestClient, dispatcher: Dispatcher, sender: FakeSender
    ) -> None:
        register(client)
        created(client, TICKETS, a_ticket())

        drain(dispatcher)

        (call,) = sender.calls
        assert not {"webhook-signature", "webhook-timestamp"} & {h.lower() for h in call.headers}


class TestDeliveries:
    def test_a_hub_lists_its_deliveries_newest_first(
        self,
        client: TestClient,
        dispatcher: Dispatcher,
        sender: FakeSender,
        clock: FrozenClock,
    ) -> None:
        hub = register(client)
        other = register(client, callback="https://other.example/listener")
        first = created(client, TICKETS, a_ticket())
        drain(dispatcher)
        clock.advance(seconds=1)
        second = created(client, TICKETS, a_ticket())
        drain(dispatcher)

        response = deliveries(client, hub)

        assert response.headers["X-Total-Count"] == "2"
        listed = response.json()
        assert [d["resource"]["id"] for d in listed] == [second["id"], first["id"]]
        sent = {call.event["eventId"] for call in sender.to(CALLBACK)}
        assert {d["eventId"] for d in listed} == sent
        for delivery in listed:
            assert delivery["@type"] == "EventDelivery"
            assert delivery["hubId"] == hub["id"]
            assert delivery["eventType"] == CREATE
            assert delivery["state"] == "delivered"
            assert delivery["attempts"] == 1
            assert delivery["lastStatusCode"] == 204
            assert delivery["resource"] == {
                "@type": "TroubleTicketRef",
                "id": delivery["resource"]["id"],
                "@referredType": "TroubleTicket",
            }
            assert "href" not in delivery  # no operation reads a single delivery
            assert not INTERNAL_FIELDS & set(delivery), delivery
        assert deliveries(client, other).headers["X-Total-Count"] == "2"

    def test_deliveries_filter_by_state(
        self,
        client: TestClient,
        dispatcher: Dispatcher,
        sender: FakeSender,
        clock: FrozenClock,
    ) -> None:
        hub = register(client)
        delivered_ticket = created(client, TICKETS, a_ticket())
        drain(dispatcher)
        sender.status = 500
        dead_ticket = created(client, TICKETS, a_ticket())
        dispatcher.run_once()
        clock.advance(seconds=5)
        dispatcher.run_once()
        clock.advance(seconds=60)
        dispatcher.run_once()

        dead = deliveries(client, hub, "?state=dead")
        delivered = deliveries(client, hub, "?state=delivered")

        assert dead.headers["X-Total-Count"] == "1"
        assert [d["resource"]["id"] for d in dead.json()] == [dead_ticket["id"]]
        assert [d["resource"]["id"] for d in delivered.json()] == [delivered_ticket["id"]]
        assert deliveries(client, hub, "?state=pending").json() == []

    def test_the_deliveries_of_an_unknown_hub_are_a_404(self, client: TestClient) -> None:
        assert_tmf_error(client.get(f"{HUBS}/no-such-hub/delivery"), 404, "notFound")


class TestRetriesAndReplay:
    def test_a_failing_delivery_is_retried_on_the_schedule_then_dead_and_replayable(
        self,
        client: TestClient,
        store: Store,
        dispatcher: Dispatcher,
        sender: FakeSender,
        clock: FrozenClock,
    ) -> None:
        hub = register(client)
        created(client, TICKETS, a_ticket())
        sender.status = 500

        dispatcher.run_once()
        delivery = only_delivery(store, hub)
        assert delivery["attempts"] == 1
        assert delivery["state"] == "pending"
        assert delivery["nextAttemptAt"] == "2026-11-20T08:00:05.000Z"

        clock.advance(seconds=4)
        dispatcher.run_once()
        assert delivery_doc(store, delivery["id"])["attempts"] == 1  # not due yet
        clock.advance(seconds=1)
        dispatcher.run_once()
        delivery = delivery_doc(store, delivery["id"])
        assert delivery["attempts"] == 2
        assert delivery["state"] == "pending"
        assert delivery["nextAttemptAt"] == "2026-11-20T08:01:05.000Z"

        clock.advance(seconds=60)
        dispatcher.run_once()
        (dead,) = deliveries(client, hub).json()
        assert dead["id"] == delivery["id"]
        assert dead["attempts"] == 3
        assert dead["state"] == "dead"
        assert dead["lastStatusCode"] == 500
        assert dead["lastError"] == "HTTP 500"
        assert len(sender.calls) == 3
        clock.advance(seconds=3600)
        dispatcher.run_once()
        assert len(sender.calls) == 3  # dead letters are not retried

        response = replay(client, hub, delivery=[dead["id"]])

        assert response.status_code == 201, response.text
        replayed = response.json()
        assert replayed["@type"] == "EventReplay"
        assert replayed["replayedCount"] == 1
        (new_id,) = replayed["replayed"]
        assert new_id != dead["id"]
        sender.status = 204
        dispatcher.run_once()
        new = delivery_doc(store, new_id)
        assert new["state"] == "delivered"
        assert new["eventId"] == dead["eventId"]
        assert new["replayOf"] == dead["id"]
        assert sender.calls[-1].event["eventId"] == dead["eventId"]
        assert sender.calls[-1].body == sender.calls[0].body
        assert delivery_doc(store, dead["id"])["state"] == "dead"

    def test_a_replay_since_an_instant_sends_every_selected_event_again(
        self,
        client: TestClient,
        dispatcher: Dispatcher,
        sender: FakeSender,
        clock: FrozenClock,
    ) -> None:
        first = a_ticket_in_progress(client)
        second = a_ticket_in_progress(client)
        clock.advance(seconds=1)
        hub = register(client, query=f"eventType={STATUS_CHANGE}")
        drain(dispatcher)
        assert sender.calls == []  # the events happened before the hub

        response = replay(client, hub, since="2026-11-20T07:59:00Z")

        assert response.status_code == 201, response.text
        assert response.json()["replayedCount"] == 2
        drain(dispatcher)
        assert sorted((call.event_type, call.ticket_id) for call in sender.calls) == sorted(
            [(STATUS_CHANGE, first["id"]), (STATUS_CHANGE, second["id"])]
        )

    def test_a_replay_since_after_the_events_replays_nothing(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        hub = register(client)
        created(client, TICKETS, a_ticket())
        clock.advance(seconds=1)

        response = replay(client, hub, since="2026-11-20T08:00:00.500Z")

        assert response.status_code == 201, response.text
        assert response.json()["replayedCount"] == 0
        assert response.json()["replayed"] == []

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({}, id="neither"),
            pytest.param({"since": NOW, "delivery": ["x"]}, id="both"),
        ],
    )
    def test_a_replay_names_either_an_instant_or_deliveries(
        self, client: TestClient, body: dict[str, Any]
    ) -> None:
        hub = register(client)

        response = replay(client, hub, **body)

        assert_tmf_error(response, 400, "invalidRequest", mentions=("since", "delivery"))

    def test_a_replay_of_another_hubs_delivery_is_a_400(
        self, client: TestClient, store: Store, dispatcher: Dispatcher
    ) -> None:
        hub = register(client)
        other = register(client, callback="https://other.example/listener")
        created(client, TICKETS, a_ticket())
        drain(dispatcher)
        foreign = only_delivery(store, other)

        response = replay(client, hub, delivery=[foreign["id"]])

        assert_tmf_error(response, 400, "invalidRequest", mentions=(foreign["id"],))

    def test_a_replay_of_a_pending_delivery_is_a_400(
        self, client: TestClient, store: Store, dispatcher: Dispatcher, sender: FakeSender
    ) -> None:
        hub = register(client)
        created(client, TICKETS, a_ticket())
        sender.status = 500
        dispatcher.run_once()
        waiting = only_delivery(store, hub)
        assert waiting["state"] == "pending"

        response = replay(client, hub, delivery=[waiting["id"]])

        assert_tmf_error(response, 400, "invalidRequest", mentions=("pending",))

    def test_a_replay_for_an_unknown_hub_is_a_404(self, client: TestClient) -> None:
        response = client.post(
            f"{HUBS}/no-such-hub/replay", json={"@type": "EventReplay", "since": NOW}
        )

        assert_tmf_error(response, 404, "notFound")


class TestDeletingAHub:
    def test_its_waiting_deliveries_are_cancelled_not_sent(
        self,
        client: TestClient,
        store: Store,
        dispatcher: Dispatcher,
        sender: FakeSender,
        clock: FrozenClock,
    ) -> None:
        hub = register(client)
        created(client, TICKETS, a_ticket())
        sender.status = 500
        dispatcher.run_once()
        waiting = only_delivery(store, hub)
        assert waiting["state"] == "pending"

        client.delete(f"{HUBS}/{hub['id']}")
        clock.advance(seconds=5)  # the retry falls due
        dispatcher.run_once()

        assert delivery_doc(store, waiting["id"])["state"] == "cancelled"
        assert len(sender.calls) == 1

    def test_its_waiting_deliveries_are_cancelled_at_the_next_pass(
        self,
        client: TestClient,
        store: Store,
        dispatcher: Dispatcher,
        sender: FakeSender,
    ) -> None:
        hub = register(client)
        created(client, TICKETS, a_ticket())
        sender.status = 500
        dispatcher.run_once()
        waiting = only_delivery(store, hub)

        client.delete(f"{HUBS}/{hub['id']}")
        dispatcher.run_once()

        assert delivery_doc(store, waiting["id"])["state"] == "cancelled"
