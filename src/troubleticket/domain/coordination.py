"""Coordinate Customer Problem: the rules that span a ticket and its recovery activities.

A ticket and its activities are one aggregate: the activities live in the ticket document
(``recoveryActivity``, not shown on the ticket), so every rule below — dependencies between
activities, the rollup on the ticket, the resolve gate, the cancel cascade, late activities —
holds in the single atomic write of the ticket, in either store.

* **Dependencies**: ``dependsOn`` names activities of the same ticket; cycles are refused (400);
  an activity enters ``inProgress`` only when every one it depends on is ``completed`` (409).
* **Rollup** (``activitySummary``, in ``rollup``): counts by state, open mandatory and late
  activities, the progress weighted by planned duration, the next planned end, and the blocking
  activity (the open mandatory one planned to end last: the resolution waits for it).
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
from datetime import datetime
from typing import Any

from troubleticket.context import NO_CONTEXT, Context
from troubleticket.domain.activity import (
    ActivityState,
    assign,
    create_activity,
    is_open,
    patch_activity,
    state_of,
)
from troubleticket.domain.documents import timestamp
from troubleticket.domain.errors import Conflict, InvalidRequest, NotFound
from troubleticket.domain.policy import Policy
from troubleticket.types import JSON

ACTIVITIES = "recoveryActivity"
SUMMARY = "activitySummary"
KIND = "recoveryActivity"

# Ticket statuses that take no new activities: the work is over, or awaits acceptance.
NOT_OPEN_FOR_WORK = frozenset({"resolved", "closed", "cancelled", "rejected"})
CASCADING = frozenset({"cancelled", "rejected"})


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
