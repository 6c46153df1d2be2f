"""``python -m bench.profile``: where a request's time goes, per workload, under load.

Starts the server under py-spy (sampling every thread, 200 Hz), drives one workload with wrk as
the benchmark does, and writes for each workload a summary beside the run: the share of samples
in each function (inclusive and self), split by thread: the event loop, which parses, validates,
routes and encodes every request, and the worker threads the store calls run in. Idle samples
(a thread waiting for work) are left out of the shares.

    python -m bench.profile --size 100000 --workloads get,page,post
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import corpus
from bench.__main__ import HERE, WORKLOADS, _free_port, wrk

# frames of a thread with nothing to do (the event loop in epoll shows as Runner.run itself)
_IDLE = ("Condition.wait", "EpollSelector.select", "Event.wait", "Queue.get", "Runner.run")
_EVENT_LOOP = "Runner.run"
_THREAD = "Thread._bootstrap"
_LINE = re.compile(r":\d+\)$")


def _frames(stack: str) -> list[str]:
    return [_LINE.sub(")", frame) for frame in stack.split(";")]


def summarize(raw: Path, top: int = 30) -> str:
    """A Markdown summary of py-spy's collapsed stacks in ``raw``."""
    threads: dict[str, tuple[collections.Counter[str], collections.Counter[str], list[int]]] = {}
    idle = collections.Counter[str]()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = _frames(stack)
        if any(_EVENT_LOOP in f for f in frames):
            kind = "event loop"
        elif any(_THREAD in f for f in frames):
            kind = "worker threads"
        else:
            continue  # the main thread before its event loop started: start-up
        if frames and any(marker in frames[-1] for marker in _IDLE):
            idle[kind] += int(count)
            continue
        inclusive, own, total = threads.setdefault(
            kind, (collections.Counter(), collections.Counter(), [0])
        )
        total[0] += int(count)
        for frame in dict.fromkeys(frames):
            inclusive[frame] += int(count)
        own[frames[-1]] += int(count)
    lines: list[str] = []
    for kind, (inclusive, own, total) in sorted(threads.items()):
        busy = total[0]
        # frames on every sample of the thread (its entry points) say nothing
        shown = [(f, n) for f, n in inclusive.most_common() if n < busy * 0.98][:top]
        lines += [
            f"### {kind}: {busy} busy samples ({idle[kind]} idle left out)",
            "",
            "| inclusive | function |",
            "|---:|---|",
        ]
        lines += [f"| {n / busy:.1%} | `{f}` |" for f, n in shown]
        lines += ["", "| self | function |", "|---:|---|"]
        lines += [f"| {n / busy:.1%} | `{f}` |" for f, n in own.most_common(top // 2)]
        lines.append("")
    return "\n".join(lines)


def _py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"  # installed in the same environment
    return str(beside) if beside.exists() else shutil.which("py-spy")


def profile(workload: str, store: Path, size: int, seconds: int, out: Path) -> Path:
    port = _free_port()
    raw = out / f"{workload}.collapsed"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TT_")}
    command = [_py_spy() or "py-spy", "record", "-r", "200", "-f", "raw", "-o", str(raw), "--"]
    command += [sys.executable, "-m", "troubleticket", "serve", "--store", str(store)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, cwd=HERE.parent, stdout=subprocess.DEVNULL)
    try:
        time.sleep(4)  # start-up is not what is measured
        ids = HERE / ".data" / f"{'working' if workload == 'patch' else 'ids'}-{size}.txt"
        figures = wrk(port, workload, ids, seconds, 16)
    finally:
        # py-spy writes its file when the program it runs exits
        subprocess.run(["pkill", "-INT", "-f", "--", f"--port {port}"], check=False)
        process.wait(timeout=60)
    rate = figures["requests"] / (figures["duration_us"] / 1e6)
    summary = out / f"{workload}.md"
    summary.write_text(
        f"# {workload}: {rate:,.0f} req/s under py-spy, store of {size:,}, 16 connections\n\n"
        + summarize(raw)
    )
    raw.unlink()  # the summary is what is kept
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--workloads", default="get,page,post,patch")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    if _py_spy() is None or shutil.which("wrk") is None:
        print("needs py-spy (pip install -e '.[bench]') and wrk", file=sys.stderr)
        return 2
    data = HERE / ".data"
    data.mkdir(exist_ok=True)
    store = data / f"tickets-{args.size}.sqlite3"
    if not store.exists():
        corpus.build(store, args.size)
    (data / f"ids-{args.size}.txt").write_text(
        "\n".join(corpus.ticket_id(n) for n in range(args.size)) + "\n"
    )
    (data / f"working-{args.size}.txt").write_text(
        "\n".join(corpus.patchable_ids(args.size)) + "\n"
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out / stamp / "profiles"
    out.mkdir(parents=True, exist_ok=True)
    for workload in args.workloads.split(","):
        if workload not in WORKLOADS:
            parser.error(f"no workload {workload!r}: {', '.join(WORKLOADS)}")
        print(f"profiled {workload}: {profile(workload, store, args.size, args.seconds, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
