"""The two ceilings every figure is compared with, serving the same stored ticket JSON.

* ``bare``: a Starlette route returning the ticket bytes — the most a Python ASGI server on this
  machine can do for a GET.
* ``trivial``: Connexion on the same contract with handlers that return the ticket untouched —
  what the framework costs before any work of ours.

Both read the ticket from the store named by ``BENCH_STORE`` and run under uvicorn as factories.
"""

from __future__ import annotations

import json
import os
from typing import Any

from starlette.applications import Starlette
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
