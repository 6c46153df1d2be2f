"""The TMF621 v4 and v5 shapes of one ticket, hub and event (``domain.v4``): what differs between
them, how a v4 update becomes a v5 merge patch that keeps what v4 cannot carry, and the round
trip v5 → v4 → v5 that must lose nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from troubleticket.api.contract import load_spec
from troubleticket.domain import v4
from troubleticket.domain.documents import merge_patch
from troubleticket.types import JSON

BASE = "https://tt.example.com"
V5_HREF = f"{BASE}/tmf-api/troubleTicket/v5/troubleTicket/tt-1"
V4_HREF = f"{BASE}/tmf-api/troubleTicket/v4/troubleTicket/tt-1"
OTHER_V5 = f"{BASE}/tmf-api/troubleTicket/v5/troubleTicket/tt-2"
OTHER_V4 = f"{BASE}/tmf-api/troubleTicket/v4/troubleTicket/tt-2"
T0 = "2026-11-20T08:00:00.000Z"
T1 = "2026-11-20T09:30:00.000Z"

CUSTOMER_V5: JSON = {
    "@type": "RelatedPartyRefOrPartyRoleRef",
    "role": "customer",
    "partyOrPartyRole": {
        "@type": "PartyRef",
        "id": "9",
        "href": "https://party.example.com/individual/9",
        "name": "John Smith",
        "@referredType": "Individual",
    },
}
CUSTOMER_V4: JSON = {
    "id": "9",
    "href": "https://party.example.com/individual/9",
    "name": "John Smith",
    "@referredType": "Individual",
    "role": "customer",
}
# A party role: v4 cannot carry partyId and partyName.
OWNER_V5: JSON = {
    "@type": "RelatedPartyRefOrPartyRoleRef",
    "role": "owner",
    "partyOrPartyRole": {
        "@type": "PartyRoleRef",
        "@referredType": "PartyRole",
        "id": "pr-12",
        "partyId": "42",
        "partyName": "NOC team",
    },
}
OWNER_V4: JSON = {"id": "pr-12", "@referredType": "PartyRole", "role": "owner"}
BILL_V5: JSON = {
    "@type": "RelatedEntity",
    "role": "disputedBill",
    "entity": {"@type": "EntityRef", "id": "3472", "@referredType": "CustomerBill"},
}
BILL_V4: JSON = {"id": "3472", "@referredType": "CustomerBill", "role": "disputedBill"}


def v5_ticket(**overrides: Any) -> JSON:
    """A ticket as the v5 API shows it."""
    ticket: JSON = {
        "id": "tt-1",
        "href": V5_HREF,
        "@type": "TroubleTicket",
        "description": "No dial tone",
        "severity": "Minor",
        "ticketType": "incident",
        "status": "acknowledged",
        "creationDate": T0,
        "lastUpdate": T0,
        "statusChangeDate": T0,
        "statusChangeHistory": [
            {"@type": "StatusChange", "status": "acknowledged", "statusChangeDate": T0}
        ],
    }
    ticket.update(overrides)
    return ticket


# -- a rich v5 ticket: every attribute TMF621 v5 (and the server's extensions) define ----------

RICH: JSON = v5_ticket(
    **{
        "@baseType": "TroubleTicket",
        "@schemaLocation": "https://schemas.example.com/TroubleTicket.json",
        "name": "Broadband down",
        "priority": "High",
        "requestedResolutionDate": "2026-12-01T10:00:00.000Z",
        "expectedResolutionDate": "2026-11-20T16:00:00.000Z",
        "resolutionDate": "2026-11-21T10:00:00.000Z",
        "statusChangeReason": "Taken by the desk",
        "channel": {
            "@type": "ChannelRef",
            "id": "8774",
            "name": "Self Service",
            "@referredType": "Channel",
            "@schemaLocation": "https://schemas.example.com/ChannelRef.json",
        },
        "note": [
            {
                "@type": "Note",
                "id": "77456",
                "author": "Jane Doe",
                "date": T0,
                "text": "Line test shows no sync",
                "forChildren": False,
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
                "validFor": {"startDateTime": T0},
            },
            {
                "@type": "AttachmentRef",
                "id": "4aafacbd",
                "href": "https://files.example.com/4aafacbd",
            },
        ],
        "relatedParty": [
            CUSTOMER_V5,
            # no party reference at all: v4 (which requires id) cannot show it
            {"@type": "RelatedPartyRefOrPartyRoleRef", "role": "watcher"},
            OWNER_V5,
        ],
        "relatedEntity": [BILL_V5],
        "externalIdentifier": [
            {
                "@type": "ExternalIdentifier",
                "id": "INC-889",
                "owner": "PartnerCRM",
                "externalIdentifierType": "incident",
            },
            {"@type": "ExternalIdentifier", "id": "SR-42", "owner": "FieldForce"},
            {"@type": "ExternalIdentifier", "id": "CASE-7", "owner": "Billing"},
        ],
        "troubleTicketCharacteristic": [
            {"@type": "StringCharacteristic", "name": "urgency", "value": "High"},
            {"@type": "IntegerCharacteristic", "name": "affectedUsers", "value": 12},
        ],
        "troubleTicketRelationship": [
            {
                "@type": "TroubleTicketRelationship",
                "id": "tt-2",
                "href": OTHER_V5,
                "name": "Parent outage",
                "relationshipType": "isChild",
            }
        ],
        "troubleTicketSpecification": {
            "@type": "TroubleTicketSpecificationRef",
            "id": "spec-1",
            "version": "1.0",
        },
        "slaClock": [
            {
                "@type": "SlaClock",
                "name": "resolve",
                "state": "running",
                "startedAt": T0,
                "asOf": T0,
                "elapsedSeconds": 0.0,
                "pausedSeconds": 0.0,
                "jeopardy": "none",
                "targetSeconds": 28800,
                "deadline": "2026-11-20T16:00:00.000Z",
            }
        ],
        "troubleTicketJeopardyAlert": [
            {"@type": "JeopardyAlert", "id": "ja-1", "clock": "resolve", "level": "warning"}
        ],
        "priorityOverride": {
            "@type": "PriorityOverride",
            "priority": "High",
            "reason": "VIP",
            "actor": "jane",
        },
        "priorityHistory": [
            {"@type": "PriorityChange", "priority": "High", "date": T0, "source": "matrix"}
        ],
        "escalationLevel": 1,
        "escalation": [{"@type": "Escalation", "level": 1, "trigger": "manual", "date": T0}],
        "requestedPriority": "Medium",
        "clientExpectedResolutionDate": "2026-11-25T10:00:00.000Z",
        "activitySummary": {"@type": "ActivitySummary", "total": 1, "open": 1},
        "childSummary": {"@type": "ChildSummary", "total": 0},
        "cascade": {"@type": "ChildCascade", "status": "resolved", "date": T0},
    }
)


def v5_ticket_attributes() -> set[str]:
    """Every attribute of TroubleTicket in the contract the v5 root serves."""
    schemas = load_spec()["components"]["schemas"]

    def properties(name: str) -> set[str]:
        schema = schemas[name]
        found = set(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            if "$ref" in part:
                found |= properties(part["$ref"].rsplit("/", 1)[1])
            found |= set(part.get("properties", {}))
        return found

    return properties("TroubleTicket")


class TestTheRoundTrip:
    def test_the_rich_ticket_has_every_attribute_of_the_v5_contract(self) -> None:
        assert v5_ticket_attributes() <= set(RICH)

    def test_a_v5_ticket_read_through_v4_and_sent_back_whole_is_unchanged(self) -> None:
        original = copy.deepcopy(RICH)

        read = v4.ticket_v4(original)
        merge = v4.patch_v5(original, read)

        assert merge_patch(original, merge) == RICH
        assert original == RICH  # nothing was changed in place

    def test_sent_back_as_a_v4_client_may_send_it_the_v5_only_data_is_kept(self) -> None:
        read = v4.ticket_v4(RICH)
        # a v4 update carries what TroubleTicket_Update has (no id, href, dates of the server)
        update = {
            name: value for name, value in read.items() if name not in v4.SERVER_SET_ON_CREATE
        }
        update.pop("statusChangeDate")
        update["description"] = "No dial tone since the storm"

        after = merge_patch(RICH, v4.patch_v5(RICH, update))

        assert after == {**RICH, "description": "No dial tone since the storm"}

    def test_what_v4_cannot_carry_is_not_shown(self) -> None:
        read = v4.ticket_v4(RICH)

        assert set(read) <= v4.V4_ATTRIBUTES
        for v5_only in (
            "externalIdentifier",
            "troubleTicketCharacteristic",
            "troubleTicketSpecification",
            "statusChangeHistory",
            "slaClock",
            "escalationLevel",
            "priorityHistory",
        ):
            assert v5_only not in read
        assert read["relatedParty"] == [CUSTOMER_V4, OWNER_V4]
        assert "forChildren" not in read["note"][0]


# -- v5 → v4, attribute by attribute -----------------------------------------------------------


class TestTheV4Form:
    def test_the_ticket_href_names_the_v4_root(self) -> None:
        assert v4.ticket_v4(v5_ticket())["href"] == V4_HREF

    def test_the_hrefs_of_another_servers_tickets_are_left_as_they_are(self) -> None:
        elsewhere = "https://partner.example.com/tmf-api/troubleTicket/v5/troubleTicket/x"
        elsewhere_v4 = "https://partner.example.com/tmf-api/troubleTicket/v4/troubleTicket/x"
        ticket = v5_ticket(
            troubleTicketRelationship=[
                {"@type": "TroubleTicketRelationship", "id": "x", "href": elsewhere},
                {"@type": "TroubleTicketRelationship", "id": "tt-2", "href": OTHER_V5},
            ]
        )

        read = v4.ticket_v4(ticket)
        sent_back = v4.patch_v5(
            ticket,
            {"troubleTicketRelationship": [{"id": "x", "href": elsewhere_v4}]},
        )

        assert v4.base_of(V5_HREF) == v4.base_of(V4_HREF) == BASE
        assert v4.base_of("https://files.example.com/a") is None
        assert [r["href"] for r in read["troubleTicketRelationship"]] == [elsewhere, OTHER_V4]
        assert sent_back["troubleTicketRelationship"][0]["href"] == elsewhere_v4
        assert v4.href_v4(elsewhere, BASE) == elsewhere
        assert v4.href_v5(elsewhere_v4, BASE) == elsewhere_v4
        created = v4.create_v5(
            {"troubleTicketRelationship": [{"id": "x", "href": elsewhere_v4}]}, base=BASE
        )
        assert created["troubleTicketRelationship"][0]["href"] == elsewhere_v4
        ours = v4.create_v5(
            {"troubleTicketRelationship": [{"id": "2", "href": OTHER_V4}]}, base=BASE
        )
        assert ours["troubleTicketRelationship"][0]["href"] == OTHER_V5

    def test_external_id_is_the_first_external_identifier(self) -> None:
        ticket = v5_ticket(
            externalIdentifier=[
                {"@type": "ExternalIdentifier", "id": "INC-1", "owner": "CRM"},
                {"@type": "ExternalIdentifier", "id": "INC-2"},
            ]
        )

        read = v4.ticket_v4(ticket)

        assert read["externalId"] == "INC-1"
        assert "externalIdentifier" not in read

    def test_no_external_identifier_no_external_id(self) -> None:
        assert "externalId" not in v4.ticket_v4(v5_ticket())
        assert "externalId" not in v4.ticket_v4(v5_ticket(externalIdentifier=[]))

    def test_a_related_party_is_flat(self) -> None:
        assert v4.party_v4(CUSTOMER_V5) == CUSTOMER_V4

    def test_a_party_role_shows_what_v4_has(self) -> None:
        assert v4.party_v4(OWNER_V5) == OWNER_V4

    def test_a_party_without_referred_type_gets_the_class_its_reference_names(self) -> None:
        bare = {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "originator",
            "partyOrPartyRole": {"@type": "PartyRef", "id": "org-alpha"},
        }

        assert v4.party_v4(bare) == {
            "id": "org-alpha",
            "@referredType": "Party",
            "role": "originator",
        }

    def test_a_party_subclass_and_its_schema_are_shown(self) -> None:
        subclass = {
            **CUSTOMER_V5,
            "@type": "RelatedPartyWithContact",
            "@baseType": "RelatedPartyRefOrPartyRoleRef",
            "@schemaLocation": "https://schemas.example.com/rp.json",
        }

        assert v4.party_v4(subclass) == {
            **CUSTOMER_V4,
            "@type": "RelatedPartyWithContact",
            "@baseType": "RelatedParty",
            "@schemaLocation": "https://schemas.example.com/rp.json",
        }

    def test_parties_and_entities_v4_cannot_carry_are_not_shown(self) -> None:
        ticket = v5_ticket(
            relatedParty=[{"@type": "RelatedPartyRefOrPartyRoleRef", "role": "x"}, CUSTOMER_V5],
            relatedEntity=[
                {"@type": "RelatedEntity", "entity": {"@type": "EntityRef", "id": "e"}},
                BILL_V5,
            ],
        )

        read = v4.ticket_v4(ticket)

        assert read["relatedParty"] == [CUSTOMER_V4]
        assert read["relatedEntity"] == [BILL_V4]

    def test_a_related_entity_is_flat(self) -> None:
        assert v4.entity_v4(BILL_V5) == BILL_V4
        bare = {"@type": "RelatedEntity", "role": "r", "entity": {"@type": "EntityRef", "id": "e"}}
        assert v4.entity_v4(bare) == {"id": "e", "@referredType": "Entity", "role": "r"}

    def test_the_status_history_is_status_change(self) -> None:
        history = [
            {"@type": "StatusChange", "status": "acknowledged", "statusChangeDate": T0},
            {
                "@type": "StatusChange",
                "status": "pending",
                "statusChangeDate": T1,
                "statusChangeReason": "Waiting for the customer",
            },
        ]

        read = v4.ticket_v4(v5_ticket(status="pending", statusChangeHistory=history))

        assert read["statusChange"] == [
            {"changeDate": T0, "status": "acknowledged"},
            {"changeDate": T1, "changeReason": "Waiting for the customer", "status": "pending"},
        ]
        assert "statusChangeHistory" not in read

    def test_notes_channel_and_attachments_keep_their_v4_attributes_and_type(self) -> None:
        read = v4.ticket_v4(RICH)

        assert read["note"] == [
            {
                "@type": "Note",
                "id": "77456",
                "author": "Jane Doe",
                "date": T0,
                "text": "Line test shows no sync",
            }
        ]
        assert read["channel"] == RICH["channel"]
        assert read["attachment"] == RICH["attachment"]

    def test_a_relationship_names_the_related_ticket_at_the_v4_root(self) -> None:
        (relationship,) = v4.ticket_v4(RICH)["troubleTicketRelationship"]

        assert relationship == {**RICH["troubleTicketRelationship"][0], "href": OTHER_V4}


# -- v4 → v5 -----------------------------------------------------------------------------------


class TestTheV5Form:
    def test_a_v4_create_gets_the_v5_classes_and_leaves_out_what_the_server_sets(self) -> None:
        body = {
            "description": "No dial tone",
            "severity": "Minor",
            "ticketType": "incident",
            "externalId": "INC-1",
            "creationDate": T0,
            "lastUpdate": T0,
            "statusChange": [{"status": "held"}],
            "channel": {"id": "8774"},
            "note": [{"text": "Line test failed"}],
            "attachment": [
                {"id": "4aafacbd", "href": "https://files.example.com/4aafacbd"},
                {"mimeType": "image/png", "url": "https://files.example.com/router.png"},
                {"name": "no id, no value"},
            ],
            "relatedParty": [CUSTOMER_V4],
            "relatedEntity": [BILL_V4],
            "troubleTicketRelationship": [
                {"id": "tt-2", "href": OTHER_V4, "relationshipType": "isChild"}
            ],
        }

        created = v4.create_v5(body, base=BASE)

        assert created == {
            "@type": "TroubleTicket",
            "description": "No dial tone",
            "severity": "Minor",
            "ticketType": "incident",
            "externalIdentifier": [{"@type": "ExternalIdentifier", "id": "INC-1"}],
            "channel": {"@type": "ChannelRef", "id": "8774"},
            "note": [{"@type": "Note", "text": "Line test failed"}],
            "attachment": [
                {
                    "@type": "AttachmentRef",
                    "id": "4aafacbd",
                    "href": "https://files.example.com/4aafacbd",
                },
                {
                    "@type": "Attachment",
                    "mimeType": "image/png",
                    "url": "https://files.example.com/router.png",
                },
                {"@type": "Attachment", "name": "no id, no value"},
            ],
            "relatedParty": [
                {
                    "@type": "RelatedPartyRefOrPartyRoleRef",
                    "role": "customer",
                    "partyOrPartyRole": {
                        "@type": "PartyRef",
                        "id": "9",
                        "href": "https://party.example.com/individual/9",
                        "name": "John Smith",
                        "@referredType": "Individual",
                    },
                }
            ],
            "relatedEntity": [BILL_V5],
            "troubleTicketRelationship": [
                {
                    "@type": "TroubleTicketRelationship",
                    "id": "tt-2",
                    "href": OTHER_V5,
                    "relationshipType": "isChild",
                }
            ],
        }

    def test_an_attachment_with_an_id_and_a_value_is_an_attachment(self) -> None:
        with_value = {"id": "a-1", "content": "aGVsbG8=", "size": {"amount": 5, "units": "B"}}

        assert v4.attachment_v5(with_value)["@type"] == "Attachment"

    def test_types_a_v4_client_gives_are_kept(self) -> None:
        assert v4.note_v5({"@type": "RichNote", "text": "x"})["@type"] == "RichNote"
        assert v4.channel_v5({"@type": "WebChannelRef", "id": "c"})["@type"] == "WebChannelRef"

    def test_the_v4_class_of_a_related_party_is_the_v5_one(self) -> None:
        named = {**CUSTOMER_V4, "@type": "RelatedParty"}
        subclass = {**CUSTOMER_V4, "@type": "Sponsor", "@baseType": "RelatedParty"}

        assert v4.party_v5(named)["@type"] == "RelatedPartyRefOrPartyRoleRef"
        assert v4.party_v5(subclass)["@type"] == "Sponsor"
        assert v4.party_v5(subclass)["@baseType"] == "RelatedPartyRefOrPartyRoleRef"
        # and back: the base class is left implicit, a subclass named
        assert v4.party_v4(v4.party_v5(named)) == CUSTOMER_V4
        assert v4.party_v4(v4.party_v5(subclass)) == subclass

    def test_a_related_entitys_schema_location_goes_to_the_wrapper(self) -> None:
        located = {**BILL_V4, "@schemaLocation": "https://schemas.example.com/re.json"}

        converted = v4.entity_v5(located)

        assert converted["@schemaLocation"] == "https://schemas.example.com/re.json"
        assert "@schemaLocation" not in converted["entity"]
        assert v4.entity_v4(converted) == located

    def test_status_change_maps_its_names(self) -> None:
        assert v4.status_change_v5(
            {"changeDate": T1, "changeReason": "Customer away", "status": "held"}
        ) == {
            "@type": "StatusChange",
            "statusChangeDate": T1,
            "statusChangeReason": "Customer away",
            "status": "held",
        }

    def test_attributes_v4_does_not_define_are_passed_on_for_the_v5_rules(self) -> None:
        assert v4.ticket_v5({"description": "x", "escalationLevel": 2})["escalationLevel"] == 2

    def test_an_explicit_null_external_id_makes_no_identifier(self) -> None:
        assert "externalIdentifier" not in v4.ticket_v5({"externalId": None})


# -- a v4 update as a v5 merge patch -----------------------------------------------------------


class TestAV4Update:
    def test_scalars_are_replaced_and_null_removes(self) -> None:
        merge = v4.patch_v5(RICH, {"name": "Renamed", "resolutionDate": None})

        assert merge == {"name": "Renamed", "resolutionDate": None}
        after = merge_patch(RICH, merge)
        assert after["name"] == "Renamed"
        assert "resolutionDate" not in after

    def test_null_removes_an_array_and_the_channel(self) -> None:
        merge = v4.patch_v5(RICH, {"note": None, "relatedParty": None, "channel": None})

        assert merge == {"note": None, "relatedParty": None, "channel": None}

    def test_a_party_role_read_through_v4_and_sent_back_stays_a_party_role(self) -> None:
        current = v5_ticket(relatedParty=[CUSTOMER_V5, OWNER_V5])
        read = v4.ticket_v4(current)["relatedParty"]
        assert read == [CUSTOMER_V4, OWNER_V4]

        merge = v4.patch_v5(current, {"relatedParty": [*read, {"id": "7", "@referredType": "X"}]})

        assert merge["relatedParty"] == [
            CUSTOMER_V5,
            OWNER_V5,
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "partyOrPartyRole": {"@type": "PartyRef", "id": "7", "@referredType": "X"},
            },
        ]
        assert merge["relatedParty"][1]["partyOrPartyRole"]["partyId"] == "42"

    def test_a_changed_item_is_converted_the_unchanged_ones_kept(self) -> None:
        current = v5_ticket(relatedParty=[CUSTOMER_V5, OWNER_V5])

        merge = v4.patch_v5(
            current, {"relatedParty": [CUSTOMER_V4, {**OWNER_V4, "role": "assignee"}]}
        )

        assert merge["relatedParty"][0] == CUSTOMER_V5
        assert merge["relatedParty"][1] == {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "assignee",
            "partyOrPartyRole": {"@type": "PartyRef", "id": "pr-12", "@referredType": "PartyRole"},
        }

    def test_dropping_an_item_drops_its_original(self) -> None:
        current = v5_ticket(relatedParty=[CUSTOMER_V5, OWNER_V5])

        merge = v4.patch_v5(current, {"relatedParty": [OWNER_V4]})

        assert merge["relatedParty"] == [OWNER_V5]

    def test_an_item_v4_cannot_show_is_kept_where_it_was(self) -> None:
        watcher = {"@type": "RelatedPartyRefOrPartyRoleRef", "role": "watcher"}
        current = v5_ticket(relatedParty=[CUSTOMER_V5, watcher, OWNER_V5])

        unchanged = v4.patch_v5(current, {"relatedParty": [CUSTOMER_V4, OWNER_V4]})
        emptied = v4.patch_v5(current, {"relatedParty": []})

        assert unchanged["relatedParty"] == [CUSTOMER_V5, watcher, OWNER_V5]
        assert emptied["relatedParty"] == [watcher]

    def test_identical_items_are_matched_one_for_one(self) -> None:
        note = {"@type": "Note", "text": "same", "forChildren": True}
        current = v5_ticket(note=[note, note])

        merge = v4.patch_v5(current, {"note": [{"@type": "Note", "text": "same"}] * 3})

        assert merge["note"] == [note, note, {"@type": "Note", "text": "same"}]

    def test_the_status_history_sent_back_is_the_history(self) -> None:
        read = v4.ticket_v4(RICH)

        merge = v4.patch_v5(RICH, {"statusChange": read["statusChange"]})

        assert merge == {"statusChangeHistory": RICH["statusChangeHistory"]}

    def test_external_id_replaces_the_first_identifier_and_keeps_the_others(self) -> None:
        merge = v4.patch_v5(RICH, {"externalId": "INC-900"})

        assert merge == {
            "externalIdentifier": [
                {"@type": "ExternalIdentifier", "id": "INC-900"},
                *RICH["externalIdentifier"][1:],
            ]
        }

    def test_the_same_external_id_keeps_the_first_identifier_whole(self) -> None:
        merge = v4.patch_v5(RICH, {"externalId": "INC-889"})

        assert merge == {"externalIdentifier": RICH["externalIdentifier"]}

    def test_a_null_external_id_removes_the_first_identifier_only(self) -> None:
        merge = v4.patch_v5(RICH, {"externalId": None})
        alone = v5_ticket(externalIdentifier=[{"@type": "ExternalIdentifier", "id": "x"}])

        assert merge == {"externalIdentifier": RICH["externalIdentifier"][1:]}
        assert v4.patch_v5(alone, {"externalId": None}) == {"externalIdentifier": None}
        assert v4.patch_v5(v5_ticket(), {"externalId": "first"}) == {
            "externalIdentifier": [{"@type": "ExternalIdentifier", "id": "first"}]
        }

    def test_the_channel_read_and_sent_back_keeps_its_original(self) -> None:
        current = v5_ticket(channel={"@type": "ChannelRef", "id": "c", "x-extra": "kept"})

        same = v4.patch_v5(current, {"channel": v4.ticket_v4(current)["channel"]})
        changed = v4.patch_v5(current, {"channel": {"id": "d"}})

        assert same == {}
        assert changed == {"channel": {"@type": "ChannelRef", "id": "d"}}

    def test_relationship_hrefs_and_the_ticket_href_go_back_to_the_v5_root(self) -> None:
        merge = v4.patch_v5(
            v5_ticket(),
            {
                "href": V4_HREF,
                "troubleTicketRelationship": [{"id": "tt-2", "href": OTHER_V4}],
            },
        )

        assert merge["href"] == V5_HREF
        assert merge["troubleTicketRelationship"] == [
            {"@type": "TroubleTicketRelationship", "id": "tt-2", "href": OTHER_V5}
        ]

    def test_v5_names_are_not_taken_from_a_v4_update(self) -> None:
        merge = v4.patch_v5(
            RICH,
            {"externalIdentifier": [], "statusChangeHistory": [], "description": "x"},
        )

        assert merge == {"description": "x"}


# -- filters and selections --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("v4_name", "v5_name"),
    [
        ("externalId", "externalIdentifier.id"),
        ("relatedParty.id", "relatedParty.partyOrPartyRole.id"),
        ("relatedParty.@referredType", "relatedParty.partyOrPartyRole.@referredType"),
        ("relatedParty.role", "relatedParty.role"),
        ("relatedParty.@schemaLocation", "relatedParty.@schemaLocation"),
        ("relatedEntity.@baseType", "relatedEntity.@baseType"),
        ("relatedEntity.id", "relatedEntity.entity.id"),
        ("relatedEntity.role", "relatedEntity.role"),
        ("statusChange", "statusChangeHistory"),
        ("statusChange.status", "statusChangeHistory.status"),
        ("statusChange.changeDate", "statusChangeHistory.statusChangeDate"),
        ("statusChange.changeReason", "statusChangeHistory.statusChangeReason"),
        ("status", "status"),
        ("note.text", "note.text"),
        ("creationDate", "creationDate"),
    ],
)
def test_filter_names_read_the_v5_path(v4_name: str, v5_name: str) -> None:
    assert v4.filter_name_v5(v4_name) == v5_name


def test_a_selection_is_the_named_attributes_alone() -> None:
    doc = v4.ticket_v4(RICH)

    assert v4.select_v4(doc, ["status", "externalId"]) == {
        "status": "acknowledged",
        "externalId": "INC-889",
    }
    assert v4.select_v4(doc, ["relatedParty.role"]) == {"relatedParty": doc["relatedParty"]}
    assert v4.select_v4(doc, ["slaClock"]) == {}
    assert v4.select_v4(doc, None) == doc


# -- hubs and events ---------------------------------------------------------------------------


def test_a_hub_shows_id_callback_and_query_alone() -> None:
    hub = {
        "id": "h-1",
        "@type": "Hub",
        "callback": "https://client.example/cb",
        "query": "eventType=TroubleTicketCreateEvent",
        "href": "https://tt.example.com/tmf-api/troubleTicket/v5/hub/h-1",
        "signed": True,
        "createdAt": T0,
    }

    assert v4.hub_v4(hub) == {
        "id": "h-1",
        "callback": "https://client.example/cb",
        "query": "eventType=TroubleTicketCreateEvent",
    }


def v5_event(event_type: str, payload: JSON) -> JSON:
    return {
        "@type": event_type,
        "@baseType": "Event",
        "eventId": "ev-1",
        "eventType": event_type,
        "eventTime": T1,
        "timeOccurred": T1,
        "correlationId": "corr-1",
        "domain": "troubleTicket",
        "title": event_type,
        "priority": "High",
        "event": payload,
    }


class TestEvents:
    def test_a_v5_event_in_the_v4_envelope(self) -> None:
        event = v5_event(
            "TroubleTicketAttributeValueChangeEvent",
            {"troubleTicket": RICH},
        )

        converted = v4.event_v4(event)

        assert converted == {
            "eventId": "ev-1",
            "eventTime": T1,
            "eventType": "TroubleTicketAttributeValueChangeEvent",
            "correlationId": "corr-1",
            "domain": "troubleTicket",
            "title": "TroubleTicketAttributeValueChangeEvent",
            "priority": "High",
            "timeOcurred": T1,
            "event": {"troubleTicket": v4.ticket_v4(RICH)},
        }

    def test_a_delete_event_carries_the_tickets_id_and_v4_href(self) -> None:
        reference = {
            "@type": "TroubleTicketRef",
            "id": "tt-1",
            "href": V5_HREF,
            "name": "Broadband down",
            "@referredType": "TroubleTicket",
        }

        converted = v4.event_v4(v5_event("TroubleTicketDeleteEvent", {"troubleTicket": reference}))

        assert converted["event"] == {
            "troubleTicket": {"id": "tt-1", "href": V4_HREF, "name": "Broadband down"}
        }
        assert converted["timeOcurred"] == T1

    def test_what_a_v4_payload_has_no_place_for_is_left_out(self) -> None:
        event = v5_event(
            "TroubleTicketInformationRequiredEvent",
            {"troubleTicket": v5_ticket(), "informationRequired": {"op": "add"}},
        )

        assert set(v4.event_v4(event)["event"]) == {"troubleTicket"}

    def test_a_v4_event_in_the_v5_envelope(self) -> None:
        event = {
            "eventId": "p-9",
            "eventType": "TroubleTicketStatusChangeEvent",
            "eventTime": T1,
            "timeOcurred": T1,
            "event": {
                "troubleTicket": {
                    "id": "FC-1",
                    "status": "resolved",
                    "externalId": "tt-1/ra-1",
                    "statusChange": [{"status": "resolved", "changeDate": T1}],
                    "relatedParty": [CUSTOMER_V4],
                }
            },
        }

        converted = v4.event_v5(event)

        assert converted == {
            "eventId": "p-9",
            "eventType": "TroubleTicketStatusChangeEvent",
            "@type": "TroubleTicketStatusChangeEvent",
            "eventTime": T1,
            "timeOccurred": T1,
            "event": {
                "troubleTicket": {
                    "@type": "TroubleTicket",
                    "id": "FC-1",
                    "status": "resolved",
                    "externalIdentifier": [{"@type": "ExternalIdentifier", "id": "tt-1/ra-1"}],
                    "relatedParty": [
                        {
                            "@type": "RelatedPartyRefOrPartyRoleRef",
                            "role": "customer",
                            "partyOrPartyRole": {
                                "@type": "PartyRef",
                                "id": "9",
                                "href": "https://party.example.com/individual/9",
                                "name": "John Smith",
                                "@referredType": "Individual",
                            },
                        }
                    ],
                    "statusChangeHistory": [
                        {"@type": "StatusChange", "status": "resolved", "statusChangeDate": T1}
                    ],
                }
            },
        }

    def test_a_v4_event_and_back_keeps_its_envelope(self) -> None:
        event = v5_event("TroubleTicketCreateEvent", {"troubleTicket": v5_ticket()})

        sent = v4.event_v4(event)
        back = v4.event_v5(sent)

        assert back["timeOccurred"] == T1
        assert back["@type"] == "TroubleTicketCreateEvent"
        # an event comes back from another server: its ticket's href is that server's own
        assert back["event"]["troubleTicket"]["href"] == sent["event"]["troubleTicket"]["href"]

    def test_only_the_six_ticket_event_types_exist_at_v4(self) -> None:
        assert v4.EVENT_TYPES == {
            "TroubleTicketCreateEvent",
            "TroubleTicketAttributeValueChangeEvent",
            "TroubleTicketStatusChangeEvent",
            "TroubleTicketDeleteEvent",
            "TroubleTicketResolvedEvent",
            "TroubleTicketInformationRequiredEvent",
        }
