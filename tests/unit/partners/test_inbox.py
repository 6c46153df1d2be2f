"""PartnerInbox: a partner's event about a ticket we raised there, taken in process.

The event is matched to our report by the partner ticket's id, must carry the Standard Webhooks
signature of the secret the partner was given (when it was given one), and what it says of the
partner ticket is mirrored onto our activity.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.partners.conftest import SECRET, Operator, Report
from troubleticket.domain import partner_report
from troubleticket.domain.errors import Unauthorized
from troubleticket.domain.partner_report import CREATE
from troubleticket.domain.signing import headers as signed
from troubleticket.partners.inbox import PartnerInbox

OTHER_SECRET = "whsec_" + "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC"


def inbox(operator: Operator) -> PartnerInbox:
    assert operator.run.inbox is not None
    return operator.run.inbox


def opened(operator: Operator) -> Report:
    report = operator.report()
    operator.perform(CREATE, report)
    return report


def status_change(ticket_id: str, status: str, reason: str | None = None) -> dict[str, Any]:
    """The partner's TroubleTicketStatusChangeEvent about its ticket."""
    ticket: dict[str, Any] = {"@type": "TroubleTicket", "id": ticket_id, "status": status}
    if reason is not None:
        ticket["statusChangeReason"] = reason
    return {
        "@type": "TroubleTicketStatusChangeEvent",
        "eventId": f"fc-{ticket_id}-{status}",
        "eventType": "TroubleTicketStatusChangeEvent",
        "event": {"troubleTicket": ticket},
    }


def sent(
    operator: Operator, event: dict[str, Any], secret: str | None = SECRET, *, late: int = 0
) -> tuple[dict[str, Any], bytes, dict[str, str]]:
    """The event as the partner sends it: its body, and its signature with ``secret`` (none:
    unsigned) made ``late`` seconds before our clock's now."""
    raw = json.dumps(event).encode()
    if secret is None:
        return event, raw, {"content-type": "application/json"}
    stamp = int(operator.clock().timestamp()) - late
    return event, raw, {"content-type": "application/json", **signed(secret, "m-1", stamp, raw)}


def test_an_event_about_a_report_is_mirrored_onto_its_activity(operator: Operator) -> None:
    report = opened(operator)

    assert inbox(operator).accept(*sent(operator, status_change("FC-1", "inProgress")))

    activity = operator.activity(report)
    assert activity["state"] == "inProgress"
    assert activity["partnerReport"]["partnerTicket"]["status"] == "inProgress"


def test_the_report_is_found_by_the_partner_ticket_among_others(operator: Operator) -> None:
    first, second = opened(operator), opened(operator)
    assert (first.activity_id, second.activity_id) == ("ra-1", "ra-2")

    assert inbox(operator).accept(*sent(operator, status_change("FC-2", "resolved", "Fixed")))

    assert operator.activity(first)["state"] == "planned"
    resolved = operator.activity(second)
    assert (resolved["state"], resolved["partnerReport"]["acceptance"]) == ("completed", "pending")


@pytest.mark.parametrize(
    "event",
    [
        status_change("FC-9", "inProgress"),  # a ticket of the partner's that is not ours
        {"@type": "TroubleTicketStatusChangeEvent", "event": {}},
        {"@type": "TroubleTicketStatusChangeEvent", "event": {"troubleTicket": {"id": 7}}},
        {"@type": "TroubleTicketStatusChangeEvent", "event": "not an object"},
    ],
    ids=["unknown-ticket", "no-ticket", "id-not-a-string", "payload-not-an-object"],
)
def test_an_event_about_no_report_of_ours_changes_nothing(
    operator: Operator, event: dict[str, Any]
) -> None:
    report = opened(operator)
    before = operator.ticket(report)

    assert not inbox(operator).accept(*sent(operator, event))

    assert operator.ticket(report) == before


def test_an_event_seen_before_changes_nothing_more(operator: Operator) -> None:
    report = opened(operator)
    event = status_change("FC-1", "pending", "Which ONT serial?")
    assert inbox(operator).accept(*sent(operator, event))
    after_first = operator.ticket(report)

    assert inbox(operator).accept(*sent(operator, event))

    assert operator.ticket(report) == after_first
    (alert,) = after_first["troubleTicketJeopardyAlert"]
    assert alert["message"] == "FibreCo asks: Which ONT serial?"


@pytest.mark.parametrize(
    ("secret", "late"),
    [(None, 0), (OTHER_SECRET, 0), (SECRET, 301)],
    ids=["unsigned", "another-secret", "stale-timestamp"],
)
def test_an_event_not_signed_with_the_partners_secret_is_refused(
    operator: Operator, secret: str | None, late: int
) -> None:
    report = opened(operator)
    before = operator.ticket(report)

    with pytest.raises(Unauthorized, match="not signed with the secret partner fibreco"):
        inbox(operator).accept(
            *sent(operator, status_change("FC-1", "cancelled"), secret, late=late)
        )

    assert operator.ticket(report) == before


def test_a_signature_of_another_body_is_refused(operator: Operator) -> None:
    opened(operator)
    event, _, headers = sent(operator, status_change("FC-1", "inProgress"))
    forged = json.dumps(status_change("FC-1", "cancelled")).encode()

    with pytest.raises(Unauthorized):
        inbox(operator).accept(json.loads(forged), forged, headers)


def test_a_partner_given_no_secret_is_taken_at_its_word(
    operator_with: Callable[..., Operator],
) -> None:
    operator = operator_with(events={"subscribe": True})
    report = opened(operator)

    assert inbox(operator).accept(*sent(operator, status_change("FC-1", "cancelled"), None))

    activity = operator.activity(report)
    assert activity["state"] == "failed"
    assert activity["partnerReport"]["state"] == partner_report.FAILED


def test_the_listener_applies_a_partners_event_before_recording_it(operator: Operator) -> None:
    report = opened(operator)
    event, raw, headers = sent(operator, status_change("FC-1", "inProgress"))

    assert operator.run.listeners.receive(
        "TroubleTicketStatusChangeEvent", event, raw=raw, headers=headers
    )

    assert operator.activity(report)["state"] == "inProgress"
