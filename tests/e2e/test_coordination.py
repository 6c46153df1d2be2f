"""Coordinate Customer Problem live: a real server, a real subscriber, real time.

One ticket is worked through three dependent recovery activities; the second runs past its
planned end, which brings the subscriber a jeopardy alert and an escalation to level 2; the
ticket cannot be resolved until its mandatory activities are done, then it is. A second ticket
is cancelled with work open, and its open activities are cancelled with it. The subscriber gets
every event of each ticket and its activities, each once, in the order they happened.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.e2e.conftest import ServerFactory
from tests.e2e.listener import Listener, Received

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
POLICY = {
    "coordination": {"lateActivity": {"raiseLevelTo": 2}},
    # the monitor looks four times a second, so a late activity is noticed within 250 ms
    "monitor": {"interval": "250ms"},
}
LATE_IN_S = 3.0


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(url, json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def patch(url: str, body: dict[str, Any], expected: int = 200) -> dict[str, Any]:
    response = requests.patch(url, json=body, headers=MERGE_PATCH, timeout=10)
    assert response.status_code == expected, response.text
    return response.json()  # type: ignore[no-any-return]


def step(activity: dict[str, Any], state: str) -> dict[str, Any]:
    return patch(activity["href"], {"@type": "RecoveryActivity", "state": state})


def what(received: Received) -> tuple[str, str, str]:
    """(event type, subject, detail) of one notification: the activity's name and state, or
    the ticket's status and what its rollup says."""
    payload = received.event["event"]
    if "recoveryActivity" in payload:
        activity = payload["recoveryActivity"]
        return received.event_type, activity["name"], activity.get("state", "-")
    ticket = payload["troubleTicket"]
    if "jeopardyAlert" in payload:
        return received.event_type, ticket["description"], payload["jeopardyAlert"]["name"]
    if "escalation" in payload:
        return received.event_type, ticket["description"], f"level {payload['escalation']['level']}"
    summary = ticket.get("activitySummary", {})
    counts = ",".join(f"{k}={v}" for k, v in summary.get("byState", {}).items() if v)
    return received.event_type, ticket["description"], f"{ticket['status']} {counts}".strip()


def concerns(received: Received, ticket: dict[str, Any]) -> bool:
    """Whether a notification is about the ticket or one of its activities."""
    resource = received.resource
    return ticket["id"] in (resource.get("id"), resource.get("troubleTicket", {}).get("id"))


def test_three_dependent_activities_one_late_then_resolved_and_a_cancel_that_cascades(
    server_factory: ServerFactory, listener: Listener, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    server = server_factory.serve(
        env={"TT_POLICY": str(policy), "TT_DISPATCH_INTERVAL": "100ms", "TT_LOG_LEVEL": "warning"}
    )
    api = server.base
    assert post(f"{api}/hub", {"@type": "Hub", "callback": f"{listener.url}/events"})
    body = {"@type": "TroubleTicket", "severity": "Major", "ticketType": "incident"}
    ticket = post(f"{api}/troubleTicket", {**body, "description": "T1", "status": "inProgress"})
    work = f"{ticket['href']}/recoveryActivity"

    diagnose = post(work, {"@type": "RecoveryActivity", "activityType": "diagnose", "name": "A"})
    late_at = datetime.now(UTC) + timedelta(seconds=LATE_IN_S)
    late_at_monotonic = time.monotonic() + LATE_IN_S
    dispatch = post(
        work,
        {
            "@type": "RecoveryActivity",
            "activityType": "dispatchTechnician",
            "name": "B",
            "dependsOn": [diagnose["id"]],
            "plannedEndDate": late_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        },
    )
    configure = post(
        work,
        {
            "@type": "RecoveryActivity",
            "activityType": "configurationChange",
            "name": "C",
            "dependsOn": [dispatch["id"]],
        },
    )
    # B waits for A
    refused = requests.patch(
        dispatch["href"],
        json={"@type": "RecoveryActivity", "state": "inProgress"},
        headers=MERGE_PATCH,
        timeout=10,
    )
    assert refused.status_code == 409 and refused.json()["code"] == "dependencyNotCompleted"
    step(diagnose, "inProgress")
    step(diagnose, "completed")
    step(dispatch, "inProgress")

    # B runs past its planned end: the alert, dated then, and the escalation
    listener.wait_for(
        lambda seen: any(r.event_type == "TroubleTicketEscalationEvent" for r in seen),
        timeout=LATE_IN_S + 10,
        what="the escalation of the late activity",
    )
    escalated = requests.get(ticket["href"], timeout=10).json()
    (alert,) = escalated["troubleTicketJeopardyAlert"]
    assert alert["recoveryActivity"]["id"] == dispatch["id"]
    assert alert["alertDate"] == dispatch["plannedEndDate"]
    assert escalated["escalationLevel"] == 2
    assert escalated["activitySummary"]["late"] == 1

    resolve = {"@type": "TroubleTicket", "status": "resolved"}
    refused = requests.patch(ticket["href"], json=resolve, headers=MERGE_PATCH, timeout=10)
    assert refused.status_code == 409 and refused.json()["code"] == "openMandatoryActivities"
    step(dispatch, "completed")
    step(configure, "inProgress")
    step(configure, "completed")
    resolved = patch(ticket["href"], resolve)
    assert resolved["activitySummary"]["progress"] == 100.0

    other = post(f"{api}/troubleTicket", {**body, "description": "T2", "status": "inProgress"})
    started = post(
        f"{other['href']}/recoveryActivity",
        {"@type": "RecoveryActivity", "activityType": "diagnose", "name": "D"},
    )
    post(
        f"{other['href']}/recoveryActivity",
        {"@type": "RecoveryActivity", "activityType": "customerContact", "name": "E"},
    )
    step(started, "inProgress")
    cancel = {"@type": "TroubleTicket", "status": "cancelled", "statusChangeReason": "Duplicate"}
    cancelled = patch(other["href"], cancel)
    assert cancelled["activitySummary"]["byState"]["cancelled"] == 2

    received = listener.wait_quiet(1.5)
    assert len({r.event_id for r in received}) == len(received)
    first = [what(r) for r in received if concerns(r, ticket)]
    assert first == [
        ("TroubleTicketCreateEvent", "T1", "inProgress"),
        ("RecoveryActivityCreateEvent", "A", "planned"),
        ("TroubleTicketAttributeValueChangeEvent", "T1", "inProgress planned=1"),
        ("RecoveryActivityCreateEvent", "B", "planned"),
        ("TroubleTicketAttributeValueChangeEvent", "T1", "inProgress planned=2"),
        ("RecoveryActivityCreateEvent", "C", "planned"),
        ("TroubleTicketAttributeValueChangeEvent", "T1", "inProgress planned=3"),
        ("RecoveryActivityStateChangeEvent", "A", "inProgress"),
        ("TroubleTicketAttributeValueChangeEvent", "T1", "inProgress planned=2,inProgress=1"),
        ("RecoveryActivityStateChangeEvent", "A", "completed"),
        ("TroubleTicketAttributeValueChangeEvent", "T1", "inProgress planned=2,completed=1"),
        ("RecoveryActivityStateChangeEvent", "B", "inProgress"),
        (
            "TroubleTicketAttributeValueChangeEvent",
            "T1",
            "inProgress planned=1,inProgress=1,completed=1",
        ),
        ("TroubleTicketJeopardyAlertEvent", "T1", "B late"),
        ("TroubleTicketEscalationEvent", "T1", "level 2"),
        (
            "TroubleTicketAttributeValueChangeEvent",
            "T1",
            "inProgress planned=1,inProgress=1,completed=1",
        ),
        ("RecoveryActivityStateChangeEvent", "B", "completed"),
        ("TroubleTicketAttributeValueChangeEvent", "T1", "inProgress planned=1,completed=2"),
        ("RecoveryActivityStateChangeEvent", "C", "inProgress"),
        (
            "TroubleTicketAttributeValueChangeEvent",
            "T1",
            "inProgress inProgress=1,completed=2",
        ),
        ("RecoveryActivityStateChangeEvent", "C", "completed"),
        ("TroubleTicketAttributeValueChangeEvent", "T1", "inProgress completed=3"),
        ("TroubleTicketStatusChangeEvent", "T1", "resolved completed=3"),
        ("TroubleTicketResolvedEvent", "T1", "resolved completed=3"),
    ]
    second = [what(r) for r in received if concerns(r, other)]
    assert second == [
        ("TroubleTicketCreateEvent", "T2", "inProgress"),
        ("RecoveryActivityCreateEvent", "D", "planned"),
        ("TroubleTicketAttributeValueChangeEvent", "T2", "inProgress planned=1"),
        ("RecoveryActivityCreateEvent", "E", "planned"),
        ("TroubleTicketAttributeValueChangeEvent", "T2", "inProgress planned=2"),
        ("RecoveryActivityStateChangeEvent", "D", "inProgress"),
        ("TroubleTicketAttributeValueChangeEvent", "T2", "inProgress planned=1,inProgress=1"),
        # the cancel: the ticket's events, then the cascade's
        ("TroubleTicketAttributeValueChangeEvent", "T2", "cancelled cancelled=2"),
        ("TroubleTicketStatusChangeEvent", "T2", "cancelled cancelled=2"),
        ("RecoveryActivityStateChangeEvent", "D", "cancelled"),
        ("RecoveryActivityStateChangeEvent", "E", "cancelled"),
    ]
    # the alert reached the subscriber within the monitor's interval and a delivery of B's end
    (alerted,) = [r for r in received if r.event_type == "TroubleTicketJeopardyAlertEvent"]
    assert -0.3 <= alerted.arrived - late_at_monotonic <= 1.5
