"""Two ``troubleticket worker`` processes share the deliveries; one is SIGKILLed mid-drain.

A server that does not dispatch (``TT_DISPATCH=off``) takes the changes; two workers on its
SQLite file share the delivery lanes (``background.lanes``). Once each holds half of them and
the listener is being fed, tickets are created and patched from several clients; when part of
their deliveries has arrived, one worker is SIGKILLed. The survivor takes the dead one's lanes
over when their leases run out, and the deliveries it held in flight when their own leases do.

Then, against the events the store recorded: every event reached each hub at least once (nothing
lost); a repeated delivery carried the same eventId (the only key the count is made on); and per
hub and ticket, the first arrivals are in the order the events were recorded.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.e2e.conftest import ServerFactory
from tests.e2e.listener import Listener
from troubleticket.notify.lanes import LANES

TICKETS = 60
PATCHES = 4  # per ticket: 5 events each
ENV = {
    "TT_DISPATCH": "off",
    "TT_DELIVERY_SCHEDULE": "0,200ms,200ms,200ms,200ms",
    "TT_DELIVERY_TIMEOUT": "2s",
    "TT_DELIVERY_LEASE": "4s",
    "TT_DISPATCH_INTERVAL": "100ms",
    "TT_LOG_LEVEL": "warning",
}
WORKER_ENV = {k: v for k, v in ENV.items() if k != "TT_DISPATCH"}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def rows(store: Path, sql: str) -> list[dict[str, object]]:
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
        return [json.loads(doc) for (doc,) in conn.execute(sql)]


def lane_holders(store: Path) -> dict[str, int]:
    """Live lane leases by holder."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    held: dict[str, int] = {}
    for lease in rows(store, "SELECT doc FROM lease"):
        if str(lease["id"]).startswith("lane:") and str(lease["until"]) > now:
            held[str(lease["holder"])] = held.get(str(lease["holder"]), 0) + 1
    return held


def wait(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.1)


def ticket_with_changes(base: str, n: int) -> None:
    body = {
        "@type": "TroubleTicket",
        "description": f"t{n} v0",
        "severity": "Minor",
        "ticketType": "incident",
    }
    created = requests.post(f"{base}/troubleTicket", json=body, timeout=10)
    assert created.status_code == 201, created.text
    for version in range(1, PATCHES + 1):
        changed = requests.patch(
            f"{base}/troubleTicket/{created.json()['id']}",
            data=json.dumps({"@type": "TroubleTicket", "description": f"t{n} v{version}"}),
            headers=MERGE_PATCH,
            timeout=10,
        )
        assert changed.status_code == 200, changed.text


def test_a_worker_killed_mid_drain_loses_nothing_and_keeps_each_tickets_order(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    store = tmp_path / "lanes.sqlite3"
    served = server_factory.serve(store, env=ENV)
    listener = Listener(delay=0.03).start()
    try:
        hubs = [
            requests.post(
                f"{served.base}/hub",
                json={"@type": "Hub", "callback": f"{listener.url}/{name}"},
                timeout=10,
            ).json()["id"]
            for name in ("a", "b")
        ]
        first = server_factory.worker(store, env=WORKER_ENV)
        second = server_factory.worker(store, env=WORKER_ENV)
        # the first takes every lane, gives half up once it sees the second, which takes them
        wait(
            lambda: sorted(lane_holders(store).values()) == [LANES // 2, LANES // 2],
            "an even split of the lanes",
            timeout=40,
        )

        with ThreadPoolExecutor(max_workers=6) as clients:
            list(clients.map(lambda n: ticket_with_changes(served.base, n), range(TICKETS)))
        expected = TICKETS * (PATCHES + 1) * len(hubs)
        wait(lambda: len(listener.accepted()) >= expected // 3, "a third delivered", 60)
        second.kill()
        survivor_holds = f"{LANES} lanes held by the survivor"
        wait(lambda: list(lane_holders(store).values()) == [LANES], survivor_holds, 60)

        events = rows(store, "SELECT doc FROM event ORDER BY seq")
        order = {e["id"]: str(e["orderKey"]) for e in events}
        assert len(order) == TICKETS * (PATCHES + 1)

        def arrived() -> set[tuple[str, str]]:
            return {(r.path, r.event_id) for r in listener.accepted()}

        wait(lambda: len(arrived()) == expected, "every delivery", timeout=90)
        got = arrived()
        for hub in ("a", "b"):
            assert {event_id for path, event_id in got if path == f"/{hub}"} == set(order)
        # per hub and ticket, the first arrivals in the order the events were recorded
        firsts: dict[tuple[str, str], list[str]] = {}
        seen: set[tuple[str, str]] = set()
        for received in listener.accepted():
            if (received.path, received.event_id) in seen:
                continue
            seen.add((received.path, received.event_id))
            key = (received.path, str(received.resource["id"]))
            firsts.setdefault(key, []).append(order[received.event_id])
        assert len(firsts) == TICKETS * len(hubs)
        for key, keys in firsts.items():
            assert keys == sorted(keys), f"{key}: out of order {keys}"
        repeated = len(listener.accepted()) - len(got)
        print(f"{len(got)} deliveries, {repeated} repeated after the kill")
        assert first.stop() == 0
    finally:
        listener.stop()
