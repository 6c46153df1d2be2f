"""Settings: one frozen dataclass, read once from ``TT_*`` environment variables and CLI flags."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlsplit

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


def _log_level(name: str, raw: str) -> str:
    if raw.lower() not in ("critical", "error", "warning", "info", "debug"):
        raise ConfigError(
            f"{name} has value {raw!r}: expected debug, info, warning, error or critical"
        )
    return raw.lower()


def _text(name: str, raw: str) -> str:
    if not raw.strip():
        raise ConfigError(f"{name} is set but empty")
    return raw


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
    default_page_size: int = 100
    max_page_size: int = 1000
    log_level: str = "info"

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
        if result.default_page_size > result.max_page_size:
            raise ConfigError(
                f"TT_DEFAULT_PAGE_SIZE ({result.default_page_size}) exceeds "
                f"TT_MAX_PAGE_SIZE ({result.max_page_size})"
            )
        return result


_ENV = {f.name: f"TT_{f.name.upper()}" for f in fields(Settings)}
_PARSERS = {
    "store": _text,
    "host": _text,
    "port": _port,
    "base_url": _base_url,
    "max_body_bytes": _positive_int,
    "default_page_size": _positive_int,
    "max_page_size": _positive_int,
    "log_level": _log_level,
}
