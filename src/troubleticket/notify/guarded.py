"""The egress guard at connect time: ``requests`` adapters whose connections resolve the host
again when they are opened, check every address against the ``EgressPolicy``, and connect to a
checked address only, keeping the host name for the ``Host`` header, TLS SNI and certificate
verification. The session never goes through a proxy (``notify.egress`` says why).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response
from requests.utils import select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.poolmanager import PoolManager
from urllib3.util.connection import create_connection

from troubleticket.notify.egress import (
    EgressConnectionRefused,
    EgressPolicy,
    EgressRefused,
)


class _RefusedNewConnection(NewConnectionError):
    """urllib3's form of a refusal: a failure to make a new connection, as urllib3 expects."""

    def __init__(self, conn: HTTPConnection | None, refusal: EgressRefused) -> None:
        super().__init__(conn, refusal.message)  # type: ignore[arg-type]
        self.refusal = refusal

    def __reduce__(self) -> tuple[type[_RefusedNewConnection], tuple[None, EgressRefused]]:
        return self.__class__, (None, self.refusal)


def _connect_checked(conn: HTTPConnection, policy: EgressPolicy) -> socket.socket:
    """Resolve ``conn``'s host with the policy, check every address, connect to a checked one."""
    name = conn._dns_host  # the name as urllib3 would resolve it (a trailing dot kept)
    port = conn.port
    try:
        addresses = policy.resolver(name, port)
    except socket.gaierror as e:
        raise NameResolutionError(conn.host, conn, e) from e
    except (OSError, UnicodeError) as e:
        raise NewConnectionError(conn, f"Failed to resolve {conn.host!r}: {e}") from e
    try:
        policy.check_resolved(conn.host, addresses, f"connection to {conn.host}:{port}")
    except EgressRefused as refusal:
        raise _RefusedNewConnection(conn, refusal) from None

    error: OSError | None = None
    for address in addresses:
        try:
            sock = create_connection(
                (str(ipaddress.ip_address(address)), port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except OSError as e:
            error = e
            continue
        sys.audit("http.client.connect", conn, conn.host, conn.port)
        return sock
    if isinstance(error, TimeoutError):
        raise ConnectTimeoutError(
            conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
        ) from error
    raise NewConnectionError(conn, f"Failed to establish a new connection: {error}") from error


class GuardedHTTPConnection(HTTPConnection):
    """An HTTP connection that connects only to addresses its ``egress_policy`` permits."""

    def __init__(self, *args: Any, egress_policy: EgressPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.egress_policy = egress_policy

    def _new_conn(self) -> socket.socket:
        return _connect_checked(self, self.egress_policy)


class GuardedHTTPSConnection(HTTPSConnection):
    """An HTTPS connection that connects only to addresses its ``egress_policy`` permits.

    ``host`` stays the name, so SNI and certificate verification are for the name.
    """

    def __init__(self, *args: Any, egress_policy: EgressPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.egress_policy = egress_policy

    def _new_conn(self) -> socket.socket:
        return _connect_checked(self, self.egress_policy)


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    """Makes :class:`GuardedHTTPConnection`; needs ``egress_policy`` among its keywords."""

    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    """Makes :class:`GuardedHTTPSConnection`; needs ``egress_policy`` among its keywords."""

    ConnectionCls = GuardedHTTPSConnection


class _GuardedPoolManager(PoolManager):
    """A pool manager whose pools make guarded connections under one policy.

    The policy is added to each new pool's keywords here rather than to ``connection_pool_kw``,
    which also makes the pool keys (and has no field for it).
    """

    def __init__(self, egress_policy: EgressPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.egress_policy = egress_policy
        self.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }

    def _new_pool(
        self,
        scheme: str,
        host: str,
        port: int,
        request_context: dict[str, Any] | None = None,
    ) -> HTTPConnectionPool:
        context = dict(request_context if request_context is not None else self.connection_pool_kw)
        context["egress_policy"] = self.egress_policy
        return super()._new_pool(scheme, host, port, context)


def _refusal_in(exc: BaseException) -> EgressRefused | None:
    """The refusal behind a failure requests reports (ConnectionError(MaxRetryError(...)))."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _RefusedNewConnection):
            return current.refusal
        reason = getattr(current, "reason", None)
        linked = [*current.args, reason, current.__cause__, current.__context__]
        pending.extend(e for e in linked if isinstance(e, BaseException))
    return None


class GuardedAdapter(HTTPAdapter):
    """A transport adapter whose connections are checked against ``egress_policy``.

    A refusal surfaces as :class:`EgressConnectionRefused` (a ``requests`` ConnectionError). A
    request that would go through a proxy is refused: the proxy would connect past the check.
    """

    __attrs__ = [*HTTPAdapter.__attrs__, "egress_policy"]

    def __init__(self, egress_policy: EgressPolicy, **kwargs: Any) -> None:
        self.egress_policy = egress_policy  # before HTTPAdapter's init makes the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _GuardedPoolManager(
            self.egress_policy, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        url = request.url or ""
        if select_proxy(url, proxies):
            refusal = EgressRefused(
                f"egress to {url} refused: a guarded session does not go through a proxy",
                url=url,
            )
            raise EgressConnectionRefused(refusal, request=request)
        try:
            return super().send(request, stream, timeout, verify, cert, proxies)
        except requests.exceptions.ConnectionError as e:
            found = _refusal_in(e)
            if found is None:
                raise
            refusal = EgressRefused(found.message, url=url, host=found.host, address=found.address)
            raise EgressConnectionRefused(refusal, request=request) from e


class _GuardedSession(requests.Session):
    """A session with guarded adapters for http and https that ignores environment proxies."""

    def __init__(self, policy: EgressPolicy) -> None:
        super().__init__()
        self.mount("http://", GuardedAdapter(policy))
        self.mount("https://", GuardedAdapter(policy))

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: Any,
        verify: Any,
        cert: Any,
    ) -> Any:
        settings = super().merge_environment_settings(url, {}, stream, verify, cert)
        explicit = {**self.proxies, **(proxies or {})}
        settings["proxies"] = {k: v for k, v in explicit.items() if v is not None}
        return settings


def guarded_session(policy: EgressPolicy) -> requests.Session:
    """A session whose connections are checked against ``policy`` when they are opened.

    It reads nothing from the environment per request (``trust_env`` off): no proxy applies to
    it anyway, a ``.netrc`` password must never reach a subscriber, and the lookups cost a
    fifth of each delivery. A CA bundle named by ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``
    still applies, read once here.
    """
    session = _GuardedSession(policy)
    session.trust_env = False
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    return session
