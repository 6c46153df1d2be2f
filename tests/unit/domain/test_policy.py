"""The service policy: durations, the defaults, every problem parse_policy reports, and targets."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest
import yaml

from troubleticket.domain.calendar import BusinessCalendar
from troubleticket.domain.durations import parse_duration
from troubleticket.domain.policy import DEFAULT_POLICY, ClockPolicy, SlaPolicy, TargetOverride
from troubleticket.domain.policy_file import PolicyError, parse_policy

LEVELS = ["Critical", "High", "Medium", "Low"]


def targets(**durations: Any) -> dict[str, Any]:
    """Targets for every level: the given ones, one hour for the others."""
    return {level: durations.get(level, "1h") for level in LEVELS}


def problems_of(data: Any) -> list[str]:
    with pytest.raises(PolicyError) as raised:
        parse_policy(data)
    return raised.value.problems


def paths_of(problems: list[str]) -> list[str]:
    """The key path each problem names (the text before its first ``": "``)."""
    return [problem.split(": ", 1)[0] for problem in problems]


class TestParseDuration:
    @pytest.mark.parametrize(
        ("raw", "seconds"),
        [
            ("90s", 90.0),
            ("15m", 900.0),
            ("4h", 14400.0),
            ("1d", 86400.0),
            ("1w", 604800.0),
            ("250ms", 0.25),
            ("1h30m", 5400.0),
            ("1m30s", 90.0),
            ("1d2h", 93600.0),
            ("2.5h", 9000.0),
            (" 15m ", 900.0),
            ("PT4H", 14400.0),
            ("PT1H30M", 5400.0),
            ("PT90S", 90.0),
            ("PT0.5S", 0.5),
            ("P1D", 86400.0),
            ("P1DT2H", 93600.0),
            (90, 90.0),
            ("90", 90.0),
            ("0.25", 0.25),
            (0.25, 0.25),
            (3600.0, 3600.0),
        ],
    )
    def test_a_positive_duration_gives_its_seconds(self, raw: Any, seconds: float) -> None:
        assert parse_duration(raw) == seconds

    def test_the_result_is_a_float(self) -> None:
        assert isinstance(parse_duration(90), float)
        assert isinstance(parse_duration("90s"), float)

    @pytest.mark.parametrize(
        "raw",
        [
            "",
            "   ",
            "0s",
            "0",
            "-5m",
            "5x",
            "h",
            "1h 30m",
            "1H",
            "pt4h",
            "P",
            "PT",
            "P1DT",
            "PT0S",
            "P1W",
            "1e3s",
            "4h!",
            0,
            -5,
            0.0,
            float("nan"),
            True,
            False,
            None,
            [],
            {"h": 4},
        ],
    )
    def test_anything_else_gives_none(self, raw: Any) -> None:
        assert parse_duration(raw) is None

    def test_infinity_is_not_a_duration(self) -> None:
        assert parse_duration(float("inf")) is None

    def test_an_infinite_target_is_a_problem(self) -> None:
        data = yaml.safe_load(
            """
            sla:
              clocks:
                resolve:
                  stopOn: [resolved]
                  targets: {Critical: 4h, High: 8h, Medium: 1d, Low: .inf}
            """
        )
        assert paths_of(problems_of(data)) == ["sla.clocks.resolve.targets.Low"]


class TestDefaults:
    @pytest.mark.parametrize("data", [None, {}, yaml.safe_load(""), yaml.safe_load("{}")])
    def test_no_document_is_the_default_policy(self, data: Any) -> None:
        assert parse_policy(data) == DEFAULT_POLICY

    def test_empty_sections_keep_their_defaults(self) -> None:
        data: dict[str, Any] = {"priority": None, "sla": {}, "escalation": None, "monitor": {}}
        assert parse_policy(data) == DEFAULT_POLICY

    def test_the_default_policy(self) -> None:
        policy = DEFAULT_POLICY
        assert policy.priority.levels == ("Critical", "High", "Medium", "Low")
        assert policy.priority.default_impact == 2
        assert policy.priority.default_urgency == 2
        assert policy.priority.urgency_characteristic == "urgency"
        assert policy.priority.override_roles == ()
        assert policy.sla.calendar.is_always
        assert policy.sla.pause_in == {"pending", "held"}
        assert [(c.name, sorted(c.stop_on)) for c in policy.sla.clocks] == [
            ("acknowledge", ["closed", "inProgress", "resolved"]),
            ("resolve", ["closed", "resolved"]),
        ]
        assert (policy.sla.warning, policy.sla.breach) == (0.75, 1.0)
        assert policy.escalation == ()
        assert policy.monitor_interval == 5.0

    def test_a_section_given_replaces_only_itself(self) -> None:
        policy = parse_policy(
            {"sla": {"jeopardy": {"warning": 0.5}}, "monitor": {"interval": "1s"}}
        )
        assert policy.sla.warning == 0.5
        assert policy.sla.breach == 1.0
        assert policy.sla.clocks == DEFAULT_POLICY.sla.clocks
        assert policy.priority == DEFAULT_POLICY.priority
        assert policy.monitor_interval == 1.0


class TestWhatIsRead:
    def test_positions_count_from_one(self) -> None:
        policy = parse_policy(
            {
                "priority": {
                    "impact": {"bySeverity": {"Critical": 1, "Minor": 4}, "default": 2},
                    "urgency": {
                        "characteristic": "businessUrgency",
                        "values": {"now": 1, "whenever": 4},
                        "byTicketType": {"complaint": 2},
                        "default": 3,
                    },
                    "customerTier": {
                        "parties": {"C-1": "gold", 7: "silver"},
                        "raise": {
                            "gold": 1,
                            "silver": 0,
                        },
                    },
                    "override": {"roles": ["lead"]},
                }
            }
        )
        priority = policy.priority
        assert priority.impact == {"Critical": 0, "Minor": 3}
        assert priority.default_impact == 1
        assert priority.urgency_characteristic == "businessUrgency"
        assert priority.urgency == {"now": 0, "whenever": 3}
        assert priority.urgency_by_ticket_type == {"complaint": 1}
        assert priority.default_urgency == 2
        # party ids are compared as text, whatever type YAML gave them
        assert priority.tiers == {"C-1": "gold", "7": "silver"}
        assert priority.tier_raise == {"gold": 1, "silver": 0}
        assert priority.override_roles == ("lead",)

    def test_clocks_overrides_jeopardy_escalation_and_monitor(self) -> None:
        policy = parse_policy(
            {
                "sla": {
                    "pauseIn": ["held"],
                    "clocks": {
                        "respond": {"stopOn": ["inProgress"], "targets": targets(Critical="5m")}
                    },
                    "overrides": [{"clock": "respond", "tier": "gold", "targets": {"High": 60}}],
                    "jeopardy": {"warning": 0.5, "breach": 2},
                },
                "escalation": {
                    "rules": [
                        {
                            "clock": "respond",
                            "on": "breach",
                            "raiseLevelTo": 3,
                            "assignTo": {"role": "supervisor", "partyOrPartyRole": {"id": "s"}},
                            "raisePriorityTo": "High",
                        }
                    ]
                },
                "monitor": {"interval": "PT0.5S"},
            }
        )
        assert policy.sla.pause_in == {"held"}
        assert policy.sla.clocks == (
            ClockPolicy(
                "respond",
                frozenset({"inProgress"}),
                {"Critical": 300.0, "High": 3600.0, "Medium": 3600.0, "Low": 3600.0},
            ),
        )
        assert policy.sla.overrides == (TargetOverride("respond", {"High": 60.0}, tier="gold"),)
        assert (policy.sla.warning, policy.sla.breach) == (0.5, 2.0)
        (rule,) = policy.escalation
        assert (rule.clock, rule.on, rule.raise_level_to, rule.raise_priority_to) == (
            "respond",
            "breach",
            3,
            "High",
        )
        assert rule.assign_to == {"role": "supervisor", "partyOrPartyRole": {"id": "s"}}
        assert policy.monitor_interval == 0.5

    def test_the_calendar(self) -> None:
        policy = parse_policy(
            yaml.safe_load(
                """
                sla:
                  calendar:
                    timezone: Europe/Berlin
                    workingHours:
                      mon: ["08:00-12:00", "13:00-17:00"]
                      sat: "10:00-24:00"
                    holidays: [2026-12-25, "2026-12-26"]
                """
            )
        )
        assert policy.sla.calendar == BusinessCalendar(
            "Europe/Berlin",
            {1: ((time(8), time(12)), (time(13), time(17))), 6: ((time(10), None),)},
            frozenset({date(2026, 12, 25), date(2026, 12, 26)}),
        )

    def test_a_calendar_without_working_hours_is_open_around_the_clock(self) -> None:
        policy = parse_policy({"sla": {"calendar": {"timezone": "Europe/Berlin"}}})
        assert policy.sla.calendar.timezone == "Europe/Berlin"
        assert policy.sla.calendar.is_always

    def test_custom_levels_with_their_own_matrix_and_clocks(self) -> None:
        policy = parse_policy(
            {
                "priority": {
                    "levels": ["P1", "P2"],
                    "matrix": [["P1", "P2"], ["P2", "P2"]],
                    "impact": {"bySeverity": {"Critical": 1}},
                    "urgency": {"values": {"High": 1, "Low": 2}},
                },
                "sla": {
                    "clocks": {"resolve": {"stopOn": ["resolved"], "targets": {"P1": 1, "P2": 2}}}
                },
            }
        )
        assert policy.priority.levels == ("P1", "P2")
        assert policy.priority.matrix == (("P1", "P2"), ("P2", "P2"))
        # the default row and column (3rd) do not exist: the last ones are taken
        assert (policy.priority.default_impact, policy.priority.default_urgency) == (1, 1)


# Each case: a document with one problem, the path the problem names, and part of its message.
PROBLEMS = [
    pytest.param([1, 2], "policy", "expected a mapping", id="top-level-not-a-mapping"),
    pytest.param({"priorty": {}}, "policy.priorty", "unknown key", id="unknown-top-level-key"),
    pytest.param(
        {"sla": {"jeopardy": {"warn": 0.5}}}, "sla.jeopardy.warn", "unknown key", id="unknown-key"
    ),
    pytest.param(
        {"escalation": {"rules": [{"clock": "resolve", "on": "breach", "raiseLevel": 1}]}},
        "escalation.rules[0].raiseLevel",
        "unknown key",
        id="unknown-key-in-a-list-item",
    ),
    pytest.param({"priority": {"levels": []}}, "priority.levels", "non-empty", id="no-levels"),
    pytest.param(
        {"priority": {"levels": ["High", "High", "Low"]}},
        "priority.levels",
        "names repeat",
        id="levels-repeat",
    ),
    pytest.param(
        {"priority": {"matrix": [["Critical", "Urgent", "High", "Medium"]] + [["Low"] * 4] * 3}},
        "priority.matrix[0][1]",
        "'Urgent' is not one of the levels",
        id="matrix-cell-not-a-level",
    ),
    pytest.param(
        {"priority": {"matrix": [["Low"] * 4, ["Low"] * 4, ["Low"] * 3, ["Low"] * 4]}},
        "priority.matrix[2]",
        "has 3 entries, row 1 has 4",
        id="ragged-matrix",
    ),
    pytest.param(
        {"priority": {"matrix": "Critical"}}, "priority.matrix", "list of rows", id="matrix-text"
    ),
    pytest.param(
        {"priority": {"impact": {"bySeverity": {"Major": 5}}}},
        "priority.impact.bySeverity.Major",
        "5 is not a position from 1 to 4",
        id="impact-position-out-of-range",
    ),
    pytest.param(
        {"priority": {"impact": {"default": 0}}},
        "priority.impact.default",
        "0 is not a position from 1 to 4",
        id="impact-default-out-of-range",
    ),
    pytest.param(
        {"priority": {"urgency": {"values": {"High": 5}}}},
        "priority.urgency.values.High",
        "5 is not a position from 1 to 4",
        id="urgency-position-out-of-range",
    ),
    pytest.param(
        {"priority": {"urgency": {"byTicketType": {"complaint": True}}}},
        "priority.urgency.byTicketType.complaint",
        "True is not a position",
        id="urgency-position-not-a-number",
    ),
    pytest.param(
        {"priority": {"urgency": {"default": 9}}},
        "priority.urgency.default",
        "9 is not a position from 1 to 4",
        id="urgency-default-out-of-range",
    ),
    pytest.param(
        {"priority": {"urgency": {"characteristic": ""}}},
        "priority.urgency.characteristic",
        "expected a characteristic name",
        id="urgency-characteristic-empty",
    ),
    pytest.param(
        {"priority": {"customerTier": {"parties": {"C-1": "gold"}}}},
        "priority.customerTier.raise",
        "tier 'gold' has no raise",
        id="tier-without-raise",
    ),
    pytest.param(
        {"priority": {"customerTier": {"parties": {"C-1": "gold"}, "raise": {"gold": 4}}}},
        "priority.customerTier.raise",
        "expected a mapping of tier to levels raised",
        id="tier-raise-beyond-the-levels",
    ),
    pytest.param(
        {"priority": {"customerTier": {"parties": ["C-1"]}}},
        "priority.customerTier.parties",
        "expected a mapping of party id to tier name",
        id="tier-parties-not-a-mapping",
    ),
    pytest.param(
        {"priority": {"override": {"roles": "lead"}}},
        "priority.override.roles",
        "expected a list of role names",
        id="override-roles-not-a-list",
    ),
    pytest.param(
        {"priority": {"levels": ["P1", "P2"], "matrix": [["P1", "P2"], ["P2", "P2"]]}},
        "sla.clocks",
        "custom priority levels need their own clock targets",
        id="custom-levels-without-clocks",
    ),
    pytest.param(
        {"sla": {"pauseIn": ["waiting"]}}, "sla.pauseIn", "unknown status 'waiting'", id="pause"
    ),
    pytest.param({"sla": {"clocks": {}}}, "sla.clocks", "expected a mapping", id="no-clocks"),
    pytest.param(
        {"sla": {"clocks": {"resolve": {"targets": targets()}}}},
        "sla.clocks.resolve.stopOn",
        "a clock needs the statuses that stop it",
        id="clock-without-stop-on",
    ),
    pytest.param(
        {"sla": {"clocks": {"resolve": {"stopOn": ["done"], "targets": targets()}}}},
        "sla.clocks.resolve.stopOn",
        "unknown status 'done'",
        id="clock-stops-on-an-unknown-status",
    ),
    pytest.param(
        {
            "sla": {
                "clocks": {
                    "resolve": {"stopOn": ["resolved"], "targets": {**targets(), "Urgent": 1}}
                }
            }
        },
        "sla.clocks.resolve.targets.Urgent",
        "is not one of the priority levels",
        id="target-for-an-unknown-priority",
    ),
    pytest.param(
        {
            "sla": {
                "clocks": {
                    "resolve": {
                        "stopOn": ["resolved"],
                        "targets": {"Critical": "4h", "High": "8h", "Medium": "1d"},
                    }
                }
            }
        },
        "sla.clocks.resolve.targets",
        "no target for priority 'Low'",
        id="missing-target-for-a-level",
    ),
    pytest.param(
        {"sla": {"clocks": {"resolve": {"stopOn": ["resolved"], "targets": targets(High="8x")}}}},
        "sla.clocks.resolve.targets.High",
        "'8x' is not a positive duration",
        id="target-not-a-duration",
    ),
    pytest.param(
        {"sla": {"overrides": [{"clock": "resolve", "targets": {"High": "4h"}}]}},
        "sla.overrides[0]",
        "an override names a ticketType, a tier, or both",
        id="override-naming-no-ticket-type-or-tier",
    ),
    pytest.param(
        {"sla": {"overrides": [{"clock": "respond", "tier": "gold", "targets": {"High": "4h"}}]}},
        "sla.overrides[0].clock",
        "'respond' is not a clock (acknowledge, resolve)",
        id="override-on-an-unknown-clock",
    ),
    pytest.param(
        {"sla": {"overrides": [{"clock": "resolve", "tier": "gold"}]}},
        "sla.overrides[0].targets",
        "expected a mapping of priority to duration",
        id="override-without-targets",
    ),
    pytest.param(
        {"sla": {"overrides": {"clock": "resolve"}}},
        "sla.overrides",
        "expected a list",
        id="overrides-not-a-list",
    ),
    pytest.param(
        {"sla": {"jeopardy": {"warning": 0.9, "breach": 0.8}}},
        "sla.jeopardy",
        "warning (0.9) must come before breach (0.8)",
        id="warning-after-breach",
    ),
    pytest.param(
        {"sla": {"jeopardy": {"warning": 1.0}}},
        "sla.jeopardy",
        "warning (1.0) must come before breach (1.0)",
        id="warning-at-breach",
    ),
    pytest.param(
        {"sla": {"jeopardy": {"warning": "75%"}}},
        "sla.jeopardy.warning",
        "is not a share of the target",
        id="warning-not-a-number",
    ),
    pytest.param(
        {"sla": {"jeopardy": {"breach": 0}}},
        "sla.jeopardy.breach",
        "is not a share of the target",
        id="breach-zero",
    ),
    pytest.param(
        {"sla": {"calendar": {"workingHours": {"monday": ["08:00-18:00"]}}}},
        "sla.calendar.workingHours.monday",
        "unknown weekday",
        id="bad-weekday",
    ),
    pytest.param(
        {"sla": {"calendar": {"workingHours": {"mon": ["8-18"], "tue": ["08:00-18:00"]}}}},
        "sla.calendar.workingHours.mon",
        "'8-18' is not a period such as 08:00-18:00",
        id="bad-period",
    ),
    pytest.param(
        {"sla": {"calendar": {"workingHours": {"mon": ["08:00-24:30"], "tue": ["08:00-18:00"]}}}},
        "sla.calendar.workingHours.mon",
        "'08:00-24:30' has an hour out of range",
        id="period-past-midnight",
    ),
    pytest.param(
        {"sla": {"calendar": {"workingHours": ["08:00-18:00"]}}},
        "sla.calendar.workingHours",
        "expected a mapping of weekday",
        id="working-hours-not-a-mapping",
    ),
    pytest.param(
        {"sla": {"calendar": {"holidays": ["2026-02-30"]}}},
        "sla.calendar.holidays",
        "'2026-02-30' is not a date (YYYY-MM-DD)",
        id="bad-holiday-date",
    ),
    pytest.param(
        {"sla": {"calendar": {"timezone": "Europe/Atlantis"}}},
        "sla.calendar.timezone",
        "'Europe/Atlantis' is not an IANA time zone name",
        id="unknown-timezone",
    ),
    pytest.param(
        {"sla": {"calendar": {"workingHours": {"sat": []}}}},
        "sla.calendar",
        "no working time in the week",
        id="calendar-never-open",
    ),
    pytest.param(
        {"sla": {"calendar": {"workingHours": {"mon": ["08:00-12:00", "11:00-18:00"]}}}},
        "sla.calendar.workingHours.mon",
        "periods overlap at 11:00",
        id="overlapping-periods",
    ),
    pytest.param(
        {"escalation": {"rules": [{"clock": "respond", "on": "warning", "raiseLevelTo": 1}]}},
        "escalation.rules[0].clock",
        "'respond' is not a clock (acknowledge, resolve)",
        id="rule-on-an-unknown-clock",
    ),
    pytest.param(
        {"escalation": {"rules": [{"clock": "resolve", "on": "jeopardy", "raiseLevelTo": 1}]}},
        "escalation.rules[0].on",
        "expected warning or breach",
        id="rule-on-an-unknown-alert",
    ),
    pytest.param(
        {"escalation": {"rules": [{"clock": "resolve", "on": "breach", "raiseLevelTo": 11}]}},
        "escalation.rules[0].raiseLevelTo",
        "expected a level from 0 to 10",
        id="raise-level-to-11",
    ),
    pytest.param(
        {"escalation": {"rules": [{"clock": "resolve", "on": "breach", "raiseLevelTo": "2"}]}},
        "escalation.rules[0].raiseLevelTo",
        "expected a level from 0 to 10",
        id="raise-level-to-text",
    ),
    pytest.param(
        {"escalation": {"rules": [{"clock": "resolve", "on": "breach", "raisePriorityTo": "P0"}]}},
        "escalation.rules[0].raisePriorityTo",
        "'P0' is not one of the priority levels",
        id="raise-priority-to-an-unknown-level",
    ),
    pytest.param(
        {
            "escalation": {
                "rules": [{"clock": "resolve", "on": "breach", "assignTo": {"role": "lead"}}]
            }
        },
        "escalation.rules[0].assignTo",
        "expected {role, partyOrPartyRole: {id, @type, ...}}",
        id="assign-to-without-a-party",
    ),
    pytest.param(
        {"escalation": {"rules": [{"clock": "resolve", "on": "breach"}]}},
        "escalation.rules[0]",
        "a rule does something",
        id="rule-doing-nothing",
    ),
    pytest.param(
        {"escalation": {"rules": {"clock": "resolve"}}},
        "escalation.rules",
        "expected a list",
        id="rules-not-a-list",
    ),
    pytest.param(
        {"monitor": {"interval": "soon"}},
        "monitor.interval",
        "'soon' is not a positive duration",
        id="monitor-interval",
    ),
    pytest.param({"monitor": 5}, "monitor", "expected a mapping", id="monitor-not-a-mapping"),
]


class TestProblems:
    @pytest.mark.parametrize(("data", "path", "message"), PROBLEMS)
    def test_each_problem_is_reported_with_its_path(
        self, data: Any, path: str, message: str
    ) -> None:
        problems = problems_of(data)
        assert any(
            problem.startswith(f"{path}: ") and message in problem for problem in problems
        ), problems

    def test_an_unknown_key_lists_the_known_ones(self) -> None:
        assert problems_of({"sla": {"jeopardy": {"warn": 0.5}}}) == [
            "sla.jeopardy.warn: unknown key (expected one of breach, warning)"
        ]

    def test_every_problem_is_reported_at_once(self) -> None:
        data = yaml.safe_load(
            """
            priority:
              levels: [Critical, High, Medium, Low]
              matrix:
                - [Critical, Critical, High, Medium]
                - [Critical, High, Medium, Low]
                - [High, Medium, Urgent, Low]
                - [Medium, Low, Low]
              urgency:
                values: {High: 5}
              colour: red
            sla:
              calendar:
                timezone: Europe/Atlantis
                workingHours: {mon: ["8-18"], tue: ["08:00-18:00"], funday: ["08:00-18:00"]}
                holidays: ["2026-13-01"]
              clocks:
                resolve:
                  targets: {Critical: 4h, High: 8h, Medium: 1d, Urgent: 1h}
              overrides:
                - clock: resolve
                  targets: {High: 4h}
              jeopardy: {warning: 1.0, breach: 0.9}
            escalation:
              rules:
                - clock: respond
                  "on": breach
                  raiseLevelTo: 11
                  raisePriorityTo: P0
            monitor:
              interval: -1
            """
        )
        problems = problems_of(data)
        assert paths_of(problems) == [
            "priority.colour",
            "priority.matrix[2][2]",
            "priority.matrix[3]",
            "priority.urgency.values.High",
            "sla.calendar.workingHours.mon",
            "sla.calendar.workingHours.funday",
            "sla.calendar.holidays",
            "sla.calendar.timezone",
            "sla.clocks.resolve.stopOn",
            "sla.clocks.resolve.targets.Urgent",
            "sla.clocks.resolve.targets",
            "sla.overrides[0]",
            "sla.jeopardy",
            "escalation.rules[0].clock",
            "escalation.rules[0].raiseLevelTo",
            "escalation.rules[0].raisePriorityTo",
            "monitor.interval",
        ]
        assert "sla.clocks.resolve.targets: no target for priority 'Low'" in problems
        assert "sla.calendar.timezone: 'Europe/Atlantis' is not an IANA time zone name" in problems

    def test_the_message_lists_every_problem(self) -> None:
        with pytest.raises(PolicyError) as raised:
            parse_policy({"monitor": {"interval": 0}, "sla": {"pauseIn": ["nap"]}})
        error = raised.value
        assert isinstance(error, ValueError)
        assert error.problems == [
            "sla.pauseIn: unknown status 'nap'",
            "monitor.interval: 0 is not a positive duration (e.g. 90s, 15m, 4h, 1d, PT4H)",
        ]
        assert str(error) == "invalid policy:\n  " + "\n  ".join(error.problems)

    @pytest.mark.parametrize(
        ("calendar", "path"),
        [
            pytest.param({"timezone": "Europe/Atlantis"}, "sla.calendar.timezone", id="timezone"),
            pytest.param(
                {"workingHours": {"mon": ["18:00-08:00"], "tue": ["08:00-18:00"]}},
                "sla.calendar.workingHours.mon",
                id="period-ending-before-it-starts",
            ),
            pytest.param(
                {"workingHours": {"mon": ["08:00-12:00", "11:00-18:00"]}},
                "sla.calendar.workingHours.mon",
                id="overlapping-periods",
            ),
        ],
    )
    def test_calendar_problems_name_their_key(self, calendar: dict[str, Any], path: str) -> None:
        assert paths_of(problems_of({"sla": {"calendar": calendar}})) == [path]

    @pytest.mark.parametrize(
        ("data", "path"),
        [
            pytest.param(
                {"sla": {"calendar": {"holidays": 20261225}}},
                "sla.calendar.holidays",
                id="holidays-a-number",
            ),
            pytest.param(
                {"sla": {"overrides": [{"clock": ["resolve"], "tier": "gold", "targets": {}}]}},
                "sla.overrides[0].clock",
                id="override-clock-a-list",
            ),
            pytest.param(
                {
                    "escalation": {
                        "rules": [{"clock": ["resolve"], "on": "breach", "raiseLevelTo": 1}]
                    }
                },
                "escalation.rules[0].clock",
                id="rule-clock-a-list",
            ),
        ],
    )
    def test_a_malformed_value_is_a_problem_not_a_crash(self, data: Any, path: str) -> None:
        assert path in paths_of(problems_of(data))

    def test_a_smaller_matrix_needs_positions_that_fit_it(self) -> None:
        data = {"priority": {"matrix": [["Critical", "High"], ["Medium", "Low"]]}}
        try:
            policy = parse_policy(data)
        except PolicyError as error:
            assert {"priority.impact.bySeverity", "priority.urgency.values"} <= set(
                paths_of(error.problems)
            )
            return
        rows, columns = len(policy.priority.matrix), len(policy.priority.matrix[0])
        assert all(row < rows for row in policy.priority.impact.values())
        assert all(column < columns for column in policy.priority.urgency.values())


class TestTargetSpecificity:
    SLA = SlaPolicy(
        calendar=BusinessCalendar.always(),
        pause_in=frozenset({"pending"}),
        clocks=(
            ClockPolicy("resolve", frozenset({"resolved"}), {"High": 8.0, "Low": 72.0}),
            ClockPolicy("acknowledge", frozenset({"inProgress"}), {"High": 1.0, "Low": 4.0}),
        ),
        overrides=(
            TargetOverride("resolve", {"High": 6.0, "Low": 60.0}, ticket_type="complaint"),
            TargetOverride("resolve", {"High": 2.0}, ticket_type="complaint", tier="gold"),
            TargetOverride("resolve", {"High": 4.0, "Low": 50.0}, tier="gold"),
            TargetOverride("acknowledge", {"High": 0.5}, ticket_type="incident"),
        ),
    )

    @pytest.mark.parametrize(
        ("clock", "priority", "ticket_type", "tier", "expected"),
        [
            pytest.param("resolve", "High", "incident", None, 8.0, id="the-clock-default"),
            pytest.param("resolve", "High", "complaint", None, 6.0, id="ticket-type"),
            pytest.param("resolve", "High", "incident", "gold", 4.0, id="tier"),
            pytest.param("resolve", "High", "complaint", "gold", 2.0, id="type-and-tier-win"),
            pytest.param(
                "resolve", "Low", "complaint", "gold", 60.0, id="ticket-type-when-the-pair-skips"
            ),
            pytest.param("resolve", "Low", "incident", "gold", 50.0, id="tier-for-low"),
            pytest.param("resolve", "High", "complaint", "silver", 6.0, id="other-tier"),
            pytest.param("resolve", "Low", None, None, 72.0, id="no-ticket-type"),
            pytest.param("acknowledge", "High", "incident", "gold", 0.5, id="per-clock"),
            pytest.param("acknowledge", "Low", "incident", None, 4.0, id="override-skips-level"),
        ],
    )
    def test_the_most_specific_override_wins(
        self, clock: str, priority: str, ticket_type: Any, tier: str | None, expected: float
    ) -> None:
        assert self.SLA.target(clock, priority, ticket_type, tier) == expected

    def test_override_order_does_not_matter(self) -> None:
        reversed_sla = SlaPolicy(
            calendar=self.SLA.calendar,
            pause_in=self.SLA.pause_in,
            clocks=self.SLA.clocks,
            overrides=tuple(reversed(self.SLA.overrides)),
        )
        for ticket_type in ("complaint", "incident"):
            for tier in ("gold", None):
                assert reversed_sla.target("resolve", "High", ticket_type, tier) == (
                    self.SLA.target("resolve", "High", ticket_type, tier)
                )

    def test_through_parse_policy(self) -> None:
        policy = parse_policy(
            yaml.safe_load(
                """
                sla:
                  overrides:
                    - {clock: resolve, ticketType: complaint, targets: {Medium: 12h}}
                    - {clock: resolve, ticketType: complaint, tier: gold, targets: {Medium: 6h}}
                    - {clock: resolve, tier: gold, targets: {Medium: 18h}}
                """
            )
        )
        target = policy.sla.target
        assert target("resolve", "Medium", "incident", None) == 86400.0
        assert target("resolve", "Medium", "complaint", None) == 43200.0
        assert target("resolve", "Medium", "incident", "gold") == 64800.0
        assert target("resolve", "Medium", "complaint", "gold") == 21600.0
        assert target("acknowledge", "Medium", "complaint", "gold") == 14400.0


class TestIsolation:
    def test_the_parties_partners_may_name_are_read(self) -> None:
        policy = parse_policy({"isolation": {"partnersMayName": ["org-operator", "org-noc"]}})

        assert policy.partners_may_name == frozenset({"org-operator", "org-noc"})

    def test_by_default_a_partner_may_name_no_other_party(self) -> None:
        assert parse_policy({}).partners_may_name == frozenset()

    @pytest.mark.parametrize("value", ["org-operator", [""], [7], {"id": "x"}])
    def test_anything_but_a_list_of_ids_is_a_problem(self, value: Any) -> None:
        assert problems_of({"isolation": {"partnersMayName": value}}) == [
            "isolation.partnersMayName: expected a list of party ids"
        ]
