"""Each service built from the settings: the ticket and specification use cases, hubs, partners'
directory, the dispatcher, and the clock and ids they are given."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from troubleticket import metrics, tracing
from troubleticket.api.contract import API_ROOT, document_validator
from troubleticket.config import Settings
from troubleticket.context import Context
from troubleticket.domain import major_incident
from troubleticket.domain.audit import AUDIT
from troubleticket.domain.coordination import ACTIVITIES
from troubleticket.domain.events import (
    RECOVERY_ACTIVITY,
    TROUBLE_TICKET,
)
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.partners import (
    PartnerRegistry,
)
from troubleticket.domain.sla import HIDDEN
from troubleticket.domain.specification import create_specification, patch_specification
from troubleticket.domain.ticket import PARTY_PATH, claimed, is_party, party_ids
from troubleticket.notify.delivery import (
    DeliveryPolicy,
    FirstUse,
    Performer,
    Sender,
    http_sender,
)
from troubleticket.notify.dispatcher import Dispatcher
from troubleticket.notify.egress import EgressPolicy
from troubleticket.notify.hubs import HubService
from troubleticket.partners.directory import PartnerDirectory
from troubleticket.partners.requests import partner_requests
from troubleticket.services.limits import Limits
from troubleticket.services.major_incidents import MajorIncidents
from troubleticket.services.resources import ResourceService
from troubleticket.services.rules import Children, PartyScope, ResourceRules
from troubleticket.store.port import Collection, Store
from troubleticket.types import JSON, Clock, IdFactory


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


def ticket_rules(managed: ManagedTicket) -> ResourceRules:
    """TroubleTicket: the lifecycle rules and the service policy (``managed``), the contract's
    schema, its recovery activities, and the requests its changes make to partners."""
    partners = managed.partners
    return ResourceRules(
        create=managed.create,
        patch=managed.patch,
        validate=document_validator("TroubleTicket_RES"),
        tick=managed.tick,
        hidden=HIDDEN | major_incident.HIDDEN | {ACTIVITIES, AUDIT},
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


def dispatcher(
    settings: Settings,
    store: Store,
    clock: Clock = utc_now,
    *,
    perform: Performer | None = None,
    egress: EgressPolicy | None = None,
    overlapping: bool = False,
    on_free: Callable[[], None] | None = None,
    lanes: Callable[[str], Callable[[], frozenset[int] | None]] | None = None,
    pooled: bool = False,
) -> Dispatcher:
    """A dispatcher with the delivery settings, POSTing with ``requests`` where ``egress``
    (the runtime's; the settings' when alone) permits; ``perform`` carries out the requests to
    partners;
    ``overlapping`` and ``on_free`` as ``Dispatcher`` says (what the background loop uses);
    ``lanes`` makes, from the dispatcher's worker id, what tells it the lanes it holds;
    ``pooled``: hub notifications go out from one event loop over pooled connections
    (``notify.pooled``; closed with the dispatcher) rather than one thread per attempt."""
    policy = DeliveryPolicy(
        schedule=settings.delivery_schedule,
        timeout=settings.delivery_timeout,
        lease=settings.delivery_lease,
        concurrency=settings.delivery_concurrency,
    )
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    guard = egress or egress_policy(settings)
    sender: Sender = http_sender(guard)
    if pooled:

        def make() -> Sender:
            from troubleticket.notify.pooled import PooledSender

            provider = tracing.provider()
            return PooledSender(guard, connections=policy.concurrency, tracer_provider=provider)

        sender = FirstUse(make)
    return Dispatcher(
        store,
        sender=sender,
        clock=clock,
        worker_id=worker,
        policy=policy,
        perform=perform,
        overlapping=overlapping,
        on_free=on_free,
        on_attempt=metrics.delivery_attempted if settings.metrics else None,
        lanes=lanes(worker) if lanes is not None else None,
    )


def ticket_service(
    settings: Settings,
    store: Store,
    managed: ManagedTicket,
    *,
    clock: Clock = utc_now,
    new_id: IdFactory = new_uuid,
    wake: threading.Event | None = None,
) -> ResourceService:
    """The TroubleTicket use cases of the aggregate ``managed`` (its policy and partners),
    recording their events in ``store``."""
    tickets_url = f"{settings.public_base_url}{API_ROOT}/troubleTicket"
    relations = MajorIncidents(
        store,
        managed.policy.major_incident,
        clock=clock,
        href=lambda ticket_id: f"{tickets_url}/{ticket_id}",
        visible=is_party,
    )
    return ResourceService(
        Collection.TROUBLE_TICKET,
        store=store,
        rules=ticket_rules(managed),
        clock=clock,
        new_id=new_id,
        base_url=settings.public_base_url,
        limits=limits(settings),
        kind=TROUBLE_TICKET,
        new_event_id=new_uuid,
        on_commit=wake.set if wake is not None else None,
        on_events=metrics.events_recorded if settings.metrics else None,
        relations=relations,
    )


def hub_service(
    settings: Settings,
    store: Store,
    egress: EgressPolicy,
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
        egress=egress,
    )


def partner_directory(
    settings: Settings, store: Store, hubs: HubService, registry: PartnerRegistry
) -> PartnerDirectory:
    """What ``/partner`` shows of the partners in ``registry``: their links and deliveries."""
    return PartnerDirectory(
        registry, store=store, hubs=hubs, api_url=f"{settings.public_base_url}{API_ROOT}"
    )
