"""A partner's TMF621 API for the partner services' tests, on 127.0.0.1.

A stdlib ``ThreadingHTTPServer`` (HTTP/1.0: one connection per request) started per test and
stopped by its fixture. It keeps trouble tickets in memory and does what a partner's API does
with what our gateway sends: creates tickets (``FC-1``, ``FC-2``, …), finds them by external
identifier, reads them with an entity tag (and answers 304 to it), changes them by JSON Merge
Patch (a final ticket refuses a cancel or a close with 409) and JSON Patch (notes), and
registers hubs. The test works the partner's side by hand (``work``) and may have the next
requests answered with an error, done (``lose_answer``) or not (``fail``). Every
request is recorded (``seen``).

``running(api="v4")`` is a TMF621 v4 partner instead: its root is ``…/troubleTicket/v4``, it
finds tickets by ``externalId``, changes them by ``TroubleTicket_Update`` (``application/json``
or ``application/merge-patch+json``: the attributes named replace the current ones), honours
``If-Match`` (412 when another version is named), and tags tickets with strong entity tags.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API = "/tmf-api/troubleTicket/v5"
V4_API = "/tmf-api/troubleTicket/v4"
# statuses a partner's ticket cannot be cancelled or closed from
FINAL = ("resolved", "closed", "cancelled", "rejected")


@dataclass(frozen=True)
class Seen:
    """A request the partner got: ``path`` below the API root, with its query string."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any  # the JSON sent, None without a body

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()


class FakePartner:
    def __init__(self, api: str = "v5") -> None:
        self.api = api
        self.root = V4_API if api == "v4" else API
        self.tickets: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}
        self.hubs: list[dict[str, Any]] = []
        self.seen: list[Seen] = []
        self.errors: list[BaseException] = []
        # scripted answers of the next requests: (status, done anyway); None: answered as usual
        self._failing: dict[str, list[tuple[int | None, bool]]] = {}
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.partner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="fake-partner"
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{self.root}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # -- what the test does at the partner ---------------------------------------------------

    def fail(self, request: str, status: int, *, after: int = 0) -> None:
        """Answer the next ``request`` (``METHOD /path``, no query) with ``status``, undone;
        ``after``: that many such requests are answered as usual first."""
        with self._lock:
            scripted = self._failing.setdefault(request, [])
            scripted += [(None, False)] * after + [(status, False)]

    def lose_answer(self, request: str, status: int = 504) -> None:
        """Do the next ``request`` and answer ``status`` instead (a proxy that timed out)."""
        with self._lock:
            self._failing.setdefault(request, []).append((status, True))

    def work(self, ticket_id: str, **changes: Any) -> dict[str, Any]:
        """Change a ticket at the partner (its people working it); returns it."""
        with self._lock:
            ticket = self.tickets[ticket_id]
            if "status" in changes:
                ticket["statusChangeDate"] = f"2026-11-20T09:{self.versions[ticket_id]:02d}:00Z"
            ticket.update(changes)
            self.versions[ticket_id] += 1
            return dict(ticket)

    def requests(self) -> list[str]:
        """``METHOD path`` of every request, in order."""
        with self._lock:
            return [str(s) for s in self.seen]

    def clear(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self.seen.clear()

    # -- the API -----------------------------------------------------------------------------

    def answer(self, seen: Seen) -> Answer:
        with self._lock:
            self.seen.append(seen)
            scripted = self._failing.get(f"{seen.method} {urlsplit(seen.path).path}")
            if not scripted:
                return self._route(seen)
            status, done = scripted.pop(0)
            if status is None or done:
                routed = self._route(seen)
                if status is None:
                    return routed
            return Answer(status, {"code": str(status), "reason": "scripted failure"})

    def _route(self, seen: Seen) -> Answer:
        parts = urlsplit(seen.path)
        segments = parts.path.strip("/").split("/")
        if segments == ["troubleTicket"] and seen.method == "GET":
            if self.api == "v4":
                wanted = parse_qs(parts.query).get("externalId", [])
                return Answer(
                    200, [t for t in self.tickets.values() if t.get("externalId") in wanted]
                )
            wanted = parse_qs(parts.query).get("externalIdentifier.id", [])
            return Answer(200, [t for t in self.tickets.values() if _identified(t, wanted)])
        if segments == ["troubleTicket"] and seen.method == "POST":
            return self._create(seen.body)
        if segments == ["hub"] and seen.method == "POST":
            hub = {**seen.body, "id": f"hub-{len(self.hubs) + 1}"}
            self.hubs.append(hub)
            return Answer(201, hub)
        if len(segments) == 2 and segments[0] == "hub" and seen.method == "DELETE":
            kept = [hub for hub in self.hubs if hub["id"] != segments[1]]
            if len(kept) == len(self.hubs):
                return Answer(404, {"code": "404", "reason": "Not Found"})
            self.hubs[:] = kept
            return Answer(204)
        if len(segments) == 2 and segments[0] == "troubleTicket":
            ticket_id = segments[1]
            if ticket_id not in self.tickets:
                return Answer(404, {"code": "404", "reason": "Not Found"})
            if seen.method == "GET":
                return self._read(ticket_id, seen.headers.get("if-none-match"))
            if seen.method == "PATCH" and self.api == "v4":
                return self._update(ticket_id, seen.headers, seen.body)
            if seen.method == "PATCH":
                return self._patch(ticket_id, seen.headers.get("content-type", ""), seen.body)
        return Answer(404, {"code": "404", "reason": f"no {seen}"})

    def _create(self, body: dict[str, Any]) -> Answer:
        ticket_id = f"FC-{len(self.tickets) + 1}"
        ticket = {
            **body,
            "id": ticket_id,
            "href": f"{self.base_url}/troubleTicket/{ticket_id}",
            "status": "acknowledged",
        }
        self.tickets[ticket_id] = ticket
        self.versions[ticket_id] = 1
        return Answer(201, ticket, self._tag(ticket_id))

    def _read(self, ticket_id: str, if_none_match: str | None) -> Answer:
        tag = self._tag(ticket_id)
        if if_none_match == tag[0][1]:
            return Answer(304, None, tag)
        return Answer(200, self.tickets[ticket_id], tag)

    def _patch(self, ticket_id: str, content_type: str, body: Any) -> Answer:
        ticket = self.tickets[ticket_id]
        if content_type.startswith("application/json-patch+json"):
            for operation in body:
                assert operation["op"] == "add", operation
                if operation["path"] == "/note":
                    ticket["note"] = list(operation["value"])
                else:
                    assert operation["path"] == "/note/-", operation
                    ticket["note"].append(operation["value"])
        else:
            assert content_type.startswith("application/merge-patch+json"), content_type
            if body.get("status") in ("cancelled", "closed") and ticket["status"] in FINAL:
                closing_resolved = body["status"] == "closed" and ticket["status"] == "resolved"
                if not closing_resolved:
                    return Answer(409, {"code": "409", "reason": f"{ticket['status']} already"})
            ticket.update({k: v for k, v in body.items() if k != "@type"})
        self.versions[ticket_id] += 1
        return Answer(200, ticket, self._tag(ticket_id))

    def _update(self, ticket_id: str, headers: dict[str, str], body: Any) -> Answer:
        """A v4 ``TroubleTicket_Update``: each attribute named replaces the current one."""
        ticket = self.tickets[ticket_id]
        content_type = headers.get("content-type", "")
        assert content_type.startswith(("application/json", "application/merge-patch+json")), (
            content_type
        )
        wanted = headers.get("if-match")
        if wanted is not None and wanted != self._tag(ticket_id)[0][1]:
            return Answer(412, {"code": "412", "reason": f"{ticket_id} is at another version"})
        if body.get("status") in ("cancelled", "closed") and ticket["status"] in FINAL:
            if not (body["status"] == "closed" and ticket["status"] == "resolved"):
                return Answer(409, {"code": "409", "reason": f"{ticket['status']} already"})
        ticket.update(body)
        self.versions[ticket_id] += 1
        return Answer(200, ticket, self._tag(ticket_id))

    def _tag(self, ticket_id: str) -> tuple[tuple[str, str], ...]:
        weak = "" if self.api == "v4" else "W/"  # the v4 partner's tags are strong
        return (("ETag", f'{weak}"{ticket_id}-{self.versions[ticket_id]}"'),)


def _identified(ticket: dict[str, Any], wanted: list[str]) -> bool:
    return any(i.get("id") in wanted for i in ticket.get("externalIdentifier", []))


@contextmanager
def running(api: str = "v5") -> Iterator[FakePartner]:
    partner = FakePartner(api)
    try:
        yield partner
    finally:
        partner.stop()
    assert partner.errors == [], partner.errors


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    partner: FakePartner

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            self.partner.errors.append(error)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass

    def _serve(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(size)
        root = self.server.partner.root
        path = self.path.removeprefix(root) if self.path.startswith(root) else self.path
        seen = Seen(
            self.command,
            path,
            {name.lower(): value for name, value in self.headers.items()},
            json.loads(raw) if raw else None,
        )
        answer = self.server.partner.answer(seen)
        payload = b"" if answer.body is None else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve
