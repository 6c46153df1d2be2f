"""/metrics: the figures move by exactly what the server did.

Each test reads the figures, does known things (requests, deliveries, a ticket in jeopardy),
reads them again and compares the difference; the counters are the process's, so other tests
running before leave no trace in a difference.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from tests.builders import a_ticket
from tests.conftest import FrozenClock
from tests.e2e.listener import Listener, always
from tests.tokens import Issuer
from troubleticket.app import create_app
from troubleticket.bootstrap.services import dispatcher
from troubleticket.config import Settings
from troubleticket.metrics_scrape import StoreState, exposition
from troubleticket.store.port import Collection, StoreUnavailable
from troubleticket.store.query import Filter
from troubleticket.store.sqlite import SqliteStore

API = "/tmf-api/troubleTicket/v5"
BASE_URL = "https://tt.example.com"
Figures = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Figures:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def figure(figures: Figures, name: str, **labels: str) -> float:
    return figures.get((name, frozenset(labels.items())), 0.0)


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    fields = {"store": str(tmp_path / "m.sqlite3"), "base_url": BASE_URL, "dispatch": "off"}
    return Settings(**(fields | overrides))  # type: ignore[arg-type]


def scrape(http: object, headers: dict[str, str] | None = None) -> Figures:
    response = http.get("/metrics", headers=headers or {})  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


REQUESTS = "troubleticket_http_request_duration_seconds_count"
STORE_OPS = "troubleticket_store_operation_duration_seconds_count"


def test_requests_are_counted_by_operation_and_status(tmp_path: Path) -> None:
    with create_app(settings_for(tmp_path), clock=FrozenClock()).test_client() as http:
        before = scrape(http)
        ids = [http.post(f"{API}/troubleTicket", json=a_ticket()).json()["id"] for _ in range(3)]
        for ticket_id in ids * 2:
            assert http.get(f"{API}/troubleTicket/{ticket_id}").status_code == 200
        assert http.get(f"{API}/troubleTicket/nope").status_code == 404
        assert http.post(f"{API}/troubleTicket", json={"@type": 7}).status_code == 400
        assert http.get(f"{API}/troubleTicket?limit=2").status_code == 200
        assert http.get(f"{API}/nowhere").status_code == 404
        after = scrape(http)

    def moved(name: str, **labels: str) -> float:
        return figure(after, name, **labels) - figure(before, name, **labels)

    assert moved(REQUESTS, operation="createTroubleTicket", status="201") == 3
    assert moved(REQUESTS, operation="createTroubleTicket", status="400") == 1
    assert moved(REQUESTS, operation="retrieveTroubleTicket", status="200") == 6
    assert moved(REQUESTS, operation="retrieveTroubleTicket", status="404") == 1
    assert moved(REQUESTS, operation="listTroubleTicket", status="200") == 1
    # a path no operation serves; the scrapes themselves are not counted
    assert moved(REQUESTS, operation="none", status="404") == 1
    assert moved(REQUESTS, operation="none", status="200") == 0
    # every read by id went to the store once; the three creates wrote one document each
    assert moved(STORE_OPS, operation="get", collection="troubleTicket") == 7
    assert moved(STORE_OPS, operation="insert", collection="troubleTicket") == 3
    bucket = "troubleticket_http_request_duration_seconds_bucket"
    assert moved(bucket, operation="retrieveTroubleTicket", status="200", le="+Inf") == 6


def test_jeopardy_alerts_escalations_and_events_are_counted_as_they_are_raised(
    tmp_path: Path,
) -> None:
    clock = FrozenClock()
    settings = settings_for(tmp_path)
    store = SqliteStore(settings.store)
    with create_app(settings, store=store, clock=clock).test_client() as http:
        before = scrape(http)
        created = http.post(f"{API}/troubleTicket", json=a_ticket(severity="Critical")).json()
        clock.advance(days=30)  # far beyond every target: warning and breach are crossed
        patched = http.patch(
            f"{API}/troubleTicket/{created['id']}",
            json={"@type": "TroubleTicket", "description": "still no dial tone"},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert patched.status_code == 200, patched.text
        after = scrape(http)
    ticket = patched.json()
    alerts = ticket["troubleTicketJeopardyAlert"]
    escalations = ticket.get("escalation", [])
    assert {a["jeopardyType"] for a in alerts} == {"warning", "breach"}

    def moved(name: str, **labels: str) -> float:
        return figure(after, name, **labels) - figure(before, name, **labels)

    for kind in ("warning", "breach"):
        raised = sum(1 for a in alerts if a["jeopardyType"] == kind)
        assert moved("troubleticket_jeopardy_alerts_total", jeopardy_type=kind) == raised
    for level in {str(e["level"]) for e in escalations}:
        reached = sum(1 for e in escalations if str(e["level"]) == level)
        assert moved("troubleticket_escalations_total", level=level) == reached
    alert_events = "TroubleTicketJeopardyAlertEvent"
    assert moved("troubleticket_events_total", event_type=alert_events) == len(alerts)
    assert moved("troubleticket_events_total", event_type="TroubleTicketCreateEvent") == 1
    # the open-ticket gauge counts it in breach, at its priority (a fresh store: only it)
    family = next(f for f in StoreState(store, ttl=0).collect() if f.name.endswith("open_tickets"))
    assert [(s.labels, s.value) for s in family.samples] == [
        ({"status": "acknowledged", "priority": ticket["priority"], "jeopardy": "breach"}, 1)
    ]


def test_deliveries_are_counted_by_outcome_latency_and_failing_hub(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, egress_allow=("127.0.0.0/8",), delivery_schedule=(0,))
    store = SqliteStore(settings.store)
    with (
        Listener().start() as good,
        Listener(policy=always(500)).start() as bad,
        create_app(settings, store=store).test_client() as http,
    ):
        hubs = [
            http.post(f"{API}/hub", json={"@type": "Hub", "callback": f"{url}/l"}).json()["id"]
            for url in (good.url, bad.url)
        ]
        before = scrape(http)
        for _ in range(3):
            assert http.post(f"{API}/troubleTicket", json=a_ticket()).status_code == 201
        delivering = dispatcher(settings, store)
        try:
            while delivering.run_once():
                pass
        finally:
            delivering.close()
        assert len(good.received()) == 3
        after = scrape(http)

    def moved(name: str, **labels: str) -> float:
        return figure(after, name, **labels) - figure(before, name, **labels)

    attempts = "troubleticket_delivery_attempts_total"
    assert moved(attempts, kind="hub", outcome="delivered") == 3
    assert moved(attempts, kind="hub", outcome="dead") == 3  # one attempt allowed, refused
    assert moved("troubleticket_delivery_failures_total", hub=hubs[1]) == 3
    assert moved("troubleticket_delivery_failures_total", hub=hubs[0]) == 0
    assert moved("troubleticket_delivery_latency_seconds_count", kind="hub") == 3
    assert moved("troubleticket_delivery_attempt_duration_seconds_count", kind="hub") == 6
    # read from the store: nothing waits, the three refused are dead, the outbox is empty
    state = parse(exposition_of(StoreState(store, ttl=0)))
    assert figure(state, "troubleticket_deliveries", state="dead") == 3
    assert figure(state, "troubleticket_deliveries", state="pending") == 0
    assert figure(state, "troubleticket_outbox_backlog") == 0
    assert figure(state, "troubleticket_store_state_up") == 1


def exposition_of(collector: StoreState) -> str:
    collected = CollectorRegistry()
    collected.register(collector)
    return exposition(collected).decode()


def test_the_store_state_follows_the_tickets(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    settings = settings_for(tmp_path, store=str(tmp_path / "s.sqlite3"))
    state = StoreState(store, ttl=0)

    def open_tickets() -> dict[tuple[str, ...], float]:
        family = next(f for f in state.collect() if f.name == "troubleticket_open_tickets")
        return {tuple(s.labels.values()): s.value for s in family.samples}

    with create_app(settings, store=store, clock=FrozenClock()).test_client() as http:
        assert open_tickets() == {}
        ids = [http.post(f"{API}/troubleTicket", json=a_ticket()).json()["id"] for _ in range(4)]
        priority = http.get(f"{API}/troubleTicket/{ids[0]}").json()["priority"]
        assert open_tickets() == {("acknowledged", priority, "none"): 4}
        cancelled = http.patch(
            f"{API}/troubleTicket/{ids[0]}",
            json={"@type": "TroubleTicket", "status": "cancelled", "statusChangeReason": "dup"},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert cancelled.status_code == 200, cancelled.text
        assert http.delete(f"{API}/troubleTicket/{ids[1]}").status_code == 204
        assert open_tickets() == {("acknowledged", priority, "none"): 2}


def test_the_store_state_is_reused_for_its_ttl(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.sqlite3")
    state = StoreState(store, ttl=3600)
    first = {f.name: f.samples for f in state.collect()}
    store.insert_many(  # written behind its back: not seen until the figures are old
        Collection.TROUBLE_TICKET, [{"id": "x", "status": "acknowledged", "priority": "1"}]
    )
    assert {f.name: f.samples for f in state.collect()} == first


def test_an_unreadable_store_is_reported_not_raised(tmp_path: Path) -> None:
    class Gone(SqliteStore):
        def tally(
            self, collection: Collection, where: Filter, by: Sequence[tuple[str, ...]]
        ) -> dict[tuple[Any, ...], int]:
            raise StoreUnavailable("the store is down")

    state = StoreState(Gone(tmp_path / "g.sqlite3"), ttl=0)
    families = {f.name: f for f in state.collect()}
    assert families["troubleticket_store_state_up"].samples[0].value == 0
    assert "troubleticket_open_tickets" not in families


def test_metrics_need_the_token_when_one_is_set(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, metrics_token="s3cret-scraper")
    with create_app(settings).test_client() as http:
        missing = http.get("/metrics")
        wrong = http.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = http.get("/metrics", headers={"Authorization": "Bearer s3cret-scraper"})
        posted = http.post("/metrics", headers={"Authorization": "Bearer s3cret-scraper"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["@type"] == "Error"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert right.status_code == 200
    assert "troubleticket_http_request_duration_seconds" in right.text
    assert posted.status_code == 405


def test_under_jwt_metrics_on_the_api_port_need_a_metrics_token(tmp_path: Path) -> None:
    (tmp_path / "issuer").mkdir()
    issuer = Issuer.create(tmp_path / "issuer")
    with create_app(issuer.settings(settings_for(tmp_path))).test_client() as http:
        refused = http.get("/metrics")
    assert refused.status_code == 401
    assert "TT_METRICS_TOKEN" in refused.json()["message"]
    token = issuer.settings(settings_for(tmp_path, metrics_token="scrape-me"))
    with create_app(token).test_client() as http:
        assert (
            http.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).status_code == 200
        )


def test_metrics_off_are_not_served(tmp_path: Path) -> None:
    with create_app(settings_for(tmp_path, metrics=False)).test_client() as http:
        answer = http.get("/metrics")
    assert answer.status_code == 404


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("token", [None, "port-token"])
def test_metrics_on_a_port_of_their_own(tmp_path: Path, token: str | None) -> None:
    port = free_port()
    settings = settings_for(tmp_path, metrics_port=port, metrics_token=token)
    with create_app(settings).test_client() as http:
        assert http.post(f"{API}/troubleTicket", json=a_ticket()).status_code == 201
        on_api = http.get("/metrics")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        own = requests.get(f"http://127.0.0.1:{port}/metrics", headers=headers, timeout=10)
        elsewhere = requests.get(f"http://127.0.0.1:{port}/other", timeout=10)
        if token:
            bare = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            assert bare.status_code == 401
    assert on_api.status_code == 404
    assert own.status_code == 200
    assert 'troubleticket_open_tickets{jeopardy="none"' in own.text
    assert elsewhere.status_code == 404
    # stopped with the app
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
