"""``GET /metrics`` on the API's port, outside the TMF contract (``troubleticket.metrics``).

It is served here unless ``TT_METRICS_PORT`` gives the metrics a port of their own. With
``TT_METRICS_TOKEN`` a scrape must send ``Authorization: Bearer <token>``; under
``TT_AUTH=jwt`` a token is required (the figures name hubs and partners), and without one the
endpoint answers 401 saying so. Failures are TMF Error documents, as everywhere on this port.
"""

from __future__ import annotations

import orjson
from prometheus_client import CollectorRegistry
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from troubleticket import metrics, metrics_scrape
from troubleticket.api.errors import REALM, error_body


class MetricsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        collected: CollectorRegistry,
        token: str | None,
        token_required: bool,
    ) -> None:
        self.app = app
        self._collected = collected
        self._token = token
        self._token_required = token_required

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != metrics.PATH:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await self._error(send, 405, "methodNotAllowed", "GET only", [(b"allow", b"GET, HEAD")])
            return
        if self._token is None and self._token_required:
            message = (
                "Metrics on the API port need TT_METRICS_TOKEN under TT_AUTH=jwt "
                "(or TT_METRICS_PORT for a port of their own)"
            )
            await self._error(
                send, 401, "unauthorized", message, [(b"www-authenticate", REALM.encode())]
            )
            return
        if not metrics_scrape.authorized(Headers(scope=scope).get("authorization"), self._token):
            message = "A bearer token for the metrics (TT_METRICS_TOKEN) is needed"
            await self._error(
                send, 401, "unauthorized", message, [(b"www-authenticate", REALM.encode())]
            )
            return
        # the store's figures may be counted now: not on the event loop
        body = await run_in_threadpool(metrics_scrape.exposition, self._collected)
        headers = [
            (b"content-type", metrics.CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    @staticmethod
    async def _error(
        send: Send, status: int, code: str, message: str, extra: list[tuple[bytes, bytes]]
    ) -> None:
        encoded = orjson.dumps(error_body(status, code, message))
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(encoded)).encode()),
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": encoded})
