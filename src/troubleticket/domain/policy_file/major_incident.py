"""The ``majorIncident`` section of the policy file: correlation on intake, the children's SLA
clocks, how often a parent's rollup is announced, how many children a cascade moves at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from troubleticket.domain.major_incident import (
    NO_CORRELATION,
    CorrelationRule,
    MajorIncidentPolicy,
)
from troubleticket.domain.policy_file.reader import Reader

_KEYS = frozenset({"correlate", "childClocks", "rollupInterval", "cascadeBatch"})
_RULE_KEYS = frozenset({"name", "relatedEntity", "characteristic"})


def read_major_incident(read: Reader, raw: Any) -> MajorIncidentPolicy:
    section = read.mapping(raw, "majorIncident", _KEYS)
    default = NO_CORRELATION
    clocks = section.get("childClocks", default.child_clocks)
    if clocks not in ("run", "pause"):
        read.problem("majorIncident.childClocks", "expected run or pause")
        clocks = default.child_clocks
    interval = (
        read.duration(section["rollupInterval"], "majorIncident.rollupInterval")
        if "rollupInterval" in section
        else default.rollup_interval
    )
    batch = section.get("cascadeBatch", default.cascade_batch)
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 1000:
        read.problem("majorIncident.cascadeBatch", "expected a number from 1 to 1000")
        batch = default.cascade_batch
    return MajorIncidentPolicy(
        correlation=_rules(read, section.get("correlate")),
        child_clocks=str(clocks),
        rollup_interval=interval,
        cascade_batch=batch,
    )


def _rules(read: Reader, raw: Any) -> tuple[CorrelationRule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        read.problem("majorIncident.correlate", "expected a list of rules")
        return ()
    rules = []
    for i, item in enumerate(raw):
        path = f"majorIncident.correlate[{i}]"
        spec = read.mapping(item, path, _RULE_KEYS)
        name = spec.get("name", f"rule {i + 1}")
        if not isinstance(name, str) or not name.strip():
            read.problem(f"{path}.name", "expected a name")
        entity = spec.get("relatedEntity")
        types: frozenset[str] = frozenset()
        if entity is not None:
            types = _referred_types(read, entity, f"{path}.relatedEntity")
        names = spec.get("characteristic", [])
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            read.problem(f"{path}.characteristic", "expected a characteristic name or a list")
            names = []
        if entity is None and not names:
            read.problem(path, "a rule matches on relatedEntity, characteristic, or both")
        rules.append(
            CorrelationRule(
                name=str(name),
                related_entity=entity is not None,
                referred_types=types,
                characteristics=tuple(names),
            )
        )
    return tuple(rules)


def _referred_types(read: Reader, entity: Any, path: str) -> frozenset[str]:
    """``relatedEntity: any`` or ``relatedEntity: {referredType: [Resource, Service]}``."""
    if entity == "any":
        return frozenset()
    if isinstance(entity, Mapping):
        spec = read.mapping(entity, path, frozenset({"referredType"}))
        types = spec.get("referredType", [])
        if isinstance(types, str):
            types = [types]
        if isinstance(types, list) and all(isinstance(t, str) and t for t in types):
            return frozenset(types)
    read.problem(path, "expected any, or {referredType: a type or a list of types}")
    return frozenset()
