"""Handlers of the TMF621 v4 root (``/tmf-api/troubleTicket/v4``): the same services as v5.

Requests are translated to the v5 form, handled by the services the v5 root uses, with the
caller's context, and the answers translated back (``domain.v4``). v4 has no specifications,
recovery activities or partner operations; its hub operations register and remove hubs that
receive the v4 events.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any
from urllib.parse import quote, unquote_plus

from connexion import request
from connexion.lifecycle import ConnexionResponse
from starlette.concurrency import run_in_threadpool

from troubleticket.api.callers import Callers
from troubleticket.api.conditional import etag, if_match, none_match
from troubleticket.api.contract import V4_API_ROOT
from troubleticket.api.notifications import ListenerHandlers
from troubleticket.api.representation import list_query, page_links
from troubleticket.api.routing import Handler
from troubleticket.config import Settings
from troubleticket.domain import v4
from troubleticket.notify.hubs import HubService
from troubleticket.services.v4_tickets import V4Tickets
from troubleticket.types import JSON

# The v4 operations and the v5 ones whose scope they need (the tickets' have the same names).
SCOPE_OF = {
    "listTroubleTicket": "listTroubleTicket",
    "retrieveTroubleTicket": "retrieveTroubleTicket",
    "createTroubleTicket": "createTroubleTicket",
    "patchTroubleTicket": "patchTroubleTicket",
    "deleteTroubleTicket": "deleteTroubleTicket",
    "registerListener": "createHub",
    "unregisterListener": "hubDelete",
}

_NAME = re.compile(r"[^=<>!]*")


def fields_of(raw: str | None) -> list[str] | None:
    """The attributes ``fields=`` names (``None``: the whole ticket)."""
    if raw is None:
        return None
    names = [part.strip() for part in raw.split(",") if part.strip()]
    return names or None


def v5_query(raw_query: str) -> tuple[str, str | None]:
    """A v4 list query with its attribute names as v5 reads them, and its ``sort`` (v5 names).

    TMF630 attribute filters and ``sort`` are not declared by the v4 contract either; they are
    read from the query as at the v5 root.
    """
    terms: list[str] = []
    sort: str | None = None
    for term in raw_query.split("&"):
        if not term:
            continue
        encoded = _NAME.match(term)
        assert encoded is not None  # the pattern matches every string
        name, rest = unquote_plus(encoded.group()), term[encoded.end() :]
        if name == "sort" and rest.startswith("="):
            keys = unquote_plus(rest[1:]).split(",")
            sort = ",".join(_sort_key(key.strip()) for key in keys)
            continue
        terms.append(quote(v4.filter_name_v5(name), safe=".@$") + rest)
    return "&".join(terms), sort


def _sort_key(key: str) -> str:
    sign = key[:1] if key[:1] in "+-" else ""
    return sign + v4.filter_name_v5(key[len(sign) :])


class V4Handlers:
    """The handlers of every operation of the v4 contract."""

    def __init__(
        self,
        tickets: V4Tickets,
        hubs: HubService,
        listeners: ListenerHandlers,
        settings: Settings,
        callers: Callers,
    ) -> None:
        self._tickets = tickets
        self._hubs = hubs
        self._listeners = listeners
        self._settings = settings
        self._callers = callers
        self._root = f"{settings.public_base_url}{V4_API_ROOT}"

    def table(self) -> dict[str, Handler]:
        return {
            "listTroubleTicket": self.list,
            "createTroubleTicket": self.create,
            "retrieveTroubleTicket": self.retrieve,
            "patchTroubleTicket": self.patch,
            "deleteTroubleTicket": self.delete,
            "registerListener": self.register_listener,
            "unregisterListener": self.unregister_listener,
            **{
                # a v4 event is taken in the v5 form, with 201 as v4 declares
                f"listenTo{event_type}": self._listeners.for_event(
                    event_type, read=v4.event_v5, answer=201
                )
                for event_type in sorted(v4.EVENT_TYPES)
            },
        }

    async def list(
        self, fields: str | None = None, offset: int | None = None, limit: int | None = None
    ) -> tuple[list[JSON], int, dict[str, str]]:
        selected = fields_of(fields)
        raw_query = request.url.query
        where, sort = v5_query(raw_query)
        query = list_query(
            where,
            sort=sort,
            jsonpath=None,
            offset=offset,
            limit=limit,
            after=None,
            before=None,
            default_limit=self._settings.default_page_size,
            max_limit=self._settings.max_page_size,
        )
        context = self._callers.context()
        page = await run_in_threadpool(partial(self._tickets.list, query, context=context))
        items = [v4.select_v4(doc, selected) for doc in page.items]
        headers = {"X-Total-Count": str(page.counted), "X-Result-Count": str(len(items))}
        url = f"{self._settings.public_base_url}{request.url.path}"
        link = page_links(url, raw_query, query, page, by_offset=True)
        if link:
            headers["Link"] = link
        return items, 200, headers

    async def create(self, body: JSON) -> tuple[JSON, int, dict[str, str]]:
        context = self._callers.context()
        created = await run_in_threadpool(partial(self._tickets.create, body, context=context))
        headers = {"Location": created.doc["href"], "ETag": etag(created.version)}
        return created.doc, 201, headers

    async def retrieve(
        self, id_: str, fields: str | None = None
    ) -> tuple[JSON, int, dict[str, str]] | ConnexionResponse:
        selected = fields_of(fields)
        context = self._callers.context()
        found = await run_in_threadpool(partial(self._tickets.get, id_, context=context))
        headers = {"ETag": etag(found.version)}
        if none_match(request.headers.get("if-none-match"), found.version):
            return ConnexionResponse(status_code=304, headers=headers)
        return v4.select_v4(found.doc, selected), 200, headers

    async def patch(self, id_: str, body: Any) -> tuple[JSON, int, dict[str, str]]:
        condition = if_match(request.headers.get("if-match"))
        context = self._callers.context()
        patched = await run_in_threadpool(
            partial(self._tickets.patch, id_, body, if_match=condition, context=context)
        )
        return patched.doc, 200, {"ETag": etag(patched.version)}

    async def delete(self, id_: str) -> ConnexionResponse:
        condition = if_match(request.headers.get("if-match"))
        context = self._callers.context()
        await run_in_threadpool(
            partial(self._tickets.delete, id_, if_match=condition, context=context)
        )
        return ConnexionResponse(status_code=204)

    async def register_listener(self, body: JSON) -> tuple[JSON, int, dict[str, str]]:
        context = self._callers.context()
        taken: JSON = {name: body[name] for name in ("callback", "query", "secret") if name in body}
        hub = await run_in_threadpool(partial(self._hubs.register, taken, context, api="v4"))
        return v4.hub_v4(hub), 201, {"Location": f"{self._root}/hub/{hub['id']}"}

    async def unregister_listener(self, id_: str) -> ConnexionResponse:
        context = self._callers.context()
        await run_in_threadpool(self._hubs.delete, id_, context)
        return ConnexionResponse(status_code=204)
