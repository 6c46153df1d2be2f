"""``python -m bench.cold_reads``: GET by id when the store is not in memory, beside when it is.

The store (``--size`` tickets, built once under ``bench/.data/`` as ``python -m bench`` does)
is served by one process; before each cold run the operating system is told to drop the file's
cached pages (``posix_fadvise(DONTNEED)``, no privileges needed), then GETs of random ids run
with wrk; the warm run follows at once, with what the cold one brought in. Rounds alternate;
medians of req/s and p99 are printed with the file's size, how much of it the page cache held
before and after each run (``mincore`` through mmap), and the server's RSS.
"""

from __future__ import annotations

import argparse
import mmap
import os
import shutil
import statistics
import sys
from ctypes import CDLL, addressof, c_char, c_size_t, c_void_p, create_string_buffer
from pathlib import Path

from bench import corpus
from bench.__main__ import HERE, measure, serving

_LIBC = CDLL(None, use_errno=True)


def evict(path: Path) -> None:
    """Ask the kernel to drop the cached pages of ``path`` (dirty ones are written first)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def cached_fraction(path: Path) -> float:
    """The share of ``path``'s pages in the page cache now (``mincore``)."""
    size = path.stat().st_size
    if size == 0:
        return 0.0
    # a private (copy-on-write) mapping: a buffer ctypes can point at; nothing is written
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_COPY) as m:
        pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
        vector = create_string_buffer(pages)
        anchor = c_char.from_buffer(m)
        try:
            if _LIBC.mincore(c_void_p(addressof(anchor)), c_size_t(size), vector) != 0:
                return float("nan")
            return sum(byte & 1 for byte in vector.raw) / pages
        finally:
            del anchor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cold_reads", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--data", type=Path, default=HERE / ".data")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk (scripts/bench installs it)", file=sys.stderr)
        return 2
    args.data.mkdir(parents=True, exist_ok=True)
    store = args.data / f"cold-{args.size}.sqlite3"
    if not store.exists():
        print(f"loaded {args.size} tickets in {corpus.build(store, args.size):.1f} s", flush=True)
    ids = args.data / f"ids-{args.size}.txt"
    ids.write_text("\n".join(corpus.ticket_id(n) for n in range(args.size)) + "\n")
    size_mb = store.stat().st_size / 2**20
    print(
        f"store file: {size_mb:.0f} MB for {args.size} tickets "
        f"({store.stat().st_size / args.size:.0f} bytes each)",
        flush=True,
    )
    rates: dict[str, list[float]] = {"cold": [], "warm": []}
    p99s: dict[str, list[float]] = {"cold": [], "warm": []}
    with serving("troubleticket", store, corpus.ticket_id(args.size // 2)) as (port, pid):
        for round_number in range(1, args.rounds + 1):
            evict(store)
            print(
                f"round {round_number}: {cached_fraction(store):.1%} of the file cached "
                "after eviction",
                flush=True,
            )
            for kind in ("cold", "warm"):
                # the cold run reads from the cache just emptied: no warm-up before it
                figure = measure(
                    kind,
                    "get",
                    args.size,
                    port,
                    pid,
                    ids,
                    args.seconds,
                    args.connections,
                    warm_up=kind == "warm",
                )
                rates[kind].append(figure.requests_per_s)
                p99s[kind].append(figure.p99_ms)
                print(
                    f"  {kind}: {cached_fraction(store):.1%} of the file cached after", flush=True
                )
    print(f"\nmedians over {args.rounds} rounds ({args.seconds} s each, {args.connections} conns)")
    for kind in ("cold", "warm"):
        print(
            f"  {kind}: {statistics.median(rates[kind]):8.0f} req/s, "
            f"p99 {statistics.median(p99s[kind]):7.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
