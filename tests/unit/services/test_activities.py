"""The activity service on every store: one write for the ticket and its activities.

The cancel cascade changes the ticket and every open activity; these tests break that write
from the outside (the store refuses it, SQLite aborts it half-way) and from the side (other
writers change the same ticket at the same time), and check that no activity is ever left
half cancelled and no event is recorded for a change that did not happen.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FrozenClock, SequentialIds
from tests.threads import run_together
from troubleticket.bootstrap.services import ticket_service
from troubleticket.config import Settings
from troubleticket.context import NO_CONTEXT
from troubleticket.domain.errors import NotFound
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.policy import DEFAULT_POLICY
from troubleticket.services.activities import ActivityService
from troubleticket.services.resources import ResourceService
from troubleticket.store.port import Collection, ListQuery, Store, Stored, StoreUnavailable
from troubleticket.store.query import parse_filter
from troubleticket.store.sqlite import SqliteStore
from troubleticket.types import JSON

TICKET = {
    "@type": "TroubleTicket",
    "description": "No sync",
    "severity": "Major",
    "ticketType": "incident",
    "status": "inProgress",
}
CANCEL = {"@type": "TroubleTicket", "status": "cancelled", "statusChangeReason": "Duplicate"}


class RefusingStore:
    """A store whose writes of tickets fail once ``refuse`` is set, as an unreachable MongoDB
    or a full disk would; reads and every other call go through."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.refuse = False

    def replace(self, collection: Collection, doc: JSON, **kwargs: Any) -> Stored | None:
        if self.refuse and collection is Collection.TROUBLE_TICKET:
            raise StoreUnavailable("the store refused the write")
        return self.inner.replace(collection, doc, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def services(store: Any, clock: FrozenClock) -> tuple[ResourceService, ActivityService]:
    tickets = ticket_service(
        Settings(store="unused"),
        store,
        ManagedTicket(DEFAULT_POLICY),
        clock=clock,
        new_id=SequentialIds("tt"),
    )
    activities = ActivityService(
        tickets,
        store,
        managed=ManagedTicket(DEFAULT_POLICY),
        clock=clock,
        new_id=SequentialIds("ra"),
    )
    return tickets, activities


def worked_ticket(tickets: ResourceService, activities: ActivityService) -> str:
    """A ticket with one completed, two running and two planned activities."""
    ticket_id: str = tickets.create(TICKET, context=NO_CONTEXT).doc["id"]
    for _ in range(5):
        activities.create(
            ticket_id, {"@type": "RecoveryActivity", "activityType": "diagnose"}, context=NO_CONTEXT
        )
    for activity_id, state in (("ra-1", "inProgress"), ("ra-1", "completed")):
        activities.patch(
            ticket_id,
            activity_id,
            {"@type": "RecoveryActivity", "state": state},
            context=NO_CONTEXT,
        )
    for activity_id in ("ra-2", "ra-3"):
        activities.patch(
            ticket_id,
            activity_id,
            {"@type": "RecoveryActivity", "state": "inProgress"},
            context=NO_CONTEXT,
        )
    return ticket_id


def states(store: Store) -> dict[str, str]:
    page = store.list(Collection.RECOVERY_ACTIVITY, ListQuery(limit=100))
    return {doc["id"]: doc["state"] for doc in page.items}


def event_count(store: Store) -> int:
    while store.relay_events():
        pass
    return store.list(Collection.EVENT, ListQuery(limit=0)).counted


class TestACascadeThatFails:
    def test_a_refused_write_leaves_the_ticket_and_every_activity_as_they_were(
        self, store: Store, clock: FrozenClock
    ) -> None:
        refusing = RefusingStore(store)
        tickets, activities = services(refusing, clock)
        ticket_id = worked_ticket(tickets, activities)
        before = (tickets.get(ticket_id, context=NO_CONTEXT), states(store), event_count(store))

        refusing.refuse = True
        with pytest.raises(StoreUnavailable):
            tickets.patch(ticket_id, CANCEL, context=NO_CONTEXT)

        assert (
            tickets.get(ticket_id, context=NO_CONTEXT),
            states(store),
            event_count(store),
        ) == before
        assert set(before[1].values()) == {"completed", "inProgress", "planned"}

    def test_a_transaction_aborted_half_way_through_the_activities_leaves_nothing_cancelled(
        self, tmp_path: Path, clock: FrozenClock
    ) -> None:
        path = tmp_path / "abort.sqlite3"
        store = SqliteStore(path)
        tickets, activities = services(store, clock)
        ticket_id = worked_ticket(tickets, activities)
        before = (tickets.get(ticket_id, context=NO_CONTEXT), states(store), event_count(store))
        # Abort when the fourth activity's row is being cancelled: the ticket row and the rows
        # of ra-2 and ra-3 are already written in the transaction by then.
        with closing(sqlite3.connect(path)) as conn:
            conn.execute(
                "CREATE TRIGGER abort_cascade BEFORE UPDATE ON recovery_activity "
                "WHEN NEW.id = 'ra-4' AND json_extract(NEW.doc, '$.state') = 'cancelled' "
                "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            )
            conn.commit()

        with pytest.raises(sqlite3.IntegrityError, match="injected failure"):
            tickets.patch(ticket_id, CANCEL, context=NO_CONTEXT)

        assert (
            tickets.get(ticket_id, context=NO_CONTEXT),
            states(store),
            event_count(store),
        ) == before
        store.close()


class TestConcurrentWriters:
    def test_a_cascade_racing_activity_changes_cancels_every_activity_left_open(
        self, store: Store, clock: FrozenClock
    ) -> None:
        tickets, activities = services(store, clock)
        ticket_id = worked_ticket(tickets, activities)

        def work(item: str) -> None:
            if item == "cancel":
                tickets.patch(ticket_id, CANCEL, context=NO_CONTEXT)
            else:
                try:
                    activities.patch(
                        ticket_id,
                        item,
                        {"@type": "RecoveryActivity", "progress": 50},
                        context=NO_CONTEXT,
                    )
                except Exception as exc:  # noqa: BLE001 - a change after the cascade is refused
                    assert type(exc).__name__ in ("InvalidTransition", "Conflict"), exc

        run_together(work, ["cancel", "ra-2", "ra-3", "ra-4", "ra-5"])

        final = states(store)
        assert final == {
            "ra-1": "completed",
            "ra-2": "cancelled",
            "ra-3": "cancelled",
            "ra-4": "cancelled",
            "ra-5": "cancelled",
        }
        ticket = tickets.read(ticket_id, context=NO_CONTEXT).doc
        assert ticket["activitySummary"]["byState"]["cancelled"] == 4
        assert {a["id"]: a["state"] for a in ticket["recoveryActivity"]} == final


class TestReading:
    def test_an_activity_is_read_by_its_id_alone_and_not_after_its_ticket_is_gone(
        self, store: Store, clock: FrozenClock
    ) -> None:
        tickets, activities = services(store, clock)
        ticket_id = worked_ticket(tickets, activities)

        assert activities.get_by_id("ra-3", context=NO_CONTEXT)["troubleTicket"]["id"] == ticket_id
        tickets.delete(ticket_id, context=NO_CONTEXT)

        with pytest.raises(NotFound):
            activities.get_by_id("ra-3", context=NO_CONTEXT)
        assert (
            store.list(
                Collection.RECOVERY_ACTIVITY,
                ListQuery(where=parse_filter(f"troubleTicket.id={ticket_id}")),
            ).total
            == 0
        )
