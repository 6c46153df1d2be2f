"""Event notifications end to end: a served API, hubs, and a real listener receiving the POSTs.

One server (in-process dispatcher, fast retry schedule) serves the module; each test subscribes
its own hubs to its own listener and removes them when it ends.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import ServerFactory, ServerProcess
from tests.e2e.listener import Listener, Received
from troubleticket.domain.signing import verify

FAST_DELIVERY = {
    "TT_DELIVERY_SCHEDULE": "0,200ms,200ms,200ms,200ms",
    "TT_DELIVERY_TIMEOUT": "2s",
    "TT_DISPATCH_INTERVAL": "100ms",
    "TT_LOG_LEVEL": "warning",
}
RETRY_DELAY_S = 0.2
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
ENVELOPE = ("@type", "eventId", "eventType", "eventTime", "timeOccurred", "correlationId")
REASON = "Need the modem serial number"

TT = "TroubleTicket"
CREATE = f"{TT}CreateEvent"
ATTRIBUTE = f"{TT}AttributeValueChangeEvent"
STATUS = f"{TT}StatusChangeEvent"
RESOLVED = f"{TT}ResolvedEvent"
INFORMATION = f"{TT}InformationRequiredEvent"
DELETE = f"{TT}DeleteEvent"
SPEC = "TroubleTicketSpecification"


def a_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


class Api:
    """The few calls these tests make, each checked for the status it must answer."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.hubs: list[str] = []

    def _ok(self, response: requests.Response, status: int) -> Any:
        assert response.status_code == status, (
            f"{response.request.method} {response.url}: {response.status_code} {response.text}"
        )
        return response.json() if response.content else None

    def create_ticket(self, **fields: Any) -> dict[str, Any]:
        body = {
            "@type": TT,
            "description": "Modem does not sync",
            "severity": "Minor",
            "ticketType": "incident",
            **fields,
        }
        return self._ok(requests.post(f"{self.base}/troubleTicket", json=body, timeout=10), 201)  # type: ignore[no-any-return]

    def patch_ticket(self, ticket_id: str, **changes: Any) -> dict[str, Any]:
        response = requests.patch(
            f"{self.base}/troubleTicket/{ticket_id}",
            data=json.dumps({"@type": TT, **changes}),
            headers=MERGE_PATCH,
            timeout=10,
        )
        return self._ok(response, 200)  # type: ignore[no-any-return]

    def delete_ticket(self, ticket_id: str) -> None:
        self._ok(requests.delete(f"{self.base}/troubleTicket/{ticket_id}", timeout=10), 204)

    def create_specification(self, **fields: Any) -> dict[str, Any]:
        body = {"@type": SPEC, "name": "Broadband outage", **fields}
        response = requests.post(f"{self.base}/troubleTicketSpecification", json=body, timeout=10)
        return self._ok(response, 201)  # type: ignore[no-any-return]

    def patch_specification(self, spec_id: str, **changes: Any) -> dict[str, Any]:
        response = requests.patch(
            f"{self.base}/troubleTicketSpecification/{spec_id}",
            data=json.dumps({"@type": SPEC, **changes}),
            headers=MERGE_PATCH,
            timeout=10,
        )
        return self._ok(response, 200)  # type: ignore[no-any-return]

    def delete_specification(self, spec_id: str) -> None:
        url = f"{self.base}/troubleTicketSpecification/{spec_id}"
        self._ok(requests.delete(url, timeout=10), 204)

    def subscribe(self, callback: str, **fields: Any) -> str:
        body = {"@type": "Hub", "callback": callback, **fields}
        hub = self._ok(requests.post(f"{self.base}/hub", json=body, timeout=10), 201)
        self.hubs.append(hub["id"])
        return str(hub["id"])

    def unsubscribe(self, hub_id: str) -> None:
        self._ok(requests.delete(f"{self.base}/hub/{hub_id}", timeout=10), 204)
        self.hubs.remove(hub_id)

    def unsubscribe_all(self) -> None:
        for hub_id in list(self.hubs):
            requests.delete(f"{self.base}/hub/{hub_id}", timeout=10)
        self.hubs.clear()


@pytest.fixture(scope="module")
def notifying_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    factory = ServerFactory(tmp_path_factory.mktemp("notifications"))
    try:
        yield factory.serve(env=FAST_DELIVERY)
    finally:
        factory.close()


@pytest.fixture
def api(notifying_server: ServerProcess) -> Iterator[Api]:
    client = Api(notifying_server.base)
    try:
        yield client
    finally:
        client.unsubscribe_all()


def of(resource_id: str, received: list[Received]) -> list[Received]:
    return [r for r in received if r.resource.get("id") == resource_id]


def types(received: list[Received]) -> list[str]:
    return [r.event_type for r in received]


def assert_envelope(received: Received) -> None:
    event = received.event
    for name in ENVELOPE:
        assert event.get(name), f"{name} missing from {event}"
    assert event["@type"] == event["eventType"]
    assert event["domain"] == "troubleTicket"
    assert event["title"]
    assert received.headers["content-type"].startswith("application/json")


def test_every_event_type_arrives_in_order_with_the_resource_after_the_change(
    api: Api, listener: Listener
) -> None:
    api.subscribe(f"{listener.url}/all")

    ticket = api.create_ticket()
    tid = ticket["id"]
    after = [
        ticket,
        api.patch_ticket(tid, description="The modem reboots every hour"),
        api.patch_ticket(tid, status="inProgress"),
        api.patch_ticket(tid, status="pending", statusChangeReason=REASON),
        api.patch_ticket(tid, status="inProgress"),
        api.patch_ticket(tid, status="resolved"),
    ]
    api.delete_ticket(tid)
    spec = api.create_specification(description="first", lifecycleStatus="inDesign")
    sid = spec["id"]
    spec_after = [
        spec,
        api.patch_specification(sid, description="second"),
        api.patch_specification(sid, lifecycleStatus="active"),
    ]
    api.delete_specification(sid)

    listener.wait_count(13)
    received = listener.wait_quiet(0.5)
    assert len(received) == 13, "\n".join(map(str, received))
    assert {r.path for r in received} == {"/all"}
    assert all(r.attempt == 1 for r in received)
    assert len({r.event_id for r in received}) == 13

    for r in received:
        assert_envelope(r)
    tickets, specs = of(tid, received), of(sid, received)
    assert types(tickets) == [
        CREATE,
        ATTRIBUTE,
        STATUS,
        STATUS,
        INFORMATION,
        STATUS,
        STATUS,
        RESOLVED,
        DELETE,
    ]
    # Each event carries the ticket exactly as the request that changed it answered.
    changes = [after[0], after[1], after[2], after[3], after[3], after[4], after[5], after[5]]
    for r, expected in zip(tickets[:-1], changes, strict=True):
        assert r.event["event"]["troubleTicket"] == expected, r
        assert r.event.get("priority") == expected.get("priority"), r
    assert [r.resource["status"] for r in tickets[:-1]] == [
        "acknowledged",
        "acknowledged",
        "inProgress",
        "pending",
        "pending",
        "inProgress",
        "resolved",
        "resolved",
    ]
    required = tickets[4].event["event"]["informationRequired"]
    assert REASON in json.dumps(required)
    deleted = tickets[-1].event["event"]["troubleTicket"]
    assert deleted["@type"] == "TroubleTicketRef"
    assert deleted["id"] == tid
    assert "status" not in deleted

    assert types(specs) == [
        f"{SPEC}CreateEvent",
        f"{SPEC}AttributeValueChangeEvent",
        f"{SPEC}StatusChangeEvent",
        f"{SPEC}DeleteEvent",
    ]
    for r, expected in zip(specs[:-1], spec_after, strict=True):
        assert r.event["event"]["troubleTicketSpecification"] == expected, r
    deleted_spec = specs[-1].event["event"]["troubleTicketSpecification"]
    assert deleted_spec["@type"] == f"{SPEC}Ref"
    assert deleted_spec["id"] == sid


def test_a_hub_query_selects_the_events_it_receives(api: Api, listener: Listener) -> None:
    api.subscribe(
        f"{listener.url}/critical",
        query=f"eventType={STATUS}&event.troubleTicket.severity=Critical",
    )
    api.subscribe(f"{listener.url}/all")

    critical = api.create_ticket(severity="Critical")
    minor = api.create_ticket(severity="Minor")
    api.patch_ticket(critical["id"], status="inProgress")
    api.patch_ticket(minor["id"], status="inProgress")

    listener.wait_count(4, path="/all")
    listener.wait_quiet(0.5)
    everything = listener.received("/all")
    assert sorted(types(everything)) == sorted([CREATE, CREATE, STATUS, STATUS])
    selected = listener.received("/critical")
    assert [(r.event_type, r.resource["id"]) for r in selected] == [(STATUS, critical["id"])]
    assert selected[0].resource["status"] == "inProgress"


def test_failed_attempts_are_retried_on_schedule_with_the_same_id_and_in_order(
    api: Api, listener: Listener
) -> None:
    listener.policy = lambda _call, attempt: 503 if attempt <= 2 else 204
    secret = a_secret()
    api.subscribe(f"{listener.url}/flaky", secret=secret)

    tid = api.create_ticket()["id"]
    api.patch_ticket(tid, description="v1")
    api.patch_ticket(tid, status="inProgress")

    listener.wait_count(3, accepted=True, timeout=20)
    received = listener.wait_quiet(0.5)
    assert types(listener.accepted()) == [CREATE, ATTRIBUTE, STATUS]
    assert len(received) == 9, "\n".join(map(str, received))

    by_event: dict[str, list[Received]] = {}
    for r in received:
        by_event.setdefault(r.event_id, []).append(r)
    assert len(by_event) == 3
    for attempts in by_event.values():
        assert [r.status for r in attempts] == [503, 503, 204]
        assert [r.attempt for r in attempts] == [1, 2, 3]
        assert {r.body for r in attempts} == {attempts[0].body}  # the same event every time
        assert {r.headers["webhook-id"] for r in attempts} == {attempts[0].event_id}
        for earlier, later in pairwise(attempts):
            assert later.arrived - earlier.arrived >= RETRY_DELAY_S - 0.01
        for r in attempts:
            assert verify(
                secret,
                r.headers["webhook-id"],
                int(r.headers["webhook-timestamp"]),
                r.body,
                r.headers["webhook-signature"],
                now=int(time.time()),
            )
    # A later event of the ticket is first tried only once the earlier one was accepted.
    order = [r.event_id for r in listener.accepted()]
    for before, after in pairwise(order):
        assert by_event[after][0].arrived > by_event[before][-1].arrived


def test_signed_deliveries_verify_with_the_hub_secret_only(api: Api, listener: Listener) -> None:
    secret = a_secret()
    api.subscribe(f"{listener.url}/signed", secret=secret)
    api.subscribe(f"{listener.url}/plain")

    tid = api.create_ticket()["id"]
    api.patch_ticket(tid, status="inProgress")
    api.patch_ticket(tid, description="Replaced the splitter")

    listener.wait_count(3, path="/signed")
    listener.wait_count(3, path="/plain")
    now = int(time.time())
    for r in listener.received("/signed"):
        message_id, stamp = r.headers["webhook-id"], int(r.headers["webhook-timestamp"])
        header = r.headers["webhook-signature"]
        assert message_id == r.event_id
        assert abs(stamp - now) < 60
        assert verify(secret, message_id, stamp, r.body, header, now=now)
        assert not verify(a_secret(), message_id, stamp, r.body, header, now=now)
        assert not verify(secret, message_id, stamp, r.body + b" ", header, now=now)
        assert not verify(secret, "another-id", stamp, r.body, header, now=now)
    for r in listener.received("/plain"):
        assert "webhook-signature" not in r.headers


def test_an_unsubscribed_hub_receives_nothing_more(api: Api, listener: Listener) -> None:
    leaving = api.subscribe(f"{listener.url}/leaving")
    api.subscribe(f"{listener.url}/staying")

    tid = api.create_ticket()["id"]
    listener.wait_count(1, path="/leaving")
    listener.wait_count(1, path="/staying")

    api.unsubscribe(leaving)
    assert requests.get(f"{api.base}/hub/{leaving}", timeout=10).status_code == 404
    api.patch_ticket(tid, status="inProgress")
    api.patch_ticket(tid, description="Engineer on site")

    listener.wait_count(3, path="/staying")
    time.sleep(1.0)  # ten dispatch intervals: the removed hub would have had them by now
    assert types(listener.received("/leaving")) == [CREATE]
    assert types(listener.received("/staying")) == [CREATE, STATUS, ATTRIBUTE]


def test_append_event_listener_path_posts_to_the_event_listener(
    api: Api, listener: Listener
) -> None:
    api.subscribe(f"{listener.url}/client", appendEventListenerPath=True)

    tid = api.create_ticket()["id"]
    api.patch_ticket(tid, status="inProgress")

    received = listener.wait_count(2)
    assert [r.path for r in received] == [
        "/client/listener/troubleTicketCreateEvent",
        "/client/listener/troubleTicketStatusChangeEvent",
    ]


def test_a_separate_worker_delivers_for_a_server_that_does_not(
    server_factory: ServerFactory, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "shared.sqlite3"
    served = server_factory.serve(store, env={**FAST_DELIVERY, "TT_DISPATCH": "off"})
    api = Api(served.base)
    api.subscribe(f"{listener.url}/worker")
    tid = api.create_ticket()["id"]
    api.patch_ticket(tid, status="inProgress")

    time.sleep(0.7)
    assert listener.received() == [], "the server delivered although TT_DISPATCH=off"

    worker = server_factory.worker(store, env=FAST_DELIVERY)
    received = listener.wait_count(2, timeout=20)
    assert types(received) == [CREATE, STATUS]
    assert {r.resource["id"] for r in received} == {tid}
    assert worker.stop() == 0


def test_the_first_delay_of_the_schedule_comes_before_the_first_attempt(
    server_factory: ServerFactory, listener: Listener
) -> None:
    first_delay = 1.5
    served = server_factory.serve(
        env={**FAST_DELIVERY, "TT_DELIVERY_SCHEDULE": f"{first_delay}s,200ms"}
    )
    api = Api(served.base)
    api.subscribe(f"{listener.url}/delayed")
    created_at = time.monotonic()
    api.create_ticket()

    received = listener.wait_count(1, timeout=10)
    assert received[0].arrived - created_at >= first_delay - 0.1
