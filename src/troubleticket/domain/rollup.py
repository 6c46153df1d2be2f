"""What time and the activities make of a ticket: an open activity past its planned end raises a
``JeopardyAlert`` (once, dated at the planned end) and the policy's ``lateActivity``
escalation; the rollup (``activitySummary``) counts the activities by state, the open mandatory
and late ones, the progress weighted by planned duration, the next planned end and the blocking
activity; the next planned end enters the ticket's ``slaNextCheck`` so the monitor wakes for it."""

from __future__ import annotations

from datetime import UTC, datetime

from troubleticket.domain.activity import (
    OPEN,
    ActivityState,
    instant,
    is_open,
    planned_seconds,
    state_of,
)
from troubleticket.domain.coordination import ACTIVITIES, SUMMARY, activities_of
from troubleticket.domain.documents import timestamp
from troubleticket.domain.policy import Policy
from troubleticket.domain.sla import ALERTS, NEXT_CHECK, escalate
from troubleticket.types import JSON

_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _late_alert(activity: JSON, planned_end: datetime) -> JSON:
    name = activity.get("name") or activity.get("activityType") or activity["id"]
    ref: JSON = {"@type": "RecoveryActivityRef", "id": activity["id"]}
    if isinstance(activity.get("name"), str):
        ref["name"] = activity["name"]
    return {
        "@type": "JeopardyAlert",
        "id": f"activity-{activity['id']}-late",
        "alertDate": timestamp(planned_end),
        "name": f"{name} late",
        "jeopardyType": "activityLate",
        "exception": "recovery activity past its planned end",
        "message": f"Recovery activity {name} was planned to end at {timestamp(planned_end)} "
        f"and is not completed",
        "recoveryActivity": ref,
    }


def raise_late(policy: Policy, ticket: JSON, now: datetime) -> JSON:
    """The ticket with an alert (and the policy's escalation) for each open activity past its
    planned end that has none yet, in the order they became late."""
    raised = {alert.get("id") for alert in ticket.get(ALERTS, [])}
    late: list[tuple[datetime, JSON]] = []
    for activity in activities_of(ticket):
        end = instant(activity.get("plannedEndDate"))
        if is_open(activity) and end is not None and end <= now:
            alert = _late_alert(activity, end)
            if alert["id"] not in raised:
                late.append((end, alert))
    if not late:
        return ticket
    ticket = dict(ticket)
    steps = policy.coordination.late_escalation
    for _end, alert in sorted(late, key=lambda pair: pair[0]):
        ticket[ALERTS] = [*ticket.get(ALERTS, []), alert]
        if steps is not None:
            reason = f"recovery activity {alert['recoveryActivity']['id']} late"
            escalate(policy, ticket, steps, reason, "rule:activity:late", alert["alertDate"])
    return ticket


def _progress(activities: list[JSON]) -> float | None:
    """Progress over the activities not cancelled, each weighted by its planned duration; one
    without a plan weighs the mean of the others (all alike when none has one)."""
    counted = [a for a in activities if state_of(a["state"]) is not ActivityState.CANCELLED]
    if not counted:
        return None
    known = [s for a in counted if (s := planned_seconds(a)) is not None and s > 0]
    fallback = sum(known) / len(known) if known else 1.0
    total = weighted = 0.0
    for activity in counted:
        seconds = planned_seconds(activity)
        weight = seconds if seconds is not None and seconds > 0 else fallback
        done = (
            100
            if state_of(activity["state"]) is ActivityState.COMPLETED
            else activity.get("progress", 0)
        )
        total += weight
        weighted += weight * float(done)
    return round(weighted / total, 1)


def _blocking(open_mandatory: list[JSON]) -> JSON | None:
    """The open mandatory activity planned to end last (one without a planned end, last of all;
    among equals the one created first)."""
    if not open_mandatory:
        return None

    def lateness(pair: tuple[int, JSON]) -> tuple[bool, datetime, int]:
        end = instant(pair[1].get("plannedEndDate"))
        return (end is None, end or _EARLIEST, -pair[0])

    _index, activity = max(enumerate(open_mandatory), key=lateness)
    ref: JSON = {"@type": "RecoveryActivityRef", "id": activity["id"], "state": activity["state"]}
    for name in ("name", "plannedEndDate"):
        if name in activity:
            ref[name] = activity[name]
    return ref


def summary(activities: list[JSON], now: datetime) -> JSON:
    """The rollup of a ticket's activities (see the module docstring)."""
    open_ones = [a for a in activities if is_open(a)]
    ends = [(e, a) for a in open_ones if (e := instant(a.get("plannedEndDate"))) is not None]
    mandatory = [a for a in open_ones if a.get("mandatory") is True]
    rollup: JSON = {
        "@type": "ActivitySummary",
        "total": len(activities),
        "byState": {
            state.value: sum(1 for a in activities if a["state"] == state.value)
            for state in ActivityState
        },
        "openMandatory": len(mandatory),
        "late": sum(1 for e, _a in ends if e <= now),
    }
    progress = _progress(activities)
    if progress is not None:
        rollup["progress"] = progress
    if ends:
        rollup["nextPlannedEnd"] = timestamp(min(e for e, _a in ends))
    blocking = _blocking(mandatory)
    if blocking is not None:
        rollup["blockingActivity"] = blocking
    return rollup


def settle(ticket: JSON, now: datetime) -> JSON:
    """The ticket after the policy ran: its rollup, the deadline flags of its open activities,
    and its next check moved up to the next planned end of an open activity."""
    activities = activities_of(ticket)
    if not activities and SUMMARY not in ticket:
        return ticket
    ticket = dict(ticket)
    deadline = instant(ticket.get("expectedResolutionDate"))
    flagged = []
    for activity in activities:
        end = instant(activity.get("plannedEndDate"))
        if is_open(activity):
            beyond = deadline is not None and end is not None and end > deadline
            if beyond != bool(activity.get("beyondResolveDeadline")):
                activity = dict(activity)
                if beyond:
                    activity["beyondResolveDeadline"] = True
                else:
                    activity.pop("beyondResolveDeadline", None)
        flagged.append(activity)
    ticket[ACTIVITIES] = flagged
    ticket[SUMMARY] = summary(flagged, now)
    upcoming = [
        e
        for a in flagged
        if state_of(a["state"]) in OPEN
        and (e := instant(a.get("plannedEndDate"))) is not None
        and e > now
    ]
    current = instant(ticket.get(NEXT_CHECK))
    checks = [*upcoming, *([current] if current is not None else [])]
    if checks:
        ticket[NEXT_CHECK] = timestamp(min(checks))
    return ticket
