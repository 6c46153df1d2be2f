"""The service policy: priority matrix, SLA clocks and targets, jeopardy thresholds, escalation.

One YAML file (``TT_POLICY``) is read once at start-up into these frozen types
(``policy_file.parse_policy``). Without a file the built-in ``DEFAULT_POLICY`` applies
(ITIL-like 4×4 matrix, 24×7 clocks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from troubleticket.domain.calendar import BusinessCalendar
from troubleticket.domain.coordination_policy import (
    DEFAULT_COORDINATION,
    CoordinationPolicy,
)
from troubleticket.domain.major_incident import NO_CORRELATION, MajorIncidentPolicy


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
    # correlation on intake, the children's clocks, the rollup's and the cascade's pace
    major_incident: MajorIncidentPolicy = NO_CORRELATION


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
