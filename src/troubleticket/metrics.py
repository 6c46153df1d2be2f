"""Prometheus metrics: what the server counts (the ``/metrics`` exposition is
``metrics_scrape``).

Two kinds of figure:

* counted by the process as things happen — requests by operationId and status with their
  latency, store operations, delivery attempts and their outcome, the time from an event's
  commit to its delivery, failures by subscriber, events recorded, jeopardy alerts and
  escalations raised, the duration of each background pass. The processes of
  ``serve --workers N`` keep them in files under ``PROMETHEUS_MULTIPROC_DIR`` (set for them by
  ``serve``; ``TT_METRICS_DIR`` chooses where), and a scrape sums them across processes;
* read from the store when scraped — the outbox backlog, deliveries waiting or dead, open
  tickets by status, priority and jeopardy (``services.statistics``): what every process
  shares, so whichever answers the scrape tells the same. They are taken at most every
  ``STATE_TTL`` seconds; ``troubleticket_store_state_up`` is 0 when the store could not be read.

Names follow Prometheus conventions: ``troubleticket_`` prefix, base units, ``_total`` counters.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from prometheus_client import Counter, Histogram

from troubleticket.notify.delivery import Attempt
from troubleticket.store.port import Store
from troubleticket.types import JSON

logger = logging.getLogger(__name__)
R = TypeVar("R")

PATH = "/metrics"
# Seconds the figures read from the store are reused for (scrapes come every 15-60 s).
STATE_TTL = 10.0
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# The text format every Prometheus server reads (the names here need no escaping).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# From half a millisecond (a read by id) to ten seconds.
_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# An event's way to its subscriber: from tens of milliseconds to the hours of the retry schedule.
_DELIVERY = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
_PASS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)

REQUESTS = Histogram(
    "troubleticket_http_request_duration_seconds",
    "Requests answered, by operationId (the contract's; 'none' when no operation matched) and "
    "HTTP status, and how long they took",
    ["operation", "status"],
    buckets=_LATENCY,
)
STORE_OPERATIONS = Histogram(
    "troubleticket_store_operation_duration_seconds",
    "Store operations by kind and collection, and how long they took",
    ["operation", "collection"],
    buckets=_LATENCY,
)
DELIVERY_ATTEMPTS = Counter(
    "troubleticket_delivery_attempts_total",
    "Delivery attempts to hubs and partners, by the delivery's state after it: delivered, "
    "pending (due again) or dead (no attempt left)",
    ["kind", "outcome"],
)
DELIVERY_FAILURES = Counter(
    "troubleticket_delivery_failures_total",
    "Failed delivery attempts by subscriber: a hub id, or a partner's lane",
    ["hub"],
)
DELIVERY_LATENCY = Histogram(
    "troubleticket_delivery_latency_seconds",
    "From an event's commit to its delivery, retries included",
    ["kind"],
    buckets=_DELIVERY,
)
DELIVERY_ATTEMPT_DURATION = Histogram(
    "troubleticket_delivery_attempt_duration_seconds",
    "How long one delivery attempt took, answered or not",
    ["kind"],
    buckets=_LATENCY,
)
EVENTS = Counter(
    "troubleticket_events_total", "Events recorded in the outbox, by eventType", ["event_type"]
)
JEOPARDY_ALERTS = Counter(
    "troubleticket_jeopardy_alerts_total",
    "Jeopardy alerts raised, by jeopardyType (warning, breach, activityLate, ...)",
    ["jeopardy_type"],
)
ESCALATIONS = Counter(
    "troubleticket_escalations_total", "Escalations, by the level reached", ["level"]
)
PASSES = Histogram(
    "troubleticket_background_pass_duration_seconds",
    "Passes of the background loops (dispatcher, sla-monitor, partner-links) and their duration",
    ["loop"],
    buckets=_PASS,
)


def shared_dir() -> str | None:
    """The directory the processes of this server share their figures in, when there are
    several (``PROMETHEUS_MULTIPROC_DIR``, which must be set before this module is imported)."""
    return os.environ.get(MULTIPROCESS_DIR) or None


# -- counted as things happen -------------------------------------------------------------------


class _Children:
    """The labelled children of a metric, looked up once per label values (``labels()`` costs
    a few microseconds on every call)."""

    def __init__(self, metric: Histogram | Counter) -> None:
        self._metric = metric
        self._children: dict[tuple[object, ...], Any] = {}

    def __call__(self, *values: object) -> Any:
        """The child of these label values (each as ``str`` gives it: a status code, a
        collection)."""
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*map(str, values))
        return child


_requests = _Children(REQUESTS)
_store_operations = _Children(STORE_OPERATIONS)


def request_answered(operation_id: str | None, status: int, seconds: float) -> None:
    _requests(operation_id or "none", status).observe(seconds)


def events_recorded(events: Sequence[JSON]) -> None:
    """Count the outbox records of one write, and the alerts and escalations among them."""
    for record in events:
        event_type = record.get("eventType", "")
        EVENTS.labels(event_type).inc()
        payload = record.get("body", {}).get("event", {})
        if event_type == "TroubleTicketJeopardyAlertEvent":
            JEOPARDY_ALERTS.labels(str(payload.get("jeopardyAlert", {}).get("jeopardyType"))).inc()
        elif event_type == "TroubleTicketEscalationEvent":
            ESCALATIONS.labels(str(payload.get("escalation", {}).get("level"))).inc()


def delivery_attempted(attempt: Attempt) -> None:
    kind = "partner" if attempt.partner else "hub"
    DELIVERY_ATTEMPTS.labels(kind, attempt.state).inc()
    DELIVERY_ATTEMPT_DURATION.labels(kind).observe(attempt.seconds)
    if attempt.failed:
        DELIVERY_FAILURES.labels(attempt.hub_id).inc()
    if attempt.latency is not None:
        DELIVERY_LATENCY.labels(kind).observe(attempt.latency)


def timed(loop: str, step: Callable[[], int]) -> Callable[[], int]:
    """``step`` with the duration of every pass observed under ``loop``."""
    histogram = PASSES.labels(loop)

    @functools.wraps(step)
    def run() -> int:
        started = time.perf_counter()
        try:
            return step()
        finally:
            histogram.observe(time.perf_counter() - started)

    return run


class MeteredStore:
    """A store whose reads and writes are timed into ``STORE_OPERATIONS``."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.inline_reads = store.inline_reads

    def _timed(self, operation: str, collection: Any, call: Callable[[], R]) -> R:
        started = time.perf_counter()
        try:
            return call()
        finally:
            _store_operations(operation, collection).observe(time.perf_counter() - started)

    # the reads every request makes, timed without a closure
    def get(self, collection: Any, doc_id: str) -> Any:
        started = time.perf_counter()
        try:
            return self._store.get(collection, doc_id)
        finally:
            _store_operations("get", collection).observe(time.perf_counter() - started)

    def list(self, collection: Any, query: Any) -> Any:
        started = time.perf_counter()
        try:
            return self._store.list(collection, query)
        finally:
            _store_operations("list", collection).observe(time.perf_counter() - started)

    def tally(self, collection: Any, where: Any, by: Sequence[tuple[str, ...]]) -> Any:
        return self._timed("tally", collection, lambda: self._store.tally(collection, where, by))

    def insert(self, collection: Any, doc: JSON, *, events: Sequence[JSON] = ()) -> Any:
        return self._timed(
            "insert", collection, lambda: self._store.insert(collection, doc, events=events)
        )

    def replace(
        self, collection: Any, doc: JSON, *, expected_version: int, events: Sequence[JSON] = ()
    ) -> Any:
        return self._timed(
            "replace",
            collection,
            lambda: self._store.replace(
                collection, doc, expected_version=expected_version, events=events
            ),
        )

    def delete(
        self,
        collection: Any,
        doc_id: str,
        *,
        expected_version: int | None = None,
        events: Sequence[JSON] = (),
    ) -> bool:
        return self._timed(
            "delete",
            collection,
            lambda: self._store.delete(
                collection, doc_id, expected_version=expected_version, events=events
            ),
        )

    def write(self, collection: Any, writes: Sequence[Any]) -> Any:
        return self._timed("write", collection, lambda: self._store.write(collection, writes))

    def counters(self, key: str) -> dict[str, int]:
        return self._store.counters(key)

    def count_counters(self, key: str) -> int:
        return self._store.count_counters(key)

    def relay_events(self, limit: int = 500) -> int:
        return self._timed("relay_events", "event", lambda: self._store.relay_events(limit))

    def insert_many(self, collection: Any, docs: Iterable[JSON]) -> int:
        return self._store.insert_many(collection, docs)

    def restore(self, collection: Any, items: Iterable[Any], *, counters: Any = ()) -> int:
        return self._store.restore(collection, items, counters=counters)

    def scan(self, collection: Any) -> Iterator[Any]:
        return self._store.scan(collection)

    def check(self) -> None:
        self._store.check()

    def close(self) -> None:
        self._store.close()

    def __getattr__(self, name: str) -> Any:  # what an adapter offers beyond the port
        return getattr(self._store, name)
