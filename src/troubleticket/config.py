"""Settings: one frozen dataclass, read once from ``TT_*`` environment variables and CLI flags."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

from troubleticket.domain.durations import GRAMMAR, parse_duration
from troubleticket.notify.delivery import DEFAULT_DELIVERY_SCHEDULE, LEASE_SECONDS

DEFAULT_STORE = "./data/troubleticket.sqlite3"


class ConfigError(ValueError):
    """A setting has a value the server cannot use; the message names the variable and the value."""


def _positive_int(name: str, raw: str) -> int:
    # int() would also take "1_000" and " 7 "; a setting should be written one plain way.
    if not re.fullmatch(r"-?[0-9]+", raw):
        raise ConfigError(f"{name} has value {raw!r}: not an integer")
    value = int(raw)
    if value <= 0:
        raise ConfigError(f"{name} has value {raw!r}: must be greater than 0")
    return value


def _workers(name: str, raw: str) -> int:
    """A positive integer, or ``auto``: one process per core this process may run on."""
    if raw.strip().lower() == "auto":
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # no affinity on this platform
            return max(1, os.cpu_count() or 1)
    return _positive_int(name, raw)


def _port(name: str, raw: str) -> int:
    value = _positive_int(name, raw)
    if value > 65535:
        raise ConfigError(f"{name} has value {raw!r}: not a TCP port")
    return value


def _base_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} has value {raw!r}: must be an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ConfigError(f"{name} has value {raw!r}: must not carry a query or fragment")
    return raw.rstrip("/")


# The settings that take one of a few words.
LogFormat = Literal["text", "json"]
LogLevel = Literal["critical", "error", "warning", "info", "debug"]
Dispatch = Literal["inprocess", "off"]
Auth = Literal["none", "jwt"]
Tracing = Literal["off", "otlp", "console"]


def _word(name: str, raw: str, words: tuple[str, ...], *, any_case: bool = False) -> str:
    word = raw.lower() if any_case else raw
    if word not in words:
        listed = f"{', '.join(words[:-1])} or {words[-1]}"
        raise ConfigError(f"{name} has value {raw!r}: expected {listed}")
    return word


def _log_format(name: str, raw: str) -> LogFormat:
    return cast(LogFormat, _word(name, raw, get_args(LogFormat)))


def _log_level(name: str, raw: str) -> LogLevel:
    # any case, as logging takes it
    levels = ("debug", "info", "warning", "error", "critical")
    return cast(LogLevel, _word(name, raw, levels, any_case=True))


def _duration(name: str, raw: str) -> float:
    """Seconds, in the one duration grammar (``domain.durations``); no time at all allowed."""
    seconds = parse_duration(raw, zero=True)
    if seconds is None:
        raise ConfigError(f"{name} has value {raw!r}: expected {GRAMMAR}")
    return seconds


def _positive_duration(name: str, raw: str) -> float:
    value = _duration(name, raw)
    if value <= 0:
        raise ConfigError(f"{name} has value {raw!r}: must be greater than 0")
    return value


def _schedule(name: str, raw: str) -> tuple[float, ...]:
    items = [item for item in raw.split(",")]
    if not raw.strip() or len(items) > 50:
        raise ConfigError(f"{name} has value {raw!r}: expected 1 to 50 comma-separated delays")
    return tuple(_duration(name, item) for item in items)


def _tracing(name: str, raw: str) -> Tracing:
    return cast(Tracing, _word(name, raw, get_args(Tracing)))


def _dispatch(name: str, raw: str) -> Dispatch:
    return cast(Dispatch, _word(name, raw, get_args(Dispatch)))


def _text(name: str, raw: str) -> str:
    if not raw.strip():
        raise ConfigError(f"{name} is set but empty")
    return raw


def _auth(name: str, raw: str) -> Auth:
    return cast(Auth, _word(name, raw, get_args(Auth)))


def _switch(name: str, raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} has value {raw!r}: expected 1 or 0")


def _names(name: str, raw: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    if not items:
        raise ConfigError(f"{name} has value {raw!r}: expected a comma-separated list")
    return items


def _networks(name: str, raw: str) -> tuple[str, ...]:
    networks = []
    for item in raw.split(","):
        if not item.strip():
            continue
        try:
            networks.append(str(ipaddress.ip_network(item.strip())))
        except ValueError as exc:
            raise ConfigError(f"{name}: {item.strip()!r} is not a network (CIDR): {exc}") from None
    return tuple(networks)


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server can be told at start-up.

    ``base_url`` is the public scheme://host[:port][/prefix] clients reach the server at; every
    ``href`` and ``Location`` is built from it. When unset it follows ``host`` and ``port``.
    """

    store: str = DEFAULT_STORE
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str | None = None
    max_body_bytes: int = 1_048_576
    # What one write may produce (checked while a patch is applied, and on the result): a
    # resource's size as stored (without its audit trail), the items of any array in it, and the
    # operations of one JSON Patch
    max_document_bytes: int = 1_048_576
    max_array_items: int = 1000
    max_patch_operations: int = 1000
    # Connections (per server process): the time a client has to send a request's line and
    # headers, then its body; how long an idle keep-alive connection is kept; how many
    # connections are held and requests handled at once (503 with Retry-After beyond); the
    # longest request target (414 beyond)
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 5.0
    max_connections: int = 2048
    max_concurrent_requests: int = 512
    max_url_bytes: int = 8192
    default_page_size: int = 100
    max_page_size: int = 1000
    log_level: LogLevel = "info"
    # "text" for people, "json" (one object a line) for a log pipeline
    log_format: LogFormat = "text"
    # server processes sharing the port (and the store); the background loops run in one of them
    workers: int = 1
    # Notifications: whether `serve` runs the dispatcher ("off": only `troubleticket worker`s do)
    dispatch: Dispatch = "inprocess"
    delivery_schedule: tuple[float, ...] = DEFAULT_DELIVERY_SCHEDULE
    delivery_timeout: float = 10.0
    # how long a claimed attempt stays reserved to its worker; a dead worker's is retaken after
    delivery_lease: float = LEASE_SECONDS
    delivery_concurrency: int = 64
    # how long a dispatcher waits, when idle, before looking for work other processes made
    dispatch_interval: float = 1.0
    # the service policy (priority matrix, SLA clocks, escalation): a YAML file; None: built in
    policy: str | None = None
    # the partners trouble reports are raised at (a YAML file); None: none
    partners: str | None = None
    # Authentication: "none" (loopback only, unless auth_insecure) or "jwt" (bearer tokens)
    auth: Auth = "none"
    auth_insecure: bool = False
    jwks: str | None = None  # the authorization server's keys: a JWKS file or URL
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: tuple[str, ...] = ("RS256", "ES256")
    jwt_leeway: float = 30.0
    jwt_roles_claim: str = "roles"  # dotted, e.g. realm_access.roles
    jwt_party_claim: str = "party_id"  # the party a partner's token acts for
    token_url: str | None = None  # where clients get tokens (shown in the contract)
    scopes: str | None = None  # a YAML file of operationId: scope, over the defaults
    # X-TT-Actor, X-TT-Role and the partner header are believed only from a trusted gateway
    trusted_gateway: bool = False
    # internal networks hub callbacks and partner URLs may nevertheless reach (CIDRs)
    egress_allow: tuple[str, ...] = ()
    # Prometheus metrics at /metrics: on the API port, or on a port of their own (metrics_port,
    # on metrics_host, by default the API's host); metrics_token: the bearer token a scraper must
    # send; metrics_dir: where server processes of ``--workers`` share their figures
    metrics: bool = True
    metrics_port: int | None = None
    metrics_host: str | None = None
    metrics_token: str | None = None
    metrics_dir: str | None = None
    # OpenTelemetry traces: "off", "otlp" (OTEL_EXPORTER_OTLP_* variables) or "console"
    tracing: Tracing = "off"
    # the TMF621 v4 root (/tmf-api/troubleTicket/v4) beside v5, on the same tickets
    v4: bool = True
    # the coordination console at /console (console.md): on or off; with TT_AUTH=jwt it signs
    # people in with OpenID Connect at TT_JWT_ISSUER as client console_client_id (and
    # console_client_secret, for a confidential client), asking for console_scope;
    # console_secret keys its session cookies and form tokens (random per start when unset)
    console: bool = True
    console_client_id: str | None = None
    console_client_secret: str | None = None
    console_scope: str = "openid"
    console_secret: str | None = None

    @property
    def store_shown(self) -> str:
        """``store`` fit for logs: a password in a URI replaced by ``***``."""
        scheme, separator, rest = self.store.partition("://")
        authority, slash, tail = rest.partition("/")
        credentials, at, hosts = authority.rpartition("@")
        if not separator or not at or ":" not in credentials:
            return self.store
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{hosts}{slash}{tail}"

    @property
    def public_base_url(self) -> str:
        if self.base_url:
            return self.base_url
        if self.host in ("0.0.0.0", "127.0.0.1", "::", "::1"):
            host = "localhost"
        elif ":" in self.host:
            host = f"[{self.host}]"  # an IPv6 literal must be bracketed in a URL
        else:
            host = self.host
        return f"http://{host}:{self.port}"

    def environment(self) -> dict[str, str]:
        """The ``TT_*`` variables that give these settings back through ``from_env`` (what
        ``serve --workers`` hands its worker processes)."""
        return {
            _ENV[f.name]: _unparse(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Build settings from ``TT_*`` variables; unset variables keep their defaults.

        Raises:
            ConfigError: a variable is set to a value that cannot be used.
        """
        return cls().with_overrides(
            {f.name: environ[_ENV[f.name]] for f in fields(cls) if _ENV[f.name] in environ}
        )

    def with_overrides(self, raw: Mapping[str, str | None]) -> Settings:
        """Return a copy with the given raw (string) values parsed and applied; ``None`` is skipped.

        Raises:
            ConfigError: a value cannot be used.
        """
        parsed: dict[str, Any] = {}
        for key, value in raw.items():
            if value is None:
                continue
            parsed[key] = _PARSERS[key](_ENV[key], value)
        result = replace(self, **parsed)
        if result.delivery_timeout * 2 > result.delivery_lease:
            raise ConfigError(
                f"TT_DELIVERY_TIMEOUT ({result.delivery_timeout:g} s) must be at most half of "
                f"TT_DELIVERY_LEASE ({result.delivery_lease:g} s)"
            )
        if result.metrics_port is not None and result.metrics_port == result.port:
            raise ConfigError(
                f"TT_METRICS_PORT ({result.metrics_port}) is the API's TT_PORT: leave it unset "
                "for /metrics on the API port, or give the metrics a port of their own"
            )
        if result.default_page_size > result.max_page_size:
            raise ConfigError(
                f"TT_DEFAULT_PAGE_SIZE ({result.default_page_size}) exceeds "
                f"TT_MAX_PAGE_SIZE ({result.max_page_size})"
            )
        if result.auth == "jwt":
            missing = [
                f"TT_{name.upper()}"
                for name in ("jwks", "jwt_issuer", "jwt_audience")
                if getattr(result, name) is None
            ]
            if missing:
                raise ConfigError(f"TT_AUTH=jwt needs {', '.join(missing)}")
        return result

    def check_exposure(self) -> None:
        """Refuse to serve without authentication on an interface other than loopback.

        Raises:
            ConfigError: ``TT_AUTH=none`` with a non-loopback ``TT_HOST`` and no
                ``TT_AUTH_INSECURE=1``.
        """
        if self.auth == "none" and not _loopback(self.host) and not self.auth_insecure:
            raise ConfigError(
                f"TT_AUTH=none with TT_HOST={self.host}: anyone who reaches this host could read "
                "and change every ticket. Set TT_AUTH=jwt (TT_JWKS, TT_JWT_ISSUER, "
                "TT_JWT_AUDIENCE), or TT_AUTH_INSECURE=1 when a gateway in front authenticates"
            )


_ENV = {f.name: f"TT_{f.name.upper()}" for f in fields(Settings)}


def _unparse(value: Any) -> str:
    """``value`` written the way its setting's parser reads it."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ",".join(_unparse(item) for item in value)
    if isinstance(value, float):
        written = repr(value)
        return f"{value:.9f}s" if "e" in written else f"{written}s"
    return str(value)


_PARSERS = {
    "store": _text,
    "host": _text,
    "port": _port,
    "base_url": _base_url,
    "max_body_bytes": _positive_int,
    "max_document_bytes": _positive_int,
    "max_array_items": _positive_int,
    "max_patch_operations": _positive_int,
    "header_timeout": _positive_duration,
    "body_timeout": _positive_duration,
    "idle_timeout": _positive_duration,
    "max_connections": _positive_int,
    "max_concurrent_requests": _positive_int,
    "max_url_bytes": _positive_int,
    "default_page_size": _positive_int,
    "max_page_size": _positive_int,
    "log_level": _log_level,
    "log_format": _log_format,
    "workers": _workers,
    "dispatch": _dispatch,
    "delivery_schedule": _schedule,
    "delivery_timeout": _positive_duration,
    "delivery_lease": _positive_duration,
    "delivery_concurrency": _positive_int,
    "dispatch_interval": _positive_duration,
    "policy": _text,
    "partners": _text,
    "auth": _auth,
    "auth_insecure": _switch,
    "jwks": _text,
    "jwt_issuer": _text,
    "jwt_audience": _text,
    "jwt_algorithms": _names,
    "jwt_leeway": _duration,
    "jwt_roles_claim": _text,
    "jwt_party_claim": _text,
    "token_url": _base_url,
    "scopes": _text,
    "trusted_gateway": _switch,
    "egress_allow": _networks,
    "metrics": _switch,
    "v4": _switch,
    "console": _switch,
    "console_client_id": _text,
    "console_client_secret": _text,
    "console_scope": _text,
    "console_secret": _text,
    "metrics_port": _port,
    "metrics_host": _text,
    "metrics_token": _text,
    "metrics_dir": _text,
    "tracing": _tracing,
}
