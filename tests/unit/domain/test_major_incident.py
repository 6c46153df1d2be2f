"""The major incident rules alone: links, counters, correlation, the lifecycle path of a
cascade, and a walk through it being the same change as the patches one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from troubleticket.context import NO_CONTEXT
from troubleticket.domain import major_incident as mi
from troubleticket.domain.errors import Conflict, InvalidRequest
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.policy import DEFAULT_POLICY

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def ticket(ticket_id: str, **attributes: Any) -> dict[str, Any]:
    return {
        "@type": "TroubleTicket",
        "id": ticket_id,
        "description": "No service",
        "severity": "Minor",
        "ticketType": "incident",
        "status": "acknowledged",
        **attributes,
    }


def link(parent_id: str, kind: str = mi.CHILD_OF) -> list[dict[str, Any]]:
    return [{"@type": "TroubleTicketRelationship", "id": parent_id, "relationshipType": kind}]


@pytest.mark.parametrize(
    ("start", "target", "path"),
    [
        ("acknowledged", "resolved", ["inProgress", "resolved"]),
        ("pending", "resolved", ["inProgress", "resolved"]),
        ("inProgress", "resolved", ["resolved"]),
        ("acknowledged", "closed", ["inProgress", "resolved", "closed"]),
        ("held", "cancelled", ["cancelled"]),
        ("resolved", "resolved", []),
        ("closed", "resolved", []),
    ],
)
def test_the_path_through_the_lifecycle(start: str, target: str, path: list[str]) -> None:
    assert mi.path_to(start, target) == path


def test_counter_changes_follow_status_link_and_customers() -> None:
    customer = {"role": "Customer", "partyOrPartyRole": {"id": "c-1"}}
    child = mi.settle(ticket("t", troubleTicketRelationship=link("p"), relatedParty=[customer]))
    created = mi.counter_changes(None, child)
    assert sorted(created) == [
        ("majorIncident:p", "open", 1),
        ("majorIncident:p", "status:acknowledged", 1),
        ("majorIncident:p", "total", 1),
        ("majorIncident:p:customers", "c-1", 1),
    ]
    resolved = {**child, "status": "resolved"}
    assert sorted(mi.counter_changes(child, resolved)) == [
        ("majorIncident:p", "open", -1),
        ("majorIncident:p", "status:acknowledged", -1),
        ("majorIncident:p", "status:resolved", 1),
        ("majorIncident:p:customers", "c-1", -1),
    ]
    moved = mi.settle({**child, "troubleTicketRelationship": link("q")})
    assert ("majorIncident:p", "total", -1) in mi.counter_changes(child, moved)
    assert ("majorIncident:q", "total", 1) in mi.counter_changes(child, moved)
    related = mi.settle(ticket("t", troubleTicketRelationship=link("p", "isRelatedTo")))
    assert mi.counter_changes(None, related) == []


def test_link_rules() -> None:
    parent = ticket("p", ticketType=mi.MAJOR_INCIDENT)
    child = ticket("c", troubleTicketRelationship=link("p"))
    mi.check_link(child, parent)
    with pytest.raises(Conflict):
        mi.check_link(child, {**parent, "status": "resolved"})
    with pytest.raises(InvalidRequest):
        mi.check_link({**child, "ticketType": mi.MAJOR_INCIDENT}, parent)
    with pytest.raises(InvalidRequest):
        mi.check_link(child, None)
    assert mi.link_changed(child, {**child, "ticketType": mi.MAJOR_INCIDENT})
    assert not mi.link_changed(child, {**child, "description": "x"})


def test_a_walk_is_the_same_change_as_its_patches_one_by_one() -> None:
    managed = ManagedTicket(DEFAULT_POLICY)
    start = managed.create(ticket("t"), resource_id="t", now=NOW, context=NO_CONTEXT)
    later = NOW + timedelta(hours=1)
    steps = [
        {"status": "inProgress", "statusChangeReason": "fixed (major incident p resolved)"},
        {"status": "resolved", "statusChangeReason": "fixed (major incident p resolved)"},
    ]
    one_by_one = start
    for step in steps:
        one_by_one = managed.patch(one_by_one, step, now=later, context=NO_CONTEXT)

    walked = managed.patch_through(start, steps, now=later, context=NO_CONTEXT)

    assert walked == one_by_one
    assert [h["status"] for h in walked["statusChangeHistory"]][-2:] == ["inProgress", "resolved"]
