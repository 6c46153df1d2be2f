"""The ASGI application: the runtime's services behind the contract Connexion serves.

``create_app`` is a short list of named steps: the runtime (``bootstrap``), the contract and the
callers, the handlers, the lifespan (background loops, the metrics port), the middleware, the
error handlers.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from connexion import AsyncApp
from connexion.datastructures import MediaTypeDict
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from prometheus_client import CollectorRegistry

from troubleticket import metrics, metrics_scrape
from troubleticket.api import errors
from troubleticket.api.activities import ActivityHandlers
from troubleticket.api.admission import AdmissionMiddleware
from troubleticket.api.body import TmfJSONBodyValidator
from troubleticket.api.callers import Callers
from troubleticket.api.contract import (
    API_ROOT,
    SPEC_NAME,
    V4_API_ROOT,
    V4_SPEC_NAME,
    load_spec,
    method_table,
)
from troubleticket.api.encoding import FastJsonifier
from troubleticket.api.fast_reads import FastReadMiddleware
from troubleticket.api.framework import App
from troubleticket.api.health import HealthMiddleware, readiness
from troubleticket.api.middleware import (
    CONSOLE_CSP,
    BodyLimitMiddleware,
    MediaTypeMiddleware,
    RequestIdMiddleware,
    TrailingSlashMiddleware,
)
from troubleticket.api.notifications import HubHandlers, ListenerHandlers, PartnerHandlers
from troubleticket.api.parameters import CachedParameterValidator
from troubleticket.api.resources import ResourceHandlers
from troubleticket.api.routing import Handler, handler_table, resolver
from troubleticket.api.security import operation_ids, operation_scopes, secured, security_map
from troubleticket.api.tokens import InvalidToken, TokenSettings, TokenVerifier
from troubleticket.api.v4 import SCOPE_OF as V4_SCOPE_OF
from troubleticket.api.v4 import V4Handlers
from troubleticket.background.lease import Lease, while_held
from troubleticket.background.loops import Heartbeats
from troubleticket.bootstrap import (
    BACKGROUND_LEASE,
    Runtime,
    background,
    coordinating,
    dispatching,
    runtime,
)
from troubleticket.bootstrap.files import load_yaml
from troubleticket.bootstrap.services import new_uuid, utc_now
from troubleticket.bootstrap.stores import metered, open_store
from troubleticket.config import ConfigError, Settings
from troubleticket.console import (
    DEFAULT_OPTIONS,
    Console,
    ConsoleMiddleware,
    ConsoleOptions,
    build_console,
)
from troubleticket.console import PREFIX as CONSOLE_PREFIX  # beside the API's roots
from troubleticket.services.v4_tickets import V4Tickets
from troubleticket.store.port import Collection, Store
from troubleticket.types import Clock, IdFactory


@dataclass(frozen=True)
class ServedContract:
    spec: dict[str, Any]
    v4: dict[str, Any] | None  # the v4 root's contract (None: TT_V4 off)
    security: dict[str, type] | None  # Connexion's security handlers (None: no tokens)
    scopes: dict[str, str]  # the scope each operation needs (empty: no tokens)
    v4_scopes: dict[str, str]  # the same for the v4 root's operations
    verifier: TokenVerifier | None = None  # what checks the tokens (None: no tokens)


def _v4_scopes(scopes: Mapping[str, str]) -> dict[str, str]:
    """A v4 operation needs the scope of the v5 operation it is (listeners need none)."""
    return {op: scopes[v5_op] for op, v5_op in V4_SCOPE_OF.items() if v5_op in scopes}


def served_contract(settings: Settings) -> ServedContract:
    """The contract to serve, and Connexion's security handlers: with ``TT_AUTH=jwt`` every
    operation requires its scope (``TT_SCOPES`` over the defaults) from a verified token.

    Raises:
        ConfigError: the JWKS file or the scopes file cannot be used.
    """
    # The parsed contract is cached per process; Connexion works on its own deep copy.
    spec = load_spec()
    v4_spec = load_spec(V4_SPEC_NAME) if settings.v4 else None
    if settings.auth != "jwt":
        return ServedContract(spec, v4_spec, None, {}, {})
    assert settings.jwks and settings.jwt_issuer and settings.jwt_audience
    overrides: Any = {}
    if settings.scopes is not None:
        overrides = load_yaml("TT_SCOPES", settings.scopes) or {}
        if not isinstance(overrides, Mapping):
            raise ConfigError(
                f"TT_SCOPES: {settings.scopes} is not a mapping of operationId: scope"
            )
    try:
        scopes = operation_scopes(overrides, operation_ids(spec))
        verifier = TokenVerifier(
            TokenSettings(
                jwks=settings.jwks,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                algorithms=settings.jwt_algorithms,
                leeway=settings.jwt_leeway,
                roles_claim=settings.jwt_roles_claim,
                party_claim=settings.jwt_party_claim,
            )
        )
    except (ValueError, InvalidToken) as exc:
        message = exc.message if isinstance(exc, InvalidToken) else str(exc)
        raise ConfigError(f"TT_AUTH=jwt: {message}") from None
    token_url = (
        settings.token_url or f"{settings.jwt_issuer.rstrip('/')}/protocol/openid-connect/token"
    )
    v4_scopes = _v4_scopes(scopes)
    return ServedContract(
        secured(spec, scopes, token_url),
        None if v4_spec is None else secured(v4_spec, v4_scopes, token_url),
        security_map(verifier),
        scopes,
        v4_scopes,
        verifier,
    )


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Clock = utc_now,
    new_id: IdFactory = new_uuid,
    new_activity_id: IdFactory | None = None,
    environ: Mapping[str, str] = os.environ,
    fast_reads: bool = True,
    console_options: ConsoleOptions = DEFAULT_OPTIONS,
) -> AsyncApp:
    """Build the ASGI application; the store is opened now and closed at shutdown.

    ``new_activity_id`` issues recovery activity ids (by default in creation order, as their
    listings are ordered by id); ``environ`` holds the secrets the partner registry names;
    ``fast_reads=False`` leaves every read by id to Connexion (``api/fast_reads.py``);
    ``console_options``: the console's stream timing, and who looks at it (tests).
    """
    store = metered(settings, store or open_store(settings))
    run = runtime(
        settings,
        store,
        clock=clock,
        new_id=new_id,
        new_activity_id=new_activity_id,
        environ=environ,
    )
    served = served_contract(settings)
    callers = Callers(
        run.partners,
        tokens=settings.auth == "jwt",
        trusted_gateway=settings.trusted_gateway,
        # an operationId names the same operation at both roots, with the same scope
        scopes={**served.scopes, **served.v4_scopes},
    )
    heartbeats = Heartbeats()
    collected = metrics_scrape.registry(store) if settings.metrics else None
    handlers = _Handlers.of(run, callers)
    shown = build_console(
        settings,
        run,
        scopes=served.scopes,
        verifier=served.verifier,
        callers=callers,
        options=console_options,
    )
    app = App(
        __name__, lifespan=_lifespan(run, heartbeats, collected, shown), jsonifier=FastJsonifier()
    )
    api_options = {
        "security_map": served.security,
        "pythonic_params": True,
        # TMF630 attribute filters are undeclared query parameters; they must reach the handler.
        "strict_validation": False,
        "validate_responses": False,
        "validator_map": {
            "body": MediaTypeDict({"*/*json": TmfJSONBodyValidator}),
            "parameter": CachedParameterValidator,
        },
        "swagger_ui_options": SwaggerUIOptions(swagger_ui_path="/ui"),
    }
    app.add_api(served.spec, base_path=API_ROOT, resolver=resolver(handlers.table()), **api_options)
    served_roots = [(API_ROOT, SPEC_NAME)]
    if served.v4 is not None:
        v4_handlers = V4Handlers(
            V4Tickets(run.tickets), run.hubs, handlers.listeners, settings, callers
        )
        app.add_api(
            served.v4, base_path=V4_API_ROOT, resolver=resolver(v4_handlers.table()), **api_options
        )
        served_roots.append((V4_API_ROOT, V4_SPEC_NAME))
    _request_shaping(app, settings, handlers, served, callers, fast_reads=fast_reads)
    _outer_layers(
        app,
        settings,
        readiness=partial(readiness, store, heartbeats),
        collected=collected,
        console=shown,
    )
    errors.install(app, method_table(*served_roots))
    return app


@dataclass(frozen=True)
class _Handlers:
    """The handlers of every operation, on the runtime's services."""

    tickets: ResourceHandlers
    specifications: ResourceHandlers
    hubs: HubHandlers
    listeners: ListenerHandlers
    activities: ActivityHandlers
    partners: PartnerHandlers

    @classmethod
    def of(cls, run: Runtime, callers: Callers) -> _Handlers:
        settings = run.settings
        return cls(
            tickets=ResourceHandlers(run.tickets, settings, callers),
            specifications=ResourceHandlers(run.specifications, settings, callers),
            hubs=HubHandlers(run.hubs, settings, callers),
            listeners=ListenerHandlers(run.listeners),
            activities=ActivityHandlers(run.activities, settings, callers),
            partners=PartnerHandlers(run.directory, settings, callers),
        )

    def table(self) -> dict[str, Handler]:
        return handler_table(
            self.tickets,
            self.specifications,
            self.hubs,
            self.listeners,
            self.activities,
            self.partners,
        )


def _lifespan(
    run: Runtime,
    heartbeats: Heartbeats,
    collected: CollectorRegistry | None,
    shown: Console | None,
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """At start: the background loops (in one process of several, by lease), the metrics port,
    and the console's streams set to end when a stop signal comes (the server waits for open
    answers before it shuts down); at shutdown: those stopped and the store closed."""
    settings = run.settings

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        unwatch = shown.stopping.watch_signals() if shown is not None else _nothing
        stop = None
        if settings.dispatch == "inprocess" and settings.workers > 1:
            # several server processes: each dispatches on its share of the delivery lanes;
            # the one holding the lease runs the coordination loops
            holder = f"{socket.gethostname()}:{os.getpid()}"
            lease = Lease(run.store, BACKGROUND_LEASE, holder, clock=run.clock)
            stops = [
                dispatching(run, heartbeats, shared=True),
                while_held(lease, lambda: coordinating(run, heartbeats)),
            ]

            def stop_all() -> None:
                for halt in stops:
                    halt()

            stop = stop_all
        elif settings.dispatch == "inprocess":
            stop = background(run, heartbeats)
        stop_metrics = None
        if collected is not None and settings.metrics_port is not None and settings.workers == 1:
            # with several workers, `serve` answers on the metrics port for all of them
            stop_metrics = metrics_scrape.serve(
                settings.metrics_host or settings.host,
                settings.metrics_port,
                collected,
                settings.metrics_token,
            )
        try:
            yield
        finally:
            if shown is not None:
                shown.stopping.set()
            unwatch()
            if stop_metrics is not None:
                stop_metrics()
            if stop is not None:
                stop()
            run.store.close()

    return lifespan


def _nothing() -> None:
    pass


def _request_shaping(
    app: AsyncApp,
    settings: Settings,
    handlers: _Handlers,
    served: ServedContract,
    callers: Callers,
    *,
    fast_reads: bool,
) -> None:
    """What stands between the routing and the request as sent: the body limit, media types,
    trailing slashes, and the fast path for reads by id."""
    app.add_middleware(
        BodyLimitMiddleware,
        position=MiddlewarePosition.BEFORE_SWAGGER,
        max_bytes=settings.max_body_bytes,
    )
    app.add_middleware(MediaTypeMiddleware, position=MiddlewarePosition.BEFORE_SWAGGER)
    for root in (API_ROOT, V4_API_ROOT) if served.v4 is not None else (API_ROOT,):
        app.add_middleware(
            TrailingSlashMiddleware,
            position=MiddlewarePosition.BEFORE_SWAGGER,
            prefix=root,
            keep=(f"{root}/ui/",),
        )
    if fast_reads:
        app.add_middleware(
            FastReadMiddleware,
            position=MiddlewarePosition.BEFORE_SWAGGER,
            root=API_ROOT,
            spec=served.spec,
            handlers={
                Collection.TROUBLE_TICKET.value: handlers.tickets,
                Collection.TROUBLE_TICKET_SPECIFICATION.value: handlers.specifications,
            },
            callers=callers,
        )


def _outer_layers(
    app: AsyncApp,
    settings: Settings,
    *,
    readiness: Callable[[], Any],
    collected: CollectorRegistry | None,
    console: Console | None,
) -> None:
    """What every request meets first: health probes, metrics, the request id and security
    headers, admission, tracing; then the console, which takes its own paths before the API's
    middleware sees them."""
    app.add_middleware(
        HealthMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION, ready=readiness
    )
    if collected is not None and settings.metrics_port is None:
        from troubleticket.api.metrics import MetricsMiddleware

        app.add_middleware(
            MetricsMiddleware,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            collected=collected,
            token=settings.metrics_token,
            token_required=settings.auth == "jwt",
        )
    app.add_middleware(
        RequestIdMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        ui_prefix=(f"{API_ROOT}/ui", f"{V4_API_ROOT}/ui"),
        console_prefix=CONSOLE_PREFIX if console is not None else None,
        console_csp=console.csp if console is not None else CONSOLE_CSP,
        hsts=settings.public_base_url.startswith("https://"),
        observe=metrics.request_answered if settings.metrics else None,
    )
    # added after RequestIdMiddleware at the same position, so inside it: a refusal carries the
    # request id and the security headers
    app.add_middleware(
        AdmissionMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        max_concurrent=settings.max_concurrent_requests,
        max_url_bytes=settings.max_url_bytes,
    )
    if settings.tracing != "off":
        from troubleticket import tracing  # the optional packages: imported only when on

        if tracing.enable(settings):
            app.add_middleware(
                tracing.asgi_middleware(),
                position=MiddlewarePosition.BEFORE_EXCEPTION,
                **tracing.middleware_options(),
            )
    if console is not None:
        # inside the request id, security headers, admission and tracing; outside Connexion's
        # error handling (the console answers its errors with pages of its own)
        app.add_middleware(
            ConsoleMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION, console=console.app
        )
