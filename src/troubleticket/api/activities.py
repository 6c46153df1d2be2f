"""Handlers for recovery activities: under their ticket, and across tickets (an extension)."""

from __future__ import annotations

from functools import partial
from typing import Any

from connexion import request
from connexion.lifecycle import ConnexionResponse
from starlette.concurrency import run_in_threadpool

from troubleticket.api.callers import Callers
from troubleticket.api.conditional import etag, if_match, none_match
from troubleticket.api.offload import read
from troubleticket.api.representation import parse_fields, select
from troubleticket.api.resources import ListParameters, list_response, media_type
from troubleticket.config import Settings
from troubleticket.services.activities import ActivityService, entity_tag
from troubleticket.types import JSON


class ActivityHandlers:
    def __init__(self, service: ActivityService, settings: Settings, callers: Callers) -> None:
        self._service = service
        self._settings = settings
        self._callers = callers
        self._inline = service.inline_reads

    async def list(
        self, id_: str | None = None, **given: Any
    ) -> tuple[list[JSON], int, dict[str, str]]:
        fetch = partial(self._service.list, ticket_id=id_, context=self._callers.context())
        return await list_response(fetch, self._settings, ListParameters.of(given))

    async def create(
        self, id_: str, body: JSON, fields: str | None = None
    ) -> tuple[JSON, int, dict[str, str]]:
        selected = parse_fields(fields)
        created = await run_in_threadpool(
            partial(self._service.create, id_, body, context=self._callers.context())
        )
        headers = {"Location": created["href"], "ETag": etag(entity_tag(created))}
        return select(created, selected), 201, headers

    async def retrieve(
        self, id_: str, activity_id: str, fields: str | None = None
    ) -> tuple[JSON, int, dict[str, str]] | ConnexionResponse:
        context = self._callers.context()
        found = await read(
            partial(self._service.get, id_, activity_id, context=context), inline=self._inline
        )
        return _conditional(found, fields)

    async def retrieve_by_id(
        self, id_: str, fields: str | None = None
    ) -> tuple[JSON, int, dict[str, str]] | ConnexionResponse:
        context = self._callers.context()
        found = await read(
            partial(self._service.get_by_id, id_, context=context), inline=self._inline
        )
        return _conditional(found, fields)

    async def patch(
        self, id_: str, activity_id: str, body: Any, fields: str | None = None
    ) -> tuple[JSON, int, dict[str, str]]:
        selected = parse_fields(fields)
        patched = await run_in_threadpool(
            partial(
                self._service.patch,
                id_,
                activity_id,
                body,
                media_type=media_type(),
                if_match=if_match(request.headers.get("if-match")),
                context=self._callers.context(),
            )
        )
        return select(patched, selected), 200, {"ETag": etag(entity_tag(patched))}

    async def delete(self, id_: str, activity_id: str) -> ConnexionResponse:
        condition = if_match(request.headers.get("if-match"))
        context = self._callers.context()
        await run_in_threadpool(
            partial(self._service.delete, id_, activity_id, if_match=condition, context=context)
        )
        return ConnexionResponse(status_code=204)


def _conditional(
    found: JSON, fields: str | None
) -> tuple[JSON, int, dict[str, str]] | ConnexionResponse:
    """A GET answer: 304 when If-None-Match names the activity as it is, else the activity."""
    tag = entity_tag(found)
    headers = {"ETag": etag(tag)}
    if none_match(request.headers.get("if-none-match"), tag):
        return ConnexionResponse(status_code=304, headers=headers)
    return select(found, parse_fields(fields)), 200, headers
