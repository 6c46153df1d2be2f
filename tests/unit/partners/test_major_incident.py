"""A partner repair on a major incident: the one trouble report for the fault, however many
customer tickets are its children; the partner's resolution completes the repair, and resolving
the major incident then carries to every open child like any other resolve."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.unit.partners.conftest import TICKET, Operator
from troubleticket.background.major_incidents import CascadeRunner
from troubleticket.context import NO_CONTEXT
from troubleticket.domain.partner_report import CREATE, POLL
from troubleticket.notify.delivery import Outcome
from troubleticket.store.port import Collection, ListQuery

CHILDREN = 4


@pytest.fixture
def polling(operator_with: Callable[..., Operator]) -> Operator:
    """Our side with FibreCo sending no events: its reports are polled whenever due."""
    return operator_with(events={"subscribe": False})


def partner_requests(operator: Operator) -> list[tuple[str, str]]:
    """Every request to a partner recorded so far: its kind, and the ticket it is for."""
    operator.store.relay_events()
    events = operator.store.list(Collection.EVENT, ListQuery(limit=1000)).items
    return [(e["eventType"], e["body"]["event"]["troubleTicket"]) for e in events if "target" in e]


def test_one_report_for_the_fault_and_its_resolution_cascades(polling: Operator) -> None:
    run = polling.run
    parent = {**TICKET, "ticketType": "majorIncident", "name": "Fibre cut"}
    report = polling.report(parent)
    link = {
        "@type": "TroubleTicketRelationship",
        "id": report.ticket_id,
        "relationshipType": "isChildOf",
    }
    kids = [
        run.tickets.create(
            {
                "@type": "TroubleTicket",
                "description": f"customer {n} has no service",
                "severity": "Minor",
                "ticketType": "incident",
                "troubleTicketRelationship": [link],
            },
            context=NO_CONTEXT,
        ).doc["id"]
        for n in range(CHILDREN)
    ]
    # the children ask nothing of the partner: one report, the parent's
    asked = partner_requests(polling)
    assert {ticket for _kind, ticket in asked} == {report.ticket_id}
    assert [kind for kind, _ticket in asked].count(CREATE) == 1
    assert polling.perform(CREATE, report) == Outcome(201)
    assert len(polling.partner.tickets) == 1

    polling.partner.work("FC-1", status="resolved", statusChangeReason="Cable spliced")
    assert polling.perform(POLL, report) == Outcome(200, again_after=30.0)
    assert polling.activity(report)["state"] == "completed"
    assert polling.activity(report)["partnerReport"]["partnerTicket"]["status"] == "resolved"

    polling.change_ticket(report, status="resolved", statusChangeReason="Cable spliced")
    runner = CascadeRunner(run.store, run.tickets, run.managed, clock=polling.clock)
    while runner.run_once():
        pass
    runner.run_once()  # the pass that finds none left completes it
    for kid in kids:
        shown = run.tickets.get(kid, context=NO_CONTEXT).doc
        assert shown["status"] == "resolved"
        assert shown["statusChangeReason"].startswith("Cable spliced (major incident")
    cascade = polling.ticket(report)["cascade"]
    assert (cascade["state"], cascade["done"]) == ("completed", CHILDREN)
    asked = partner_requests(polling)
    assert {ticket for _kind, ticket in asked} == {report.ticket_id}
    assert [kind for kind, _ticket in asked].count(CREATE) == 1
