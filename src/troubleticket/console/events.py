"""The live board's event stream (``GET /console/events``): server-sent events telling a browser
when to fetch the board again.

The stream looks every ``interval`` whether what the caller sees of the board changed (its
``signature``: read through the ticket service with the caller's context) and then sends
``event: board``; htmx fetches the board's fragment on it. Between looks it sends a comment
every ``keepalive`` so that proxies keep the connection. It ends after ``longest`` (the browser
connects again, after the ``retry`` it was told), at once when the client goes away, and within
a quarter of a second when the server is stopping (``Stopping``): uvicorn waits for open answers
before it shuts down, so an open stream must not hold a shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

logger = logging.getLogger(__name__)

# How often a stream looks whether the server is stopping.
STOP_CHECK = 0.25

# What the browser waits before connecting again, in milliseconds.
RETRY_MS = 2000

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True, slots=True)
class StreamTimes:
    interval: float = 1.0  # between looks for a change
    keepalive: float = 15.0  # between comments that keep the connection
    longest: float = 300.0  # before the stream ends and the browser connects again


DEFAULT_TIMES = StreamTimes()


class Stopping:
    """Set when the server is stopping: every open stream ends.

    ``watch_signals`` (at the app's start) puts a handler in front of the server's own for
    SIGINT and SIGTERM, which sets it and hands the signal on; the lifespan's end sets it too.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def watch_signals(self) -> Callable[[], None]:
        """Set on SIGINT or SIGTERM, before the handler already installed runs; returns what
        undoes it. Signals are handled in the main thread only: elsewhere (an app run by a test
        client in a thread of its own) nothing is done."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous: dict[int, Any] = {}

        def handle(signum: int, frame: FrameType | None) -> None:
            self.set()
            handler = previous.get(signum)
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:  # what the signal would have done without us
                signal.signal(signum, signal.SIG_DFL)
                signal.raise_signal(signum)

        for signum in _SIGNALS:
            previous[signum] = signal.signal(signum, handle)

        def undo() -> None:
            for signum, handler in previous.items():
                if signal.getsignal(signum) is handle:
                    signal.signal(signum, handler)

        return undo


class BoardEvents(Response):
    """The stream itself: an answer that keeps sending until it ends (see the module)."""

    media_type = "text/event-stream"

    def __init__(
        self,
        signature: Callable[[], Awaitable[object]],
        times: StreamTimes,
        stopping: Stopping,
        *,
        seen: object | None,
    ) -> None:
        """``seen``: the signature of the board the page showed (``None``: the one now), so a
        change between the page and the stream is told at the first look."""
        # no Response.__init__: it would declare the length of an empty body
        self.status_code = 200
        self.background = None
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),
        ]
        self._signature = signature
        self._times = times
        self._stopping = stopping
        self._seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def listen() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    return

        # the board as the page showed it, or as it is before anything is sent: a change after
        # that is told
        seen = self._seen if self._seen is not None else await self._signature()
        listener = asyncio.create_task(listen())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await self._chunk(send, f"retry: {RETRY_MS}\n\n")
            await self._run(send, gone, seen)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away while a chunk was being sent
            pass
        finally:
            listener.cancel()

    @staticmethod
    async def _chunk(send: Send, text: str) -> None:
        await send({"type": "http.response.body", "body": text.encode(), "more_body": True})

    async def _run(self, send: Send, gone: asyncio.Event, seen: object) -> None:
        loop = asyncio.get_running_loop()
        times = self._times
        started = loop.time()
        ends = started + times.longest
        next_look = started + times.interval
        next_keepalive = started + times.keepalive
        while not gone.is_set() and not self._stopping.is_set():
            now = loop.time()
            if now >= ends:
                return
            if now >= next_look:
                current = await self._signature()
                if current != seen:
                    seen = current
                    await self._chunk(send, "event: board\ndata: changed\n\n")
                    next_keepalive = loop.time() + times.keepalive
                next_look = loop.time() + times.interval
            if now >= next_keepalive:
                await self._chunk(send, ": keep-alive\n\n")
                next_keepalive = now + times.keepalive
            wake = min(next_look, next_keepalive, ends, loop.time() + STOP_CHECK)
            try:
                await asyncio.wait_for(gone.wait(), timeout=max(0.0, wake - loop.time()))
            except TimeoutError:
                pass
