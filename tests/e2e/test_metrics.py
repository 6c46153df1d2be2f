"""/metrics from real processes: summed over the workers of ``serve --workers 2``, on a port of
their own, and from a ``worker`` delivering notifications."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.builders import a_ticket
from tests.e2e.conftest import ServerFactory
from tests.e2e.listener import Listener

CREATES = 40
REQUESTS = "troubleticket_http_request_duration_seconds_count"


def figures(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def created(text: str) -> float:
    labels = frozenset({("operation", "createTroubleTicket"), ("status", "201")})
    return figures(text).get((REQUESTS, labels), 0.0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def create_many(base: str) -> None:
    def create(_: int) -> int:
        with requests.Session() as session:  # a connection each: spread over the processes
            return session.post(f"{base}/troubleTicket", json=a_ticket(), timeout=30).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(create, range(CREATES))) == [201] * CREATES


def counting_processes(shared: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[-1] for path in shared.glob("histogram_*.db")}


def test_two_workers_figures_are_summed_whichever_answers_the_scrape(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    shared = tmp_path / "metrics"
    served = server_factory.serve(
        tmp_path / "w.sqlite3", env={"TT_WORKERS": "2", "TT_METRICS_DIR": str(shared)}
    )
    # the kernel decides which process accepts a connection and owes no fairness: create in rounds
    # until both processes have counted some (each keeps its own file), so the sum is a real one
    rounds = 0
    deadline = time.monotonic() + 60
    while len(counting_processes(shared)) < 2 and time.monotonic() < deadline:
        create_many(served.base)
        rounds += 1
    assert len(counting_processes(shared)) == 2, sorted(shared.iterdir())
    root = served.base.split("/tmf-api")[0]
    # every scrape, answered by either process, shows all the creates
    for _ in range(6):
        with requests.Session() as session:
            assert created(session.get(f"{root}/metrics", timeout=10).text) == CREATES * rounds


def test_two_workers_answer_on_the_metrics_port_through_the_supervisor(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    port = free_port()
    served = server_factory.serve(
        tmp_path / "p.sqlite3",
        env={"TT_WORKERS": "2", "TT_METRICS_PORT": str(port), "TT_METRICS_TOKEN": "scrape"},
    )
    create_many(served.base)
    root = served.base.split("/tmf-api")[0]
    assert requests.get(f"{root}/metrics", timeout=10).status_code == 404  # not on the API's
    url = f"http://127.0.0.1:{port}/metrics"
    assert requests.get(url, timeout=10).status_code == 401
    answer = requests.get(url, headers={"Authorization": "Bearer scrape"}, timeout=10)
    assert answer.status_code == 200
    assert created(answer.text) == CREATES
    open_tickets = [
        value
        for (name, labels), value in figures(answer.text).items()
        if name == "troubleticket_open_tickets" and ("status", "acknowledged") in labels
    ]
    assert sum(open_tickets) == CREATES


def test_a_worker_serves_its_delivery_figures(
    server_factory: ServerFactory, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "d.sqlite3"
    served = server_factory.serve(store, env={"TT_DISPATCH": "off", "TT_METRICS": "0"})
    hub = requests.post(
        f"{served.base}/hub", json={"@type": "Hub", "callback": f"{listener.url}/d"}, timeout=10
    )
    assert hub.status_code == 201, hub.text
    for _ in range(5):
        response = requests.post(f"{served.base}/troubleTicket", json=a_ticket(), timeout=10)
        assert response.status_code == 201
    root = served.base.split("/tmf-api")[0]
    assert requests.get(f"{root}/metrics", timeout=10).status_code == 404  # TT_METRICS=0
    port = free_port()
    server_factory.worker(
        store, env={"TT_METRICS_PORT": str(port), "TT_DISPATCH_INTERVAL": "100ms"}
    )
    labels = frozenset({("kind", "hub"), ("outcome", "delivered")})
    deadline = time.monotonic() + 30
    delivered = 0.0
    while time.monotonic() < deadline:
        try:
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except requests.ConnectionError:  # not listening yet
            time.sleep(0.2)
            continue
        delivered = figures(text).get(("troubleticket_delivery_attempts_total", labels), 0.0)
        if delivered == 5:
            break
        time.sleep(0.2)
    assert delivered == 5
    assert len(listener.received()) == 5
