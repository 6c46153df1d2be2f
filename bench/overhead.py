"""``python -m bench.overhead``: what the per-request access log costs a GET by id.

Starts the server with the access log written (``--log-level info``, text and JSON) and with it
off (``--log-level warning``: the line is not formatted or written), alternately, and measures
GETs by id with wrk for each; prints medians of several rounds and each mode's ratio to "off".
The log goes to a file, as it would to a container runtime's pipe.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import corpus
from bench.__main__ import HERE, _free_port, wrk

MODES = {
    "off (warning)": ["--log-level", "warning"],
    "text (info)": ["--log-level", "info", "--log-format", "text"],
    "json (info)": ["--log-level", "info", "--log-format", "json"],
}


def get_rate(mode: list[str], store: Path, ids: Path, seconds: int) -> float:
    port = _free_port()
    command = [sys.executable, "-m", "troubleticket", "serve", "--store", str(store)]
    command += ["--host", "127.0.0.1", "--port", str(port), *mode]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=HERE.parent, stdout=log, stderr=log)
        try:
            time.sleep(4)
            wrk(port, "get", ids, 2, 16)  # warm-up
            figures = wrk(port, "get", ids, seconds, 16)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return figures["requests"] / (figures["duration_us"] / 1e6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args(argv)
    data = HERE / ".data"
    data.mkdir(exist_ok=True)
    store = data / f"tickets-{args.size}.sqlite3"
    if not store.exists():
        corpus.build(store, args.size)
    ids = data / f"ids-{args.size}.txt"
    ids.write_text("\n".join(corpus.ticket_id(n) for n in range(args.size)) + "\n")
    rates: dict[str, list[float]] = {name: [] for name in MODES}
    for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits all modes
        for name, mode in MODES.items():
            rates[name].append(get_rate(mode, store, ids, args.seconds))
    base = statistics.median(rates["off (warning)"])
    print(f"GET by id, {args.size:,} tickets, 16 connections; median of {args.rounds} rounds")
    print("| access log | req/s | vs off |")
    print("|---|---:|---:|")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"| {name} | {median:,.0f} | {median / base:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
