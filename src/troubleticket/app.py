"""Composition root: builds the Connexion app from settings and wires services to the store.

This module and ``cli.py`` are the only places that choose concrete adapters.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from connexion import AsyncApp
from connexion.datastructures import MediaTypeDict
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions

from troubleticket.api import errors
from troubleticket.api.body import TmfJSONBodyValidator
from troubleticket.api.contract import API_ROOT, document_validator, load_spec, method_table
from troubleticket.api.middleware import BodyLimitMiddleware, TrailingSlashMiddleware
from troubleticket.api.notifications import HubHandlers, ListenerHandlers
from troubleticket.api.resources import ResourceHandlers
from troubleticket.api.routing import handler_table, resolver
from troubleticket.config import ConfigError, Settings
from troubleticket.domain.events import TROUBLE_TICKET, TROUBLE_TICKET_SPECIFICATION
from troubleticket.domain.specification import create_specification, patch_specification
from troubleticket.domain.ticket import create_ticket, patch_ticket
from troubleticket.services.dispatch import DeliveryPolicy, Dispatcher, http_sender, run_in_thread
from troubleticket.services.hubs import HubService, ListenerService
from troubleticket.services.resources import ResourceRules, ResourceService
from troubleticket.store.port import Collection, Store
from troubleticket.store.sqlite import SqliteStore
from troubleticket.types import Clock, IdFactory


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


def ticket_rules() -> ResourceRules:
    """TroubleTicket: the lifecycle rules, and the contract's TroubleTicket_RES schema."""
    return ResourceRules(
        create=create_ticket, patch=patch_ticket, validate=document_validator("TroubleTicket_RES")
    )


def specification_rules() -> ResourceRules:
    """TroubleTicketSpecification: its rules and the contract's _RES schema."""
    return ResourceRules(
        create=create_specification,
        patch=patch_specification,
        validate=document_validator("TroubleTicketSpecification_RES"),
    )


def open_store(settings: Settings, *, must_exist: bool = False) -> Store:
    """The store ``TT_STORE`` names: a SQLite file path, ``sqlite:///path``, or a MongoDB URI.

    ``must_exist``: refuse a SQLite file that is not there yet (reading from a mistyped path
    would otherwise create an empty store).

    Raises:
        ConfigError: the location names a store this server cannot open.
    """
    location = settings.store
    if location.startswith(("mongodb://", "mongodb+srv://")):
        return open_mongo_store(location)
    if "://" in location:
        scheme, _, path = location.partition("://")
        if scheme != "sqlite" or not path.startswith("/"):
            raise ConfigError(
                f"TT_STORE has value {location!r}: expected a file path or sqlite:///path"
            )
        location = path[1:] or ":memory:"
    if must_exist and location != ":memory:" and not Path(location).is_file():
        raise ConfigError(f"TT_STORE names no existing SQLite file: {location}")
    return SqliteStore(location)


def open_mongo_store(uri: str) -> Store:
    """The MongoDB store at ``uri``; a malformed URI is a configuration error.

    Nothing is contacted yet: a server that is down now makes requests fail with 503 until it is
    back, rather than keeping this server from starting.
    """
    from pymongo.errors import ConfigurationError, InvalidURI
    from pymongo.uri_parser import parse_uri

    from troubleticket.store.mongo import MongoStore

    if uri.startswith("mongodb://"):
        # mongodb+srv:// URIs need a DNS lookup to parse; pymongo checks them on connecting.
        try:
            parse_uri(uri)
        except (InvalidURI, ConfigurationError, ValueError) as exc:
            raise ConfigError(f"TT_STORE is not a valid MongoDB URI: {exc}") from None
    return MongoStore.from_uri(uri)


def dispatcher(settings: Settings, store: Store, clock: Clock = utc_now) -> Dispatcher:
    """A dispatcher with the delivery settings, POSTing with ``requests``."""
    policy = DeliveryPolicy(
        schedule=settings.delivery_schedule,
        timeout=settings.delivery_timeout,
        concurrency=settings.delivery_concurrency,
    )
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return Dispatcher(store, sender=http_sender(), clock=clock, worker_id=worker, policy=policy)


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Clock = utc_now,
    new_id: IdFactory = new_uuid,
) -> AsyncApp:
    """Build the ASGI application; the store is opened now and closed at shutdown."""
    store = store or open_store(settings)
    # Set after every write that recorded events: the in-process dispatcher wakes up at once.
    wake = threading.Event()
    service = partial(
        ResourceService,
        store=store,
        clock=clock,
        new_id=new_id,
        base_url=settings.public_base_url,
        new_event_id=new_uuid,
        on_commit=wake.set,
    )
    tickets = service(Collection.TROUBLE_TICKET, rules=ticket_rules(), kind=TROUBLE_TICKET)
    specifications = service(
        Collection.TROUBLE_TICKET_SPECIFICATION,
        rules=specification_rules(),
        kind=TROUBLE_TICKET_SPECIFICATION,
    )
    hubs = HubService(
        store, clock=clock, new_id=new_uuid, base_url=settings.public_base_url, on_change=wake.set
    )
    listeners = ListenerService(store, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        stop = None
        if settings.dispatch == "inprocess":
            stop = run_in_thread(
                dispatcher(settings, store, clock), wake, settings.dispatch_interval
            )
        try:
            yield
        finally:
            if stop is not None:
                stop()
            store.close()

    app = AsyncApp(__name__, lifespan=lifespan)
    app.add_api(
        # The parsed contract is cached per process; Connexion works on its own deep copy.
        load_spec(),
        base_path=API_ROOT,
        resolver=resolver(
            handler_table(
                ResourceHandlers(tickets, settings),
                ResourceHandlers(specifications, settings),
                HubHandlers(hubs, settings),
                ListenerHandlers(listeners),
            )
        ),
        pythonic_params=True,
        # TMF630 attribute filters are undeclared query parameters; they must reach the handler.
        strict_validation=False,
        validate_responses=False,
        validator_map={"body": MediaTypeDict({"*/*json": TmfJSONBodyValidator})},
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/ui"),
    )
    app.add_middleware(
        BodyLimitMiddleware,
        position=MiddlewarePosition.BEFORE_SWAGGER,
        max_bytes=settings.max_body_bytes,
    )
    app.add_middleware(
        TrailingSlashMiddleware,
        position=MiddlewarePosition.BEFORE_SWAGGER,
        prefix=API_ROOT,
        keep=(f"{API_ROOT}/ui/",),
    )
    errors.install(app, method_table())
    return app
