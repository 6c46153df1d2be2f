"""What the store holds right now, counted: the figures behind the state gauges of ``/metrics``.

Every figure is one indexed count (SQLite answers the open-ticket breakdown from the index on
status, priority and jeopardy alone), so taking them costs milliseconds at a million tickets;
``/metrics`` still takes them at most every few seconds (see ``troubleticket.metrics``).
"""

from __future__ import annotations

from dataclasses import dataclass

from troubleticket.domain.lifecycle import TicketStatus, is_final
from troubleticket.domain.sla import JEOPARDY
from troubleticket.notify.outbox import DEAD, DELIVERING, PENDING, RECORDED
from troubleticket.store.port import Collection, Store
from troubleticket.store.query import AnyOf, Comparison, Filter, Op

# The statuses a ticket is still worked or waited on in: every one a transition leaves.
OPEN_STATUSES = tuple(status.value for status in TicketStatus if not is_final(status))
# The delivery states that are still to be done, or need an operator (dead).
WAITING_DELIVERIES = (PENDING, DELIVERING, DEAD)


@dataclass(frozen=True)
class Figures:
    # events recorded but not yet fanned out to the deliveries of their subscribers
    outbox_backlog: int
    # deliveries by state: pending, delivering, dead
    deliveries: dict[str, int]
    # open tickets by (status, priority, jeopardy); a ticket without SLA clocks is "none"
    open_tickets: dict[tuple[str, str, str], int]


def _any_of(path: str, values: tuple[str, ...]) -> Filter:
    return Filter((AnyOf(tuple(Comparison((path,), Op.EQ, value) for value in values)),))


def count(store: Store) -> Figures:
    """Take the figures now.

    Raises:
        StoreUnavailable: the store cannot be read.
    """
    backlog = store.tally(Collection.EVENT, _any_of("state", (RECORDED,)), ())
    deliveries = store.tally(
        Collection.DELIVERY, _any_of("state", WAITING_DELIVERIES), [("state",)]
    )
    tickets = store.tally(
        Collection.TROUBLE_TICKET,
        _any_of("status", OPEN_STATUSES),
        [("status",), ("priority",), (JEOPARDY,)],
    )
    open_tickets: dict[tuple[str, str, str], int] = {}
    for (status, priority, jeopardy), n in tickets.items():
        key = (str(status), str(priority or "none"), str(jeopardy or "none"))
        open_tickets[key] = open_tickets.get(key, 0) + n
    return Figures(
        outbox_backlog=sum(backlog.values()),
        deliveries={state: deliveries.get((state,), 0) for state in WAITING_DELIVERIES},
        open_tickets=open_tickets,
    )
