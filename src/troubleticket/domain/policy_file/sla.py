"""The ``sla`` section: the business calendar, the clocks and their targets, overrides, jeopardy."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time
from typing import Any

from troubleticket.domain.calendar import BusinessCalendar
from troubleticket.domain.policy import (
    DEFAULT_POLICY,
    ClockPolicy,
    PriorityPolicy,
    SlaPolicy,
    TargetOverride,
)
from troubleticket.domain.policy_file.reader import Reader

WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


_PERIOD = re.compile(r"([0-2][0-9]):([0-5][0-9])-([0-2][0-9]):([0-5][0-9])")


def _calendar(read: Reader, raw: Any) -> BusinessCalendar:
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


def _targets(read: Reader, raw: Any, path: str, levels: tuple[str, ...]) -> dict[str, float]:
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


def read_sla(read: Reader, raw: Any, priority: PriorityPolicy) -> SlaPolicy:
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
