"""Every failure leaves the server as a TMF Error with the right status and code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.assertions import assert_tmf_error, created, patch, total
from tests.builders import API, SPECIFICATIONS, TICKETS, a_ticket
from troubleticket.api.contract import load_spec
from troubleticket.app import create_app
from troubleticket.config import Settings

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from tests.conftest import FrozenClock

JSON = {"content-type": "application/json"}
LISTENER_PATHS = sorted(p for p in load_spec()["paths"] if p.startswith("/listener/"))


@pytest.fixture
def ticket(client: TestClient) -> dict[str, Any]:
    return created(client, TICKETS, a_ticket())


class TestMalformedBodies:
    @pytest.mark.parametrize(
        "raw",
        [
            pytest.param(b'{"description": "No dial tone",', id="truncated"),
            pytest.param(b"{'description': 'single quotes'}", id="single-quotes"),
            pytest.param(b'{"description": "x"} trailing', id="trailing-garbage"),
        ],
    )
    def test_malformed_json_is_a_400(self, client: TestClient, raw: bytes) -> None:
        response = client.post(TICKETS, content=raw, headers=JSON)

        assert_tmf_error(response, 400, "malformedBody", mentions=("JSON",))
        assert total(client, TICKETS) == 0

    def test_a_body_that_is_not_utf8_is_a_400_not_a_500(self, client: TestClient) -> None:
        response = client.post(TICKETS, content=b'{"description":"\xff"}', headers=JSON)

        assert_tmf_error(response, 400, "malformedBody", mentions=("utf-8",))

    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
    def test_non_finite_number_literals_are_a_400(self, client: TestClient, literal: str) -> None:
        raw = json.dumps(a_ticket())[:-1] + f', "amount": {literal}}}'

        response = client.post(TICKETS, content=raw.encode(), headers=JSON)

        assert_tmf_error(response, 400, "malformedBody", mentions=(literal,))
        assert total(client, TICKETS) == 0

    @pytest.mark.parametrize("opener", ["[", '{"a":'])
    def test_deeply_nested_json_is_a_400_not_a_500(self, client: TestClient, opener: str) -> None:
        response = client.post(TICKETS, content=(opener * 100_000).encode(), headers=JSON)

        assert_tmf_error(response, 400, "malformedBody")

    @pytest.mark.parametrize(
        ("number", "reason"),
        [
            ("1e309", "range of a double"),
            ("-1e309", "range of a double"),
            ("9223372036854775808", "64-bit"),
            ("-9223372036854775809", "64-bit"),
            ("123456789012345678901234567890", "64-bit"),
        ],
    )
    def test_a_number_no_store_keeps_is_a_400_and_nothing_is_stored(
        self, client: TestClient, number: str, reason: str
    ) -> None:
        raw = json.dumps(a_ticket())[:-1] + f', "amount": {number}}}'

        response = client.post(TICKETS, content=raw.encode(), headers=JSON)

        assert_tmf_error(response, 400, "malformedBody", mentions=(number, reason))
        assert total(client, TICKETS) == 0

    def test_the_largest_64_bit_integers_are_kept_exactly(self, client: TestClient) -> None:
        raw = (
            json.dumps(a_ticket())[:-1]
            + ', "big": 9223372036854775807, "small": -9223372036854775808}'
        )

        response = client.post(TICKETS, content=raw.encode(), headers=JSON)

        assert response.status_code == 201, response.text
        stored = client.get(f"{TICKETS}/{response.json()['id']}").json()
        assert (stored["big"], stored["small"]) == (2**63 - 1, -(2**63))

    def test_a_lone_surrogate_in_a_string_is_a_400(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        raw = rb'{"@type": "TroubleTicket", "description": "broken \\ud800 \ud800 pair"}'

        created_ = client.post(TICKETS, content=raw, headers=JSON)
        patched = client.patch(f"{TICKETS}/{ticket['id']}", content=raw, headers=JSON)

        assert_tmf_error(created_, 400, "malformedBody", mentions=("surrogate",))
        assert_tmf_error(patched, 400, "malformedBody", mentions=("surrogate",))
        assert total(client, TICKETS) == 1
        assert client.get(f"{TICKETS}/{ticket['id']}").json() == ticket

    def test_nesting_beyond_64_levels_is_a_400(self, client: TestClient) -> None:
        deep = a_ticket(
            troubleTicketCharacteristic=[
                {
                    "@type": "ObjectCharacteristic",
                    "name": "n",
                    "value": json.loads("[" * 70 + "]" * 70),
                }
            ]
        )

        response = client.post(TICKETS, content=json.dumps(deep).encode(), headers=JSON)

        assert_tmf_error(response, 400, "malformedBody", mentions=("64 levels",))

    def test_an_empty_body_on_create_is_a_400(self, client: TestClient) -> None:
        response = client.post(TICKETS, content=b"", headers=JSON)

        assert_tmf_error(response, 400, "invalidRequest")
        assert total(client, TICKETS) == 0

    def test_a_whitespace_only_body_on_create_is_a_400(self, client: TestClient) -> None:
        response = client.post(TICKETS, content=b"  \n ", headers=JSON)

        assert_tmf_error(response, 400, "invalidRequest", mentions=("empty",))

    def test_an_empty_body_on_patch_is_a_400(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        response = client.patch(f"{TICKETS}/{ticket['id']}", content=b"", headers=JSON)

        assert_tmf_error(response, 400, "invalidRequest")
        assert client.get(f"{TICKETS}/{ticket['id']}").json() == ticket

    @pytest.mark.parametrize("raw", [b"[]", b'"ticket"', b"42", b"null"])
    def test_a_body_that_is_not_an_object_is_a_400(self, client: TestClient, raw: bytes) -> None:
        response = client.post(TICKETS, content=raw, headers=JSON)

        assert_tmf_error(response, 400, "invalidRequest")
        assert total(client, TICKETS) == 0

    def test_malformed_json_on_patch_is_a_400_and_changes_nothing(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        response = client.patch(
            f"{TICKETS}/{ticket['id']}",
            content=b'{"name": ',
            headers={"content-type": "application/merge-patch+json"},
        )

        assert_tmf_error(response, 400, "malformedBody")
        assert client.get(f"{TICKETS}/{ticket['id']}").json() == ticket


class TestSchemaViolations:
    def test_a_missing_required_attribute_is_named(self, client: TestClient) -> None:
        body = a_ticket()
        del body["description"]

        response = client.post(TICKETS, json=body)

        assert_tmf_error(response, 400, "invalidRequest", mentions=("description",))
        assert total(client, TICKETS) == 0

    def test_an_attribute_of_the_wrong_type_is_named(self, client: TestClient) -> None:
        response = client.post(TICKETS, json=a_ticket(severity=3))

        assert_tmf_error(response, 400, "invalidRequest", mentions=("severity",))

    def test_a_nested_sub_object_missing_a_required_attribute_is_named_by_its_path(
        self, client: TestClient
    ) -> None:
        party = {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "partyOrPartyRole": {"@type": "PartyRef", "id": "9"},
        }

        response = client.post(TICKETS, json=a_ticket(relatedParty=[party]))

        assert_tmf_error(response, 400, "invalidRequest", mentions=("role", "relatedParty.0"))
        assert total(client, TICKETS) == 0

    def test_a_malformed_date_time_is_named(self, client: TestClient) -> None:
        response = client.post(TICKETS, json=a_ticket(requestedResolutionDate="tomorrow"))

        assert_tmf_error(response, 400, "invalidRequest", mentions=("requestedResolutionDate",))

    def test_a_patch_with_an_attribute_of_the_wrong_type_is_named_and_changes_nothing(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        response = patch(
            client, f"{TICKETS}/{ticket['id']}", {"@type": "TroubleTicket", "severity": ["Major"]}
        )

        assert_tmf_error(response, 400, "invalidRequest", mentions=("severity",))
        assert client.get(f"{TICKETS}/{ticket['id']}").json() == ticket


class TestPolymorphicValues:
    def test_a_value_is_checked_as_the_class_its_type_names(self, client: TestClient) -> None:
        # a valid AttachmentRef (an id), but it says it is an Attachment
        response = client.post(
            TICKETS, json=a_ticket(attachment=[{"@type": "Attachment", "id": "a-1"}])
        )

        assert_tmf_error(
            response,
            400,
            "invalidRequest",
            mentions=("checked as @type Attachment", "attachment.0"),
        )
        assert total(client, TICKETS) == 0

    def test_a_reference_is_taken_as_a_reference(self, client: TestClient) -> None:
        response = client.post(
            TICKETS, json=a_ticket(attachment=[{"@type": "AttachmentRef", "id": "a-1"}])
        )

        assert response.status_code == 201, response.text
        assert response.json()["attachment"] == [{"@type": "AttachmentRef", "id": "a-1"}]


class TestUnknownResources:
    @pytest.mark.parametrize("collection", [TICKETS, SPECIFICATIONS])
    @pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
    def test_an_unknown_id_is_a_404_naming_it(
        self, client: TestClient, collection: str, method: str
    ) -> None:
        kwargs: dict[str, Any] = {}
        if method == "PATCH":
            kind = "TroubleTicket" if collection == TICKETS else "TroubleTicketSpecification"
            kwargs = {"json": {"@type": kind, "description": "x"}}

        response = client.request(method, f"{collection}/missing-42", **kwargs)

        assert_tmf_error(response, 404, "notFound", mentions=("missing-42",))

    @pytest.mark.parametrize(
        "path",
        [
            f"{API}/troubleTickets",
            f"{API}/nothing/here",
            "/nowhere",
            "/tmf-api/troubleTicket/v3/troubleTicket",
        ],
    )
    def test_an_unknown_path_is_a_404_tmf_error(self, client: TestClient, path: str) -> None:
        response = client.get(path)

        assert_tmf_error(response, 404, "notFound", mentions=(path,))


ITEM_METHODS = {"GET", "PATCH", "DELETE", "HEAD"}
COLLECTION_METHODS = {"GET", "POST", "HEAD"}


class TestMethodNotAllowed:
    @pytest.mark.parametrize(
        ("method", "path", "allowed"),
        [
            ("PUT", f"{TICKETS}/some-id", ITEM_METHODS),
            ("POST", f"{TICKETS}/some-id", ITEM_METHODS),
            ("PUT", TICKETS, COLLECTION_METHODS),
            ("DELETE", TICKETS, COLLECTION_METHODS),
            ("PATCH", TICKETS, COLLECTION_METHODS),
            ("PUT", f"{SPECIFICATIONS}/some-id", ITEM_METHODS),
            ("DELETE", SPECIFICATIONS, COLLECTION_METHODS),
        ],
    )
    def test_a_method_the_path_does_not_offer_is_a_405_with_the_documented_allow(
        self, client: TestClient, method: str, path: str, allowed: set[str]
    ) -> None:
        response = client.request(method, path, json=a_ticket())

        assert_tmf_error(response, 405, "methodNotAllowed", mentions=(method,))
        listed = [m.strip() for m in response.headers["Allow"].split(",")]
        assert sorted(listed) == sorted(allowed)
        assert len(listed) == len(set(listed))

    def test_a_refused_put_changes_nothing(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        client.put(f"{TICKETS}/{ticket['id']}", json=a_ticket(name="Replaced"))

        assert client.get(f"{TICKETS}/{ticket['id']}").json() == ticket


class TestUnsupportedMediaTypes:
    @pytest.mark.parametrize(
        "media_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"]
    )
    def test_create_with_a_non_json_media_type_is_a_415(
        self, client: TestClient, media_type: str
    ) -> None:
        response = client.post(
            TICKETS, content=json.dumps(a_ticket()), headers={"content-type": media_type}
        )

        assert_tmf_error(response, 415, "unsupportedMediaType", mentions=(media_type,))
        assert total(client, TICKETS) == 0

    @pytest.mark.parametrize("media_type", ["text/plain", "application/xml"])
    def test_patch_with_a_non_json_media_type_is_a_415(
        self, client: TestClient, ticket: dict[str, Any], media_type: str
    ) -> None:
        response = patch(
            client,
            f"{TICKETS}/{ticket['id']}",
            {"@type": "TroubleTicket", "name": "x"},
            media_type=media_type,
        )

        assert_tmf_error(response, 415, "unsupportedMediaType", mentions=(media_type,))
        assert client.get(f"{TICKETS}/{ticket['id']}").json() == ticket

    @pytest.mark.parametrize(
        "media_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8", "application/JSON"]
    )
    def test_media_types_are_matched_without_regard_to_case(
        self, client: TestClient, media_type: str
    ) -> None:
        response = client.post(
            TICKETS, content=json.dumps(a_ticket()), headers={"content-type": media_type}
        )

        assert response.status_code == 201, response.text

    def test_a_patch_format_is_matched_without_regard_to_case(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        operations = [{"op": "replace", "path": "/name", "value": "Renamed"}]

        response = client.patch(
            f"{TICKETS}/{ticket['id']}",
            content=json.dumps(operations),
            headers={"content-type": "Application/JSON-Patch+JSON"},
        )

        assert response.status_code == 200, response.text
        assert response.json()["name"] == "Renamed"

    @pytest.mark.parametrize("header", [None, "", " ; charset=utf-8"])
    def test_a_body_without_a_media_type_is_a_415(
        self, client: TestClient, header: str | None
    ) -> None:
        headers = {} if header is None else {"content-type": header}
        request = client.build_request("POST", TICKETS, content=json.dumps(a_ticket()))
        request.headers.pop("content-type", None)
        request.headers.update(headers)

        response = client.send(request)

        assert_tmf_error(response, 415, "unsupportedMediaType", mentions=("Content-Type",))
        assert total(client, TICKETS) == 0


LIMIT = 1024


def oversized_ticket() -> bytes:
    raw = json.dumps(a_ticket(description="x" * 2 * LIMIT)).encode()
    assert len(raw) > LIMIT
    return raw


def in_chunks(raw: bytes, size: int = 100) -> Iterator[bytes]:
    """A body the client has to send chunked: a generator has no length."""
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


class TestTheBodySizeLimit:
    @pytest.fixture
    def small_limit(self, tmp_path: Path, clock: FrozenClock) -> Iterator[TestClient]:
        settings = Settings(max_body_bytes=LIMIT, store=str(tmp_path / "limit.sqlite3"))
        with create_app(settings, clock=clock).test_client() as test_client:
            yield test_client

    def test_a_body_over_the_limit_with_content_length_is_a_413(
        self, small_limit: TestClient
    ) -> None:
        response = small_limit.post(TICKETS, content=oversized_ticket(), headers=JSON)

        assert_tmf_error(response, 413, "payloadTooLarge", mentions=(str(LIMIT),))
        assert total(small_limit, TICKETS) == 0

    def test_a_patch_over_the_limit_is_a_413_and_changes_nothing(
        self, small_limit: TestClient
    ) -> None:
        ticket = created(small_limit, TICKETS, a_ticket())

        response = small_limit.patch(
            f"{TICKETS}/{ticket['id']}",
            content=oversized_ticket(),
            headers={"content-type": "application/merge-patch+json"},
        )

        assert_tmf_error(response, 413, "payloadTooLarge")
        assert small_limit.get(f"{TICKETS}/{ticket['id']}").json() == ticket

    def test_a_body_within_the_limit_is_accepted(self, small_limit: TestClient) -> None:
        raw = json.dumps(a_ticket(description="x" * 800)).encode()
        assert len(raw) <= LIMIT

        response = small_limit.post(TICKETS, content=raw, headers=JSON)

        assert response.status_code == 201, response.text

    def test_a_chunked_body_over_the_limit_is_a_413(self, small_limit: TestClient) -> None:
        response = small_limit.post(TICKETS, content=in_chunks(oversized_ticket()), headers=JSON)

        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert_tmf_error(response, 413, "payloadTooLarge", mentions=(str(LIMIT),))
        assert total(small_limit, TICKETS) == 0

    def test_a_chunked_body_within_the_limit_is_accepted(self, small_limit: TestClient) -> None:
        raw = json.dumps(a_ticket()).encode()

        response = small_limit.post(TICKETS, content=in_chunks(raw), headers=JSON)

        assert response.request.headers["transfer-encoding"] == "chunked"
        assert response.status_code == 201, response.text

    def test_a_content_length_that_is_not_a_number_is_a_400(self, small_limit: TestClient) -> None:
        response = small_limit.post(
            TICKETS, content=b"{}", headers={**JSON, "content-length": "lots"}
        )

        assert_tmf_error(response, 400, "malformedBody", mentions=("Content-Length",))


class TestFeaturesNotOffered:
    @pytest.mark.parametrize("collection", [TICKETS, SPECIFICATIONS])
    @pytest.mark.parametrize(
        "query",
        [{"filter": "note[*].author"}, {"status": "acknowledged", "filter": "$..author"}],
        ids=["jsonpath-wildcard", "attribute-with-recursive-descent"],
    )
    def test_a_list_query_the_server_cannot_honour_is_a_501_not_unfiltered_data(
        self, client: TestClient, collection: str, query: dict[str, str]
    ) -> None:
        created(client, TICKETS, a_ticket())

        response = client.get(collection, params=query)

        assert_tmf_error(response, 501, "notImplemented")
