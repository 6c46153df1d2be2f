"""Connection hygiene of a real ``troubleticket serve``: slow and idle clients are cut off in
time, the bounds on connections, requests under way and request targets answer with TMF Errors,
and no answer names the server software.

Timeouts are set short here; every time a test checks has generous slack (a shared CI machine
may stall a process for seconds), and nothing else is timed.
"""

from __future__ import annotations

import select
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from tests.api.assertions import assert_tmf_error
from tests.builders import a_ticket
from tests.e2e.conftest import API_ROOT, ServerFactory, ServerProcess

SLACK_S = 5.0
# one byte this often: a head or body that arrives, but far too slowly
DRIBBLE_S = 0.2
SLOW_HEAD = f"GET {API_ROOT}/troubleTicket HTTP/1.1\r\nHost: tt\r\nX-Slow: ".encode() + b"s" * 500


def address(served: ServerProcess) -> tuple[str, int]:
    assert served.port is not None
    return ("127.0.0.1", served.port)


def answer_of(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """The status, headers (lower-cased names) and body of one raw HTTP/1.1 answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def assert_raw_tmf_error(raw: bytes, status: int, code: str) -> dict[str, str]:
    got, headers, body = answer_of(raw)
    response = requests.Response()
    response.status_code = got
    response.headers.update(headers)
    response._content = body
    assert_tmf_error(response, status, code)  # type: ignore[arg-type]
    assert "server" not in headers
    return headers


def dribble(sock: socket.socket, data: bytes, limit_s: float) -> tuple[bytes, float]:
    """Send ``data`` a byte every ``DRIBBLE_S`` until the server closes the connection; what it
    sent, and the seconds it took to close (``limit_s``: give up, failing)."""
    started = time.monotonic()
    received = b""
    sock.setblocking(False)
    sent = 0
    while time.monotonic() - started < limit_s:
        if sent < len(data):
            try:
                sock.send(data[sent : sent + 1])
                sent += 1
            except OSError:
                return received, time.monotonic() - started
        readable, _, _ = select.select([sock], [], [], DRIBBLE_S)
        if readable:
            try:
                chunk = sock.recv(65536)
            except OSError:
                return received, time.monotonic() - started
            if not chunk:
                return received, time.monotonic() - started
            received += chunk
    raise AssertionError(f"still open after {limit_s} s; received {received!r}")


def exchange(sock: socket.socket, request: bytes) -> bytes:
    """Send a whole request on a blocking socket and read its whole answer (Content-Length)."""
    sock.sendall(request)
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        assert chunk, raw
        raw += chunk
    _, headers, body = answer_of(raw)
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, raw
        body += chunk
        raw += chunk
    return raw


def get_request(path: str) -> bytes:
    return f"GET {API_ROOT}{path} HTTP/1.1\r\nHost: tt\r\n\r\n".encode()


def until(predicate: Any, limit_s: float = SLACK_S) -> Any:
    """Call ``predicate`` until it returns something other than None or False (returned), or
    ``limit_s`` passes (a response is false when its status is an error)."""
    deadline = time.monotonic() + limit_s
    while True:
        result = predicate()
        if result is not None and result is not False:
            return result
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def test_no_answer_names_the_server_software(server: str) -> None:
    answers = [
        requests.get(f"{server}/troubleTicket", timeout=5),
        requests.get(f"{server}/troubleTicket/missing", timeout=5),
        requests.get(server.replace(API_ROOT, "/health/live"), timeout=5),
    ]
    assert [a.status_code for a in answers] == [200, 404, 200]
    assert all("server" not in a.headers for a in answers)


def test_a_head_sent_a_byte_at_a_time_is_cut_off_at_the_header_timeout(
    server_factory: ServerFactory,
) -> None:
    served = server_factory.serve(env={"TT_HEADER_TIMEOUT": "1s"})
    with socket.create_connection(address(served)) as sock:
        received, seconds = dribble(sock, SLOW_HEAD, limit_s=30)

    assert seconds <= 1 + SLACK_S
    assert_raw_tmf_error(received, 408, "requestTimeout")


def test_a_connection_that_sends_nothing_is_closed_at_the_header_timeout(
    server_factory: ServerFactory,
) -> None:
    served = server_factory.serve(env={"TT_HEADER_TIMEOUT": "1s"})
    with socket.create_connection(address(served)) as sock:
        received, seconds = dribble(sock, b"", limit_s=30)

    assert seconds <= 1 + SLACK_S
    assert received == b""  # nobody asked anything: closed without an answer


def test_a_body_sent_a_byte_at_a_time_is_cut_off_at_the_body_timeout(
    server_factory: ServerFactory,
) -> None:
    served = server_factory.serve(env={"TT_BODY_TIMEOUT": "1s"})
    head = (
        f"POST {API_ROOT}/troubleTicket HTTP/1.1\r\nHost: tt\r\n"
        "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
    ).encode()
    with socket.create_connection(address(served)) as sock:
        sock.sendall(head)
        received, seconds = dribble(sock, b'{"description": "' + b"d" * 4000, limit_s=30)

    assert seconds <= 1 + SLACK_S
    assert_raw_tmf_error(received, 408, "requestTimeout")
    assert requests.get(f"{served.base}/troubleTicket", timeout=5).json() == []


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(
    server_factory: ServerFactory,
) -> None:
    served = server_factory.serve(env={"TT_IDLE_TIMEOUT": "1s"})
    with socket.create_connection(address(served)) as sock:
        first = exchange(sock, get_request("/troubleTicket"))
        second = exchange(sock, get_request("/troubleTicket"))  # kept alive
        received, seconds = dribble(sock, b"", limit_s=30)

    assert answer_of(first)[0] == answer_of(second)[0] == 200
    assert received == b""
    assert 0.5 <= seconds <= 1 + SLACK_S


class SlowHeads:
    """Connections each sending a request head a byte every ``DRIBBLE_S`` (on a thread of their
    own); records how long after its opening the server closed each."""

    def __init__(self, target: tuple[str, int], count: int) -> None:
        self._selector = selectors.DefaultSelector()
        self._opened: dict[socket.socket, float] = {}
        self._sent: dict[socket.socket, int] = {}
        self.lifetimes: list[float] = []
        self.answers: list[bytes] = []
        self.first_closed: float | None = None  # when (monotonic) the server closed the first
        self._stop = threading.Event()
        for _ in range(count):
            sock = socket.create_connection(target)
            sock.setblocking(False)
            self._opened[sock] = time.monotonic()
            self._sent[sock] = 0
            self._selector.register(sock, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _closed(self, sock: socket.socket, received: bytes) -> None:
        now = time.monotonic()
        if self.first_closed is None:
            self.first_closed = now
        self.lifetimes.append(now - self._opened.pop(sock))
        self.answers.append(received)
        self._selector.unregister(sock)
        sock.close()

    def _run(self) -> None:
        received: dict[socket.socket, bytes] = {sock: b"" for sock in self._opened}
        next_byte = time.monotonic()
        while self._opened and not self._stop.is_set():
            for key, _ in self._selector.select(timeout=max(0.0, next_byte - time.monotonic())):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    chunk = b""
                if chunk:
                    received[sock] += chunk
                else:
                    self._closed(sock, received.pop(sock))
            if time.monotonic() >= next_byte:
                for sock in list(self._opened):
                    sent = self._sent[sock]
                    try:
                        sock.send(SLOW_HEAD[sent : sent + 1])
                        self._sent[sock] = sent + 1
                    except OSError:
                        pass  # closed by the server: the read side tells when
                next_byte += DRIBBLE_S

    def open(self) -> int:
        return len(self._opened)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in list(self._opened):
            sock.close()


@contextmanager
def slow_heads(target: tuple[str, int], count: int) -> Iterator[SlowHeads]:
    heads = SlowHeads(target, count)
    try:
        yield heads
    finally:
        heads.close()


def test_a_thousand_slow_heads_neither_hold_up_other_clients_nor_outstay_the_timeout(
    server_factory: ServerFactory,
) -> None:
    timeout_s = 3.0
    served = server_factory.serve(env={"TT_HEADER_TIMEOUT": f"{timeout_s}s"})
    ticket = requests.post(f"{served.base}/troubleTicket", json=a_ticket(), timeout=5).json()
    client = requests.Session()
    answered: list[float] = []

    with slow_heads(address(served), 1000) as heads:
        deadline = time.monotonic() + timeout_s + 2 * SLACK_S
        while heads.open() and time.monotonic() < deadline:
            response = client.get(f"{served.base}/troubleTicket/{ticket['id']}", timeout=30)
            assert response.status_code == 200, response.text
            assert response.json() == ticket
            answered.append(time.monotonic())
        until(lambda: not heads.open(), limit_s=timeout_s + 2 * SLACK_S)

    assert heads.first_closed is not None
    assert [t for t in answered if t < heads.first_closed], "no answer while all 1000 were open"
    assert len(heads.lifetimes) == 1000
    assert max(heads.lifetimes) <= timeout_s + 2 * SLACK_S
    statuses = {answer_of(raw)[0] for raw in heads.answers}
    assert statuses == {408}, statuses


def test_beyond_max_connections_a_new_connection_gets_503_with_retry_after(
    server_factory: ServerFactory,
) -> None:
    # idle connections held longer than the test takes
    env = {"TT_MAX_CONNECTIONS": "20", "TT_IDLE_TIMEOUT": "60s", "TT_HEADER_TIMEOUT": "60s"}
    served = server_factory.serve(env=env)
    url = f"{served.base}/troubleTicket"
    held = [socket.create_connection(address(served)) for _ in range(20)]
    try:
        for sock in held:  # answered, so the server holds each of them now
            assert answer_of(exchange(sock, get_request("/troubleTicket")))[0] == 200

        refused = requests.get(url, timeout=5)
        assert_tmf_error(refused, 503, "serviceUnavailable")  # type: ignore[arg-type]
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["Connection"] == "close"
        assert "server" not in refused.headers
    finally:
        for sock in held:
            sock.close()

    assert until(lambda: requests.get(url, timeout=5).status_code == 200)


def test_an_over_long_target_or_head_gets_a_tmf_error(server: str) -> None:
    # TT_MAX_URL_BYTES is 8192 by default; uvicorn alone would serve the first and answer the
    # second with a plain-text 400
    for length in (9_000, 70_000):
        response = requests.get(f"{server}/troubleTicket?description={'x' * length}", timeout=5)
        assert_tmf_error(response, 414, "uriTooLong")  # type: ignore[arg-type]
    response = requests.get(f"{server}/troubleTicket", headers={"X-Big": "b" * 80_000}, timeout=5)
    assert_tmf_error(response, 431, "requestHeaderFieldsTooLarge")  # type: ignore[arg-type]
    # what is not HTTP at all
    served_port = int(server.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", served_port)) as sock:
        sock.sendall(b"BL\x00AH / HTTP/1.1\r\n\r\n")
        received, _ = dribble(sock, b"", limit_s=30)
    assert_raw_tmf_error(received, 400, "badRequest")


def test_beyond_max_concurrent_requests_a_request_gets_503_with_retry_after(
    server_factory: ServerFactory,
) -> None:
    served = server_factory.serve(env={"TT_MAX_CONCURRENT_REQUESTS": "1"})
    url = f"{served.base}/troubleTicket"
    head = (
        f"POST {API_ROOT}/troubleTicket HTTP/1.1\r\nHost: tt\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    ).encode()
    with socket.create_connection(address(served)) as slow:
        slow.sendall(head)  # the request is under way, waiting for the rest of its body

        refused = until(lambda: (r := requests.get(url, timeout=5)).status_code == 503 and r)
        assert isinstance(refused, requests.Response)
        assert_tmf_error(refused, 503, "serviceUnavailable")  # type: ignore[arg-type]
        assert refused.headers["Retry-After"] == "1"
        # probes are answered outside the bound
        live = requests.get(url.replace(f"{API_ROOT}/troubleTicket", "/health/live"), timeout=5)
        assert live.status_code == 200

    assert until(lambda: requests.get(url, timeout=5).status_code == 200)


def test_with_several_workers_each_holds_to_the_bounds(server_factory: ServerFactory) -> None:
    served = server_factory.serve(env={"TT_WORKERS": "2", "TT_HEADER_TIMEOUT": "1s"})

    assert "server" not in requests.get(f"{served.base}/troubleTicket", timeout=5).headers
    with slow_heads(address(served), 20) as heads:
        until(lambda: not heads.open(), limit_s=1 + 2 * SLACK_S)
    assert len(heads.lifetimes) == 20
    assert {answer_of(raw)[0] for raw in heads.answers} == {408}
