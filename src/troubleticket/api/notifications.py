"""Handlers for ``/hub`` (with its delivery administration extension) and ``/listener/*``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from connexion import request
from connexion.lifecycle import ConnexionResponse
from starlette.concurrency import run_in_threadpool

from troubleticket.api.body import RAW_BODY
from troubleticket.api.callers import Callers
from troubleticket.api.resources import ListParameters, list_response
from troubleticket.config import Settings
from troubleticket.notify.hubs import HubService
from troubleticket.notify.listeners import ListenerService
from troubleticket.partners.directory import PartnerDirectory
from troubleticket.types import JSON


class HubHandlers:
    def __init__(self, service: HubService, settings: Settings, callers: Callers) -> None:
        self._service = service
        self._settings = settings
        self._callers = callers

    async def create(self, body: JSON) -> tuple[JSON, int, dict[str, str]]:
        hub = await run_in_threadpool(self._service.register, body, self._callers.context())
        return hub, 201, {"Location": hub["href"]}

    async def retrieve(self, id_: str) -> tuple[JSON, int]:
        return await run_in_threadpool(self._service.get, id_, self._callers.context()), 200

    async def delete(self, id_: str) -> ConnexionResponse:
        await run_in_threadpool(self._service.delete, id_, self._callers.context())
        return ConnexionResponse(status_code=204)

    async def deliveries(self, id_: str, **given: Any) -> tuple[list[JSON], int, dict[str, str]]:
        fetch = partial(self._service.deliveries, id_, context=self._callers.context())
        return await list_response(fetch, self._settings, ListParameters.of(given))

    async def replay(self, id_: str, body: JSON) -> tuple[JSON, int]:
        context = self._callers.context()
        return await run_in_threadpool(self._service.replay, id_, body, context), 201


class ListenerHandlers:
    """One handler per listener operation: each takes the events of its own type."""

    def __init__(self, service: ListenerService) -> None:
        self._service = service

    def for_event(
        self,
        event_type: str,
        *,
        read: Callable[[JSON], JSON] = lambda event: event,
        answer: int = 204,
    ) -> Any:
        """The handler of the listener of ``event_type``; ``read``: the event in the v5 form
        (a v4 listener's translates it), ``answer``: the status of a taken event."""

        async def receive(body: JSON) -> ConnexionResponse:
            # the exact bytes: a partner's event is verified against its signature
            raw = request.scope.get("extensions", {}).get(RAW_BODY, b"")
            headers = {name.lower(): value for name, value in request.headers.items()}
            await run_in_threadpool(
                partial(self._service.receive, event_type, read(body), raw=raw, headers=headers)
            )
            return ConnexionResponse(status_code=answer)

        receive.__name__ = f"receive{event_type}"
        return receive


class PartnerHandlers:
    """The partner directory and its delivery administration: the operator's alone."""

    def __init__(self, directory: PartnerDirectory, settings: Settings, callers: Callers) -> None:
        self._directory = directory
        self._settings = settings
        self._callers = callers

    async def partners(self) -> tuple[list[JSON], int, dict[str, str]]:
        partners = self._directory.list(self._callers.context())
        count = str(len(partners))
        return partners, 200, {"X-Total-Count": count, "X-Result-Count": count}

    async def retrieve(self, id_: str) -> tuple[JSON, int]:
        context = self._callers.context()
        return await run_in_threadpool(self._directory.get, id_, context), 200

    async def deliveries(self, id_: str, **given: Any) -> tuple[list[JSON], int, dict[str, str]]:
        fetch = partial(self._directory.deliveries, id_, context=self._callers.context())
        return await list_response(fetch, self._settings, ListParameters.of(given))

    async def replay(self, id_: str, body: JSON) -> tuple[JSON, int]:
        context = self._callers.context()
        return await run_in_threadpool(self._directory.replay, id_, body, context), 201
