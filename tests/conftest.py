"""Shared fixtures: settings, a frozen clock, stores (one per adapter), the app and its client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from troubleticket.app import create_app
from troubleticket.config import Settings
from troubleticket.store.port import Store
from troubleticket.store.sqlite import SqliteStore

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


# Adapters the store contract runs against; a new adapter joins by adding a factory here.
STORE_FACTORIES: dict[str, Callable[[Path], Store]] = {
    "sqlite": lambda tmp: SqliteStore(tmp / "contract.sqlite3"),
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = STORE_FACTORIES[request.param](tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(store=str(tmp_path / "api.sqlite3"), base_url="https://tt.example.com")


@pytest.fixture
def app(settings: Settings, clock: FrozenClock):  # type: ignore[no-untyped-def]
    return create_app(settings, clock=clock)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    with app.test_client() as test_client:
        yield test_client
