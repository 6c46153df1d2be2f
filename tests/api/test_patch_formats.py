"""PATCH in the two JSON Patch formats TMF621 declares, over HTTP: same rules as merge patch."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.assertions import assert_tmf_error
from tests.builders import SPECIFICATIONS, TICKETS, a_full_ticket, a_specification
from troubleticket.config import Settings
from troubleticket.store.port import Collection, ListQuery, Store

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


def event_count(store: Store) -> int:
    return store.list(Collection.EVENT, ListQuery(offset=0, limit=1)).total or 0


class TestWhatOnePatchMayProduce:
    """TT_MAX_DOCUMENT_BYTES, TT_MAX_ARRAY_ITEMS and TT_MAX_PATCH_OPERATIONS at their defaults."""

    @pytest.mark.parametrize("media_type", [JSON_PATCH, JSON_PATCH_QUERY])
    def test_a_kilobyte_patch_asking_for_gigabytes_is_a_413_and_nothing_is_written(
        self, client: TestClient, ticket: dict[str, Any], store: Store, media_type: str
    ) -> None:
        operations = [
            {"op": "add", "path": "/arr", "value": ["x" * 50]},
            *({"op": "copy", "from": "/arr", "path": "/arr/-"} for _ in range(30)),
        ]
        events = event_count(store)

        response = patch(client, url(ticket), operations, media_type)

        assert_tmf_error(response, 413, "documentTooLarge", mentions=("1048576",))
        assert client.get(url(ticket)).json() == ticket
        assert event_count(store) == events

    def test_a_merge_patch_growing_an_array_past_the_limit_is_a_413(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        notes = [{"@type": "Note", "text": f"n{n}"} for n in range(1001)]

        response = client.patch(url(ticket), json={"@type": "TroubleTicket", "note": notes})

        assert_tmf_error(response, 413, "tooManyItems", mentions=("/note", "1001"))
        assert client.get(url(ticket)).json() == ticket
        within = client.patch(url(ticket), json={"@type": "TroubleTicket", "note": notes[:1000]})
        assert within.status_code == 200, within.text

    def test_a_json_patch_of_more_than_1000_operations_is_a_413(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        operations = [{"op": "test", "path": "/id", "value": ticket["id"]}] * 1001

        response = patch(client, url(ticket), operations)

        assert_tmf_error(response, 413, "tooManyOperations", mentions=("1000", "1001"))
        assert patch(client, url(ticket), operations[:1000]).status_code == 200

    def test_an_activity_patch_is_held_to_the_same_limits(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        work = f"{url(ticket)}/recoveryActivity"
        activity = client.post(
            work, json={"@type": "RecoveryActivity", "name": "Check", "activityType": "diagnose"}
        ).json()
        operations = [
            {"op": "add", "path": "/note", "value": [{"@type": "Note", "text": "x" * 50}]},
            *({"op": "copy", "from": "/note", "path": "/note/-"} for _ in range(30)),
        ]

        response = patch(client, f"{work}/{activity['id']}", operations)

        assert_tmf_error(response, 413, "documentTooLarge")
        assert client.get(f"{work}/{activity['id']}").json() == activity


class TestSmallerLimits:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return replace(settings, max_document_bytes=8192, max_array_items=5)

    def test_a_create_over_the_document_limit_is_a_413_and_nothing_is_stored(
        self, client: TestClient
    ) -> None:
        response = client.post(TICKETS, json={**a_full_ticket(), "description": "x" * 9000})

        assert_tmf_error(response, 413, "documentTooLarge", mentions=("8192",))
        assert client.get(TICKETS).headers["X-Total-Count"] == "0"

    def test_recovery_activities_count_as_items_of_their_ticket(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        work = f"{url(ticket)}/recoveryActivity"
        for n in range(5):
            made = client.post(
                work,
                json={"@type": "RecoveryActivity", "name": f"a{n}", "activityType": "diagnose"},
            )
            assert made.status_code == 201, made.text

        response = client.post(
            work, json={"@type": "RecoveryActivity", "name": "a5", "activityType": "diagnose"}
        )

        assert_tmf_error(response, 413, "tooManyItems")
        assert client.get(work).headers["X-Total-Count"] == "5"
