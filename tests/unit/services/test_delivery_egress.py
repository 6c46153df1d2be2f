"""Deliveries under the egress policy, against a real listener on 127.0.0.1: a callback whose
name resolved to a public address when the hub registered and to loopback when the event is sent
(DNS rebinding) is refused at connect time, and the listener never sees a connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import FrozenClock
from troubleticket.context import NO_CONTEXT
from troubleticket.domain.errors import InvalidRequest
from troubleticket.domain.events import Raised
from troubleticket.notify.delivery import DeliveryPolicy, Sender, http_sender
from troubleticket.notify.dispatcher import Dispatcher
from troubleticket.notify.egress import EgressPolicy
from troubleticket.notify.hubs import HubService
from troubleticket.notify.outbox import event_records
from troubleticket.notify.pooled import PooledSender
from troubleticket.store.port import Collection, ListQuery
from troubleticket.store.sqlite import SqliteStore

PUBLIC = "93.184.215.14"
POLICY = DeliveryPolicy(schedule=(0,), timeout=2.0, lease=10.0, concurrency=1)


class Listener:
    """A listener on 127.0.0.1 that counts the requests it gets."""

    def __init__(self) -> None:
        self.requests = 0
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                listener.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.stop()


class Rebinding:
    """A resolver whose answer for ``hooks.partner.example`` the test changes (DNS rebinding)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host == "hooks.partner.example":
            return [self.address]
        return ["127.0.0.1"] if host == "127.0.0.1" else []


def one_event(store: SqliteStore, now: datetime) -> None:
    records = event_records(
        [Raised("TroubleTicketCreateEvent", {"troubleTicket": {"id": "t-1"}})],
        collection=Collection.TROUBLE_TICKET,
        resource_id="t-1",
        version=1,
        now=now,
        new_id=lambda: "e-1",
    )
    store.insert(
        Collection.TROUBLE_TICKET,
        {"id": "t-1", "@type": "TroubleTicket"},
        events=records,
    )


@pytest.fixture(params=["threads", "pooled"])
def sender_for(request: pytest.FixtureRequest) -> Callable[[EgressPolicy], Sender]:
    """Each test runs with both senders: a thread per attempt, and the pooled event loop."""
    if request.param == "threads":
        return http_sender
    return lambda egress: PooledSender(egress, connections=4)


def deliver(
    store: SqliteStore,
    clock: FrozenClock,
    egress: EgressPolicy,
    sender_for: Callable[[EgressPolicy], Sender],
) -> list[dict[str, Any]]:
    dispatcher = Dispatcher(
        store, sender=sender_for(egress), clock=clock, worker_id="w", policy=POLICY
    )
    try:
        while dispatcher.run_once():
            pass
    finally:
        dispatcher.close()
    return store.list(Collection.DELIVERY, ListQuery(limit=10)).items


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    opened = SqliteStore(":memory:")
    yield opened
    opened.close()


def test_a_callback_rebound_to_loopback_after_registration_is_refused_at_connect_time(
    store: SqliteStore,
    clock: FrozenClock,
    listener: Listener,
    sender_for: Callable[[EgressPolicy], Sender],
) -> None:
    dns = Rebinding(PUBLIC)
    egress = EgressPolicy(resolver=dns)
    hubs = HubService(
        store, clock=clock, new_id=lambda: "h-1", base_url="https://tt", egress=egress
    )
    hubs.register(
        {"callback": f"http://hooks.partner.example:{listener.port}/listener"}, context=NO_CONTEXT
    )
    dns.address = "127.0.0.1"  # the name now points inside
    one_event(store, clock())

    (delivery,) = deliver(store, clock, egress, sender_for)

    assert delivery["state"] == "dead"
    assert (
        "hooks.partner.example resolves to 127.0.0.1, a loopback address" in (delivery["lastError"])
    )
    assert listener.requests == 0
    assert dns.asked.count("hooks.partner.example") >= 2  # at registration, and at connect time


def test_the_same_callback_is_delivered_to_while_it_resolves_where_allowed(
    store: SqliteStore,
    clock: FrozenClock,
    listener: Listener,
    sender_for: Callable[[EgressPolicy], Sender],
) -> None:
    dns = Rebinding("127.0.0.1")
    egress = EgressPolicy(allow=EgressPolicy.from_setting("127.0.0.0/8").allow, resolver=dns)
    hubs = HubService(
        store, clock=clock, new_id=lambda: "h-1", base_url="https://tt", egress=egress
    )
    hubs.register(
        {"callback": f"http://hooks.partner.example:{listener.port}/listener"}, context=NO_CONTEXT
    )
    one_event(store, clock())

    (delivery,) = deliver(store, clock, egress, sender_for)

    assert delivery["state"] == "delivered"
    assert listener.requests == 1


def test_registration_refuses_a_name_that_resolves_inside(
    store: SqliteStore, clock: FrozenClock
) -> None:
    egress = EgressPolicy(resolver=Rebinding("10.20.30.40"))
    hubs = HubService(
        store, clock=clock, new_id=lambda: "h-1", base_url="https://tt", egress=egress
    )

    with pytest.raises(InvalidRequest) as refused:
        hubs.register({"callback": "https://hooks.partner.example/listener"}, context=NO_CONTEXT)

    assert refused.value.code == "callbackNotAllowed"
    assert "resolves to 10.20.30.40, a private address" in refused.value.message
