"""What the console's pages show, made from tickets as the services return them: pure functions
of the documents and the instant, no reading or writing here (``pages`` reads, with the
caller's context).

* the board: one row per open ticket, by its worst live SLA clock (the least time left);
* a ticket's timeline (status, notes, jeopardy alerts, escalations, priority changes, the audit
  trail), its clocks, its activities and their partner reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from troubleticket.admin.board import ASSIGNEE_ROLE, LIVE_CLOCKS, OPEN_STATUSES, party_name, span
from troubleticket.domain.policy import Policy
from troubleticket.domain.sla import ALERTS, CLOCKS, ESCALATIONS, LEVEL, PRIORITY_HISTORY
from troubleticket.store.query import AnyOf, Comparison, Filter, Op, instant
from troubleticket.types import JSON

OPEN = tuple(status.value for status in OPEN_STATUSES)

# The related party a filter on ``party`` compares.
PARTY_PATH = ("relatedParty", "partyOrPartyRole", "id")

# The longest value a filter field takes (longer ones are cut).
FILTER_CHARS = 256


def when(stamp: Any) -> datetime | None:
    """The instant a stored date-time names (``None``: not one)."""
    return instant(stamp) if isinstance(stamp, str) else None


def shown_time(stamp: Any) -> str:
    """A date-time as people read it on the page: ``2026-11-20 08:15:03 UTC``."""
    moment = when(stamp)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else ""


def seconds(value: Any) -> str:
    """A number of seconds as a span people read (``1h12m``), or nothing."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    return span(float(value))


def time_left(seconds_left: float | None) -> str:
    """``35m``, ``2d03h``; ``12m overdue`` once past; nothing without a deadline."""
    if seconds_left is None:
        return ""
    if seconds_left < 0:
        return f"{span(-seconds_left)} overdue"
    return span(seconds_left)


# -- the board -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardFilters:
    """The board's filters, as its form (``id="filters"``) sends them; empty: no filter."""

    status: str = ""
    priority: str = ""
    party: str = ""
    ticket_type: str = ""

    @classmethod
    def of(cls, params: Mapping[str, str]) -> BoardFilters:
        def field(name: str) -> str:
            return (params.get(name) or "").strip()[:FILTER_CHARS]

        return cls(field("status"), field("priority"), field("party"), field("ticketType"))

    @property
    def problem(self) -> str | None:
        """Why the filters cannot be used (a status that is not an open one), or ``None``."""
        if self.status and self.status not in OPEN:
            return f"The board shows open tickets: status must be one of {', '.join(OPEN)}"
        return None

    def where(self) -> Filter:
        """The open tickets these filters select."""
        statuses = (self.status,) if self.status else OPEN
        groups = [AnyOf(tuple(Comparison(("status",), Op.EQ, s) for s in statuses))]
        for path, value in (
            (("priority",), self.priority),
            (PARTY_PATH, self.party),
            (("ticketType",), self.ticket_type),
        ):
            if value:
                groups.append(AnyOf((Comparison(path, Op.EQ, value),)))
        return Filter(tuple(groups))

    def params(self) -> list[tuple[str, str]]:
        """The filters given, as query parameters (the fragment's and the stream's URLs)."""
        pairs = (
            ("status", self.status),
            ("priority", self.priority),
            ("party", self.party),
            ("ticketType", self.ticket_type),
        )
        return [(name, value) for name, value in pairs if value]


@dataclass(frozen=True, slots=True)
class Clock:
    """One SLA clock of a ticket, as the pages show it."""

    name: str
    state: str
    jeopardy: str
    deadline: str  # as stored ("" without one)
    target_seconds: Any
    elapsed_seconds: Any
    paused_seconds: Any
    seconds_left: float | None  # to the deadline (negative: past), for live clocks

    @property
    def live(self) -> bool:
        return self.state in LIVE_CLOCKS and self.seconds_left is not None


def clocks_of(ticket: Mapping[str, Any], now: datetime) -> list[Clock]:
    found = []
    for clock in ticket.get(CLOCKS) or []:
        if not isinstance(clock, Mapping):
            continue
        deadline = clock.get("deadline")
        moment = when(deadline)
        state = str(clock.get("state", ""))
        left = (moment - now).total_seconds() if moment is not None else None
        found.append(
            Clock(
                name=str(clock.get("name", "")),
                state=state,
                jeopardy=str(clock.get("jeopardy", "none")),
                deadline=deadline if isinstance(deadline, str) else "",
                target_seconds=clock.get("targetSeconds"),
                elapsed_seconds=clock.get("elapsedSeconds"),
                paused_seconds=clock.get("pausedSeconds"),
                seconds_left=left if state in LIVE_CLOCKS else None,
            )
        )
    return found


def worst_clock(ticket: Mapping[str, Any], now: datetime) -> Clock | None:
    """The live clock (running or paused) with the least time left, if the ticket has one."""
    live = [clock for clock in clocks_of(ticket, now) if clock.live]
    return min(live, key=lambda clock: (clock.seconds_left, clock.name)) if live else None


@dataclass(frozen=True, slots=True)
class BoardRow:
    id: str
    title: str  # the ticket's name, else its description
    description: str
    status: str
    priority: str
    escalation_level: int
    clock: Clock | None
    assignee: str

    @property
    def seconds_left(self) -> float | None:
        return None if self.clock is None else self.clock.seconds_left

    @property
    def time_left(self) -> str:
        return time_left(self.seconds_left)

    def order(self) -> tuple[int, float, str]:
        """Least time left first (past deadlines, most overdue, before all); no clock last."""
        left = self.seconds_left
        return (1, 0.0, self.id) if left is None else (0, left, self.id)


def assignee_roles(policy: Policy) -> tuple[str, ...]:
    """The roles a ticket's assignee may have: ``assignee``, and those escalation rules assign
    (the later rule's party is the one in charge)."""
    assigned = [r.assign_to.get("role") for r in policy.escalation if r.assign_to is not None]
    return tuple(dict.fromkeys([ASSIGNEE_ROLE, *(r for r in assigned if isinstance(r, str))]))


def assignee(ticket: Mapping[str, Any], roles: Sequence[str]) -> str:
    """Who the ticket is assigned to: of the related parties in an assignee role, the one whose
    role comes latest in ``roles``."""
    parties = [
        party
        for party in ticket.get("relatedParty") or []
        if isinstance(party, Mapping) and party.get("role") in roles
    ]
    if not parties:
        return ""
    return party_name(dict(max(parties, key=lambda party: roles.index(party["role"]))))


def title_of(ticket: Mapping[str, Any]) -> str:
    for name in ("name", "description"):
        value = ticket.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return str(ticket.get("id", ""))


def board_row(ticket: Mapping[str, Any], now: datetime, roles: Sequence[str]) -> BoardRow:
    level = ticket.get(LEVEL, 0)
    description = ticket.get("description")
    return BoardRow(
        id=str(ticket["id"]),
        title=title_of(ticket),
        description=description if isinstance(description, str) else "",
        status=str(ticket.get("status", "")),
        priority=str(ticket.get("priority") or ""),
        escalation_level=level if isinstance(level, int) and not isinstance(level, bool) else 0,
        clock=worst_clock(ticket, now),
        assignee=assignee(ticket, roles),
    )


def board_rows(
    tickets: Iterable[Mapping[str, Any]], now: datetime, policy: Policy
) -> list[BoardRow]:
    """The rows of ``tickets`` by time to breach."""
    roles = assignee_roles(policy)
    return sorted((board_row(t, now, roles) for t in tickets), key=BoardRow.order)


# -- a ticket --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Moment:
    """One entry of a ticket's timeline."""

    date: str  # as stored
    kind: str  # status, note, jeopardy, escalation, priority, audit
    summary: str
    detail: str = ""
    by: str = ""


_KIND_ORDER = {"status": 0, "priority": 1, "escalation": 2, "jeopardy": 3, "note": 4, "audit": 5}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def timeline(ticket: Mapping[str, Any], audit: Sequence[Mapping[str, Any]] = ()) -> list[Moment]:
    """Every dated thing that happened to the ticket, oldest first."""
    found: list[Moment] = []
    for change in ticket.get("statusChangeHistory") or []:
        if isinstance(change, Mapping):
            found.append(
                Moment(
                    _text(change.get("statusChangeDate")),
                    "status",
                    f"Status {change.get('status')}",
                    _text(change.get("statusChangeReason")),
                )
            )
    for note in ticket.get("note") or []:
        if isinstance(note, Mapping):
            found.append(
                Moment(
                    _text(note.get("date")),
                    "note",
                    "Note",
                    _text(note.get("text")),
                    _text(note.get("author")),
                )
            )
    for alert in ticket.get(ALERTS) or []:
        if isinstance(alert, Mapping):
            kind = _text(alert.get("jeopardyType"))
            found.append(
                Moment(
                    _text(alert.get("alertDate")),
                    "jeopardy",
                    f"Jeopardy {kind}: {_text(alert.get('name'))}".rstrip(": "),
                    _text(alert.get("message")),
                )
            )
    for step in ticket.get(ESCALATIONS) or []:
        if isinstance(step, Mapping):
            found.append(
                Moment(
                    _text(step.get("date")),
                    "escalation",
                    f"Escalated to level {step.get('level')} (from {step.get('previousLevel')})",
                    _text(step.get("reason")),
                    _text(step.get("actor")) or _text(step.get("trigger")),
                )
            )
    for change in ticket.get(PRIORITY_HISTORY) or []:
        if isinstance(change, Mapping):
            previous = change.get("previousPriority")
            moved = f" (from {previous})" if isinstance(previous, str) else ""
            found.append(
                Moment(
                    _text(change.get("date")),
                    "priority",
                    f"Priority {change.get('priority')}{moved}",
                    _text(change.get("reason")),
                    _text(change.get("actor")) or _text(change.get("source")),
                )
            )
    for record in audit:
        changed = record.get("changedAttributes") or []
        found.append(
            Moment(
                _text(record.get("date")),
                "audit",
                f"Audit: {record.get('action')}",
                ", ".join(str(name) for name in changed) if isinstance(changed, list) else "",
                _text(record.get("actor")) or _text(record.get("party")),
            )
        )
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda m: (when(m.date) or epoch, _KIND_ORDER.get(m.kind, 9)))


@dataclass(frozen=True, slots=True)
class Activity:
    """A recovery activity as the ticket page shows it."""

    id: str
    name: str
    activity_type: str
    state: str
    mandatory: bool
    assignee: str
    planned_start: str
    planned_end: str
    depends_on: tuple[str, ...]
    progress: Any
    report: JSON | None  # its partner report

    @property
    def next_state(self) -> str | None:
        """The step the console offers: start a planned or held one, complete one in progress."""
        return {"planned": "inProgress", "held": "inProgress", "inProgress": "completed"}.get(
            self.state
        )


def activity_of(found: Mapping[str, Any]) -> Activity:
    depends = found.get("dependsOn") or []
    report = found.get("partnerReport")
    return Activity(
        id=str(found["id"]),
        name=_text(found.get("name")) or str(found["id"]),
        activity_type=_text(found.get("activityType")),
        state=_text(found.get("state")),
        mandatory=found.get("mandatory") is not False,
        assignee=party_name(found.get("assignee"))
        if isinstance(found.get("assignee"), Mapping)
        else "",
        planned_start=_text(found.get("plannedStartDate")),
        planned_end=_text(found.get("plannedEndDate")),
        depends_on=tuple(_ref_id(d) for d in depends if _ref_id(d))
        if isinstance(depends, list)
        else (),
        progress=found.get("progress"),
        report=dict(report) if isinstance(report, Mapping) else None,
    )


def _ref_id(ref: Any) -> str:
    if isinstance(ref, str):
        return ref
    if isinstance(ref, Mapping) and isinstance(ref.get("id"), str):
        return str(ref["id"])
    return ""


@dataclass(frozen=True, slots=True)
class PartnerReport:
    activity: str
    partner: str
    partner_ticket: str
    partner_status: str
    state: str
    last_heard: str


def partner_reports(activities: Sequence[Activity]) -> list[PartnerReport]:
    found = []
    for activity in activities:
        report = activity.report
        if report is None:
            continue
        partner = report.get("partner")
        theirs = report.get("partnerTicket")
        found.append(
            PartnerReport(
                activity=activity.name,
                partner=_text(partner.get("name")) or _text(partner.get("id"))
                if isinstance(partner, Mapping)
                else "",
                partner_ticket=_text(theirs.get("id")) if isinstance(theirs, Mapping) else "",
                partner_status=_text(theirs.get("status")) if isinstance(theirs, Mapping) else "",
                state=_text(report.get("state")),
                last_heard=_text(report.get("lastHeardAt")),
            )
        )
    return found
