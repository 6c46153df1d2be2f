"""``python -m bench.refs BASE``: the server at commit BASE against the working tree's, in one run.

Both serve a copy of the same store; GET by id and POST are measured with wrk in rounds that
alternate between the two, so the machine's noise falls on both alike. Prints each round, then
the medians and the working tree's ratio to BASE.

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

WORKLOADS = ("get", "post")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.refs", description=__doc__.splitlines()[0]
    )
    parser.add_argument("base", help="the commit (or branch) to compare the working tree with")
    parser.add_argument("--size", type=int, default=10_000, help="tickets in the store")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8, help="length of each measured run")
    parser.add_argument("--connections", type=int, default=16)
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
    store = work / "tickets.sqlite3"
    print(f"loaded {args.size} tickets in {corpus.build(store, args.size):.1f} s", flush=True)
    ids = work / "ids.txt"
    ids.write_text("\n".join(corpus.ticket_id(n) for n in range(args.size)) + "\n")
    one = corpus.ticket_id(args.size // 2)
    targets = {args.base: checkout / "src", "working tree": None}
    rates: dict[tuple[str, str], list[float]] = {}
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}", flush=True)
        for label, source in targets.items():
            copy = work / f"round-{round_number}-{label.replace(' ', '-')}.sqlite3"
            shutil.copyfile(store, copy)
            with serving("troubleticket", copy, one, source=source) as (port, pid):
                for workload in WORKLOADS:
                    figure = measure(
                        label, workload, args.size, port, pid, ids, args.seconds, args.connections
                    )
                    rates.setdefault((label, workload), []).append(figure.requests_per_s)
    print(f"\nmedians over {args.rounds} rounds ({args.seconds} s each, {args.connections} conns)")
    for workload in WORKLOADS:
        base = statistics.median(rates[(args.base, workload)])
        now = statistics.median(rates[("working tree", workload)])
        print(
            f"  {workload:>5}: {args.base} {base:8.0f} req/s, working tree {now:8.0f} req/s, "
            f"ratio {now / base:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
