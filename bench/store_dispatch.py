"""``python -m bench.store_dispatch``: what running the synchronous store in worker threads costs.

Handlers call the store through Starlette's ``run_in_threadpool`` (one hop to a worker thread and
back). This measures, in one run, a store call made directly and the same call through that hop,
on the MongoDB adapter over an in-memory server (mongomock) and on SQLite, and prints the
medians and the hop's share. With ``--uri mongodb://…`` it adds a real MongoDB, whose network
round trip the hop is to be compared with.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from troubleticket.store.mongo import MongoStore
from troubleticket.store.port import Collection, Store
from troubleticket.store.sqlite import SqliteStore

TICKETS = Collection.TROUBLE_TICKET
CALLS = 2000
REPEATS = 7


def _per_call_us(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) / CALLS * 1e6


def _direct(store: Store) -> Callable[[], None]:
    def run() -> None:
        for n in range(CALLS):
            store.get(TICKETS, f"t-{n % 100}")

    return run


def _hopped(store: Store) -> Callable[[], None]:
    async def calls() -> None:
        for n in range(CALLS):
            await run_in_threadpool(store.get, TICKETS, f"t-{n % 100}")

    return lambda: asyncio.run(calls())


def measure(name: str, store: Store) -> None:
    store.insert_many(TICKETS, [{"id": f"t-{n}", "status": "acknowledged"} for n in range(100)])
    direct, hopped = [], []
    for _ in range(REPEATS):  # interleaved, so both see the same machine load
        direct.append(_per_call_us(_direct(store)))
        hopped.append(_per_call_us(_hopped(store)))
    d, h = statistics.median(direct), statistics.median(hopped)
    print(
        f"{name:<28} direct {d:8.1f} µs/call   via thread pool {h:8.1f} µs/call   "
        f"hop {h - d:6.1f} µs ({(h - d) / h:5.1%} of the call)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", help="a real MongoDB to measure as well")
    args = parser.parse_args()
    import mongomock_ng

    print(f"median of {REPEATS} runs of {CALLS} get-by-id calls each")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteStore(Path(tmp) / "dispatch.sqlite3")
        measure("SQLite (file, WAL)", sqlite)
        sqlite.close()
    client = mongomock_ng.MongoClient()
    measure("MongoDB adapter (mongomock)", MongoStore(lambda: client, "dispatch"))
    if args.uri:
        real = MongoStore.from_uri(args.uri, database="tt_bench_dispatch")
        try:
            measure("MongoDB adapter (server)", real)
        finally:
            real.close()
            import pymongo

            with pymongo.MongoClient(args.uri) as client:
                client.drop_database("tt_bench_dispatch")


if __name__ == "__main__":
    main()
