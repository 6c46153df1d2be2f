"""OpenTelemetry tracing (TT_TRACING): span names and attributes, excluded paths, outbound
``traceparent``, the exporters, and nothing of OpenTelemetry loaded while tracing is off."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

import troubleticket
from tests.e2e.listener import Listener, always
from troubleticket import tracing
from troubleticket.api.middleware import RequestIdMiddleware
from troubleticket.config import ConfigError, Settings, Tracing
from troubleticket.notify.delivery import http_sender
from troubleticket.notify.egress import EgressPolicy
from troubleticket.notify.pooled import PooledSender

API = "/tmf-api/troubleTicket/v5"
TRACED = Settings(tracing="console")


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process, every span kept in memory; off again afterwards, so no other
    test's outbound requests are instrumented."""
    spans = InMemorySpanExporter()
    assert tracing.enable(TRACED, exporter=spans) is True
    yield spans
    RequestsInstrumentor().uninstrument()
    tracing._provider = None


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    exporter.clear()
    return exporter


def status_of(span: ReadableSpan) -> Any:
    attributes = span.attributes or {}
    return attributes.get("http.response.status_code", attributes.get("http.status_code"))


async def no_content(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def traced(app: Any) -> TestClient:
    return TestClient(tracing.asgi_middleware()(app, **tracing.middleware_options()))


# -- span names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "name", "operation"),
    [
        (
            "GET",
            f"{API}/troubleTicket/tt-1",
            f"GET {API}/troubleTicket/{{id}}",
            "retrieveTroubleTicket",
        ),
        (
            "GET",
            f"{API}/troubleTicket/tt-1/",
            f"GET {API}/troubleTicket/{{id}}",
            "retrieveTroubleTicket",
        ),
        (
            "HEAD",
            f"{API}/troubleTicket/tt-1",
            f"HEAD {API}/troubleTicket/{{id}}",
            "retrieveTroubleTicket",
        ),
        ("POST", f"{API}/troubleTicket", f"POST {API}/troubleTicket", "createTroubleTicket"),
        (
            "PATCH",
            f"{API}/troubleTicket/tt-1/recoveryActivity/ra-9",
            f"PATCH {API}/troubleTicket/{{id}}/recoveryActivity/{{activityId}}",
            "patchTroubleTicketRecoveryActivity",
        ),
        (
            "POST",
            f"{API}/listener/troubleTicketCreateEvent",
            f"POST {API}/listener/troubleTicketCreateEvent",
            "troubleTicketCreateEvent",
        ),
        # a method the route does not offer: still named after the route, no operation
        ("PUT", f"{API}/troubleTicket/tt-1", f"PUT {API}/troubleTicket/{{id}}", None),
    ],
)
def test_spans_are_named_after_the_contracts_route_not_the_ids(
    exporter: InMemorySpanExporter, method: str, path: str, name: str, operation: str | None
) -> None:
    details = tracing.middleware_options()["default_span_details"]
    got_name, attributes = details({"type": "http", "method": method, "path": path})
    assert got_name == name
    assert attributes.get("http.route") == name.split(" ", 1)[1]
    assert attributes.get(tracing.OPERATION_ID_ATTRIBUTE) == operation


@pytest.mark.parametrize(
    "path", ["/", "/wp-login.php", f"{API}/troubleTicket/tt-1/secret", f"{API}/ui/index.html"]
)
def test_a_path_outside_the_contract_gets_only_the_method_as_name(
    exporter: InMemorySpanExporter, path: str
) -> None:
    details = tracing.middleware_options()["default_span_details"]
    assert details({"type": "http", "method": "GET", "path": path}) == ("GET", {})


# -- the middleware -----------------------------------------------------------------------------


def test_health_and_metrics_paths_are_not_traced(spans: InMemorySpanExporter) -> None:
    http = traced(no_content)
    for path in ("/health/live", "/health/ready", "/metrics", "/metrics/", "/health/live?x=1"):
        assert http.get(path).status_code == 204
    assert spans.get_finished_spans() == ()
    assert http.get("/health/lively").status_code == 204
    assert http.get(f"{API}/metrics").status_code == 204
    assert [s.name for s in spans.get_finished_spans()] == ["GET", "GET"]


def test_a_span_is_a_server_span_with_the_answers_status(spans: InMemorySpanExporter) -> None:
    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    http = traced(not_found)
    http.delete(f"{API}/hub/h-1")
    (span,) = spans.get_finished_spans()
    assert span.name == f"DELETE {API}/hub/{{id}}"
    assert span.kind is SpanKind.SERVER
    assert status_of(span) == 404
    assert (span.attributes or {})[tracing.OPERATION_ID_ATTRIBUTE] == "hubDelete"


def test_outside_the_request_id_middleware_the_span_takes_the_id_the_answer_carries(
    spans: InMemorySpanExporter,
) -> None:
    app = RequestIdMiddleware(no_content, ui_prefix=f"{API}/ui")
    http = traced(app)
    sent = http.get(f"{API}/troubleTicket", headers={"X-Request-ID": "outer-7"})
    made = http.get(f"{API}/troubleTicket")
    first, second = spans.get_finished_spans()
    assert sent.headers["x-request-id"] == "outer-7"
    assert (first.attributes or {})[tracing.REQUEST_ID_ATTRIBUTE] == "outer-7"
    assert (second.attributes or {})[tracing.REQUEST_ID_ATTRIBUTE] == made.headers["x-request-id"]


# -- outbound -----------------------------------------------------------------------------------


def _traceparent(span: ReadableSpan) -> str:
    context = span.get_span_context()
    assert context is not None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def test_an_outbound_request_is_a_client_span_whose_traceparent_the_receiver_sees(
    spans: InMemorySpanExporter,
) -> None:
    with Listener() as listener:
        answer = requests.post(f"{listener.url}/hook", json={"eventId": "e-1"}, timeout=10)
        (received,) = listener.received()
    assert answer.status_code == 204
    (span,) = spans.get_finished_spans()
    assert span.kind is SpanKind.CLIENT
    assert span.name == "POST"
    assert status_of(span) == 204
    assert received.headers["traceparent"] == _traceparent(span)


def test_a_notification_delivery_carries_the_traceparent_of_its_client_span(
    spans: InMemorySpanExporter,
) -> None:
    send = http_sender(EgressPolicy.from_setting("127.0.0.0/8"))
    with Listener(policy=always(503)) as listener:
        outcome = send(f"{listener.url}/callback", b'{"eventId": "e-2"}', {}, 10)
        (received,) = listener.received()
    assert outcome.status == 503
    (span,) = spans.get_finished_spans()
    assert span.kind is SpanKind.CLIENT
    assert status_of(span) == 503
    assert received.headers["traceparent"] == _traceparent(span)


def test_a_pooled_delivery_carries_the_traceparent_of_its_client_span(
    spans: InMemorySpanExporter,
) -> None:
    send = PooledSender(
        EgressPolicy.from_setting("127.0.0.0/8"), connections=2, tracer_provider=tracing.provider()
    )
    try:
        with Listener(policy=always(503)) as listener:
            outcome = send(f"{listener.url}/callback", b'{"eventId": "e-3"}', {}, 10)
            (received,) = listener.received()
    finally:
        send.close()
    assert outcome.status == 503
    (span,) = spans.get_finished_spans()
    assert span.kind is SpanKind.CLIENT
    assert status_of(span) == 503
    assert received.headers["traceparent"] == _traceparent(span)


def test_enable_again_changes_nothing(spans: InMemorySpanExporter) -> None:
    provider = tracing._provider
    assert tracing.enable(TRACED) is True
    assert tracing.enable(Settings(tracing="otlp")) is True
    assert tracing._provider is provider
    with Listener() as listener:
        requests.get(f"{listener.url}/once", timeout=10)
    assert len(spans.get_finished_spans()) == 1  # instrumented once, one span processor


# -- missing packages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "module", "package"),
    [
        (
            "console",
            "opentelemetry.instrumentation.requests",
            "opentelemetry-instrumentation-requests",
        ),
        ("otlp", "opentelemetry.instrumentation.asgi", "opentelemetry-instrumentation-asgi"),
        ("otlp", "opentelemetry.sdk.trace", "opentelemetry-sdk"),
        (
            "otlp",
            "opentelemetry.exporter.otlp.proto.http.trace_exporter",
            "opentelemetry-exporter-otlp-proto-http",
        ),
    ],
)
def test_a_missing_package_is_a_config_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, mode: Tracing, module: str, package: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(ConfigError) as raised:
        tracing.enable(Settings(tracing=mode))
    message = str(raised.value)
    assert f"TT_TRACING={mode}" in message
    assert package in message
    assert message.endswith("pip install 'troubleticket[otel]'")


def test_the_console_exporter_does_not_need_the_otlp_package(
    exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    assert tracing.enable(Settings(tracing="console")) is True


def test_off_sets_nothing_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # Even with the packages gone, "off" neither imports nor complains.
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    assert tracing.enable(Settings()) is False


# -- whole processes ----------------------------------------------------------------------------

# Serves two requests the way `troubleticket serve` builds its app: the middleware is added as
# create_app adds it when tracing is on (unless create_app has added it already).
SERVE = """
import json, sys
from connexion.middleware import MiddlewarePosition
from troubleticket import tracing
from troubleticket.app import create_app
from troubleticket.config import Settings

settings = Settings.from_env()
app = create_app(settings)
if tracing.enable(settings) and tracing.enable(settings):
    middleware = tracing.asgi_middleware()
    if not any(getattr(m, "func", None) is middleware for m in app.middleware.middlewares):
        app.add_middleware(
            middleware,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            **tracing.middleware_options(),
        )
with app.test_client() as http:
    assert http.get("/health/live").status_code == 200
    listed = http.get("/tmf-api/troubleTicket/v5/troubleTicket", headers={"X-Request-ID": "sub-1"})
    assert listed.status_code == 200, listed.text
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "opentelemetry")
print("MODULES " + json.dumps(loaded), file=sys.stderr)
"""


def serve(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("TT_", "OTEL_"))
    }
    env.update(TT_STORE=str(tmp_path / "traced.sqlite3"), TT_DISPATCH="off", **environment)
    done = subprocess.run(
        [sys.executable, "-c", SERVE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done


def loaded_modules(done: subprocess.CompletedProcess[str]) -> list[str]:
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("MODULES ")]
    found: list[str] = json.loads(line.removeprefix("MODULES "))
    return found


def test_with_tracing_off_nothing_of_opentelemetry_is_imported(tmp_path: Path) -> None:
    done = serve(tmp_path, TT_TRACING="off")
    assert loaded_modules(done) == []
    assert done.stdout == ""


def test_console_prints_each_span_once_with_the_service_resource(tmp_path: Path) -> None:
    done = serve(tmp_path, TT_TRACING="console")
    assert "opentelemetry.sdk.trace" in loaded_modules(done)
    decoder, text, printed = json.JSONDecoder(), done.stdout.strip(), []
    while text:
        span, end = decoder.raw_decode(text)
        printed.append(span)
        text = text[end:].strip()
    # the health probe is not traced; the list is, once (however often enable was called)
    assert [span["name"] for span in printed] == [f"GET {API}/troubleTicket"]
    (span,) = printed
    assert span["kind"] == "SpanKind.SERVER"
    assert span["attributes"][tracing.REQUEST_ID_ATTRIBUTE] == "sub-1"
    assert span["attributes"]["http.route"] == f"{API}/troubleTicket"
    resource = span["resource"]["attributes"]
    assert resource["service.name"] == "troubleticket"
    assert resource["service.version"] == troubleticket.__version__


def test_otlp_sends_the_spans_over_http_protobuf_to_the_configured_endpoint(
    tmp_path: Path,
) -> None:
    with Listener(policy=always(200)) as collector:
        serve(
            tmp_path,
            TT_TRACING="otlp",
            OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
            OTEL_SERVICE_NAME="tt-under-test",
        )
        exports = collector.received("/v1/traces")
    assert exports, [str(r) for r in collector.received()]
    assert all(r.headers["content-type"] == "application/x-protobuf" for r in exports)
    # the exporter's own requests are not traced (nor would they loop)
    assert all("traceparent" not in r.headers for r in exports)
    names, resources = [], []
    for export in exports:
        body = export.body
        if export.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resources.append(
                {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            )
            names += [s.name for scope in resource_spans.scope_spans for s in scope.spans]
    assert names == [f"GET {API}/troubleTicket"]
    assert resources[0]["service.name"] == "tt-under-test"
    assert resources[0]["service.version"] == troubleticket.__version__
