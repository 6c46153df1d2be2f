"""The store ``TT_STORE`` names, opened: the one place an adapter is chosen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from troubleticket import metrics
from troubleticket.config import ConfigError, Settings
from troubleticket.store.port import Store
from troubleticket.store.sqlite import SqliteStore


@dataclass(frozen=True)
class StoreLocation:
    """Where ``TT_STORE`` points, read without opening anything."""

    kind: str  # "sqlite" or "mongodb"
    target: str  # the SQLite file (":memory:": a store in memory), or the MongoDB URI
    hosts: tuple[str, ...] = ()  # a mongodb:// URI's hosts (+srv ones are looked up later)


def store_location(location: str) -> StoreLocation:
    """``location`` as a SQLite file path, ``sqlite:///path``, or a MongoDB URI.

    Raises:
        ConfigError: the location names a store this server cannot open.
    """
    if location.startswith("mongodb+srv://"):
        # an SRV URI needs a DNS lookup to parse; pymongo checks it on connecting
        return StoreLocation("mongodb", location)
    if location.startswith("mongodb://"):
        from pymongo.errors import ConfigurationError, InvalidURI
        from pymongo.uri_parser import parse_uri

        try:
            parsed = parse_uri(location)
        except (InvalidURI, ConfigurationError, ValueError) as exc:
            raise ConfigError(f"TT_STORE is not a valid MongoDB URI: {exc}") from None
        hosts = tuple(f"{host}:{port}" for host, port in parsed["nodelist"])
        return StoreLocation("mongodb", location, hosts)
    if "://" in location:
        scheme, _, path = location.partition("://")
        if scheme != "sqlite" or not path.startswith("/"):
            raise ConfigError(
                f"TT_STORE has value {location!r}: expected a file path or sqlite:///path"
            )
        location = path[1:] or ":memory:"
    return StoreLocation("sqlite", location)


def open_store(settings: Settings, *, must_exist: bool = False) -> Store:
    """The store ``TT_STORE`` names (``store_location``).

    A MongoDB server is not contacted yet: one that is down now makes requests fail with 503
    until it is back, rather than keeping this server from starting. ``must_exist``: refuse a
    SQLite file that is not there yet (reading from a mistyped path would otherwise create an
    empty store).

    Raises:
        ConfigError: the location names a store this server cannot open.
    """
    location = store_location(settings.store)
    if location.kind == "mongodb":
        from troubleticket.store.mongo import MongoStore

        return MongoStore.from_uri(location.target)
    path = location.target
    if must_exist and path != ":memory:" and not Path(path).is_file():
        raise ConfigError(f"TT_STORE names no existing SQLite file: {path}")
    return SqliteStore(path)


def metered(settings: Settings, store: Store) -> Store:
    """``store`` with its operations timed for the metrics, when they are on."""
    if not settings.metrics or isinstance(store, metrics.MeteredStore):
        return store
    return metrics.MeteredStore(store)
