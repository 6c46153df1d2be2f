"""/health/live and /health/ready: what a probe gets, without a token, as the store comes and
goes."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import mongomock_ng
import pytest

from tests.conftest import FrozenClock
from tests.contract.test_mongo import _Outage
from tests.tokens import Issuer
from troubleticket.app import create_app
from troubleticket.config import Settings
from troubleticket.store.mongo import MongoStore
from troubleticket.store.sqlite import SqliteStore

BASE_URL = "https://tt.example.com"


def test_live_and_ready_answer_without_a_token_under_jwt(tmp_path: Path) -> None:
    (tmp_path / "issuer").mkdir()
    issuer = Issuer.create(tmp_path / "issuer")
    settings = issuer.settings(
        Settings(store=str(tmp_path / "h.sqlite3"), base_url=BASE_URL, dispatch="off")
    )
    with create_app(settings, clock=FrozenClock()).test_client() as http:
        live = http.get("/health/live")
        ready = http.get("/health/ready")
        api = http.get("/tmf-api/troubleTicket/v5/troubleTicket")
    assert live.status_code == 200
    assert live.headers["content-type"] == "application/health+json"
    assert live.headers["cache-control"] == "no-store"
    assert live.json() == {"status": "pass"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "pass", "checks": {"store": {"status": "pass"}}}
    assert api.status_code == 401  # the API itself still needs one


def test_readiness_fails_while_the_sqlite_file_cannot_be_written_and_recovers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.sqlite3"
    settings = Settings(store=str(path), base_url=BASE_URL, dispatch="off")
    store = SqliteStore(path)
    with create_app(settings, store=store, clock=FrozenClock()).test_client() as http:
        assert http.get("/health/ready").status_code == 200
        # another process takes the write lock and keeps it
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            during = http.get("/health/ready")
            other.execute("ROLLBACK")
        after = http.get("/health/ready")
        live = http.get("/health/live")
    assert during.status_code == 503
    body = during.json()
    assert body["status"] == "fail"
    assert body["checks"]["store"]["status"] == "fail"
    assert "locked" in body["checks"]["store"]["output"]
    assert after.status_code == 200
    assert after.json()["checks"]["store"] == {"status": "pass"}
    assert live.status_code == 200  # alive all along


def test_readiness_fails_while_mongodb_is_unreachable_and_recovers() -> None:
    outage = _Outage(mongomock_ng.MongoClient())
    store = MongoStore(lambda: outage, "tt")
    settings = Settings(store="mongodb://unused", base_url=BASE_URL, dispatch="off")
    with create_app(settings, store=store).test_client() as http:
        before = http.get("/health/ready")
        outage.down = True
        during = http.get("/health/ready")
        outage.down = False
        after = http.get("/health/ready")
    assert before.status_code == 200
    assert during.status_code == 503
    assert during.json()["checks"]["store"] == {
        "status": "fail",
        "output": "The MongoDB store cannot be reached: AutoReconnect",
    }
    assert after.status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_health_is_read_only(tmp_path: Path, method: str) -> None:
    settings = Settings(store=str(tmp_path / "h.sqlite3"), base_url=BASE_URL, dispatch="off")
    with create_app(settings, clock=FrozenClock()).test_client() as http:
        answer = http.request(method, "/health/ready")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"


def test_a_server_running_its_loops_reports_each_of_them(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "h.sqlite3"), base_url=BASE_URL)  # loops in process
    with create_app(settings).test_client() as http:
        ready = http.get("/health/ready").json()
    assert ready["status"] == "pass"
    assert set(ready["checks"]) == {"store", "dispatcher", "sla-monitor", "cascade", "rollup"}
    for name in ("dispatcher", "sla-monitor", "cascade", "rollup"):
        assert ready["checks"][name]["status"] == "pass"
        assert 0 <= ready["checks"][name]["lastPassSeconds"] < 60
