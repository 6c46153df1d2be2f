"""Assertions and small request helpers shared by the HTTP API tests."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    from starlette.testclient import TestClient

BASE_URL = "https://tt.example.com"  # the base_url of the shared ``settings`` fixture
# requestId: an extension naming the request (its X-Request-ID), to find it in the logs
TMF_ERROR_KEYS = {"@type", "code", "reason", "message", "status", "requestId"}
MERGE_PATCH = "application/merge-patch+json"


def assert_tmf_error(
    response: httpx.Response, status: int, code: str, *, mentions: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The response is exactly a TMF Error with this status and code.

    Its message must contain each of ``mentions``; the parsed body is returned.
    """
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json", response.headers
    body: dict[str, Any] = response.json()
    assert set(body) == TMF_ERROR_KEYS, body
    assert body["@type"] == "Error", body
    assert body["code"] == code, body
    assert body["status"] == str(status), body
    assert body["reason"] == HTTPStatus(status).phrase, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    assert body["requestId"] == response.headers["x-request-id"], (body, response.headers)
    for word in mentions:
        assert word in body["message"], (word, body["message"])
    return body


def created(client: TestClient, collection: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a create request that must succeed; the created resource."""
    response = client.post(collection, json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def patch(
    client: TestClient, url: str, body: Any, *, media_type: str = MERGE_PATCH, **kwargs: Any
) -> httpx.Response:
    """PATCH ``body`` serialised as JSON under the given media type (and any other headers)."""
    headers = {"content-type": media_type, **kwargs.pop("headers", {})}
    return client.patch(  # type: ignore[no-any-return]
        url, content=json.dumps(body), headers=headers, **kwargs
    )


def total(client: TestClient, collection: str) -> int:
    """How many resources the collection holds, from X-Total-Count."""
    response = client.get(collection)
    assert response.status_code == 200, response.text
    return int(response.headers["X-Total-Count"])
