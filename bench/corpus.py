"""A realistic ticket corpus: mixed severities, statuses, parties and notes, loaded in bulk.

Tickets are built by the same domain function the server uses, so what is benchmarked is exactly
what the server stores; they are written through the store's bulk path in batches.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from troubleticket.domain.ticket import create_ticket
from troubleticket.store.port import Collection
from troubleticket.store.sqlite import SqliteStore

SEVERITIES = ["Critical", "Major", "Minor"]
TYPES = ["incident", "complaint", "request"]
# The patch workload toggles tickets between these two, which the lifecycle always allows.
WORKING = ["inProgress", "pending"]
STATUSES = ["acknowledged", "inProgress", "pending", "held", "resolved", "closed"]
START = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 5_000


def ticket_id(n: int) -> str:
    return f"tt-{n:08d}"


def _ticket(n: int, rnd: random.Random) -> dict[str, Any]:
    notes = [
        {"@type": "Note", "author": f"agent-{rnd.randrange(50)}", "text": "Checked the line " * 3}
        for _ in range(rnd.randrange(4))
    ]
    body: dict[str, Any] = {
        "@type": "TroubleTicket",
        "name": f"Problem report {n}",
        "description": "Customer reports intermittent loss of broadband service in the evening",
        "severity": rnd.choice(SEVERITIES),
        "ticketType": rnd.choice(TYPES),
        "priority": rnd.choice(["High", "Medium", "Low"]),
        "channel": {"@type": "ChannelRef", "id": str(rnd.randrange(5)), "name": "self service"},
        "relatedParty": [
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "customer",
                "partyOrPartyRole": {
                    "@type": "PartyRef",
                    "@referredType": "Individual",
                    "id": str(rnd.randrange(20_000)),
                },
            }
        ],
        "note": notes,
    }
    doc = create_ticket(body, resource_id=ticket_id(n), now=START + timedelta(seconds=30 * n))
    # Move along the lifecycle without replaying each step: the history matters for size only.
    status = WORKING[n % 2] if n % 10 == 0 else rnd.choice(STATUSES)
    doc["status"] = status
    doc["statusChangeHistory"].append(
        {"@type": "StatusChange", "status": status, "statusChangeDate": doc["creationDate"]}
    )
    return doc


def tickets(count: int, seed: int = 621) -> Iterator[dict[str, Any]]:
    rnd = random.Random(seed)
    for n in range(count):
        yield _ticket(n, rnd)


def patchable_ids(count: int) -> list[str]:
    """Ids of tickets in inProgress or pending (every tenth ticket)."""
    return [ticket_id(n) for n in range(0, count, 10)]


def build(path: Path, count: int) -> float:
    """Create a store file holding ``count`` tickets; returns the seconds the load took."""
    if path.exists():
        path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = SqliteStore(path)
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for doc in tickets(count):
        batch.append(doc)
        if len(batch) == BATCH:
            store.insert_many(Collection.TROUBLE_TICKET, batch)
            batch = []
    if batch:
        store.insert_many(Collection.TROUBLE_TICKET, batch)
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed
