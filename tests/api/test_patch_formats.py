"""PATCH in the two JSON Patch formats TMF621 declares, over HTTP: same rules as merge patch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.api.assertions import assert_tmf_error
from tests.builders import SPECIFICATIONS, TICKETS, a_full_ticket, a_specification

if TYPE_CHECKING:
    from starlette.testclient import TestClient

JSON_PATCH = "application/json-patch+json"
JSON_PATCH_QUERY = "application/json-patch-query+json"


@pytest.fixture
def ticket(client: TestClient) -> dict[str, Any]:
    response = client.post(TICKETS, json=a_full_ticket())
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


def patch(client: TestClient, url: str, operations: Any, media_type: str = JSON_PATCH) -> Any:
    return client.patch(url, json=operations, headers={"Content-Type": media_type})


def url(ticket: dict[str, Any]) -> str:
    return f"{TICKETS}/{ticket['id']}"


class TestJsonPatch:
    def test_operations_are_applied_in_order(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        response = patch(
            client,
            url(ticket),
            [
                {"op": "test", "path": "/severity", "value": "Major"},
                {"op": "replace", "path": "/severity", "value": "Critical"},
                {"op": "remove", "path": "/name"},
                {"op": "add", "path": "/note/-", "value": {"@type": "Note", "text": "second"}},
            ],
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["severity"] == "Critical"
        assert "name" not in body
        assert [note["text"] for note in body["note"]] == ["Line test shows no sync", "second"]
        assert client.get(url(ticket)).json() == body

    def test_the_specs_add_to_an_array_path_appends_the_element(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        note = {"@type": "Note", "author": "Jane", "text": "appended"}
        response = patch(client, url(ticket), [{"op": "add", "path": "/note", "value": note}])

        assert response.status_code == 200, response.text
        assert response.json()["note"][-1] == note
        assert len(response.json()["note"]) == 2

    def test_a_failed_test_is_a_409_and_nothing_is_applied(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        response = patch(
            client,
            url(ticket),
            [
                {"op": "replace", "path": "/severity", "value": "Critical"},
                {"op": "test", "path": "/ticketType", "value": "complaint"},
            ],
        )

        assert_tmf_error(response, 409, "patchTestFailed", mentions=("/ticketType",))
        assert client.get(url(ticket)).json() == ticket

    def test_a_status_change_follows_the_lifecycle(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        response = patch(
            client, url(ticket), [{"op": "replace", "path": "/status", "value": "closed"}]
        )

        assert_tmf_error(
            response, 409, "invalidStatusTransition", mentions=("acknowledged", "closed")
        )
        assert client.get(url(ticket)).json() == ticket

    def test_a_cancellation_needs_its_reason_in_the_same_patch(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        refused = patch(
            client, url(ticket), [{"op": "replace", "path": "/status", "value": "cancelled"}]
        )
        assert_tmf_error(refused, 400, "statusChangeReasonRequired")

        accepted = patch(
            client,
            url(ticket),
            [
                {"op": "replace", "path": "/status", "value": "cancelled"},
                {"op": "add", "path": "/statusChangeReason", "value": "Duplicate of INC-1"},
            ],
        )
        assert accepted.status_code == 200, accepted.text
        assert (
            accepted.json()["statusChangeHistory"][-1]["statusChangeReason"] == "Duplicate of INC-1"
        )

    @pytest.mark.parametrize("attribute", ["creationDate", "lastUpdate", "statusChangeDate"])
    def test_server_owned_attributes_cannot_be_changed(
        self, client: TestClient, ticket: dict[str, Any], attribute: str
    ) -> None:
        response = patch(client, url(ticket), [{"op": "remove", "path": f"/{attribute}"}])

        assert_tmf_error(response, 400, "serverOwnedField", mentions=(attribute,))
        assert client.get(url(ticket)).json() == ticket

    def test_the_id_cannot_be_changed(self, client: TestClient, ticket: dict[str, Any]) -> None:
        response = patch(client, url(ticket), [{"op": "remove", "path": "/id"}])

        assert_tmf_error(response, 409, "identityChange", mentions=("id",))
        assert client.get(url(ticket)).json() == ticket

    @pytest.mark.parametrize("attribute", ["href", "statusChangeHistory"])
    def test_what_the_server_keeps_is_left_as_it_is(
        self, client: TestClient, ticket: dict[str, Any], attribute: str
    ) -> None:
        response = patch(client, url(ticket), [{"op": "remove", "path": f"/{attribute}"}])

        assert response.status_code == 200, response.text
        assert response.json() == ticket
        assert client.get(url(ticket)).json() == ticket

    def test_a_result_that_breaks_the_schema_is_refused(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        response = patch(client, url(ticket), [{"op": "remove", "path": "/channel/id"}])

        assert_tmf_error(response, 400, "invalidRequest", mentions=("channel",))
        assert client.get(url(ticket)).json() == ticket

    def test_an_operation_on_a_missing_path_is_a_400(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        response = patch(client, url(ticket), [{"op": "remove", "path": "/nothingHere"}])
        assert_tmf_error(response, 400, "invalidRequest", mentions=("/nothingHere",))

    def test_specifications_take_json_patch_too(self, client: TestClient) -> None:
        created = client.post(SPECIFICATIONS, json=a_specification()).json()
        response = patch(
            client,
            f"{SPECIFICATIONS}/{created['id']}",
            [{"op": "replace", "path": "/lifecycleStatus", "value": "retired"}],
        )
        assert response.status_code == 200, response.text
        assert response.json()["lifecycleStatus"] == "retired"


class TestJsonPatchQuery:
    def test_a_query_path_merges_the_value_into_the_selected_note(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        note = {"author": "Jane Doe", "text": "Engineer on site"}
        response = patch(
            client,
            url(ticket),
            [{"op": "replace", "path": "/note?id=77456", "value": note}],
            JSON_PATCH_QUERY,
        )

        assert response.status_code == 200, response.text
        (original,) = ticket["note"]
        assert response.json()["note"] == [{**original, **note}]

    def test_a_query_path_can_target_an_attribute_of_the_selected_element(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        response = patch(
            client,
            url(ticket),
            [
                {
                    "op": "replace",
                    "path": "/relatedParty/role?partyOrPartyRole.id=9",
                    "value": "reporter",
                }
            ],
            JSON_PATCH_QUERY,
        )

        assert response.status_code == 200, response.text
        assert [party["role"] for party in response.json()["relatedParty"]] == ["reporter", "owner"]

    def test_a_query_that_selects_nothing_is_a_400_and_changes_nothing(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        response = patch(
            client,
            url(ticket),
            [{"op": "remove", "path": "/note?id=does-not-exist"}],
            JSON_PATCH_QUERY,
        )

        assert_tmf_error(response, 400, "invalidRequest", mentions=("does-not-exist",))
        assert client.get(url(ticket)).json() == ticket
