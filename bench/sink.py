"""``python -m bench.sink PORT``: a listener that takes event POSTs as fast as one core allows.

An asyncio protocol with just enough HTTP/1.1 (keep-alive, Content-Length bodies) to answer
each POST with 204 and keep, per request, its arrival time, the event's ``eventId`` and the
``eventTime`` it carries. ``GET /stats`` answers with how many arrived, how many distinct
deliveries (path and eventId: one per hub and event), when the first and last arrived and the
commit→arrival latencies' percentiles; ``GET /marks`` when the n-th distinct one arrived;
``POST /reset`` forgets everything. Binds to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import sys
import time
from datetime import datetime

_LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")
_EVENT_ID = re.compile(rb'"eventId":"([^"]+)"')
_EVENT_TIME = re.compile(rb'"eventTime":"([^"]+)"')
_NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


class Arrivals:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.times: list[float] = []
        self.ids: set[bytes] = set()
        self.latencies: list[float] = []
        self.marks: dict[int, float] = {}

    def add(self, path: bytes, body: bytes) -> None:
        """One delivery: a distinct one per (path, eventId), i.e. per hub and event."""
        now = time.time()
        self.times.append(now)
        found = _EVENT_ID.search(body)
        key = path + b" " + found.group(1) if found is not None else None
        if key is not None and key not in self.ids:
            self.ids.add(key)
            self.marks.setdefault(len(self.ids), now)
            stamp = _EVENT_TIME.search(body)
            if stamp is not None:
                occurred = datetime.fromisoformat(stamp.group(1).decode().replace("Z", "+00:00"))
                self.latencies.append(now - occurred.timestamp())

    def stats(self) -> dict[str, object]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else None

        return {
            "requests": len(self.times),
            "distinct": len(self.ids),
            "first": self.times[0] if self.times else None,
            "last": self.times[-1] if self.times else None,
            "marks": self.marks,
            "latency_p50": pct(0.5),
            "latency_p99": pct(0.99),
            "latency_median": statistics.median(lat) if lat else None,
        }


ARRIVALS = Arrivals()


class Sink(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = _LENGTH.search(head)
            size = int(length.group(1)) if length else 0
            if len(self.buffer) < end + 4 + size:
                return
            body = self.buffer[end + 4 : end + 4 + size]
            self.buffer = self.buffer[end + 4 + size :]
            if head.startswith(b"GET /stats"):
                stats = ARRIVALS.stats()
                stats["marks"] = {}  # large; the bench asks for them on their own
                self._json(stats)
            elif head.startswith(b"GET /marks"):
                self._json(ARRIVALS.marks)
            elif head.startswith(b"POST /reset"):
                ARRIVALS.reset()
                self.transport.write(_NO_CONTENT)  # type: ignore[attr-defined]
            else:
                ARRIVALS.add(head.split(b" ", 2)[1], body)
                self.transport.write(_NO_CONTENT)  # type: ignore[attr-defined]

    def _json(self, value: object) -> None:
        body = json.dumps(value).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        self.transport.write(head.encode() + b"\r\n\r\n" + body)  # type: ignore[attr-defined]


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
