"""A real HTTP listener on 127.0.0.1 that records every request and answers by a policy.

The server under test POSTs event notifications to it. Every request is kept, with its path,
headers, body and arrival time (``time.monotonic()``, taken once the body is read, before the
answer is chosen). The answer comes from ``policy(call, attempt)``: ``attempt`` counts the
requests carrying the same event (its ``eventId``, else its ``webhook-id``), starting at 1, so
"fail the first two attempts of every event" is ``lambda call, attempt: 503 if attempt <= 2 else
204``. ``delay`` holds each answer back that many seconds (the request is recorded first), which
keeps a delivery in flight for a while; between ``hold()`` and ``release()`` no answer is given
at all, and ``in_flight`` counts the requests recorded but not answered yet.

The ``wait_*`` methods poll until a condition holds and fail the test with what was received
when it does not hold in time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

POLL_S = 0.02


@dataclass(frozen=True)
class Call:
    """What the listener was sent; ``headers`` has lower-case names."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_key(self) -> str:
        """The event this request carries: its eventId, else its webhook-id, else the body."""
        try:
            event_id = self.json.get("eventId")
        except (ValueError, AttributeError):
            event_id = None
        if isinstance(event_id, str):
            return event_id
        return self.headers.get("webhook-id") or self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class Received:
    """One request as it arrived, and how the listener answered it."""

    call: Call
    arrived: float  # time.monotonic() once the body was read
    attempt: int  # the how-manieth request carrying this event, from 1
    status: int

    @property
    def path(self) -> str:
        return self.call.path

    @property
    def headers(self) -> dict[str, str]:
        return self.call.headers

    @property
    def body(self) -> bytes:
        return self.call.body

    @property
    def event(self) -> dict[str, Any]:
        """The body as JSON: the event document."""
        doc = self.call.json
        assert isinstance(doc, dict), f"not a JSON object: {self.call.body!r}"
        return doc

    @property
    def event_id(self) -> str:
        return str(self.event["eventId"])

    @property
    def event_type(self) -> str:
        return str(self.event["eventType"])

    @property
    def resource(self) -> dict[str, Any]:
        """The troubleTicket, troubleTicketSpecification or recoveryActivity the event carries."""
        payload = self.event["event"]
        for name in ("troubleTicket", "troubleTicketSpecification", "recoveryActivity"):
            if isinstance(payload.get(name), dict):
                found: dict[str, Any] = payload[name]
                return found
        raise AssertionError(f"no resource in {payload!r}")

    def __str__(self) -> str:
        try:
            what = f"{self.event_type} {self.resource.get('id')}"
        except (ValueError, KeyError, AssertionError):
            what = f"{len(self.body)} bytes"
        return f"{self.call.method} {self.path} [{what}] #{self.attempt} -> {self.status}"


Policy = Callable[[Call, int], int]


def always(status: int) -> Policy:
    return lambda _call, _attempt: status


@dataclass
class Listener:
    """Start with ``start()`` (or ``with``); ``url`` is then ``http://127.0.0.1:<port>``."""

    policy: Policy = field(default_factory=lambda: always(204))
    delay: float = 0.0
    _received: list[Received] = field(default_factory=list)
    _attempts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _answering: threading.Event = field(default_factory=threading.Event)
    _in_flight: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Listener:
        listener = self
        self._answering.set()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the dispatcher's session expects

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:  # the sender went away mid-request: nothing arrived
                    self.close_connection = True
                    return
                call = Call(
                    self.command,
                    self.path,
                    {name.lower(): value for name, value in self.headers.items()},
                    body,
                )
                status = listener._record(call, time.monotonic())
                try:
                    if listener.delay:
                        time.sleep(listener.delay)
                    listener._answering.wait()
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                finally:
                    with listener._lock:
                        listener._in_flight -= 1

            def _safely(self) -> None:
                # The sender may vanish mid-request (the test kills it): never raise from here.
                try:
                    self._handle()
                except (OSError, ValueError):
                    self.close_connection = True

            do_POST = do_PUT = do_GET = do_DELETE = do_PATCH = _safely

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a connection reset by a killed sender is expected

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._answering.set()  # no handler thread stays blocked
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "the listener is not started"
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    # -- recording -----------------------------------------------------------------------------

    def _record(self, call: Call, arrived: float) -> int:
        with self._lock:
            key = call.event_key
            attempt = self._attempts.get(key, 0) + 1
            self._attempts[key] = attempt
            try:
                status = self.policy(call, attempt)
            except Exception:  # a broken policy shows as 500s, not as a dead handler thread
                status = 500
            self._received.append(Received(call, arrived, attempt, status))
            self._in_flight += 1
            return status

    def hold(self) -> None:
        """Answer nothing from now on until ``release()``; requests are still recorded."""
        self._answering.clear()

    def release(self) -> None:
        self._answering.set()

    @property
    def in_flight(self) -> int:
        """How many requests are recorded but not answered yet."""
        with self._lock:
            return self._in_flight

    def received(self, path: str | None = None) -> list[Received]:
        """Every request so far, in arrival order; only those to ``path`` when given."""
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    def accepted(self, path: str | None = None) -> list[Received]:
        """The requests answered with a 2xx."""
        return [r for r in self.received(path) if 200 <= r.status < 300]

    def __iter__(self) -> Iterator[Received]:
        return iter(self.received())

    # -- waiting -------------------------------------------------------------------------------

    def wait_for(
        self,
        predicate: Callable[[list[Received]], bool],
        *,
        timeout: float = 15.0,
        what: str = "the condition",
    ) -> list[Received]:
        """Poll until ``predicate(every request so far)`` holds; return the requests then."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.received()
            if predicate(seen):
                return seen
            if time.monotonic() > deadline:
                shown = "\n  ".join(str(r) for r in seen[-40:])
                raise AssertionError(
                    f"listener: {what} did not hold within {timeout} s; "
                    f"{len(seen)} request(s) received, the last ones:\n  {shown}"
                )
            time.sleep(POLL_S)

    def wait_count(
        self, count: int, *, path: str | None = None, accepted: bool = False, timeout: float = 15.0
    ) -> list[Received]:
        """Poll until at least ``count`` requests (to ``path``; answered 2xx) have arrived."""

        def selected(seen: list[Received]) -> list[Received]:
            return [
                r
                for r in seen
                if (path is None or r.path == path) and (not accepted or 200 <= r.status < 300)
            ]

        self.wait_for(
            lambda seen: len(selected(seen)) >= count,
            timeout=timeout,
            what=f"{count} {'accepted ' if accepted else ''}request(s) to {path or 'any path'}",
        )
        return selected(self.received())

    def wait_quiet(self, quiet: float, *, timeout: float = 30.0) -> list[Received]:
        """Poll until no request has arrived for ``quiet`` seconds (counted from the call at the
        earliest); return every request."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            seen = self.received()
            last = max(seen[-1].arrived if seen else started, started)
            now = time.monotonic()
            if now - last >= quiet:
                return seen
            if now > deadline:
                raise AssertionError(f"listener: requests kept arriving for {timeout} s")
            time.sleep(min(POLL_S * 5, quiet - (now - last)))
