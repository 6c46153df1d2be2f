"""``python -m bench.overhead``: what the access log and the metrics cost a GET by id.

Starts the server in each mode, alternately, and measures GETs by id with wrk; prints medians of
several rounds and each mode's ratio to the bare mode (no access line, no metrics: ``--log-level
warning`` leaves the line unformatted and unwritten, ``TT_METRICS=0`` counts nothing). The log
goes to a file, as it would to a container runtime's pipe.

"JSON log through logging" is the access line as it was written before ``logs._DirectAccess``
(a filter on the root logger sends it the ``logging`` way), measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import corpus
from bench.__main__ import HERE, _free_port, wrk

JSON = ["--log-level", "info", "--log-format", "json"]
QUIET = ["--log-level", "warning"]
# (arguments, TT_METRICS, access line through logging)
MODES: dict[str, tuple[list[str], str, bool]] = {
    "bare (no access log, no metrics)": (QUIET, "0", False),
    "metrics": (QUIET, "1", False),
    "JSON log": (JSON, "0", False),
    "metrics + JSON log": (JSON, "1", False),
    "metrics + text log": (["--log-level", "info", "--log-format", "text"], "1", False),
    "metrics + JSON log through logging (before)": (JSON, "1", True),
}
BARE = "bare (no access log, no metrics)"
# the server with a filter on the root logger, so every access line goes through logging
THROUGH_LOGGING = """
import logging, sys
from troubleticket import cli, logs
configure = logs.configure
def through_logging(*args, **kwargs):
    configure(*args, **kwargs)
    logging.getLogger().addFilter(lambda record: True)
logs.configure = through_logging
sys.exit(cli.main(sys.argv[1:]))
"""


def _wait_until_up(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until the server answers (opening a store of an older layout first adds its indexes)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not answer within 10 minutes")


def get_rate(mode: tuple[list[str], str, bool], store: Path, ids: Path, seconds: int) -> float:
    arguments, metrics, through_logging = mode
    port = _free_port()
    start = ["-c", THROUGH_LOGGING] if through_logging else ["-m", "troubleticket"]
    command = [sys.executable, *start, "serve", "--store", str(store)]
    command += ["--host", "127.0.0.1", "--port", str(port), *arguments]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TT_")} | {"TT_METRICS": metrics}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=HERE.parent, stdout=log, stderr=log, env=env)
        try:
            _wait_until_up(port, process)
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
    base = statistics.median(rates[BARE])
    print(f"GET by id, {args.size:,} tickets, 16 connections; median of {args.rounds} rounds")
    print("| mode | req/s | vs bare |")
    print("|---|---:|---:|")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"| {name} | {median:,.0f} | {median / base:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
