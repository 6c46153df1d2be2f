"""Admission: requests beyond the bound under way get 503, over-long targets 414; in the app,
both answers carry the request id and the security headers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.assertions import assert_tmf_error
from tests.builders import TICKETS
from troubleticket.api.admission import AdmissionMiddleware
from troubleticket.app import create_app
from troubleticket.config import Settings
from troubleticket.store.sqlite import SqliteStore


class Held:
    """An ASGI app whose requests stay under way until released."""

    def __init__(self) -> None:
        self.entered = 0
        self.release = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.entered += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def scope(path: str = "/x", query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [],
    }


async def call(app: Any, request: dict[str, Any]) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(request, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), b"".join(m["body"] for m in sent[1:])


def test_beyond_the_bound_a_request_gets_503_without_entering_the_app() -> None:
    async def scenario() -> None:
        inner = Held()
        admission = AdmissionMiddleware(inner, max_concurrent=2, max_url_bytes=100)
        under_way = [asyncio.create_task(call(admission, scope())) for _ in range(2)]
        await asyncio.sleep(0)

        status, headers, body = await call(admission, scope())
        assert (status, headers[b"retry-after"]) == (503, b"1")
        assert headers[b"content-type"] == b"application/json"
        assert json.loads(body)["code"] == "serviceUnavailable"
        assert inner.entered == 2

        inner.release.set()
        assert [(await task)[0] for task in under_way] == [204, 204]
        assert (await call(admission, scope()))[0] == 204  # room again
        assert admission.under_way == 0

    asyncio.run(scenario())


def test_a_request_that_fails_gives_its_place_back() -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    async def scenario() -> None:
        admission = AdmissionMiddleware(failing, max_concurrent=1, max_url_bytes=100)
        with pytest.raises(RuntimeError):
            await call(admission, scope())
        assert admission.under_way == 0

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/" + "a" * 99, b"", 204),  # 100 bytes: at the limit
        ("/" + "a" * 100, b"", 414),
        ("/" + "a" * 90, b"q=" + b"b" * 6, 204),  # 91 + "?" + 8
        ("/" + "a" * 90, b"q=" + b"b" * 7, 414),
    ],
)
def test_a_target_over_the_limit_gets_414(path: str, query: bytes, status: int) -> None:
    async def scenario() -> None:
        inner = Held()
        inner.release.set()
        admission = AdmissionMiddleware(inner, max_concurrent=1, max_url_bytes=100)
        got, _, body = await call(admission, scope(path, query))
        assert got == status
        if status == 414:
            assert json.loads(body)["code"] == "uriTooLong" and inner.entered == 0

    asyncio.run(scenario())


def test_other_scopes_pass_through() -> None:
    async def scenario() -> None:
        seen: list[str] = []

        async def inner(scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope["type"])

        async def receive() -> dict[str, Any]:
            return {"type": "lifespan.startup"}

        async def send(message: Any) -> None:
            pass

        admission = AdmissionMiddleware(inner, max_concurrent=1, max_url_bytes=1)
        await admission({"type": "lifespan"}, receive, send)
        assert seen == ["lifespan"]

    asyncio.run(scenario())


# -- in the app ---------------------------------------------------------------------------------


def settings(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(store=str(tmp_path / "a.sqlite3"), dispatch="off", **changes)


def assert_app_headers(response: httpx.Response) -> None:
    """What RequestIdMiddleware adds to every answer."""
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_in_the_app_an_over_long_target_gets_a_tmf_414_with_the_request_id(
    tmp_path: Path,
) -> None:
    app = create_app(settings(tmp_path, max_url_bytes=200))
    with app.test_client() as client:
        response = client.get(f"{TICKETS}?description={'x' * 200}")
        assert client.get(f"{TICKETS}?description=x").status_code == 200

    assert_tmf_error(response, 414, "uriTooLong", mentions=("200 bytes",))
    assert_app_headers(response)


def test_in_the_app_a_request_beyond_the_bound_gets_a_tmf_503_and_probes_still_answer(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "a.sqlite3")
    app = create_app(settings(tmp_path, max_concurrent_requests=1), store=store)

    async def scenario() -> None:
        body_sent = asyncio.Event()
        finish = asyncio.Event()

        async def slow_body() -> AsyncIterator[bytes]:
            yield b'{"description": "held'
            body_sent.set()
            await finish.wait()
            yield b'"}'

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tt") as client:
            held = asyncio.create_task(
                client.post(
                    TICKETS,
                    content=slow_body(),
                    headers={"content-type": "application/json", "content-length": "23"},
                )
            )
            await body_sent.wait()

            refused = await client.get(TICKETS)
            assert_tmf_error(refused, 503, "serviceUnavailable")
            assert refused.headers["retry-after"] == "1"
            assert_app_headers(refused)
            assert (await client.get("/health/live")).status_code == 200

            finish.set()
            assert (await held).status_code in (201, 400)  # answered, whatever it made of it
            assert (await client.get(TICKETS)).status_code == 200

    try:
        asyncio.run(scenario())
    finally:
        store.close()
