"""Deliveries POSTed from one asyncio loop over pooled keep-alive connections (aiohttp).

A thread per attempt in flight made every attempt wait its turn for the GIL behind the others:
with 64 threads a local listener got ~650 POSTs a second from a process whose GIL was busy less
than half the time. Here one thread runs an event loop that has every attempt in flight at once
and reuses connections per host; the dispatcher hands an attempt over (``start``) and is told
its outcome (``then``) on that thread.

aiohttp: a well-kept asynchronous client with C-accelerated HTTP parsing, a connection pool
with per-host keep-alive, and a pluggable resolver, through which the egress guard keeps its
connect-time check: the resolver resolves the name with the policy's resolver, refuses unless
every address is permitted (as ``notify.guarded`` does for ``requests``), and aiohttp connects
only to the addresses it returned. An IP literal, which aiohttp connects to without resolving,
is checked before the attempt starts: no name, nothing to rebind. No redirect is followed, no
proxy or ``.netrc`` from the environment applies; of the answer only the status counts, its
body read to ``ANSWER_BYTES`` at most within the timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from troubleticket.notify.delivery import ANSWER_BYTES, Outcome
from troubleticket.notify.egress import EgressPolicy, EgressRefused


class _GuardedResolver(AbstractResolver):
    """Names resolved by the policy's resolver, and refused unless every address is permitted."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        addresses = await loop.run_in_executor(None, self._policy.resolver, host, port)
        self._policy.check_resolved(host, addresses, f"connection to {host}:{port}")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        pass


def _ssl_context() -> ssl.SSLContext:
    """The system's CAs, or the bundle ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` names (as the
    ``requests`` sessions of partner calls honour it)."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return ssl.create_default_context(cafile=bundle or None)


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class PooledSender:
    """POSTs events from its own event loop thread; ``close`` stops it."""

    def __init__(
        self, egress: EgressPolicy, *, connections: int, tracer_provider: Any | None = None
    ) -> None:
        """``tracer_provider``: with tracing on (``troubleticket.tracing``), each attempt is a
        CLIENT span of it whose context goes along (``traceparent``)."""
        self._egress = egress
        self._tracer = tracer_provider.get_tracer(__name__) if tracer_provider else None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="delivery-http", daemon=True
        )
        self._thread.start()
        self._session: aiohttp.ClientSession = self._call(self._open(connections)).result()
        self._pending: set[Future[Outcome]] = set()
        self._lock = threading.Lock()

    def _call(self, work: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    async def _open(self, connections: int) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=connections,
            resolver=_GuardedResolver(self._egress),
            use_dns_cache=False,  # every new connection resolves and is checked again
            ssl=_ssl_context(),
        )
        return aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False)

    def start(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
        then: Callable[[Outcome], None],
    ) -> None:
        """Begin the attempt; ``then`` is called with its outcome, on the sender's thread."""
        attempt: Future[Outcome] = self._call(self._post(url, body, headers, timeout))
        with self._lock:
            self._pending.add(attempt)

        def done(finished: Future[Outcome]) -> None:
            with self._lock:
                self._pending.discard(finished)
            error = None if finished.cancelled() else finished.exception()
            if finished.cancelled() or error is not None:
                then(Outcome(None, _described(error or TimeoutError())))
            else:
                then(finished.result())

        attempt.add_done_callback(done)

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        """The attempt, waited for (the ``Sender`` protocol)."""
        outcome: Outcome = self._call(self._post(url, body, headers, timeout)).result()
        return outcome

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> Outcome:
        with _client_span(self._tracer, url, headers) as span:
            outcome = await self._attempt(url, body, headers, timeout)
            if span is not None and outcome.status is not None:
                span.set_attribute("http.response.status_code", outcome.status)
            return outcome

    async def _attempt(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> Outcome:
        try:
            host = urlsplit(url).hostname or ""
            if _literal(host):
                self._egress.check_resolved(host, [host], f"connection to {host}")
            async with asyncio.timeout(timeout):
                async with self._session.post(
                    url, data=body, headers=headers, allow_redirects=False
                ) as response:
                    read = 0
                    while chunk := await response.content.read(16 * 1024):
                        read += len(chunk)
                        if read > ANSWER_BYTES:
                            response.close()  # not worth keeping the connection for
                            break
                    return Outcome(response.status)
        except EgressRefused as refused:
            return Outcome(None, f"EgressConnectionRefused: {refused.message}"[:500])
        except aiohttp.ClientConnectionError as exc:
            refusal = _refusal_in(exc)
            if refusal is not None:
                return Outcome(None, f"EgressConnectionRefused: {refusal.message}"[:500])
            # named as the threaded sender (requests) names it, for the operators' tools
            return Outcome(None, f"ConnectionError: {exc}"[:500])
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            return Outcome(None, _described(exc))

    def close(self, wait: float = 10) -> None:
        """Let the attempts in flight end (``wait`` seconds at most), then close."""
        with self._lock:
            pending = list(self._pending)
        concurrent.futures.wait(pending, timeout=wait)
        try:
            self._call(self._session.close()).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()


def _client_span(
    tracer: Any | None, url: str, headers: dict[str, str]
) -> AbstractContextManager[Any]:
    """A CLIENT span of ``tracer`` for the attempt, its context put in ``headers``
    (``traceparent``), as the ``requests`` instrumentation does for the threaded sender; nothing
    without a tracer."""
    if tracer is None:
        return nullcontext(None)
    from opentelemetry import propagate, trace

    @contextmanager
    def span() -> Iterator[Any]:
        attributes = {"http.request.method": "POST", "url.full": url}
        with tracer.start_as_current_span(
            "POST", kind=trace.SpanKind.CLIENT, attributes=attributes
        ) as current:
            propagate.inject(headers)
            yield current

    return span()


def _refusal_in(exc: BaseException) -> EgressRefused | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, EgressRefused):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__ or getattr(current, "os_error", None)
    return None


def _described(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "ReadTimeout: no answer within the timeout"
    return f"{type(exc).__name__}: {exc}"[:500]
