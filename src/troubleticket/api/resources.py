"""Handlers for the TroubleTicket and TroubleTicketSpecification operations.

Both resources expose the same five TMF operations, so one class serves each, bound to its own
service. Handlers read the request, call the service (``offload``: in a worker thread unless it
is an inline read) and shape the response; the rules live in the service and the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from functools import partial
from typing import Any

from connexion import request
from connexion.lifecycle import ConnexionResponse
from starlette.concurrency import run_in_threadpool

from troubleticket.api.callers import Callers
from troubleticket.api.conditional import etag, if_match, none_match
from troubleticket.api.offload import read
from troubleticket.api.representation import list_query, page_links, parse_fields, select
from troubleticket.config import Settings
from troubleticket.context import Context
from troubleticket.services.resources import ResourceService
from troubleticket.store.port import ListQuery, Page
from troubleticket.types import JSON


@dataclass(frozen=True, slots=True)
class ListParameters:
    """The TMF630 parameters of a list operation as Connexion hands them to its handler (checked
    against the contract and coerced); attribute filters are read from the raw query."""

    fields: str | None = None
    offset: int | None = None
    limit: int | None = None
    sort: str | None = None
    filter_: str | None = None
    before: str | None = None
    after: str | None = None

    @classmethod
    def of(cls, given: Mapping[str, Any]) -> ListParameters:
        """The list parameters among a handler's keyword arguments (the others are left)."""
        return cls(**{name: given[name] for name in _LIST_PARAMETERS if name in given})


_LIST_PARAMETERS = tuple(f.name for f in dataclass_fields(ListParameters))


async def list_response(
    fetch: Callable[[ListQuery], Page], settings: Settings, given: ListParameters
) -> tuple[list[JSON], int, dict[str, str]]:
    """A TMF630 list response: the page ``fetch`` gives for the request's query, its headers."""
    selected = parse_fields(given.fields)
    raw_query = request.url.query
    query = list_query(
        raw_query,
        sort=given.sort,
        jsonpath=given.filter_,
        offset=given.offset,
        limit=given.limit,
        after=given.after,
        before=given.before,
        default_limit=settings.default_page_size,
        max_limit=settings.max_page_size,
    )
    page = await run_in_threadpool(fetch, query)
    items = [select(doc, selected) for doc in page.items]
    headers = {"X-Total-Count": str(page.counted), "X-Result-Count": str(len(items))}
    url = f"{settings.public_base_url}{request.url.path}"
    link = page_links(url, raw_query, query, page, by_offset=given.offset is not None)
    if link:
        headers["Link"] = link
    return items, 200, headers


def media_type() -> str:
    header: str = request.headers.get("content-type", "application/json")
    return header.split(";")[0].strip().lower()


class ResourceHandlers:
    def __init__(self, service: ResourceService, settings: Settings, callers: Callers) -> None:
        self._service = service
        self._settings = settings
        self._callers = callers
        self._inline = service.inline_reads

    async def list(self, **given: Any) -> tuple[list[JSON], int, dict[str, str]]:
        fetch = partial(self._service.list, context=self._callers.context())
        return await list_response(fetch, self._settings, ListParameters.of(given))

    async def create(
        self, body: JSON, fields: str | None = None
    ) -> tuple[JSON, int, dict[str, str]]:
        selected = parse_fields(fields)
        created = await run_in_threadpool(
            partial(self._service.create, body, context=self._callers.context())
        )
        headers = {"Location": created.doc["href"], "ETag": etag(created.version)}
        return select(created.doc, selected), 201, headers

    async def retrieve(
        self, id_: str, fields: str | None = None
    ) -> tuple[JSON, int, dict[str, str]] | ConnexionResponse:
        body, status, headers = await self.one(
            id_, fields, request.headers.get("if-none-match"), self._callers.context()
        )
        if body is None:
            return ConnexionResponse(status_code=status, headers=headers)
        return body, status, headers

    async def one(
        self, id_: str, fields: str | None, if_none_match: str | None, context: Context
    ) -> tuple[JSON | None, int, dict[str, str]]:
        """One resource as a GET answers it: (body or ``None`` for 304, status, headers).

        Raises:
            NotFound: no such resource (that the context's party may see).
            BadRequest: ``fields`` names no attribute.
        """
        selected = parse_fields(fields)
        found = await read(partial(self._service.get, id_, context=context), inline=self._inline)
        headers = {"ETag": etag(found.version)}
        if none_match(if_none_match, found.version):
            return None, 304, headers
        return select(found.doc, selected), 200, headers

    async def audit(self, id_: str) -> tuple[Sequence[JSON], int, dict[str, str]]:
        records = await run_in_threadpool(
            partial(self._service.get_audit, id_, context=self._callers.context())
        )
        count = str(len(records))
        return records, 200, {"X-Total-Count": count, "X-Result-Count": count}

    async def patch(
        self, id_: str, body: Any, fields: str | None = None
    ) -> tuple[JSON, int, dict[str, str]]:
        selected = parse_fields(fields)
        condition = if_match(request.headers.get("if-match"))
        patched = await run_in_threadpool(
            partial(
                self._service.patch,
                id_,
                body,
                media_type=media_type(),
                if_match=condition,
                context=self._callers.context(),
            )
        )
        return select(patched.doc, selected), 200, {"ETag": etag(patched.version)}

    async def delete(self, id_: str) -> ConnexionResponse:
        condition = if_match(request.headers.get("if-match"))
        await run_in_threadpool(
            partial(self._service.delete, id_, if_match=condition, context=self._callers.context())
        )
        return ConnexionResponse(status_code=204)
