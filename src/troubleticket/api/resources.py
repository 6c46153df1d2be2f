"""Handlers for the TroubleTicket and TroubleTicketSpecification operations.

Both resources expose the same five TMF operations, so one class serves each, bound to its own
service. Handlers read the request, call the service in a worker thread (the store is
synchronous) and shape the response; the rules live in the service and the domain.
"""

from __future__ import annotations

from typing import Any

from connexion import request
from connexion.lifecycle import ConnexionResponse
from starlette.concurrency import run_in_threadpool

from troubleticket.api.representation import paging, parse_fields, select
from troubleticket.config import Settings
from troubleticket.domain.errors import NotSupported
from troubleticket.services.resources import ResourceService
from troubleticket.types import JSON

LIST_PARAMETERS = frozenset({"fields", "offset", "limit"})
# Declared by TMF621 v5 for lists, not offered by this server yet: answered with 501.
UNSUPPORTED_LIST_PARAMETERS = frozenset({"before", "after", "sort", "filter"})
MERGE_MEDIA_TYPES = frozenset({"application/json", "application/merge-patch+json"})


def _media_type() -> str:
    header: str = request.headers.get("content-type", "application/json")
    return header.split(";")[0].strip().lower()


class ResourceHandlers:
    def __init__(self, service: ResourceService, settings: Settings) -> None:
        self._service = service
        self._settings = settings

    async def list(
        self, fields: str | None = None, offset: int | None = None, limit: int | None = None
    ) -> tuple[list[JSON], int, dict[str, str]]:
        unsupported = sorted(set(request.query_params) - LIST_PARAMETERS)
        if unsupported:
            attributes = sorted(set(unsupported) - UNSUPPORTED_LIST_PARAMETERS)
            what = "attribute filtering" if attributes else "these list parameters"
            raise NotSupported(f"This server does not support {what} yet: {', '.join(unsupported)}")
        selected = parse_fields(fields)
        page_request = paging(
            offset,
            limit,
            default_limit=self._settings.default_page_size,
            max_limit=self._settings.max_page_size,
        )
        page = await run_in_threadpool(
            self._service.list, offset=page_request.offset, limit=page_request.limit
        )
        items = [select(doc, selected) for doc in page.items]
        headers = {"X-Total-Count": str(page.total), "X-Result-Count": str(len(items))}
        return items, 200, headers

    async def create(
        self, body: JSON, fields: str | None = None
    ) -> tuple[JSON, int, dict[str, str]]:
        selected = parse_fields(fields)
        doc = await run_in_threadpool(self._service.create, body)
        return select(doc, selected), 201, {"Location": doc["href"]}

    async def retrieve(self, id_: str, fields: str | None = None) -> tuple[JSON, int]:
        selected = parse_fields(fields)
        doc = await run_in_threadpool(self._service.get, id_)
        return select(doc, selected), 200

    async def patch(self, id_: str, body: Any, fields: str | None = None) -> tuple[JSON, int]:
        media_type = _media_type()
        if media_type not in MERGE_MEDIA_TYPES:
            raise NotSupported(f"PATCH with {media_type} is not supported yet; use merge patch")
        selected = parse_fields(fields)
        doc = await run_in_threadpool(self._service.patch, id_, body)
        return select(doc, selected), 200

    async def delete(self, id_: str) -> ConnexionResponse:
        await run_in_threadpool(self._service.delete, id_)
        return ConnexionResponse(status_code=204)
