"""Server spans of the whole app with TT_TRACING on: one per request, named after the route,
with the answer's status, the request id and the caller's trace continued."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connexion.middleware import MiddlewarePosition
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.builders import TICKETS, a_ticket
from tests.conftest import FrozenClock
from troubleticket import tracing
from troubleticket.app import create_app
from troubleticket.config import Settings

TICKET = f"{TICKETS}/{{id}}"


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process, every span kept in memory; off again afterwards."""
    spans = InMemorySpanExporter()
    assert tracing.enable(Settings(tracing="console"), exporter=spans) is True
    yield spans
    RequestsInstrumentor().uninstrument()
    tracing._provider = None


@pytest.fixture
def http(exporter: InMemorySpanExporter, tmp_path: Path) -> Iterator[Any]:
    # create_app with tracing off adds no tracing of its own; the middleware goes in as
    # create_app adds it when tracing is on.
    settings = Settings(store=str(tmp_path / "t.sqlite3"), base_url="https://tt.example.com")
    app = create_app(settings, clock=FrozenClock())
    app.add_middleware(
        tracing.asgi_middleware(),
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        **tracing.middleware_options(),
    )
    with app.test_client() as client:
        exporter.clear()
        yield client


def finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return list(exporter.get_finished_spans())


def attribute(span: ReadableSpan, name: str) -> Any:
    return (span.attributes or {}).get(name)


def status_of(span: ReadableSpan) -> Any:
    return attribute(span, "http.response.status_code") or attribute(span, "http.status_code")


def test_a_post_and_gets_make_server_spans_named_after_their_routes(
    http: Any, exporter: InMemorySpanExporter
) -> None:
    posted = http.post(TICKETS, json=a_ticket(), headers={"X-Request-ID": "post-1"})
    assert posted.status_code == 201, posted.text
    ticket = posted.json()
    read = http.get(f"{TICKETS}/{ticket['id']}", headers={"X-Request-ID": "get-1"})
    listed = http.get(TICKETS, params={"limit": 1})
    missing = http.get(f"{TICKETS}/no-such-ticket", headers={"X-Request-ID": "get-2"})
    assert (read.status_code, listed.status_code, missing.status_code) == (200, 200, 404)

    spans = finished(exporter)
    assert [(s.name, status_of(s)) for s in spans] == [
        (f"POST {TICKETS}", 201),
        (f"GET {TICKET}", 200),
        (f"GET {TICKETS}", 200),
        (f"GET {TICKET}", 404),
    ]
    assert all(s.kind is SpanKind.SERVER for s in spans)
    assert [attribute(s, tracing.REQUEST_ID_ATTRIBUTE) for s in spans] == [
        "post-1",
        "get-1",
        listed.headers["x-request-id"],  # one the server made
        "get-2",
    ]
    assert [attribute(s, tracing.OPERATION_ID_ATTRIBUTE) for s in spans] == [
        "createTroubleTicket",
        "retrieveTroubleTicket",
        "listTroubleTicket",
        "retrieveTroubleTicket",
    ]
    assert attribute(spans[1], "http.route") == TICKET
    assert ticket["id"] not in spans[1].name


def test_a_request_refused_before_its_handler_is_still_named_after_its_route(
    http: Any, exporter: InMemorySpanExporter
) -> None:
    refused = http.patch(f"{TICKETS}/tt-1", json=[], headers={"X-Request-ID": "patch-1"})
    assert refused.status_code == 400
    (span,) = finished(exporter)
    assert span.name == f"PATCH {TICKET}"
    assert status_of(span) == 400
    assert attribute(span, tracing.REQUEST_ID_ATTRIBUTE) == "patch-1"


def test_requests_at_the_v4_root_are_named_after_its_routes(
    http: Any, exporter: InMemorySpanExporter
) -> None:
    v4_tickets = TICKETS.replace("/v5/", "/v4/")
    body = {"description": "Line down", "severity": "Major", "ticketType": "incident"}
    created = http.post(v4_tickets, json=body)
    assert created.status_code == 201, created.text
    assert http.get(f"{v4_tickets}/{created.json()['id']}").status_code == 200
    spans = finished(exporter)
    assert [(s.name, attribute(s, tracing.OPERATION_ID_ATTRIBUTE)) for s in spans] == [
        (f"POST {v4_tickets}", "createTroubleTicket"),
        (f"GET {v4_tickets}/{{id}}", "retrieveTroubleTicket"),
    ]


def test_probes_are_not_traced_and_unknown_paths_are_named_by_method(
    http: Any, exporter: InMemorySpanExporter
) -> None:
    assert http.get("/health/live").status_code == 200
    assert http.get("/health/ready").status_code == 200
    assert http.get("/no/such/path").status_code == 404
    assert [(s.name, status_of(s)) for s in finished(exporter)] == [("GET", 404)]


def test_a_callers_traceparent_is_continued(http: Any, exporter: InMemorySpanExporter) -> None:
    trace_id, parent_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    http.get(TICKETS, headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    (span,) = finished(exporter)
    assert f"{span.context.trace_id:032x}" == trace_id
    assert span.parent is not None and span.parent.is_remote
    assert f"{span.parent.span_id:016x}" == parent_id
