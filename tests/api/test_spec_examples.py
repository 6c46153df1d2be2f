"""What a TMF621 partner sends first: the contract's own request examples, and the payload of the
TMF621 v5 conformance kit. Each is accepted and reads back exactly as answered.

The examples are read from the served contract itself, so a new example — or a new server rule
that would refuse one — is caught here. Where the server sets an attribute the request also gave
(``id``, ``href``, ``statusChangeDate``, and under the service policy ``priority`` and
``expectedResolutionDate``), the test names what the server keeps of the client's value.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.assertions import BASE_URL, patch
from tests.builders import SPECIFICATIONS, TICKETS
from troubleticket.api.contract import load_spec

if TYPE_CHECKING:
    from starlette.testclient import TestClient

SPEC = load_spec()

# The payload the TMF621 v5.0.0 conformance kit POSTs first (its config.json), attribute for
# attribute: the spec's example with an AttachmentRef carrying attachment attributes, a note
# without id, and a customer given as a PartyRoleRef.
CONFORMANCE_KIT_PAYLOAD: dict[str, Any] = {
    "name": "complaint over last bill",
    "description": "I do not accept the last VOD charge, since the movie was constantly "
    "interrupted, I had to quick watching the movie in the middle ",
    "severity": "Major",
    "status": "inProgress",
    "ticketType": "Bill Dispute",
    "expectedResolutionDate": "2019-06-10T07:34:45.968Z",
    "requestedResolutionDate": "2022-05-31T07:34:45.968Z",
    "attachment": [
        {
            "id": "34345",
            "description": "Scanned disputed bill",
            "attachmentType": "billCopy",
            "mimeType": "image/png",
            "name": "March Bill",
            "url": "https://mycsp.com:7070/docloader?docnum=3534555",
            "@type": "AttachmentRef",
        }
    ],
    "channel": {"id": "8774", "name": "self service", "@type": "ChannelRef"},
    "note": [
        {
            "author": "Jack Smith",
            "date": "2022-05-31T07:34:45.968Z",
            "text": "This is quite important, please aproch me as soon as posible",
            "@type": "Note",
        }
    ],
    "relatedEntity": [
        {
            "role": "disputedBill",
            "@type": "RelatedEntity",
            "entity": {
                "id": "3472",
                "href": "https://mycsp.com:8080/tmf-api/customerBillManagement/v5/customerBill/8297",
                "name": "March 2019 Bill",
                "@type": "EntityRef",
                "@referredType": "CustomerBill",
            },
        }
    ],
    "relatedParty": [
        {
            "role": "member",
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "partyOrPartyRole": {
                "id": "9866",
                "href": "https://mycsp.com:8080/tmf-api/partyManagement/v5/individual/9866",
                "name": "Sandy Smith",
                "@type": "PartyRef",
                "@referredType": "Individual",
            },
        },
        {
            "role": "reporter",
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "partyOrPartyRole": {
                "id": "9867",
                "name": "Jacob Jac Miller",
                "@type": "PartyRef",
                "@referredType": "Individual",
            },
        },
        {
            "role": "customer",
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "partyOrPartyRole": {
                "id": "9176",
                "href": "https://mycsp.com:8080/tmf-api/partyManagement/v4/customer/9176",
                "name": "Jack Smith",
                "@type": "PartyRoleRef",
                "@referredType": "Customer",
            },
        },
    ],
    "@type": "TroubleTicket",
}


def request_examples(path: str, method: str) -> list[tuple[str, str, Any]]:
    """(media type, example name, value) of every request example of one operation."""
    body = SPEC["paths"][path][method]["requestBody"]
    if "$ref" in body:
        body = SPEC["components"]["requestBodies"][body["$ref"].rsplit("/", 1)[1]]
    found = []
    for media_type, content in body["content"].items():
        for name, example in content.get("examples", {}).items():
            if "$ref" in example:
                name = example["$ref"].rsplit("/", 1)[1]
                example = SPEC["components"]["examples"][name]
            found.append((media_type, name, example["value"]))
    return found


def one_example(path: str) -> dict[str, Any]:
    ((_media_type, _name, value),) = request_examples(path, "post")
    return copy.deepcopy(value)


def example_params(path: str, method: str) -> list[Any]:
    return [
        pytest.param(media_type, value, response_example(name), id=name)
        for media_type, name, value in request_examples(path, method)
    ]


def response_example(request_name: str) -> Any:
    """The contract's response example for a request example (``…_request`` → ``…_response``)."""
    name = request_name.removesuffix("_request") + "_response"
    return SPEC["components"]["examples"][name]["value"]


def assert_reads_back(client: TestClient, answered: dict[str, Any]) -> None:
    """GET returns exactly the document the write answered, with its @type."""
    response = client.get(answered["href"].removeprefix(BASE_URL))
    assert response.status_code == 200, response.text
    assert response.json() == answered


def create(client: TestClient, collection: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(collection, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert response.headers["Location"] == created["href"]
    assert created["@type"] == body.get("@type", created["@type"])
    assert_reads_back(client, created)
    return created


def clock(ticket: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any]
    (found,) = [c for c in ticket["slaClock"] if c["name"] == name]
    return found


# Attributes of a ticket create request the server sets itself, and where the client's value
# goes; every other attribute comes back exactly as sent.
def assert_ticket_keeps_what_was_sent(sent: dict[str, Any], ticket: dict[str, Any]) -> None:
    assert ticket["status"] == sent.get("status", "acknowledged")
    if "expectedResolutionDate" in sent:
        # the resolve clock's deadline is shown; the client's date is kept beside it
        assert ticket["expectedResolutionDate"] == clock(ticket, "resolve")["deadline"]
        assert ticket["clientExpectedResolutionDate"] == sent["expectedResolutionDate"]
    if "priority" in sent and sent["priority"] != ticket["priority"]:
        assert ticket["requestedPriority"] == sent["priority"]
    server_set = {"id", "href", "status", "statusChangeDate", "priority", "expectedResolutionDate"}
    assert {k: v for k, v in sent.items() if k not in server_set} == {
        k: ticket[k] for k in sent if k not in server_set
    }


class TestTheConformanceKit:
    def test_its_payload_is_created_and_read_back_equal(self, client: TestClient) -> None:
        ticket = create(client, TICKETS, CONFORMANCE_KIT_PAYLOAD)

        assert_ticket_keeps_what_was_sent(CONFORMANCE_KIT_PAYLOAD, ticket)
        assert [entry["status"] for entry in ticket["statusChangeHistory"]] == [
            "acknowledged",
            "inProgress",
        ]
        assert {entry["@type"] for entry in ticket["statusChangeHistory"]} == {"StatusChange"}

    def test_the_reads_that_follow_its_post_answer_as_it_expects(self, client: TestClient) -> None:
        ticket = create(client, TICKETS, CONFORMANCE_KIT_PAYLOAD)

        listed = client.get(TICKETS)
        assert listed.status_code == 200
        assert listed.json() == [ticket]
        for name in ("description", "severity", "ticketType"):
            one = client.get(f"{TICKETS}/{ticket['id']}", params={"fields": name}).json()
            assert one == {k: ticket[k] for k in ("id", "href", "@type", name)}
            page = client.get(TICKETS, params={"fields": name}).json()
            assert page == [one]
        # the kit filters on the ticketType it sent, space included
        filtered = client.get(f"{TICKETS}?ticketType=Bill Dispute")
        assert filtered.status_code == 200
        assert [t["id"] for t in filtered.json()] == [ticket["id"]]


class TestTheTroubleTicketExamples:
    def test_the_create_example_is_created_and_read_back_equal(self, client: TestClient) -> None:
        sent = one_example("/troubleTicket")

        ticket = create(client, TICKETS, sent)

        assert_ticket_keeps_what_was_sent(sent, ticket)

    @pytest.mark.parametrize(
        ("media_type", "example", "answer"), example_params("/troubleTicket/{id}", "patch")
    )
    def test_each_patch_example_applies_to_the_created_example(
        self, client: TestClient, media_type: str, example: Any, answer: Any
    ) -> None:
        ticket = create(client, TICKETS, one_example("/troubleTicket"))

        response = patch(
            client, ticket["href"].removeprefix(BASE_URL), example, media_type=media_type
        )

        assert response.status_code == 200, response.text
        patched = response.json()
        assert patched["@type"] == "TroubleTicket"
        assert_reads_back(client, patched)
        if isinstance(example, dict):
            # the merge examples resolve the ticket, with the reason in the history
            assert patched["status"] == example["status"] == "resolved"
            assert (
                patched["statusChangeHistory"][-1]["statusChangeReason"]
                == (example["statusChangeReason"])
            )
        elif media_type == "application/json-patch+json":
            assert patched["severity"] == "Minor"
            assert patched["note"][-1] == example[1]["value"]
            assert patched["note"][:-1] == ticket["note"]
        else:
            # JSON Patch Query: the value is merged into the note found by id, as the
            # contract's response example shows; the attribute the example names (sic) is set
            # as a merge patch would set it
            assert patched["note"] == answer["note"]
            assert patched["sererity"] == "Minor"
            assert patched["severity"] == ticket["severity"]


class TestTheSpecificationExamples:
    def test_the_create_example_is_created_and_read_back_equal(self, client: TestClient) -> None:
        sent = one_example("/troubleTicketSpecification")

        specification = create(client, SPECIFICATIONS, sent)

        assert {k: specification[k] for k in sent} == sent

    @pytest.mark.parametrize(
        ("media_type", "example", "answer"),
        example_params("/troubleTicketSpecification/{id}", "patch"),
    )
    def test_each_patch_example_applies_to_the_created_example(
        self, client: TestClient, media_type: str, example: Any, answer: Any
    ) -> None:
        created = create(client, SPECIFICATIONS, one_example("/troubleTicketSpecification"))

        response = patch(
            client, created["href"].removeprefix(BASE_URL), example, media_type=media_type
        )

        assert response.status_code == 200, response.text
        patched = response.json()
        assert patched["@type"] == "TroubleTicketSpecification"
        assert_reads_back(client, patched)
        if isinstance(example, dict):
            assert {k: patched[k] for k in example} == example
        elif media_type == "application/json-patch+json":
            assert (patched["lifecycleStatus"], patched["name"]) == (
                "active",
                "Bill Dispute Specification",
            )
        else:
            # as the contract's response example shows: characteristic 5 with the value merged
            assert patched["specCharacteristic"][4] == answer["specCharacteristic"][4]
            assert patched["specCharacteristic"][:4] == created["specCharacteristic"][:4]


class TestTheHubAndListenerExamples:
    def test_the_hub_example_registers_a_hub(self, client: TestClient) -> None:
        ((media_type, _name, example),) = request_examples("/hub", "post")

        response = client.post("/tmf-api/troubleTicket/v5/hub", json=example)

        assert (media_type, response.status_code) == ("application/json", 201), response.text
        hub = response.json()
        assert hub["callback"] == example["callback"]
        assert client.get(hub["href"].removeprefix(BASE_URL)).json() == hub

    @pytest.mark.parametrize(
        ("path", "example"),
        [
            pytest.param(path, value, id=name)
            for path in SPEC["paths"]
            if path.startswith("/listener/")
            for _media_type, name, value in request_examples(path, "post")
        ],
    )
    def test_each_listener_example_is_taken(
        self, client: TestClient, path: str, example: Any
    ) -> None:
        response = client.post(f"/tmf-api/troubleTicket/v5{path}", json=example)

        assert response.status_code == 204, response.text


class TestTheParameterExamples:
    def test_each_list_parameter_example_is_taken(self, client: TestClient) -> None:
        create(client, TICKETS, one_example("/troubleTicket"))
        parameters = load_spec()["components"]["parameters"]
        examples = {
            parameter["name"]: example
            for parameter in parameters.values()
            if parameter.get("in") == "query"
            for example in [parameter.get("example", parameter["schema"].get("example"))]
            if example is not None
        }
        assert "filter" in examples

        for name, value in examples.items():
            response = client.get(TICKETS, params={name: value})
            assert response.status_code == 200, (name, value, response.text)
