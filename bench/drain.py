"""``python -m bench.drain``: how fast dispatching processes drain a backlog, and the latency of
a steady stream, against a listener measured in the same run.

1. The listener (``bench.sink``, one asyncio process) is driven alone with wrk: its capacity,
   so that it is known not to be the limit.
2. A store is filled through the API of a server that does not dispatch: ``--hubs`` hubs on
   the listener, then ``--tickets`` tickets (one create event each): tickets x hubs deliveries.
3. For each count of ``--processes``, on a copy of that store, that many ``troubleticket worker``
   processes are started together and timed until the listener has every delivery: the drain
   time, the rate over it, and the steady rate (between 20 % and 80 % of the deliveries).
4. One server dispatching in process, one hub, tickets created at ``--rate`` per second for
   ``--seconds``: the time from each event's commit (its ``eventTime``) to its arrival.

Everything binds to 127.0.0.1 and is stopped before it exits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.__main__ import HERE, _free_port

API = "/tmf-api/troubleTicket/v5"
BODY = {
    "@type": "TroubleTicket",
    "description": "Line down after the storm",
    "severity": "Major",
    "ticketType": "incident",
}


def _env(store: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TT_")}
    return env | {
        "TT_STORE": str(store),
        "TT_EGRESS_ALLOW": "127.0.0.1/32",
        "TT_LOG_LEVEL": "warning",
        **settings,
    }


def _wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("did not start") from None
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _serve(store: Path, **settings: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "troubleticket",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, env=_env(store, **settings), cwd=HERE.parent)
    _wait_port(port, process)
    return process, f"http://127.0.0.1:{port}{API}"


def _create(base: str, count: int, threads: int = 16, rate: float | None = None) -> None:
    local = threading.local()
    began = time.monotonic()

    def one(n: int) -> None:
        if rate is not None:
            delay = began + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        answer = session.post(f"{base}/troubleTicket", json=BODY, timeout=30)
        assert answer.status_code == 201, answer.text

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(count)))


def sink_capacity(port: int, seconds: int) -> float:
    script = (
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        'wrk.body = \'{"eventId":"capacity","eventTime":"2026-01-01T00:00:00Z","event":{}}\'\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                "-c16",
                f"-d{seconds}s",
                "-s",
                handle.name,
                f"http://127.0.0.1:{port}/capacity",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    line = next(x for x in out.splitlines() if x.startswith("Requests/sec:"))
    return float(line.split()[1])


def drain(
    store: Path,
    processes: int,
    total: int,
    sink: str,
    timeout: float,
    extra: dict[str, str],
    source: Path | None = None,
) -> dict[str, float]:
    """Time ``processes`` workers (of the checkout whose ``src`` is ``source``, else this one)
    draining ``store`` into the listener."""
    requests.post(f"{sink}/reset", timeout=5)
    env = _env(store, TT_DISPATCH_INTERVAL="50ms", **extra)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    started = time.time()
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "troubleticket", "worker"], env=env, cwd=HERE.parent
        )
        for _ in range(processes)
    ]
    try:
        while True:
            stats = requests.get(f"{sink}/stats", timeout=5).json()
            if stats["distinct"] >= total:
                break
            if time.time() - started > timeout:
                raise RuntimeError(f"{stats['distinct']} of {total} delivered in {timeout} s")
            time.sleep(0.5)
    finally:
        for worker in workers:
            _stop(worker)
    marks = {int(k): v for k, v in requests.get(f"{sink}/marks", timeout=30).json().items()}
    t20, t80 = marks[int(total * 0.2)], marks[int(total * 0.8)]
    seconds = marks[total] - started
    return {
        "seconds": seconds,
        "rate": total / seconds,
        "steady": 0.6 * total / (t80 - t20),
        "repeated": stats["requests"] - stats["distinct"],
    }


def _drains(
    args: argparse.Namespace,
    counts: list[int],
    sources: dict[str, Path | None],
    filled: Path,
    work: Path,
    total: int,
    sink: str,
    extra: dict[str, str],
) -> None:
    """Every (checkout, processes) case once per round, alternating; then the medians."""
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    for round_number in range(1, args.rounds + 1):
        for label, source in sources.items():
            for n in counts:
                copy = work / f"round-{round_number}-{n}.sqlite3"
                shutil.copyfile(filled, copy)
                figure = drain(copy, n, total, sink, args.timeout, extra, source)
                results.setdefault((label, n), []).append(figure)
                print(
                    f"round {round_number}, {label}, {n} process(es): {total} deliveries in "
                    f"{figure['seconds']:.1f} s, {figure['rate']:.0f}/s "
                    f"(steady {figure['steady']:.0f}/s), {figure['repeated']:.0f} repeated",
                    flush=True,
                )
                copy.unlink()

    def median(label: str, n: int, key: str) -> float:
        return statistics.median(f[key] for f in results[(label, n)])

    print(f"\nmedians over {args.rounds} round(s)")
    for label in sources:
        for n in counts:
            print(
                f"  {label}, {n} process(es): drain {median(label, n, 'seconds'):.1f} s, "
                f"{median(label, n, 'rate'):.0f}/s, steady {median(label, n, 'steady'):.0f}/s"
            )
        if len(counts) > 1:
            one, last = counts[0], counts[-1]
            ratio = median(label, last, "rate") / median(label, one, "rate")
            print(f"  {label}, {last} to {one} process(es): {ratio:.2f}")
    if args.ref:
        for n in counts:
            ratio = median("this checkout", n, "rate") / median(args.ref, n, "rate")
            print(f"  this checkout to {args.ref}, {n} process(es): {ratio:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.drain", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--hubs", type=int, default=10)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--rate", type=float, default=200, help="changes/s of the latency case")
    parser.add_argument("--seconds", type=int, default=10, help="length of the latency case")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--ref", help="also drain with this commit's workers (a git worktree)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="TT_NAME=VALUE",
        help="a setting of the dispatching processes (repeatable)",
    )
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.set)
    counts = [int(n) for n in args.processes.split(",")]
    sink_port = _free_port()
    sink = f"http://127.0.0.1:{sink_port}"
    listener = subprocess.Popen(
        [sys.executable, "-m", "bench.sink", str(sink_port)], cwd=HERE.parent
    )
    try:
        _wait_port(sink_port, listener)
        requests.post(f"{sink}/reset", timeout=5)
        capacity = sink_capacity(sink_port, 5)
        counted = requests.get(f"{sink}/stats", timeout=5).json()["requests"]
        print(
            f"listener alone: {capacity:.0f} POST/s (wrk, 16 connections; it counted "
            f"{counted} POSTs in 5 s)",
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="bench-drain-") as scratch:
            work = Path(scratch)
            filled = work / "filled.sqlite3"
            server, base = _serve(filled, TT_DISPATCH="off")
            try:
                for n in range(args.hubs):
                    hub = {"@type": "Hub", "callback": f"{sink}/hub{n}"}
                    assert requests.post(f"{base}/hub", json=hub, timeout=10).status_code == 201
                began = time.monotonic()
                _create(base, args.tickets)
                print(
                    f"{args.tickets} tickets created in {time.monotonic() - began:.1f} s",
                    flush=True,
                )
            finally:
                _stop(server)
            total = args.tickets * args.hubs
            sources: dict[str, Path | None] = {"this checkout": None}
            if args.ref:
                checkout = work / "ref"
                subprocess.run(
                    ["git", "worktree", "add", "--detach", "--quiet", str(checkout), args.ref],
                    cwd=HERE.parent,
                    check=True,
                )
                sources[args.ref] = checkout / "src"
            try:
                _drains(args, counts, sources, filled, work, total, sink, extra)
            finally:
                if args.ref:
                    subprocess.run(
                        ["git", "worktree", "remove", "--force", str(checkout)],
                        cwd=HERE.parent,
                        check=False,
                    )
            print(f"  (listener alone {capacity:.0f} POST/s)")
            requests.post(f"{sink}/reset", timeout=5)
            server, base = _serve(work / "latency.sqlite3", TT_DISPATCH_INTERVAL="50ms", **extra)
            try:
                hub = {"@type": "Hub", "callback": f"{sink}/latency"}
                assert requests.post(f"{base}/hub", json=hub, timeout=10).status_code == 201
                count = int(args.rate * args.seconds)
                _create(base, count, threads=8, rate=args.rate)
                deadline = time.monotonic() + 60
                while requests.get(f"{sink}/stats", timeout=5).json()["distinct"] < count:
                    assert time.monotonic() < deadline, "the latency case did not drain"
                    time.sleep(0.2)
                stats = requests.get(f"{sink}/stats", timeout=5).json()
            finally:
                _stop(server)
            print(
                f"  one hub at {args.rate:.0f} changes/s for {args.seconds} s: commit->listener "
                f"p50 {stats['latency_p50'] * 1000:.0f} ms, "
                f"p99 {stats['latency_p99'] * 1000:.0f} ms"
            )
    finally:
        _stop(listener)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
