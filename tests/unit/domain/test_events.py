"""Which events a change raises, and the event documents subscribers receive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from troubleticket.domain.events import (
    DOMAIN,
    TROUBLE_TICKET,
    TROUBLE_TICKET_SPECIFICATION,
    Raised,
    envelope,
    information_required,
    listener_name,
    raised_by,
    reference,
)
from troubleticket.domain.specification import create_specification, patch_specification
from troubleticket.domain.ticket import create_ticket, patch_ticket
from troubleticket.types import JSON

T0 = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
HREF = "https://tt.example.com/tmf-api/troubleTicket/v5/troubleTicket/tt-1"
SPEC_HREF = "https://tt.example.com/tmf-api/troubleTicket/v5/troubleTicketSpecification/sp-1"

CREATE = "TroubleTicketCreateEvent"
ATTRIBUTE_CHANGE = "TroubleTicketAttributeValueChangeEvent"
STATUS_CHANGE = "TroubleTicketStatusChangeEvent"
RESOLVED = "TroubleTicketResolvedEvent"
INFORMATION_REQUIRED = "TroubleTicketInformationRequiredEvent"
DELETE = "TroubleTicketDeleteEvent"


def new_ticket(**overrides: Any) -> JSON:
    """A ticket as the service presents it right after create (with its href)."""
    body: JSON = {
        "@type": "TroubleTicket",
        "description": "No dial tone",
        "severity": "Minor",
        "ticketType": "incident",
        **overrides,
    }
    return {"href": HREF, **create_ticket(body, resource_id="tt-1", now=T0)}


def patched(ticket: JSON, patch: JSON) -> JSON:
    after = patch_ticket(ticket, patch, now=T1)
    assert after is not ticket, "the patch was meant to change the ticket"
    return after


def in_progress() -> JSON:
    return patched(new_ticket(), {"status": "inProgress"})


def types(raised: list[Raised]) -> list[str]:
    return [event.event_type for event in raised]


# -- create ----------------------------------------------------------------------------------------


def test_create_raises_a_create_event_carrying_the_new_ticket() -> None:
    ticket = new_ticket()

    assert raised_by(TROUBLE_TICKET, None, ticket) == [Raised(CREATE, {"troubleTicket": ticket})]


def test_create_in_status_pending_also_asks_for_the_information_named_by_the_reason() -> None:
    ticket = new_ticket(status="pending", statusChangeReason="Which line is affected?")

    raised = raised_by(TROUBLE_TICKET, None, ticket)

    assert raised == [
        Raised(CREATE, {"troubleTicket": ticket}),
        Raised(
            INFORMATION_REQUIRED,
            {
                "troubleTicket": ticket,
                "informationRequired": {
                    "op": "add",
                    "path": "/note/-",
                    "value": {
                        "@type": "Note",
                        "text": "Information required: Which line is affected?",
                    },
                },
            },
        ),
    ]


def test_create_in_status_pending_without_a_reason_asks_in_general_terms() -> None:
    ticket = new_ticket(status="pending")

    raised = raised_by(TROUBLE_TICKET, None, ticket)

    assert types(raised) == [CREATE, INFORMATION_REQUIRED]
    assert raised[1].payload["informationRequired"] == {
        "op": "add",
        "path": "/note/-",
        "value": {"@type": "Note", "text": "Information required: More information is needed"},
    }


@pytest.mark.parametrize("status", ["acknowledged", "inProgress", "held"])
def test_create_in_another_status_raises_the_create_event_only(status: str) -> None:
    ticket = new_ticket(status=status)

    assert types(raised_by(TROUBLE_TICKET, None, ticket)) == [CREATE]


# -- status changes --------------------------------------------------------------------------------


def test_entering_resolved_raises_status_change_then_resolved() -> None:
    before = in_progress()
    after = patched(before, {"status": "resolved"})

    raised = raised_by(TROUBLE_TICKET, before, after)

    # resolutionDate, statusChangeDate, statusChangeHistory and lastUpdate changed too: all
    # bookkeeping of the status change, so no attribute value change.
    assert raised == [
        Raised(STATUS_CHANGE, {"troubleTicket": after}),
        Raised(RESOLVED, {"troubleTicket": after}),
    ]


def test_entering_pending_raises_status_change_then_information_required() -> None:
    before = in_progress()
    after = patched(
        before, {"status": "pending", "statusChangeReason": "Customer to confirm the address"}
    )

    raised = raised_by(TROUBLE_TICKET, before, after)

    assert raised == [
        Raised(STATUS_CHANGE, {"troubleTicket": after}),
        Raised(
            INFORMATION_REQUIRED,
            {
                "troubleTicket": after,
                "informationRequired": {
                    "op": "add",
                    "path": "/note/-",
                    "value": {
                        "@type": "Note",
                        "text": "Information required: Customer to confirm the address",
                    },
                },
            },
        ),
    ]


@pytest.mark.parametrize(
    ("start", "patch"),
    [
        ({}, {"status": "inProgress"}),
        ({"status": "inProgress"}, {"status": "held", "statusChangeReason": "Waiting for parts"}),
        ({}, {"status": "cancelled", "statusChangeReason": "Raised twice"}),
    ],
)
def test_other_status_changes_raise_the_status_change_only(start: JSON, patch: JSON) -> None:
    before = patched(new_ticket(), start) if start else new_ticket()
    after = patched(before, patch)

    assert raised_by(TROUBLE_TICKET, before, after) == [
        Raised(STATUS_CHANGE, {"troubleTicket": after})
    ]


def test_re_entering_in_progress_from_resolved_is_a_status_change_only() -> None:
    resolved = patched(in_progress(), {"status": "resolved"})
    reopened = patch_ticket(resolved, {"status": "inProgress"}, now=T1 + timedelta(hours=1))

    # resolutionDate is dropped on re-opening: bookkeeping, not an attribute value change.
    assert "resolutionDate" not in reopened
    assert types(raised_by(TROUBLE_TICKET, resolved, reopened)) == [STATUS_CHANGE]


# -- attribute changes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "patch",
    [
        {"description": "Dial tone comes and goes"},
        {"severity": "Critical"},
        {"name": "Line 2"},
        {"note": [{"@type": "Note", "text": "Called the customer"}]},
    ],
)
def test_an_attribute_change_raises_the_attribute_value_change_only(patch: JSON) -> None:
    before = new_ticket(name="Line 1")
    after = patched(before, patch)

    assert raised_by(TROUBLE_TICKET, before, after) == [
        Raised(ATTRIBUTE_CHANGE, {"troubleTicket": after})
    ]


def test_removing_an_attribute_is_an_attribute_value_change() -> None:
    before = new_ticket(name="Line 1")
    after = patched(before, {"name": None})

    assert types(raised_by(TROUBLE_TICKET, before, after)) == [ATTRIBUTE_CHANGE]


def test_a_status_and_attribute_change_together_raise_attribute_change_then_status_change() -> None:
    before = new_ticket()
    after = patched(before, {"status": "inProgress", "description": "Line checked"})

    assert raised_by(TROUBLE_TICKET, before, after) == [
        Raised(ATTRIBUTE_CHANGE, {"troubleTicket": after}),
        Raised(STATUS_CHANGE, {"troubleTicket": after}),
    ]


def test_an_attribute_change_entering_resolved_raises_all_three_in_order() -> None:
    before = in_progress()
    after = patched(before, {"status": "resolved", "description": "Card replaced"})

    assert types(raised_by(TROUBLE_TICKET, before, after)) == [
        ATTRIBUTE_CHANGE,
        STATUS_CHANGE,
        RESOLVED,
    ]


def test_the_reason_given_with_a_status_change_is_not_an_attribute_value_change() -> None:
    before = new_ticket()
    after = patched(before, {"status": "held", "statusChangeReason": "Waiting for parts"})

    assert types(raised_by(TROUBLE_TICKET, before, after)) == [STATUS_CHANGE]


def test_bookkeeping_only_differences_raise_nothing() -> None:
    before = new_ticket()
    after = {
        **before,
        "lastUpdate": "2026-11-20T09:00:00.000Z",
        "statusChangeDate": "2026-11-20T09:00:00.000Z",
        "statusChangeHistory": [
            *before["statusChangeHistory"],
            {
                "@type": "StatusChange",
                "status": "acknowledged",
                "statusChangeDate": "2026-11-20T09:00:00.000Z",
            },
        ],
    }
    without_href = {key: value for key, value in before.items() if key != "href"}

    assert raised_by(TROUBLE_TICKET, before, after) == []
    assert raised_by(TROUBLE_TICKET, before, without_href) == []
    assert raised_by(TROUBLE_TICKET, before, before) == []


@pytest.mark.parametrize(
    "patch",
    [
        {"statusChangeReason": "Customer called back"},
        {"resolutionDate": "2026-11-21T10:00:00.000Z"},
    ],
    ids=["statusChangeReason", "resolutionDate"],
)
def test_a_client_change_of_reason_or_resolution_date_alone_is_an_attribute_change(
    patch: JSON,
) -> None:
    before = in_progress()
    after = patched(before, patch)

    assert raised_by(TROUBLE_TICKET, before, after) == [
        Raised(ATTRIBUTE_CHANGE, {"troubleTicket": after})
    ]


# -- delete ---------------------------------------------------------------------------------------


def test_delete_raises_a_delete_event_carrying_a_reference() -> None:
    ticket = in_progress()

    assert raised_by(TROUBLE_TICKET, ticket, None) == [
        Raised(
            DELETE,
            {
                "troubleTicket": {
                    "@type": "TroubleTicketRef",
                    "id": "tt-1",
                    "href": HREF,
                    "@referredType": "TroubleTicket",
                }
            },
        )
    ]


def test_the_reference_names_the_ticket_when_it_has_a_name_and_omits_a_missing_href() -> None:
    named = new_ticket(name="Line 1")
    stored = {key: value for key, value in named.items() if key != "href"}

    assert reference(TROUBLE_TICKET, named) == {
        "@type": "TroubleTicketRef",
        "id": "tt-1",
        "href": HREF,
        "name": "Line 1",
        "@referredType": "TroubleTicket",
    }
    assert reference(TROUBLE_TICKET, stored) == {
        "@type": "TroubleTicketRef",
        "id": "tt-1",
        "name": "Line 1",
        "@referredType": "TroubleTicket",
    }


def test_nothing_before_and_nothing_after_raises_nothing() -> None:
    assert raised_by(TROUBLE_TICKET, None, None) == []


# -- specifications --------------------------------------------------------------------------------


def new_specification(**overrides: Any) -> JSON:
    body: JSON = {
        "@type": "TroubleTicketSpecification",
        "name": "Broadband fault",
        "lifecycleStatus": "inDesign",
        **overrides,
    }
    return {"href": SPEC_HREF, **create_specification(body, resource_id="sp-1", now=T0)}


def test_specification_events_are_named_after_the_specification() -> None:
    spec = new_specification()

    assert raised_by(TROUBLE_TICKET_SPECIFICATION, None, spec) == [
        Raised("TroubleTicketSpecificationCreateEvent", {"troubleTicketSpecification": spec})
    ]
    assert raised_by(TROUBLE_TICKET_SPECIFICATION, spec, None) == [
        Raised(
            "TroubleTicketSpecificationDeleteEvent",
            {
                "troubleTicketSpecification": {
                    "@type": "TroubleTicketSpecificationRef",
                    "id": "sp-1",
                    "href": SPEC_HREF,
                    "name": "Broadband fault",
                    "@referredType": "TroubleTicketSpecification",
                }
            },
        )
    ]


def test_a_specification_status_change_is_a_change_of_its_lifecycle_status() -> None:
    before = new_specification()
    after = patch_specification(before, {"lifecycleStatus": "active"}, now=T1)

    assert raised_by(TROUBLE_TICKET_SPECIFICATION, before, after) == [
        Raised("TroubleTicketSpecificationStatusChangeEvent", {"troubleTicketSpecification": after})
    ]


@pytest.mark.parametrize("status", ["resolved", "pending"])
def test_specifications_raise_no_ticket_only_events(status: str) -> None:
    before = new_specification()
    after = patch_specification(before, {"lifecycleStatus": status}, now=T1)

    assert types(raised_by(TROUBLE_TICKET_SPECIFICATION, None, before)) == [
        "TroubleTicketSpecificationCreateEvent"
    ]
    assert types(raised_by(TROUBLE_TICKET_SPECIFICATION, before, after)) == [
        "TroubleTicketSpecificationStatusChangeEvent"
    ]


def test_a_specification_attribute_named_status_is_an_attribute_change() -> None:
    before = new_specification()
    after = patch_specification(before, {"description": "v2", "status": "draft"}, now=T1)

    assert types(raised_by(TROUBLE_TICKET_SPECIFICATION, before, after)) == [
        "TroubleTicketSpecificationAttributeValueChangeEvent"
    ]


def test_a_specification_lifecycle_and_attribute_change_raise_both_in_order() -> None:
    before = new_specification()
    after = patch_specification(
        before, {"lifecycleStatus": "active", "description": "Ready"}, now=T1
    )

    assert types(raised_by(TROUBLE_TICKET_SPECIFICATION, before, after)) == [
        "TroubleTicketSpecificationAttributeValueChangeEvent",
        "TroubleTicketSpecificationStatusChangeEvent",
    ]


def test_a_specification_last_update_alone_raises_nothing() -> None:
    before = new_specification()

    assert (
        raised_by(TROUBLE_TICKET_SPECIFICATION, before, {**before, "lastUpdate": "2027-01-01"})
        == []
    )


# -- the envelope ---------------------------------------------------------------------------------


def test_the_envelope_carries_the_v5_event_fields() -> None:
    ticket = new_ticket()
    raised = Raised(CREATE, {"troubleTicket": ticket})
    # A non-UTC instant with microseconds: rendered as UTC, milliseconds, Z.
    now = datetime(2026, 11, 20, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1)))

    doc = envelope(raised, event_id="ev-1", now=now)

    assert doc == {
        "@type": CREATE,
        "@baseType": "Event",
        "eventId": "ev-1",
        "eventType": CREATE,
        "eventTime": "2026-11-20T08:30:00.123Z",
        "timeOccurred": "2026-11-20T08:30:00.123Z",
        "correlationId": "ev-1",
        "domain": DOMAIN,
        "title": CREATE,
        "event": {"troubleTicket": ticket},
    }
    assert DOMAIN == "troubleTicket"
    assert "priority" not in doc


def test_the_envelope_keeps_a_given_correlation_id_and_priority() -> None:
    raised = Raised(DELETE, {"troubleTicket": reference(TROUBLE_TICKET, new_ticket())})

    doc = envelope(raised, event_id="ev-9", now=T0, correlation_id="corr-1", priority="High")

    assert doc["correlationId"] == "corr-1"
    assert doc["eventId"] == "ev-9"
    assert doc["priority"] == "High"
    assert doc["@type"] == doc["eventType"] == doc["title"] == DELETE
    assert doc["eventTime"] == doc["timeOccurred"] == "2026-11-20T08:00:00.000Z"


def test_the_envelope_leaves_the_payload_it_was_given_unchanged() -> None:
    payload: JSON = {"troubleTicket": new_ticket()}
    copy = {"troubleTicket": dict(payload["troubleTicket"])}

    envelope(Raised(CREATE, payload), event_id="ev-1", now=T0, priority="Low")

    assert payload == copy


def test_information_required_defaults_when_the_reason_is_blank() -> None:
    assert information_required({"statusChangeReason": ""})["value"]["text"] == (
        "Information required: More information is needed"
    )


@pytest.mark.parametrize(
    ("event_type", "name"),
    [
        (CREATE, "troubleTicketCreateEvent"),
        (INFORMATION_REQUIRED, "troubleTicketInformationRequiredEvent"),
        (
            "TroubleTicketSpecificationAttributeValueChangeEvent",
            "troubleTicketSpecificationAttributeValueChangeEvent",
        ),
        ("", ""),
    ],
)
def test_listener_name_lowercases_the_first_letter_only(event_type: str, name: str) -> None:
    assert listener_name(event_type) == name
