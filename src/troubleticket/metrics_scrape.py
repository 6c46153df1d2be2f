"""What a scrape of ``/metrics`` reads and how it is answered: the figures read from the store
(the outbox backlog, deliveries waiting or dead, open tickets by status, priority and jeopardy:
what every process shares, so whichever answers the scrape tells the same, taken at most every
``STATE_TTL`` seconds), the counted ones summed across the processes of ``serve --workers``, in
the Prometheus text format, on the API port or on one of their own."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from troubleticket.metrics import (
    CONTENT_TYPE,
    PATH,
    STATE_TTL,
    shared_dir,
)
from troubleticket.services import statistics
from troubleticket.store.port import Store, StoreUnavailable

logger = logging.getLogger(__name__)


class StoreState(Collector):
    """The gauges ``services.statistics`` counts, taken at most every ``ttl`` seconds."""

    def __init__(self, store: Store, *, ttl: float = STATE_TTL) -> None:
        self._store = store
        self._ttl = ttl
        self._lock = threading.Lock()
        self._taken: tuple[float, statistics.Figures | None] | None = None

    def _figures(self) -> statistics.Figures | None:
        with self._lock:  # one count at a time; concurrent scrapes share it
            now = time.monotonic()
            if self._taken is None or now - self._taken[0] >= self._ttl:
                try:
                    figures: statistics.Figures | None = statistics.count(self._store)
                except StoreUnavailable as exc:
                    logger.warning("metrics: the store could not be read: %s", exc.message)
                    figures = None
                self._taken = (now, figures)
            return self._taken[1]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures = self._figures()
        yield GaugeMetricFamily(
            "troubleticket_store_state_up",
            "1 when the figures below could be read from the store at the last look, else 0",
            value=0 if figures is None else 1,
        )
        if figures is None:
            return
        yield GaugeMetricFamily(
            "troubleticket_outbox_backlog",
            "Events recorded and not yet fanned out to their subscribers' deliveries",
            value=figures.outbox_backlog,
        )
        deliveries = GaugeMetricFamily(
            "troubleticket_deliveries",
            "Deliveries waiting (pending), being attempted (delivering) or dead-lettered (dead)",
            labels=["state"],
        )
        for state, n in sorted(figures.deliveries.items()):
            deliveries.add_metric([state], n)
        yield deliveries
        tickets = GaugeMetricFamily(
            "troubleticket_open_tickets",
            "Tickets in a status a transition leaves, by status, priority and the worst "
            "jeopardy level of their SLA clocks (none, warning, breach)",
            labels=["status", "priority", "jeopardy"],
        )
        for (status, priority, jeopardy), n in sorted(figures.open_tickets.items()):
            tickets.add_metric([status, priority, jeopardy], n)
        yield tickets


class _ProcessMetrics(Collector):
    """This process's own metrics (the single-process case)."""

    def collect(self) -> Iterable[Any]:
        return REGISTRY.collect()


def registry(store: Store | None) -> CollectorRegistry:
    """What a scrape of this server shows: the counted figures (summed over the processes that
    share ``PROMETHEUS_MULTIPROC_DIR`` when set) and, with a store, the state read from it."""
    collected = CollectorRegistry(auto_describe=False)
    directory = shared_dir()
    if directory is not None:
        prometheus_multiprocess.MultiProcessCollector(collected, path=directory)  # type: ignore[no-untyped-call]
    else:
        collected.register(_ProcessMetrics())
    if store is not None:
        collected.register(StoreState(store))
    return collected


def exposition(collected: CollectorRegistry) -> bytes:
    return generate_latest(collected)


def authorized(header: str | None, token: str | None) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (always, without a token)."""
    if token is None:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass


def serve(
    host: str, port: int, collected: CollectorRegistry, token: str | None
) -> Callable[[], None]:
    """Answer ``GET /metrics`` on ``host:port`` in a thread; returns the function that stops it.

    Raises:
        OSError: the port cannot be bound.
    """

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") != PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found: metrics are at /metrics\n"]
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b""]
        if not authorized(environ.get("HTTP_AUTHORIZATION"), token):
            start_response(
                "401 Unauthorized",
                [("WWW-Authenticate", 'Bearer realm="metrics"'), ("Content-Type", "text/plain")],
            )
            return [b"A bearer token (TT_METRICS_TOKEN) is needed\n"]
        body = exposition(collected)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE)])
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]

    server = make_server(host, port, app, server_class=_Server, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

    return stop
