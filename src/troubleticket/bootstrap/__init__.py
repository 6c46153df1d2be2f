"""The composition root: loads the configuration's files, opens the store, and builds every
service once, on the concrete adapters; the app, the worker and the operator commands all start
here (``runtime``), and only here are adapters chosen.

``stores`` opens the store, ``files`` reads the files the settings name, ``services`` builds
each service; ``runtime`` here puts them together.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from troubleticket import metrics
from troubleticket.background.lanes import LaneLeases
from troubleticket.background.loops import Heartbeats, start
from troubleticket.background.major_incidents import CascadeRunner, RollupAnnouncer
from troubleticket.background.monitor import SlaMonitor
from troubleticket.bootstrap.files import check_partner_listeners, load_partners, load_policy
from troubleticket.bootstrap.services import (
    OrderedIds,
    dispatcher,
    egress_policy,
    hub_service,
    limits,
    new_uuid,
    partner_directory,
    specification_rules,
    ticket_service,
    utc_now,
)
from troubleticket.config import ConfigError, Settings
from troubleticket.domain.events import TROUBLE_TICKET_SPECIFICATION
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.partners import PartnerRegistry
from troubleticket.domain.policy import Policy
from troubleticket.notify.egress import EgressPolicy
from troubleticket.notify.hubs import HubService
from troubleticket.notify.listeners import ListenerService
from troubleticket.partners.directory import PartnerDirectory
from troubleticket.partners.gateway import PartnerGateway
from troubleticket.partners.inbox import PartnerInbox
from troubleticket.partners.links import PartnerLinks
from troubleticket.partners.requests import refused_partner_urls
from troubleticket.services.activities import ActivityService
from troubleticket.services.major_incidents import MajorIncidents
from troubleticket.services.resources import ResourceService
from troubleticket.store.port import Collection, Store
from troubleticket.types import Clock, IdFactory


@dataclass(frozen=True)
class Runtime:
    """Every service serving and working share, built once on one store."""

    settings: Settings
    store: Store
    clock: Clock
    policy: Policy
    partners: PartnerRegistry
    egress: EgressPolicy
    # set after every write that recorded events: a dispatcher in this process wakes at once
    wake: threading.Event
    managed: ManagedTicket
    tickets: ResourceService
    activities: ActivityService
    specifications: ResourceService
    hubs: HubService
    listeners: ListenerService
    directory: PartnerDirectory
    gateway: PartnerGateway | None
    inbox: PartnerInbox | None
    links: PartnerLinks | None


def runtime(
    settings: Settings,
    store: Store,
    *,
    clock: Clock = utc_now,
    new_id: IdFactory = new_uuid,
    new_activity_id: IdFactory | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Runtime:
    """Load the policy and the partners, and build every service on ``store``.

    Raises:
        ConfigError: the policy or the partner registry cannot be used (with these settings:
            a partner's URLs the egress guard refuses, a v4 partner's events with TT_V4 off).
    """
    policy = load_policy(settings)
    registry, secrets = load_partners(settings, environ)
    check_partner_listeners(settings, registry)
    egress = egress_policy(settings)
    refused = refused_partner_urls(registry, egress)
    if refused:
        raise ConfigError(
            f"TT_PARTNERS: {'; '.join(refused)} (TT_EGRESS_ALLOW may name internal networks)"
        )
    wake = threading.Event()
    managed = ManagedTicket(policy, registry)
    tickets = ticket_service(settings, store, managed, clock=clock, new_id=new_id, wake=wake)
    activities = ActivityService(
        tickets, store, managed=managed, clock=clock, new_id=new_activity_id or OrderedIds(clock)
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
    hubs = hub_service(settings, store, egress, clock=clock, on_change=wake.set)
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
            base_url=settings.public_base_url,
            clock=clock,
        )
    return Runtime(
        settings=settings,
        store=store,
        clock=clock,
        policy=policy,
        partners=registry,
        egress=egress,
        wake=wake,
        managed=managed,
        tickets=tickets,
        activities=activities,
        specifications=specifications,
        hubs=hubs,
        listeners=ListenerService(store, clock=clock, inbox=inbox),
        directory=partner_directory(settings, store, hubs, registry),
        gateway=gateway,
        inbox=inbox,
        links=links,
    )


def background(
    run: Runtime, heartbeats: Heartbeats | None = None, *, shared: bool = False
) -> Callable[[], None]:
    """Start the dispatcher and the coordination loops in threads; returns the function that
    stops them. Their passes are recorded in ``heartbeats``. ``shared``: other processes
    dispatch too (``troubleticket worker``s): deliver only this one's share of the lanes."""
    stops = [dispatching(run, heartbeats, shared=shared), coordinating(run, heartbeats)]

    def stop() -> None:
        for halt in stops:
            halt()

    return stop


def _loop(
    run: Runtime,
    heartbeats: Heartbeats | None,
    name: str,
    step: Callable[[], int],
    wakes: threading.Event,
    interval: float,
) -> Callable[[], None]:
    if run.settings.metrics:
        step = metrics.timed(name, step)
    return start(step, wakes, interval, name, heartbeats)


def dispatching(
    run: Runtime, heartbeats: Heartbeats | None = None, *, shared: bool
) -> Callable[[], None]:
    """Start the dispatcher loop; returns the function that stops it. ``shared``: it delivers
    the lanes this process holds among every process that dispatches (``background.lanes``);
    else (the one process of ``serve``) every lane, without waiting for leases at a restart."""
    held: list[LaneLeases] = []

    def lanes(worker: str) -> LaneLeases:
        held.append(LaneLeases(run.store, worker, clock=run.clock))
        return held[-1]

    delivering = dispatcher(
        run.settings,
        run.store,
        run.clock,
        perform=run.gateway,
        egress=run.egress,
        overlapping=True,
        on_free=run.wake.set,
        lanes=lanes if shared else None,
        pooled=True,
    )
    interval = run.settings.dispatch_interval
    halt = _loop(run, heartbeats, "dispatcher", delivering.run_once, run.wake, interval)

    def stop() -> None:
        halt()
        delivering.close()
        delivering.record_ended()
        for leases in held:
            leases.release()

    return stop


def coordinating(run: Runtime, heartbeats: Heartbeats | None = None) -> Callable[[], None]:
    """Start the SLA monitor, the major incidents' cascade and rollup and the partner links
    (one process at a time runs these); returns the function that stops them."""
    monitor = SlaMonitor(run.store, run.tickets, clock=run.clock)
    cascade = CascadeRunner(run.store, run.tickets, run.managed, clock=run.clock)
    stops = [
        _loop(
            run,
            heartbeats,
            "sla-monitor",
            monitor.run_once,
            threading.Event(),
            run.policy.monitor_interval,
        ),
        _loop(run, heartbeats, "cascade", cascade.run_once, threading.Event(), CASCADE_INTERVAL),
    ]
    if isinstance(run.tickets.relations, MajorIncidents):
        rollups = RollupAnnouncer(run.store, run.tickets, run.tickets.relations)
        interval = run.policy.major_incident.rollup_interval
        stops.append(
            _loop(run, heartbeats, "rollup", rollups.run_once, threading.Event(), interval)
        )
    if run.links is not None:
        stops.append(
            _loop(
                run,
                heartbeats,
                "partner-links",
                run.links.run_once,
                threading.Event(),
                LINK_INTERVAL,
            )
        )

    def stop() -> None:
        for halt in stops:
            halt()

    return stop


# The lease the server processes of ``serve --workers N`` compete for to run the coordination
# loops (each of them dispatches, on its share of the lanes).
BACKGROUND_LEASE = "background"


# How often the cascade runner looks for a parent's cascade to start on (while one runs, its
# batches follow each other without a pause).
CASCADE_INTERVAL = 1.0


# How often registration at partners that do not have our hubs yet is tried again.
LINK_INTERVAL = 10.0
