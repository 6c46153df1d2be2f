"""The HTTP senders (a thread per attempt, and the pooled event loop) keep connections to a
subscriber open between attempts, read no more of an answer than they need, and drop a
connection whose answer is too long."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from troubleticket.notify.delivery import ANSWER_BYTES, FirstUse, Sender, http_sender
from troubleticket.notify.egress import EgressPolicy
from troubleticket.notify.pooled import PooledSender

LOCAL = EgressPolicy.from_setting("127.0.0.0/8")


class CountingListener:
    """HTTP/1.1 on 127.0.0.1: counts connections and requests; answers ``answer`` bytes."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self.answer = b""
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                listener.connections += 1
                super().setup()

            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                listener.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Length", str(len(listener.answer)))
                self.end_headers()
                self.wfile.write(listener.answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    running = CountingListener()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(params=["threads", "pooled"])
def send(request: pytest.FixtureRequest) -> Iterator[Sender]:
    if request.param == "threads":
        yield http_sender(LOCAL)
        return
    pooled = PooledSender(LOCAL, connections=8)
    yield pooled
    pooled.close()


def send_many(send: Sender, listener: CountingListener, times: int) -> list[int | None]:
    headers = {"Content-Type": "application/json"}
    return [send(listener.url, b'{"eventId": "e"}', headers, 2.0).status for _ in range(times)]


@pytest.mark.parametrize("answer", [b"", b'{"ok": true}', b"x" * ANSWER_BYTES])
def test_attempts_to_one_subscriber_share_one_connection(
    send: Sender, listener: CountingListener, answer: bytes
) -> None:
    listener.answer = answer
    assert send_many(send, listener, 20) == [200] * 20
    assert listener.requests == 20
    assert listener.connections == 1


def test_an_answer_longer_than_the_cap_costs_its_connection_not_the_attempt(
    send: Sender, listener: CountingListener
) -> None:
    listener.answer = b"x" * (ANSWER_BYTES * 4)
    assert send_many(send, listener, 3) == [200] * 3
    assert listener.connections == 3


def test_the_pooled_sender_is_made_on_first_use_and_closed_with_its_wrapper(
    listener: CountingListener,
) -> None:
    made: list[PooledSender] = []

    def make() -> PooledSender:
        made.append(PooledSender(LOCAL, connections=2))
        return made[-1]

    lazy = FirstUse(make)
    assert made == []  # nothing imported or started for a process that delivers nothing
    assert [lazy(listener.url, b"{}", {}, 2.0).status for _ in range(3)] == [200] * 3
    assert len(made) == 1
    lazy.close()
    assert not made[0]._thread.is_alive()
    FirstUse(make).close()  # never used: nothing to close
    assert len(made) == 1
