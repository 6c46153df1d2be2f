"""A recovery activity: one step of the work that fixes a customer problem (an extension).

eTOM 1.3.7.3's *Coordinate Customer Problem* assigns, schedules and tracks recovery activities.
This module holds the rules of one activity — its lifecycle, what the server sets on create, how
a patch may change it, its schedule and its assignment history — as pure functions that take the
instant and return new documents. The rules that span the activities of a ticket (dependencies,
rollup, gating, cascade, lateness) are in ``domain.coordination``.

Lifecycle::

    planned ──> inProgress ──> completed | failed
       │  ^         │  ^
       v  │         v  │
        held <──────┘──┘         any open state ──> cancelled (with a reason)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from troubleticket.context import Context
from troubleticket.domain.documents import DocumentRules, timestamp
from troubleticket.domain.durations import parse_duration
from troubleticket.domain.errors import InvalidRequest, InvalidTransition, ReasonRequired
from troubleticket.types import JSON


class ActivityState(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "inProgress"
    HELD = "held"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


A = ActivityState
TRANSITIONS: dict[ActivityState, frozenset[ActivityState]] = {
    A.PLANNED: frozenset({A.IN_PROGRESS, A.HELD, A.CANCELLED}),
    A.IN_PROGRESS: frozenset({A.HELD, A.COMPLETED, A.FAILED, A.CANCELLED}),
    A.HELD: frozenset({A.IN_PROGRESS, A.CANCELLED}),
    A.COMPLETED: frozenset(),
    A.FAILED: frozenset(),
    A.CANCELLED: frozenset(),
}
# How an activity created in a later state gets there: a record of work already done.
CREATE_PATHS: dict[ActivityState, tuple[ActivityState, ...]] = {
    A.PLANNED: (),
    A.IN_PROGRESS: (A.IN_PROGRESS,),
    A.HELD: (A.HELD,),
    A.COMPLETED: (A.IN_PROGRESS, A.COMPLETED),
    A.FAILED: (A.IN_PROGRESS, A.FAILED),
    A.CANCELLED: (A.CANCELLED,),
}
del A

OPEN = frozenset({ActivityState.PLANNED, ActivityState.IN_PROGRESS, ActivityState.HELD})
REASON_REQUIRED = frozenset({ActivityState.CANCELLED})
ENDED = frozenset({ActivityState.COMPLETED, ActivityState.FAILED})

TYPE = "RecoveryActivity"
ZERO = "PT0S"
DATES = ("plannedStartDate", "plannedEndDate", "actualStartDate", "actualEndDate")
ASSIGNMENT_REASON = "assignmentReason"

RULES = DocumentRules(
    resource_type=TYPE,
    # the ticket it belongs to is the one it was created on: assigned, and kept
    assigned=("id", "href", "troubleTicket"),
    kept=("href", "troubleTicket"),
    server_owned=(
        "troubleTicket",
        "creationDate",
        "lastUpdate",
        "stateChangeDate",
        "stateChangeHistory",
        "assignmentHistory",
        "beyondResolveDeadline",
        # the trouble report at a partner (domain.partner_report)
        "partnerReport",
    ),
    not_removable=("@type", "state", "activityType", "mandatory"),
)


def state_of(value: Any) -> ActivityState:
    """The state ``value`` names.

    Raises:
        InvalidRequest: it names none.
    """
    try:
        return ActivityState(value)
    except ValueError:
        allowed = ", ".join(s.value for s in ActivityState)
        raise InvalidRequest(f"Unknown state {value!r}; expected one of {allowed}") from None


def is_open(activity: Mapping[str, Any]) -> bool:
    return state_of(activity.get("state")) in OPEN


def check_step(before: ActivityState, after: ActivityState, reason: Any) -> None:
    """Accept one lifecycle step or explain why it is refused.

    Raises:
        InvalidTransition: the table has no such step (409).
        ReasonRequired: entering ``cancelled`` without a reason (400).
    """
    if after not in TRANSITIONS[before]:
        allowed = [s.value for s in ActivityState if s in TRANSITIONS[before]]
        raise InvalidTransition(
            before.value, after.value, allowed, kind="recovery activity", attribute="state"
        )
    if after in REASON_REQUIRED and not (isinstance(reason, str) and reason.strip()):
        raise ReasonRequired(after.value, attribute="state")


def _entry(state: ActivityState, when: str, reason: Any) -> JSON:
    entry: JSON = {"@type": "ActivityStateChange", "state": state.value, "stateChangeDate": when}
    if isinstance(reason, str) and reason:
        entry["stateChangeReason"] = reason
    return entry


def enter(
    activity: JSON, state: ActivityState, when: str, reason: Any, given: Mapping[str, Any]
) -> None:
    """Record ``activity`` entering ``state`` at ``when``: date, history, actual dates, progress.

    ``given`` is what the request itself set: an actual date it gives is kept.
    """
    activity["state"] = state.value
    activity["stateChangeDate"] = when
    activity["stateChangeHistory"] = [
        *activity.get("stateChangeHistory", []),
        _entry(state, when, reason),
    ]
    if isinstance(reason, str) and reason:
        activity["stateChangeReason"] = reason
    else:
        activity.pop("stateChangeReason", None)
    if state is ActivityState.IN_PROGRESS and "actualStartDate" not in given:
        activity.setdefault("actualStartDate", when)
    if state in ENDED and "actualEndDate" not in given:
        activity["actualEndDate"] = when
    if state is ActivityState.COMPLETED:
        activity["progress"] = 100


# -- schedule --------------------------------------------------------------------------------


def instant(text: Any) -> datetime | None:
    """A date-time attribute as an aware instant, or ``None`` when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def iso_duration(seconds: float) -> str:
    """ISO 8601 for a duration: ``PT4H``, ``P1DT2H30M``, ``PT1M30S``, ``PT0S``."""
    whole = int(round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    date = f"{days}D" if days else ""
    if not date and not time:
        return ZERO
    return f"P{date}" + (f"T{time}" if time else "")


def _schedule(activity: JSON, changed: Mapping[str, Any]) -> None:
    """Complete the plan from what was given: a start and a duration give the end, a start and
    an end the duration (an end that was sent wins over a duration that was not). The dates are
    written in UTC with milliseconds, whatever offset they were sent in.

    Raises:
        InvalidRequest: a date without a time zone, a duration that is not one, an end before
            the start, or a start, end and duration sent together that disagree.
    """
    for name in DATES:
        value = activity.get(name)
        if value is None:
            continue
        moment = instant(value)
        if moment is None:
            raise InvalidRequest(
                f"{name} {value!r} is not a date-time with a time zone", code="invalidSchedule"
            )
        # kept in the server's one form (UTC, milliseconds), so they sort and filter as instants
        activity[name] = timestamp(moment)
    duration = activity.get("plannedDuration")
    seconds = None if duration is None else _seconds(duration)
    if duration is not None and seconds is None:
        raise InvalidRequest(
            f"plannedDuration {duration!r} is not a duration such as PT4H", code="invalidSchedule"
        )
    begin, finish = (
        instant(activity.get("plannedStartDate")),
        instant(activity.get("plannedEndDate")),
    )
    if begin is None:
        return
    end_given = "plannedEndDate" in changed
    if seconds is not None and (finish is None or ("plannedDuration" in changed and not end_given)):
        finish = begin + timedelta(seconds=seconds)
        activity["plannedEndDate"] = timestamp(finish)
    if finish is None:
        return
    if finish < begin:
        raise InvalidRequest(
            f"plannedEndDate {activity['plannedEndDate']} is before plannedStartDate "
            f"{activity['plannedStartDate']}",
            code="invalidSchedule",
        )
    derived = (finish - begin).total_seconds()
    if seconds is not None and "plannedDuration" in changed and end_given:
        if abs(derived - seconds) > 0.5:
            raise InvalidRequest(
                "plannedStartDate, plannedEndDate and plannedDuration disagree; send two of them",
                code="invalidSchedule",
            )
        return
    activity["plannedDuration"] = iso_duration(derived)


def _seconds(duration: Any) -> float | None:
    """Seconds of a planned duration; zero (a milestone, as ``iso_duration`` writes it) too."""
    return 0.0 if duration == ZERO else parse_duration(duration)


def planned_seconds(activity: Mapping[str, Any]) -> float | None:
    """The planned duration in seconds, when the plan has a start and an end."""
    begin, finish = (
        instant(activity.get("plannedStartDate")),
        instant(activity.get("plannedEndDate")),
    )
    if begin is None or finish is None:
        return None
    return (finish - begin).total_seconds()


# -- assignment ------------------------------------------------------------------------------


def party_id(assignee: Any) -> Any:
    """The id of the party an assignee names (``partyOrPartyRole.id``)."""
    if not isinstance(assignee, Mapping):
        return None
    ref = assignee.get("partyOrPartyRole")
    return ref.get("id") if isinstance(ref, Mapping) else None


def assign(
    activity: JSON,
    assignee: JSON | None,
    *,
    when: str,
    source: str,
    reason: str | None = None,
    actor: str | None = None,
) -> None:
    """Give ``activity`` a new assignee (``None``: nobody) and record it in its history."""
    entry: JSON = {"@type": "ActivityAssignment", "date": when, "source": source}
    if assignee is not None:
        entry["assignee"] = assignee
        activity["assignee"] = assignee
    else:
        activity.pop("assignee", None)
    previous = activity.get("assignmentHistory", [])
    if previous and "assignee" in previous[-1]:
        entry["previousAssignee"] = previous[-1]["assignee"]
    if reason is not None:
        entry["reason"] = reason
    if actor is not None:
        entry["actor"] = actor
    activity["assignmentHistory"] = [*previous, entry]


# -- create and patch ------------------------------------------------------------------------


def create_activity(
    body: JSON,
    *,
    activity_id: str,
    ticket_id: str,
    mandatory: bool,
    now: datetime,
    context: Context,
) -> JSON:
    """A new activity from a create request (RecoveryActivity_FVO), before the ticket's rules.

    ``mandatory`` is the default for its type when the request does not say. A state sent on
    create is reached through ``CREATE_PATHS`` (dependencies are the coordination's concern).

    Raises:
        InvalidRequest: another class, a server-owned attribute, a bad schedule.
        ReasonRequired: created cancelled without a reason.
    """
    body = RULES.check_create(body)
    when = timestamp(now)
    reason = body.get("stateChangeReason")
    target = state_of(body.get("state", ActivityState.PLANNED.value))
    assignment_reason = body.get(ASSIGNMENT_REASON)
    activity: JSON = {
        "id": activity_id,
        "@type": TYPE,
        **{
            k: v
            for k, v in body.items()
            if k not in ("state", "stateChangeReason", ASSIGNMENT_REASON)
        },
        "troubleTicket": {"@type": "TroubleTicketRef", "id": ticket_id},
        "mandatory": body.get("mandatory", mandatory),
        "progress": body.get("progress", 0),
        "creationDate": when,
        "lastUpdate": when,
    }
    activity.pop("assignee", None)
    enter(activity, ActivityState.PLANNED, when, None, body)
    for before, after in zip(
        (ActivityState.PLANNED, *CREATE_PATHS[target]), CREATE_PATHS[target], strict=False
    ):
        check_step(before, after, reason if after is target else None)
        enter(activity, after, when, reason if after is target else None, body)
    if "assignee" in body:
        assign(
            activity,
            body["assignee"],
            when=when,
            source="client",
            reason=assignment_reason if isinstance(assignment_reason, str) else None,
            actor=context.actor,
        )
    _schedule(activity, body)
    return activity


def patch_activity(current: JSON, patch: JSON, *, now: datetime, context: Context) -> JSON:
    """Apply a merge patch to one activity under its lifecycle; ``current`` when nothing changes.

    An ``assignee`` naming another party replaces the current one whole (a merge would mix two
    parties' attributes); every change of assignee is recorded in ``assignmentHistory``.

    Raises:
        InvalidRequest: a server-owned attribute changed, a required one removed, a bad schedule,
            another party as assignee without an ``assignmentReason`` while one was assigned.
        Conflict: another id or class.
        InvalidTransition: the state change is not in the table.
        ReasonRequired: ``cancelled`` without a ``stateChangeReason``.
    """
    merged = RULES.merge(current, {k: v for k, v in patch.items() if k != ASSIGNMENT_REASON})
    when = timestamp(now)
    old, new = state_of(current["state"]), state_of(merged["state"])
    if new is not old:
        reason = patch.get("stateChangeReason")
        check_step(old, new, reason)
        enter(merged, new, when, reason, patch)
    if "assignee" in patch and patch["assignee"] != current.get("assignee"):
        requested = patch["assignee"]
        # another party, or nobody; an assignee that names no party changes the current one
        named = party_id(requested)
        another = requested is None or (
            named is not None and named != party_id(current.get("assignee"))
        )
        reason = patch.get(ASSIGNMENT_REASON)
        if another and "assignee" in current and not (isinstance(reason, str) and reason.strip()):
            raise InvalidRequest(
                f"Reassigning a recovery activity to another party needs an {ASSIGNMENT_REASON}",
                code="assignmentReasonRequired",
            )
        assign(
            merged,
            requested if another else merged.get("assignee"),
            when=when,
            source="client",
            reason=reason if isinstance(reason, str) and reason.strip() else None,
            actor=context.actor,
        )
    _schedule(merged, patch)
    if state_of(merged["state"]) is ActivityState.COMPLETED:
        merged["progress"] = 100
    if merged == current:
        return current
    merged["lastUpdate"] = when
    return merged
