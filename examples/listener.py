"""A tiny event listener to subscribe a hub to, for trying notifications out by hand.

    python3 examples/listener.py [port] &      # default: $LISTENER_PORT, else 8081

It listens on 127.0.0.1. Every POST, on any path, is an event: it is answered 204 and printed
as one line, its ``eventType`` and the id of the resource it is about
(``TroubleTicketCreateEvent 8f1c…``). ``GET /events`` answers the events received so far, as a
JSON array in arrival order; ``GET /events?count=N`` first waits (up to 10 s) until N have
arrived, so a script can read an event right after causing it without guessing a delay.

Only the standard library: it runs with any Python 3, inside the project's virtualenv or not.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

WAIT_LIMIT_S = 10.0

received: list[Any] = []
arrived = threading.Condition()


def describe(event: Any) -> str:
    """``eventType resource-id`` of an event (``?`` for what it does not say)."""
    if not isinstance(event, dict):
        return "? ?"
    resource_id = "?"
    payload = event.get("event")
    if isinstance(payload, dict):
        for value in payload.values():
            if isinstance(value, dict) and "id" in value:
                resource_id = str(value["id"])
                break
    return f"{event.get('eventType', '?')} {resource_id}"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            event = json.loads(body)
        except ValueError:
            event = body.decode("utf-8", "replace")
        with arrived:
            received.append(event)
            arrived.notify_all()
        print(describe(event), flush=True)
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.rstrip("/") != "/events":
            self.send_error(404, "only /events is here")
            return
        try:
            count = int(parse_qs(url.query).get("count", ["0"])[0])
        except ValueError:
            self.send_error(400, "count must be a number")
            return
        with arrived:
            arrived.wait_for(lambda: len(received) >= count, timeout=WAIT_LIMIT_S)
            body = json.dumps(received, indent=2).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the one line per event is the output."""


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("LISTENER_PORT", 8081))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
