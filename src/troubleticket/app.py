"""Composition root: builds the Connexion app from settings and wires services to the store.

This module and ``cli.py`` are the only places that choose concrete adapters.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from connexion import AsyncApp
from connexion.datastructures import MediaTypeDict
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions

from troubleticket import metrics
from troubleticket.api import errors
from troubleticket.api.activities import ActivityHandlers
from troubleticket.api.admission import AdmissionMiddleware
from troubleticket.api.body import TmfJSONBodyValidator
from troubleticket.api.callers import Callers
from troubleticket.api.contract import API_ROOT, document_validator, load_spec, method_table
from troubleticket.api.encoding import FastJsonifier
from troubleticket.api.fast_reads import FastReadMiddleware
from troubleticket.api.framework import App
from troubleticket.api.health import HealthMiddleware, readiness
from troubleticket.api.middleware import (
    BodyLimitMiddleware,
    MediaTypeMiddleware,
    RequestIdMiddleware,
    TrailingSlashMiddleware,
)
from troubleticket.api.notifications import HubHandlers, ListenerHandlers, PartnerHandlers
from troubleticket.api.parameters import CachedParameterValidator
from troubleticket.api.resources import ResourceHandlers
from troubleticket.api.routing import handler_table, resolver
from troubleticket.api.security import operation_ids, operation_scopes, secured, security_map
from troubleticket.config import ConfigError, Settings
from troubleticket.domain.audit import AUDIT
from troubleticket.domain.coordination import ACTIVITIES
from troubleticket.domain.events import (
    RECOVERY_ACTIVITY,
    TROUBLE_TICKET,
    TROUBLE_TICKET_SPECIFICATION,
)
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.partners import (
    NO_PARTNERS,
    PartnerRegistry,
    PartnersError,
    parse_partners,
)
from troubleticket.domain.policy import DEFAULT_POLICY, Policy, PolicyError, parse_policy
from troubleticket.domain.signing import secret_key
from troubleticket.domain.sla import HIDDEN
from troubleticket.domain.specification import create_specification, patch_specification
from troubleticket.domain.ticket import PARTY_PATH, claimed, is_party, party_ids
from troubleticket.services.activities import ActivityService
from troubleticket.services.background import Heartbeats, start
from troubleticket.services.dispatch import DeliveryPolicy, Dispatcher, Performer, http_sender
from troubleticket.services.egress import EgressPolicy
from troubleticket.services.hubs import HubService, ListenerService
from troubleticket.services.lease import Lease, while_held
from troubleticket.services.limits import Limits
from troubleticket.services.monitor import SlaMonitor
from troubleticket.services.partners import (
    PartnerDirectory,
    PartnerGateway,
    PartnerInbox,
    PartnerLinks,
    partner_requests,
    refused_partner_urls,
)
from troubleticket.services.resources import (
    Children,
    PartyScope,
    ResourceRules,
    ResourceService,
)
from troubleticket.services.tokens import InvalidToken, TokenSettings, TokenVerifier
from troubleticket.store.port import Collection, Store
from troubleticket.store.sqlite import SqliteStore
from troubleticket.types import JSON, Clock, Context, IdFactory


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


class OrderedIds:
    """Ids that sort in the order they were issued: the clock's milliseconds, a counter for
    those issued in the same millisecond, then random bits (unique across processes)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last = (0, 0)

    def __call__(self) -> str:
        millis = int(self._clock().timestamp() * 1000)
        with self._lock:
            last, count = self._last
            millis = max(millis, last)
            count = count + 1 if millis == last else 0
            self._last = (millis, count)
        return f"{millis:012x}-{count:04x}-{uuid.uuid4().hex[:16]}"


def ticket_rules(
    policy: Policy = DEFAULT_POLICY, partners: PartnerRegistry = NO_PARTNERS
) -> ResourceRules:
    """TroubleTicket: the lifecycle rules and the service policy, the contract's schema, its
    recovery activities, and the requests its changes make to partners."""
    managed = ManagedTicket(policy, partners)
    return ResourceRules(
        create=managed.create,
        patch=managed.patch,
        validate=document_validator("TroubleTicket_RES"),
        tick=managed.tick,
        hidden=HIDDEN | {ACTIVITIES, AUDIT},
        audit=True,
        children=Children(
            attribute=ACTIVITIES,
            collection=Collection.RECOVERY_ACTIVITY,
            kind=RECOVERY_ACTIVITY,
            validate=document_validator("RecoveryActivity_RES"),
            parent_ref="troubleTicket",
        ),
        requests=partner_requests(partners) if partners.partners else None,
        party_scope=PartyScope(path=PARTY_PATH, owns=is_party, claim=claimed, parties=party_ids),
    )


def specification_rules() -> ResourceRules:
    """TroubleTicketSpecification: its rules and the contract's _RES schema."""

    def create(body: JSON, *, resource_id: str, now: datetime, context: Context) -> JSON:
        return create_specification(body, resource_id=resource_id, now=now)

    def patch(current: JSON, patch: JSON, *, now: datetime, context: Context) -> JSON:
        return patch_specification(current, patch, now=now)

    return ResourceRules(
        create=create,
        patch=patch,
        validate=document_validator("TroubleTicketSpecification_RES"),
    )


@dataclass(frozen=True)
class StoreLocation:
    """Where ``TT_STORE`` points, read without opening anything."""

    kind: str  # "sqlite" or "mongodb"
    target: str  # the SQLite file (":memory:": a store in memory), or the MongoDB URI
    hosts: tuple[str, ...] = ()  # a mongodb:// URI's hosts (+srv ones are looked up later)


def store_location(location: str) -> StoreLocation:
    """``location`` as a SQLite file path, ``sqlite:///path``, or a MongoDB URI.

    Raises:
        ConfigError: the location names a store this server cannot open.
    """
    if location.startswith("mongodb+srv://"):
        # an SRV URI needs a DNS lookup to parse; pymongo checks it on connecting
        return StoreLocation("mongodb", location)
    if location.startswith("mongodb://"):
        from pymongo.errors import ConfigurationError, InvalidURI
        from pymongo.uri_parser import parse_uri

        try:
            parsed = parse_uri(location)
        except (InvalidURI, ConfigurationError, ValueError) as exc:
            raise ConfigError(f"TT_STORE is not a valid MongoDB URI: {exc}") from None
        hosts = tuple(f"{host}:{port}" for host, port in parsed["nodelist"])
        return StoreLocation("mongodb", location, hosts)
    if "://" in location:
        scheme, _, path = location.partition("://")
        if scheme != "sqlite" or not path.startswith("/"):
            raise ConfigError(
                f"TT_STORE has value {location!r}: expected a file path or sqlite:///path"
            )
        location = path[1:] or ":memory:"
    return StoreLocation("sqlite", location)


def open_store(settings: Settings, *, must_exist: bool = False) -> Store:
    """The store ``TT_STORE`` names (``store_location``).

    A MongoDB server is not contacted yet: one that is down now makes requests fail with 503
    until it is back, rather than keeping this server from starting. ``must_exist``: refuse a
    SQLite file that is not there yet (reading from a mistyped path would otherwise create an
    empty store).

    Raises:
        ConfigError: the location names a store this server cannot open.
    """
    location = store_location(settings.store)
    if location.kind == "mongodb":
        from troubleticket.store.mongo import MongoStore

        return MongoStore.from_uri(location.target)
    path = location.target
    if must_exist and path != ":memory:" and not Path(path).is_file():
        raise ConfigError(f"TT_STORE names no existing SQLite file: {path}")
    return SqliteStore(path)


def load_policy(settings: Settings) -> Policy:
    """The policy ``TT_POLICY`` names, validated; the built-in one when unset.

    Raises:
        ConfigError: the file cannot be read, is not YAML, or describes an unusable policy
            (every problem listed, with the path of its key).
    """
    if settings.policy is None:
        return DEFAULT_POLICY
    try:
        with open(settings.policy, encoding="utf-8") as source:
            data = yaml.safe_load(source)
    except OSError as exc:
        raise ConfigError(f"TT_POLICY: cannot read {settings.policy}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"TT_POLICY: {settings.policy} is not valid YAML: {exc}") from None
    try:
        return parse_policy(data)
    except PolicyError as exc:
        raise ConfigError(f"TT_POLICY: {settings.policy}: {exc}") from None


@dataclass(frozen=True)
class ServedContract:
    spec: dict[str, Any]
    security: dict[str, type] | None  # Connexion's security handlers (None: no tokens)
    scopes: dict[str, str]  # the scope each operation needs (empty: no tokens)


def served_contract(settings: Settings) -> ServedContract:
    """The contract to serve, and Connexion's security handlers: with ``TT_AUTH=jwt`` every
    operation requires its scope (``TT_SCOPES`` over the defaults) from a verified token.

    Raises:
        ConfigError: the JWKS file or the scopes file cannot be used.
    """
    # The parsed contract is cached per process; Connexion works on its own deep copy.
    spec = load_spec()
    if settings.auth != "jwt":
        return ServedContract(spec, None, {})
    assert settings.jwks and settings.jwt_issuer and settings.jwt_audience
    overrides: Any = {}
    if settings.scopes is not None:
        try:
            with open(settings.scopes, encoding="utf-8") as source:
                overrides = yaml.safe_load(source) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"TT_SCOPES: cannot read {settings.scopes}: {exc}") from None
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
    return ServedContract(secured(spec, scopes, token_url), security_map(verifier), scopes)


def load_partners(
    settings: Settings, environ: Mapping[str, str] = os.environ
) -> tuple[PartnerRegistry, dict[str, str]]:
    """The partner registry ``TT_PARTNERS`` names, and the secrets its variables hold.

    Raises:
        ConfigError: the file cannot be read, is not YAML, describes an unusable registry
            (every problem listed, with the path of its key), or names a variable not set.
    """
    if settings.partners is None:
        return NO_PARTNERS, {}
    try:
        with open(settings.partners, encoding="utf-8") as source:
            data = yaml.safe_load(source)
    except OSError as exc:
        raise ConfigError(f"TT_PARTNERS: cannot read {settings.partners}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"TT_PARTNERS: {settings.partners} is not valid YAML: {exc}") from None
    try:
        registry = parse_partners(data)
    except PartnersError as exc:
        raise ConfigError(f"TT_PARTNERS: {settings.partners}: {exc}") from None
    names = {name for partner in registry.partners.values() for name in partner.env_names()}
    missing = sorted(name for name in names if not environ.get(name))
    if missing:
        raise ConfigError(f"TT_PARTNERS: {settings.partners} needs {', '.join(missing)} set")
    secrets = {name: environ[name] for name in names}
    for partner in registry.partners.values():
        if partner.secret_env is not None:
            try:
                secret_key(secrets[partner.secret_env])
            except ValueError as exc:
                raise ConfigError(f"{partner.secret_env}: {exc}") from None
    return registry, secrets


@dataclass(frozen=True)
class Runtime:
    """What serving and working share: the ticket aggregate's services and the partners'."""

    settings: Settings
    store: Store
    policy: Policy
    tickets: ResourceService
    activities: ActivityService
    partners: PartnerRegistry
    gateway: PartnerGateway | None
    inbox: PartnerInbox | None
    links: PartnerLinks | None
    clock: Clock
    egress: EgressPolicy


def runtime(
    settings: Settings,
    store: Store,
    *,
    clock: Clock = utc_now,
    new_id: IdFactory = new_uuid,
    new_activity_id: IdFactory | None = None,
    wake: threading.Event | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Runtime:
    """Load the policy and the partners, and build the services on ``store``.

    Raises:
        ConfigError: the policy or the partner registry cannot be used.
    """
    policy = load_policy(settings)
    registry, secrets = load_partners(settings, environ)
    egress = egress_policy(settings)
    refused = refused_partner_urls(registry, egress)
    if refused:
        raise ConfigError(
            f"TT_PARTNERS: {'; '.join(refused)} (TT_EGRESS_ALLOW may name internal networks)"
        )
    managed = ManagedTicket(policy, registry)
    tickets = ticket_service(
        settings, store, policy, partners=registry, clock=clock, new_id=new_id, wake=wake
    )
    activities = ActivityService(
        tickets, store, managed=managed, clock=clock, new_id=new_activity_id or OrderedIds(clock)
    )
    gateway = inbox = links = None
    if registry.partners:
        gateway = PartnerGateway(
            registry, secrets, tickets=tickets, managed=managed, clock=clock, egress=egress
        )
        inbox = PartnerInbox(registry, secrets, store=store, gateway=gateway, clock=clock)
        links = PartnerLinks(
            registry,
            secrets,
            gateway,
            store=store,
            api_url=f"{settings.public_base_url}{API_ROOT}",
            clock=clock,
        )
    return Runtime(
        settings, store, policy, tickets, activities, registry, gateway, inbox, links, clock, egress
    )


def metered(settings: Settings, store: Store) -> Store:
    """``store`` with its operations timed for the metrics, when they are on."""
    if not settings.metrics or isinstance(store, metrics.MeteredStore):
        return store
    return metrics.MeteredStore(store)


def limits(settings: Settings) -> Limits:
    """What one write may produce and one patch may ask for."""
    return Limits(
        document_bytes=settings.max_document_bytes,
        array_items=settings.max_array_items,
        patch_operations=settings.max_patch_operations,
    )


def egress_policy(settings: Settings) -> EgressPolicy:
    """Where hub callbacks and partners may be: public addresses, and ``TT_EGRESS_ALLOW``."""
    return EgressPolicy(allow=tuple(ipaddress.ip_network(n) for n in settings.egress_allow))


def background(
    run: Runtime, wake: threading.Event, heartbeats: Heartbeats | None = None
) -> Callable[[], None]:
    """Start the dispatcher, the SLA monitor and the partner links in threads; returns the
    function that stops them. Their passes are recorded in ``heartbeats``."""
    settings = run.settings
    delivering = dispatcher(
        settings,
        run.store,
        run.clock,
        perform=run.gateway,
        egress=run.egress,
        overlapping=True,
        on_free=wake.set,
    )
    monitor = SlaMonitor(run.store, run.tickets, clock=run.clock)

    def loop(name: str, step: Callable[[], int], wakes: threading.Event, interval: float) -> Any:
        if settings.metrics:
            step = metrics.timed(name, step)
        return start(step, wakes, interval, name, heartbeats)

    stops = [
        loop("dispatcher", delivering.run_once, wake, settings.dispatch_interval),
        loop("sla-monitor", monitor.run_once, threading.Event(), run.policy.monitor_interval),
    ]
    if run.links is not None:
        stops.append(loop("partner-links", run.links.run_once, threading.Event(), LINK_INTERVAL))

    def stop() -> None:
        for halt in stops:
            halt()
        delivering.close()

    return stop


# The lease the server processes of ``serve --workers N`` compete for to run the loops.
BACKGROUND_LEASE = "background"

# How often registration at partners that do not have our hubs yet is tried again.
LINK_INTERVAL = 10.0


def dispatcher(
    settings: Settings,
    store: Store,
    clock: Clock = utc_now,
    *,
    perform: Performer | None = None,
    egress: EgressPolicy | None = None,
    overlapping: bool = False,
    on_free: Callable[[], None] | None = None,
) -> Dispatcher:
    """A dispatcher with the delivery settings, POSTing with ``requests`` where ``egress``
    (by default the settings') permits; ``perform`` carries out the requests to partners;
    ``overlapping`` and ``on_free`` as ``Dispatcher`` says (what the background loop uses)."""
    policy = DeliveryPolicy(
        schedule=settings.delivery_schedule,
        timeout=settings.delivery_timeout,
        lease=settings.delivery_lease,
        concurrency=settings.delivery_concurrency,
    )
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return Dispatcher(
        store,
        sender=http_sender(egress or egress_policy(settings)),
        clock=clock,
        worker_id=worker,
        policy=policy,
        perform=perform,
        overlapping=overlapping,
        on_free=on_free,
        on_attempt=metrics.delivery_attempted if settings.metrics else None,
    )


def ticket_service(
    settings: Settings,
    store: Store,
    policy: Policy,
    *,
    partners: PartnerRegistry = NO_PARTNERS,
    clock: Clock = utc_now,
    new_id: IdFactory = new_uuid,
    wake: threading.Event | None = None,
) -> ResourceService:
    """The TroubleTicket use cases under ``policy``, recording their events in ``store``."""
    return ResourceService(
        Collection.TROUBLE_TICKET,
        store=store,
        rules=ticket_rules(policy, partners),
        clock=clock,
        new_id=new_id,
        base_url=settings.public_base_url,
        limits=limits(settings),
        kind=TROUBLE_TICKET,
        new_event_id=new_uuid,
        on_commit=wake.set if wake is not None else None,
        on_events=metrics.events_recorded if settings.metrics else None,
    )


def hub_service(
    settings: Settings,
    store: Store,
    *,
    clock: Clock = utc_now,
    on_change: Callable[[], None] | None = None,
) -> HubService:
    """The hub subscriptions and their deliveries; ``on_change`` wakes this process's
    dispatcher (without it, a dispatcher sharing the store finds the work on its next look)."""
    return HubService(
        store,
        clock=clock,
        new_id=new_uuid,
        base_url=settings.public_base_url,
        on_change=on_change,
        egress=egress_policy(settings),
    )


def partner_directory(
    settings: Settings, store: Store, hubs: HubService, registry: PartnerRegistry
) -> PartnerDirectory:
    """What ``/partner`` shows of the partners in ``registry``: their links and deliveries."""
    return PartnerDirectory(
        registry, store=store, hubs=hubs, api_url=f"{settings.public_base_url}{API_ROOT}"
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
) -> AsyncApp:
    """Build the ASGI application; the store is opened now and closed at shutdown.

    ``new_activity_id`` issues recovery activity ids (by default in creation order, as their
    listings are ordered by id); ``environ`` holds the secrets the partner registry names;
    ``fast_reads=False`` leaves every read by id to Connexion (``api/fast_reads.py``).
    """
    store = metered(settings, store or open_store(settings))
    # Set after every write that recorded events: the in-process dispatcher wakes up at once.
    wake = threading.Event()
    run = runtime(
        settings,
        store,
        clock=clock,
        new_id=new_id,
        new_activity_id=new_activity_id,
        wake=wake,
        environ=environ,
    )
    tickets, activities = run.tickets, run.activities
    served = served_contract(settings)
    callers = Callers(
        run.partners,
        tokens=settings.auth == "jwt",
        trusted_gateway=settings.trusted_gateway,
        scopes=served.scopes,
    )
    specifications = ResourceService(
        Collection.TROUBLE_TICKET_SPECIFICATION,
        store=store,
        rules=specification_rules(),
        clock=clock,
        new_id=new_id,
        base_url=settings.public_base_url,
        limits=limits(settings),
        kind=TROUBLE_TICKET_SPECIFICATION,
        new_event_id=new_uuid,
        on_commit=wake.set,
    )
    hubs = hub_service(settings, store, clock=clock, on_change=wake.set)
    listeners = ListenerService(store, clock=clock, inbox=run.inbox)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        stop = None
        if settings.dispatch == "inprocess" and settings.workers > 1:
            # several server processes: the one holding the lease runs the loops
            holder = f"{socket.gethostname()}:{os.getpid()}"
            lease = Lease(store, BACKGROUND_LEASE, holder, clock=clock)
            stop = while_held(lease, lambda: background(run, wake, heartbeats))
        elif settings.dispatch == "inprocess":
            stop = background(run, wake, heartbeats)
        stop_metrics = None
        if settings.metrics and settings.metrics_port is not None and settings.workers == 1:
            # with several workers, `serve` answers on the metrics port for all of them
            stop_metrics = metrics.serve(
                settings.metrics_host or settings.host,
                settings.metrics_port,
                metrics.registry(store),
                settings.metrics_token,
            )
        try:
            yield
        finally:
            if stop_metrics is not None:
                stop_metrics()
            if stop is not None:
                stop()
            store.close()

    heartbeats = Heartbeats()
    ticket_handlers = ResourceHandlers(tickets, settings, callers)
    specification_handlers = ResourceHandlers(specifications, settings, callers)
    app = App(__name__, lifespan=lifespan, jsonifier=FastJsonifier())
    app.add_api(
        served.spec,
        base_path=API_ROOT,
        security_map=served.security,
        resolver=resolver(
            handler_table(
                ticket_handlers,
                specification_handlers,
                HubHandlers(hubs, settings, callers),
                ListenerHandlers(listeners),
                ActivityHandlers(activities, settings, callers),
                PartnerHandlers(
                    partner_directory(settings, store, hubs, run.partners),
                    settings,
                    callers,
                ),
            )
        ),
        pythonic_params=True,
        # TMF630 attribute filters are undeclared query parameters; they must reach the handler.
        strict_validation=False,
        validate_responses=False,
        validator_map={
            "body": MediaTypeDict({"*/*json": TmfJSONBodyValidator}),
            "parameter": CachedParameterValidator,
        },
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/ui"),
    )
    app.add_middleware(
        BodyLimitMiddleware,
        position=MiddlewarePosition.BEFORE_SWAGGER,
        max_bytes=settings.max_body_bytes,
    )
    app.add_middleware(MediaTypeMiddleware, position=MiddlewarePosition.BEFORE_SWAGGER)
    app.add_middleware(
        TrailingSlashMiddleware,
        position=MiddlewarePosition.BEFORE_SWAGGER,
        prefix=API_ROOT,
        keep=(f"{API_ROOT}/ui/",),
    )
    if fast_reads:
        app.add_middleware(
            FastReadMiddleware,
            position=MiddlewarePosition.BEFORE_SWAGGER,
            root=API_ROOT,
            spec=served.spec,
            handlers={
                Collection.TROUBLE_TICKET.value: ticket_handlers,
                Collection.TROUBLE_TICKET_SPECIFICATION.value: specification_handlers,
            },
            callers=callers,
        )
    app.add_middleware(
        HealthMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        ready=partial(readiness, store, heartbeats),
    )
    if settings.metrics and settings.metrics_port is None:
        from troubleticket.api.metrics import MetricsMiddleware

        app.add_middleware(
            MetricsMiddleware,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            collected=metrics.registry(store),
            token=settings.metrics_token,
            token_required=settings.auth == "jwt",
        )
    app.add_middleware(
        RequestIdMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        ui_prefix=f"{API_ROOT}/ui",
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
    errors.install(app, method_table())
    return app
