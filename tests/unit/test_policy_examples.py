"""The example policies in examples/: they parse, document every key, and load through TT_POLICY.

examples/policy.yaml is meant to show every key parse_policy accepts. The tests walk its YAML
nodes along the schema written out below and check, for each key found: that parse_policy reads
it (a misspelt key and a value it cannot use are problems naming the key's path), that it has a
comment, and that no key of the schema is missing from the file.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from troubleticket.bootstrap.files import load_policy
from troubleticket.config import ConfigError, Settings
from troubleticket.context import NO_CONTEXT
from troubleticket.domain.calendar import BusinessCalendar
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.policy import DEFAULT_POLICY, Policy
from troubleticket.domain.policy_file import PolicyError, parse_policy
from troubleticket.types import JSON

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POLICY_FILE = EXAMPLES / "policy.yaml"
FAST_FILE = EXAMPLES / "policy-fast.yaml"

# Every key parse_policy knows. None: a value; a dict: a mapping of these keys; "*": a mapping
# whose keys are names (clock names), each holding the schema given; a list: a list of mappings.
SCHEMA: dict[str, Any] = {
    "priority": {
        "levels": None,
        "matrix": None,
        "impact": {"bySeverity": None, "default": None},
        "urgency": {"characteristic": None, "values": None, "byTicketType": None, "default": None},
        "customerTier": {"parties": None, "raise": None},
        "override": {"roles": None},
    },
    "sla": {
        "calendar": {"timezone": None, "workingHours": None, "holidays": None},
        "pauseIn": None,
        "clocks": {"*": {"stopOn": None, "targets": None}},
        "overrides": [{"clock": None, "ticketType": None, "tier": None, "targets": None}],
        "jeopardy": {"warning": None, "breach": None},
    },
    "escalation": {
        "rules": [
            {
                "clock": None,
                "on": None,
                "raiseLevelTo": None,
                "assignTo": None,
                "raisePriorityTo": None,
            }
        ]
    },
    "monitor": {"interval": None},
    "coordination": {
        "gateResolve": None,
        "mandatory": {"default": None, "byActivityType": None},
        "assignment": [
            {"activityType": None, "byService": None, "fromTicketParty": None, "assignTo": None}
        ],
        "lateActivity": {"raiseLevelTo": None, "assignTo": None, "raisePriorityTo": None},
    },
    "isolation": {"partnersMayName": None},
    "majorIncident": {
        "correlate": [{"name": None, "relatedEntity": None, "characteristic": None}],
        "childClocks": None,
        "rollupInterval": None,
        "cascadeBatch": None,
    },
}


@dataclass(frozen=True)
class Key:
    """A key of the schema where it occurs in a file."""

    pattern: str  # e.g. sla.clocks.*.stopOn, sla.overrides[].clock
    path: str  # e.g. sla.clocks.resolve.stopOn, sla.overrides[1].clock
    route: tuple[str | int, ...]  # the keys and indexes that lead to it in the parsed document
    line: int  # the line of the key, counting from 0


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def schema_patterns(schema: dict[str, Any], prefix: str = "") -> set[str]:
    patterns: set[str] = set()
    for name, child in schema.items():
        pattern = _join(prefix, name)
        if name != "*":
            patterns.add(pattern)
        if isinstance(child, dict):
            patterns |= schema_patterns(child, pattern)
        elif isinstance(child, list):
            patterns |= schema_patterns(child[0], f"{pattern}[]")
    return patterns


def keys_in(
    node: yaml.Node,
    schema: dict[str, Any],
    pattern: str = "",
    path: str = "",
    route: tuple[str | int, ...] = (),
) -> list[Key]:
    """The schema's keys in a composed YAML mapping node, in document order."""
    assert isinstance(node, yaml.MappingNode)
    found: list[Key] = []
    for key_node, value_node in node.value:
        name = key_node.value
        child_route = (*route, name)
        if "*" in schema:
            child, child_pattern = schema["*"], _join(pattern, "*")
        else:
            child, child_pattern = schema.get(name), _join(pattern, name)
            found.append(
                Key(child_pattern, _join(path, name), child_route, key_node.start_mark.line)
            )
        child_path = _join(path, name)
        if isinstance(child, dict) and isinstance(value_node, yaml.MappingNode):
            found += keys_in(value_node, child, child_pattern, child_path, child_route)
        elif isinstance(child, list) and isinstance(value_node, yaml.SequenceNode):
            for index, item in enumerate(value_node.value):
                found += keys_in(
                    item,
                    child[0],
                    f"{child_pattern}[]",
                    f"{child_path}[{index}]",
                    (*child_route, index),
                )
    return found


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


POLICY_TEXT = POLICY_FILE.read_text(encoding="utf-8")
POLICY_DATA = yaml.safe_load(POLICY_TEXT)
POLICY_NODE = yaml.compose(POLICY_TEXT)
assert POLICY_NODE is not None, f"{POLICY_FILE} is empty"
POLICY_KEYS = keys_in(POLICY_NODE, SCHEMA)


def changed(route: tuple[str | int, ...], *, value: Any = None, rename: str | None = None) -> Any:
    """The example policy with the key at ``route`` given ``value`` or renamed to ``rename``."""
    document = copy.deepcopy(POLICY_DATA)
    parent = document
    for step in route[:-1]:
        parent = parent[step]
    if rename is not None:
        parent[rename] = parent.pop(route[-1])
    else:
        parent[route[-1]] = value
    return document


def problems_of(data: Any) -> list[str]:
    with pytest.raises(PolicyError) as raised:
        parse_policy(data)
    return raised.value.problems


def names(problems: list[str]) -> list[str]:
    return [problem.split(": ", 1)[0] for problem in problems]


class TestBothExamplesParse:
    @pytest.mark.parametrize("path", [POLICY_FILE, FAST_FILE], ids=lambda p: p.name)
    def test_the_example_parses(self, path: Path) -> None:
        assert isinstance(parse_policy(load(path)), Policy)

    def test_the_documented_policy(self) -> None:
        policy = parse_policy(POLICY_DATA)
        assert policy.priority.levels == ("Critical", "High", "Medium", "Low")
        assert policy.priority.tier_raise["gold"] == 1
        assert policy.priority.override_roles
        calendar = policy.sla.calendar
        assert calendar.timezone == "Europe/Berlin"
        assert dict(calendar.hours) == {day: ((time(8), time(18)),) for day in range(1, 6)}
        assert len(calendar.holidays) >= 2
        acknowledge, resolve = policy.sla.clocks
        assert (acknowledge.name, resolve.name) == ("acknowledge", "resolve")
        assert acknowledge.targets["Critical"] == 15 * 60
        assert resolve.targets["Critical"] == 4 * 3600
        assert any(o.ticket_type == "complaint" for o in policy.sla.overrides)
        assert (policy.sla.warning, policy.sla.breach) == (0.75, 1.0)
        warning, breach = policy.escalation
        assert (warning.clock, warning.on, warning.raise_level_to) == ("resolve", "warning", 1)
        assert warning.assign_to is not None
        assert warning.assign_to["role"] == "supervisor"
        assert (breach.clock, breach.on, breach.raise_level_to, breach.raise_priority_to) == (
            "resolve",
            "breach",
            2,
            "Critical",
        )

    def test_the_fast_policy(self) -> None:
        policy = parse_policy(load(FAST_FILE))
        assert policy.priority == DEFAULT_POLICY.priority
        assert policy.sla.calendar == BusinessCalendar.always()
        assert policy.sla.pause_in == DEFAULT_POLICY.sla.pause_in
        assert [(c.name, dict(c.targets)) for c in policy.sla.clocks] == [
            ("acknowledge", {"Critical": 4.0, "High": 6.0, "Medium": 8.0, "Low": 10.0}),
            ("resolve", {"Critical": 8.0, "High": 12.0, "Medium": 16.0, "Low": 20.0}),
        ]
        assert [sorted(c.stop_on) for c in policy.sla.clocks] == [
            ["closed", "inProgress", "resolved"],
            ["closed", "resolved"],
        ]
        assert policy.sla.overrides == ()
        assert (policy.sla.warning, policy.sla.breach) == (0.75, 1.0)
        assert [
            (r.clock, r.on, r.raise_level_to, r.assign_to, r.raise_priority_to)
            for r in policy.escalation
        ] == [
            ("resolve", "warning", 1, None, None),
            ("resolve", "breach", 2, None, "Critical"),
        ]
        assert policy.monitor_interval == 0.25

    def test_the_fast_policy_escalates_within_seconds(self) -> None:
        policy = parse_policy(load(FAST_FILE))
        tickets = ManagedTicket(policy)
        start = datetime(2026, 11, 20, 8, tzinfo=UTC)
        body: JSON = {
            "@type": "TroubleTicket",
            "description": "Demo",
            "severity": "Major",
            "ticketType": "incident",
            "status": "inProgress",
        }
        ticket = tickets.create(body, resource_id="1", now=start, context=NO_CONTEXT)
        assert ticket["priority"] == "Medium"
        assert ticket["expectedResolutionDate"] == "2026-11-20T08:00:16.000Z"
        assert ticket["slaNextCheck"] == "2026-11-20T08:00:12.000Z"
        ticket = tickets.tick(ticket, now=start + timedelta(seconds=12.25))
        assert ticket["escalationLevel"] == 1
        ticket = tickets.tick(ticket, now=start + timedelta(seconds=16.25))
        assert ticket["escalationLevel"] == 2
        assert ticket["priority"] == "Critical"
        assert [(a["id"], a["alertDate"]) for a in ticket["troubleTicketJeopardyAlert"]] == [
            ("resolve-warning", "2026-11-20T08:00:12.000Z"),
            ("resolve-breach", "2026-11-20T08:00:16.000Z"),
        ]

    def test_the_documented_policy_for_a_gold_complaint_on_friday_evening(self) -> None:
        policy = parse_policy(POLICY_DATA)
        body: JSON = {
            "@type": "TroubleTicket",
            "description": "Invoice charged twice",
            "severity": "Major",
            "ticketType": "complaint",
            "relatedParty": [
                {
                    "@type": "RelatedPartyRefOrPartyRoleRef",
                    "role": "customer",
                    "partyOrPartyRole": {"@type": "PartyRef", "id": "C-1001"},
                }
            ],
        }
        # Friday 20 November 2026, 17:30 in Berlin (CET)
        friday = datetime(2026, 11, 20, 16, 30, tzinfo=UTC)
        ticket = ManagedTicket(policy).create(body, resource_id="1", now=friday, context=NO_CONTEXT)
        # complaint: urgency High; Major/High is High, raised one level for gold
        assert ticket["priority"] == "Critical"
        clocks = {c["name"]: c for c in ticket["slaClock"]}
        # the complaint override: 10 min, by 17:40 Berlin
        assert clocks["acknowledge"]["deadline"] == "2026-11-20T16:40:00.000Z"
        # gold: 2 h, half an hour on Friday and 1.5 h from 08:00 on Monday 23 November
        assert ticket["expectedResolutionDate"] == "2026-11-23T08:30:00.000Z"


class TestEveryKeyIsDocumented:
    def test_the_schema_is_complete_in_the_file(self) -> None:
        assert {key.pattern for key in POLICY_KEYS} == schema_patterns(SCHEMA)

    @pytest.mark.parametrize("key", POLICY_KEYS, ids=lambda key: key.path)
    def test_a_misspelt_key_is_reported(self, key: Key) -> None:
        misspelt = f"{key.route[-1]}X"
        problems = problems_of(changed(key.route, rename=misspelt))
        parent = key.path[: -len(str(key.route[-1]))].rstrip(".") or "policy"
        assert f"{parent}.{misspelt}" in names(problems)

    @pytest.mark.parametrize(
        "key",
        [
            key
            for key in POLICY_KEYS
            if not key.pattern.endswith(("overrides[].ticketType", "overrides[].tier"))
        ],
        ids=lambda key: key.path,
    )
    def test_a_value_parse_policy_cannot_use_is_reported_at_the_key(self, key: Key) -> None:
        special = {
            # a time zone's problems are reported for the whole calendar
            "sla.calendar.timezone": ("Europe/Atlantis", "sla.calendar"),
            # a holidays value that is no list is not reported but crashes (see test_policy)
            "sla.calendar.holidays": (["someday"], "sla.calendar.holidays"),
            # switches take true as a value; a string is what they cannot use
            "coordination.gateResolve": ("yes", "coordination.gateResolve"),
            "coordination.mandatory.default": ("yes", "coordination.mandatory.default"),
        }
        value, expected = special.get(key.pattern, (True, key.path))
        problems = problems_of(changed(key.route, value=value))
        assert any(
            name == expected or name.startswith((f"{expected}.", f"{expected}["))
            for name in names(problems)
        ), problems

    @pytest.mark.parametrize("selector", ["ticketType", "tier"])
    def test_an_override_selector_is_read(self, selector: str) -> None:
        (index, override) = next(
            (i, o)
            for i, o in enumerate(POLICY_DATA["sla"]["overrides"])
            if set(o) & {"ticketType", "tier"} == {selector}
        )
        problems = problems_of(changed(("sla", "overrides", index, selector), value=None))
        assert f"sla.overrides[{index}]" in names(problems)
        assert override["clock"] in ("acknowledge", "resolve")

    @pytest.mark.parametrize("key", POLICY_KEYS, ids=lambda key: key.path)
    def test_each_key_has_a_comment(self, key: Key) -> None:
        first = next(k for k in POLICY_KEYS if k.pattern == key.pattern)
        if key != first:
            return  # a key repeated in another clock, override or rule is explained once
        lines = POLICY_TEXT.splitlines()
        line = lines[key.line]
        above = [text.strip() for text in lines[: key.line] if text.strip()]
        assert " # " in line or (above and above[-1].startswith("#")), line


class TestLoadPolicy:
    def test_without_tt_policy_the_default_applies(self) -> None:
        assert load_policy(Settings()) is DEFAULT_POLICY

    @pytest.mark.parametrize("path", [POLICY_FILE, FAST_FILE], ids=lambda p: p.name)
    def test_an_example_file_loads(self, path: Path) -> None:
        assert load_policy(Settings(policy=str(path))) == parse_policy(load(path))

    def test_tt_policy_names_the_file(self) -> None:
        settings = Settings.from_env({"TT_POLICY": str(FAST_FILE)})
        assert load_policy(settings).monitor_interval == 0.25

    def test_a_broken_file_names_each_problem(self, tmp_path: Path) -> None:
        broken = tmp_path / "policy.yaml"
        broken.write_text(
            "sla:\n"
            "  jeopardy: {warning: 1.5, breach: 1.2}\n"
            "  pauseIn: [waiting]\n"
            "escalation:\n"
            "  rules:\n"
            '    - {clock: respond, "on": breach, raiseLevelTo: 12}\n'
            "monitor: {interval: soon}\n",
            encoding="utf-8",
        )
        with pytest.raises(ConfigError) as raised:
            load_policy(Settings(policy=str(broken)))
        message = str(raised.value)
        assert message.startswith(f"TT_POLICY: {broken}: invalid policy:")
        expected = [
            "sla.pauseIn: unknown status 'waiting'",
            "sla.jeopardy: warning (1.5) must come before breach (1.2)",
            "escalation.rules[0].clock: 'respond' is not a clock (acknowledge, resolve)",
            "escalation.rules[0].raiseLevelTo: expected a level from 0 to 10",
            "monitor.interval: 'soon' is not a positive duration (e.g. 90s, 15m, 4h, 1d, PT4H)",
        ]
        for problem in expected:
            assert f"\n  {problem}" in message
        assert message.count("\n  ") == len(expected)

    def test_a_missing_file(self, tmp_path: Path) -> None:
        missing = tmp_path / "nowhere.yaml"
        with pytest.raises(ConfigError, match="TT_POLICY: cannot read .*nowhere.yaml"):
            load_policy(Settings(policy=str(missing)))

    def test_a_file_that_is_not_yaml(self, tmp_path: Path) -> None:
        bad = tmp_path / "policy.yaml"
        bad.write_text("sla: {clocks: [unclosed\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="is not valid YAML"):
            load_policy(Settings(policy=str(bad)))

    def test_a_file_that_is_not_a_mapping(self, tmp_path: Path) -> None:
        bad = tmp_path / "policy.yaml"
        bad.write_text("- priority\n- sla\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="policy: expected a mapping"):
            load_policy(Settings(policy=str(bad)))

    def test_an_escalation_rule_may_write_on_without_quotes(self, tmp_path: Path) -> None:
        policy_file = tmp_path / "policy.yaml"
        policy_file.write_text(
            "escalation:\n"
            "  rules:\n"
            "    - clock: resolve\n"
            "      on: breach\n"
            "      raiseLevelTo: 1\n",
            encoding="utf-8",
        )
        (rule,) = load_policy(Settings(policy=str(policy_file))).escalation
        assert (rule.clock, rule.on, rule.raise_level_to) == ("resolve", "breach", 1)
