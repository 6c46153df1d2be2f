"""``python -m bench.monitor``: SLA monitor cost with 10k and 1M open tickets, the same number due.

Each store (SQLite file) holds N open tickets built by the server's own policy code, whose next
SLA check lies hours ahead, plus batches of tickets whose thresholds are already behind them. One
monitor pass is timed per batch of ``--due`` new due tickets (the pass raises their warning and
breach alerts and escalations, with the events, through the ticket service). The claim under
test: the pass costs the same whatever N is, because it reads the tickets due by an index on
their next check, never the open ones. Prints medians, the ratio, and SQLite's query plan.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from troubleticket.background.monitor import SlaMonitor
from troubleticket.bootstrap.services import ticket_service
from troubleticket.config import Settings
from troubleticket.context import NO_CONTEXT
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.policy import DEFAULT_POLICY
from troubleticket.domain.sla import NEXT_CHECK
from troubleticket.store.port import Collection, ListQuery
from troubleticket.store.query import parse_filter, parse_sort
from troubleticket.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SEVERITIES = ("Critical", "Major", "Minor")
BATCH = 20_000


def _templates(created: datetime) -> list[dict[str, Any]]:
    managed = ManagedTicket(DEFAULT_POLICY)
    return [
        managed.create(
            {
                "@type": "TroubleTicket",
                "description": "Customer reports loss of broadband service",
                "severity": severity,
                "ticketType": "incident",
            },
            resource_id="template",
            now=created,
            context=NO_CONTEXT,
        )
        for severity in SEVERITIES
    ]


def _copies(templates: list[dict[str, Any]], prefix: str, count: int) -> list[dict[str, Any]]:
    return [{**templates[n % len(templates)], "id": f"{prefix}-{n:08d}"} for n in range(count)]


def load_open(store: SqliteStore, count: int) -> float:
    """``count`` tickets opened a minute before NOW: their first threshold is hours ahead."""
    started = time.perf_counter()
    templates = _templates(NOW - timedelta(minutes=1))
    for first in range(0, count, BATCH):
        docs = _copies(templates, "open", min(BATCH, count - first))
        store.insert_many(
            Collection.TROUBLE_TICKET,
            [{**d, "id": f"open-{first + i:08d}"} for i, d in enumerate(docs)],
        )
    return time.perf_counter() - started


def time_passes(store: SqliteStore, due: int, repeats: int) -> list[float]:
    """Seconds of one monitor pass, for ``repeats`` batches of ``due`` newly due tickets."""
    tickets = ticket_service(
        Settings(store="unused"), store, ManagedTicket(DEFAULT_POLICY), clock=lambda: NOW
    )
    monitor = SlaMonitor(store, tickets, clock=lambda: NOW, batch=due)
    overdue = _templates(NOW - timedelta(days=10))
    timings = []
    for repeat in range(repeats):
        store.insert_many(Collection.TROUBLE_TICKET, _copies(overdue, f"due{repeat}", due))
        started = time.perf_counter()
        looked_at = monitor.run_once()
        timings.append(time.perf_counter() - started)
        assert looked_at == due, (looked_at, due)
        assert monitor.run_once() == 0  # each alert once: nothing is due again
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--due", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    medians = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            store = SqliteStore(Path(tmp) / f"monitor-{size}.sqlite3")
            loaded = load_open(store, size)
            timings = time_passes(store, args.due, args.repeat)
            medians[size] = statistics.median(timings)
            query = ListQuery(
                where=parse_filter(f"{NEXT_CHECK}.lte=2026-11-26T12:00:00.000Z"),
                sort=parse_sort(NEXT_CHECK),
                limit=args.due,
            )
            plan = store.explain(Collection.TROUBLE_TICKET, query)
            print(
                f"{size:>9} open tickets (loaded in {loaded:.0f} s): monitor pass over "
                f"{args.due} due = median {1000 * medians[size]:.0f} ms "
                f"({1000 * medians[size] / args.due:.2f} ms per due ticket), "
                f"runs: {', '.join(f'{1000 * t:.0f}' for t in timings)} ms"
            )
            for line in plan:
                print(f"    plan {line}")
            store.close()
    if len(sizes) > 1:
        low, high = sizes[0], sizes[-1]
        print(
            f"ratio {high}/{low} open: {medians[high] / medians[low]:.2f}x "
            f"(open tickets x{high // low})"
        )


if __name__ == "__main__":
    main()
