"""What the console's pages read: through the runtime's services, always with the caller's
context, so that a partner's people see only their party's tickets (another's ticket is the
same ``NotFound`` as a missing one) and the operator's records stay the operator's. Each read
is bounded, and says so when it leaves something out.

Synchronous, as the services are: the pages run each read in a worker thread.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import urlencode

from troubleticket.bootstrap import Runtime
from troubleticket.console import charts, views
from troubleticket.context import Context
from troubleticket.domain.documents import timestamp
from troubleticket.domain.lifecycle import TicketStatus, allowed_from
from troubleticket.domain.major_incident import (
    CASCADE,
    CHILD_OF,
    MAJOR_INCIDENT,
    PARENT,
    RELATIONSHIPS,
    SUMMARY,
)
from troubleticket.domain.sla import MAX_LEVEL
from troubleticket.notify.outbox import DEAD, DELIVERED, DELIVERING, PENDING
from troubleticket.store.port import Collection, ListQuery
from troubleticket.store.query import AnyOf, Comparison, Filter, Op, SortKey
from troubleticket.types import JSON

# The board's rows at most; beyond them it says how many more there are.
BOARD_ROWS = 200
# The open tickets read to order the board, at most (the rest are counted, not ordered).
BOARD_SCAN = 5000
# The tickets the charts are drawn from, at most (the most recently updated).
CHART_SCAN = 2000
SCAN_PAGE = 500
# A ticket's activities, children and deliveries shown at most; major incidents listed.
ACTIVITIES_SHOWN = 1000
CHILDREN_SHOWN = 50
DELIVERIES_SHOWN = 5
MAJOR_INCIDENTS_SHOWN = 100

# The API operation each page, part of a page and action stands for: the caller needs its
# scope.
LIST = "listTroubleTicket"
RETRIEVE = "retrieveTroubleTicket"
PATCH = "patchTroubleTicket"
AUDIT = "listTroubleTicketAuditRecord"
ACTIVITIES = "listTroubleTicketRecoveryActivity"
PLAN = "createTroubleTicketRecoveryActivity"
STEP = "patchTroubleTicketRecoveryActivity"
DELIVERIES = "listHubDelivery"

NEWEST_FIRST = (SortKey(("lastUpdate",), descending=True),)


@dataclass(frozen=True, slots=True)
class Deliveries:
    """The deliveries of a ticket's events (and of its activities'): counts and the latest."""

    delivered: int
    waiting: int  # pending, not tried yet
    retrying: int  # tried and failed, to be tried again (or being tried again)
    dead: int
    latest: list[JSON]


def _parent(ticket: Mapping[str, Any]) -> str | None:
    """The major incident a ticket is a child of (``isChildOf``), if any."""
    for link in ticket.get(RELATIONSHIPS) or []:
        if isinstance(link, Mapping) and link.get("relationshipType") == CHILD_OF:
            found = link.get("id")
            return found if isinstance(found, str) else None
    return None


def _one_of(path: tuple[str, ...], *values: str) -> AnyOf:
    return AnyOf(tuple(Comparison(path, Op.EQ, value) for value in values))


class Reads:
    """The reads of the console's pages, on the runtime's services."""

    def __init__(self, run: Runtime) -> None:
        self.run = run

    # -- the board ---------------------------------------------------------------------------

    def _open_tickets(
        self, context: Context, filters: views.BoardFilters
    ) -> tuple[list[JSON], int]:
        """The open tickets the filters select (at most ``BOARD_SCAN``), and how many there are."""
        found: list[JSON] = []
        total: int | None = None
        after: str | None = None
        while True:
            query = ListQuery(
                where=filters.where(), limit=SCAN_PAGE, after=after, count=total is None
            )
            page = self.run.tickets.list(query, context=context)
            if total is None:
                total = page.counted
            found.extend(page.items)
            if page.next_cursor is None or not page.items or len(found) >= BOARD_SCAN:
                return found[:BOARD_SCAN], total
            after = page.next_cursor

    def board(self, context: Context, filters: views.BoardFilters) -> dict[str, Any]:
        """The board's rows (by time to breach), and how many tickets there are beyond them."""
        tickets, total = self._open_tickets(context, filters)
        rows = views.board_rows(tickets, self.run.clock(), self.run.policy)
        return {
            "rows": rows[:BOARD_ROWS],
            "total": total,
            "more": total - min(len(rows), BOARD_ROWS),
            "scanned": len(tickets),
            "partial": total > len(tickets),
            "filters": filters,
            "query": urlencode(filters.params()),
        }

    def signature(self, context: Context, filters: views.BoardFilters) -> tuple[object, ...]:
        """What changes when the board the caller sees changes: how many open tickets, and the
        one changed last (its id, when, and a digest of it, for writes within one instant)."""
        query = ListQuery(where=filters.where(), sort=NEWEST_FIRST, limit=1)
        page = self.run.tickets.list(query, context=context)
        newest = page.items[0] if page.items else None
        if newest is None:
            return (page.total, None, None, None)
        text = json.dumps(newest, sort_keys=True, default=str)
        digest = hashlib.sha256(text.encode()).hexdigest()
        return (page.total, newest.get("id"), newest.get("lastUpdate"), digest)

    def charts(self, context: Context) -> dict[str, Any]:
        """The board's plots of the last days, and what they were drawn from."""
        now = self.run.clock()
        days = charts.chart_days(now)
        since = timestamp(datetime.combine(days[0], time(), tzinfo=UTC))
        # the tickets open now, and those changed within the days: a ticket open then was
        # changed since (resolved, closed), as was one breached then (its alert written)
        where = Filter((AnyOf((*_one_of(("status",), *views.OPEN).comparisons, _since(since))),))
        found: list[JSON] = []
        after: str | None = None
        total: int | None = None
        while len(found) < CHART_SCAN:
            query = ListQuery(
                where=where, sort=NEWEST_FIRST, limit=SCAN_PAGE, after=after, count=total is None
            )
            page = self.run.tickets.list(query, context=context)
            if total is None:
                total = page.counted
            found.extend(page.items)
            if page.next_cursor is None or not page.items:
                break
            after = page.next_cursor
        found = found[:CHART_SCAN]
        burn = charts.open_by_priority(found, days, now, self.run.policy.priority.levels)
        breaches = charts.breaches_per_day(found, days)
        at_end = ", ".join(f"{level} {values[-1]}" for level, values in burn.items())
        return {
            "burn_description": (
                f"Open tickets at the end of each of the last {len(days)} days, one line per "
                f"priority; today: {at_end}."
            ),
            "breach_description": (
                f"SLA breach alerts raised on each of the last {len(days)} days: "
                f"{sum(breaches)} in all, {breaches[-1]} today."
            ),
            "burn": charts.line_plot(days, burn),
            "breaches": charts.bar_plot(days, breaches),
            "charted": len(found),
            "capped": (total or 0) > len(found),
            "chart_cap": CHART_SCAN,
        }

    def major_incidents(self, context: Context) -> dict[str, Any]:
        """The newest major incidents, with their rollup and cascade."""
        query = ListQuery(
            where=Filter((_one_of(("ticketType",), MAJOR_INCIDENT),)),
            sort=(SortKey(("creationDate",), descending=True),),
            limit=MAJOR_INCIDENTS_SHOWN,
        )
        page = self.run.tickets.list(query, context=context)
        incidents = [
            {
                "id": str(t["id"]),
                "title": views.title_of(t),
                "status": t.get("status", ""),
                "priority": t.get("priority") or "",
                "summary": t.get(SUMMARY) or {},
                "cascade": t.get(CASCADE) or {},
                "created": t.get("creationDate", ""),
            }
            for t in page.items
        ]
        return {"incidents": incidents, "total": page.counted}

    # -- a ticket ----------------------------------------------------------------------------

    def activities(self, ticket_id: str, context: Context) -> list[JSON]:
        """A ticket's activities as the API shows them.

        Raises:
            NotFound: no such ticket the context may see.
        """
        query = ListQuery(limit=ACTIVITIES_SHOWN, count=False)
        return self.run.activities.list(query, ticket_id=ticket_id, context=context).items

    def deliveries(self, ticket_id: str) -> Deliveries:
        """The deliveries of the ticket's events to hubs and partners (the operator's view:
        the caller must be the operator's)."""
        hubs = self.run.hubs
        own = _one_of(("resourceKey",), f"{Collection.TROUBLE_TICKET.value}/{ticket_id}")

        def count(*groups: AnyOf) -> int:
            query = ListQuery(where=Filter((own, *groups)), limit=1)
            return hubs.deliveries_to(None, query).counted

        tried = AnyOf((Comparison(("attempts",), Op.GT, "0"),))
        untried = _one_of(("attempts",), "0")
        latest = hubs.deliveries_to(
            None, ListQuery(where=Filter((own,)), limit=DELIVERIES_SHOWN, count=False)
        )
        return Deliveries(
            delivered=count(_one_of(("state",), DELIVERED)),
            waiting=count(_one_of(("state",), PENDING), untried),
            retrying=count(_one_of(("state",), PENDING, DELIVERING), tried),
            dead=count(_one_of(("state",), DEAD)),
            latest=latest.items,
        )

    def _children(self, ticket_id: str, context: Context) -> tuple[list[dict[str, Any]], int]:
        query = ListQuery(
            where=Filter((_one_of((PARENT,), ticket_id),)),
            sort=(SortKey(("creationDate",)),),
            limit=CHILDREN_SHOWN,
        )
        page = self.run.tickets.list(query, context=context)
        children = [
            {"id": str(c["id"]), "title": views.title_of(c), "status": c.get("status", "")}
            for c in page.items
        ]
        return children, page.counted

    def ticket(
        self, ticket_id: str, context: Context, may: Callable[[str], bool]
    ) -> dict[str, Any]:
        """Everything the ticket page shows that the caller may see (``may``: whether the
        caller holds an operation's scope).

        Raises:
            NotFound: no such ticket the caller may see.
        """
        ticket = self.run.tickets.get(ticket_id, context=context).doc
        operator = context.party is None  # the audit trail and deliveries are the operator's
        audited = operator and may(AUDIT)
        audit = self.run.tickets.get_audit(ticket_id, context=context) if audited else []
        activities: list[views.Activity] = []
        if may(ACTIVITIES):
            activities = [views.activity_of(a) for a in self.activities(ticket_id, context)]
        major = ticket.get("ticketType") == MAJOR_INCIDENT
        children, children_total = self._children(ticket_id, context) if major else ([], 0)
        try:
            steps = allowed_from(TicketStatus(str(ticket.get("status"))))
        except ValueError:
            steps = []
        cancelled = TicketStatus.CANCELLED.value
        return {
            "ticket": ticket,
            "title": views.title_of(ticket),
            "timeline": views.timeline(ticket, audit),
            "audited": audited,
            "clocks": views.clocks_of(ticket, self.run.clock()),
            "activities": activities,
            "activity_names": {a.id: a.name for a in activities},
            "may_read_activities": may(ACTIVITIES),
            "gantt": charts.gantt(activities),
            "summary": ticket.get("activitySummary") or {},
            "reports": views.partner_reports(activities),
            "deliveries": self.deliveries(ticket_id) if operator and may(DELIVERIES) else None,
            "major": major,
            "children": children,
            "children_total": children_total,
            "child_summary": ticket.get(SUMMARY) or {},
            "cascade": ticket.get(CASCADE) or {},
            "parent": _parent(ticket),
            "may_patch": may(PATCH),
            # a ticket resolved or final takes no new activity
            "may_plan": may(PLAN) and ticket.get("status") in views.OPEN,
            "may_step": may(STEP),
            "moves": [status for status in steps if status != cancelled],
            "cancellable": cancelled in steps,
            "max_level": MAX_LEVEL,
        }


def _since(moment: str) -> Comparison:
    return Comparison(("lastUpdate",), Op.GTE, moment)
