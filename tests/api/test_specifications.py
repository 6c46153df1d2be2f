"""The TroubleTicketSpecification resource over HTTP: create, retrieve, list, patch, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.api.assertions import BASE_URL, MERGE_PATCH, assert_tmf_error, created, patch, total
from tests.builders import SPECIFICATIONS, a_specification

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from tests.conftest import FrozenClock

NOW = "2026-11-20T08:00:00.000Z"
SPECIFICATION_HREF = f"{BASE_URL}{SPECIFICATIONS}"
TYPE = {"@type": "TroubleTicketSpecification"}


def url(specification: dict[str, Any]) -> str:
    return f"{SPECIFICATIONS}/{specification['id']}"


class TestCreatingASpecification:
    def test_a_created_specification_answers_201_with_a_location_equal_to_its_href(
        self, client: TestClient
    ) -> None:
        response = client.post(SPECIFICATIONS, json=a_specification())

        assert response.status_code == 201, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["href"] == f"{SPECIFICATION_HREF}/{body['id']}"
        assert response.headers["Location"] == body["href"]

    def test_the_server_sets_identity_and_timestamps_and_keeps_the_rest(
        self, client: TestClient
    ) -> None:
        sent = a_specification(
            description="Incidents on broadband lines",
            validFor={"startDateTime": "2026-01-01T00:00:00.000Z"},
        )

        body = client.post(SPECIFICATIONS, json=sent).json()

        assert body == {
            "id": body["id"],
            "href": f"{SPECIFICATION_HREF}/{body['id']}",
            **sent,
            "creationDate": NOW,
            "lastUpdate": NOW,
        }
        assert body["id"]

    def test_a_name_is_required(self, client: TestClient) -> None:
        sent = a_specification()
        del sent["name"]

        response = client.post(SPECIFICATIONS, json=sent)

        assert_tmf_error(response, 400, "invalidRequest", mentions=("name",))
        assert total(client, SPECIFICATIONS) == 0

    def test_a_specification_of_another_type_is_refused(self, client: TestClient) -> None:
        response = client.post(SPECIFICATIONS, json=a_specification(**{"@type": "TroubleTicket"}))

        assert_tmf_error(
            response, 400, "baseTypeRequired", mentions=("@baseType", "TroubleTicketSpecification")
        )
        assert total(client, SPECIFICATIONS) == 0

    def test_an_id_and_href_in_the_request_are_replaced_by_the_servers(
        self, client: TestClient
    ) -> None:
        body = a_specification(id="my-own-id", href="https://elsewhere.example/spec/1")

        specification = created(client, SPECIFICATIONS, body)

        assert specification["id"] != "my-own-id"
        assert specification["href"].endswith(f"/troubleTicketSpecification/{specification['id']}")

    @pytest.mark.parametrize(
        ("attribute", "value"),
        [
            ("creationDate", "2020-01-01T00:00:00.000Z"),
            ("lastUpdate", "2020-01-01T00:00:00.000Z"),
        ],
    )
    def test_a_create_request_setting_a_server_owned_attribute_is_refused_and_stores_nothing(
        self, client: TestClient, attribute: str, value: str
    ) -> None:
        response = client.post(SPECIFICATIONS, json=a_specification(**{attribute: value}))

        assert_tmf_error(response, 400, "serverOwnedField", mentions=(attribute,))
        assert total(client, SPECIFICATIONS) == 0


class TestRetrievingASpecification:
    def test_a_specification_is_retrieved_by_id_as_it_was_created(self, client: TestClient) -> None:
        specification = created(client, SPECIFICATIONS, a_specification())

        response = client.get(url(specification))

        assert response.status_code == 200
        assert response.json() == specification

    def test_fields_selects_first_level_attributes_plus_id_href_and_type(
        self, client: TestClient
    ) -> None:
        specification = created(client, SPECIFICATIONS, a_specification())

        response = client.get(url(specification), params={"fields": "version"})

        assert response.json() == {
            "id": specification["id"],
            "href": specification["href"],
            "@type": "TroubleTicketSpecification",
            "version": "1.0",
        }

    def test_an_unknown_id_is_not_found(self, client: TestClient) -> None:
        response = client.get(f"{SPECIFICATIONS}/no-such-spec")

        assert_tmf_error(response, 404, "notFound", mentions=("no-such-spec",))


class TestListingSpecifications:
    def test_an_empty_collection_is_an_empty_page_with_zero_counts(
        self, client: TestClient
    ) -> None:
        response = client.get(SPECIFICATIONS)

        assert response.status_code == 200
        assert response.json() == []
        assert response.headers["X-Total-Count"] == "0"
        assert response.headers["X-Result-Count"] == "0"

    def test_the_list_pages_in_creation_order_with_counts(self, client: TestClient) -> None:
        specifications = [
            created(client, SPECIFICATIONS, a_specification(name=f"Spec {n}")) for n in range(4)
        ]

        everything = client.get(SPECIFICATIONS)
        page = client.get(SPECIFICATIONS, params={"offset": 1, "limit": 2})

        assert everything.json() == specifications
        assert everything.headers["X-Total-Count"] == "4"
        assert everything.headers["X-Result-Count"] == "4"
        assert page.json() == specifications[1:3]
        assert page.headers["X-Total-Count"] == "4"
        assert page.headers["X-Result-Count"] == "2"

    def test_specifications_and_tickets_are_separate_collections(self, client: TestClient) -> None:
        created(client, SPECIFICATIONS, a_specification())

        assert total(client, "/tmf-api/troubleTicket/v5/troubleTicket") == 0
        assert total(client, SPECIFICATIONS) == 1


class TestPatchingASpecification:
    @pytest.mark.parametrize("media_type", [MERGE_PATCH, "application/json"])
    def test_a_merge_patch_changes_the_given_attributes_and_last_update(
        self, client: TestClient, clock: FrozenClock, media_type: str
    ) -> None:
        specification = created(client, SPECIFICATIONS, a_specification())
        clock.advance(hours=1)

        response = patch(
            client,
            url(specification),
            {
                **TYPE,
                "lifecycleStatus": "retired",
                "version": None,
                "description": "No longer used",
            },
            media_type=media_type,
        )

        assert response.status_code == 200, response.text
        expected = {
            **specification,
            "lifecycleStatus": "retired",
            "description": "No longer used",
            "lastUpdate": "2026-11-20T09:00:00.000Z",
        }
        del expected["version"]
        assert response.json() == expected
        assert client.get(url(specification)).json() == expected

    def test_the_name_cannot_be_removed(self, client: TestClient) -> None:
        specification = created(client, SPECIFICATIONS, a_specification())

        response = patch(client, url(specification), {**TYPE, "name": None})

        assert_tmf_error(response, 400, "invalidRequest", mentions=("name",))
        assert client.get(url(specification)).json() == specification

    def test_a_patch_changing_the_id_is_a_conflict_and_another_href_is_ignored(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        specification = created(client, SPECIFICATIONS, a_specification())
        clock.advance(minutes=1)

        response = patch(client, url(specification), {**TYPE, "id": "other"})
        assert_tmf_error(response, 409, "identityChange", mentions=("id",))
        assert client.get(url(specification)).json() == specification

        response = patch(
            client, url(specification), {**TYPE, "href": "https://elsewhere.example/spec/1"}
        )
        assert response.status_code == 200, response.text
        assert response.json() == specification

    @pytest.mark.parametrize(
        ("attribute", "value"),
        [
            ("creationDate", "2020-01-01T00:00:00.000Z"),
            ("lastUpdate", "2020-01-01T00:00:00.000Z"),
        ],
    )
    def test_a_patch_changing_a_server_owned_attribute_is_refused_and_changes_nothing(
        self, client: TestClient, clock: FrozenClock, attribute: str, value: str
    ) -> None:
        specification = created(client, SPECIFICATIONS, a_specification())
        clock.advance(minutes=1)

        response = patch(client, url(specification), {**TYPE, "version": "2.0", attribute: value})

        assert_tmf_error(response, 400, "serverOwnedField", mentions=(attribute,))
        assert client.get(url(specification)).json() == specification

    def test_a_patch_echoing_the_server_owned_attributes_is_accepted(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        specification = created(client, SPECIFICATIONS, a_specification())
        clock.advance(minutes=1)
        echoed = {key: specification[key] for key in ("id", "href", "creationDate", "lastUpdate")}

        response = patch(client, url(specification), {**TYPE, **echoed, "version": "2.0"})

        assert response.status_code == 200, response.text
        assert response.json() == {
            **specification,
            "version": "2.0",
            "lastUpdate": "2026-11-20T08:01:00.000Z",
        }

    def test_patching_an_unknown_id_is_not_found(self, client: TestClient) -> None:
        response = patch(client, f"{SPECIFICATIONS}/nope", {**TYPE, "version": "2.0"})

        assert_tmf_error(response, 404, "notFound", mentions=("nope",))


class TestDeletingASpecification:
    def test_delete_answers_204_with_an_empty_body_and_the_specification_is_gone(
        self, client: TestClient
    ) -> None:
        specification = created(client, SPECIFICATIONS, a_specification())

        response = client.delete(url(specification))

        assert response.status_code == 204
        assert response.content == b""
        assert_tmf_error(client.get(url(specification)), 404, "notFound")
        assert total(client, SPECIFICATIONS) == 0

    def test_deleting_twice_is_not_found_the_second_time(self, client: TestClient) -> None:
        specification = created(client, SPECIFICATIONS, a_specification())
        client.delete(url(specification))

        response = client.delete(url(specification))

        assert_tmf_error(response, 404, "notFound", mentions=(specification["id"],))
