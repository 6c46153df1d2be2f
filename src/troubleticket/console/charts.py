"""The console's plots: the figures the board draws (open tickets per day by priority, breaches
per day, from the tickets' histories), and the plots as geometry the templates draw as inline
SVG (no chart library, no script): a line per series, bars per day, and a Gantt chart of
recovery activities with their dependencies. Each is drawn with a title, a description and a
table of its figures, so that nothing it says is only in the picture.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from troubleticket.console.views import OPEN, Activity, when
from troubleticket.domain.sla import ALERTS, PRIORITY_HISTORY

# -- the figures: from the tickets, per day ----------------------------------------------------

CHART_DAYS = 14


def chart_days(now: datetime, days: int = CHART_DAYS) -> list[date]:
    """The last ``days`` UTC days, today last."""
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=back) for back in range(days - 1, -1, -1)]


def _end_of(day: date, now: datetime) -> datetime:
    return min(datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC), now)


def _as_of(entries: Any, key: str, field: str, moment: datetime) -> str | None:
    """``field`` of the last entry of ``entries`` dated (``key``) at or before ``moment``."""
    found: str | None = None
    for entry in entries or []:
        if not isinstance(entry, Mapping):
            continue
        dated = when(entry.get(key))
        if dated is not None and dated <= moment and isinstance(entry.get(field), str):
            found = entry[field]
    return found


def open_by_priority(
    tickets: Iterable[Mapping[str, Any]], days: Sequence[date], now: datetime, levels: Sequence[str]
) -> dict[str, list[int]]:
    """Per priority, the tickets open at the end of each day (today: now), each counted by the
    status and priority it had then (from its history)."""
    ends = [_end_of(day, now) for day in days]
    counts: dict[str, list[int]] = {level: [0] * len(days) for level in levels}
    for ticket in tickets:
        created = when(ticket.get("creationDate"))
        for index, end in enumerate(ends):
            if created is None or created > end:
                continue
            status = _as_of(ticket.get("statusChangeHistory"), "statusChangeDate", "status", end)
            if status not in OPEN:
                continue
            priority = _as_of(ticket.get(PRIORITY_HISTORY), "date", "priority", end)
            level = priority or str(ticket.get("priority") or "none")
            counts.setdefault(level, [0] * len(days))[index] += 1
    return counts


def breaches_per_day(tickets: Iterable[Mapping[str, Any]], days: Sequence[date]) -> list[int]:
    """Per day, the SLA breach alerts (``jeopardyType`` breach) dated that day."""
    index = {day: position for position, day in enumerate(days)}
    counts = [0] * len(days)
    for ticket in tickets:
        for alert in ticket.get(ALERTS) or []:
            if not isinstance(alert, Mapping) or alert.get("jeopardyType") != "breach":
                continue
            dated = when(alert.get("alertDate"))
            if dated is not None and dated.date() in index:
                counts[index[dated.date()]] += 1
    return counts


# -- the plots ------------------------------------------------------------------------------

WIDTH = 640
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 40, 110, 16, 36


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # pixel position along the axis
    label: str


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    index: int  # its line style (colour and dashes, from the stylesheet)
    values: list[int]
    points: str  # the polyline's points
    label_y: float  # where its name is written, at the right end


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str


@dataclass(frozen=True, slots=True)
class Plot:
    """A plot of figures per day: lines (``series``) or ``bars``."""

    width: int
    height: int
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    days: list[str]
    series: list[Series]
    bars: list[Bar]
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM


def _y_scale(top_value: int) -> tuple[int, list[Tick]]:
    """The value at the top of the axis (at least 1) and ticks at 0, half and top."""
    top = max(1, top_value)
    span = HEIGHT - BOTTOM - TOP
    values = sorted({0, top // 2, top}) if top > 1 else [0, 1]
    return top, [Tick(HEIGHT - BOTTOM - span * v / top, str(v)) for v in values]


def _x(index: int, count: int) -> float:
    inner = WIDTH - LEFT - RIGHT
    return LEFT + (inner * index / (count - 1) if count > 1 else inner / 2)


def _day(day: date) -> str:
    return day.strftime("%m-%d")


def _x_ticks(days: Sequence[date]) -> list[Tick]:
    every = max(1, len(days) // 7)
    return [
        Tick(_x(i, len(days)), _day(day))
        for i, day in enumerate(days)
        if i % every == 0 or i == len(days) - 1
    ]


def line_plot(days: Sequence[date], figures: Mapping[str, list[int]]) -> Plot:
    """One line per series of ``figures`` (a value per day)."""
    top, y_ticks = _y_scale(max((max(v) for v in figures.values() if v), default=0))
    span = HEIGHT - BOTTOM - TOP
    series = []
    label_slots: list[float] = []
    for index, (name, values) in enumerate(figures.items()):
        ys = [HEIGHT - BOTTOM - span * v / top for v in values]
        points = " ".join(f"{_x(i, len(values)):.1f},{y:.1f}" for i, y in enumerate(ys))
        label_y = ys[-1] + 4 if ys else float(HEIGHT - BOTTOM)
        while any(abs(label_y - taken) < 12 for taken in label_slots):
            label_y += 12  # names of lines ending together are written one under the other
        label_slots.append(label_y)
        series.append(Series(name, index % 6, list(values), points, label_y))
    return Plot(WIDTH, HEIGHT, _x_ticks(days), y_ticks, [_day(d) for d in days], series, [])


def bar_plot(days: Sequence[date], values: Sequence[int]) -> Plot:
    """One bar per day."""
    top, y_ticks = _y_scale(max(values, default=0))
    span = HEIGHT - BOTTOM - TOP
    inner = WIDTH - LEFT - RIGHT
    slot = inner / max(1, len(days))
    bars = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        height = span * value / top
        bars.append(
            Bar(
                x=LEFT + slot * i + slot * 0.15,
                y=HEIGHT - BOTTOM - height,
                width=slot * 0.7,
                height=height,
                value=value,
                label=_day(day),
            )
        )
    ticks = [Tick(bar.x + bar.width / 2, bar.label) for bar in bars[:: max(1, len(bars) // 7)]]
    return Plot(WIDTH, HEIGHT, ticks, y_ticks, [_day(d) for d in days], [], bars)


# -- the Gantt chart of recovery activities ----------------------------------------------------

GANTT_WIDTH = 720
GANTT_LABELS = 200  # the activities' names, left of the bars
GANTT_ROW = 30
GANTT_TOP = 28


@dataclass(frozen=True, slots=True)
class GanttBar:
    activity: Activity
    y: float  # the row's top
    x: float | None  # None: not scheduled (no planned start and end)
    width: float


@dataclass(frozen=True, slots=True)
class Arrow:
    """A dependency: from the end of the bar depended on to the start of the dependent one."""

    path: str
    text: str  # "B waits for A"


@dataclass(frozen=True, slots=True)
class Gantt:
    width: int
    height: int
    bars: list[GanttBar]
    arrows: list[Arrow]
    ticks: list[Tick]
    start: str
    end: str


def gantt(activities: Sequence[Activity]) -> Gantt | None:
    """Bars by planned start and end, dependencies as arrows; ``None`` without activities."""
    if not activities:
        return None
    spans: dict[str, tuple[datetime, datetime]] = {}
    for activity in activities:
        start, end = when(activity.planned_start), when(activity.planned_end)
        if start is not None and end is not None and end >= start:
            spans[activity.id] = (start, end)
    first = min((s for s, _e in spans.values()), default=None)
    last = max((e for _s, e in spans.values()), default=None)
    inner = GANTT_WIDTH - GANTT_LABELS - 20
    total = (last - first).total_seconds() if first and last else 0.0
    total = total or 3600.0

    def x_of(moment: datetime) -> float:
        assert first is not None
        return GANTT_LABELS + inner * (moment - first).total_seconds() / total

    bars = []
    for row, activity in enumerate(activities):
        y = GANTT_TOP + row * GANTT_ROW
        if activity.id in spans:
            start, end = spans[activity.id]
            bars.append(GanttBar(activity, y, x_of(start), max(3.0, x_of(end) - x_of(start))))
        else:
            bars.append(GanttBar(activity, y, None, 0.0))
    placed = {bar.activity.id: bar for bar in bars}
    arrows = []
    for bar in bars:
        for needed in bar.activity.depends_on:
            before = placed.get(needed)
            if before is None:
                continue
            text = f"{bar.activity.name} waits for {before.activity.name}"
            if before.x is None or bar.x is None:
                arrows.append(Arrow("", text))
                continue
            x1, y1 = before.x + before.width, before.y + GANTT_ROW / 2 - 2
            x2, y2 = bar.x, bar.y + GANTT_ROW / 2 - 2
            bend = max(x1, x2 - 8) if x2 - 8 > x1 else x1 + 6
            path = f"M{x1:.1f},{y1:.1f} H{bend:.1f} V{y2:.1f} H{max(x2 - 1, bend):.1f}"
            arrows.append(Arrow(path, text))
    ticks = []
    if first is not None and last is not None:
        for fraction in (0.0, 0.5, 1.0):
            moment = first + (last - first) * fraction
            ticks.append(Tick(GANTT_LABELS + inner * fraction, moment.strftime("%m-%d %H:%M")))
    return Gantt(
        width=GANTT_WIDTH,
        height=GANTT_TOP + GANTT_ROW * len(activities) + 8,
        bars=bars,
        arrows=arrows,
        ticks=ticks,
        start=first.strftime("%Y-%m-%d %H:%M UTC") if first else "",
        end=last.strftime("%Y-%m-%d %H:%M UTC") if last else "",
    )
