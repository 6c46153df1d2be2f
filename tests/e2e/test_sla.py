"""The service policy live: a real server on examples/policy-fast.yaml and a real subscriber.

A ticket left alone must bring its subscriber, in order and at the times the policy says, the
acknowledge warning and breach, the resolve warning with its escalation to level 1, and the
resolve breach with its escalation to level 2 (and priority Critical); a ticket resolved in time
must bring none.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from tests.e2e.conftest import ServerFactory
from tests.e2e.listener import Listener

POLICY = Path(__file__).parents[2] / "examples" / "policy-fast.yaml"
QUERY = "eventType=TroubleTicketJeopardyAlertEvent,TroubleTicketEscalationEvent"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
# Medium ticket under policy-fast.yaml: acknowledge 8 s, resolve 16 s; thresholds 75 % / 100 %.
EXPECTED = [
    (6.0, "TroubleTicketJeopardyAlertEvent", "acknowledge warning"),
    (8.0, "TroubleTicketJeopardyAlertEvent", "acknowledge breach"),
    (12.0, "TroubleTicketJeopardyAlertEvent", "resolve warning"),
    (12.0, "TroubleTicketEscalationEvent", "level 1"),
    (16.0, "TroubleTicketJeopardyAlertEvent", "resolve breach"),
    (16.0, "TroubleTicketEscalationEvent", "level 2"),
]
# The monitor looks every 250 ms; delivery adds milliseconds; the machine may be busy.
LATE_BY_AT_MOST_S = 1.5


def what(event: dict[str, Any]) -> str:
    payload = event["event"]
    if "jeopardyAlert" in payload:
        return str(payload["jeopardyAlert"]["name"])
    return f"level {payload['escalation']['level']}"


def test_a_ticket_left_alone_warns_breaches_and_escalates_in_order_and_one_in_time_does_not(
    server_factory: ServerFactory, listener: Listener
) -> None:
    server = server_factory.serve(
        env={"TT_POLICY": str(POLICY), "TT_DISPATCH_INTERVAL": "100ms", "TT_LOG_LEVEL": "warning"}
    )
    api = server.base
    hub = {"@type": "Hub", "callback": f"{listener.url}/events", "query": QUERY}
    assert requests.post(f"{api}/hub", json=hub, timeout=10).status_code == 201
    body = {"@type": "TroubleTicket", "severity": "Major", "ticketType": "incident"}
    alone = requests.post(
        f"{api}/troubleTicket", json={**body, "description": "left alone"}, timeout=10
    ).json()
    created = time.monotonic()
    in_time = requests.post(
        f"{api}/troubleTicket", json={**body, "description": "resolved in time"}, timeout=10
    ).json()
    assert alone["priority"] == in_time["priority"] == "Medium"
    url = f"{api}/troubleTicket/{in_time['id']}"
    for status in ("inProgress", "resolved"):
        patch = {"@type": "TroubleTicket", "status": status}
        assert requests.patch(url, json=patch, headers=MERGE_PATCH, timeout=10).status_code == 200

    received = listener.wait_count(len(EXPECTED), timeout=30)
    received = listener.wait_quiet(2.0)

    assert [r.resource["id"] for r in received] == [alone["id"]] * len(EXPECTED)
    assert [(r.event_type, what(r.event)) for r in received] == [
        (event_type, name) for _, event_type, name in EXPECTED
    ]
    for arrival, (due, _, name) in zip(received, EXPECTED, strict=True):
        late = arrival.arrived - created - due
        assert -0.3 <= late <= LATE_BY_AT_MOST_S, (name, late)
    breach = received[-1].event["event"]["troubleTicket"]
    assert breach["escalationLevel"] == 2 and breach["priority"] == "Critical"
    resolved = requests.get(url, timeout=10).json()
    assert [c["state"] for c in resolved["slaClock"]] == ["met", "met"]
    assert "troubleTicketJeopardyAlert" not in resolved
