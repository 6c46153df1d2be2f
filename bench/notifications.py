"""``python -m bench.notifications``: event delivery throughput and commit→listener latency.

Starts the server (SQLite file store, dispatcher in-process) and an HTTP listener, both on
127.0.0.1, subscribes hubs to the listener, creates tickets from several client threads, and
measures for every delivered event the time from its ``timeOccurred`` (stamped as the change is
committed) to its arrival at the listener, and the delivery rate. The baseline, in the same run:
the same listener fed directly by plain HTTP POSTs from as many threads as the dispatcher uses,
i.e. what the HTTP path alone allows on this machine. Repeats each case and prints medians.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

API = "/tmf-api/troubleTicket/v5"
CONCURRENCY = 8  # the dispatcher's default number of attempts in flight


class Listener:
    """Records the arrival time of every POST; answers 204."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                arrived = time.time()
                with listener._lock:
                    listener.arrivals.append((arrived, body))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/events"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.arrivals = []

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.arrivals) >= count:
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(store: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TT_")}
    # the listener is on this host, where callbacks may only be when allowed
    local = {"TT_EGRESS_ALLOW": "127.0.0.0/8"}
    return env | {"TT_STORE": str(store), "TT_LOG_LEVEL": "warning", **local, **settings}


def start_worker(store: Path) -> subprocess.Popen[bytes]:
    """A dispatcher process of its own; it polls every 20 ms, no server wakes it."""
    return subprocess.Popen(
        [sys.executable, "-m", "troubleticket", "worker"],
        env=_environment(store, TT_DISPATCH_INTERVAL="20ms"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_server(store: Path, dispatch: str = "inprocess") -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "troubleticket", *command],
        env=_environment(store, TT_DISPATCH=dispatch),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}{API}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/troubleTicket?limit=0", timeout=1)
            return process, base
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def run_case(
    base: str, listener: Listener, tickets: int, hubs: int, clients: int
) -> dict[str, float]:
    """Create ``tickets`` tickets with ``hubs`` subscribers; latency and delivery rate."""
    session = requests.Session()
    hub_ids = [
        session.post(f"{base}/hub", json={"@type": "Hub", "callback": listener.url}).json()["id"]
        for _ in range(hubs)
    ]
    listener.reset()
    body = {
        "@type": "TroubleTicket",
        "description": "bench",
        "severity": "Minor",
        "ticketType": "incident",
    }

    def create(_: int) -> None:
        requests.post(f"{base}/troubleTicket", json=body, timeout=30).raise_for_status()

    started = time.time()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(create, range(tickets)))
    committed = time.time()
    expected = tickets * hubs
    complete = listener.wait_for(expected, timeout=120)
    latencies = sorted(
        arrived - _epoch(json.loads(payload)["timeOccurred"])
        for arrived, payload in listener.arrivals
    )
    last = max(arrived for arrived, _ in listener.arrivals)
    for hub_id in hub_ids:
        session.delete(f"{base}/hub/{hub_id}")
    return {
        "delivered": len(latencies),
        "expected": expected,
        "complete": float(complete),
        "commits_per_s": tickets / (committed - started),
        "deliveries_per_s": len(latencies) / (last - started),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max_ms": 1000 * latencies[-1],
    }


def run_baseline(listener: Listener, posts: int) -> dict[str, float]:
    """The same listener fed by plain POSTs from CONCURRENCY threads: the HTTP path alone."""
    listener.reset()
    local = threading.local()
    payload = json.dumps({"eventType": "Baseline", "timeOccurred": "2026-01-01T00:00:00Z"}).encode()

    def post(_: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        session.post(listener.url, data=payload, headers={"Content-Type": "application/json"})

    started = time.time()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(post, range(posts)))
    return {"deliveries_per_s": posts / (time.time() - started)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    listener = Listener()
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        process, base = start_server(Path(tmp) / "bench.sqlite3")
        # The same with the dispatcher in a worker process beside a server that only records.
        apart, apart_base = start_server(Path(tmp) / "apart.sqlite3", dispatch="off")
        worker = start_worker(Path(tmp) / "apart.sqlite3")
        try:
            for _ in range(args.repeat):  # interleaved, so every case sees the same machine load
                results.setdefault("baseline", []).append(run_baseline(listener, args.tickets))
                for hubs in (1, 10):
                    case = run_case(base, listener, args.tickets, hubs, clients=4)
                    results.setdefault(f"{hubs} hub(s)", []).append(case)
                    case = run_case(apart_base, listener, args.tickets, hubs, clients=4)
                    results.setdefault(f"{hubs} hub(s), worker", []).append(case)
        finally:
            for started in (process, apart, worker):
                started.terminate()
                started.wait(timeout=10)
            listener.close()
    print(f"{args.tickets} tickets created by 4 client threads; median of {args.repeat} runs")
    base_rate = statistics.median(r["deliveries_per_s"] for r in results["baseline"])
    print(
        f"{'case':<12} {'delivered':>11} {'deliveries/s':>13} {'vs baseline':>12} "
        f"{'commits/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    print(f"{'baseline':<20} {'':>11} {base_rate:13.0f} {1:12.2f}")
    for name, runs in results.items():
        if name == "baseline":
            continue
        med = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        delivered = f"{int(med['delivered'])}/{int(med['expected'])}"
        print(
            f"{name:<20} {delivered:>11} {med['deliveries_per_s']:13.0f} "
            f"{med['deliveries_per_s'] / base_rate:12.2f} {med['commits_per_s']:10.0f} "
            f"{med['p50_ms']:8.1f} {med['p99_ms']:8.1f} {med['max_ms']:8.1f}"
        )


if __name__ == "__main__":
    main()
