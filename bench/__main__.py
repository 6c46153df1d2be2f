"""``python -m bench``: load stores of several sizes, run every workload against the server and
the baselines with wrk on 127.0.0.1, and write a JSON file, a Markdown report and plots.

Everything it starts binds to 127.0.0.1 and is stopped before it exits.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import corpus, report

HERE = Path(__file__).parent
ROOT = "/tmf-api/troubleTicket/v5"
PAGE = f"{ROOT}/troubleTicket?status=inProgress&severity=Critical&sort=-creationDate&limit=20"
COUNT = f"{ROOT}/troubleTicket?status=inProgress&severity=Critical&limit=0"

# name -> (script, extra environment)
WORKLOADS: dict[str, tuple[str, dict[str, str]]] = {
    "get": ("get.lua", {}),
    "page": ("path.lua", {"BENCH_PATH": PAGE}),
    "count": ("path.lua", {"BENCH_PATH": COUNT}),
    "patch": ("patch.lua", {}),
    "post": ("post.lua", {}),
}


@dataclass
class Figure:
    target: str
    workload: str
    size: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    rss_mb: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tree(pid: int) -> list[int]:
    """``pid`` and every process below it (the workers of ``serve --workers``)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            found += _tree(int(child))
    return found


def _rss_mb(pid: int) -> float:
    """The resident memory of ``pid`` and its child processes together."""
    total = 0.0
    for member in _tree(pid):
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except FileNotFoundError:
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith("VmRSS:")) / 1024
    return total


@contextmanager
def serving(
    target: str, store: Path, ticket: str, workers: int = 1, source: Path | None = None
) -> Iterator[tuple[int, int]]:
    """Start one server (the app, with ``workers`` processes, or a baseline); yields (port,
    pid). ``source``: the ``src`` folder of another checkout to run the app from."""
    port = _free_port()
    env = {**os.environ, "BENCH_STORE": str(store), "BENCH_TICKET_ID": ticket}
    env = {k: v for k, v in env.items() if not k.startswith("TT_")}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    if target == "troubleticket":
        command = [sys.executable, "-m", "troubleticket", "serve", "--store", str(store)]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        command += ["--workers", str(workers)]
    else:
        command = [sys.executable, "-m", "uvicorn", f"bench.baselines:{target}", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, cwd=HERE.parent)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{target} did not start") from None
                time.sleep(0.1)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wrk(port: int, workload: str, ids: Path, seconds: int, connections: int) -> dict[str, int]:
    script_name, extra = WORKLOADS[workload]
    script = (HERE / "lua" / script_name).read_text() + (HERE / "lua" / "report.lua").read_text()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    env = {**os.environ, "BENCH_IDS": str(ids), "BENCH_ROOT": ROOT, **extra}
    try:
        output = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "-s",
                handle.name,
                f"http://127.0.0.1:{port}",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        os.unlink(handle.name)
    values = {}
    for line in output.splitlines():
        if line.startswith("BENCH "):
            _, key, value = line.split()
            values[key] = int(value)
    return values


def measure(
    target: str,
    workload: str,
    size: int,
    port: int,
    pid: int,
    ids: Path,
    seconds: int,
    connections: int,
    warm_up: bool = True,
) -> Figure:
    """One wrk run of ``workload``, after 2 s of warm-up not counted (unless ``warm_up`` is
    false: a cold run)."""
    if warm_up:
        wrk(port, workload, ids, 2, connections)
    raw = wrk(port, workload, ids, seconds, connections)
    figure = Figure(
        target=target,
        workload=workload,
        size=size,
        requests_per_s=raw["requests"] / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        errors=raw["errors"],
        rss_mb=_rss_mb(pid),
    )
    print(
        f"  {target:>13} {workload:>5} {size:>8}: {figure.requests_per_s:8.0f} req/s "
        f"p50 {figure.p50_ms:6.2f} ms p99 {figure.p99_ms:6.2f} ms "
        f"rss {figure.rss_mb:6.1f} MB errors {figure.errors}",
        flush=True,
    )
    return figure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--data", type=Path, default=HERE / ".data", help="where stores are kept")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--fresh", action="store_true", help="rebuild stores that exist")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="also measure the app with this many worker processes (1: only with one)",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk (scripts/bench installs it)", file=sys.stderr)
        return 2
    sizes = [int(size) for size in args.sizes.split(",")]
    args.data.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    loads: dict[int, float] = {}
    for size in sizes:
        store = args.data / f"tickets-{size}.sqlite3"
        if args.fresh or not store.exists():
            loads[size] = corpus.build(store, size)
            print(f"loaded {size} tickets in {loads[size]:.1f} s", flush=True)
        every = args.data / f"ids-{size}.txt"
        every.write_text("\n".join(corpus.ticket_id(n) for n in range(size)) + "\n")
        working = args.data / f"working-{size}.txt"
        working.write_text("\n".join(corpus.patchable_ids(size)) + "\n")
        one = corpus.ticket_id(size // 2)
        for baseline in ("bare", "trivial"):
            with serving(baseline, store, one) as (port, pid):
                figures.append(
                    measure(baseline, "get", size, port, pid, every, args.seconds, args.connections)
                )
        with serving("troubleticket", store, one) as (port, pid):
            for workload in WORKLOADS:
                ids = working if workload == "patch" else every
                figures.append(
                    measure(
                        "troubleticket",
                        workload,
                        size,
                        port,
                        pid,
                        ids,
                        args.seconds,
                        args.connections,
                    )
                )
        if args.workers > 1:
            several = f"troubleticket x{args.workers}"
            with serving("troubleticket", store, one, args.workers) as (port, pid):
                for workload in WORKLOADS:
                    ids = working if workload == "patch" else every
                    figures.append(
                        measure(
                            several,
                            workload,
                            size,
                            port,
                            pid,
                            ids,
                            args.seconds,
                            args.connections,
                        )
                    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run = {
        "when": stamp,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "settings": {
            "seconds": args.seconds,
            "connections": args.connections,
            "wrk_threads": 2,
            "server_workers": 1,
            "several_workers": args.workers,
        },
        "load_seconds": loads,
        "figures": [asdict(figure) for figure in figures],
    }
    out = args.out / stamp
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(run, indent=2) + "\n")
    report.write(run, out)
    latest = args.out / "latest"
    if latest.exists():
        shutil.rmtree(latest)
    shutil.copytree(out, latest)
    print(f"report: {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
