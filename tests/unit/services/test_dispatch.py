"""The dispatcher over every store adapter: fan-out, ordering, retries, leases, the outbox.

Tickets are changed through ``ResourceService`` exactly as the API does, hubs are registered
through ``HubService``, and deliveries go to a fake sender the test scripts per event or URL.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.builders import LIMITS
from tests.conftest import START, FrozenClock, SequentialIds
from tests.threads import run_together
from troubleticket.bootstrap.services import ticket_rules
from troubleticket.context import NO_CONTEXT
from troubleticket.domain.documents import timestamp
from troubleticket.domain.events import TROUBLE_TICKET
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.policy import DEFAULT_POLICY
from troubleticket.domain.signing import verify
from troubleticket.notify.delivery import DeliveryPolicy, Outcome
from troubleticket.notify.dispatcher import Dispatcher
from troubleticket.notify.hubs import HubService
from troubleticket.notify.lanes import LANES, lane_of
from troubleticket.services.resources import ResourceService
from troubleticket.store.port import Collection, DuplicateId, ListQuery, Store, Stored
from troubleticket.types import JSON

BASE_URL = "https://tt.example.com"
TICKET_URL = f"{BASE_URL}/tmf-api/troubleTicket/v5/troubleTicket"
CALLBACK = "https://listener.example.com/hook"
OTHER_CALLBACK = "https://other.example.com/events"
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
POLICY = DeliveryPolicy(schedule=(0, 5, 60), timeout=1.0, lease=10.0, concurrency=4)

TICKET: JSON = {
    "@type": "TroubleTicket",
    "description": "No dial tone",
    "severity": "Minor",
    "ticketType": "incident",
}

CREATE = "TroubleTicketCreateEvent"
STATUS_CHANGE = "TroubleTicketStatusChangeEvent"
ATTRIBUTE_CHANGE = "TroubleTicketAttributeValueChangeEvent"
DELETE = "TroubleTicketDeleteEvent"


def at(seconds: float) -> str:
    """The canonical stamp of ``seconds`` after the test's start."""
    return timestamp(START + timedelta(seconds=seconds))


# -- the fake sender -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    url: str
    raw: bytes
    headers: dict[str, str]
    timeout: float
    at: datetime
    outcome: Outcome

    @property
    def body(self) -> JSON:
        parsed: JSON = json.loads(self.raw)
        return parsed

    @property
    def event_id(self) -> str:
        return str(self.body["eventId"])


class FakeSender:
    """Records every attempt; answers 204 unless the test scripted other answers.

    ``script(key, *outcomes)`` queues the answers to the next attempts of an event id or a URL
    (the event id is looked up first); once a queue is used up the answer is 204 again.
    """

    def __init__(self, clock: FrozenClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._scripts: dict[str, list[Outcome]] = {}
        self.calls: list[Call] = []

    def script(self, key: str, *outcomes: Outcome) -> None:
        with self._lock:
            self._scripts.setdefault(key, []).extend(outcomes)

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        event_id = json.loads(body)["eventId"]
        with self._lock:
            outcome = Outcome(204)
            for key in (event_id, url):
                queue = self._scripts.get(key)
                if queue:
                    outcome = queue.pop(0)
                    break
            self.calls.append(Call(url, body, dict(headers), timeout, self._clock(), outcome))
        return outcome

    def event_ids(self) -> list[str]:
        return [call.event_id for call in self.calls]

    def calls_of(self, event_id: str) -> list[Call]:
        return [call for call in self.calls if call.event_id == event_id]

    def delivered(self) -> list[Call]:
        return [call for call in self.calls if call.outcome.delivered]


# -- fixtures --------------------------------------------------------------------------------------


def ticket_service(store: Store, clock: FrozenClock) -> ResourceService:
    return ResourceService(
        Collection.TROUBLE_TICKET,
        store=store,
        rules=ticket_rules(ManagedTicket(DEFAULT_POLICY)),
        clock=clock,
        new_id=SequentialIds("tt"),
        base_url=BASE_URL,
        limits=LIMITS,
        kind=TROUBLE_TICKET,
        new_event_id=SequentialIds("ev"),
    )


@pytest.fixture
def tickets(store: Store, clock: FrozenClock) -> ResourceService:
    return ticket_service(store, clock)


@pytest.fixture
def hubs(store: Store, clock: FrozenClock) -> HubService:
    return HubService(store, clock=clock, new_id=SequentialIds("hub"), base_url=BASE_URL)


@pytest.fixture
def sender(clock: FrozenClock) -> FakeSender:
    return FakeSender(clock)


MakeDispatcher = Callable[..., Dispatcher]


@pytest.fixture
def make_dispatcher(store: Store, clock: FrozenClock) -> Iterator[MakeDispatcher]:
    opened: list[Dispatcher] = []

    def make(
        sender: Callable[..., Outcome],
        worker_id: str = "w1",
        policy: DeliveryPolicy = POLICY,
        on: Store | None = None,
    ) -> Dispatcher:
        dispatcher = Dispatcher(
            on or store, sender=sender, clock=clock, worker_id=worker_id, policy=policy
        )
        opened.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in opened:
        dispatcher.close()


@pytest.fixture
def dispatcher(make_dispatcher: MakeDispatcher, sender: FakeSender) -> Dispatcher:
    return make_dispatcher(sender)


# -- reading the store -----------------------------------------------------------------------------


def all_docs(store: Store, collection: Collection) -> list[JSON]:
    page = store.list(collection, ListQuery(limit=1000))
    assert page.next_cursor is None
    return page.items


def deliveries(store: Store) -> dict[str, JSON]:
    return {doc["id"]: doc for doc in all_docs(store, Collection.DELIVERY)}


def delivery(store: Store, hub_id: str, event_id: str) -> JSON:
    found = store.get(Collection.DELIVERY, f"{hub_id}:{event_id}")
    assert found is not None, f"no delivery of {event_id} to {hub_id}"
    return found.doc


def event_count(store: Store) -> int:
    store.relay_events()
    return store.list(Collection.EVENT, ListQuery()).counted


def recorded_events(store: Store) -> list[JSON]:
    store.relay_events()
    return all_docs(store, Collection.EVENT)


def run_until_idle(dispatcher: Dispatcher, passes: int = 20) -> None:
    for _ in range(passes):
        if not dispatcher.run_once():
            return
    raise AssertionError(f"the dispatcher was still busy after {passes} passes")


def fan_out(store: Store, dispatcher: Dispatcher) -> int:
    store.relay_events()
    return dispatcher.fan_out()


def fan_out_once(worker: Dispatcher) -> None:
    worker.fan_out()


def pass_once(worker: Dispatcher) -> None:
    worker.run_once()


def register(hubs: HubService, callback: str = CALLBACK, **fields: Any) -> str:
    return str(hubs.register({"callback": callback, **fields}, context=NO_CONTEXT)["id"])


def status_change(tickets: ResourceService, ticket_id: str, status: str) -> None:
    tickets.patch(ticket_id, {"@type": "TroubleTicket", "status": status}, context=NO_CONTEXT)


# -- fan-out ---------------------------------------------------------------------------------------


def test_fan_out_makes_one_delivery_per_hub_whose_query_selects_the_event(
    store: Store, tickets: ResourceService, hubs: HubService, dispatcher: Dispatcher
) -> None:
    everything = register(hubs)
    status_only = register(hubs, OTHER_CALLBACK, query=f"eventType={STATUS_CHANGE}")
    register(hubs, query="event.troubleTicket.severity=Critical")  # selects none of these
    ticket_id = tickets.create(TICKET, context=NO_CONTEXT).doc["id"]  # ev-1
    status_change(tickets, ticket_id, "inProgress")  # ev-2

    assert fan_out(store, dispatcher) == 2

    assert sorted(deliveries(store)) == sorted(
        [f"{everything}:ev-1", f"{everything}:ev-2", f"{status_only}:ev-2"]
    )
    assert delivery(store, status_only, "ev-2") == {
        "id": f"{status_only}:ev-2",
        "@type": "EventDelivery",
        "hubId": status_only,
        "eventId": "ev-2",
        "eventType": STATUS_CHANGE,
        "resource": {
            "@type": "TroubleTicketRef",
            "id": ticket_id,
            "@referredType": "TroubleTicket",
        },
        "resourceKey": f"troubleTicket/{ticket_id}",
        "orderKey": "000000000002.000",
        "state": "pending",
        "attempts": 0,
        "nextAttemptAt": at(0),
        "createdAt": at(0),
    }
    assert {event["id"]: event["state"] for event in recorded_events(store)} == {
        "ev-1": "fannedOut",
        "ev-2": "fannedOut",
    }


def test_fanning_out_again_adds_no_delivery(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    dispatcher: Dispatcher,
    make_dispatcher: MakeDispatcher,
    sender: FakeSender,
) -> None:
    hub_id = register(hubs)
    tickets.create(TICKET, context=NO_CONTEXT)
    fan_out(store, dispatcher)
    before = deliveries(store)

    assert dispatcher.fan_out() == 0
    assert make_dispatcher(sender, "w2").fan_out() == 0
    assert deliveries(store) == before
    assert list(before) == [f"{hub_id}:ev-1"]


class DiesBeforeMarkingEvents:
    """A store through which a worker dies after inserting deliveries, before marking events."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def replace(self, collection: Collection, doc: JSON, **kwargs: Any) -> Stored | None:
        if collection is Collection.EVENT:
            raise RuntimeError("worker died")
        return self._inner.replace(collection, doc, **kwargs)

    def write(self, collection: Collection, writes: Any) -> list[Stored | None]:
        if collection is Collection.EVENT:
            raise RuntimeError("worker died")
        result: list[Stored | None] = self._inner.write(collection, writes)
        return result


def test_an_event_fanned_out_again_after_a_worker_died_gets_no_second_delivery(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    make_dispatcher: MakeDispatcher,
    sender: FakeSender,
) -> None:
    hub_id = register(hubs)
    tickets.create(TICKET, context=NO_CONTEXT)
    dying = make_dispatcher(sender, "w1", on=DiesBeforeMarkingEvents(store))
    store.relay_events()
    with pytest.raises(RuntimeError, match="worker died"):
        dying.fan_out()
    assert [event["state"] for event in recorded_events(store)] == ["recorded"]
    first = deliveries(store)

    assert make_dispatcher(sender, "w2").fan_out() == 1

    assert deliveries(store) == first
    assert list(first) == [f"{hub_id}:ev-1"]
    assert [event["state"] for event in recorded_events(store)] == ["fannedOut"]


def test_two_dispatchers_fanning_out_at_once_make_one_delivery_per_hub_and_event(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    make_dispatcher: MakeDispatcher,
    sender: FakeSender,
) -> None:
    hub_ids = [register(hubs), register(hubs, OTHER_CALLBACK)]
    for _ in range(10):
        tickets.create(TICKET, context=NO_CONTEXT)
    store.relay_events()
    workers = [make_dispatcher(sender, "w1"), make_dispatcher(sender, "w2")]

    run_together(fan_out_once, workers)
    for worker in workers:
        worker.fan_out()

    assert sorted(deliveries(store)) == sorted(
        f"{hub}:ev-{n}" for hub in hub_ids for n in range(1, 11)
    )
    assert {event["state"] for event in recorded_events(store)} == {"fannedOut"}


def test_events_recorded_before_a_hub_was_registered_are_not_fanned_out_to_it(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    dispatcher: Dispatcher,
    clock: FrozenClock,
) -> None:
    early = register(hubs)
    ticket_id = tickets.create(TICKET, context=NO_CONTEXT).doc["id"]  # ev-1, not fanned out yet
    clock.advance(seconds=1)
    late = register(hubs, OTHER_CALLBACK)
    status_change(tickets, ticket_id, "inProgress")  # ev-2

    fan_out(store, dispatcher)

    assert sorted(deliveries(store)) == sorted([f"{early}:ev-1", f"{early}:ev-2", f"{late}:ev-2"])


# -- order per ticket, retries ---------------------------------------------------------------------


def test_events_of_one_ticket_arrive_in_order_while_other_tickets_go_ahead(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    dispatcher: Dispatcher,
    sender: FakeSender,
    clock: FrozenClock,
) -> None:
    hub_id = register(hubs, secret=SECRET)
    a = tickets.create(TICKET, context=NO_CONTEXT).doc["id"]  # ev-1
    status_change(tickets, a, "inProgress")  # ev-2
    tickets.patch(
        a, {"@type": "TroubleTicket", "description": "Line repaired"}, context=NO_CONTEXT
    )  # ev-3
    tickets.create({**TICKET, "description": "Noisy line"}, context=NO_CONTEXT)  # ev-4, ticket B
    sender.script("ev-1", Outcome(500), Outcome(500))

    dispatcher.run_once()  # t=0: A's create fails, B's create goes through

    assert sorted(sender.event_ids()) == ["ev-1", "ev-4"]
    assert [call.event_id for call in sender.delivered()] == ["ev-4"]
    assert delivery(store, hub_id, "ev-1")["nextAttemptAt"] == at(5)

    clock.advance(seconds=4)
    assert dispatcher.run_once() == 0  # t=4: nothing is due, A's later events wait
    clock.advance(seconds=1)
    dispatcher.run_once()  # t=5: A's create fails again
    assert sender.event_ids()[2:] == ["ev-1"]
    assert delivery(store, hub_id, "ev-1")["nextAttemptAt"] == at(65)
    run_until_idle(dispatcher)
    assert len(sender.calls) == 3

    clock.advance(seconds=60)
    run_until_idle(dispatcher)  # t=65: A's create, then its patches, one after the other

    # The two attempts of the first pass run side by side, in either order.
    assert sender.event_ids()[2:] == ["ev-1", "ev-1", "ev-2", "ev-3"]
    delivered_a = [
        call.body for call in sender.delivered() if call.body["event"]["troubleTicket"]["id"] == a
    ]
    assert [body["eventType"] for body in delivered_a] == [CREATE, STATUS_CHANGE, ATTRIBUTE_CHANGE]
    assert [body["event"]["troubleTicket"]["status"] for body in delivered_a] == [
        "acknowledged",
        "inProgress",
        "inProgress",
    ]
    assert [body["event"]["troubleTicket"]["description"] for body in delivered_a] == [
        "No dial tone",
        "No dial tone",
        "Line repaired",
    ]
    assert [call.at for call in sender.calls_of("ev-1")] == [
        START,
        START + timedelta(seconds=5),
        START + timedelta(seconds=65),
    ]
    assert {d["id"]: d["state"] for d in deliveries(store).values()} == {
        f"{hub_id}:ev-{n}": "delivered" for n in range(1, 5)
    }


def test_every_attempt_of_one_event_carries_its_event_id_and_a_valid_signature(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    dispatcher: Dispatcher,
    sender: FakeSender,
    clock: FrozenClock,
) -> None:
    register(hubs, secret=SECRET)
    tickets.create(TICKET, context=NO_CONTEXT)
    sender.script("ev-1", Outcome(500), Outcome(502))

    for seconds in (0, 5, 60):
        clock.advance(seconds=seconds)
        dispatcher.run_once()

    attempts = sender.calls_of("ev-1")
    assert len(attempts) == 3
    assert [call.outcome.status for call in attempts] == [500, 502, 204]
    assert {call.raw for call in attempts} == {attempts[0].raw}
    for call in attempts:
        assert call.body["eventId"] == "ev-1"
        assert call.headers["webhook-id"] == "ev-1"
        assert call.headers["Content-Type"] == "application/json"
        assert verify(
            SECRET,
            call.headers["webhook-id"],
            int(call.headers["webhook-timestamp"]),
            call.raw,
            call.headers["webhook-signature"],
            now=int(time.time()),
        )


def test_a_hub_without_a_secret_gets_unsigned_deliveries(
    tickets: ResourceService, hubs: HubService, dispatcher: Dispatcher, sender: FakeSender
) -> None:
    register(hubs)
    tickets.create(TICKET, context=NO_CONTEXT)

    dispatcher.run_once()

    [call] = sender.calls
    assert call.url == CALLBACK
    assert call.timeout == POLICY.timeout
    assert call.headers["Content-Type"] == "application/json"
    assert not {name for name in call.headers if name.startswith("webhook-")}


def test_failed_attempts_follow_the_schedule_then_the_delivery_is_dead(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    dispatcher: Dispatcher,
    sender: FakeSender,
    clock: FrozenClock,
) -> None:
    hub_id = register(hubs)
    ticket_id = tickets.create(TICKET, context=NO_CONTEXT).doc["id"]  # ev-1
    status_change(tickets, ticket_id, "inProgress")  # ev-2
    sender.script("ev-1", *[Outcome(503)] * 3)

    dispatcher.run_once()  # t=0: first attempt
    clock.advance(seconds=4)
    assert dispatcher.run_once() == 0  # t=4: due at t=5, not before
    clock.advance(seconds=1)
    dispatcher.run_once()  # t=5: second attempt
    clock.advance(seconds=59)
    assert dispatcher.run_once() == 0  # t=64: due at t=65
    clock.advance(seconds=1)
    dispatcher.run_once()  # t=65: third attempt, the last of the schedule

    assert [call.at for call in sender.calls_of("ev-1")] == [
        START,
        START + timedelta(seconds=5),
        START + timedelta(seconds=65),
    ]
    assert sender.calls_of("ev-2") == []
    dead = delivery(store, hub_id, "ev-1")
    assert dead["state"] == "dead"
    assert dead["attempts"] == 3
    assert dead["lastStatusCode"] == 503
    assert dead["lastError"] == "HTTP 503"
    assert dead["lastAttemptAt"] == at(65)
    assert "leaseUntil" not in dead
    assert "leaseOwner" not in dead

    run_until_idle(dispatcher)  # the dead delivery does not hold up the ticket's next event

    assert [call.event_id for call in sender.delivered()] == ["ev-2"]
    assert delivery(store, hub_id, "ev-2")["state"] == "delivered"


def test_a_connection_error_is_a_failed_attempt_with_its_error(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    dispatcher: Dispatcher,
    sender: FakeSender,
    clock: FrozenClock,
) -> None:
    hub_id = register(hubs)
    tickets.create(TICKET, context=NO_CONTEXT)
    error = "ConnectTimeout: connection to listener.example.com timed out"
    sender.script(CALLBACK, Outcome(None, error), Outcome(None, error), Outcome(None, error))

    dispatcher.run_once()

    failed = delivery(store, hub_id, "ev-1")
    assert failed["state"] == "pending"
    assert failed["attempts"] == 1
    assert failed["lastError"] == error
    assert "lastStatusCode" not in failed
    assert failed["nextAttemptAt"] == at(5)

    for seconds in (5, 60):
        clock.advance(seconds=seconds)
        dispatcher.run_once()

    dead = delivery(store, hub_id, "ev-1")
    assert dead["state"] == "dead"
    assert dead["attempts"] == 3
    assert dead["lastError"] == error
    assert "lastStatusCode" not in dead


def test_a_delivered_attempt_records_its_status_and_time(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    dispatcher: Dispatcher,
    clock: FrozenClock,
) -> None:
    hub_id = register(hubs)
    tickets.create(TICKET, context=NO_CONTEXT)
    clock.advance(seconds=2)

    assert dispatcher.run_once() > 0

    done = delivery(store, hub_id, "ev-1")
    assert done["state"] == "delivered"
    assert done["attempts"] == 1
    assert done["lastStatusCode"] == 204
    assert done["deliveredAt"] == done["lastAttemptAt"] == at(2)
    assert "lastError" not in done
    assert "leaseUntil" not in done
    assert dispatcher.run_once() == 0


def test_deliveries_waiting_behind_a_retry_do_not_starve_it(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    make_dispatcher: MakeDispatcher,
    sender: FakeSender,
    clock: FrozenClock,
) -> None:
    small_batches = DeliveryPolicy(
        schedule=(0, 5, 60), timeout=1.0, lease=10.0, concurrency=4, batch=2
    )
    dispatcher = make_dispatcher(sender, policy=small_batches)
    hub_id = register(hubs)
    ticket_id = tickets.create(TICKET, context=NO_CONTEXT).doc["id"]  # ev-1
    status_change(tickets, ticket_id, "inProgress")  # ev-2
    tickets.patch(
        ticket_id, {"@type": "TroubleTicket", "description": "Line repaired"}, context=NO_CONTEXT
    )  # ev-3
    sender.script("ev-1", Outcome(500))
    run_until_idle(dispatcher)  # every event fanned out at t=0; ev-1 failed, due again at t=5
    assert sender.event_ids() == ["ev-1"]
    assert delivery(store, hub_id, "ev-1")["nextAttemptAt"] == at(5)

    clock.advance(seconds=5)
    tickets.create(TICKET, context=NO_CONTEXT)  # ev-4, another ticket: stuck behind the same page
    for _ in range(3):
        run_until_idle(dispatcher)
        clock.advance(seconds=60)

    assert sorted(call.event_id for call in sender.delivered()) == ["ev-1", "ev-2", "ev-3", "ev-4"]
    assert {d["state"] for d in deliveries(store).values()} == {"delivered"}


# -- leases ----------------------------------------------------------------------------------------


class SlowDeliveryReads:
    """Pauses after reading a delivery, so the other worker reads the same version meanwhile."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get(self, collection: Collection, doc_id: str) -> Stored | None:
        found = self._inner.get(collection, doc_id)
        if collection is Collection.DELIVERY:
            time.sleep(0.001)
        return found


def test_two_dispatchers_at_once_never_make_the_same_attempt(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    make_dispatcher: MakeDispatcher,
    sender: FakeSender,
) -> None:
    register(hubs)
    for _ in range(50):
        tickets.create(TICKET, context=NO_CONTEXT)
    slow = SlowDeliveryReads(store)
    workers = [make_dispatcher(sender, "w1", on=slow), make_dispatcher(sender, "w2", on=slow)]

    for _ in range(5):
        run_together(pass_once, workers)
        if len(sender.calls) >= 50:
            break

    sent = Counter(sender.event_ids())
    assert sorted(sent) == sorted(f"ev-{n}" for n in range(1, 51))
    assert {count for count in sent.values()} == {1}
    assert len(deliveries(store)) == 50
    assert {(d["state"], d["attempts"]) for d in deliveries(store).values()} == {("delivered", 1)}


def test_an_attempt_whose_worker_died_is_taken_over_when_its_lease_runs_out(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    dispatcher: Dispatcher,
    sender: FakeSender,
    clock: FrozenClock,
) -> None:
    hub_id = register(hubs)
    ticket_id = tickets.create(TICKET, context=NO_CONTEXT).doc["id"]  # ev-1
    status_change(tickets, ticket_id, "inProgress")  # ev-2
    fan_out(store, dispatcher)
    stored = store.get(Collection.DELIVERY, f"{hub_id}:ev-1")
    assert stored is not None
    claimed = {
        **stored.doc,
        "state": "delivering",
        "leaseUntil": at(10),
        "leaseOwner": "dead-worker",
    }
    assert store.replace(Collection.DELIVERY, claimed, expected_version=stored.version)

    dispatcher.run_once()
    clock.advance(seconds=9)
    dispatcher.run_once()

    assert sender.calls == []  # leased to the dead worker, and ev-2 waits behind it

    clock.advance(seconds=2)
    run_until_idle(dispatcher)

    assert sender.event_ids() == ["ev-1", "ev-2"]
    taken_over = delivery(store, hub_id, "ev-1")
    assert taken_over["state"] == "delivered"
    assert taken_over["attempts"] == 1
    assert taken_over["deliveredAt"] == at(11)
    assert "leaseOwner" not in taken_over
    assert "leaseUntil" not in taken_over


# -- hubs ------------------------------------------------------------------------------------------


def test_the_pending_deliveries_of_a_deleted_hub_are_cancelled_and_never_sent(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    dispatcher: Dispatcher,
    sender: FakeSender,
) -> None:
    gone = register(hubs)
    kept = register(hubs, OTHER_CALLBACK)
    tickets.create(TICKET, context=NO_CONTEXT)  # ev-1
    tickets.create(TICKET, context=NO_CONTEXT)  # ev-2
    fan_out(store, dispatcher)
    hubs.delete(gone, context=NO_CONTEXT)

    dispatcher.run_once()

    assert {d["id"]: d["state"] for d in deliveries(store).values()} == {
        f"{gone}:ev-1": "cancelled",
        f"{gone}:ev-2": "cancelled",
        f"{kept}:ev-1": "delivered",
        f"{kept}:ev-2": "delivered",
    }
    assert {call.url for call in sender.calls} == {OTHER_CALLBACK}
    assert delivery(store, gone, "ev-1")["attempts"] == 0


def test_a_deleted_hub_gets_none_of_the_events_waiting_for_a_retry(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    dispatcher: Dispatcher,
    sender: FakeSender,
    clock: FrozenClock,
) -> None:
    hub_id = register(hubs)
    ticket_id = tickets.create(TICKET, context=NO_CONTEXT).doc["id"]  # ev-1
    status_change(tickets, ticket_id, "inProgress")  # ev-2
    sender.script("ev-1", Outcome(500))
    dispatcher.run_once()
    hubs.delete(hub_id, context=NO_CONTEXT)

    for _ in range(3):
        clock.advance(seconds=60)
        run_until_idle(dispatcher)

    assert sender.event_ids() == ["ev-1"]
    assert {d["state"] for d in deliveries(store).values()} == {"cancelled"}


def test_every_pending_delivery_of_a_deleted_hub_is_cancelled_at_the_next_pass(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    dispatcher: Dispatcher,
    sender: FakeSender,
    clock: FrozenClock,
) -> None:
    hub_id = register(hubs)
    ticket_id = tickets.create(TICKET, context=NO_CONTEXT).doc["id"]  # ev-1
    status_change(tickets, ticket_id, "inProgress")  # ev-2
    sender.script("ev-1", Outcome(500))
    dispatcher.run_once()
    hubs.delete(hub_id, context=NO_CONTEXT)
    clock.advance(seconds=1)

    dispatcher.run_once()

    assert {d["id"]: d["state"] for d in deliveries(store).values()} == {
        f"{hub_id}:ev-1": "cancelled",
        f"{hub_id}:ev-2": "cancelled",
    }


def test_append_event_listener_path_posts_to_the_listener_of_the_event_type(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    dispatcher: Dispatcher,
    sender: FakeSender,
) -> None:
    register(hubs, appendEventListenerPath=True)
    register(hubs, OTHER_CALLBACK)
    ticket_id = tickets.create(TICKET, context=NO_CONTEXT).doc["id"]
    status_change(tickets, ticket_id, "inProgress")
    tickets.delete(ticket_id, context=NO_CONTEXT)

    run_until_idle(dispatcher)

    assert [call.url for call in sender.calls if call.url.startswith(CALLBACK)] == [
        f"{CALLBACK}/listener/troubleTicketCreateEvent",
        f"{CALLBACK}/listener/troubleTicketStatusChangeEvent",
        f"{CALLBACK}/listener/troubleTicketDeleteEvent",
    ]
    assert [call.url for call in sender.calls if not call.url.startswith(CALLBACK)] == [
        OTHER_CALLBACK
    ] * 3


# -- the outbox ------------------------------------------------------------------------------------


def test_a_create_that_does_not_land_records_no_event(
    store: Store, tickets: ResourceService
) -> None:
    # tt-1 is taken, so the service's first insert fails in the store and it draws tt-2.
    store.insert(Collection.TROUBLE_TICKET, {"id": "tt-1", "@type": "TroubleTicket"})

    created = tickets.create(TICKET, context=NO_CONTEXT).doc

    assert created["id"] == "tt-2"
    events = recorded_events(store)
    assert [(event["id"], event["eventType"]) for event in events] == [("ev-2", CREATE)]
    assert events[0]["resource"] == {"collection": "troubleTicket", "id": "tt-2"}
    assert events[0]["body"]["event"]["troubleTicket"]["id"] == "tt-2"


class FailsFirstInsert:
    """A store whose first insert of a resource reports a taken id without storing anything."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.refused: list[JSON] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def insert(self, collection: Collection, doc: JSON, *, events: Sequence[JSON] = ()) -> Stored:
        if not self.refused:
            self.refused = list(events)
            raise DuplicateId(f"{collection}: {doc['id']!r} exists")
        return self._inner.insert(collection, doc, events=events)


def test_the_events_of_a_refused_create_are_not_recorded(store: Store, clock: FrozenClock) -> None:
    proxy = FailsFirstInsert(store)
    service = ticket_service(proxy, clock)

    service.create(TICKET, context=NO_CONTEXT)

    assert [event["id"] for event in proxy.refused] == ["ev-1"]
    assert event_count(store) == 1
    assert [event["id"] for event in recorded_events(store)] == ["ev-2"]


class Interleaving:
    """On its next replace, first runs ``interleave`` (another writer), then forwards."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.interleave: Callable[[], object] | None = None
        self.outcomes: list[bool] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def replace(
        self,
        collection: Collection,
        doc: JSON,
        *,
        expected_version: int,
        events: Sequence[JSON] = (),
    ) -> Stored | None:
        interleave, self.interleave = self.interleave, None
        if interleave is not None:
            interleave()
        result = self._inner.replace(
            collection, doc, expected_version=expected_version, events=events
        )
        self.outcomes.append(result is not None)
        return result


def test_a_patch_that_loses_its_compare_and_set_records_only_the_events_of_the_landed_writes(
    store: Store, clock: FrozenClock
) -> None:
    proxy = Interleaving(store)
    service = ticket_service(proxy, clock)
    ticket_id = service.create(TICKET, context=NO_CONTEXT).doc["id"]  # ev-1
    proxy.interleave = lambda: service.patch(
        ticket_id, {"@type": "TroubleTicket", "description": "Competing"}, context=NO_CONTEXT
    )

    service.patch(ticket_id, {"@type": "TroubleTicket", "status": "inProgress"}, context=NO_CONTEXT)

    # The competing patch landed (ev-3), the status change lost (ev-2) and was redone (ev-4).
    assert proxy.outcomes == [True, False, True]
    assert event_count(store) == 3
    events = recorded_events(store)
    assert [(e["id"], e["eventType"], e["orderKey"]) for e in events] == [
        ("ev-1", CREATE, "000000000001.000"),
        ("ev-3", ATTRIBUTE_CHANGE, "000000000002.000"),
        ("ev-4", STATUS_CHANGE, "000000000003.000"),
    ]
    last = events[-1]["body"]["event"]["troubleTicket"]
    assert (last["status"], last["description"]) == ("inProgress", "Competing")


def test_a_change_that_changes_nothing_records_no_event(
    store: Store, tickets: ResourceService
) -> None:
    ticket_id = tickets.create(TICKET, context=NO_CONTEXT).doc["id"]

    tickets.patch(
        ticket_id, {"@type": "TroubleTicket", "description": "No dial tone"}, context=NO_CONTEXT
    )

    assert event_count(store) == 1


def test_the_event_of_a_ticket_with_a_priority_carries_it(
    store: Store, tickets: ResourceService
) -> None:
    urgent = [{"@type": "StringCharacteristic", "name": "urgency", "value": "Critical"}]
    tickets.create(
        {**TICKET, "severity": "Critical", "troubleTicketCharacteristic": urgent},
        context=NO_CONTEXT,
    )
    tickets.create(TICKET, context=NO_CONTEXT)

    bodies = [event["body"] for event in recorded_events(store)]

    # The matrix: severity Critical x urgency Critical -> Critical; Minor x no urgency -> Low.
    assert [body["eventType"] for body in bodies] == [CREATE, CREATE]
    assert bodies[0]["priority"] == "Critical"
    assert bodies[0]["event"]["troubleTicket"]["priority"] == "Critical"
    assert bodies[1]["priority"] == "Low"
    assert bodies[1]["event"]["troubleTicket"]["priority"] == "Low"


def test_delete_sends_a_reference_to_the_deleted_ticket(
    store: Store,
    tickets: ResourceService,
    hubs: HubService,
    dispatcher: Dispatcher,
    sender: FakeSender,
) -> None:
    hub_id = register(hubs)
    ticket_id = tickets.create(TICKET, context=NO_CONTEXT).doc["id"]

    tickets.delete(ticket_id, context=NO_CONTEXT)
    run_until_idle(dispatcher)

    assert [call.body["eventType"] for call in sender.calls] == [CREATE, DELETE]
    deleted = sender.calls[1].body
    assert deleted["@type"] == DELETE
    assert deleted["eventId"] == "ev-2"
    assert deleted["event"] == {
        "troubleTicket": {
            "@type": "TroubleTicketRef",
            "id": ticket_id,
            "href": f"{TICKET_URL}/{ticket_id}",
            "@referredType": "TroubleTicket",
        }
    }
    assert delivery(store, hub_id, "ev-2")["resource"] == {
        "@type": "TroubleTicketRef",
        "id": ticket_id,
        "@referredType": "TroubleTicket",
    }
    assert store.get(Collection.TROUBLE_TICKET, ticket_id) is None


# -- overlapping passes (the background loop's mode) ----------------------------------------------


class GatedSender(FakeSender):
    """Answers the attempts to ``slow_url`` only once ``gate`` is set; the others at once."""

    def __init__(self, clock: FrozenClock, slow_url: str) -> None:
        super().__init__(clock)
        self.slow_url = slow_url
        self.gate = threading.Event()
        self.waiting = 0
        self.most_waiting = 0

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        if url.startswith(self.slow_url):
            with self._lock:
                self.waiting += 1
                self.most_waiting = max(self.most_waiting, self.waiting)
            self.gate.wait(10)
            with self._lock:
                self.waiting -= 1
        return super().__call__(url, body, headers, timeout)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.01)


def test_a_slow_subscriber_holds_back_neither_the_others_nor_the_next_passes(
    store: Store, clock: FrozenClock, tickets: ResourceService, hubs: HubService
) -> None:
    slow, fast = register(hubs, CALLBACK), register(hubs, OTHER_CALLBACK)
    sender = GatedSender(clock, CALLBACK)
    freed = threading.Event()
    dispatcher = Dispatcher(
        store,
        sender=sender,
        clock=clock,
        worker_id="w1",
        policy=POLICY,  # four attempts in flight at most
        overlapping=True,
        on_free=freed.set,
    )
    try:
        ticket_ids = [tickets.create(TICKET, context=NO_CONTEXT).doc["id"] for _ in range(6)]
        for ticket_id in ticket_ids:
            tickets.patch(
                ticket_id, {"@type": "TroubleTicket", "status": "inProgress"}, context=NO_CONTEXT
            )
        # 6 creations and 6 status changes, to each of the two hubs
        for _ in range(30):
            dispatcher.run_once()
            if len(sender.delivered()) == 12:
                break
            freed.wait(0.2)
            freed.clear()
        to_fast = [call for call in sender.delivered() if call.url.startswith(OTHER_CALLBACK)]
        assert len(to_fast) == 12  # every event reached the fast hub meanwhile
        # the slow hub held half the attempt slots, never more, while it did not answer
        assert sender.most_waiting == POLICY.concurrency // 2
        assert {d["state"] for d in deliveries(store).values() if d["hubId"] == slow} == {
            "delivering",
            "pending",
        }

        sender.gate.set()
        for _ in range(60):
            if len(sender.delivered()) == 24:
                break
            dispatcher.run_once()
            freed.wait(0.2)
            freed.clear()
        assert len(sender.delivered()) == 24
    finally:
        dispatcher.close()
    # each hub got the events of each ticket in the order they happened
    for hub_url in (CALLBACK, OTHER_CALLBACK):
        for ticket_id in ticket_ids:
            kinds = [
                call.body["eventType"]
                for call in sender.delivered()
                if call.url.startswith(hub_url)
                and call.body["event"]["troubleTicket"]["id"] == ticket_id
            ]
            assert kinds == [CREATE, STATUS_CHANGE], (hub_url, ticket_id, kinds)
    assert fast != slow


def test_overlapping_passes_never_run_more_attempts_than_the_concurrency(
    store: Store, clock: FrozenClock, tickets: ResourceService, hubs: HubService
) -> None:
    for n in range(6):
        register(hubs, f"https://listener{n}.example.com/hook")
    sender = GatedSender(clock, "https://listener")
    dispatcher = Dispatcher(
        store, sender=sender, clock=clock, worker_id="w1", policy=POLICY, overlapping=True
    )
    try:
        for _ in range(3):
            tickets.create(TICKET, context=NO_CONTEXT)
        for _ in range(5):
            dispatcher.run_once()
        wait_until(lambda: sender.waiting == POLICY.concurrency, "four attempts in flight")
        time.sleep(0.1)
        assert sender.most_waiting == POLICY.concurrency  # 18 due, 4 attempted
        sender.gate.set()
        for _ in range(40):
            if len(sender.delivered()) == 18:
                break
            dispatcher.run_once()
            time.sleep(0.02)
        assert len(sender.delivered()) == 18
        assert len({(c.url, c.event_id) for c in sender.delivered()}) == 18  # each once
    finally:
        dispatcher.close()


def test_a_dispatcher_delivers_only_the_lanes_it_holds_and_fans_out_with_lane_zero(
    store: Store, clock: FrozenClock, tickets: ResourceService, hubs: HubService
) -> None:
    register(hubs)
    for _ in range(24):  # spread over the lanes: some held, some not
        tickets.create(TICKET, context=NO_CONTEXT)
    sender = FakeSender(clock)
    without_zero = Dispatcher(
        store,
        sender=sender,
        clock=clock,
        worker_id="w1",
        policy=POLICY,
        lanes=lambda: frozenset(range(1, LANES)),
    )
    try:
        without_zero.run_once()
        assert deliveries(store) == {}  # lane 0's holder fans out; nobody else does
    finally:
        without_zero.close()
    held = frozenset(range(0, LANES, 2))
    dispatcher = Dispatcher(
        store, sender=sender, clock=clock, worker_id="w2", policy=POLICY, lanes=lambda: held
    )
    try:
        for _ in range(6):
            dispatcher.run_once()
    finally:
        dispatcher.close()
    by_state: dict[bool, set[str]] = {True: set(), False: set()}
    for delivery in deliveries(store).values():
        by_state[lane_of(delivery["hubId"], delivery["resourceKey"]) in held].add(delivery["state"])
    assert by_state[True] == {"delivered"}
    assert by_state[False] == {"pending"}
    assert len(sender.delivered()) == sum(
        1 for d in deliveries(store).values() if lane_of(d["hubId"], d["resourceKey"]) in held
    )
