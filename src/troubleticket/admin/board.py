"""The jeopardy board: the open tickets whose SLA clocks are in warning or breached, or due
within a horizon, most urgent first, with who is assigned."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from troubleticket.domain.documents import timestamp
from troubleticket.domain.lifecycle import TicketStatus
from troubleticket.domain.policy import DEFAULT_POLICY, Policy
from troubleticket.domain.sla import CLOCKS, LEVEL, NEXT_CHECK
from troubleticket.store.port import Collection, ListQuery, Store
from troubleticket.store.query import AnyOf, Comparison, Filter, Op, instant
from troubleticket.types import JSON

# The statuses under which SLA clocks run or pause; resolved, closed, cancelled and rejected
# tickets have their clocks stopped (met, breached or cancelled).
OPEN_STATUSES = (
    TicketStatus.ACKNOWLEDGED,
    TicketStatus.IN_PROGRESS,
    TicketStatus.PENDING,
    TicketStatus.HELD,
)


LIVE_CLOCKS = ("running", "paused")


IN_JEOPARDY = ("warning", "breach")


# The role a ticket's assignee has among its related parties (beside those escalation assigns).
ASSIGNEE_ROLE = "assignee"


BOARD_PAGE = 500


BOARD_COLUMNS = (
    "ID",
    "PRIORITY",
    "STATUS",
    "ESC",
    "CLOCK",
    "JEOPARDY",
    "DEADLINE",
    "TIME LEFT",
    "ASSIGNEE",
)


@dataclass(frozen=True, slots=True)
class AtRisk:
    """One ticket of the board, by its worst live clock (the least time left)."""

    id: str
    priority: str | None
    status: str
    escalation_level: int
    clock: str
    jeopardy: str  # as the SLA monitor last recorded it
    deadline: str
    seconds_left: float  # negative: overdue
    assignee: JSON | None  # the related party the ticket is assigned to
    check_due: bool  # a threshold is due that the SLA monitor has not recorded yet

    def as_json(self) -> JSON:
        shown: JSON = {
            "id": self.id,
            "priority": self.priority,
            "status": self.status,
            "escalationLevel": self.escalation_level,
            "clock": self.clock,
            "jeopardy": self.jeopardy,
            "deadline": self.deadline,
            "secondsLeft": round(self.seconds_left, 3),
            "checkDue": self.check_due,
        }
        if self.assignee is not None:
            shown["assignee"] = self.assignee
        return shown

    def row(self) -> tuple[str, ...]:
        """The ticket as a row of ``BOARD_COLUMNS``."""
        return (
            self.id,
            self.priority or "",
            self.status,
            str(self.escalation_level),
            self.clock,
            f"{self.jeopardy} (due)" if self.check_due else self.jeopardy,
            self.deadline,
            span(self.seconds_left),
            party_name(self.assignee),
        )


@dataclass(frozen=True, slots=True)
class Board:
    """The ``limit`` tickets most at risk, most overdue first, of ``total`` at risk."""

    tickets: list[AtRisk]
    total: int


def at_risk(
    store: Store,
    policy: Policy = DEFAULT_POLICY,
    *,
    now: datetime,
    within: float = 0.0,
    limit: int = 20,
) -> Board:
    """The open tickets whose SLAs need attention: a live clock in jeopardy (warning or breach),
    a running clock whose deadline falls within ``within`` seconds (or is past), or a threshold
    the SLA monitor has yet to record; sorted by time left, most overdue first.

    The store is read a page at a time; only the ``limit`` most urgent are kept. Its filter
    selects the open statuses (indexed) and, of those, the tickets with a clock in jeopardy or
    whose ``slaNextCheck`` (indexed; the earliest threshold of a running clock) falls within
    the window: a running clock reaches its warning threshold before its deadline, so every
    deadline within the window is found by it. ``slaNextCheck`` alone would not do: a clock past
    its breach has no next threshold, and a paused clock none either.

    Of the policy only two things are read: the warning share (beyond 1.0 a deadline can come
    before its warning, and the deadlines are then filtered on too) and the roles escalation
    assigns a ticket to (who the assignee is).
    """
    horizon = timestamp(now + timedelta(seconds=within))
    alternatives = [
        *(Comparison((CLOCKS, "jeopardy"), Op.EQ, level) for level in IN_JEOPARDY),
        Comparison((NEXT_CHECK,), Op.LTE, horizon),
    ]
    if policy.sla.warning > 1:
        alternatives.append(Comparison((CLOCKS, "deadline"), Op.LTE, horizon))
    where = Filter(
        (
            AnyOf(tuple(Comparison(("status",), Op.EQ, s.value) for s in OPEN_STATUSES)),
            AnyOf(tuple(alternatives)),
        )
    )
    roles = _assignee_roles(policy)
    found = [0]

    def candidates() -> Iterator[AtRisk]:
        for ticket in _pages(store, where):
            item = _at_risk(ticket, now, horizon, roles)
            if item is not None:
                found[0] += 1
                yield item

    worst = heapq.nsmallest(limit, candidates(), key=lambda t: (t.seconds_left, t.id))
    return Board(worst, found[0])


def _pages(store: Store, where: Filter) -> Iterator[JSON]:
    after: str | None = None
    while True:
        page = store.list(
            Collection.TROUBLE_TICKET,
            ListQuery(where=where, limit=BOARD_PAGE, after=after, count=False),
        )
        yield from page.items
        if page.next_cursor is None or not page.items:
            return
        after = page.next_cursor


def _at_risk(ticket: JSON, now: datetime, horizon: str, roles: tuple[str, ...]) -> AtRisk | None:
    live = [
        clock
        for clock in ticket.get(CLOCKS) or []
        if isinstance(clock, Mapping)
        and clock.get("state") in LIVE_CLOCKS
        and isinstance(clock.get("deadline"), str)
        and instant(clock["deadline"]) is not None
    ]
    if not live:
        return None
    pressing = [
        clock
        for clock in live
        if clock.get("jeopardy") in IN_JEOPARDY
        or (clock["state"] == "running" and _at_or_before(clock["deadline"], horizon))
    ]
    next_check = ticket.get(NEXT_CHECK)
    check_due = isinstance(next_check, str) and _at_or_before(next_check, timestamp(now))
    if not pressing and not check_due:
        return None
    worst = min(pressing or live, key=lambda clock: _moment(clock["deadline"]))
    return AtRisk(
        id=str(ticket["id"]),
        priority=ticket.get("priority"),
        status=str(ticket.get("status", "")),
        escalation_level=int(ticket.get(LEVEL, 0) or 0),
        clock=str(worst.get("name", "")),
        jeopardy=str(worst.get("jeopardy", "none")),
        deadline=str(worst["deadline"]),
        seconds_left=(_moment(worst["deadline"]) - now).total_seconds(),
        assignee=_assignee(ticket, roles),
        check_due=check_due,
    )


def _moment(stamp: str) -> datetime:
    moment = instant(stamp)
    assert moment is not None, stamp
    return moment


def _at_or_before(stamp: str, limit: str) -> bool:
    moment, bound = instant(stamp), instant(limit)
    return moment is not None and bound is not None and moment <= bound


def _assignee_roles(policy: Policy) -> tuple[str, ...]:
    """The roles a ticket's assignee may have: ``assignee``, and those escalation rules assign
    (the later rule, usually on breach, last: its party is the one in charge)."""
    assigned = [r.assign_to.get("role") for r in policy.escalation if r.assign_to is not None]
    return tuple(dict.fromkeys([ASSIGNEE_ROLE, *(r for r in assigned if isinstance(r, str))]))


def _assignee(ticket: JSON, roles: tuple[str, ...]) -> JSON | None:
    """The related party in charge: of the assignee roles, the one listed latest."""
    parties = [
        party
        for party in ticket.get("relatedParty") or []
        if isinstance(party, Mapping) and party.get("role") in roles
    ]
    if not parties:
        return None
    return dict(max(parties, key=lambda party: roles.index(party["role"])))


def party_name(party: JSON | None) -> str:
    """A related party as people call it: its name, else its id."""
    if party is None:
        return ""
    ref = party.get("partyOrPartyRole")
    if not isinstance(ref, Mapping):
        return str(party.get("role", ""))
    return str(ref.get("name") or ref.get("partyName") or ref.get("id") or "")


def span(seconds: float) -> str:
    """A time left as people read it: ``2d03h``, ``1h12m``, ``35m``, ``40s``; ``-`` overdue."""
    sign = "-" if seconds < 0 else ""
    whole = int(abs(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d{hours:02d}h"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m"
    return f"{sign}{secs}s"
