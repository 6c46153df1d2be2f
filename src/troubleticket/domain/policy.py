"""The service policy: priority matrix, SLA clocks and targets, jeopardy thresholds, escalation.

One YAML file (``TT_POLICY``) read once at start-up into these frozen types; ``parse_policy``
reports every problem at once, each with the path of the key that has it. Without a file the
built-in ``DEFAULT_POLICY`` applies (ITIL-like 4×4 matrix, 24×7 clocks).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from troubleticket.domain.calendar import BusinessCalendar
from troubleticket.domain.coordination_policy import (
    DEFAULT_COORDINATION,
    CoordinationPolicy,
    parse_coordination,
)

# -- the types -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriorityPolicy:
    """``priority`` = matrix[impact][urgency], raised by the customer's tier."""

    levels: tuple[str, ...]  # highest first
    impact: Mapping[str, int]  # severity -> matrix row (0: highest impact)
    default_impact: int
    urgency_characteristic: str  # ticket characteristic naming the urgency
    urgency: Mapping[str, int]  # its values -> matrix column (0: most urgent)
    urgency_by_ticket_type: Mapping[str, int]  # when the characteristic is absent
    default_urgency: int
    matrix: tuple[tuple[str, ...], ...]
    tiers: Mapping[str, str] = field(default_factory=dict)  # customer party id -> tier
    tier_raise: Mapping[str, int] = field(default_factory=dict)  # tier -> levels raised
    override_roles: tuple[str, ...] = ()  # who may override (the caller's roles); empty: anyone

    def rank(self, level: str) -> int:
        """0 for the highest level; unknown levels rank below every known one."""
        return self.levels.index(level) if level in self.levels else len(self.levels)


@dataclass(frozen=True, slots=True)
class ClockPolicy:
    """One SLA clock: it starts at creation and stops when the ticket enters ``stop_on``."""

    name: str
    stop_on: frozenset[str]
    targets: Mapping[str, float]  # priority -> seconds of business time


@dataclass(frozen=True, slots=True)
class TargetOverride:
    """Targets for one clock that replace the default ones for a ticket type and/or tier."""

    clock: str
    targets: Mapping[str, float]
    ticket_type: str | None = None
    tier: str | None = None


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    calendar: BusinessCalendar
    pause_in: frozenset[str]
    clocks: tuple[ClockPolicy, ...]
    overrides: tuple[TargetOverride, ...] = ()
    warning: float = 0.75  # share of the target elapsed that puts a clock in jeopardy
    breach: float = 1.0

    def target(self, clock: str, priority: str, ticket_type: Any, tier: str | None) -> float:
        """The target of ``clock`` for a ticket: the most specific override, else the default."""
        best: tuple[int, float] | None = None
        for override in self.overrides:
            if override.clock != clock or priority not in override.targets:
                continue
            if override.ticket_type not in (None, ticket_type):
                continue
            if override.tier not in (None, tier):
                continue
            specificity = (override.ticket_type is not None) + (override.tier is not None)
            if best is None or specificity > best[0]:
                best = (specificity, override.targets[priority])
        if best is not None:
            return best[1]
        defaults = next(c for c in self.clocks if c.name == clock).targets
        return defaults.get(priority, min(defaults.values()))


@dataclass(frozen=True, slots=True)
class EscalationRule:
    """What happens when a clock reaches a jeopardy level."""

    clock: str
    on: str  # "warning" or "breach"
    raise_level_to: int | None = None
    assign_to: Mapping[str, Any] | None = None  # a RelatedPartyRefOrPartyRoleRef to add
    raise_priority_to: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    priority: PriorityPolicy
    sla: SlaPolicy
    escalation: tuple[EscalationRule, ...] = ()
    monitor_interval: float = 5.0
    coordination: CoordinationPolicy = DEFAULT_COORDINATION
    # the parties a partner's request may name (in relatedParty, as an assignee) besides its
    # own: the operator's (its service desk, its NOC); never another partner's
    partners_may_name: frozenset[str] = frozenset()


DEFAULT_POLICY = Policy(
    priority=PriorityPolicy(
        levels=("Critical", "High", "Medium", "Low"),
        impact={"Critical": 0, "Major": 1, "Minor": 2, "Warning": 3},
        default_impact=2,
        urgency_characteristic="urgency",
        urgency={"Critical": 0, "High": 1, "Medium": 2, "Low": 3},
        urgency_by_ticket_type={},
        default_urgency=2,
        matrix=(
            ("Critical", "Critical", "High", "Medium"),
            ("Critical", "High", "Medium", "Low"),
            ("High", "Medium", "Low", "Low"),
            ("Medium", "Low", "Low", "Low"),
        ),
    ),
    sla=SlaPolicy(
        calendar=BusinessCalendar.always(),
        pause_in=frozenset({"pending", "held"}),
        clocks=(
            ClockPolicy(
                "acknowledge",
                frozenset({"inProgress", "resolved", "closed"}),
                {"Critical": 900, "High": 3600, "Medium": 4 * 3600, "Low": 8 * 3600},
            ),
            ClockPolicy(
                "resolve",
                frozenset({"resolved", "closed"}),
                {"Critical": 4 * 3600, "High": 8 * 3600, "Medium": 24 * 3600, "Low": 72 * 3600},
            ),
        ),
    ),
)

# -- parsing ---------------------------------------------------------------------------------

STATUSES = frozenset(
    {"acknowledged", "inProgress", "pending", "held", "resolved", "closed", "rejected", "cancelled"}
)
WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
_COMPACT = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)")
_ISO = re.compile(
    r"P(?:(?P<d>[0-9]+(?:\.[0-9]+)?)D)?"
    r"(?:T(?:(?P<h>[0-9]+(?:\.[0-9]+)?)H)?(?:(?P<m>[0-9]+(?:\.[0-9]+)?)M)?"
    r"(?:(?P<s>[0-9]+(?:\.[0-9]+)?)S)?)?"
)
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Ten years: longer is a mistake, and would overflow date arithmetic.
MAX_DURATION = 10 * 366 * 86400.0
_PERIOD = re.compile(r"([0-2][0-9]):([0-5][0-9])-([0-2][0-9]):([0-5][0-9])")


class PolicyError(ValueError):
    """The policy cannot be used; ``problems`` lists each, as ``path: what is wrong``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid policy:\n  " + "\n  ".join(problems))
        self.problems = problems


def parse_duration(raw: Any) -> float | None:
    """Seconds from ``90s``, ``15m``, ``4h``, ``1d``, ``1h30m``, ISO ``PT4H``, or a number."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw) if 0 < raw <= MAX_DURATION else None
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    iso = _ISO.fullmatch(text)
    if iso and text not in ("P", "PT") and not text.endswith("T"):
        parts = {k: float(v) for k, v in iso.groupdict().items() if v is not None}
        total = parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600
        total += parts.get("m", 0) * 60 + parts.get("s", 0)
        return total if 0 < total <= MAX_DURATION else None
    position, total = 0, 0.0
    for found in _COMPACT.finditer(text):
        if found.start() != position:
            return None
        total += float(found.group(1)) * _UNIT[found.group(2)]
        position = found.end()
    return total if position == len(text) and 0 < total <= MAX_DURATION else None


class _Reader:
    """Reads a mapping, collecting problems with their key paths instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def mapping(self, value: Any, path: str, known: frozenset[str]) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(path, "expected a mapping")
            return {}
        for key in value:
            if key not in known:
                self.problem(
                    f"{path}.{key}", f"unknown key (expected one of {', '.join(sorted(known))})"
                )
        return value

    def duration(self, value: Any, path: str) -> float:
        seconds = parse_duration(value)
        if seconds is None:
            self.problem(
                path, f"{value!r} is not a positive duration (e.g. 90s, 15m, 4h, 1d, PT4H)"
            )
            return 1.0
        return seconds

    def share(self, value: Any, path: str, default: float) -> float:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 10:
            self.problem(path, f"{value!r} is not a share of the target such as 0.75 or 1.0")
            return default
        return float(value)

    def statuses(self, value: Any, path: str, default: frozenset[str]) -> frozenset[str]:
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(path, "expected a list of statuses")
            return default
        for status in value:
            if status not in STATUSES:
                self.problem(path, f"unknown status {status!r}")
        return frozenset(value)


def parse_policy(data: Any) -> Policy:
    """The policy a parsed YAML document describes; missing sections keep the defaults.

    Raises:
        PolicyError: every problem found, each with the path of its key.
    """
    read = _Reader()
    top = read.mapping(
        data,
        "policy",
        frozenset({"priority", "sla", "escalation", "monitor", "coordination", "isolation"}),
    )
    priority = _priority(read, top.get("priority"))
    sla = _sla(read, top.get("sla"), priority)
    escalation = _escalation(read, top.get("escalation"), priority, sla)
    coordination = parse_coordination(read, top.get("coordination"), priority.levels)
    monitor = read.mapping(top.get("monitor"), "monitor", frozenset({"interval"}))
    interval = (
        read.duration(monitor["interval"], "monitor.interval")
        if "interval" in monitor
        else DEFAULT_POLICY.monitor_interval
    )
    isolation = read.mapping(top.get("isolation"), "isolation", frozenset({"partnersMayName"}))
    may_name = _party_ids(read, isolation.get("partnersMayName"), "isolation.partnersMayName")
    if read.problems:
        raise PolicyError(read.problems)
    return Policy(
        priority=priority,
        sla=sla,
        escalation=escalation,
        monitor_interval=interval,
        coordination=coordination,
        partners_may_name=may_name,
    )


def _party_ids(read: _Reader, value: Any, path: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        read.problem(path, "expected a list of party ids")
        return frozenset()
    return frozenset(value)


def _index_map(read: _Reader, value: Any, path: str, size: int) -> dict[str, int]:
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


def _priority(read: _Reader, raw: Any) -> PriorityPolicy:
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


def _position(read: _Reader, value: Any, path: str, size: int, default: int) -> int:
    if value is None:
        return min(default, max(size - 1, 0))
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= size:
        read.problem(path, f"{value!r} is not a position from 1 to {size}")
        return 0
    return value - 1


def _calendar(read: _Reader, raw: Any) -> BusinessCalendar:
    section = read.mapping(raw, "sla.calendar", frozenset({"timezone", "workingHours", "holidays"}))
    if not section:
        return BusinessCalendar.always()
    timezone = section.get("timezone", "UTC")
    hours: dict[int, tuple[tuple[time, time | None], ...]] = {}
    working = section.get("workingHours")
    if working is None:
        hours = dict(BusinessCalendar.always().hours)
    elif not isinstance(working, Mapping):
        read.problem(
            "sla.calendar.workingHours", "expected a mapping of weekday (mon..sun) to periods"
        )
    else:
        for day, periods in working.items():
            path = f"sla.calendar.workingHours.{day}"
            if day not in WEEKDAYS:
                read.problem(path, "unknown weekday (expected mon, tue, wed, thu, fri, sat, sun)")
                continue
            items = periods if isinstance(periods, list) else [periods]
            parsed: list[tuple[time, time | None]] = []
            for item in items:
                found = _PERIOD.fullmatch(str(item))
                if found is None:
                    read.problem(path, f"{item!r} is not a period such as 08:00-18:00")
                    continue
                h1, m1, h2, m2 = (int(g) for g in found.groups())
                if h1 > 23 or h2 > 24 or (h2 == 24 and m2):
                    read.problem(path, f"{item!r} has an hour out of range")
                    continue
                parsed.append((time(h1, m1), None if h2 == 24 else time(h2, m2)))
            ordered = sorted(parsed, key=lambda p: p[0])
            for start, end in ordered:
                if end is not None and end <= start:
                    read.problem(path, f"{start:%H:%M}-{end:%H:%M} ends before it starts")
            for (_, end), (start, _) in zip(ordered, ordered[1:], strict=False):
                if end is None or start < end:
                    read.problem(path, f"periods overlap at {start:%H:%M}")
            hours[WEEKDAYS[day]] = tuple(ordered)
    holidays: set[date] = set()
    listed = section.get("holidays", []) or []
    if not isinstance(listed, list):
        read.problem("sla.calendar.holidays", "expected a list of dates (YYYY-MM-DD)")
        listed = []
    for item in listed:
        try:
            holidays.add(item if isinstance(item, date) else date.fromisoformat(str(item)))
        except ValueError:
            read.problem("sla.calendar.holidays", f"{item!r} is not a date (YYYY-MM-DD)")
    if not isinstance(timezone, str) or not _known_zone(timezone):
        read.problem("sla.calendar.timezone", f"{timezone!r} is not an IANA time zone name")
        timezone = "UTC"
    calendar = BusinessCalendar(timezone=str(timezone), hours=hours, holidays=frozenset(holidays))
    if not any(problem.startswith("sla.calendar") for problem in read.problems):
        for problem in calendar.validate():
            read.problem("sla.calendar", problem)
    return calendar


def _known_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _targets(read: _Reader, raw: Any, path: str, levels: tuple[str, ...]) -> dict[str, float]:
    if not isinstance(raw, Mapping) or not raw:
        read.problem(path, "expected a mapping of priority to duration")
        return {}
    targets = {}
    for level, duration in raw.items():
        if level not in levels:
            read.problem(f"{path}.{level}", "is not one of the priority levels")
            continue
        targets[str(level)] = read.duration(duration, f"{path}.{level}")
    return targets


def _sla(read: _Reader, raw: Any, priority: PriorityPolicy) -> SlaPolicy:
    default = DEFAULT_POLICY.sla
    section = read.mapping(
        raw, "sla", frozenset({"calendar", "pauseIn", "clocks", "overrides", "jeopardy"})
    )
    calendar = (
        _calendar(read, section.get("calendar")) if "calendar" in section else default.calendar
    )
    pause_in = read.statuses(section.get("pauseIn"), "sla.pauseIn", default.pause_in)
    clocks: list[ClockPolicy] = []
    if "clocks" not in section:
        clocks = list(default.clocks)
        if tuple(priority.levels) != DEFAULT_POLICY.priority.levels:
            read.problem("sla.clocks", "custom priority levels need their own clock targets")
    elif not isinstance(section["clocks"], Mapping) or not section["clocks"]:
        read.problem("sla.clocks", "expected a mapping of clock name to {stopOn, targets}")
    else:
        for name, spec in section["clocks"].items():
            path = f"sla.clocks.{name}"
            clock = read.mapping(spec, path, frozenset({"stopOn", "targets"}))
            stop_on = read.statuses(clock.get("stopOn"), f"{path}.stopOn", frozenset())
            if not stop_on:
                read.problem(f"{path}.stopOn", "a clock needs the statuses that stop it")
            targets = _targets(read, clock.get("targets"), f"{path}.targets", priority.levels)
            for level in set(priority.levels) - set(targets):
                read.problem(f"{path}.targets", f"no target for priority {level!r}")
            clocks.append(ClockPolicy(str(name), stop_on, targets))
    names = {c.name for c in clocks}
    overrides: list[TargetOverride] = []
    raw_overrides = section.get("overrides", []) or []
    if not isinstance(raw_overrides, list):
        read.problem("sla.overrides", "expected a list")
        raw_overrides = []
    for i, item in enumerate(raw_overrides):
        path = f"sla.overrides[{i}]"
        spec = read.mapping(item, path, frozenset({"clock", "ticketType", "tier", "targets"}))
        for name in ("ticketType", "tier"):
            if spec.get(name) is not None and not isinstance(spec.get(name), str):
                read.problem(f"{path}.{name}", "expected a string")
        if not isinstance(spec.get("clock"), str) or spec.get("clock") not in names:
            read.problem(
                f"{path}.clock",
                f"{spec.get('clock')!r} is not a clock ({', '.join(sorted(names))})",
            )
        if spec.get("ticketType") is None and spec.get("tier") is None:
            read.problem(path, "an override names a ticketType, a tier, or both")
        targets = _targets(read, spec.get("targets"), f"{path}.targets", priority.levels)
        overrides.append(
            TargetOverride(
                clock=str(spec.get("clock")),
                targets=targets,
                ticket_type=spec.get("ticketType"),
                tier=spec.get("tier"),
            )
        )
    jeopardy = read.mapping(
        section.get("jeopardy"), "sla.jeopardy", frozenset({"warning", "breach"})
    )
    warning = read.share(jeopardy.get("warning"), "sla.jeopardy.warning", default.warning)
    breach = read.share(jeopardy.get("breach"), "sla.jeopardy.breach", default.breach)
    if warning >= breach:
        read.problem("sla.jeopardy", f"warning ({warning}) must come before breach ({breach})")
    return SlaPolicy(
        calendar=calendar,
        pause_in=pause_in,
        clocks=tuple(clocks),
        overrides=tuple(overrides),
        warning=warning,
        breach=breach,
    )


def _escalation(
    read: _Reader, raw: Any, priority: PriorityPolicy, sla: SlaPolicy
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
