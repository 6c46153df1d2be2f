"""The SLA monitor on every store: only due tickets, each crossing once, events with the write."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FrozenClock, SequentialIds
from tests.threads import run_together
from troubleticket.background.monitor import SlaMonitor
from troubleticket.bootstrap.services import ticket_service
from troubleticket.config import Settings
from troubleticket.context import NO_CONTEXT
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.policy_file import parse_policy
from troubleticket.services.resources import ResourceService
from troubleticket.store.port import Collection, ListQuery, Store

# Targets of seconds: acknowledge 40 s / resolve 100 s for a Medium ticket (Major severity).
POLICY = parse_policy(
    {
        "sla": {
            "clocks": {
                "acknowledge": {
                    "stopOn": ["inProgress", "resolved", "closed"],
                    "targets": {"Critical": "10s", "High": "20s", "Medium": "40s", "Low": "80s"},
                },
                "resolve": {
                    "stopOn": ["resolved", "closed"],
                    "targets": {"Critical": "25s", "High": "50s", "Medium": "100s", "Low": "200s"},
                },
            }
        },
        "escalation": {"rules": [{"clock": "resolve", "on": "breach", "raiseLevelTo": 2}]},
    }
)
BODY = {
    "@type": "TroubleTicket",
    "description": "No dial tone",
    "severity": "Major",
    "ticketType": "incident",
}


@pytest.fixture
def tickets(store: Store, clock: FrozenClock) -> ResourceService:
    return ticket_service(
        Settings(store="unused"),
        store,
        ManagedTicket(POLICY),
        clock=clock,
        new_id=SequentialIds("tt"),
    )


@pytest.fixture
def monitor(store: Store, tickets: ResourceService, clock: FrozenClock) -> SlaMonitor:
    return SlaMonitor(store, tickets, clock=clock)


def events(store: Store) -> list[dict[str, Any]]:
    while store.relay_events():
        pass
    return [e["body"] for e in store.list(Collection.EVENT, ListQuery(limit=1000)).items]


def jeopardy(store: Store, ticket_id: str) -> list[tuple[str, str]]:
    return [
        (e["event"]["jeopardyAlert"]["id"], e["event"]["jeopardyAlert"]["alertDate"])
        for e in events(store)
        if e["eventType"] == "TroubleTicketJeopardyAlertEvent"
        and e["event"]["troubleTicket"]["id"] == ticket_id
    ]


def test_only_tickets_whose_next_check_is_due_are_looked_at(
    tickets: ResourceService, monitor: SlaMonitor, clock: FrozenClock
) -> None:
    early = tickets.create(BODY, context=NO_CONTEXT).doc["id"]  # acknowledge warning due at +30 s
    clock.advance(seconds=20)
    late = tickets.create(BODY, context=NO_CONTEXT).doc["id"]  # due at +50 s
    tickets.patch(late, {"@type": "TroubleTicket", "status": "inProgress"}, context=NO_CONTEXT)

    clock.advance(seconds=11)  # +31 s: only the first is due

    assert monitor.due() == [early]
    assert monitor.run_once() == 1
    assert monitor.due() == []


def test_warning_and_breach_are_raised_once_each_with_their_events(
    store: Store, tickets: ResourceService, monitor: SlaMonitor, clock: FrozenClock
) -> None:
    ticket_id = tickets.create(BODY, context=NO_CONTEXT).doc["id"]
    tickets.patch(ticket_id, {"@type": "TroubleTicket", "status": "inProgress"}, context=NO_CONTEXT)

    clock.advance(seconds=75)  # resolve warning at 75 s
    monitor.run_once()
    clock.advance(seconds=25)  # breach at 100 s
    monitor.run_once()
    clock.advance(seconds=500)
    assert monitor.run_once() == 0  # nothing left to check

    assert jeopardy(store, ticket_id) == [
        ("resolve-warning", "2026-11-20T08:01:15.000Z"),
        ("resolve-breach", "2026-11-20T08:01:40.000Z"),
    ]
    escalations = [e for e in events(store) if e["eventType"] == "TroubleTicketEscalationEvent"]
    assert [e["event"]["escalation"]["level"] for e in escalations] == [2]
    shown = tickets.get(ticket_id, context=NO_CONTEXT).doc
    assert [a["id"] for a in shown["troubleTicketJeopardyAlert"]] == [
        "resolve-warning",
        "resolve-breach",
    ]
    assert shown["escalationLevel"] == 2
    assert "slaNextCheck" not in shown


def test_after_downtime_the_missed_crossings_are_raised_once_in_order(
    store: Store, tickets: ResourceService, monitor: SlaMonitor, clock: FrozenClock
) -> None:
    ticket_id = tickets.create(BODY, context=NO_CONTEXT).doc["id"]

    clock.advance(hours=3)  # the monitor was down past every threshold
    monitor.run_once()

    alerts = jeopardy(store, ticket_id)
    assert [date for _, date in alerts] == sorted(date for _, date in alerts)
    assert sorted(alert for alert, _ in alerts) == [
        "acknowledge-breach",
        "acknowledge-warning",
        "resolve-breach",
        "resolve-warning",
    ]
    assert dict(alerts) == {
        "acknowledge-warning": "2026-11-20T08:00:30.000Z",
        "acknowledge-breach": "2026-11-20T08:00:40.000Z",
        "resolve-warning": "2026-11-20T08:01:15.000Z",
        "resolve-breach": "2026-11-20T08:01:40.000Z",
    }
    assert monitor.run_once() == 0


def test_monitors_running_at_once_raise_each_alert_once(
    store: Store, tickets: ResourceService, clock: FrozenClock
) -> None:
    ids = [tickets.create(BODY, context=NO_CONTEXT).doc["id"] for _ in range(10)]
    clock.advance(seconds=45)  # every acknowledge clock past warning and breach
    monitors = [SlaMonitor(store, tickets, clock=clock) for _ in range(3)]

    run_together(lambda monitor: monitor.run_once(), monitors)

    raised = [(ticket_id, alert) for ticket_id in ids for alert in jeopardy(store, ticket_id)]
    assert len(raised) == len(set(raised)) == 10 * 2  # acknowledge warning and breach
