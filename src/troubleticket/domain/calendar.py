"""Business calendars: the time during which an SLA clock runs.

A target such as "respond within 4 business hours" counts only the time a service desk works.
A :class:`BusinessCalendar` describes that time the way ServiceNow or GLPI schedules do: working
periods per weekday in the local wall-clock time of one IANA time zone, minus whole-day holidays.
The default calendar is open around the clock, so that business time is plain elapsed time.

Wall-clock periods become instants through :mod:`zoneinfo`, so daylight saving time is honoured:
a day open from midnight to midnight lasts 23 hours when the clocks spring forward and 25 hours
when they fall back. A wall-clock time does not always name exactly one instant, so two rules
apply:

* An ambiguous time, one that occurs twice when the clocks fall back, means its first occurrence
  (``fold=0``).
* A non-existent time, one skipped when the clocks spring forward, is clamped to the instant of
  the jump, which is also the first existing wall-clock time after it. On a day whose clocks go
  from 02:00 straight to 03:00, a period 02:30-05:00 runs 03:00-05:00 and a period 02:15-02:45 is
  empty. Plain ``fold=0`` would read 02:30 as 03:30, dropping half an hour the period names and
  letting a period end after the next one starts; with the clamp, later wall-clock times never
  map to earlier instants, so a day's periods stay ordered and disjoint.

Arithmetic happens on UTC instants, which keeps microseconds exact; durations are exchanged as
float seconds. Nothing here reads the clock: callers pass the instants.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from types import MappingProxyType
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A working period in local wall-clock time; an end of None is the midnight that ends the day.
_Period = tuple[time, time | None]
_WeeklyHours = Mapping[int, tuple[_Period, ...]]

_WEEKDAYS = range(1, 8)
_MIDNIGHT = time(0)
_ONE_DAY = timedelta(days=1)
_NO_TIME = timedelta(0)
# add() gives up after this many consecutive closed days: a deadline further away than a year of
# holidays comes from a broken calendar, and without a bound the search would never end.
_MAX_CLOSED_DAYS = 400


def _around_the_clock() -> _WeeklyHours:
    return MappingProxyType({day: ((_MIDNIGHT, None),) for day in _WEEKDAYS})


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Weekly working hours in one time zone, minus holidays; open around the clock by default.

    ``hours`` maps an ISO weekday (1 = Monday .. 7 = Sunday) to that day's working periods as
    ``(start, end)`` local wall-clock times, ``end`` None meaning the midnight at the end of the
    day; a weekday missing from the mapping is closed. Periods may be given in any order but must
    not overlap. ``holidays`` are local dates closed all day.

    Construction does not check anything, so that a stored configuration can be loaded and its
    problems listed by :meth:`validate`; the clock methods refuse a calendar with problems.
    """

    timezone: str = "UTC"
    # Left out of the hash because a mapping is unhashable; equality still compares it.
    hours: _WeeklyHours = field(default_factory=_around_the_clock, hash=False)
    holidays: frozenset[date] = frozenset()
    # is_always, worked out once: every SLA clock asks it
    _always: bool = field(init=False, repr=False, compare=False, default=False)

    def __post_init__(self) -> None:
        # Private copies: a caller who later mutates its dict or set cannot change this calendar.
        object.__setattr__(self, "hours", MappingProxyType(dict(self.hours)))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "_always", self._covers_every_instant())

    @classmethod
    def always(cls) -> BusinessCalendar:
        """The 24x7 calendar in UTC without holidays: business time is elapsed time."""
        return cls()

    @property
    def is_always(self) -> bool:
        """True when every instant is business time, so SLA clocks can skip calendar arithmetic.

        The time zone plays no part then: consecutive local days, each open from midnight to
        midnight, cover every instant whatever length daylight saving time gives them.
        """
        return self._always

    def _covers_every_instant(self) -> bool:
        if self.holidays or set(self.hours) != set(_WEEKDAYS):
            return False
        return all(_covers_the_whole_day(self.hours[day]) for day in _WEEKDAYS)

    def validate(self) -> list[str]:
        """The calendar's problems as messages for a human; empty when it is usable."""
        problems: list[str] = []
        if _zone(self.timezone) is None:
            problems.append(f"unknown time zone {self.timezone!r}")
        works = False
        for day, periods in self.hours.items():
            if not _is_weekday(day):
                problems.append(f"weekday {day!r} is not an ISO weekday (1 = Monday .. 7 = Sunday)")
                continue
            problems.extend(_day_problems(day, periods))
            works = works or any(
                _is_period(period) and (period[1] is None or period[1] > period[0])
                for period in _as_sequence(periods)
            )
        if not works:
            problems.append("no working time in the week: every weekday is closed")
        for holiday in sorted(self.holidays, key=repr):
            if not isinstance(holiday, date) or isinstance(holiday, datetime):
                problems.append(f"holiday {holiday!r} is not a date")
        return problems

    def is_open(self, moment: datetime) -> bool:
        """Whether the SLA clock runs at ``moment``; a period includes its start, not its end."""
        zone = self._checked_zone()
        instant = _to_utc(moment, "moment")
        if self.is_always:
            return True
        day = _local_date(instant, zone)
        return any(
            start <= instant < end
            for offset in (-1, 0, 1)
            for start, end in self._periods_on(day + offset * _ONE_DAY, zone)
        )

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Business time between two aware instants in seconds; 0.0 when ``end <= start``."""
        zone = self._checked_zone()
        begin, finish = _to_utc(start, "start"), _to_utc(end, "end")
        if finish <= begin:
            return 0.0
        if self.is_always:
            return (finish - begin).total_seconds()
        total = _NO_TIME
        # A day's periods lie between its two local midnights; the neighbouring days are included
        # because a repeated hour can place an instant under the previous day's date.
        day, last = _local_date(begin, zone) - _ONE_DAY, _local_date(finish, zone) + _ONE_DAY
        while day <= last:
            for period_start, period_end in self._periods_on(day, zone):
                overlap = min(period_end, finish) - max(period_start, begin)
                if overlap > _NO_TIME:
                    total += overlap
            day += _ONE_DAY
        return total.total_seconds()

    def add(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant, in UTC, by which ``seconds`` of business time have passed.

        Zero seconds give ``start`` itself, open or not: a target of no time is due at once.
        A target that ends exactly at the end of a period is due at that end, not at the start
        of the next period. The search walks period by period, so a long target costs one step
        per working day, and raises ValueError when no working day follows within a year.
        """
        zone = self._checked_zone()
        begin = _to_utc(start, "start")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"business seconds must be finite and not negative, got {seconds!r}")
        remaining = timedelta(seconds=seconds)
        if remaining == _NO_TIME:
            return begin
        if self.is_always:
            return begin + remaining
        day = _local_date(begin, zone) - _ONE_DAY
        closed_days = 0
        while True:
            periods = self._periods_on(day, zone)
            closed_days = 0 if periods else closed_days + 1
            if closed_days > _MAX_CLOSED_DAYS:
                raise ValueError(
                    f"no working time within {_MAX_CLOSED_DAYS} days after {begin.isoformat()}"
                )
            for period_start, period_end in periods:
                if period_end <= begin:
                    continue
                counted_from = max(period_start, begin)
                available = period_end - counted_from
                if remaining <= available:
                    return counted_from + remaining
                remaining -= available
            day += _ONE_DAY

    def _checked_zone(self) -> tzinfo:
        zone = _zone(self.timezone)
        problems = self.validate()
        if zone is None or problems:
            raise ValueError("invalid business calendar: " + "; ".join(problems))
        return zone

    def _periods_on(self, day: date, zone: tzinfo) -> list[tuple[datetime, datetime]]:
        """The local date's working periods as UTC instants, in order, leaving out empty ones."""
        if day in self.holidays:
            return []
        periods: list[tuple[datetime, datetime]] = []
        for start, end in sorted(self.hours.get(day.isoweekday(), ()), key=lambda p: p[0]):
            begin = _instant(day, start, zone)
            finish = (
                _instant(day + _ONE_DAY, _MIDNIGHT, zone)
                if end is None
                else _instant(day, end, zone)
            )
            # Clamping non-existent times can shrink a period to nothing.
            if finish > begin:
                periods.append((begin, finish))
        return periods


def _zone(name: str) -> tzinfo | None:
    """The time zone called ``name``; UTC needs no time zone database."""
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        return None


def _to_utc(moment: datetime, name: str) -> datetime:
    """``moment`` as a UTC instant; comparing in UTC avoids the wall-clock rules that Python
    applies to aware datetimes sharing one tzinfo (which ignore ``fold``)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment.isoformat()}")
    return moment.astimezone(UTC)


def _local_date(instant: datetime, zone: tzinfo) -> date:
    return instant.astimezone(zone).date()


def _instant(day: date, wall: time, zone: tzinfo) -> datetime:
    """The UTC instant of a local wall-clock time: first occurrence if repeated, the end of the
    jump if skipped (see the module docstring)."""
    naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    return _end_of_gap(naive, zone)


def _end_of_gap(naive: datetime, zone: tzinfo) -> datetime:
    """The instant the clocks jumped over the non-existent local time ``naive``.

    Read with the offset from before the jump (fold 0) ``naive`` falls after the jump; read with
    the offset from after it (fold 1) it falls before. Time zone transitions happen on whole
    seconds, so a bisection over the seconds in between finds the jump in a few dozen steps even
    for a gap of a whole day.
    """
    late = naive.replace(tzinfo=zone).astimezone(UTC)
    early = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = math.floor(early.timestamp()), math.ceil(late.timestamp())
    if low >= high:
        return late
    offset_after = datetime.fromtimestamp(high, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _is_weekday(day: object) -> bool:
    return isinstance(day, int) and not isinstance(day, bool) and day in _WEEKDAYS


def _is_period(period: object) -> TypeGuard[_Period]:
    if not isinstance(period, tuple | list) or len(period) != 2:
        return False
    start, end = period
    return (
        isinstance(start, time)
        and start.tzinfo is None
        and (end is None or (isinstance(end, time) and end.tzinfo is None))
    )


def _as_sequence(periods: object) -> tuple[Any, ...]:
    return tuple(periods) if isinstance(periods, tuple | list) else ()


def _day_problems(day: int, periods: object) -> list[str]:
    if not isinstance(periods, tuple | list):
        return [f"weekday {day}: periods must be a tuple of (start, end) pairs, got {periods!r}"]
    problems: list[str] = []
    usable: list[_Period] = []
    for period in periods:
        if not _is_period(period):
            problems.append(
                f"weekday {day}: {period!r} is not a (start, end) pair of local times without"
                " tzinfo (end None for midnight)"
            )
        elif period[1] is not None and period[1] <= period[0]:
            problems.append(
                f"weekday {day}: period {_show(period)} does not end after it starts"
                " (use None as the end for midnight)"
            )
        else:
            usable.append(period)
    usable.sort(key=lambda p: p[0])
    for earlier, later in zip(usable, usable[1:], strict=False):
        if earlier[1] is None or later[0] < earlier[1]:
            problems.append(f"weekday {day}: periods {_show(earlier)} and {_show(later)} overlap")
    return problems


def _covers_the_whole_day(periods: object) -> bool:
    candidates = _as_sequence(periods)
    if not all(_is_period(period) for period in candidates):
        return False
    reached = _MIDNIGHT
    for start, end in sorted(candidates, key=lambda p: p[0]):
        if start > reached:
            return False
        if end is None:
            return True
        reached = max(reached, end)
    return False


def _show(period: _Period) -> str:
    start, end = period
    return f"{_show_time(start)}-{'24:00' if end is None else _show_time(end)}"


def _show_time(wall: time) -> str:
    return wall.isoformat("minutes" if wall.second == wall.microsecond == 0 else "auto")
