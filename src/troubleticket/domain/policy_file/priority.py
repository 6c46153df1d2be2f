"""The ``priority`` section: levels, the impact x urgency matrix, customer tiers, overrides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from troubleticket.domain.policy import (
    DEFAULT_POLICY,
    PriorityPolicy,
)
from troubleticket.domain.policy_file.reader import Reader


def _index_map(read: Reader, value: Any, path: str, size: int) -> dict[str, int]:
    if not isinstance(value, Mapping):
        read.problem(path, "expected a mapping of names to matrix positions (1 = first)")
        return {}
    result = {}
    for name, position in value.items():
        if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= size:
            read.problem(f"{path}.{name}", f"{position!r} is not a position from 1 to {size}")
            continue
        result[str(name)] = position - 1
    return result


def read_priority(read: Reader, raw: Any) -> PriorityPolicy:
    default = DEFAULT_POLICY.priority
    section = read.mapping(
        raw,
        "priority",
        frozenset({"levels", "matrix", "impact", "urgency", "customerTier", "override"}),
    )
    levels = section.get("levels", list(default.levels))
    if not isinstance(levels, list) or not levels or not all(isinstance(x, str) for x in levels):
        read.problem(
            "priority.levels", "expected a non-empty list of priority names, highest first"
        )
        levels = list(default.levels)
    if len(set(levels)) != len(levels):
        read.problem("priority.levels", "names repeat")
    matrix_raw = section.get("matrix", [list(row) for row in default.matrix])
    matrix: list[tuple[str, ...]] = []
    if (
        not isinstance(matrix_raw, list)
        or not matrix_raw
        or not all(isinstance(row, list) and row for row in matrix_raw)
    ):
        read.problem("priority.matrix", "expected a list of rows (impact), each a list (urgency)")
        matrix = list(default.matrix)
    else:
        width = len(matrix_raw[0])
        for i, row in enumerate(matrix_raw):
            if len(row) != width:
                read.problem(f"priority.matrix[{i}]", f"has {len(row)} entries, row 1 has {width}")
            for j, cell in enumerate(row):
                if cell not in levels:
                    read.problem(f"priority.matrix[{i}][{j}]", f"{cell!r} is not one of the levels")
            matrix.append(tuple(str(c) for c in row))
    rows, columns = len(matrix), len(matrix[0]) if matrix else 0
    impact_section = read.mapping(
        section.get("impact"), "priority.impact", frozenset({"bySeverity", "default"})
    )
    impact = (
        _index_map(read, impact_section["bySeverity"], "priority.impact.bySeverity", rows)
        if "bySeverity" in impact_section
        else dict(default.impact)
    )
    default_impact = _position(
        read, impact_section.get("default"), "priority.impact.default", rows, default.default_impact
    )
    urgency_section = read.mapping(
        section.get("urgency"),
        "priority.urgency",
        frozenset({"characteristic", "values", "byTicketType", "default"}),
    )
    characteristic = urgency_section.get("characteristic", default.urgency_characteristic)
    if not isinstance(characteristic, str) or not characteristic:
        read.problem("priority.urgency.characteristic", "expected a characteristic name")
        characteristic = default.urgency_characteristic
    urgency = (
        _index_map(read, urgency_section["values"], "priority.urgency.values", columns)
        if "values" in urgency_section
        else dict(default.urgency)
    )
    by_type = (
        _index_map(read, urgency_section["byTicketType"], "priority.urgency.byTicketType", columns)
        if "byTicketType" in urgency_section
        else dict(default.urgency_by_ticket_type)
    )
    default_urgency = _position(
        read,
        urgency_section.get("default"),
        "priority.urgency.default",
        columns,
        default.default_urgency,
    )
    for name, positions, size, given in (
        (
            "priority.impact.bySeverity",
            [*impact.values(), default_impact],
            rows,
            "bySeverity" in impact_section,
        ),
        (
            "priority.urgency.values",
            [*urgency.values(), *by_type.values(), default_urgency],
            columns,
            "values" in urgency_section,
        ),
    ):
        if rows and columns and any(p >= size for p in positions) and not given:
            read.problem(
                name, f"needed: the matrix has {size} positions, fewer than the defaults use"
            )
    tier_section = read.mapping(
        section.get("customerTier"), "priority.customerTier", frozenset({"parties", "raise"})
    )
    tiers = tier_section.get("parties", {})
    if not isinstance(tiers, Mapping) or not all(isinstance(t, str) for t in tiers.values()):
        read.problem("priority.customerTier.parties", "expected a mapping of party id to tier name")
        tiers = {}
    raises = tier_section.get("raise", {})
    if not isinstance(raises, Mapping) or not all(
        isinstance(n, int) and not isinstance(n, bool) and 0 <= n < len(levels)
        for n in raises.values()
    ):
        read.problem(
            "priority.customerTier.raise", "expected a mapping of tier to levels raised (0 or more)"
        )
        raises = {}
    for tier in {str(t) for t in tiers.values()} - {str(t) for t in raises}:
        read.problem("priority.customerTier.raise", f"tier {tier!r} has no raise (0 if none)")
    override = read.mapping(section.get("override"), "priority.override", frozenset({"roles"}))
    roles = override.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        read.problem("priority.override.roles", "expected a list of role names")
        roles = []
    return PriorityPolicy(
        levels=tuple(levels),
        impact=impact,
        default_impact=default_impact,
        urgency_characteristic=characteristic,
        urgency=urgency,
        urgency_by_ticket_type=by_type,
        default_urgency=default_urgency,
        matrix=tuple(matrix),
        tiers={str(k): str(v) for k, v in tiers.items()},
        tier_raise={str(k): int(v) for k, v in raises.items()},
        override_roles=tuple(roles),
    )


def _position(read: Reader, value: Any, path: str, size: int, default: int) -> int:
    if value is None:
        return min(default, max(size - 1, 0))
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= size:
        read.problem(path, f"{value!r} is not a position from 1 to {size}")
        return 0
    return value - 1
