"""How ``troubleticket serve`` runs uvicorn, and what one connection may hold of a server process.

uvicorn on its own waits for ever for a request's headers, holds any number of connections,
reads request heads of any size, names itself in a ``server`` header and answers what it cannot
parse in plain text. ``BoundedHttpProtocol`` (uvicorn's httptools protocol, bounded) gives a
client ``header_timeout`` to send a request line and headers (from the connection's opening, or
from the end of the answer before on a keep-alive connection) and ``body_timeout`` to send the
body (from the end of the headers), each 408 beyond; holds at most ``max_connections``
connections, answering more with 503 and ``Retry-After: 1`` without involving the app; and
refuses a request target longer than ``max_url_bytes`` (414) and a request head longer than that
plus ``HEADER_FIELDS_BYTES`` (431) as soon as it has read that much. Every answer it makes itself
is a TMF Error, as the app's are. An idle keep-alive connection is closed after
``idle_timeout`` (uvicorn's ``timeout_keep_alive``).

How many requests are handled at once is bounded in the app (``api/admission.py``), where a
refusal still carries the request id and the security headers.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from troubleticket.config import Settings
from troubleticket.context import REQUEST_ID_HEADER, request_id_for

logger = logging.getLogger(__name__)

# What a request head may hold besides its target: a few kilobytes are usual, a large bearer
# token is some more; every server bounds it (nginx 32 KiB, Node 16 KiB).
HEADER_FIELDS_BYTES = 64 * 1024
# httptools cannot split a longer request target into its parts (it answers 400): a larger
# TT_MAX_URL_BYTES counts as this.
HTTPTOOLS_URL_BYTES = 65_535
# After refusing a request the server reads and drops what the client still sends for at most
# this long before closing: closing with unread data would reset the connection, and a client
# still sending could lose the answer.
LINGER_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one connection, and all of a process's together, may hold."""

    header_timeout: float
    body_timeout: float
    max_connections: int
    max_url_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            max_connections=settings.max_connections,
            max_url_bytes=min(settings.max_url_bytes, HTTPTOOLS_URL_BYTES),
        )

    @property
    def max_head_bytes(self) -> int:
        """The longest request line and headers together."""
        return self.max_url_bytes + HEADER_FIELDS_BYTES


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run`` for ``settings``, with one process or several."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        # logging as logs.configure set it up, in the chosen format (each process of --workers
        # configures its own: workers.app)
        "log_config": None,
        "access_log": False,  # one line per request comes from the app (logs.ACCESS)
        "server_header": False,  # no banner telling a prober what to try
        "timeout_keep_alive": settings.idle_timeout,
        "http": protocol(ConnectionLimits.of(settings)),
        "ws": "none",  # the API has no WebSocket; an upgrade would leave these bounds behind
    }


def protocol(limits: ConnectionLimits) -> Callable[..., BoundedHttpProtocol]:
    """What uvicorn makes each connection's protocol with, under ``limits``.

    uvicorn calls it as it would a protocol class. A partial of a module-level class can be
    pickled, so it reaches the processes of ``serve --workers`` with its limits, and no class or
    module state is shared between two servers (or tests).
    """
    return functools.partial(BoundedHttpProtocol, limits=limits)


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that is refused."""


_Refusal = tuple[int, str, str]


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with time and size bounds; see the module's docstring."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits or ConnectionLimits.of(Settings())
        # the one deadline running: the head's, the body's, or the end of lingering
        self._timer: asyncio.TimerHandle | None = None
        # between the end of a request's headers and the end of its body
        self._reading_body = False
        # bytes of the request head being read (counted from its first)
        self._head_bytes = 0
        self._heads = 0  # request heads read whole on this connection
        self._refusal: _Refusal | None = None  # why a parser callback stopped the parse
        self._refused = False  # answered by this protocol: the connection is ending

    # -- the connection ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(
                503,
                "serviceUnavailable",
                f"The server holds {self.limits.max_connections} connections, as many as it "
                "may; retry in 1 s",
                retry_after=True,
            )
            return
        self._expect(self.limits.header_timeout, self._head_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped until the connection closes
        if not self._reading_body:
            room = self.limits.max_head_bytes - self._head_bytes
            if len(data) > room:
                self._overflowing(data, room)
                return
            self._head_bytes += len(data)
        super().data_received(data)
        if (
            self._reading_body
            and self._timer is None
            and not self._refused
            # a request queued behind another is not read until that one is answered
            and not self.pipeline
        ):
            self._expect(self.limits.body_timeout, self._body_late)

    def _overflowing(self, data: bytes, room: int) -> None:
        """``data`` is more than the request head may still take: the head must end within the
        first ``room`` bytes (what follows is a body, or the next request)."""
        heads = self._heads
        self.data_received(data[:room])
        if self._refused or self.transport.is_closing():
            return
        if self._heads == heads:
            self._refuse(
                431,
                "requestHeaderFieldsTooLarge",
                f"The request line and headers exceed {self.limits.max_head_bytes} bytes",
            )
            return
        self.data_received(data[room:])

    # -- parser callbacks ----------------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_url_bytes:
            self._refusal = (
                414,
                "uriTooLong",
                f"The request target exceeds {self.limits.max_url_bytes} bytes",
            )
            raise _Refused  # httptools ends the parse with an error: send_400_response

    def on_headers_complete(self) -> None:
        self._stop_timer()
        self._reading_body = True
        self._heads += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_body = False
        self._head_bytes = 0
        if not self._refused:
            self._stop_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._refused or self.transport.is_closing():
            return
        if self.cycle.response_complete:
            # nothing else under way: the next request's head is due from now
            if not self._reading_body:
                self._expect(self.limits.header_timeout, self._head_late)
        elif self._reading_body and self._timer is None:
            # a request queued behind the one answered now starts: its body is read from now
            self._expect(self.limits.body_timeout, self._body_late)

    # -- deadlines -----------------------------------------------------------------------------

    def _expect(self, seconds: float, late: Callable[[], None]) -> None:
        self._stop_timer()
        self._timer = self.loop.call_later(seconds, late)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_late(self) -> None:
        self._timer = None
        if self._refused or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; the deadline is set again after it
        if self._head_bytes == 0:
            self.transport.close()  # nothing of a request came: there is nobody to answer
            return
        self._refuse(
            408,
            "requestTimeout",
            f"The request line and headers did not arrive within {self.limits.header_timeout:g} s",
        )

    def _body_late(self) -> None:
        self._timer = None
        if self._refused or self.transport.is_closing():
            return
        self._refuse(
            408,
            "requestTimeout",
            f"The request body did not arrive within {self.limits.body_timeout:g} s",
        )

    # -- answers of the protocol's own -----------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to what httptools cannot parse, and to what a callback refused
        refusal = self._refusal or (400, "badRequest", "The request is not valid HTTP/1.1")
        self._refuse(*refusal)

    def _refuse(self, status: int, code: str, message: str, *, retry_after: bool = False) -> None:
        """Answer with a TMF Error and end the connection.

        The app is not to answer a request it is handling here: it is told the client went away
        (its answer would be dropped). When its answer has begun nothing more can be said, and
        the connection is closed as it is.
        """
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        self._stop_timer()
        self._unset_keepalive_if_required()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if cycle.response_started:
                self.transport.close()
                return
            cycle.disconnected = True
            cycle.message_event.set()
        request_id = request_id_for(None)
        extra = [(b"retry-after", b"1")] if retry_after else []
        self.transport.write(
            error_answer(
                status,
                code,
                message,
                request_id,
                [*self.server_state.default_headers, *extra],
            )
        )
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        logger.warning(
            "%s %s: %s [request %s, client %s]", status, code, message, request_id, client
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the answer, then its end: the client reads both
        self.flow.resume_reading()  # what the client still sends is read and dropped
        self._timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)


def error_document(status: int, code: str, message: str, request_id: str) -> dict[str, str]:
    """The TMF Error body the protocol answers with: the shape of ``api.errors.error_body``
    (built here so the protocol needs nothing of the web framework)."""
    return {
        "@type": "Error",
        "code": code,
        "reason": HTTPStatus(status).phrase,
        "message": message,
        "status": str(status),
        "requestId": request_id,
    }


def error_answer(
    status: int,
    code: str,
    message: str,
    request_id: str,
    headers: list[tuple[bytes, bytes]],
) -> bytes:
    """A whole HTTP/1.1 answer carrying a TMF Error, after which the connection closes."""
    body = json.dumps(error_document(status, code, message, request_id)).encode()
    head = [
        *headers,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"cache-control", b"no-store"),
        (b"connection", b"close"),
    ]
    lines = [STATUS_LINE[status], *(name + b": " + value + b"\r\n" for name, value in head)]
    return b"".join([*lines, b"\r\n", body])
