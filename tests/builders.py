"""Test data builders: valid by default, overridden per test."""

from __future__ import annotations

import copy
from typing import Any

from troubleticket.config import Settings
from troubleticket.services.limits import Limits

API = "/tmf-api/troubleTicket/v5"
TICKETS = f"{API}/troubleTicket"
SPECIFICATIONS = f"{API}/troubleTicketSpecification"

# The limits of a server with default settings.
_DEFAULTS = Settings()
LIMITS = Limits(
    document_bytes=_DEFAULTS.max_document_bytes,
    array_items=_DEFAULTS.max_array_items,
    patch_operations=_DEFAULTS.max_patch_operations,
)

# A create request using every kind of sub-object TMF621 v5 defines, each with its @type. Its
# priority is the one the default policy's matrix gives (severity Major, urgency High), so the
# server accepts it as the value the ticket has anyway.
FULL_TICKET: dict[str, Any] = {
    "@type": "TroubleTicket",
    "name": "Broadband down",
    "description": "Customer reports no sync on the DSL line since 08:00",
    "severity": "Major",
    "ticketType": "incident",
    "priority": "High",
    "requestedResolutionDate": "2026-12-01T10:00:00.000Z",
    "channel": {"@type": "ChannelRef", "id": "8774", "name": "Self Service"},
    "note": [
        {
            "@type": "Note",
            "id": "77456",
            "author": "Jane Doe",
            "date": "2026-11-20T08:05:00.000Z",
            "text": "Line test shows no sync",
        }
    ],
    "attachment": [
        {
            "@type": "Attachment",
            "attachmentType": "screenshot",
            "mimeType": "image/png",
            "name": "router.png",
            "url": "https://files.example.com/router.png",
            "size": {"amount": 300, "units": "KB"},
        },
        {"@type": "AttachmentRef", "id": "4aafacbd", "href": "https://files.example.com/4aafacbd"},
    ],
    "relatedParty": [
        {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "customer",
            "partyOrPartyRole": {
                "@type": "PartyRef",
                "@referredType": "Individual",
                "id": "9",
                "name": "John Smith",
            },
        },
        {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "owner",
            "partyOrPartyRole": {
                "@type": "PartyRoleRef",
                "@referredType": "PartyRole",
                "id": "pr-12",
                "partyId": "42",
                "partyName": "NOC team",
            },
        },
    ],
    "relatedEntity": [
        {
            "@type": "RelatedEntity",
            "role": "disputedBill",
            "entity": {"@type": "EntityRef", "@referredType": "CustomerBill", "id": "3472"},
        }
    ],
    "externalIdentifier": [
        {
            "@type": "ExternalIdentifier",
            "id": "INC-889",
            "owner": "PartnerCRM",
            "externalIdentifierType": "incident",
        }
    ],
    "troubleTicketCharacteristic": [
        {"@type": "StringCharacteristic", "name": "urgency", "value": "High"},
        {"@type": "IntegerCharacteristic", "name": "affectedUsers", "value": 12},
    ],
    "troubleTicketRelationship": [
        {"@type": "TroubleTicketRelationship", "id": "1001", "relationshipType": "isChild"}
    ],
    "troubleTicketSpecification": {
        "@type": "TroubleTicketSpecificationRef",
        "id": "spec-1",
        "version": "1.0",
    },
}

# What the service policy sets on every ticket (domain.sla), whatever the client sent.
POLICY_ATTRIBUTES = (
    "priority",
    "priorityHistory",
    "priorityOverride",
    "slaClock",
    "expectedResolutionDate",
    "escalationLevel",
    "escalation",
    "troubleTicketJeopardyAlert",
)


def without_policy(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without the attributes the service policy sets."""
    return {key: value for key, value in doc.items() if key not in POLICY_ATTRIBUTES}


def a_ticket(**overrides: Any) -> dict[str, Any]:
    """The smallest valid create request, with attributes overridden or added."""
    body: dict[str, Any] = {
        "@type": "TroubleTicket",
        "description": "No dial tone",
        "severity": "Minor",
        "ticketType": "incident",
    }
    body.update(overrides)
    return body


def a_full_ticket() -> dict[str, Any]:
    return copy.deepcopy(FULL_TICKET)


def a_specification(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@type": "TroubleTicketSpecification",
        "name": "Broadband incident",
        "lifecycleStatus": "active",
        "version": "1.0",
    }
    body.update(overrides)
    return body
