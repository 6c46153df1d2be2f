"""Shared fixtures: settings, a frozen clock, stores (one per adapter), the app and its client.

Every test that takes ``store``, ``app`` or ``client`` runs once per adapter: SQLite, MongoDB
through mongomock (pymongo semantics in memory), and a real MongoDB when ``TT_TEST_MONGODB_URI``
names one (each test then gets a database of its own, dropped afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pymongo
import pytest

from tests.mongomock_server import in_memory_server
from troubleticket.app import create_app
from troubleticket.config import Settings
from troubleticket.store.mongo import MongoStore
from troubleticket.store.port import Store
from troubleticket.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from connexion import AsyncApp
    from starlette.testclient import TestClient

MONGODB_URI = os.environ.get("TT_TEST_MONGODB_URI")

START = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)


@dataclass
class FrozenClock:
    """A clock tests move by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class SequentialIds:
    """Predictable ids: tt-1, tt-2, …"""

    prefix: str = "id"
    issued: int = field(default=0)

    def __call__(self) -> str:
        self.issued += 1
        return f"{self.prefix}-{self.issued}"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@contextmanager
def sqlite_store(tmp: Path) -> Iterator[Store]:
    opened = SqliteStore(tmp / "contract.sqlite3")
    yield opened
    opened.close()


@contextmanager
def mongomock_store(_tmp: Path) -> Iterator[Store]:
    opened = MongoStore(in_memory_server(), database="troubleticket")
    yield opened
    opened.close()


@contextmanager
def mongodb_store(_tmp: Path) -> Iterator[Store]:
    assert MONGODB_URI is not None
    database = f"tt_test_{uuid.uuid4().hex[:12]}"
    opened = MongoStore.from_uri(MONGODB_URI, database=database)
    try:
        yield opened
    finally:
        opened.close()
        with pymongo.MongoClient[dict[str, Any]](MONGODB_URI) as client:
            client.drop_database(database)


# Adapters the store contract runs against; a new adapter joins by adding a factory here.
STORE_FACTORIES: dict[str, Callable[[Path], AbstractContextManager[Store]]] = {
    "sqlite": sqlite_store,
    "mongomock": mongomock_store,
    **({"mongodb": mongodb_store} if MONGODB_URI else {}),
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with STORE_FACTORIES[request.param](tmp_path) as opened:
        yield opened


# Without TT_TEST_MONGODB_URI the real-MongoDB variants are not collected at all; one test
# (tests/contract/test_mongo.py) is skipped for them, so that the run's summary says so.
MONGODB_ABSENT = "TT_TEST_MONGODB_URI is not set: the real-MongoDB variant did not run"


def on_mongomock(item: pytest.Item) -> bool:
    """Whether ``item`` is the mongomock variant of a test that also has a real-MongoDB one."""
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "mongomock" in (
        callspec.params.get("store"),
        callspec.params.get("connect"),
    )


# The loopback networks, where the tests' listeners and partners are.
LOCAL_NETWORKS = ("127.0.0.0/8", "::1/128")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # No background dispatcher: notification tests run its passes themselves. Their listeners
    # are on this host, which callbacks may only be at when allowed.
    return Settings(
        store=str(tmp_path / "api.sqlite3"),
        base_url="https://tt.example.com",
        dispatch="off",
        egress_allow=LOCAL_NETWORKS,
    )


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, store: Store) -> AsyncApp:
    return create_app(settings, store=store, clock=clock)


@pytest.fixture
def client(app: AsyncApp) -> Iterator[TestClient]:
    with app.test_client() as test_client:
        yield test_client
