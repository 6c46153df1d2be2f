"""ASGI middleware that shapes requests before Connexion routes and validates them.

* ``TrailingSlashMiddleware``: ``/troubleTicket/`` and ``/troubleTicket/{id}/`` are answered as
  if the slash were absent. Conformance kits request such URLs; Starlette would answer them with a
  307 to an address built from the request's Host, which behind a proxy is the wrong one.
* ``RequestIdMiddleware`` (outermost): a request id for every request, on every answer that id
  and the security headers, and for every request one line on the access log.
* ``MediaTypeMiddleware``: the request's media type in lower case (media types are not case
  sensitive, Connexion's choice of a body validator is), and 415 for a body without one.
* ``BodyLimitMiddleware``: a body over the limit gets 413 before it is read whole. A body sent
  chunked (no ``Content-Length``) is read here up to the limit and handed on with its length
  declared, because Connexion treats a request without ``Content-Length`` as having no body.

Both raise domain errors; Connexion's exception middleware, which sits outside them, turns those
into TMF Error responses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from troubleticket import context as request_ids
from troubleticket import logs
from troubleticket.api.errors import MalformedBody, PayloadTooLarge, UnsupportedMediaType


class TrailingSlashMiddleware:
    """Serve ``<prefix>/<path>/`` as ``<prefix>/<path>`` for API paths under ``prefix``."""

    def __init__(self, app: ASGIApp, *, prefix: str, keep: tuple[str, ...] = ()) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/") + "/"
        self.keep = keep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] == "http"
            and path.endswith("/")
            and path.startswith(self.prefix)
            and len(path) > len(self.prefix)
            and not path.startswith(self.keep)
        ):
            scope = dict(scope, path=path.rstrip("/"))
            if "raw_path" in scope:
                scope["raw_path"] = scope["raw_path"].rstrip(b"/")
        await self.app(scope, receive, send)


class MediaTypeMiddleware:
    """Hand Connexion the request's media type in lower case, and refuse a body without one.

    Connexion picks the body's validator by the exact media type, and with none for
    ``APPLICATION/JSON`` (or no ``Content-Type`` at all) it would hand the handler the raw
    bytes unchecked. RFC 9110 makes type, subtype and parameter names case-insensitive.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        declared = [value for name, value in headers if name.lower() == b"content-type"]
        media_type = declared[0].split(b";", 1)[0].strip() if declared else b""
        if not media_type:
            if _has_body(headers):
                raise UnsupportedMediaType(
                    "The request has a body but no Content-Type; send application/json "
                    "(or, for a PATCH, one of the formats the operation accepts)"
                )
        elif media_type != media_type.lower():
            rest = declared[0][len(declared[0].split(b";", 1)[0]) :]
            lowered = media_type.lower() + rest
            scope = dict(scope)
            scope["headers"] = [
                (name, lowered if name.lower() == b"content-type" else value)
                for name, value in headers
            ]
        await self.app(scope, receive, send)


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length" and value.strip() not in (b"0", b""):
            return True
        if lowered == b"transfer-encoding":
            return True
    return False


class BodyLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise MalformedBody(f"Content-Length {declared!r} is not a number of bytes")
            if int(declared) > self.max_bytes:
                raise self._too_large()
            await self.app(scope, receive, send)
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_whole(receive)
            scope = dict(scope)
            scope["headers"] = [
                *(h for h in scope["headers"] if h[0].lower() != b"transfer-encoding"),
                (b"content-length", str(len(body)).encode()),
            ]
            await self.app(scope, _replay(body, receive), send)
        else:
            await self.app(scope, receive, send)

    async def _read_whole(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body exceeds the limit of {self.max_bytes} bytes")


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that yields ``body`` once, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


# -- request ids and security headers -----------------------------------------------------------

# Answers are JSON for programs: nothing to sniff, frame, cache or refer from.
_API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_CSP = "default-src 'none'; frame-ancestors 'none'"
# The console's pages (``console_prefix``) load their own scripts, styles and the live board's
# stream, from this server only; nothing inline, no framing, no other form target.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


# What the access line and the metrics say of one answered request: request id, method, path,
# status, seconds, operationId, actor, party.
_Answered = tuple[str, str, str, int, float, str | None, str | None, str | None]


class RequestIdMiddleware:
    """Give every request an id, and every answer that id and the security headers.

    The id is the request's ``X-Request-ID`` when it is a plain token of at most 128 characters
    (a gateway's or the client's own), a new UUID otherwise; the answer carries it back, error
    bodies name it, the audit records it. The security headers: ``nosniff``, no framing, no
    referrer, ``Cache-Control: no-store`` unless the answer sets its own, a CSP allowing nothing
    (except on the Swagger UI, ``ui_prefix``, which runs scripts, and on the console,
    ``console_prefix``, whose CSP allows its own scripts, styles and stream), and HSTS when the
    server is reached over HTTPS (``hsts``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        ui_prefix: str | tuple[str, ...],
        console_prefix: str | None = None,
        console_csp: str = CONSOLE_CSP,
        hsts: bool = False,
        observe: Callable[[str | None, int, float], None] | None = None,
    ) -> None:
        """``observe`` is told every answered request: its operationId (``None`` when no
        operation matched), status and duration in seconds (the request metrics)."""
        self.app = app
        self.ui_prefix = ui_prefix
        self.console_prefix = console_prefix
        self.console_csp = console_csp
        self.hsts = hsts
        self.observe = observe
        self._answered: list[_Answered] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_ids.request_id_for(
            Headers(scope=scope).get(request_ids.REQUEST_ID_HEADER)
        )
        facts: dict[str, str] = {}
        token = request_ids.bind(request_id, facts)
        # Connexion's routing names the operation here (shared with copies of the scope made
        # further in), so a request refused before its handler runs is still attributed to it
        extensions = scope.setdefault("extensions", {})
        path: str = scope.get("path", "")
        ui = path.startswith(self.ui_prefix)
        console = self.console_prefix is not None and (
            path == self.console_prefix or path.startswith(self.console_prefix + "/")
        )
        status = 500  # unless an answer starts

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[request_ids.REQUEST_ID_HEADER] = request_id
                for name, value in _API_HEADERS.items():
                    headers.setdefault(name, value)
                if console:
                    headers.setdefault("Content-Security-Policy", self.console_csp)
                elif not ui:
                    headers.setdefault("Content-Security-Policy", _CSP)
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - started
            operation_id = facts.get("operationId") or extensions.get("connexion_routing", {}).get(
                "operation_id"
            )
            answered = (
                request_id,
                scope["method"],
                scope["path"],
                status,
                seconds,
                operation_id,
                facts.get("actor"),
                facts.get("party"),
            )
            request_ids.unbind(token)
            self._answered.append(answered)
            if len(self._answered) == 1:
                asyncio.get_running_loop().call_soon(self._record)

    def _record(self) -> None:
        """The access lines and request metrics of the requests answered in this turn of the
        event loop, taken at its end: together they cost less than one at a time in between,
        and the lines leave in one write."""
        answered, self._answered = self._answered, []
        with logs.held():
            for request_id, method, path, status, seconds, operation_id, actor, party in answered:
                logs.access(
                    method=method,
                    path=path,
                    status=status,
                    duration_ms=seconds * 1000,
                    operation_id=operation_id,
                    actor=actor,
                    party=party,
                    request_id=request_id,
                )
                if self.observe is not None:
                    self.observe(operation_id, status, seconds)
