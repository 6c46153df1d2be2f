"""ETag, If-Match and If-None-Match over HTTP (RFC 9110 §13)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.api.assertions import MERGE_PATCH, assert_tmf_error
from tests.builders import TICKETS, a_ticket

if TYPE_CHECKING:
    from starlette.testclient import TestClient


def create(client: TestClient) -> tuple[str, str]:
    response = client.post(TICKETS, json=a_ticket())
    assert response.status_code == 201
    return f"{TICKETS}/{response.json()['id']}", response.headers["ETag"]


def patch(client: TestClient, url: str, body: dict[str, Any], **headers: str) -> Any:
    return client.patch(
        url,
        json={"@type": "TroubleTicket", **body},
        headers={"Content-Type": MERGE_PATCH, **headers},
    )


class TestEntityTags:
    def test_create_get_and_patch_carry_the_version_as_a_strong_etag(
        self, client: TestClient
    ) -> None:
        url, created_tag = create(client)
        assert created_tag == '"1"'
        assert client.get(url).headers["ETag"] == '"1"'
        assert patch(client, url, {"name": "renamed"}).headers["ETag"] == '"2"'
        assert client.get(url).headers["ETag"] == '"2"'

    def test_a_patch_that_changes_nothing_keeps_the_etag(self, client: TestClient) -> None:
        url, _ = create(client)
        first = patch(client, url, {"name": "same"}).headers["ETag"]
        assert patch(client, url, {"name": "same"}).headers["ETag"] == first


class TestIfMatch:
    def test_a_patch_naming_the_current_version_is_applied(self, client: TestClient) -> None:
        url, tag = create(client)
        response = patch(client, url, {"name": "mine"}, **{"If-Match": tag})
        assert response.status_code == 200
        assert response.json()["name"] == "mine"

    def test_a_patch_naming_a_stale_version_is_412_and_changes_nothing(
        self, client: TestClient
    ) -> None:
        url, stale = create(client)
        patch(client, url, {"name": "someone else's"})

        response = patch(client, url, {"name": "mine"}, **{"If-Match": stale})

        assert_tmf_error(response, 412, "preconditionFailed", mentions=("version 2",))
        assert client.get(url).json()["name"] == "someone else's"

    def test_a_list_of_tags_matches_any_of_them(self, client: TestClient) -> None:
        url, _ = create(client)
        response = patch(client, url, {"name": "x"}, **{"If-Match": '"7", "1"'})
        assert response.status_code == 200

    def test_star_matches_any_existing_version(self, client: TestClient) -> None:
        url, _ = create(client)
        assert patch(client, url, {"name": "x"}, **{"If-Match": "*"}).status_code == 200

    def test_a_weak_tag_never_matches_because_if_match_compares_strongly(
        self, client: TestClient
    ) -> None:
        url, _ = create(client)
        response = patch(client, url, {"name": "x"}, **{"If-Match": 'W/"1"'})
        assert_tmf_error(response, 412, "preconditionFailed")

    def test_a_malformed_header_is_a_400(self, client: TestClient) -> None:
        url, _ = create(client)
        response = patch(client, url, {"name": "x"}, **{"If-Match": "1"})
        assert_tmf_error(response, 400, "invalidRequest", mentions=("entity tag",))

    def test_a_delete_naming_a_stale_version_is_412_and_keeps_the_ticket(
        self, client: TestClient
    ) -> None:
        url, stale = create(client)
        patch(client, url, {"name": "changed"})

        assert_tmf_error(client.delete(url, headers={"If-Match": stale}), 412, "preconditionFailed")
        assert client.get(url).status_code == 200

    def test_a_delete_naming_the_current_version_deletes(self, client: TestClient) -> None:
        url, tag = create(client)
        assert client.delete(url, headers={"If-Match": tag}).status_code == 204
        assert client.get(url).status_code == 404

    def test_a_conditional_delete_of_an_unknown_ticket_is_404(self, client: TestClient) -> None:
        response = client.delete(f"{TICKETS}/nope", headers={"If-Match": '"1"'})
        assert_tmf_error(response, 404, "notFound")


class TestIfNoneMatch:
    def test_a_get_naming_the_current_version_is_304_without_a_body(
        self, client: TestClient
    ) -> None:
        url, tag = create(client)
        response = client.get(url, headers={"If-None-Match": tag})
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["ETag"] == tag

    def test_a_get_naming_an_older_version_returns_the_ticket(self, client: TestClient) -> None:
        url, old = create(client)
        patch(client, url, {"name": "newer"})
        response = client.get(url, headers={"If-None-Match": old})
        assert response.status_code == 200
        assert response.json()["name"] == "newer"

    def test_weak_comparison_applies_so_a_weak_tag_of_the_version_is_304(
        self, client: TestClient
    ) -> None:
        url, _ = create(client)
        assert client.get(url, headers={"If-None-Match": 'W/"1"'}).status_code == 304
