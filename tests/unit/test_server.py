"""The HTTP protocol's bounds, one connection at a time, over a transport that records what the
server writes (the end-to-end tests in ``tests/e2e/test_connections.py`` use real sockets)."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from troubleticket import context, server
from troubleticket.api.errors import error_body
from troubleticket.config import Settings
from troubleticket.server import BoundedHttpProtocol, ConnectionLimits

LIMITS = ConnectionLimits(
    header_timeout=0.1, body_timeout=0.1, max_connections=4, max_url_bytes=100
)
# long enough for a deadline of LIMITS to pass, on a slow machine too
PAST = 0.5
GET = b"GET /tmf-api/troubleTicket/v5/troubleTicket HTTP/1.1\r\nHost: tt\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    """What the server writes, and whether it ended its side or closed the connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self.protocol: asyncio.Protocol | None = None
        self.written = bytearray()
        self.ended = False  # write_eof: nothing more is sent, the client may still send
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.ended and not self.closed, "written after the end"
        self.written += data

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.ended = True

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            assert self.protocol is not None
            self._loop.call_soon(self.protocol.connection_lost, None)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class App:
    """An ASGI app that reads the whole body and answers 200 with its length."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.disconnected = 0

    async def __call__(self, scope: Any, receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected += 1
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.requests.append(body)
        answer = str(len(body)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(answer)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer})


class Server:
    """Connections to one set of protocols sharing a server state, as uvicorn's would."""

    def __init__(self, limits: ConnectionLimits = LIMITS) -> None:
        self.app = App()
        self.config = Config(
            app=self.app,
            lifespan="off",
            log_config=None,
            server_header=False,
            timeout_keep_alive=60,  # the header deadline is what closes an idle connection here
            ws="none",
            interface="asgi3",
        )
        self.config.load()
        self.state = ServerState()
        self.limits = limits

    def connect(self) -> RecordingTransport:
        loop = asyncio.get_running_loop()
        protocol = server.protocol(self.limits)(
            config=self.config, server_state=self.state, app_state={}, _loop=loop
        )
        transport = RecordingTransport(loop)
        transport.protocol = protocol
        protocol.connection_made(transport)
        return transport


def run(scenario: Callable[[Server], Awaitable[None]], limits: ConnectionLimits = LIMITS) -> None:
    async def main() -> None:
        await scenario(Server(limits))

    asyncio.run(main())


def answer(transport: RecordingTransport) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body of the one answer written."""
    head, _, body = bytes(transport.written).partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


def assert_refused(transport: RecordingTransport, status: int, code: str) -> dict[str, Any]:
    """One TMF Error answer, then the end of the server's side of the connection."""
    got, headers, body = answer(transport)
    assert got == status, transport.written
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert "server" not in headers
    document: dict[str, Any] = json.loads(body)
    assert document["@type"] == "Error" and document["code"] == code
    assert document["status"] == str(status)
    assert document["requestId"] == headers["x-request-id"]
    assert transport.ended
    return document


def feed(transport: RecordingTransport, data: bytes) -> None:
    assert transport.protocol is not None
    transport.protocol.data_received(data)


def test_a_request_is_answered_by_the_app() -> None:
    async def scenario(served: Server) -> None:
        transport = served.connect()
        feed(transport, GET)
        await asyncio.sleep(0.01)

        status, headers, body = answer(transport)
        assert (status, body) == (200, b"0")
        assert "server" not in headers
        assert not transport.closed

    run(scenario)


def test_a_connection_beyond_the_limit_gets_503_without_the_app() -> None:
    async def scenario(served: Server) -> None:
        held = [served.connect() for _ in range(LIMITS.max_connections)]
        extra = served.connect()
        feed(extra, GET)  # dropped: the answer was given
        await asyncio.sleep(0.01)

        assert_refused(extra, 503, "serviceUnavailable")
        assert answer(extra)[1]["retry-after"] == "1"
        assert served.app.requests == []
        assert not any(t.written or t.closed for t in held)

    run(scenario)


def test_a_connection_that_sends_nothing_is_closed_without_an_answer() -> None:
    async def scenario(served: Server) -> None:
        transport = served.connect()
        await asyncio.sleep(PAST)

        assert transport.closed and not transport.written

    run(scenario)


def test_a_head_not_ended_in_time_gets_408() -> None:
    async def scenario(served: Server) -> None:
        transport = served.connect()
        feed(transport, GET[:20])
        await asyncio.sleep(PAST / 2)
        feed(transport, GET[20:30])  # more bytes do not move the deadline
        await asyncio.sleep(PAST / 2)

        document = assert_refused(transport, 408, "requestTimeout")
        assert "headers" in document["message"]
        assert served.app.requests == []

    run(scenario)


def test_after_an_answer_the_next_head_is_due_within_the_header_timeout() -> None:
    limits = replace(LIMITS, header_timeout=1.0)

    async def scenario(served: Server) -> None:
        transport = served.connect()
        await asyncio.sleep(0.6)
        feed(transport, GET)
        await asyncio.sleep(0.6)  # past the first deadline, which the request met
        assert not transport.closed and answer(transport)[0] == 200

        await asyncio.sleep(1.0)  # idle a whole timeout after the answer: closed, nothing said
        assert transport.closed and bytes(transport.written).count(b"HTTP/1.1") == 1

    run(scenario, limits)


def test_a_body_not_ended_in_time_gets_408_and_the_app_sees_a_disconnect() -> None:
    async def scenario(served: Server) -> None:
        transport = served.connect()
        feed(transport, b"POST /x HTTP/1.1\r\nHost: tt\r\nContent-Length: 10\r\n\r\nabc")
        await asyncio.sleep(PAST)

        document = assert_refused(transport, 408, "requestTimeout")
        assert "body" in document["message"]
        assert served.app.disconnected == 1 and served.app.requests == []

    run(scenario)


def test_a_body_that_comes_in_time_is_read_whole() -> None:
    async def scenario(served: Server) -> None:
        transport = served.connect()
        feed(transport, b"POST /x HTTP/1.1\r\nHost: tt\r\nContent-Length: 6\r\n\r\nabc")
        await asyncio.sleep(LIMITS.body_timeout / 2)
        feed(transport, b"def")
        await asyncio.sleep(PAST)

        assert served.app.requests == [b"abcdef"]
        assert answer(transport)[0] == 200

    run(scenario)


@pytest.mark.parametrize("length", [101, 70_000])
def test_a_target_over_the_limit_gets_414(length: int) -> None:
    async def scenario(served: Server) -> None:
        transport = served.connect()
        feed(transport, b"GET /" + b"a" * (length - 1) + b" HTTP/1.1\r\nHost: tt\r\n\r\n")
        await asyncio.sleep(0.01)

        assert_refused(transport, 414, "uriTooLong")
        assert served.app.requests == []

    run(scenario)


def test_a_target_at_the_limit_is_served() -> None:
    async def scenario(served: Server) -> None:
        transport = served.connect()
        feed(transport, b"GET /" + b"a" * 99 + b" HTTP/1.1\r\nHost: tt\r\n\r\n")
        await asyncio.sleep(0.01)

        assert answer(transport)[0] == 200

    run(scenario)


def test_a_head_over_the_limit_gets_431_however_it_arrives() -> None:
    async def scenario(served: Server) -> None:
        transport = served.connect()
        feed(transport, b"GET / HTTP/1.1\r\nHost: tt\r\n")
        for _ in range(server.HEADER_FIELDS_BYTES // 1000 + 1):
            feed(transport, b"X-Filler: " + b"f" * 988 + b"\r\n")
        await asyncio.sleep(0.01)

        assert_refused(transport, 431, "requestHeaderFieldsTooLarge")
        assert served.app.requests == []

    run(scenario)


def test_a_large_body_arriving_with_its_head_is_not_taken_for_a_large_head() -> None:
    body = b"b" * (3 * LIMITS.max_head_bytes)

    async def scenario(served: Server) -> None:
        transport = served.connect()
        head = f"POST /x HTTP/1.1\r\nHost: tt\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        feed(transport, head + body + GET)
        await asyncio.sleep(0.05)

        assert served.app.requests == [body, b""]

    run(scenario)


def test_what_httptools_cannot_parse_gets_a_tmf_400() -> None:
    async def scenario(served: Server) -> None:
        transport = served.connect()
        feed(transport, b"BL\x00AH / HTTP/1.1\r\n\r\n")
        await asyncio.sleep(0.01)

        assert_refused(transport, 400, "badRequest")

    run(scenario)


def test_after_a_refusal_what_the_client_sends_is_dropped_until_the_connection_closes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server, "LINGER_SECONDS", 0.1)

    async def scenario(served: Server) -> None:
        transport = served.connect()
        feed(transport, b"GET /" + b"a" * 200)
        written = len(transport.written)
        feed(transport, b"a" * 1000 + b" HTTP/1.1\r\nHost: tt\r\n\r\n" + GET)
        assert not transport.closed  # a close with unread data would reset the connection

        await asyncio.sleep(PAST)
        assert transport.closed and len(transport.written) == written
        assert served.app.requests == []

    run(scenario)


def test_the_options_bound_uvicorn_and_reach_worker_processes() -> None:
    settings = Settings(idle_timeout=7.0, header_timeout=3.0, max_url_bytes=100_000)
    options = server.uvicorn_options(settings)

    assert options["server_header"] is False
    assert options["timeout_keep_alive"] == 7.0
    assert options["ws"] == "none"
    # serve --workers pickles uvicorn's configuration into each worker process
    protocol = pickle.loads(pickle.dumps(options["http"]))
    assert protocol.func is BoundedHttpProtocol
    assert protocol.keywords["limits"] == replace(
        ConnectionLimits.of(Settings()), header_timeout=3.0, max_url_bytes=65_535
    )


def test_the_protocols_error_body_has_the_apps_shape() -> None:
    bound = context.bind("r-1")
    try:
        expected = error_body(414, "uriTooLong", "too long")
    finally:
        context.unbind(bound)

    assert server.error_document(414, "uriTooLong", "too long", "r-1") == expected
