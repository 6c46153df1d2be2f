"""The ``escalation`` section: what a clock's warning or breach does to a ticket."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from troubleticket.domain.policy import (
    EscalationRule,
    PriorityPolicy,
    SlaPolicy,
)
from troubleticket.domain.policy_file.reader import Reader


def read_escalation(
    read: Reader, raw: Any, priority: PriorityPolicy, sla: SlaPolicy
) -> tuple[EscalationRule, ...]:
    section = read.mapping(raw, "escalation", frozenset({"rules"}))
    rules_raw = section.get("rules", []) or []
    if not isinstance(rules_raw, list):
        read.problem("escalation.rules", "expected a list")
        return ()
    names = {c.name for c in sla.clocks}
    rules = []
    for i, item in enumerate(rules_raw):
        path = f"escalation.rules[{i}]"
        if isinstance(item, Mapping) and True in item:
            # YAML 1.1 readers take a bare `on:` key for the boolean true
            item = {("on" if key is True else key): value for key, value in item.items()}
        spec = read.mapping(
            item, path, frozenset({"clock", "on", "raiseLevelTo", "assignTo", "raisePriorityTo"})
        )
        if not isinstance(spec.get("clock"), str) or spec.get("clock") not in names:
            read.problem(
                f"{path}.clock",
                f"{spec.get('clock')!r} is not a clock ({', '.join(sorted(names))})",
            )
        if not isinstance(spec.get("on"), str) or spec.get("on") not in ("warning", "breach"):
            read.problem(f"{path}.on", "expected warning or breach")
        level = spec.get("raiseLevelTo")
        if level is not None and (
            isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 10
        ):
            read.problem(f"{path}.raiseLevelTo", "expected a level from 0 to 10")
        assign = spec.get("assignTo")
        if assign is not None and not (
            isinstance(assign, Mapping)
            and isinstance(assign.get("role"), str)
            and isinstance(assign.get("partyOrPartyRole"), Mapping)
            and isinstance(assign["partyOrPartyRole"].get("id"), str)
        ):
            read.problem(f"{path}.assignTo", "expected {role, partyOrPartyRole: {id, @type, ...}}")
        raise_to = spec.get("raisePriorityTo")
        if raise_to is not None and raise_to not in priority.levels:
            read.problem(
                f"{path}.raisePriorityTo", f"{raise_to!r} is not one of the priority levels"
            )
        if level is None and assign is None and raise_to is None:
            read.problem(path, "a rule does something: raiseLevelTo, assignTo or raisePriorityTo")
        rules.append(
            EscalationRule(
                clock=str(spec.get("clock")),
                on=str(spec.get("on")),
                raise_level_to=level,
                assign_to=dict(assign) if isinstance(assign, Mapping) else None,
                raise_priority_to=raise_to,
            )
        )
    return tuple(rules)
