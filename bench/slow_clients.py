"""``python -m bench.slow_clients``: what 1,000 clients sending their request heads a byte a second
do to everyone else, and how soon the server is rid of them.

Starts the server on a fresh store, then measures a normal client's GETs by id (one keep-alive
connection, one request at a time): first alone (the baseline), then while another process holds
the slow connections open, each sending one byte of a request head a second. Prints the median
and p99 latency of both, and how long after its opening the server closed each slow connection,
against the configured ``TT_HEADER_TIMEOUT``. The target: p99 under 250 ms with the slow
connections open.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import requests

from bench.__main__ import HERE, ROOT, _free_port
from bench.overhead import _wait_until_up
from troubleticket.config import Settings

TARGET_P99_MS = 250.0
TICKET = {
    "@type": "TroubleTicket",
    "description": "Bench",
    "severity": "Minor",
    "ticketType": "incident",
}
HEAD = f"GET {ROOT}/troubleTicket HTTP/1.1\r\nHost: bench\r\nX-Slow: ".encode() + b"s" * 4000


def _hold_slow(port: int, count: int, every: float, report: Connection) -> None:
    """Open ``count`` connections, send each a byte of ``HEAD`` every ``every`` seconds until the
    server closes it; reports when all are open, then when the first closed and each one's
    lifetime (seconds)."""
    selector = selectors.DefaultSelector()
    opened: dict[socket.socket, float] = {}
    sent: dict[socket.socket, int] = {}
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        opened[sock] = time.monotonic()
        sent[sock] = 0
    report.send(time.monotonic())
    lifetimes: list[float] = []
    first_closed: float | None = None
    next_byte = time.monotonic()
    while opened:
        for key, _ in selector.select(timeout=max(0.0, next_byte - time.monotonic())):
            ready = key.fileobj
            assert isinstance(ready, socket.socket)
            try:
                chunk = ready.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:  # the end of the connection (its 408 came before)
                now = time.monotonic()
                first_closed = first_closed or now
                lifetimes.append(now - opened.pop(ready))
                selector.unregister(ready)
                ready.close()
        if time.monotonic() >= next_byte:
            for sock in opened:
                try:
                    sock.send(HEAD[sent[sock] : sent[sock] + 1])
                    sent[sock] += 1
                except OSError:
                    pass  # closed by the server: reading tells when
            next_byte += every
    report.send((first_closed, lifetimes))


def _latencies(session: requests.Session, url: str, count: int) -> list[float]:
    """Milliseconds each of ``count`` GETs took, one after another."""
    taken = []
    for _ in range(count):
        began = time.perf_counter()
        response = session.get(url, timeout=30)
        taken.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET answered {response.status_code}: {response.text}")
    return taken


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slow_clients", description=__doc__)
    parser.add_argument("--slow", type=int, default=1000, help="slow connections held open")
    parser.add_argument("--requests", type=int, default=500, help="GETs measured in each phase")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between their bytes")
    parser.add_argument(
        "--header-timeout", default="10s", help="TT_HEADER_TIMEOUT of the server (default 10s)"
    )
    args = parser.parse_args(argv)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TT_")}
    env["TT_HEADER_TIMEOUT"] = args.header_timeout
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryFile() as log:
        command = [sys.executable, "-m", "troubleticket", "serve"]
        command += ["--store", str(Path(folder) / "bench.sqlite3"), "--host", "127.0.0.1"]
        command += ["--port", str(port), "--log-level", "warning"]
        server = subprocess.Popen(command, cwd=HERE.parent, env=env, stdout=log, stderr=log)
        try:
            _wait_until_up(port, server)
            base = f"http://127.0.0.1:{port}{ROOT}/troubleTicket"
            ticket = requests.post(base, json=TICKET, timeout=10)
            ticket.raise_for_status()
            url = f"{base}/{ticket.json()['id']}"
            session = requests.Session()
            _latencies(session, url, 50)  # warm-up, not counted
            alone = _latencies(session, url, args.requests)

            receiving, sending = multiprocessing.Pipe(duplex=False)
            holder = multiprocessing.Process(
                target=_hold_slow, args=(port, args.slow, args.every, sending), daemon=True
            )
            holder.start()
            receiving.recv()  # all open
            crowded = _latencies(session, url, args.requests)
            measured_until = time.monotonic()
            if not receiving.poll(300):
                raise RuntimeError("the slow connections were not closed within 5 minutes")
            first_closed, lifetimes = receiving.recv()
            holder.join(timeout=10)
        finally:
            server.terminate()
            server.wait(timeout=30)

    timeout = Settings.from_env(env).header_timeout
    print(
        f"GET by id, one keep-alive client, {args.requests} requests a phase; "
        f"{args.slow} slow connections sending a byte every {args.every:g} s; "
        f"TT_HEADER_TIMEOUT={args.header_timeout}"
    )
    print("| phase | median (ms) | p99 (ms) | max (ms) |")
    print("|---|---:|---:|---:|")
    for name, taken in (("alone (baseline)", alone), (f"{args.slow} slow connections", crowded)):
        print(f"| {name} | {statistics.median(taken):.2f} | {_p99(taken):.2f} | {max(taken):.2f} |")
    ratio = _p99(crowded) / _p99(alone)
    print(f"p99 with the slow connections: {ratio:.2f}× the baseline's")
    if first_closed is not None and first_closed < measured_until:
        print("note: the server began closing slow connections before the measurement ended")
    print(
        f"slow connections closed by the server {min(lifetimes):.2f} s (first), "
        f"{statistics.median(lifetimes):.2f} s (median), {max(lifetimes):.2f} s (last) after "
        f"opening, {len(lifetimes)} of {args.slow}; the header timeout is {timeout:g} s"
    )
    met = _p99(crowded) < TARGET_P99_MS
    print(
        f"target p99 < {TARGET_P99_MS:g} ms under {args.slow} slow connections: "
        f"{'met' if met else 'MISSED'} ({_p99(crowded):.2f} ms)"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
