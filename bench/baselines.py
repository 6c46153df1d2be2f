"""The ceilings every figure is compared with.

* ``bare``: a Starlette route returning the stored ticket's bytes — the most a Python ASGI server
  on this machine can do for a GET.
* ``trivial``: Connexion on the same contract with handlers that return the ticket untouched —
  what the framework costs before any work of ours.
* ``bare_write``: Starlette taking the same POST and merge-patch PATCH bodies, decoding them,
  stamping id, href and dates, encoding the ticket and writing it with its event into the same
  SQLite store (same layout, group commit, ``synchronous=FULL``) from a worker thread, as the
  server does — no validation, no rules: a write's physical limit on this machine.

All read or write the store named by ``BENCH_STORE`` and run under uvicorn as factories.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from troubleticket.api.contract import API_ROOT, load_spec
from troubleticket.store.port import Collection
from troubleticket.store.sqlite import SqliteStore


def _stored_ticket() -> dict[str, Any]:
    store = SqliteStore(os.environ["BENCH_STORE"])
    try:
        stored = store.get(Collection.TROUBLE_TICKET, os.environ["BENCH_TICKET_ID"])
    finally:
        store.close()
    assert stored is not None, "the benchmark store has no such ticket"
    return stored.doc


def bare() -> Starlette:
    body = json.dumps(_stored_ticket()).encode()

    async def ticket(_request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route(f"{API_ROOT}/troubleTicket/{{id}}", ticket)])


def bare_write() -> Starlette:
    store = SqliteStore(os.environ["BENCH_STORE"])
    tickets = Collection.TROUBLE_TICKET

    def event(kind: str, doc: dict[str, Any], version: int) -> dict[str, Any]:
        """An outbox record shaped as the server's (``notify.outbox.event_records``)."""
        event_id, now = str(uuid4()), datetime.now(UTC).isoformat()
        return {
            "id": event_id,
            "eventType": kind,
            "state": "recorded",
            "recordedAt": now,
            "resource": {"collection": tickets.value, "id": doc["id"]},
            "resourceKey": f"{tickets.value}/{doc['id']}",
            "orderKey": f"{version:012d}.000",
            "body": {
                "eventId": event_id,
                "eventTime": now,
                "eventType": kind,
                "event": {"troubleTicket": doc},
            },
        }

    def create(doc: dict[str, Any]) -> bytes:
        now = datetime.now(UTC).isoformat()
        doc["id"] = str(uuid4())
        doc.update(
            href=f"{API_ROOT}/troubleTicket/{doc['id']}",
            creationDate=now,
            lastUpdate=now,
            status="acknowledged",
        )
        store.insert(tickets, doc, events=[event("TroubleTicketCreateEvent", doc, 1)])
        return json.dumps(doc).encode()

    def change(doc_id: str, patch: dict[str, Any]) -> bytes | None:
        stored = store.get(tickets, doc_id)
        if stored is None:
            return None
        doc = {**stored.doc, **patch, "lastUpdate": datetime.now(UTC).isoformat()}
        store.replace(
            tickets,
            doc,
            expected_version=stored.version,
            events=[event("TroubleTicketAttributeValueChangeEvent", doc, stored.version + 1)],
        )
        return json.dumps(doc).encode()

    async def post(request: Request) -> Response:
        body = await run_in_threadpool(create, json.loads(await request.body()))
        return Response(body, status_code=201, media_type="application/json")

    async def patch(request: Request) -> Response:
        doc_id, changes = request.path_params["id"], json.loads(await request.body())
        body = await run_in_threadpool(change, doc_id, changes)
        if body is None:
            return Response(status_code=404)
        return Response(body, media_type="application/json")

    return Starlette(
        routes=[
            Route(f"{API_ROOT}/troubleTicket", post, methods=["POST"]),
            Route(f"{API_ROOT}/troubleTicket/{{id}}", patch, methods=["PATCH"]),
        ]
    )


def trivial() -> Any:
    from connexion import AsyncApp
    from connexion.resolver import Resolver

    doc = _stored_ticket()

    async def handler(*_args: Any, **_kwargs: Any) -> tuple[dict[str, Any], int]:
        return doc, 200

    app = AsyncApp(__name__)
    app.add_api(
        load_spec(),
        base_path=API_ROOT,
        resolver=Resolver(function_resolver=lambda _operation_id: handler),
        strict_validation=False,
        validate_responses=False,
    )
    return app
