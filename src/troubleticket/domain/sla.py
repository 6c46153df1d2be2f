"""Prioritize, run SLA clocks, raise jeopardy alerts and escalate: the policy applied to a ticket.

``apply_policy`` is the one entry point: given the ticket before a change (``None`` on create), the
ticket after the lifecycle rules, the client's patch and the instant, it returns the ticket with
everything the policy decides:

* ``priority`` from the impact × urgency matrix (raised by the customer's tier), unless an
  override holds (``priorityOverride``: a client's priority with a ``priorityChangeReason``);
  every change is appended to ``priorityHistory``; a priority a client sends without a reason
  is its request, kept in ``requestedPriority``;
* ``slaClock``: per clock its target, elapsed and paused business time, state (``running``,
  ``paused``, ``met``, ``breached``, ``cancelled``), deadline and jeopardy level; a clock pauses in
  the pause statuses and its deadline moves by the paused time; the ledger (elapsed, paused) is
  kept in the ticket, so a change of priority or policy only changes the target;
* ``troubleTicketJeopardyAlert``: a TMF622-style ``JeopardyAlert`` for each threshold a clock
  crosses (warning, breach), each raised once, dated when it was crossed;
* ``escalationLevel`` (0-10) and its ``escalation`` history: manual changes (with a reason) and
  the policy's rules on warning/breach (raise the level, assign a party, raise the priority);
* ``expectedResolutionDate``: the deadline of the ``resolve`` clock, when the policy runs one; a
  date a client sends is then kept in ``clientExpectedResolutionDate``;
* ``slaNextCheck``: when the next threshold falls due, for the monitor (not shown by the API);
* ``slaJeopardy``: the worst jeopardy level any of its clocks has reached (``none``, ``warning``,
  ``breach``), what the open-ticket figures are counted by (not shown by the API).

Clock accounting is incremental: elapsed time is added up to ``asOf`` on every change, so the
result does not depend on how often the ticket is looked at.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from troubleticket.context import NO_CONTEXT, Context
from troubleticket.domain.documents import timestamp
from troubleticket.domain.errors import Forbidden, InvalidRequest
from troubleticket.domain.major_incident import PARENT
from troubleticket.domain.policy import ClockPolicy, Policy
from troubleticket.types import JSON

CLOCKS = "slaClock"
ALERTS = "troubleTicketJeopardyAlert"
OVERRIDE = "priorityOverride"
PRIORITY_HISTORY = "priorityHistory"
LEVEL = "escalationLevel"
ESCALATIONS = "escalation"
NEXT_CHECK = "slaNextCheck"
JEOPARDY = "slaJeopardy"
REQUESTED_PRIORITY = "requestedPriority"
EXPECTED = "expectedResolutionDate"
CLIENT_EXPECTED = "clientExpectedResolutionDate"

# What the client may send only together with a change it explains.
PRIORITY_REASON = "priorityChangeReason"
ESCALATION_REASON = "escalationReason"

# Attributes only the server writes (a client may repeat their current value).
SERVER_OWNED = (
    CLOCKS,
    ALERTS,
    OVERRIDE,
    PRIORITY_HISTORY,
    ESCALATIONS,
    NEXT_CHECK,
    JEOPARDY,
    REQUESTED_PRIORITY,
    CLIENT_EXPECTED,
)
# Not shown by the API.
HIDDEN = frozenset({NEXT_CHECK, JEOPARDY})
# Jeopardy levels, least to worst.
LEVELS = ("none", "warning", "breach")

FINAL_CANCELLED = frozenset({"cancelled", "rejected"})
# The lifecycle's re-open: the originator disputes the resolution.
REOPENED_FROM, REOPENED_TO = "resolved", "inProgress"
CLOSED = "closed"
RESOLVE_CLOCK = "resolve"
MAX_LEVEL = 10
_EPSILON = 1e-6


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- priority --------------------------------------------------------------------------------


def customer_tier(policy: Policy, ticket: JSON) -> str | None:
    """The tier of the ticket's customer (first related party with role ``customer``)."""
    for party in ticket.get("relatedParty", []) or []:
        if isinstance(party, Mapping) and str(party.get("role", "")).lower() == "customer":
            ref = party.get("partyOrPartyRole")
            party_id = ref.get("id") if isinstance(ref, Mapping) else None
            if isinstance(party_id, str):
                return policy.priority.tiers.get(party_id)
    return None


def _folded(positions: Mapping[str, int], value: Any) -> int | None:
    """The position of ``value`` in ``positions``, ignoring case ("high" is High)."""
    if not isinstance(value, str):
        return None
    folded = value.casefold()
    return next((p for name, p in positions.items() if name.casefold() == folded), None)


def _urgency(policy: Policy, ticket: JSON) -> int:
    settings = policy.priority
    for item in ticket.get("troubleTicketCharacteristic", []) or []:
        if isinstance(item, Mapping) and item.get("name") == settings.urgency_characteristic:
            position = _folded(settings.urgency, item.get("value"))
            if position is not None:
                return position
    ticket_type = ticket.get("ticketType")
    if isinstance(ticket_type, str) and ticket_type in settings.urgency_by_ticket_type:
        return settings.urgency_by_ticket_type[ticket_type]
    return settings.default_urgency


def matrix_priority(policy: Policy, ticket: JSON) -> str:
    """The priority the matrix gives: impact from severity, urgency, raised by the tier."""
    settings = policy.priority
    impact = _folded(settings.impact, ticket.get("severity"))
    if impact is None:
        impact = settings.default_impact
    level = settings.matrix[impact][_urgency(policy, ticket)]
    tier = customer_tier(policy, ticket)
    raised = settings.tier_raise.get(tier, 0) if tier is not None else 0
    return settings.levels[max(0, settings.rank(level) - raised)]


def _effective_priority(policy: Policy, ticket: JSON) -> str:
    override = ticket.get(OVERRIDE)
    if isinstance(override, Mapping) and isinstance(override.get("priority"), str):
        return str(override["priority"])
    return matrix_priority(policy, ticket)


def _client_priority(
    policy: Policy, ticket: JSON, patch: JSON, context: Context, when: str
) -> None:
    """A client's ``priority``: with a ``priorityChangeReason`` an override (which may need a
    role), without one a request the matrix still decides (kept in ``requestedPriority``)."""
    if "priority" not in patch:
        ticket.pop(PRIORITY_REASON, None)
        return
    requested = patch["priority"]
    reason = patch.get(PRIORITY_REASON)
    ticket.pop(PRIORITY_REASON, None)
    roles = policy.priority.override_roles
    allowed = not roles or bool(context.roles & set(roles))
    if requested is None:
        # back to the matrix: lifting an override is overriding too
        if OVERRIDE in ticket and not allowed:
            raise Forbidden(
                f"Lifting a priority override needs one of the roles {', '.join(roles)}"
            )
        ticket.pop(OVERRIDE, None)
        ticket.pop(REQUESTED_PRIORITY, None)
        return
    if requested == _effective_priority(policy, {**ticket, "priority": None}):
        return  # the priority it has anyway (a client echoing what it read)
    if not isinstance(reason, str) or not reason.strip():
        # TMF621: the priority "is set by the ticket management system"; what the client asks
        # for is kept beside it, for the people who may override.
        ticket[REQUESTED_PRIORITY] = requested
        return
    if not allowed:
        raise Forbidden(f"Overriding the priority needs one of the roles {', '.join(roles)}")
    if requested not in policy.priority.levels:
        levels = ", ".join(policy.priority.levels)
        raise InvalidRequest(
            f"priority {requested!r} is not one of {levels}: an override names a level of the "
            "policy",
            code="unknownPriority",
        )
    ticket[OVERRIDE] = _override(requested, reason, when, context.actor, "client")
    ticket.pop(REQUESTED_PRIORITY, None)


def _client_expected(policy: Policy, ticket: JSON, before: JSON | None, patch: JSON) -> None:
    """A client's ``expectedResolutionDate`` while the policy's resolve clock sets it: kept in
    ``clientExpectedResolutionDate`` (an echo of the date shown changes nothing)."""
    if EXPECTED not in patch or not any(c.name == RESOLVE_CLOCK for c in policy.sla.clocks):
        return
    sent = patch[EXPECTED]
    if sent is None:
        ticket.pop(CLIENT_EXPECTED, None)
    elif sent != (before or {}).get(EXPECTED):
        ticket[CLIENT_EXPECTED] = sent


def _override(priority: str, reason: str, when: str, actor: str | None, source: str) -> JSON:
    override: JSON = {
        "@type": "PriorityOverride",
        "priority": priority,
        "reason": reason,
        "date": when,
        "source": source,
    }
    if actor is not None:
        override["actor"] = actor
    return override


# -- escalation ------------------------------------------------------------------------------


def _escalate(
    ticket: JSON, level: int, reason: str, when: str, actor: str | None, trigger: str
) -> None:
    previous = int(ticket.get(LEVEL, 0))
    if level == previous:
        return
    entry: JSON = {
        "@type": "Escalation",
        "id": f"escalation-{len(ticket.get(ESCALATIONS, [])) + 1}",
        "level": level,
        "previousLevel": previous,
        "reason": reason,
        "date": when,
        "trigger": trigger,
    }
    if actor is not None:
        entry["actor"] = actor
    ticket[LEVEL] = level
    ticket[ESCALATIONS] = [*ticket.get(ESCALATIONS, []), entry]


def _client_escalation(
    ticket: JSON, before: JSON | None, patch: JSON, context: Context, when: str
) -> None:
    if LEVEL not in patch:
        ticket.pop(ESCALATION_REASON, None)
        return
    level = patch[LEVEL]
    previous = int((before or {}).get(LEVEL, 0))
    ticket[LEVEL] = previous  # set again below, with its history entry
    if level is None:
        level = 0
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= MAX_LEVEL:
        raise InvalidRequest(f"{LEVEL} must be a whole number from 0 to {MAX_LEVEL}")
    reason = patch.get(ESCALATION_REASON)
    if level != previous and (not isinstance(reason, str) or not reason.strip()):
        raise InvalidRequest(
            f"Changing the {LEVEL} needs an {ESCALATION_REASON}", code="escalationReasonRequired"
        )
    if level != previous:
        _escalate(ticket, level, str(reason), when, context.actor, "manual")
    ticket.pop(ESCALATION_REASON, None)


class EscalationSteps(Protocol):
    """What an escalation does: an escalation rule's actions, or the late-activity policy's."""

    @property
    def raise_level_to(self) -> int | None: ...

    @property
    def assign_to(self) -> Mapping[str, Any] | None: ...

    @property
    def raise_priority_to(self) -> str | None: ...


def escalate(
    policy: Policy, ticket: JSON, steps: EscalationSteps, reason: str, trigger: str, when: str
) -> None:
    """Take the steps of an escalation on ``ticket``: raise its level (never lower it), assign
    the party by its role, raise its priority (never lower it)."""
    if steps.raise_level_to is not None and steps.raise_level_to > int(ticket.get(LEVEL, 0)):
        _escalate(ticket, steps.raise_level_to, reason, when, None, trigger)
    if steps.assign_to is not None:
        role = steps.assign_to.get("role")
        parties = [
            p
            for p in ticket.get("relatedParty", []) or []
            if not (isinstance(p, Mapping) and p.get("role") == role)
        ]
        ticket["relatedParty"] = [
            *parties,
            {"@type": "RelatedPartyRefOrPartyRoleRef", **steps.assign_to},
        ]
    target = steps.raise_priority_to
    if target is not None and policy.priority.rank(target) < policy.priority.rank(
        _effective_priority(policy, ticket)
    ):
        ticket[OVERRIDE] = _override(target, f"escalation rule: {reason}", when, None, "escalation")


def _apply_rules(policy: Policy, ticket: JSON, alert: JSON, when: str) -> None:
    for rule in policy.escalation:
        if rule.clock != alert["clock"] or rule.on != alert["jeopardyType"]:
            continue
        reason = f"{rule.clock} clock {rule.on}"
        escalate(policy, ticket, rule, reason, f"rule:{rule.clock}:{rule.on}", when)


# -- clocks ----------------------------------------------------------------------------------


def _new_clock(clock: ClockPolicy, started: str) -> JSON:
    return {
        "@type": "SlaClock",
        "name": clock.name,
        "state": "running",
        "startedAt": started,
        "asOf": started,
        "elapsedSeconds": 0.0,
        "pausedSeconds": 0.0,
        "jeopardy": "none",
    }


def _thresholds(policy: Policy, target: float) -> tuple[tuple[str, float], ...]:
    return (("warning", policy.sla.warning * target), ("breach", policy.sla.breach * target))


def _raised(clock: JSON) -> set[str]:
    level = clock.get("jeopardy", "none")
    return (
        {"warning", "breach"} if level == "breach" else {"warning"} if level == "warning" else set()
    )


def _run_until(policy: Policy, clock: JSON, now: datetime, alerts: list[JSON]) -> None:
    """Account for the time since ``asOf`` in the clock's current state; note crossings."""
    calendar = policy.sla.calendar
    since = _instant(clock["asOf"])
    if now <= since:
        return
    span = calendar.business_seconds(since, now)
    if clock["state"] == "paused":
        clock["pausedSeconds"] = round(clock["pausedSeconds"] + span, 6)
    elif clock["state"] == "running":
        before = clock["elapsedSeconds"]
        after = before + span
        for level, threshold in _thresholds(policy, clock["targetSeconds"]):
            if level not in _raised(clock) and threshold <= after + _EPSILON:
                crossed = calendar.add(since, max(0.0, threshold - before))
                alerts.append(_alert(clock, level, min(crossed, now), threshold))
                clock["jeopardy"] = level
        clock["elapsedSeconds"] = round(after, 6)
    clock["asOf"] = timestamp(now)


def _crossed_now(policy: Policy, clock: JSON, now: datetime, alerts: list[JSON]) -> None:
    """Thresholds already behind a running clock (its target was just lowered)."""
    if clock["state"] != "running":
        return
    for level, threshold in _thresholds(policy, clock["targetSeconds"]):
        if level not in _raised(clock) and threshold <= clock["elapsedSeconds"] + _EPSILON:
            alerts.append(_alert(clock, level, now, clock["elapsedSeconds"]))
            clock["jeopardy"] = level


def _alert(clock: JSON, level: str, when: datetime, elapsed: float) -> JSON:
    """The alert for ``clock`` reaching ``level`` at ``when``, ``elapsed`` seconds into it."""
    target = clock["targetSeconds"]
    share = round(100 * elapsed / target) if target else 100
    word = "is at risk of missing" if level == "warning" else "has missed"
    return {
        "@type": "JeopardyAlert",
        "id": f"{clock['name']}-{level}",
        "alertDate": timestamp(when),
        "name": f"{clock['name']} {level}",
        "jeopardyType": level,
        "exception": f"{clock['name']} clock {level}",
        "message": f"The {clock['name']} SLA {word} its target of {_hours(clock['targetSeconds'])}",
        "clock": clock["name"],
        "_share": share,
    }


def _hours(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


def _transition(
    policy: Policy,
    clock: JSON,
    old_status: str,
    status: str,
    spec: ClockPolicy,
    now: datetime,
    *,
    held: bool,
) -> None:
    state = clock["state"]
    stamp = timestamp(now)
    if status in FINAL_CANCELLED:
        if state in ("running", "paused"):
            clock["state"] = "cancelled"
            clock["stoppedAt"] = stamp
        return
    if status in spec.stop_on or status == CLOSED:
        if state in ("running", "paused"):
            clock["state"] = "breached" if clock["jeopardy"] == "breach" else "met"
            clock["stoppedAt"] = stamp
        return
    if state in ("met", "breached"):
        if not (
            old_status == REOPENED_FROM and status == REOPENED_TO and status not in spec.stop_on
        ):
            return
        # A disputed resolution: the clock goes on from where it stopped, and the time the
        # ticket spent resolved counts as paused.
        stopped = _instant(clock.pop("stoppedAt"))
        waited = policy.sla.calendar.business_seconds(stopped, now)
        clock["pausedSeconds"] = round(clock["pausedSeconds"] + waited, 6)
        clock["state"] = "running"
        state = "running"
    pause = held or status in policy.sla.pause_in
    if state == "running" and pause:
        clock["state"] = "paused"
    elif state == "paused" and not pause:
        clock["state"] = "running"


def _schedule(policy: Policy, clock: JSON, now: datetime) -> datetime | None:
    """Set the deadline; return when the next unraised threshold falls due (running clocks)."""
    calendar = policy.sla.calendar
    remaining = clock["targetSeconds"] - clock["elapsedSeconds"]
    if clock["state"] in ("running", "paused"):
        if remaining > 0:
            # A paused clock's deadline is where it would be if it ran again now: it moves
            # later for as long as the pause lasts.
            clock["deadline"] = timestamp(calendar.add(now, remaining))
        elif "deadline" not in clock or clock["deadline"] > timestamp(now):
            # Already past a target just lowered: the deadline is behind it, at the latest now.
            clock["deadline"] = timestamp(now)
    if clock["state"] != "running":
        return None
    for level, threshold in _thresholds(policy, clock["targetSeconds"]):
        if level not in _raised(clock):
            return calendar.add(now, max(0.0, threshold - clock["elapsedSeconds"]))
    return None


def apply_policy(
    policy: Policy,
    before: JSON | None,
    after: JSON,
    *,
    now: datetime,
    patch: JSON | None = None,
    context: Context = NO_CONTEXT,
) -> JSON:
    """The ticket ``after`` a change (or a look by the monitor), with the policy applied.

    Raises:
        InvalidRequest: a priority override (a priority with a reason) naming an unknown level,
            an escalation level out of range or changed without a reason.
        Forbidden: a priority override without a role the policy requires.
    """
    ticket = dict(after)
    when = timestamp(now)
    patch = patch or {}
    _client_priority(policy, ticket, patch, context, when)
    _client_expected(policy, ticket, before, patch)
    _client_escalation(ticket, before, patch, context, when)
    ticket.setdefault(LEVEL, 0)

    specs = {spec.name: spec for spec in policy.sla.clocks}
    existing = {
        c["name"]: dict(c) for c in (before or {}).get(CLOCKS, []) if c.get("name") in specs
    }
    started = ticket.get("creationDate", when)
    old_status = (before or {}).get("status", "acknowledged")
    clocks = [existing.get(name) or _new_clock(spec, started) for name, spec in specs.items()]
    alerts: list[JSON] = []
    tier = customer_tier(policy, ticket)

    def retarget() -> None:
        # A stopped clock keeps the target it was measured against.
        priority = _effective_priority(policy, ticket)
        for clock in (c for c in clocks if c["state"] in ("running", "paused")):
            clock["targetSeconds"] = policy.sla.target(
                clock["name"], priority, ticket.get("ticketType"), tier
            )

    # The time up to now ran under the old status and the old targets.
    previous = dict(before) if before is not None else ticket
    priority_before = _effective_priority(policy, previous) if before is not None else None
    for clock in clocks:
        if "targetSeconds" not in clock:
            clock["targetSeconds"] = policy.sla.target(
                clock["name"],
                _effective_priority(policy, previous),
                previous.get("ticketType"),
                tier,
            )
        _run_until(policy, clock, now, alerts)
    # Then the change: new status, new targets (and thresholds a lower target puts behind).
    status = str(ticket.get("status", old_status))
    # a major incident's child, under a policy that pauses its clocks while linked
    held = policy.major_incident.child_clocks == "pause" and isinstance(ticket.get(PARENT), str)
    for clock in clocks:
        _transition(policy, clock, old_status, status, specs[clock["name"]], now, held=held)
    retarget()
    for clock in clocks:
        _crossed_now(policy, clock, now, alerts)

    # Each alert once, in the order crossed; an escalation rule may raise the priority, whose
    # lower targets may put another threshold behind a clock (at most two per clock).
    for _ in range(2 * len(clocks) + 1):
        raised = {a["id"] for a in ticket.get(ALERTS, [])}
        new_alerts = sorted(
            (a for a in alerts if a["id"] not in raised), key=lambda a: a["alertDate"]
        )
        if not new_alerts:
            break
        for alert in new_alerts:
            share = alert.pop("_share")
            alert["exception"] = f"{alert['exception']} ({share} % of the target elapsed)"
            _apply_rules(policy, ticket, alert, alert["alertDate"])
        ticket[ALERTS] = [*ticket.get(ALERTS, []), *new_alerts]
        retarget()
        alerts = []
        for clock in clocks:
            _crossed_now(policy, clock, now, alerts)

    priority = _effective_priority(policy, ticket)
    if priority != priority_before:
        override = ticket.get(OVERRIDE)
        entry: JSON = {"@type": "PriorityChange", "priority": priority, "date": when}
        if priority_before is not None:
            entry["previousPriority"] = priority_before
        if isinstance(override, Mapping) and override.get("priority") == priority:
            entry["reason"] = override["reason"]
            entry["source"] = override["source"]
        else:
            entry["source"] = "matrix"
        ticket[PRIORITY_HISTORY] = [*ticket.get(PRIORITY_HISTORY, []), entry]
    ticket["priority"] = priority

    next_checks = [due for clock in clocks if (due := _schedule(policy, clock, now)) is not None]
    ticket[CLOCKS] = clocks
    if next_checks:
        ticket[NEXT_CHECK] = timestamp(min(next_checks))
    else:
        ticket.pop(NEXT_CHECK, None)
    ticket[JEOPARDY] = max(
        (c.get("jeopardy", "none") for c in clocks if c.get("state") != "cancelled"),
        key=LEVELS.index,
        default="none",
    )
    resolve = next((c for c in clocks if c["name"] == RESOLVE_CLOCK), None)
    if resolve is not None and "deadline" in resolve:
        ticket[EXPECTED] = resolve["deadline"]
    return ticket
