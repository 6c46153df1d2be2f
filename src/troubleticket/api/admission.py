"""Admission: how many requests one server process handles at once, and the longest request
target it takes.

Beyond ``max_concurrent`` requests under way, a request is answered at once with 503
``serviceUnavailable`` and ``Retry-After: 1``, without entering the app: a burst larger than the
process can work through is turned away in microseconds, instead of queueing for the store and
the worker threads where every request, the burst's and everyone else's, would become slow. A
request target (path and query, as sent) longer than ``max_url_bytes`` gets 414 ``uriTooLong``.
Under uvicorn the server's protocol (``troubleticket.server``) refuses such a target before
reading it whole; this check holds the rule wherever else the app is served.

``app.py`` wires this inside ``RequestIdMiddleware``, so a refusal carries the request id and
the security headers and has its access line, and outside tracing and Connexion's own
middlewares, so a refused request costs nothing further. ``/health/*`` and
``/metrics`` are answered by middlewares further out and are neither counted nor refused: a
liveness probe failing under load would get a busy process restarted, which only adds to the
load, and readiness says whether the process can work at all (its store, its loops), which load
does not change. Probes come a few a minute; the connection bound still covers them.
"""

from __future__ import annotations

import logging

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from troubleticket.api.errors import error_body
from troubleticket.context import current_request_id

logger = logging.getLogger(__name__)


class AdmissionMiddleware:
    """Refuse requests beyond ``max_concurrent`` under way (503) and over-long targets (414)."""

    def __init__(self, app: ASGIApp, *, max_concurrent: int, max_url_bytes: int) -> None:
        self.app = app
        self.max_concurrent = max_concurrent
        self.max_url_bytes = max_url_bytes
        # requests of this process under way; one event loop changes it, so no lock is needed
        self.under_way = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        target = len(raw_path) + (len(query) + 1 if query else 0)
        if target > self.max_url_bytes:
            await _refuse(
                send, 414, "uriTooLong", f"The request target exceeds {self.max_url_bytes} bytes"
            )
            return
        if self.under_way >= self.max_concurrent:
            await _refuse(
                send,
                503,
                "serviceUnavailable",
                f"The server is handling {self.max_concurrent} requests, as many as it may; "
                "retry in 1 s",
                [(b"retry-after", b"1")],
            )
            return
        self.under_way += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.under_way -= 1


async def _refuse(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    logger.warning("%s %s: %s [request %s]", status, code, message, current_request_id())
    body = orjson.dumps(error_body(status, code, message))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
