"""The ``coordination`` section of the service policy: how recovery activities are coordinated.

::

    coordination:
      gateResolve: true               # a ticket is resolved only when no mandatory activity is open
      mandatory:
        default: true
        byActivityType: {customerContact: false}
      assignment:                     # who gets a new activity that names no assignee
        - activityType: partnerRepair
          byService: {SVC-1: <assignee>}   # the ticket's related Service -> its partner
          fromTicketParty: supplier        # else the ticket's related party with this role
          assignTo: <assignee>             # else this one
      lateActivity:                   # an activity past its planned end, not completed
        raiseLevelTo: 2
        raisePriorityTo: High
        assignTo: <related party>

An assignee is a TMF ``RelatedPartyRefOrPartyRoleRef``: ``{role, partyOrPartyRole: {id, …}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from troubleticket.types import JSON


class Reader(Protocol):
    """What the policy parser lends this section: problems collected with their key paths."""

    def problem(self, path: str, message: str) -> None: ...

    def mapping(self, value: Any, path: str, known: frozenset[str]) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class EscalationAction:
    """What the policy does when a recovery activity is late (as an escalation rule does)."""

    raise_level_to: int | None = None
    assign_to: Mapping[str, Any] | None = None
    raise_priority_to: str | None = None


@dataclass(frozen=True, slots=True)
class AssignmentRule:
    """Who gets a new activity of ``activity_type``: the first of these that names someone."""

    activity_type: str
    by_service: Mapping[str, JSON] = field(default_factory=dict)
    from_ticket_party: str | None = None
    assign_to: JSON | None = None


@dataclass(frozen=True, slots=True)
class CoordinationPolicy:
    gate_resolve: bool = True
    default_mandatory: bool = True
    mandatory_by_type: Mapping[str, bool] = field(default_factory=dict)
    assignment: tuple[AssignmentRule, ...] = ()
    late_escalation: EscalationAction | None = None

    def mandatory(self, activity_type: Any) -> bool:
        """Whether an activity of that type is mandatory when its request does not say."""
        if isinstance(activity_type, str) and activity_type in self.mandatory_by_type:
            return self.mandatory_by_type[activity_type]
        return self.default_mandatory

    def assignment_for(self, activity_type: Any) -> AssignmentRule | None:
        return next((r for r in self.assignment if r.activity_type == activity_type), None)


DEFAULT_COORDINATION = CoordinationPolicy()


def is_assignee(value: Any) -> bool:
    """A related party naming a party by id: ``{role, partyOrPartyRole: {id, …}}``."""
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("role"), str)
        and isinstance(value.get("partyOrPartyRole"), Mapping)
        and isinstance(value["partyOrPartyRole"].get("id"), str)
    )


ASSIGNEE_SHAPE = "expected {role, partyOrPartyRole: {id, @type, ...}}"


def _assignee(read: Reader, value: Any, path: str) -> JSON | None:
    if value is None:
        return None
    if not is_assignee(value):
        read.problem(path, ASSIGNEE_SHAPE)
        return None
    return {"@type": "RelatedPartyRefOrPartyRoleRef", **dict(value)}


def _boolean(read: Reader, value: Any, path: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        read.problem(path, "expected true or false")
        return default
    return value


def parse_coordination(read: Reader, raw: Any, levels: tuple[str, ...]) -> CoordinationPolicy:
    """The coordination section; problems go to ``read`` with their key paths."""
    section = read.mapping(
        raw,
        "coordination",
        frozenset({"gateResolve", "mandatory", "assignment", "lateActivity"}),
    )
    mandatory = read.mapping(
        section.get("mandatory"), "coordination.mandatory", frozenset({"default", "byActivityType"})
    )
    by_type_raw = mandatory.get("byActivityType", {}) or {}
    by_type: dict[str, bool] = {}
    if not isinstance(by_type_raw, Mapping):
        read.problem("coordination.mandatory.byActivityType", "expected activityType: true|false")
    else:
        for name, value in by_type_raw.items():
            path = f"coordination.mandatory.byActivityType.{name}"
            by_type[str(name)] = _boolean(read, value, path, True)
    return CoordinationPolicy(
        gate_resolve=_boolean(read, section.get("gateResolve"), "coordination.gateResolve", True),
        default_mandatory=_boolean(
            read, mandatory.get("default"), "coordination.mandatory.default", True
        ),
        mandatory_by_type=by_type,
        assignment=_assignment(read, section.get("assignment")),
        late_escalation=_late(read, section.get("lateActivity"), levels),
    )


def _assignment(read: Reader, raw: Any) -> tuple[AssignmentRule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        read.problem("coordination.assignment", "expected a list of rules")
        return ()
    rules: list[AssignmentRule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        path = f"coordination.assignment[{i}]"
        spec = read.mapping(
            item, path, frozenset({"activityType", "byService", "fromTicketParty", "assignTo"})
        )
        activity_type = spec.get("activityType")
        if not isinstance(activity_type, str) or not activity_type:
            read.problem(f"{path}.activityType", "expected the activityType the rule is for")
            continue
        if activity_type in seen:
            read.problem(f"{path}.activityType", f"{activity_type!r} has a rule already")
        seen.add(activity_type)
        by_service: dict[str, JSON] = {}
        services = spec.get("byService", {}) or {}
        if not isinstance(services, Mapping):
            read.problem(f"{path}.byService", "expected a mapping of service id to assignee")
        else:
            for service, assignee in services.items():
                parsed = _assignee(read, assignee, f"{path}.byService.{service}")
                if parsed is not None:
                    by_service[str(service)] = parsed
        role = spec.get("fromTicketParty")
        if role is not None and not isinstance(role, str):
            read.problem(f"{path}.fromTicketParty", "expected the role of a ticket related party")
            role = None
        assign_to = _assignee(read, spec.get("assignTo"), f"{path}.assignTo")
        if not by_service and role is None and assign_to is None:
            read.problem(path, "a rule names someone: byService, fromTicketParty or assignTo")
        rules.append(AssignmentRule(activity_type, by_service, role, assign_to))
    return tuple(rules)


def _late(read: Reader, raw: Any, levels: tuple[str, ...]) -> EscalationAction | None:
    if raw is None:
        return None
    path = "coordination.lateActivity"
    spec = read.mapping(raw, path, frozenset({"raiseLevelTo", "assignTo", "raisePriorityTo"}))
    level = spec.get("raiseLevelTo")
    if level is not None and (
        isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 10
    ):
        read.problem(f"{path}.raiseLevelTo", "expected a level from 0 to 10")
        level = None
    assign_to = spec.get("assignTo")
    if assign_to is not None and not is_assignee(assign_to):
        read.problem(f"{path}.assignTo", ASSIGNEE_SHAPE)
        assign_to = None
    raise_to = spec.get("raisePriorityTo")
    if raise_to is not None and raise_to not in levels:
        read.problem(f"{path}.raisePriorityTo", f"{raise_to!r} is not one of the priority levels")
        raise_to = None
    if spec and level is None and assign_to is None and raise_to is None:
        read.problem(path, "says what to do: raiseLevelTo, assignTo or raisePriorityTo")
    return EscalationAction(level, dict(assign_to) if assign_to else None, raise_to)
