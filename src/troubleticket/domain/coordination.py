"""Coordinate Customer Problem: the rules that span a ticket and its recovery activities.

A ticket and its activities are one aggregate: the activities live in the ticket document
(``recoveryActivity``, not shown on the ticket), so every rule below — dependencies between
activities, the rollup on the ticket, the resolve gate, the cancel cascade, late activities —
holds in the single atomic write of the ticket, in either store.

* **Dependencies**: ``dependsOn`` names activities of the same ticket; cycles are refused (400);
  an activity enters ``inProgress`` only when every one it depends on is ``completed`` (409).
* **Rollup** (``activitySummary``): counts by state, open mandatory and late activities, the
  progress weighted by planned duration, the next planned end, and the blocking activity (the
  open mandatory one planned to end last: the resolution waits for it).
* **Gates**: ``resolved`` needs every mandatory activity closed (by policy), ``closed`` every
  activity (409 naming them). **Cascade**: ``cancelled``/``rejected`` cancels every open activity
  with the ticket's reason.
* **Schedule**: an open activity past its planned end raises a ``JeopardyAlert`` on the ticket,
  once, dated at the planned end, and the policy's ``lateActivity`` escalation; its planned end
  enters the ticket's ``slaNextCheck`` so the monitor wakes for it. An activity planned to end
  after the ticket's expected resolution is flagged ``beyondResolveDeadline``.
* **Assignment**: a new activity without an assignee gets the one the policy's rule for its type
  names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from troubleticket.domain.activity import (
    OPEN,
    ActivityState,
    assign,
    create_activity,
    instant,
    is_open,
    patch_activity,
    planned_seconds,
    state_of,
)
from troubleticket.domain.documents import timestamp
from troubleticket.domain.errors import Conflict, InvalidRequest, NotFound
from troubleticket.domain.policy import Policy
from troubleticket.domain.sla import ALERTS, NEXT_CHECK, escalate
from troubleticket.types import JSON, NO_CONTEXT, Context

ACTIVITIES = "recoveryActivity"
SUMMARY = "activitySummary"
KIND = "recoveryActivity"

# Ticket statuses that take no new activities: the work is over, or awaits acceptance.
NOT_OPEN_FOR_WORK = frozenset({"resolved", "closed", "cancelled", "rejected"})
CASCADING = frozenset({"cancelled", "rejected"})
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def activities_of(ticket: Mapping[str, Any]) -> list[JSON]:
    found = ticket.get(ACTIVITIES)
    return list(found) if isinstance(found, list) else []


def find(ticket: Mapping[str, Any], activity_id: str) -> JSON:
    """The activity of ``ticket`` with that id.

    Raises:
        NotFound: the ticket has none.
    """
    for activity in activities_of(ticket):
        if activity["id"] == activity_id:
            return activity
    raise NotFound(KIND, activity_id)


def _names(activities: list[JSON]) -> str:
    return ", ".join(
        f"{a['id']} ({a['name']})" if isinstance(a.get("name"), str) else str(a["id"])
        for a in activities
    )


# -- dependencies ----------------------------------------------------------------------------


def _check_dependencies(activities: list[JSON], changed: JSON) -> None:
    """Refuse unknown activities and cycles in ``changed``'s ``dependsOn``.

    Raises:
        InvalidRequest: an id that is not an activity of the ticket (``unknownActivity``), or a
            cycle (``dependencyCycle``, naming it).
    """
    known = {a["id"] for a in activities}
    wanted = changed.get("dependsOn") or []
    unknown = [d for d in wanted if d not in known]
    if unknown:
        raise InvalidRequest(
            f"dependsOn names no activity of this ticket: {', '.join(map(str, unknown))}",
            code="unknownActivity",
        )
    graph = {a["id"]: list(a.get("dependsOn") or []) for a in activities}
    # Walk from the changed activity: a path back to it is a cycle.
    path: list[str] = [changed["id"]]

    def walk(node: str, seen: set[str]) -> list[str] | None:
        for nxt in graph.get(node, []):
            if nxt == changed["id"]:
                return [*path, nxt]
            if nxt not in seen:
                seen.add(nxt)
                path.append(nxt)
                found = walk(nxt, seen)
                if found:
                    return found
                path.pop()
        return None

    cycle = walk(changed["id"], {changed["id"]})
    if cycle:
        raise InvalidRequest(
            f"dependsOn would make a cycle: {' -> '.join(cycle)}", code="dependencyCycle"
        )


def _check_start(activities: list[JSON], before: JSON | None, after: JSON) -> None:
    """An activity that enters ``inProgress`` needs every one it depends on completed.

    Raises:
        Conflict: some are not (``dependencyNotCompleted``, naming them).
    """
    history = after.get("stateChangeHistory", [])
    known = len(before.get("stateChangeHistory", [])) if before is not None else 0
    entered = {entry["state"] for entry in history[known:]}
    if ActivityState.IN_PROGRESS.value not in entered:
        return
    by_id = {a["id"]: a for a in activities}
    waiting = [
        by_id[d]
        for d in after.get("dependsOn") or []
        if state_of(by_id[d]["state"]) is not ActivityState.COMPLETED
    ]
    if waiting:
        raise Conflict(
            f"Recovery activity {after['id']} cannot start before {_names(waiting)} completed",
            code="dependencyNotCompleted",
        )


# -- the activity operations -----------------------------------------------------------------


def _assignee_by_rule(policy: Policy, ticket: JSON, activity_type: Any) -> JSON | None:
    rule = policy.coordination.assignment_for(activity_type)
    if rule is None:
        return None
    for entity in ticket.get("relatedEntity", []) or []:
        ref = entity.get("entity") if isinstance(entity, Mapping) else None
        if (
            isinstance(ref, Mapping)
            and str(ref.get("@referredType", "")).lower() == "service"
            and ref.get("id") in rule.by_service
        ):
            return dict(rule.by_service[ref["id"]])
    if rule.from_ticket_party is not None:
        for party in ticket.get("relatedParty", []) or []:
            if isinstance(party, Mapping) and party.get("role") == rule.from_ticket_party:
                return dict(party)
    return dict(rule.assign_to) if rule.assign_to is not None else None


def add_activity(
    policy: Policy, ticket: JSON, body: JSON, *, activity_id: str, now: datetime, context: Context
) -> JSON:
    """The ticket with a new activity made from a create request.

    Raises:
        Conflict: the ticket takes no new work (``ticketNotOpen``), or the activity is created
            started before what it depends on completed.
        InvalidRequest: the activity's own rules, unknown dependencies, a cycle.
    """
    status = ticket.get("status")
    if status in NOT_OPEN_FOR_WORK:
        raise Conflict(
            f"Trouble ticket {ticket['id']} is {status}: it takes no new recovery activity",
            code="ticketNotOpen",
        )
    activity = create_activity(
        body,
        activity_id=activity_id,
        ticket_id=ticket["id"],
        mandatory=policy.coordination.mandatory(body.get("activityType")),
        now=now,
        context=context,
    )
    if "assignee" not in activity:
        assignee = _assignee_by_rule(policy, ticket, activity.get("activityType"))
        if assignee is not None:
            assign(activity, assignee, when=timestamp(now), source="policy")
    activities = [*activities_of(ticket), activity]
    _check_dependencies(activities, activity)
    _check_start(activities, None, activity)
    return {**ticket, ACTIVITIES: activities}


def change_activity(
    ticket: JSON, activity_id: str, patch: JSON, *, now: datetime, context: Context
) -> JSON:
    """The ticket with one activity changed by a merge patch; ``ticket`` when nothing changes.

    Raises:
        NotFound: no such activity.
        InvalidRequest, InvalidTransition, ReasonRequired: the activity's own rules,
            unknown dependencies, a cycle.
        Conflict: it would start before what it depends on completed.
    """
    current = find(ticket, activity_id)
    updated = patch_activity(current, patch, now=now, context=context)
    if updated is current:
        return ticket
    activities = [updated if a["id"] == activity_id else a for a in activities_of(ticket)]
    if updated.get("dependsOn") != current.get("dependsOn"):
        _check_dependencies(activities, updated)
    _check_start(activities, current, updated)
    return {**ticket, ACTIVITIES: activities}


def remove_activity(ticket: JSON, activity_id: str) -> JSON:
    """The ticket without one activity, which must not have started (cancel one that has).

    Raises:
        NotFound: no such activity.
        Conflict: it has started or ended (``activityStarted``), or another activity depends
            on it (``activityDependedOn``).
    """
    activity = find(ticket, activity_id)
    if state_of(activity["state"]) is not ActivityState.PLANNED:
        raise Conflict(
            f"Recovery activity {activity_id} is {activity['state']}: only a planned one is "
            "deleted; cancel it instead, with a stateChangeReason, to keep its history",
            code="activityStarted",
        )
    dependents = [a for a in activities_of(ticket) if activity_id in (a.get("dependsOn") or [])]
    if dependents:
        raise Conflict(
            f"Recovery activity {activity_id} is depended on by {_names(dependents)}",
            code="activityDependedOn",
        )
    return {**ticket, ACTIVITIES: [a for a in activities_of(ticket) if a["id"] != activity_id]}


# -- the ticket's status ---------------------------------------------------------------------


def on_status_change(policy: Policy, before: JSON, after: JSON, now: datetime) -> JSON:
    """The gates and the cascade of a ticket's status change (``after`` has the new status).

    Raises:
        Conflict: resolving with open mandatory activities (``openMandatoryActivities``, when the
            policy gates), closing with open activities (``openActivities``).
    """
    status = after.get("status")
    if status == before.get("status"):
        return after
    activities = activities_of(after)
    open_ones = [a for a in activities if is_open(a)]
    if status == "resolved" and policy.coordination.gate_resolve:
        mandatory = [a for a in open_ones if a.get("mandatory") is True]
        if mandatory:
            raise Conflict(
                f"Trouble ticket {after['id']} cannot be resolved while mandatory recovery "
                f"activities are open: {_names(mandatory)}",
                code="openMandatoryActivities",
            )
    if status == "closed" and open_ones:
        raise Conflict(
            f"Trouble ticket {after['id']} cannot be closed while recovery activities are "
            f"open: {_names(open_ones)}",
            code="openActivities",
        )
    if status in CASCADING and open_ones:
        when = timestamp(now)
        reason = after.get("statusChangeReason")
        cancelled = []
        for activity in activities:
            if is_open(activity):
                activity = patch_activity(
                    activity,
                    {"state": ActivityState.CANCELLED.value, "stateChangeReason": reason},
                    now=now,
                    context=NO_CONTEXT,
                )
                activity["lastUpdate"] = when
            cancelled.append(activity)
        return {**after, ACTIVITIES: cancelled}
    return after


# -- time: late activities, the rollup, the next check ---------------------------------------


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
