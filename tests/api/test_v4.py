"""The TMF621 v4 root (``/tmf-api/troubleTicket/v4``) over HTTP, on every store: the same tickets
as at v5, in the v4 shape, under the same rules.

The request bodies are built from the served v4 contract itself (the official v4 file has
no examples): every property of each request schema is filled, so a property the contract gains
is sent, and must come back, without this file changing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from jsonschema import Draft4Validator

from tests.api.assertions import BASE_URL, MERGE_PATCH, assert_tmf_error, created, patch
from tests.api.test_hubs import POLICY, FakeSender, drain
from tests.builders import API, TICKETS, a_full_ticket, a_specification, a_ticket
from tests.conftest import LOCAL_NETWORKS, FrozenClock
from troubleticket.api.contract import V4_API_ROOT, V4_SPEC_NAME, load_spec
from troubleticket.app import create_app, served_contract
from troubleticket.config import Settings
from troubleticket.notify.dispatcher import Dispatcher
from troubleticket.store.port import Collection, Store

if TYPE_CHECKING:
    import httpx
    from starlette.testclient import TestClient

V4 = V4_API_ROOT
V4_TICKETS = f"{V4}/troubleTicket"
V4_HREF = f"{BASE_URL}{V4_TICKETS}"
V5_HREF = f"{BASE_URL}{TICKETS}"
NOW = "2026-11-20T08:00:00.000Z"  # the frozen clock's starting instant, as the server writes it
JSON_TYPE = {"content-type": "application/json"}
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC = load_spec(V4_SPEC_NAME)
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
METHODS = ("get", "post", "patch", "put", "delete")

# What the server sets, whatever a v4 create request says: identity and its dates, the status
# history; the service policy sets the priority (from severity and urgency) and the expected
# resolution date (the deadline of the resolve clock). Everything else comes back as sent.
SERVER_SET = {
    "id",
    "href",
    "creationDate",
    "lastUpdate",
    "statusChange",
    "statusChangeDate",
    "priority",
    "expectedResolutionDate",
}
# The v4 class names of a related party and entity: the v5 classes (RelatedPartyRefOrPartyRoleRef,
# RelatedEntity) stand for them, and the v4 form leaves the base class implicit.
IMPLICIT_CLASSES = {"relatedParty": "RelatedParty", "relatedEntity": "RelatedEntity"}


# -- requests built from the served v4 contract ------------------------------------------------


def assert_conforms(doc: Any, schema_name: str) -> None:
    """``doc`` is valid against the v4 contract's schema ``schema_name``."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    validator = Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert not problems, problems


def schema_of(reference: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = str(reference["$ref"]).rsplit("/", 1)[-1]
    return name, SCHEMAS[name]


# The class each schema's @type names (the schema's own name where it is the class).
CLASS_OF = {
    "TroubleTicket_Create": "TroubleTicket",
    "TroubleTicket_Update": "TroubleTicket",
    "AttachmentRefOrValue": "Attachment",  # filled with a value, so an Attachment
}
# Values with a meaning the server checks; every other string is named after where it is.
MEANINGFUL: dict[str, Any] = {
    "severity": "Major",
    "ticketType": "incident",
    "status": "acknowledged",
    "callback": "https://client.example/listener",
    "query": "eventType=TroubleTicketCreateEvent",
    "secret": SECRET,
    "mimeType": "image/png",
    "content": "aGVsbG8gd29ybGQ=",
    "url": "https://files.example.com/router.png",
    "units": "KB",
}
REFERRED = {"RelatedParty": "Individual", "RelatedEntity": "CustomerBill", "ChannelRef": "Channel"}


def filled(schema_name: str, schema: dict[str, Any], tag: str) -> dict[str, Any]:
    """An instance of the schema with every property filled, strings naming where they are
    (``tag`` sets requests apart)."""
    doc: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        doc[name] = value_of(schema_name, name, prop, tag)
    return doc


def value_of(schema_name: str, name: str, prop: dict[str, Any], tag: str) -> Any:
    if "$ref" in prop:
        inner_name, inner = schema_of(prop)
        if inner.get("type") == "object":
            return filled(inner_name, inner, tag)
        prop = inner
    cls = CLASS_OF.get(schema_name, schema_name)
    if name == "@type":
        return cls
    if name == "@baseType":
        return cls
    if name == "@schemaLocation":
        return f"https://schemas.example.com/{cls}.json"
    if name == "@referredType":
        return REFERRED.get(schema_name, "Entity")
    if name == "href" and schema_name == "TroubleTicketRelationship":
        return f"{V4_HREF}/tt-related"  # a ticket of this server, read at the v4 root
    if name == "href":
        return f"https://{cls.lower()}.example.com/{tag}"
    if name in MEANINGFUL:
        return MEANINGFUL[name]
    kind = prop.get("type")
    if kind == "array":
        return [value_of(schema_name, name, prop["items"], tag)]
    if kind == "integer":
        return 7
    if kind == "number":
        return 300.5
    if kind == "boolean":
        return True
    if prop.get("format") == "date-time":
        return "2026-12-01T10:00:00.000Z" if tag == "create" else "2026-12-02T11:00:00.000Z"
    if prop.get("format") == "uri":
        return f"https://{name.lower()}.example.com/{tag}"
    return f"{tag} {cls}.{name}"


def request_schema(path: str, method: str) -> tuple[str, dict[str, Any]]:
    body = SPEC["paths"][path][method]["requestBody"]["content"]["application/json"]
    return schema_of(body["schema"])


def answered_with(path: str, method: str) -> int:
    """The 2xx status the contract gives the operation."""
    (status,) = [int(code) for code in SPEC["paths"][path][method]["responses"] if code[0] == "2"]
    return status


def full_create() -> dict[str, Any]:
    name, schema = request_schema("/troubleTicket", "post")
    return filled(name, schema, "create")


def full_update() -> dict[str, Any]:
    name, schema = request_schema("/troubleTicket/{id}", "patch")
    update = filled(name, schema, "update")
    update["status"] = "inProgress"  # the step the lifecycle allows from acknowledged
    return update


def listener_paths() -> list[str]:
    return [path for path in SPEC["paths"] if path.startswith("/listener/")]


def v4_url(ticket: dict[str, Any]) -> str:
    return f"{V4_TICKETS}/{ticket['id']}"


def v5_url(ticket: dict[str, Any]) -> str:
    return f"{TICKETS}/{ticket['id']}"


def read(client: TestClient, url: str, **headers: str) -> dict[str, Any]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def v4_patch(client: TestClient, url: str, body: Any, **headers: str) -> httpx.Response:
    return patch(client, url, body, media_type="application/json", headers=headers)


def without_implicit_classes(doc: dict[str, Any]) -> dict[str, Any]:
    shown = dict(doc)
    for name, cls in IMPLICIT_CLASSES.items():
        if name in shown:
            shown[name] = [
                {k: v for k, v in item.items() if not (k == "@type" and v == cls)}
                for item in shown[name]
            ]
    return shown


def v5_party(flat: dict[str, Any]) -> dict[str, Any]:
    """A v4 related party as v5 holds it (written out: the test's own reading of the mapping)."""
    return {
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "@baseType": "RelatedPartyRefOrPartyRoleRef",
        "@schemaLocation": flat["@schemaLocation"],
        "role": flat["role"],
        "partyOrPartyRole": {
            "@type": "PartyRef",
            "id": flat["id"],
            "href": flat["href"],
            "name": flat["name"],
            "@referredType": flat["@referredType"],
        },
    }


def v5_entity(flat: dict[str, Any]) -> dict[str, Any]:
    return {
        "@type": "RelatedEntity",
        "@baseType": "RelatedEntity",
        "@schemaLocation": flat["@schemaLocation"],
        "role": flat["role"],
        "entity": {
            "@type": "EntityRef",
            "id": flat["id"],
            "href": flat["href"],
            "name": flat["name"],
            "@referredType": flat["@referredType"],
        },
    }


# -- every request body of the contract --------------------------------------------------------


class TestEveryRequestBodyOfTheContract:
    def test_the_bodies_fill_every_property_of_their_schemas(self) -> None:
        bodies = {
            "TroubleTicket_Create": full_create(),
            "TroubleTicket_Update": full_update(),
        }
        for name, body in bodies.items():
            assert set(body) == set(SCHEMAS[name]["properties"]), name
        assert set(full_create()["note"][0]) == set(SCHEMAS["Note"]["properties"])
        assert set(full_create()["attachment"][0]) == set(
            SCHEMAS["AttachmentRefOrValue"]["properties"]
        )

    def test_every_request_body_operation_is_exercised_here(self) -> None:
        with_bodies = {
            (path, method)
            for path, item in SPEC["paths"].items()
            for method, operation in item.items()
            if method in METHODS and "requestBody" in operation
        }
        exercised = {
            ("/troubleTicket", "post"),
            ("/troubleTicket/{id}", "patch"),
            ("/hub", "post"),
            *((path, "post") for path in listener_paths()),
        }

        assert with_bodies == exercised

    def test_a_full_create_reads_back_as_sent_through_v4_and_mapped_through_v5(
        self, client: TestClient
    ) -> None:
        sent = full_create()

        response = client.post(V4_TICKETS, json=sent)

        assert response.status_code == answered_with("/troubleTicket", "post"), response.text
        answered = response.json()
        url = v4_url(answered)
        assert response.headers["Location"] == answered["href"] == f"{BASE_URL}{url}"
        got = read(client, url)
        assert got == answered
        assert_conforms(got, "TroubleTicket")
        expected = {name: value for name, value in sent.items() if name not in SERVER_SET}
        assert {name: got[name] for name in expected} == without_implicit_classes(expected)
        # what the server set
        assert got["creationDate"] == got["lastUpdate"] == got["statusChangeDate"] == NOW
        assert got["statusChange"] == [
            {
                "changeDate": NOW,
                "changeReason": sent["statusChangeReason"],
                "status": "acknowledged",
            }
        ]
        as_v5 = read(client, v5_url(answered))
        assert got["priority"] == as_v5["priority"] == "Medium"  # Major, default urgency
        assert got["expectedResolutionDate"] == as_v5["slaClock"][1]["deadline"]
        assert set(got) == set(sent) | {"id", "href"}
        # through v5, in the v5 shape
        relationship = sent["troubleTicketRelationship"][0]
        assert as_v5["href"] == f"{V5_HREF}/{answered['id']}"
        assert as_v5["externalIdentifier"] == [
            {"@type": "ExternalIdentifier", "id": sent["externalId"]}
        ]
        assert as_v5["relatedParty"] == [v5_party(sent["relatedParty"][0])]
        assert as_v5["relatedEntity"] == [v5_entity(sent["relatedEntity"][0])]
        assert as_v5["troubleTicketRelationship"] == [
            {**relationship, "href": f"{V5_HREF}/tt-related"}
        ]
        assert as_v5["statusChangeHistory"] == [
            {
                "@type": "StatusChange",
                "status": "acknowledged",
                "statusChangeDate": NOW,
                "statusChangeReason": sent["statusChangeReason"],
            }
        ]
        for same in ("channel", "note", "attachment", "name", "description", "@schemaLocation"):
            assert as_v5[same] == sent[same], same
        assert as_v5["clientExpectedResolutionDate"] == sent["expectedResolutionDate"]
        for v4_only in ("externalId", "statusChange"):
            assert v4_only not in as_v5

    def test_a_full_update_reads_back_as_sent_through_v4_and_mapped_through_v5(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        ticket = created(client, V4_TICKETS, full_create())
        when = clock.advance(minutes=10).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        sent = full_update()

        response = v4_patch(client, v4_url(ticket), sent)

        assert response.status_code == answered_with("/troubleTicket/{id}", "patch")
        got = read(client, v4_url(ticket))
        assert got == response.json()
        kept = {name: value for name, value in sent.items() if name not in SERVER_SET}
        assert {name: got[name] for name in kept} == without_implicit_classes(kept)
        assert got["lastUpdate"] == got["statusChangeDate"] == when
        assert got["statusChange"][-1] == {
            "changeDate": when,
            "changeReason": sent["statusChangeReason"],
            "status": "inProgress",
        }
        as_v5 = read(client, v5_url(ticket))
        assert as_v5["status"] == "inProgress"
        assert as_v5["externalIdentifier"] == [
            {"@type": "ExternalIdentifier", "id": sent["externalId"]}
        ]
        assert as_v5["relatedParty"] == [v5_party(sent["relatedParty"][0])]
        assert as_v5["relatedEntity"] == [v5_entity(sent["relatedEntity"][0])]
        assert as_v5["description"] == sent["description"]
        # a priority without a reason is a request (the policy's priority stays)
        assert as_v5["requestedPriority"] == sent["priority"]

    def test_a_full_subscription_is_answered_and_reads_back_through_v5(
        self, client: TestClient
    ) -> None:
        name, schema = request_schema("/hub", "post")
        sent = filled(name, schema, "hub")
        assert set(sent) == {"callback", "query", "secret"}

        response = client.post(f"{V4}/hub", json=sent)

        assert response.status_code == answered_with("/hub", "post"), response.text
        hub = response.json()
        assert hub == {"id": hub["id"], "callback": sent["callback"], "query": sent["query"]}
        assert response.headers["Location"] == f"{BASE_URL}{V4}/hub/{hub['id']}"
        as_v5 = read(client, f"{API}/hub/{hub['id']}")
        assert as_v5["callback"] == sent["callback"]
        assert as_v5["query"] == sent["query"]
        assert as_v5["signed"] is True
        assert "secret" not in as_v5
        assert "api" not in as_v5

    @pytest.mark.parametrize("path", listener_paths())
    def test_a_full_event_is_taken_by_its_listener_and_recorded_in_the_v5_form(
        self, client: TestClient, store: Store, path: str
    ) -> None:
        name, schema = request_schema(path, "post")
        event = filled(name, schema, "event")
        event["eventType"] = name
        event["eventId"] = f"evt-{name}"

        response = client.post(f"{V4}{path}", json=event)

        assert response.status_code == answered_with(path, "post"), response.text
        assert response.content == b""
        received = store.get(Collection.RECEIVED_EVENT, event["eventId"])
        assert received is not None
        recorded = received.doc["event"]
        assert recorded["@type"] == recorded["eventType"] == name
        assert recorded["timeOccurred"] == event["timeOcurred"]
        assert "timeOcurred" not in recorded
        ticket = recorded["event"]["troubleTicket"]
        sent_ticket = event["event"]["troubleTicket"]
        assert ticket["externalIdentifier"] == [
            {"@type": "ExternalIdentifier", "id": sent_ticket["externalId"]}
        ]
        assert ticket["relatedParty"] == [v5_party(sent_ticket["relatedParty"][0])]
        (change,) = sent_ticket["statusChange"]
        assert ticket["statusChangeHistory"] == [
            {
                "@type": "StatusChange",
                "@baseType": "StatusChange",
                "@schemaLocation": change["@schemaLocation"],
                "statusChangeDate": change["changeDate"],
                "statusChangeReason": change["changeReason"],
                "status": change["status"],
            }
        ]
        for v4_only in ("externalId", "statusChange"):
            assert v4_only not in ticket

    def test_the_same_event_sent_again_is_taken_and_recorded_once(
        self, client: TestClient, store: Store
    ) -> None:
        event = {"eventId": "evt-twice", "eventType": "TroubleTicketCreateEvent"}
        url = f"{V4}/listener/troubleTicketCreateEvent"

        assert client.post(url, json=event).status_code == 201
        assert client.post(url, json=event).status_code == 201
        assert store.get(Collection.RECEIVED_EVENT, "evt-twice") is not None

    def test_an_event_of_another_type_is_refused_by_a_listener(self, client: TestClient) -> None:
        response = client.post(
            f"{V4}/listener/troubleTicketDeleteEvent",
            json={"eventType": "TroubleTicketCreateEvent"},
        )

        assert_tmf_error(response, 400, "invalidRequest", mentions=("TroubleTicketDeleteEvent",))


# -- v5 → v4 → v5 loses nothing ----------------------------------------------------------------


def a_rich_v5_ticket() -> dict[str, Any]:
    """FULL_TICKET with several external identifiers, a party v4 cannot show (no reference),
    a party and an entity without @referredType, and a relationship to a ticket elsewhere."""
    ticket = a_full_ticket()
    ticket["externalIdentifier"] += [
        {"@type": "ExternalIdentifier", "id": "SR-42", "owner": "FieldForce"},
        {"@type": "ExternalIdentifier", "id": "CASE-7", "owner": "Billing"},
    ]
    ticket["relatedParty"].insert(1, {"@type": "RelatedPartyRefOrPartyRoleRef", "role": "watcher"})
    ticket["relatedParty"].append(
        {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "reporter",
            "partyOrPartyRole": {"@type": "PartyRef", "id": "77"},
        }
    )
    ticket["relatedEntity"].append(
        {"@type": "RelatedEntity", "role": "site", "entity": {"@type": "EntityRef", "id": "s-1"}}
    )
    ticket["troubleTicketRelationship"].append(
        {
            "@type": "TroubleTicketRelationship",
            "id": "FC-9",
            "href": "https://partner.example.com/tmf-api/troubleTicket/v5/troubleTicket/FC-9",
            "relationshipType": "dependsOn",
        }
    )
    ticket["note"][0]["forChildren"] = False
    return ticket


class TestV5ThroughV4AndBack:
    def test_a_v5_ticket_read_and_sent_back_through_v4_loses_nothing(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        original = created(client, TICKETS, a_rich_v5_ticket())
        shown = read(client, v4_url(original))
        # what v4 shows is what the v4 contract allows
        assert_conforms(shown, "TroubleTicket")
        assert [party.get("role") for party in shown["relatedParty"]] == [
            "customer",
            "owner",
            "reporter",
        ]
        assert shown["relatedParty"][2]["@referredType"] == "Party"
        assert shown["relatedEntity"][1]["@referredType"] == "Entity"
        assert shown["troubleTicketRelationship"][1]["href"].startswith(
            "https://partner.example.com/tmf-api/troubleTicket/v5/"
        )
        later = clock.advance(minutes=5).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        updatable = set(SCHEMAS["TroubleTicket_Update"]["properties"])
        update = {name: value for name, value in shown.items() if name in updatable}
        update["description"] = "No sync; the cabinet was flooded"

        response = v4_patch(client, v4_url(original), update)

        assert response.status_code == 200, response.text
        after = read(client, v5_url(original))
        changed = {"description", "lastUpdate", "slaClock"}
        assert {k: v for k, v in after.items() if k not in changed} == {
            k: v for k, v in original.items() if k not in changed
        }
        assert after["description"] == "No sync; the cabinet was flooded"
        assert after["lastUpdate"] == later

    def test_sending_back_only_a_changed_array_keeps_its_v5_originals(
        self, client: TestClient
    ) -> None:
        original = created(client, TICKETS, a_rich_v5_ticket())
        parties = read(client, v4_url(original))["relatedParty"]

        response = v4_patch(
            client,
            v4_url(original),
            {"relatedParty": [*parties, {"id": "5", "@referredType": "Individual"}]},
        )

        assert response.status_code == 200, response.text
        after = read(client, v5_url(original))["relatedParty"]
        assert after[:-1] == original["relatedParty"]
        assert after[1] == {"@type": "RelatedPartyRefOrPartyRoleRef", "role": "watcher"}
        assert after[2]["partyOrPartyRole"]["partyId"] == "42"  # the PartyRoleRef as it was
        assert after[-1] == {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "partyOrPartyRole": {"@type": "PartyRef", "id": "5", "@referredType": "Individual"},
        }

    def test_a_new_external_id_replaces_the_first_identifier_only(self, client: TestClient) -> None:
        original = created(client, TICKETS, a_rich_v5_ticket())

        response = v4_patch(client, v4_url(original), {"externalId": "INC-900"})

        assert response.status_code == 200, response.text
        assert response.json()["externalId"] == "INC-900"
        identifiers = read(client, v5_url(original))["externalIdentifier"]
        assert identifiers == [
            {"@type": "ExternalIdentifier", "id": "INC-900"},
            *original["externalIdentifier"][1:],
        ]

    def test_null_removes_an_attribute_through_v4(self, client: TestClient) -> None:
        original = created(client, TICKETS, a_rich_v5_ticket())

        response = patch(
            client, v4_url(original), {"note": None, "channel": None}, media_type=MERGE_PATCH
        )

        assert response.status_code == 200, response.text
        after = read(client, v5_url(original))
        assert "note" not in after
        assert "channel" not in after
        assert after["troubleTicketCharacteristic"] == original["troubleTicketCharacteristic"]


# -- the rules apply through v4 ----------------------------------------------------------------


class TestTheRulesThroughV4:
    def test_a_status_step_the_lifecycle_refuses_is_409_as_at_v5(self, client: TestClient) -> None:
        ticket = created(client, V4_TICKETS, a_ticket())

        through_v4 = v4_patch(client, v4_url(ticket), {"status": "closed"})
        through_v5 = patch(client, v5_url(ticket), {"@type": "TroubleTicket", "status": "closed"})

        assert_tmf_error(through_v4, 409, "invalidStatusTransition", mentions=("closed",))
        assert through_v5.json()["code"] == through_v4.json()["code"]
        assert read(client, v4_url(ticket))["status"] == "acknowledged"

    def test_cancelling_without_a_reason_is_400(self, client: TestClient) -> None:
        ticket = created(client, V4_TICKETS, a_ticket())

        refused = v4_patch(client, v4_url(ticket), {"status": "cancelled"})
        with_reason = v4_patch(
            client,
            v4_url(ticket),
            {"status": "cancelled", "statusChangeReason": "Raised twice"},
        )

        assert_tmf_error(refused, 400, "statusChangeReasonRequired")
        assert with_reason.status_code == 200, with_reason.text
        assert with_reason.json()["statusChange"][-1] == {
            "changeDate": NOW,
            "changeReason": "Raised twice",
            "status": "cancelled",
        }

    def test_a_stale_if_match_is_412_and_changes_nothing(self, client: TestClient) -> None:
        response = client.post(V4_TICKETS, json=a_ticket())
        ticket, first = response.json(), response.headers["ETag"]
        changed = v4_patch(client, v4_url(ticket), {"name": "first"}, **{"If-Match": first})
        assert changed.status_code == 200, changed.text
        assert changed.headers["ETag"] != first

        stale = v4_patch(client, v4_url(ticket), {"name": "second"}, **{"If-Match": first})
        gone = client.delete(v4_url(ticket), headers={"If-Match": first})

        assert_tmf_error(stale, 412, "preconditionFailed")
        assert_tmf_error(gone, 412, "preconditionFailed")
        assert read(client, v4_url(ticket))["name"] == "first"

    def test_an_unchanged_ticket_is_304_for_its_etag(self, client: TestClient) -> None:
        response = client.post(V4_TICKETS, json=a_ticket())

        again = client.get(
            v4_url(response.json()), headers={"If-None-Match": response.headers["ETag"]}
        )

        assert again.status_code == 304

    @pytest.mark.parametrize("method", ["get", "patch", "delete"])
    def test_an_unknown_ticket_is_404(self, client: TestClient, method: str) -> None:
        url = f"{V4_TICKETS}/no-such-ticket"
        if method == "patch":
            response = v4_patch(client, url, {"name": "x"})
        else:
            response = client.request(method.upper(), url)

        assert_tmf_error(response, 404, "notFound", mentions=("no-such-ticket",))

    def test_an_unknown_hub_is_404(self, client: TestClient) -> None:
        assert_tmf_error(client.delete(f"{V4}/hub/no-such-hub"), 404, "notFound")

    def test_a_deleted_ticket_is_gone_at_both_roots(self, client: TestClient) -> None:
        ticket = created(client, V4_TICKETS, a_ticket())

        assert client.delete(v4_url(ticket)).status_code == 204
        assert_tmf_error(client.get(v4_url(ticket)), 404, "notFound")
        assert_tmf_error(client.get(v5_url(ticket)), 404, "notFound")

    def test_a_body_that_is_not_an_object_is_400(self, client: TestClient) -> None:
        ticket = created(client, V4_TICKETS, a_ticket())

        assert_tmf_error(v4_patch(client, v4_url(ticket), ["x"]), 400, "invalidRequest")
        assert_tmf_error(
            client.post(V4_TICKETS, content=b"[1]", headers=JSON_TYPE), 400, "invalidRequest"
        )

    def test_a_v5_only_class_change_is_refused_through_v4(self, client: TestClient) -> None:
        ticket = created(client, V4_TICKETS, a_ticket())

        response = v4_patch(client, v4_url(ticket), {"@type": "Incident"})

        assert_tmf_error(response, 409, "classChange")

    def test_the_v4_change_is_in_the_audit_trail(self, client: TestClient) -> None:
        ticket = created(client, V4_TICKETS, a_ticket())
        changed = v4_patch(client, v4_url(ticket), {"externalId": "INC-5", "name": "Renamed"})
        assert changed.status_code == 200, changed.text

        response = client.get(f"{v5_url(ticket)}/auditRecord")

        assert response.status_code == 200, response.text
        records = response.json()
        assert [record["action"] for record in records] == ["create", "update"]
        assert {"externalIdentifier", "name"} <= set(records[1]["changedAttributes"])
        assert records[1]["requestId"] == changed.headers["x-request-id"]


class TestTheBodyLimitThroughV4:
    @pytest.fixture
    def small_limit(self, tmp_path: Path, clock: FrozenClock) -> Iterator[TestClient]:
        settings = Settings(
            store=str(tmp_path / "limit.sqlite3"), base_url=BASE_URL, max_body_bytes=1024
        )
        with create_app(settings, clock=clock).test_client() as test_client:
            yield test_client

    def test_a_body_over_the_limit_is_413_and_changes_nothing(
        self, small_limit: TestClient
    ) -> None:
        ticket = created(small_limit, V4_TICKETS, a_ticket())
        oversized = a_ticket(description="x" * 2048)

        made = small_limit.post(V4_TICKETS, json=oversized)
        changed = v4_patch(small_limit, v4_url(ticket), {"description": "x" * 2048})
        hub = small_limit.post(f"{V4}/hub", json={"callback": "https://c.example/" + "x" * 2048})

        for response in (made, changed, hub):
            assert_tmf_error(response, 413, "payloadTooLarge", mentions=("1024",))
        assert small_limit.get(V4_TICKETS).headers["X-Total-Count"] == "1"
        assert read(small_limit, v4_url(ticket))["description"] == ticket["description"]


# -- partners through v4 (X-TT-Partner behind a trusted gateway) -------------------------------

ALPHA = {"X-TT-Partner": "alpha"}
BETA = {"X-TT-Partner": "beta"}
ALPHA_PARTY = {"@type": "PartyRef", "@referredType": "Organization", "id": "org-alpha"}
BETA_PARTY = {"@type": "PartyRef", "@referredType": "Organization", "id": "org-beta"}


class TestPartnersThroughV4:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        def partner(party: dict[str, Any]) -> dict[str, Any]:
            return {
                "baseUrl": "http://127.0.0.1:9/tmf-api/troubleTicket/v5",
                "party": party,
                "events": {"subscribe": False},
            }

        registry = tmp_path / "partners.yaml"
        registry.write_text(
            yaml.safe_dump(
                {"partners": {"alpha": partner(ALPHA_PARTY), "beta": partner(BETA_PARTY)}}
            )
        )
        return Settings(
            store=str(tmp_path / "api.sqlite3"),
            base_url=BASE_URL,
            dispatch="off",
            partners=str(registry),
            trusted_gateway=True,
            egress_allow=LOCAL_NETWORKS,
        )

    def listed(self, client: TestClient, headers: dict[str, str]) -> list[str]:
        response = client.get(f"{V4_TICKETS}?fields=id", headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["X-Total-Count"] == str(len(response.json()))
        return sorted(ticket["id"] for ticket in response.json())

    def test_a_partner_sees_and_changes_only_its_own_tickets(self, client: TestClient) -> None:
        response = client.post(V4_TICKETS, json=a_ticket(), headers=ALPHA)
        assert response.status_code == 201, response.text
        mine = response.json()
        ours = created(client, V4_TICKETS, a_ticket())

        assert mine["relatedParty"] == [
            {"id": "org-alpha", "@referredType": "Organization", "role": "originator"}
        ]
        assert self.listed(client, ALPHA) == [mine["id"]]
        assert self.listed(client, BETA) == []
        assert self.listed(client, {}) == sorted([mine["id"], ours["id"]])
        assert read(client, v4_url(mine), **ALPHA) == mine
        for refused in (
            client.get(v4_url(mine), headers=BETA),
            v4_patch(client, v4_url(mine), {"name": "beta was here"}, **BETA),
            client.delete(v4_url(mine), headers=BETA),
            client.get(v4_url(ours), headers=ALPHA),
        ):
            assert_tmf_error(refused, 404, "notFound")
        assert read(client, v4_url(mine)) == mine

    def test_a_partner_cannot_plant_a_ticket_in_anothers_view(self, client: TestClient) -> None:
        naming_beta = a_ticket(relatedParty=[{"id": "org-beta", "@referredType": "Organization"}])
        naming_beta.pop("@type")

        response = client.post(V4_TICKETS, json=naming_beta, headers=ALPHA)

        assert_tmf_error(response, 403, "relatedPartyNotAllowed", mentions=("org-beta",))
        assert self.listed(client, BETA) == []

    def test_a_partners_hub_is_its_own(self, client: TestClient) -> None:
        response = client.post(
            f"{V4}/hub", json={"callback": "https://alpha.example/cb"}, headers=ALPHA
        )
        assert response.status_code == 201, response.text
        hub = response.json()

        assert_tmf_error(client.delete(f"{V4}/hub/{hub['id']}", headers=BETA), 404, "notFound")
        assert client.delete(f"{V4}/hub/{hub['id']}", headers=ALPHA).status_code == 204


# -- fields, filters and sort with v4 names ----------------------------------------------------


class TestSelectionFiltersAndSort:
    @pytest.fixture
    def tickets(self, client: TestClient) -> list[dict[str, Any]]:
        """Three tickets, externalId B, A, C; the second in progress; the third the customer's."""
        made = []
        for external_id in ("B", "A", "C"):
            made.append(created(client, V4_TICKETS, a_ticket(externalId=external_id)))
        assert v4_patch(client, v4_url(made[1]), {"status": "inProgress"}).status_code == 200
        customer = {"id": "cust-9", "@referredType": "Individual", "role": "customer"}
        assert v4_patch(client, v4_url(made[2]), {"relatedParty": [customer]}).status_code == 200
        return made

    def ids(self, client: TestClient, query: str) -> list[str]:
        response = client.get(f"{V4_TICKETS}?{query}")
        assert response.status_code == 200, response.text
        return [ticket["externalId"] for ticket in response.json()]

    def test_fields_selects_the_named_attributes_alone(
        self, client: TestClient, tickets: list[dict[str, Any]]
    ) -> None:
        listed = client.get(f"{V4_TICKETS}?fields=externalId,status&sort=externalId").json()
        one = read(client, f"{v4_url(tickets[0])}?fields=status")
        at_v5 = read(client, f"{v5_url(tickets[0])}?fields=status")

        assert listed == [
            {"externalId": "A", "status": "inProgress"},
            {"externalId": "B", "status": "acknowledged"},
            {"externalId": "C", "status": "acknowledged"},
        ]
        assert one == {"status": "acknowledged"}
        assert set(at_v5) == {"id", "href", "@type", "status"}  # v5 keeps these, v4 does not

    def test_a_dotted_field_selects_its_attribute(
        self, client: TestClient, tickets: list[dict[str, Any]]
    ) -> None:
        one = read(client, f"{v4_url(tickets[1])}?fields=statusChange.status")

        assert one == {
            "statusChange": [
                {"changeDate": NOW, "status": "acknowledged"},
                {"changeDate": NOW, "status": "inProgress"},
            ]
        }

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("externalId=A", ["A"]),
            ("externalId=A,C&sort=externalId", ["A", "C"]),
            ("relatedParty.id=cust-9", ["C"]),
            ("relatedParty.role=customer", ["C"]),
            ("statusChange.status=inProgress", ["A"]),
            ("status=acknowledged&sort=-externalId", ["C", "B"]),
            ("sort=externalId", ["A", "B", "C"]),
            ("sort=-externalId", ["C", "B", "A"]),
            ("sort=-statusChange.status,externalId", ["A", "B", "C"]),
        ],
    )
    def test_filters_and_sort_use_the_v4_names(
        self, client: TestClient, tickets: list[dict[str, Any]], query: str, expected: list[str]
    ) -> None:
        assert self.ids(client, query) == expected

    def test_paging_counts_and_links(
        self, client: TestClient, tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(f"{V4_TICKETS}?sort=externalId&offset=1&limit=1")

        assert response.status_code == 200, response.text
        assert [t["externalId"] for t in response.json()] == ["B"]
        assert response.headers["X-Total-Count"] == "3"
        assert response.headers["X-Result-Count"] == "1"
        assert f"<{V4_HREF}?sort=externalId&offset=2&limit=1>" in response.headers["Link"]

    def test_a_malformed_filter_is_a_400(self, client: TestClient) -> None:
        assert_tmf_error(client.get(f"{V4_TICKETS}?sort=-"), 400, "invalidRequest")
        assert_tmf_error(client.get(f"{V4_TICKETS}?limit=-1"), 400, "invalidRequest")


# -- hubs at v4 receive the v4 form of ticket events alone -------------------------------------

V4_CALLBACK = "https://v4.client.example/listener"
V5_CALLBACK = "https://v5.client.example/listener"


class TestEventsToAV4Hub:
    @pytest.fixture
    def sender(self) -> FakeSender:
        return FakeSender()

    @pytest.fixture
    def dispatcher(
        self, store: Store, clock: FrozenClock, sender: FakeSender
    ) -> Iterator[Dispatcher]:
        opened = Dispatcher(store, sender=sender, clock=clock, worker_id="w", policy=POLICY)
        yield opened
        opened.close()

    def test_a_v4_hub_gets_the_v4_form_of_ticket_events_and_a_v5_hub_the_v5_form(
        self, client: TestClient, dispatcher: Dispatcher, sender: FakeSender
    ) -> None:
        assert client.post(f"{V4}/hub", json={"callback": V4_CALLBACK}).status_code == 201
        v5_hub = {"@type": "Hub", "callback": V5_CALLBACK}
        assert client.post(f"{API}/hub", json=v5_hub).status_code == 201
        ticket = created(client, V4_TICKETS, a_ticket(externalId="INC-1"))
        url = v4_url(ticket)
        activity = {"@type": "RecoveryActivity", "activityType": "diagnose"}
        made = created(client, f"{v5_url(ticket)}/recoveryActivity", activity)
        assert client.delete(f"{v5_url(ticket)}/recoveryActivity/{made['id']}").status_code == 204
        created(client, f"{API}/troubleTicketSpecification", a_specification())
        steps = [
            {"name": "Renamed"},
            {"status": "pending", "statusChangeReason": "Which line?"},
            {"status": "inProgress"},
            {"status": "resolved"},
        ]
        for step in steps:
            assert v4_patch(client, url, step).status_code == 200
        escalate = {"@type": "TroubleTicket", "escalationLevel": 1, "escalationReason": "Twice"}
        assert patch(client, v5_url(ticket), escalate).status_code == 200
        assert client.delete(url).status_code == 204

        drain(dispatcher)

        at_v4 = [call.event for call in sender.to(V4_CALLBACK)]
        at_v5 = [call.event for call in sender.to(V5_CALLBACK)]
        assert [e["eventType"] for e in at_v4] == [
            "TroubleTicketCreateEvent",
            "TroubleTicketAttributeValueChangeEvent",  # its activities' rollup: one added
            "TroubleTicketAttributeValueChangeEvent",  # and removed
            "TroubleTicketAttributeValueChangeEvent",  # the name
            "TroubleTicketStatusChangeEvent",
            "TroubleTicketInformationRequiredEvent",
            "TroubleTicketStatusChangeEvent",
            "TroubleTicketStatusChangeEvent",
            "TroubleTicketResolvedEvent",
            "TroubleTicketDeleteEvent",
        ]
        v5_types = {e["eventType"] for e in at_v5}
        assert {
            "TroubleTicketEscalationEvent",
            "RecoveryActivityCreateEvent",
            "TroubleTicketSpecificationCreateEvent",
        } <= v5_types
        # the same events, each in its form
        v5_by_id = {e["eventId"]: e for e in at_v5}
        for event in at_v4:
            assert_conforms(event, event["eventType"])
            assert set(event) <= set(SCHEMAS[event["eventType"]]["properties"]), event
            twin = v5_by_id[event["eventId"]]
            assert event["timeOcurred"] == twin["timeOccurred"]
            assert twin["@type"] == twin["eventType"] == event["eventType"]
            assert "@type" not in event and "timeOccurred" not in event
        assert at_v4[0]["event"] == {"troubleTicket": ticket}
        assert v5_by_id[at_v4[0]["eventId"]]["event"]["troubleTicket"]["externalIdentifier"] == [
            {"@type": "ExternalIdentifier", "id": "INC-1"}
        ]
        assert at_v4[-1]["event"] == {
            "troubleTicket": {"id": ticket["id"], "href": ticket["href"], "name": "Renamed"}
        }
        deleted = v5_by_id[at_v4[-1]["eventId"]]["event"]["troubleTicket"]
        assert deleted["href"] == f"{V5_HREF}/{ticket['id']}"

    def test_a_v4_hubs_query_filters_the_v4_form(
        self, client: TestClient, dispatcher: Dispatcher, sender: FakeSender
    ) -> None:
        query = "event.troubleTicket.externalId=INC-2"
        assert (
            client.post(f"{V4}/hub", json={"callback": V4_CALLBACK, "query": query}).status_code
            == 201
        )
        created(client, V4_TICKETS, a_ticket(externalId="INC-1"))
        wanted = created(client, V4_TICKETS, a_ticket(externalId="INC-2"))

        drain(dispatcher)

        (call,) = sender.to(V4_CALLBACK)
        assert call.event["event"]["troubleTicket"]["id"] == wanted["id"]


# -- TT_V4=off ---------------------------------------------------------------------------------


def v4_requests() -> list[tuple[str, str]]:
    """Every operation of the v4 contract, as a method and a concrete path."""
    return [
        (method.upper(), V4 + re.sub(r"\{[^}]+\}", "x-1", path))
        for path, item in SPEC["paths"].items()
        for method in item
        if method in METHODS
    ]


class TestWithoutTheV4Root:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return replace(settings, v4=False)

    def test_every_v4_path_is_404_and_v5_works(self, client: TestClient) -> None:
        assert served_contract(Settings(v4=False)).v4 is None
        for method, url in [*v4_requests(), ("GET", f"{V4}/openapi.json")]:
            body = json.dumps(a_ticket()) if method in ("POST", "PATCH") else None
            response = client.request(method, url, content=body, headers=JSON_TYPE)
            assert_tmf_error(response, 404, "notFound")
        assert created(client, TICKETS, a_ticket())["href"].startswith(V5_HREF)
        assert client.get(TICKETS).status_code == 200


def operations(contract: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (operation["operationId"], method, path)
        for path, item in contract["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_the_v4_root_serves_the_v4_contract(client: TestClient) -> None:
    response = client.get(f"{V4}/openapi.json")

    assert response.status_code == 200
    assert operations(response.json()) == operations(SPEC)
