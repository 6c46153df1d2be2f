"""OpenTelemetry traces, when ``TT_TRACING`` asks for them (``otlp`` or ``console``).

The OpenTelemetry packages are an optional extra (``pip install 'troubleticket[otel]'``): this
module imports them only inside ``enable`` and ``asgi_middleware``, so with tracing off (the
default) nothing of OpenTelemetry is loaded.

When on, every process (each of ``serve --workers`` calls ``enable`` for itself) gets one
``TracerProvider``: resource ``service.name`` from ``OTEL_SERVICE_NAME`` (else
``troubleticket``) and ``service.version``; spans go through a ``BatchSpanProcessor`` to the
OTLP/HTTP exporter (configured by the standard ``OTEL_EXPORTER_OTLP_*`` variables) or to
standard output. Then:

* inbound: the ASGI middleware opens a server span per request, named ``METHOD <route>`` after
  the contract's path template (``GET /tmf-api/troubleTicket/v5/troubleTicket/{id}``, never the
  id itself; only the method for a path the contract does not have), with ``http.route``, the
  contract's ``troubleticket.operation_id`` and the request's ``troubleticket.request_id``
  (its ``X-Request-ID``). Health probes and metrics scrapes are not traced;
* outbound: ``requests`` is instrumented, so each hub notification delivery and partner call is
  a client span and carries a ``traceparent`` header.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from troubleticket import __version__
from troubleticket import context as request_ids
from troubleticket.api.contract import API_ROOT, V4_API_ROOT, V4_SPEC_NAME, load_spec
from troubleticket.config import ConfigError, Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span

INSTALL_HINT = "pip install 'troubleticket[otel]'"
REQUEST_ID_ATTRIBUTE = "troubleticket.request_id"
OPERATION_ID_ATTRIBUTE = "troubleticket.operation_id"
DEFAULT_SERVICE_NAME = "troubleticket"
# Probes and scrapes come every few seconds and say nothing about the work: never traced.
EXCLUDED_PATHS = ("/health/live", "/health/ready", "/metrics")

_lock = threading.Lock()
# The process's provider, once ``enable`` has set tracing up (the OpenTelemetry global can be
# set only once per process, so the middleware and the requests instrumentation are handed this
# one explicitly).
_provider: TracerProvider | None = None


def enable(settings: Settings, *, exporter: SpanExporter | None = None) -> bool:
    """Set up tracing for this process as settings.tracing says; True when on. Idempotent.

    ``exporter`` (for tests) receives every span as it ends (a ``SimpleSpanProcessor``): in
    place of the exporter ``settings.tracing`` names when this call sets tracing up, in
    addition to the process's exporter when tracing was set up already.

    Raises:
        ConfigError: naming ``pip install 'troubleticket[otel]'`` when the packages are missing.
    """
    global _provider
    if settings.tracing == "off":
        return False
    _check_installed(settings.tracing)
    from opentelemetry import trace
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    with _lock:
        if _provider is None:
            provider = TracerProvider(
                resource=Resource.create(
                    {
                        SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME,
                        SERVICE_VERSION: __version__,
                    }
                )
            )
            if exporter is None:
                provider.add_span_processor(BatchSpanProcessor(_exporter(settings.tracing)))
            # Libraries that trace through the global API join in, unless something (such as
            # ``opentelemetry-instrument``) has set a provider of its own.
            if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
                trace.set_tracer_provider(provider)
            RequestsInstrumentor().instrument(tracer_provider=provider)
            _provider = provider
        if exporter is not None:
            _provider.add_span_processor(SimpleSpanProcessor(exporter))
    return True


def provider() -> Any | None:
    """The tracer provider ``enable`` set up (``None`` while tracing is off): what outbound
    calls made without ``requests`` (``notify.pooled``) trace with."""
    return _provider


def asgi_middleware() -> type:
    """The ASGI middleware class to add with Connexion's app.add_middleware (imported lazily)."""
    return _middleware_class()


def middleware_options() -> dict[str, Any]:
    """Keyword arguments for that middleware (excluded urls, span details hooks ...)."""
    from opentelemetry.util.http import ExcludeList

    paths = "|".join(re.escape(path) for path in EXCLUDED_PATHS)
    return {
        # The middleware matches these against scheme://host/path (no query).
        "excluded_urls": ExcludeList([rf"^[a-z]+://[^/]*(?:{paths})/?$"]),
        "default_span_details": _routes().span_details,
        "server_request_hook": _note_request_id,
        # The server span is enough; one more span per ASGI message would only be noise.
        "exclude_spans": ["receive", "send"],
        "tracer_provider": _provider,
    }


# -- set-up -------------------------------------------------------------------------------------

_MODULES = {
    "opentelemetry.sdk.trace": "opentelemetry-sdk",
    "opentelemetry.instrumentation.asgi": "opentelemetry-instrumentation-asgi",
    "opentelemetry.instrumentation.requests": "opentelemetry-instrumentation-requests",
}
_OTLP_MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"


def _check_installed(mode: str) -> None:
    needed = dict(_MODULES)
    if mode == "otlp":
        needed[_OTLP_MODULE] = "opentelemetry-exporter-otlp-proto-http"
    for module, package in needed.items():
        try:
            __import__(module)
        except ImportError as exc:
            raise ConfigError(
                f"TT_TRACING={mode} needs the OpenTelemetry packages, but {package} cannot be "
                f"imported ({exc}): {INSTALL_HINT}"
            ) from None


def _exporter(mode: str) -> SpanExporter:
    if mode == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # endpoint, headers ... from OTEL_EXPORTER_OTLP_*
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    return ConsoleSpanExporter()


# -- inbound requests ---------------------------------------------------------------------------


class _Routes:
    """The contract's path templates, to name a request's span after its route."""

    def __init__(self, *served: tuple[str, Mapping[str, Any]]) -> None:
        """``served``: each API root with its contract's paths."""
        self._routes: list[tuple[re.Pattern[str], str, dict[str, str]]] = []
        for root, paths in served:
            # Templates without parameters first, so a literal segment wins over ``{id}``.
            for template in sorted(paths, key=lambda template: template.count("{")):
                pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template.rstrip("/")))
                operations = {
                    method.upper(): operation["operationId"]
                    for method, operation in paths[template].items()
                    if isinstance(operation, Mapping)
                    and isinstance(operation.get("operationId"), str)
                }
                self._routes.append(
                    (re.compile(f"{re.escape(root)}{pattern}/?"), root + template, operations)
                )

    def route(self, method: str, path: str) -> tuple[str | None, str | None]:
        """The template ``path`` matches and the operation ``method`` has there (or ``None``)."""
        for pattern, template, operations in self._routes:
            if pattern.fullmatch(path):
                operation = operations.get("GET" if method == "HEAD" else method)
                return template, operation
        return None, None

    def span_details(self, scope: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
        """The server span's name and attributes (the middleware's ``default_span_details``)."""
        method = str(scope.get("method") or "HTTP").upper()
        template, operation = self.route(method, str(scope.get("path") or ""))
        if template is None:
            # An unknown path stays out of the name: scanners would make one name per path.
            return method, {}
        attributes = {"http.route": template}
        if operation is not None:
            attributes[OPERATION_ID_ATTRIBUTE] = operation
        return f"{method} {template}", attributes


@cache
def _routes() -> _Routes:
    return _Routes(
        (API_ROOT, load_spec()["paths"]), (V4_API_ROOT, load_spec(V4_SPEC_NAME)["paths"])
    )


def _note_request_id(span: Span, _scope: Mapping[str, Any]) -> None:
    """The middleware's ``server_request_hook``: the request id, when it is known already (the
    middleware sits inside ``RequestIdMiddleware``)."""
    request_id = request_ids.current_request_id()
    if request_id is not None and span.is_recording():
        span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)


_REQUEST_ID_HEADER = request_ids.REQUEST_ID_HEADER.lower().encode("latin-1")


@cache
def _middleware_class() -> type:
    from opentelemetry import trace
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from starlette.types import Message, Receive, Scope, Send

    class TracingMiddleware(OpenTelemetryMiddleware):
        """``OpenTelemetryMiddleware`` that also names the request id its answer carries, for
        when it is not known as the request starts (the middleware sits outside
        ``RequestIdMiddleware``)."""

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await super().__call__(scope, receive, send)
                return

            async def send_noting_request_id(message: Message) -> None:
                # Called from within the server span: it is the current one here.
                if message["type"] == "http.response.start":
                    span = trace.get_current_span()
                    for name, value in message.get("headers", ()):
                        if name.lower() == _REQUEST_ID_HEADER and span.is_recording():
                            span.set_attribute(REQUEST_ID_ATTRIBUTE, value.decode("latin-1"))
                await send(message)

            await super().__call__(scope, receive, send_noting_request_id)

    return TracingMiddleware
