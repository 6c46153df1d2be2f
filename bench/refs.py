"""``python -m bench.refs BASE``: the server at commit BASE against the working tree's, in one run.

Both serve a copy of the same store; the workloads (GET by id and POST unless ``--workloads``
says otherwise) are measured with wrk in rounds that alternate between the targets, so the
machine's noise falls on all alike. ``--workers N`` adds the working tree with N processes;
``--bare-write`` adds the write baseline (``baselines.bare_write``) for POST and PATCH. Prints
each round, then the medians and each target's ratio to BASE (and the working tree's N-process
figure to its one-process figure).

Everything it starts binds to 127.0.0.1 and is stopped before it exits; the checkout of BASE is
a temporary git worktree, removed at the end.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import corpus
from bench.__main__ import HERE, measure, serving

WRITES = ("post", "patch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.refs", description=__doc__.splitlines()[0]
    )
    parser.add_argument("base", help="the commit (or branch) to compare the working tree with")
    parser.add_argument("--size", type=int, default=10_000, help="tickets in the store")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8, help="length of each measured run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workloads", default="get,post", help="of get, page, count, post, patch")
    parser.add_argument("--workers", type=int, default=1, help="also the working tree with N")
    parser.add_argument("--bare-write", action="store_true", help="also the write baseline")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk (scripts/bench installs it)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-refs-") as scratch:
        work = Path(scratch)
        checkout = work / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(checkout), args.base],
            cwd=HERE.parent,
            check=True,
        )
        try:
            return _compare(args, work, checkout)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(checkout)],
                cwd=HERE.parent,
                check=False,
            )


def _compare(args: argparse.Namespace, work: Path, checkout: Path) -> int:
    workloads = args.workloads.split(",")
    store = work / "tickets.sqlite3"
    print(f"loaded {args.size} tickets in {corpus.build(store, args.size):.1f} s", flush=True)
    ids = work / "ids.txt"
    ids.write_text("\n".join(corpus.ticket_id(n) for n in range(args.size)) + "\n")
    working = work / "working.txt"
    working.write_text("\n".join(corpus.patchable_ids(args.size)) + "\n")
    one = corpus.ticket_id(args.size // 2)
    # label -> (server, source folder, worker processes, workloads)
    targets: dict[str, tuple[str, Path | None, int, list[str]]] = {
        args.base: ("troubleticket", checkout / "src", 1, workloads),
        "working tree": ("troubleticket", None, 1, workloads),
    }
    if args.workers > 1:
        targets[f"working tree x{args.workers}"] = ("troubleticket", None, args.workers, workloads)
    if args.bare_write:
        targets["bare write"] = ("bare_write", None, 1, [w for w in workloads if w in WRITES])
    rates: dict[tuple[str, str], list[float]] = {}
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}", flush=True)
        for label, (server, source, workers, jobs) in targets.items():
            copy = work / f"round-{round_number}-{label.replace(' ', '-')}.sqlite3"
            shutil.copyfile(store, copy)
            with serving(server, copy, one, workers, source=source) as (port, pid):
                for workload in jobs:
                    figure = measure(
                        label,
                        workload,
                        args.size,
                        port,
                        pid,
                        working if workload == "patch" else ids,
                        args.seconds,
                        args.connections,
                    )
                    rates.setdefault((label, workload), []).append(figure.requests_per_s)
    print(f"\nmedians over {args.rounds} rounds ({args.seconds} s each, {args.connections} conns)")
    for workload in workloads:
        base = statistics.median(rates[(args.base, workload)])
        print(f"  {workload:>5}: {args.base} {base:8.0f} req/s")
        for label in targets:
            if label == args.base or (label, workload) not in rates:
                continue
            now = statistics.median(rates[(label, workload)])
            print(f"         {label:>16} {now:8.0f} req/s, ratio to {args.base} {now / base:.2f}")
        if args.workers > 1:
            one_process = statistics.median(rates[("working tree", workload)])
            several = statistics.median(rates[(f"working tree x{args.workers}", workload)])
            print(f"         x{args.workers} to one process: {several / one_process:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
