"""Major incidents over real processes: a cascade SIGKILLed in the middle resumes after the
restart and moves every open child exactly once; the children's events reach a real listener in
each ticket's order, once each."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from tests.e2e.conftest import ServerFactory
from tests.e2e.listener import Listener, Received
from troubleticket.store.port import Collection
from troubleticket.store.sqlite import SqliteStore

MERGE = {"Content-Type": "application/merge-patch+json"}
ELEMENT = {
    "@type": "RelatedEntityRefOrValue",
    "role": "affected",
    "entity": {"@type": "EntityRef", "id": "olt-7", "@referredType": "Resource"},
}
RESOLVED_EVENT = "TroubleTicketResolvedEvent"


def policy(directory: Path, batch: int) -> Path:
    path = directory / "policy.yaml"
    path.write_text(
        "majorIncident:\n"
        "  correlate:\n"
        "    - {name: same element, relatedEntity: {referredType: [Resource]}}\n"
        f"  cascadeBatch: {batch}\n"
        "  rollupInterval: 1h\n"
    )
    return path


def create(base: str, body: dict[str, Any], session: requests.Session | None = None) -> Any:
    ticket = {
        "@type": "TroubleTicket",
        "description": "No service",
        "severity": "Minor",
        "ticketType": "incident",
        **body,
    }
    answer = (session or requests).post(f"{base}/troubleTicket", json=ticket, timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()


def change(base: str, ticket_id: str, **attributes: Any) -> Any:
    answer = requests.patch(
        f"{base}/troubleTicket/{ticket_id}",
        json={"@type": "TroubleTicket", **attributes},
        headers=MERGE,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def children_of(base: str, parent_id: str, count: int) -> list[str]:
    """Creates ``count`` tickets the policy correlates with the parent; their ids."""

    def one(_: int) -> str:
        with requests.Session() as session:
            made = create(base, {"relatedEntity": [ELEMENT]}, session)
        assert made["troubleTicketRelationship"][0]["id"] == parent_id
        return str(made["id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


def parent_now(base: str, parent_id: str) -> Any:
    return requests.get(f"{base}/troubleTicket/{parent_id}", timeout=30).json()


def wait_completed(base: str, parent_id: str, timeout: float = 120) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = parent_now(base, parent_id)
        if shown["cascade"]["state"] == "completed":
            return shown
        time.sleep(0.1)
    raise AssertionError(f"the cascade did not complete: {parent_now(base, parent_id)['cascade']}")


def test_a_cascade_killed_midway_resumes_and_moves_each_open_child_once(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    import time

    store_path = tmp_path / "mi.sqlite3"
    env = {"TT_POLICY": str(policy(tmp_path, batch=50)), "TT_LOG_LEVEL": "warning"}
    served = server_factory.serve(store_path, env)
    base = served.base
    parent = create(
        base,
        {"ticketType": "majorIncident", "severity": "Critical", "relatedEntity": [ELEMENT]},
    )
    kids = children_of(base, parent["id"], 2000)
    closed, detached = kids[:20], kids[20:30]
    for kid in closed:  # closed on their own: left alone
        change(base, kid, status="inProgress")
        change(base, kid, status="resolved")
        change(base, kid, status="closed")
    for kid in detached:
        change(base, kid, troubleTicketRelationship=[])
    open_kids = set(kids) - set(closed) - set(detached)

    change(base, parent["id"], status="inProgress")
    change(base, parent["id"], status="resolved", statusChangeReason="Fibre spliced")
    assert parent_now(base, parent["id"])["cascade"]["total"] == len(open_kids)
    deadline = time.monotonic() + 60
    while parent_now(base, parent["id"])["cascade"].get("done", 0) < 300:
        assert time.monotonic() < deadline, "the cascade did not start"
        time.sleep(0.01)
    served.kill()
    at_kill = _resolved_in(store_path, kids)
    assert 300 <= len(at_kill) < len(open_kids), "the kill was not in the middle of the cascade"

    base = served.restart()
    shown = wait_completed(base, parent["id"])
    assert shown["cascade"]["done"] == len(open_kids)
    assert shown["cascade"]["refused"] == 0
    served.stop()

    store = SqliteStore(store_path)
    try:
        resolved_events = Counter(
            stored.doc["body"]["event"]["troubleTicket"]["id"]
            for stored in store.scan(Collection.EVENT)
            if stored.doc["body"].get("eventType") == RESOLVED_EVENT
        )
        for kid in kids:
            doc = store.get(Collection.TROUBLE_TICKET, kid)
            assert doc is not None
            history = [h["status"] for h in doc.doc["statusChangeHistory"]]
            if kid in open_kids:
                assert doc.doc["status"] == "resolved", kid
                assert history.count("resolved") == 1, (kid, history)
                assert resolved_events[kid] == 1, kid
            elif kid in detached:
                assert doc.doc["status"] == "acknowledged"
                assert resolved_events[kid] == 0
            else:
                assert doc.doc["status"] == "closed"
                assert resolved_events[kid] == 1  # its own, before the parent's
    finally:
        store.close()


def _resolved_in(store_path: Path, kids: list[str]) -> set[str]:
    store = SqliteStore(store_path)
    try:
        found = set()
        for kid in kids:
            doc = store.get(Collection.TROUBLE_TICKET, kid)
            if doc is not None and doc.doc["status"] == "resolved":
                found.add(kid)
        return found
    finally:
        store.close()


def test_child_events_reach_a_listener_in_each_tickets_order_once_each(
    server_factory: ServerFactory, tmp_path: Path, listener: Listener
) -> None:
    env = {
        "TT_POLICY": str(policy(tmp_path, batch=10)),
        "TT_DISPATCH_INTERVAL": "100ms",
        "TT_LOG_LEVEL": "warning",
    }
    base = server_factory.serve(tmp_path / "events.sqlite3", env).base
    hub = requests.post(
        f"{base}/hub", json={"@type": "Hub", "callback": f"{listener.url}/all"}, timeout=10
    )
    assert hub.status_code == 201, hub.text
    parent = create(
        base,
        {"ticketType": "majorIncident", "severity": "Critical", "relatedEntity": [ELEMENT]},
    )
    kids = children_of(base, parent["id"], 40)
    for kid in kids[:10]:
        change(base, kid, status="inProgress")
    change(base, parent["id"], status="inProgress")
    change(base, parent["id"], status="resolved", statusChangeReason="Fibre spliced")
    wait_completed(base, parent["id"])

    def every_child_resolved(seen: list[Received]) -> bool:
        done = {r.resource.get("id") for r in seen if r.event_type == RESOLVED_EVENT}
        return set(kids) <= done

    listener.wait_for(every_child_resolved, timeout=60, what="a resolved event of each child")
    received = listener.wait_quiet(1.0)
    assert len({r.event_id for r in received}) == len(received), "an event arrived twice"
    for kid in kids:
        mine = [r for r in received if r.resource.get("id") == kid]
        statuses = [r.resource["status"] for r in mine]
        types = [r.event_type for r in mine]
        # acknowledged (created), then inProgress for some, then resolved: never back
        order = ["acknowledged", "inProgress", "resolved"]
        assert statuses == sorted(statuses, key=order.index), (kid, statuses)
        # the cascade's write of each child raises its status change and its resolved event
        assert types == [
            "TroubleTicketCreateEvent",
            *(["TroubleTicketStatusChangeEvent"] if kid in kids[:10] else []),
            "TroubleTicketStatusChangeEvent",
            RESOLVED_EVENT,
        ], (kid, types)
