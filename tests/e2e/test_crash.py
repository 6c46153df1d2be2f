"""The server SIGKILLed in the middle of a burst of changes loses no event and invents none.

Several clients each create a ticket and then patch its description to v1, v2, ... in order,
while the in-process dispatcher delivers every event to a listener. The server is killed
(SIGKILL) after some answers, at a moment the listener holds a delivery unanswered, restarted on
the same SQLite file; the clients carry on from what the store holds, and it is killed and
restarted again. Afterwards the store is the truth: a ticket whose description is vN had its
create and v1..vN committed (a PATCH whose answer was lost may have committed), and nothing after
vN. Then:

(a) every committed change reached the listener at least once;
(b) a change received more than once came with one eventId every time (at least once, not
    twice over);
(c) per ticket, the first arrivals are in the order of the changes;
(d) no event arrived for a change that was not committed.

A delivery in flight at the kill stays leased to the dead process for the dispatcher's lease
(120 s, not a setting). Between kill and restart the test ages those leases in the store file,
standing in for that wait, so the restarted server takes them over as it would two minutes
later.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.e2e.conftest import ServerFactory
from tests.e2e.listener import Listener, Received
from troubleticket.store.port import Collection
from troubleticket.store.sqlite import SqliteStore

CLIENTS = 6
PATCHES = 200  # per ticket, far more than a burst gets through: each kill comes mid-burst
KILL_AFTER = (30, 30)  # answers into each burst before the SIGKILL
ANSWER_DELAY_S = 0.02  # the listener holds each answer back a little, as a real one would
SETTLE_TIMEOUT_S = 30
ENV = {
    "TT_DELIVERY_SCHEDULE": "0,200ms,200ms,200ms,200ms",
    "TT_DELIVERY_TIMEOUT": "2s",
    "TT_DISPATCH_INTERVAL": "100ms",
    "TT_LOG_LEVEL": "warning",
}
LAPSED = "1970-01-01T00:00:00.000Z"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def name_of(client: int) -> str:
    return f"crash-client-{client}"


def version_of(description: str) -> int:
    assert description.startswith("v"), description
    return int(description[1:])


@dataclass
class Burst:
    """One round of clients, each carrying its ticket on from what the store holds."""

    base: str
    committed: dict[str, dict[str, Any]]  # ticket name -> ticket, as the store holds it
    answers: int = 0
    failures: int = 0
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for client in range(CLIENTS):
            thread = threading.Thread(target=self._client, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=30)
            assert not thread.is_alive(), "a client did not stop after the kill"

    def _answered(self) -> None:
        with self._lock:
            self.answers += 1

    def _client(self, client: int) -> None:
        with requests.Session() as session:
            try:
                self._run(session, client)
            except requests.RequestException:
                with self._lock:  # the kill: this client stops here
                    self.failures += 1
            except Exception as exc:  # reported by the test, not lost in this thread
                with self._lock:
                    self.errors.append(f"client {client}: {exc!r}")

    def _run(self, session: requests.Session, client: int) -> None:
        ticket = self.committed.get(name_of(client))
        if ticket is None:
            body = {
                "@type": "TroubleTicket",
                "name": name_of(client),
                "description": "v0",
                "severity": "Minor",
                "ticketType": "incident",
            }
            response = session.post(f"{self.base}/troubleTicket", json=body, timeout=10)
            assert response.status_code == 201, response.text
            self._answered()
            ticket = response.json()
        url = f"{self.base}/troubleTicket/{ticket['id']}"
        for n in range(version_of(ticket["description"]) + 1, PATCHES + 1):
            response = session.patch(
                url,
                data=f'{{"@type": "TroubleTicket", "description": "v{n}"}}',
                headers=MERGE_PATCH,
                timeout=10,
            )
            assert response.status_code == 200, response.text
            self._answered()

    def wait_answers(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.answers < count and any(t.is_alive() for t in self._threads):
            assert time.monotonic() < deadline, f"only {self.answers} answers in {timeout} s"
            time.sleep(0.005)


def committed_tickets(base: str) -> dict[str, dict[str, Any]]:
    response = requests.get(f"{base}/troubleTicket", params={"limit": 1000}, timeout=10)
    assert response.status_code == 200, response.text
    return {ticket["name"]: ticket for ticket in response.json()}


def age_leases(store_path: Path) -> int:
    """Let the leases of deliveries in flight at the kill lapse; returns how many there were."""
    store = SqliteStore(store_path)
    try:
        aged = 0
        for stored in list(store.scan(Collection.DELIVERY)):
            if stored.doc["state"] == "delivering":
                lapsed = {**stored.doc, "leaseUntil": LAPSED}
                assert store.replace(
                    Collection.DELIVERY, lapsed, expected_version=stored.version
                ), "the delivery changed while no dispatcher ran"
                aged += 1
        return aged
    finally:
        store.close()


def test_a_killed_server_delivers_every_committed_change_at_least_once_in_order(
    server_factory: ServerFactory, listener: Listener, tmp_path: Path
) -> None:
    listener.delay = ANSWER_DELAY_S
    store = tmp_path / "crash.sqlite3"
    served = server_factory.serve(store, env=ENV)
    hub = requests.post(
        f"{served.base}/hub",
        json={"@type": "Hub", "callback": f"{listener.url}/crash"},
        timeout=10,
    )
    assert hub.status_code == 201, hub.text

    answers = failures = in_flight = 0
    committed: dict[str, dict[str, Any]] = {}
    for kill_after in KILL_AFTER:
        burst = Burst(served.base, committed)
        burst.start()
        burst.wait_answers(kill_after // 2)
        listener.hold()  # from here the deliveries stall, so one is surely in flight at the kill
        burst.wait_answers(kill_after)
        listener.wait_for(
            lambda _seen: listener.in_flight > 0, timeout=10, what="a delivery in flight"
        )
        served.kill()
        listener.release()
        burst.join()
        assert not burst.errors, burst.errors
        assert burst.failures > 0, "the kill came after the burst, not in the middle of it"
        answers += burst.answers
        failures += burst.failures
        in_flight += age_leases(store)
        served.restart()
        committed = committed_tickets(served.base)

    # The store is the truth: ticket id -> the highest version committed.
    latest = {t["id"]: version_of(t["description"]) for t in committed.values()}
    assert len(latest) == CLIENTS
    expected = {(tid, f"v{k}") for tid, n in latest.items() for k in range(n + 1)}

    def change(r: Received) -> tuple[str, str]:
        return r.resource["id"], r.resource["description"]

    listener.wait_for(
        lambda seen: expected <= {change(r) for r in seen},
        timeout=SETTLE_TIMEOUT_S,
        what=f"every one of the {len(expected)} committed changes received",
    )
    received = listener.wait_quiet(1.0)
    assert {r.path for r in received} == {"/crash"}
    assert all(r.status == 204 for r in received)

    # (d) nothing but committed changes: no unknown ticket, no version beyond the store's
    beyond = [str(r) for r in received if change(r) not in expected]
    assert not beyond, f"events for changes that were never committed: {beyond}"
    for r in received:
        k = version_of(r.resource["description"])
        assert r.event_type == (
            "TroubleTicketCreateEvent" if k == 0 else "TroubleTicketAttributeValueChangeEvent"
        ), r

    # (b) one change, one eventId, however often it arrived
    ids: dict[tuple[str, str], set[str]] = {}
    for r in received:
        ids.setdefault(change(r), set()).add(r.event_id)
    assert all(len(event_ids) == 1 for event_ids in ids.values()), {
        key: event_ids for key, event_ids in ids.items() if len(event_ids) > 1
    }
    assert len({next(iter(event_ids)) for event_ids in ids.values()}) == len(ids)

    # (a) every committed change arrived, and (c) in order at first arrival
    for tid, n in latest.items():
        firsts: list[str] = []
        for r in received:
            if r.resource["id"] == tid and r.resource["description"] not in firsts:
                firsts.append(r.resource["description"])
        assert firsts == [f"v{k}" for k in range(n + 1)], f"ticket {tid}: {firsts}"

    duplicates = len(received) - len(ids)
    # The deliveries held at the kills were received, but never known to be: each came again.
    assert duplicates >= len(KILL_AFTER)
    # ...and nothing else came twice: only a delivery in flight at a kill is made again.
    assert duplicates <= in_flight
    print(
        f"\ncrash: {len(KILL_AFTER)} kills, {len(latest)} tickets, "
        f"{len(expected)} changes committed ({answers} answered, "
        f"{len(expected) - answers} without an answer), {failures} requests cut by the kills, "
        f"{len(received)} events received, {duplicates} duplicates, "
        f"{in_flight} deliveries in flight at the kills"
    )
