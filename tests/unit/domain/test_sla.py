"""The service policy applied to tickets: priority, SLA clocks, jeopardy alerts and escalation.

Tickets go through ManagedTicket (the lifecycle rules, then the policy) under small policies
written out below; every expected instant is worked out by hand from T0.

Unless a test says otherwise the ticket has severity Major and no urgency, which the default
matrix makes Medium: acknowledge within 4 h, resolve within 24 h, warnings at 75 % (3 h, 18 h).
Calendar tests use Europe/Berlin office hours, Monday to Friday 08:00-18:00, in January 2026
(CET, UTC+1): Thu 15, Fri 16, Mon 19, Tue 20.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from troubleticket.context import NO_CONTEXT, Context
from troubleticket.domain.documents import timestamp
from troubleticket.domain.errors import Forbidden, InvalidRequest
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.policy import Policy
from troubleticket.domain.policy_file import parse_policy
from troubleticket.types import JSON

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600.0

CLOCKS: dict[str, Any] = {
    "acknowledge": {
        "stopOn": ["inProgress", "resolved", "closed"],
        "targets": {"Critical": "15m", "High": "1h", "Medium": "4h", "Low": "8h"},
    },
    "resolve": {
        "stopOn": ["resolved", "closed"],
        "targets": {"Critical": "4h", "High": "8h", "Medium": "24h", "Low": "72h"},
    },
}
OFFICE_HOURS: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "workingHours": {day: ["08:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
}
OFFICE_CLOCKS: dict[str, Any] = {
    "acknowledge": {
        "stopOn": ["inProgress", "resolved", "closed"],
        "targets": {"Critical": "30m", "High": "1h", "Medium": "2h", "Low": "4h"},
    },
    "resolve": {
        "stopOn": ["resolved", "closed"],
        "targets": {"Critical": "4h", "High": "6h", "Medium": "8h", "Low": "20h"},
    },
}
SUPERVISOR = {
    "role": "supervisor",
    "partyOrPartyRole": {"@type": "PartyRoleRef", "id": "pr-sup", "name": "Desk supervisor"},
}
ESCALATION_RULES = [
    {"clock": "resolve", "on": "warning", "raiseLevelTo": 1, "assignTo": SUPERVISOR},
    {"clock": "resolve", "on": "breach", "raiseLevelTo": 2, "raisePriorityTo": "Critical"},
]


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def make_policy(**sections: Any) -> Policy:
    """The 24x7 clocks above plus the given sections, through parse_policy."""
    return parse_policy(merged({"sla": {"clocks": CLOCKS}}, sections))


def office_policy(holidays: list[str] | None = None) -> Policy:
    calendar = {**OFFICE_HOURS, "holidays": holidays or []}
    return parse_policy({"sla": {"calendar": calendar, "clocks": OFFICE_CLOCKS}})


POLICY = make_policy()


def at(hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def z(moment: datetime) -> str:
    return timestamp(moment)


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Berlin in January 2026."""
    return datetime(2026, 1, day, hour, minute, tzinfo=BERLIN)


def urgency(value: str, name: str = "urgency") -> list[JSON]:
    return [{"@type": "StringCharacteristic", "name": name, "value": value}]


def customer(party_id: str, role: str = "customer") -> JSON:
    return {
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "role": role,
        "partyOrPartyRole": {"@type": "PartyRef", "@referredType": "Organization", "id": party_id},
    }


def create(
    policy: Policy = POLICY, *, now: datetime = T0, context: Context = NO_CONTEXT, **fields: Any
) -> JSON:
    body: JSON = {
        "@type": "TroubleTicket",
        "description": "No sync on the DSL line",
        "severity": "Major",
        "ticketType": "incident",
        **fields,
    }
    return ManagedTicket(policy).create(body, resource_id="TT-1", now=now, context=context)


def patch(
    ticket: JSON,
    changes: JSON,
    now: datetime,
    policy: Policy = POLICY,
    context: Context = NO_CONTEXT,
) -> JSON:
    return ManagedTicket(policy).patch(ticket, changes, now=now, context=context)


def tick(ticket: JSON, now: datetime, policy: Policy = POLICY) -> JSON:
    return ManagedTicket(policy).tick(ticket, now=now)


def clock(ticket: JSON, name: str) -> JSON:
    found: JSON
    (found,) = [c for c in ticket["slaClock"] if c["name"] == name]
    return found


def alerts(ticket: JSON) -> list[tuple[str, str]]:
    """The ticket's jeopardy alerts as (id, alertDate), in the order raised."""
    return [(a["id"], a["alertDate"]) for a in ticket.get("troubleTicketJeopardyAlert", [])]


def in_progress(policy: Policy = POLICY, **fields: Any) -> JSON:
    """A ticket created at T0 straight into inProgress: its acknowledge clock is met at once."""
    return create(policy, status="inProgress", **fields)


# -- priority --------------------------------------------------------------------------------


class TestMatrix:
    @pytest.mark.parametrize(
        ("severity", "urgency_value", "expected"),
        [
            ("Critical", "Critical", "Critical"),
            ("Critical", "High", "Critical"),
            ("Critical", "Medium", "High"),
            ("Critical", "Low", "Medium"),
            ("Major", "High", "High"),
            ("Major", "Low", "Low"),
            ("Minor", "Critical", "High"),
            ("Minor", "High", "Medium"),
            ("Warning", "Critical", "Medium"),
            ("Warning", "Medium", "Low"),
        ],
    )
    def test_severity_and_urgency_pick_the_cell(
        self, severity: str, urgency_value: str, expected: str
    ) -> None:
        ticket = create(severity=severity, troubleTicketCharacteristic=urgency(urgency_value))
        assert ticket["priority"] == expected

    def test_without_an_urgency_the_default_column_applies(self) -> None:
        assert create(severity="Major")["priority"] == "Medium"  # column 3
        assert create(severity="Critical")["priority"] == "High"

    def test_an_unknown_severity_takes_the_default_row(self) -> None:
        # row 3 (Minor), column 3 (Medium): Low; with urgency Critical: High
        assert create(severity="Cosmetic")["priority"] == "Low"
        assert (
            create(severity="Cosmetic", troubleTicketCharacteristic=urgency("Critical"))["priority"]
            == "High"
        )

    def test_configured_defaults(self) -> None:
        policy = make_policy(priority={"impact": {"default": 1}, "urgency": {"default": 4}})
        assert create(policy, severity="Major")["priority"] == "Low"  # row 2, column 4
        assert create(policy, severity="Cosmetic")["priority"] == "Medium"  # row 1, column 4

    def test_the_ticket_type_gives_the_urgency_when_the_characteristic_is_absent(self) -> None:
        policy = make_policy(priority={"urgency": {"byTicketType": {"complaint": 2, "query": 4}}})
        assert create(policy, ticketType="complaint")["priority"] == "High"
        assert create(policy, ticketType="query")["priority"] == "Low"
        assert create(policy, ticketType="incident")["priority"] == "Medium"
        # the characteristic wins over the ticket type
        ticket = create(
            policy, ticketType="complaint", troubleTicketCharacteristic=urgency("Critical")
        )
        assert ticket["priority"] == "Critical"

    def test_a_characteristic_value_the_policy_does_not_know_is_ignored(self) -> None:
        policy = make_policy(priority={"urgency": {"byTicketType": {"complaint": 2}}})
        ticket = create(
            policy, ticketType="complaint", troubleTicketCharacteristic=urgency("Whenever")
        )
        assert ticket["priority"] == "High"

    def test_the_urgency_characteristic_is_configurable(self) -> None:
        policy = make_policy(
            priority={
                "urgency": {"characteristic": "businessImpact", "values": {"now": 1, "later": 4}}
            }
        )
        ticket = create(
            policy,
            troubleTicketCharacteristic=[
                *urgency("Low"),  # named "urgency": not the policy's characteristic
                *urgency("now", name="businessImpact"),
            ],
        )
        assert ticket["priority"] == "Critical"

    # Rows are impact (from the severity), columns urgency: a matrix that is not its own
    # transpose tells the two apart, which the default one (symmetric) cannot.
    IMPACT_FIRST = make_policy(
        priority={
            "matrix": [
                #  urgency: Critical  High        Medium      Low
                ["Critical", "Critical", "Critical", "High"],  # impact 1: Critical
                ["High", "High", "Medium", "Medium"],  # impact 2: Major
                ["Medium", "Medium", "Low", "Low"],  # impact 3: Minor
                ["Low", "Low", "Low", "Low"],  # impact 4: Warning
            ]
        }
    )

    @pytest.mark.parametrize(
        ("severity", "urgency_value", "expected"),
        [
            ("Critical", "Low", "High"),  # row 1, column 4 (row 4, column 1 is Low)
            ("Warning", "Critical", "Low"),  # row 4, column 1 (row 1, column 4 is High)
            ("Major", "Low", "Medium"),  # row 2, column 4 (row 4, column 2 is Low)
            ("Major", "Critical", "High"),  # row 2, column 1 (row 1, column 2 is Critical)
            ("Minor", "Critical", "Medium"),  # row 3, column 1 (row 1, column 3 is Critical)
        ],
    )
    def test_the_row_is_the_impact_and_the_column_the_urgency(
        self, severity: str, urgency_value: str, expected: str
    ) -> None:
        ticket = create(
            self.IMPACT_FIRST,
            severity=severity,
            troubleTicketCharacteristic=urgency(urgency_value),
        )
        assert ticket["priority"] == expected

    def test_a_matrix_may_have_fewer_impacts_than_urgencies(self) -> None:
        policy = make_policy(
            priority={
                "matrix": [
                    #  urgency: High     Medium    Low
                    ["Critical", "High", "Medium"],  # impact 1: Critical
                    ["High", "Medium", "Low"],  # impact 2: every other severity
                ],
                "impact": {"bySeverity": {"Critical": 1}, "default": 2},
                "urgency": {"values": {"High": 1, "Medium": 2, "Low": 3}, "default": 2},
            }
        )
        assert create(policy, severity="Critical")["priority"] == "High"
        low = create(policy, severity="Major", troubleTicketCharacteristic=urgency("Low"))
        assert low["priority"] == "Low"
        urgent = create(policy, severity="Critical", troubleTicketCharacteristic=urgency("High"))
        assert urgent["priority"] == "Critical"

    def test_a_new_ticket_records_its_first_priority(self) -> None:
        ticket = create()
        assert ticket["priorityHistory"] == [
            {"@type": "PriorityChange", "priority": "Medium", "date": z(T0), "source": "matrix"}
        ]
        assert "priorityOverride" not in ticket


class TestCustomerTier:
    POLICY = make_policy(
        priority={
            "customerTier": {
                "parties": {"C-GOLD": "gold", "C-PLAIN": "standard"},
                "raise": {"gold": 1, "standard": 0},
            }
        }
    )

    def test_a_gold_customer_raises_the_priority_one_level(self) -> None:
        ticket = create(self.POLICY, relatedParty=[customer("C-GOLD")])
        assert ticket["priority"] == "High"

    def test_a_tier_without_a_raise_and_an_unknown_customer_change_nothing(self) -> None:
        assert create(self.POLICY, relatedParty=[customer("C-PLAIN")])["priority"] == "Medium"
        assert create(self.POLICY, relatedParty=[customer("C-OTHER")])["priority"] == "Medium"

    def test_only_the_customer_role_counts(self) -> None:
        owner = customer("C-GOLD", role="owner")
        assert create(self.POLICY, relatedParty=[owner])["priority"] == "Medium"
        assert create(self.POLICY, relatedParty=[customer("C-GOLD", "Customer")])["priority"] == (
            "High"
        )

    def test_the_first_customer_decides(self) -> None:
        parties = [customer("C-PLAIN"), customer("C-GOLD")]
        assert create(self.POLICY, relatedParty=parties)["priority"] == "Medium"

    def test_the_highest_level_stays_the_highest(self) -> None:
        ticket = create(
            self.POLICY,
            severity="Critical",
            troubleTicketCharacteristic=urgency("High"),
            relatedParty=[customer("C-GOLD")],
        )
        assert ticket["priority"] == "Critical"

    def test_the_tier_picks_its_sla_targets(self) -> None:
        policy = make_policy(
            priority={"customerTier": {"parties": {"C-GOLD": "gold"}, "raise": {"gold": 0}}},
            sla={"overrides": [{"clock": "resolve", "tier": "gold", "targets": {"Medium": "6h"}}]},
        )
        ticket = create(policy, relatedParty=[customer("C-GOLD")])
        assert clock(ticket, "resolve")["targetSeconds"] == 6 * HOUR
        assert ticket["expectedResolutionDate"] == z(at(6))
        assert clock(create(policy), "resolve")["targetSeconds"] == 24 * HOUR


class TestRecomputed:
    def test_a_severity_change_moves_the_priority_and_is_recorded(self) -> None:
        ticket = patch(create(), {"severity": "Critical"}, at(1))
        assert ticket["priority"] == "High"
        assert ticket["priorityHistory"][1:] == [
            {
                "@type": "PriorityChange",
                "priority": "High",
                "date": z(at(1)),
                "previousPriority": "Medium",
                "source": "matrix",
            }
        ]

    def test_an_urgency_change_moves_the_priority_and_is_recorded(self) -> None:
        ticket = patch(create(), {"troubleTicketCharacteristic": urgency("High")}, at(1))
        assert ticket["priority"] == "High"
        ticket = patch(ticket, {"troubleTicketCharacteristic": urgency("Low")}, at(2))
        assert ticket["priority"] == "Low"
        assert [
            (e["previousPriority"], e["priority"], e["date"]) for e in ticket["priorityHistory"][1:]
        ] == [("Medium", "High", z(at(1))), ("High", "Low", z(at(2)))]

    def test_a_change_that_keeps_the_priority_adds_no_history(self) -> None:
        # Major/High and Critical/Medium are both High
        ticket = create(troubleTicketCharacteristic=urgency("High"))
        ticket = patch(
            ticket,
            {"severity": "Critical", "troubleTicketCharacteristic": urgency("Medium")},
            at(1),
        )
        assert ticket["priority"] == "High"
        assert len(ticket["priorityHistory"]) == 1

    def test_a_new_customer_tier_moves_the_priority(self) -> None:
        policy = make_policy(
            priority={"customerTier": {"parties": {"C-GOLD": "gold"}, "raise": {"gold": 1}}}
        )
        ticket = patch(create(policy), {"relatedParty": [customer("C-GOLD")]}, at(1), policy)
        assert ticket["priority"] == "High"
        assert ticket["priorityHistory"][-1]["source"] == "matrix"


class TestOverride:
    def test_another_priority_without_a_reason_is_a_request_the_matrix_still_decides(
        self,
    ) -> None:
        for patch_body in (
            {"priority": "Critical"},
            {"priority": "Critical", "priorityChangeReason": "  "},
        ):
            ticket = patch(create(), patch_body, at(1))
            assert ticket["priority"] == "Medium"
            assert ticket["requestedPriority"] == "Critical"
            assert "priorityOverride" not in ticket
            assert len(ticket["priorityHistory"]) == 1
            assert clock(ticket, "resolve")["targetSeconds"] == 24 * HOUR

    def test_another_priority_on_create_without_a_reason_is_kept_as_requested(self) -> None:
        ticket = create(priority="Low")
        assert ticket["priority"] == "Medium"
        assert ticket["requestedPriority"] == "Low"
        # a level the policy does not know is a request like any other
        assert create(priority="P1")["requestedPriority"] == "P1"

    def test_another_priority_on_create_with_a_reason_is_an_override(self) -> None:
        ticket = create(priority="Low", priorityChangeReason="test line", context=Context("ann"))
        assert ticket["priority"] == "Low"
        assert ticket["priorityOverride"]["source"] == "client"
        assert "requestedPriority" not in ticket
        assert ticket["priorityHistory"] == [
            {
                "@type": "PriorityChange",
                "priority": "Low",
                "date": z(T0),
                "reason": "test line",
                "source": "client",
            }
        ]

    def test_an_override_or_null_replaces_the_request(self) -> None:
        requested = patch(create(), {"priority": "High"}, at(1))
        overridden = patch(requested, {"priority": "Low", "priorityChangeReason": "x"}, at(2))
        assert "requestedPriority" not in overridden
        assert "requestedPriority" not in patch(requested, {"priority": None}, at(2))

    def test_an_echo_keeps_the_request(self) -> None:
        requested = patch(create(), {"priority": "High"}, at(1))
        echoed = patch(requested, {"priority": "Medium", "description": "x"}, at(2))
        assert echoed["requestedPriority"] == "High"

    def test_an_override_to_an_unknown_priority_is_refused(self) -> None:
        with pytest.raises(InvalidRequest, match="'Urgent' is not one of Critical, High") as e:
            patch(create(), {"priority": "Urgent", "priorityChangeReason": "why not"}, at(1))
        assert e.value.code == "unknownPriority"

    def test_with_a_reason_the_priority_sticks(self) -> None:
        ticket = patch(
            create(),
            {"priority": "Critical", "priorityChangeReason": "hospital line"},
            at(1),
            context=Context(actor="alice"),
        )
        assert ticket["priority"] == "Critical"
        assert ticket["priorityOverride"] == {
            "@type": "PriorityOverride",
            "priority": "Critical",
            "reason": "hospital line",
            "date": z(at(1)),
            "source": "client",
            "actor": "alice",
        }
        assert ticket["priorityHistory"][-1] == {
            "@type": "PriorityChange",
            "priority": "Critical",
            "date": z(at(1)),
            "previousPriority": "Medium",
            "reason": "hospital line",
            "source": "client",
        }
        assert "priorityChangeReason" not in ticket
        # the targets follow the priority
        assert clock(ticket, "resolve")["targetSeconds"] == 4 * HOUR
        assert ticket["expectedResolutionDate"] == z(at(4))

    def test_without_an_actor_the_override_names_none(self) -> None:
        ticket = patch(create(), {"priority": "Low", "priorityChangeReason": "test"}, at(1))
        assert "actor" not in ticket["priorityOverride"]

    def test_matrix_changes_no_longer_move_an_override(self) -> None:
        ticket = patch(create(), {"priority": "Critical", "priorityChangeReason": "VIP"}, at(1))
        ticket = patch(
            ticket,
            {"severity": "Warning", "troubleTicketCharacteristic": urgency("Low")},
            at(2),
        )
        assert ticket["priority"] == "Critical"
        assert len(ticket["priorityHistory"]) == 2

    def test_null_returns_the_ticket_to_the_matrix(self) -> None:
        ticket = patch(create(), {"priority": "Critical", "priorityChangeReason": "VIP"}, at(1))
        ticket = patch(ticket, {"severity": "Warning"}, at(2))
        ticket = patch(ticket, {"priority": None}, at(3))
        assert ticket["priority"] == "Low"  # Warning / Medium
        assert "priorityOverride" not in ticket
        assert ticket["priorityHistory"][-1] == {
            "@type": "PriorityChange",
            "priority": "Low",
            "date": z(at(3)),
            "previousPriority": "Critical",
            "source": "matrix",
        }
        assert clock(ticket, "resolve")["targetSeconds"] == 72 * HOUR

    def test_a_second_override_replaces_the_first(self) -> None:
        ticket = patch(create(), {"priority": "Critical", "priorityChangeReason": "VIP"}, at(1))
        ticket = patch(ticket, {"priority": "High", "priorityChangeReason": "calmer now"}, at(2))
        assert ticket["priorityOverride"]["priority"] == "High"
        assert ticket["priorityOverride"]["reason"] == "calmer now"
        assert ticket["priorityHistory"][-1]["previousPriority"] == "Critical"

    def test_echoing_the_current_priority_is_no_override(self) -> None:
        ticket = patch(create(), {"description": "Line down", "priority": "Medium"}, at(1))
        assert ticket["priority"] == "Medium"
        assert "priorityOverride" not in ticket
        assert len(ticket["priorityHistory"]) == 1
        # an override in place is echoed the same way
        ticket = patch(ticket, {"priority": "Critical", "priorityChangeReason": "VIP"}, at(2))
        ticket = patch(ticket, {"description": "Line still down", "priority": "Critical"}, at(3))
        assert ticket["priorityOverride"]["date"] == z(at(2))
        assert len(ticket["priorityHistory"]) == 2

    def test_a_reason_without_a_priority_is_dropped(self) -> None:
        ticket = patch(create(), {"priorityChangeReason": "just because"}, at(1))
        assert "priorityChangeReason" not in ticket
        assert "priorityOverride" not in ticket


class TestOverrideRoles:
    POLICY = make_policy(priority={"override": {"roles": ["lead", "manager"]}})
    OVERRIDE: JSON = {"priority": "Critical", "priorityChangeReason": "outage"}

    @pytest.mark.parametrize(
        "context",
        [NO_CONTEXT, Context(actor="bob"), Context(actor="bob", roles=frozenset({"agent"}))],
    )
    def test_without_a_role_the_override_is_forbidden(self, context: Context) -> None:
        with pytest.raises(Forbidden, match="lead, manager"):
            patch(create(self.POLICY), self.OVERRIDE, at(1), self.POLICY, context)
        with pytest.raises(Forbidden):
            create(self.POLICY, context=context, **self.OVERRIDE)

    def test_removing_an_override_needs_the_role_too(self) -> None:
        lead = Context(actor="carol", roles=frozenset({"lead"}))
        ticket = patch(create(self.POLICY), self.OVERRIDE, at(1), self.POLICY, lead)
        with pytest.raises(Forbidden):
            patch(ticket, {"priority": None}, at(2), self.POLICY, Context(actor="bob"))
        assert patch(ticket, {"priority": None}, at(2), self.POLICY, lead)["priority"] == "Medium"

    @pytest.mark.parametrize("roles", [{"lead"}, {"agent", "manager"}])
    def test_with_a_role_the_override_is_accepted(self, roles: set[str]) -> None:
        context = Context(actor="carol", roles=frozenset(roles))
        ticket = patch(create(self.POLICY), self.OVERRIDE, at(1), self.POLICY, context)
        assert ticket["priority"] == "Critical"
        assert ticket["priorityOverride"]["actor"] == "carol"

    def test_without_roles_configured_anyone_may(self) -> None:
        ticket = patch(create(), self.OVERRIDE, at(1))
        assert ticket["priority"] == "Critical"

    def test_other_changes_need_no_role(self) -> None:
        ticket = patch(create(self.POLICY), {"severity": "Critical"}, at(1), self.POLICY)
        assert ticket["priority"] == "High"

    def test_a_request_without_a_reason_needs_no_role(self) -> None:
        ticket = patch(create(self.POLICY), {"priority": "Critical"}, at(1), self.POLICY)
        assert (ticket["priority"], ticket["requestedPriority"]) == ("Medium", "Critical")

    def test_echoing_the_current_priority_needs_no_role(self) -> None:
        ticket = patch(
            create(self.POLICY),
            {"description": "Line down", "priority": "Medium"},
            at(1),
            self.POLICY,
        )
        assert ticket["priority"] == "Medium"
        assert create(self.POLICY, priority="Medium")["priority"] == "Medium"


class TestClientExpectedResolutionDate:
    SENT = "2019-06-10T07:34:45.968Z"

    def test_on_create_the_resolve_deadline_is_shown_and_the_clients_date_kept(self) -> None:
        ticket = create(expectedResolutionDate=self.SENT)
        assert ticket["expectedResolutionDate"] == z(at(24))
        assert ticket["clientExpectedResolutionDate"] == self.SENT

    def test_a_patch_replaces_the_clients_date_and_an_echo_changes_nothing(self) -> None:
        ticket = create(expectedResolutionDate=self.SENT)
        ticket = patch(ticket, {"expectedResolutionDate": "2026-11-22T00:00:00Z"}, at(1))
        assert ticket["clientExpectedResolutionDate"] == "2026-11-22T00:00:00Z"
        assert ticket["expectedResolutionDate"] == z(at(24))
        echoed = patch(ticket, {"expectedResolutionDate": z(at(24)), "name": "x"}, at(2))
        assert echoed["clientExpectedResolutionDate"] == "2026-11-22T00:00:00Z"
        removed = patch(ticket, {"expectedResolutionDate": None}, at(2))
        assert "clientExpectedResolutionDate" not in removed
        assert removed["expectedResolutionDate"] == z(at(24))

    def test_without_a_resolve_clock_the_clients_date_is_the_value(self) -> None:
        policy = parse_policy({"sla": {"clocks": {"acknowledge": CLOCKS["acknowledge"]}}})
        ticket = create(policy, expectedResolutionDate=self.SENT)
        assert ticket["expectedResolutionDate"] == self.SENT
        assert "clientExpectedResolutionDate" not in ticket
        ticket = patch(ticket, {"expectedResolutionDate": "2026-12-01T00:00:00Z"}, at(1), policy)
        assert ticket["expectedResolutionDate"] == "2026-12-01T00:00:00Z"


# -- clocks ----------------------------------------------------------------------------------


class TestClocks:
    def test_a_new_ticket_starts_every_clock(self) -> None:
        ticket = create()
        assert clock(ticket, "acknowledge") == {
            "@type": "SlaClock",
            "name": "acknowledge",
            "state": "running",
            "startedAt": z(T0),
            "asOf": z(T0),
            "elapsedSeconds": 0.0,
            "pausedSeconds": 0.0,
            "jeopardy": "none",
            "targetSeconds": 4 * HOUR,
            "deadline": z(at(4)),
        }
        assert clock(ticket, "resolve")["deadline"] == z(at(24))
        assert ticket["expectedResolutionDate"] == z(at(24))
        assert ticket["slaNextCheck"] == z(at(3))  # the acknowledge warning
        assert ticket["escalationLevel"] == 0

    def test_in_progress_meets_the_acknowledge_clock(self) -> None:
        ticket = patch(create(), {"status": "inProgress"}, at(1))
        acknowledge = clock(ticket, "acknowledge")
        assert acknowledge["state"] == "met"
        assert acknowledge["stoppedAt"] == z(at(1))
        assert acknowledge["elapsedSeconds"] == HOUR
        resolve = clock(ticket, "resolve")
        assert resolve["state"] == "running"
        assert resolve["elapsedSeconds"] == HOUR
        assert resolve["asOf"] == z(at(1))
        assert ticket["slaNextCheck"] == z(at(18))

    def test_the_resolve_clock_runs_until_resolved(self) -> None:
        ticket = patch(in_progress(), {"status": "resolved"}, at(20))
        resolve = clock(ticket, "resolve")
        assert (resolve["state"], resolve["stoppedAt"]) == ("met", z(at(20)))
        assert resolve["elapsedSeconds"] == 20 * HOUR
        assert resolve["jeopardy"] == "warning"
        assert "slaNextCheck" not in ticket

    def test_a_stopped_clock_does_not_count_on(self) -> None:
        ticket = patch(in_progress(), {"status": "resolved"}, at(2))
        ticket = tick(ticket, at(50))
        assert clock(ticket, "resolve")["elapsedSeconds"] == 2 * HOUR
        assert clock(ticket, "resolve")["state"] == "met"
        assert "troubleTicketJeopardyAlert" not in ticket

    def test_a_pause_moves_the_deadline_by_the_paused_time(self) -> None:
        ticket = patch(in_progress(), {"status": "pending"}, at(2))
        resolve = clock(ticket, "resolve")
        assert (resolve["state"], resolve["elapsedSeconds"]) == ("paused", 2 * HOUR)
        assert resolve["deadline"] == z(at(24))

        # while paused the deadline moves later with every look, and no check is due
        ticket = tick(ticket, at(4))
        resolve = clock(ticket, "resolve")
        assert (resolve["elapsedSeconds"], resolve["pausedSeconds"]) == (2 * HOUR, 2 * HOUR)
        assert resolve["deadline"] == z(at(26))
        assert "slaNextCheck" not in ticket

        ticket = patch(ticket, {"status": "inProgress"}, at(5))
        resolve = clock(ticket, "resolve")
        assert resolve["state"] == "running"
        assert (resolve["elapsedSeconds"], resolve["pausedSeconds"]) == (2 * HOUR, 3 * HOUR)
        assert resolve["deadline"] == z(at(27))
        assert ticket["expectedResolutionDate"] == z(at(27))
        assert ticket["slaNextCheck"] == z(at(21))  # 16 h more to the 18 h warning

    def test_paused_time_accumulates_over_pauses(self) -> None:
        ticket = patch(in_progress(), {"status": "pending"}, at(2))
        ticket = patch(ticket, {"status": "inProgress"}, at(5))
        ticket = patch(ticket, {"status": "held"}, at(6))
        ticket = patch(ticket, {"status": "inProgress"}, at(6, 30))
        resolve = clock(ticket, "resolve")
        assert resolve["pausedSeconds"] == 3.5 * HOUR
        assert resolve["elapsedSeconds"] == 3 * HOUR
        assert ticket["expectedResolutionDate"] == z(at(27, 30))

    def test_a_paused_acknowledge_clock_is_met_on_in_progress(self) -> None:
        ticket = patch(create(), {"status": "held"}, at(1))
        assert clock(ticket, "acknowledge")["state"] == "paused"
        ticket = patch(ticket, {"status": "inProgress"}, at(3))
        acknowledge = clock(ticket, "acknowledge")
        assert acknowledge["state"] == "met"
        assert (acknowledge["elapsedSeconds"], acknowledge["pausedSeconds"]) == (HOUR, 2 * HOUR)

    def test_a_ticket_created_pending_starts_paused(self) -> None:
        ticket = create(status="pending")
        assert [c["state"] for c in ticket["slaClock"]] == ["paused", "paused"]
        assert "slaNextCheck" not in ticket
        ticket = patch(ticket, {"status": "inProgress"}, at(2))
        assert clock(ticket, "resolve")["pausedSeconds"] == 2 * HOUR
        assert ticket["expectedResolutionDate"] == z(at(26))

    def test_reopening_resumes_the_resolve_clock(self) -> None:
        ticket = patch(in_progress(), {"status": "resolved"}, at(5))
        assert clock(ticket, "resolve")["state"] == "met"
        assert ticket["expectedResolutionDate"] == z(at(24))
        ticket = patch(ticket, {"status": "inProgress"}, at(7))
        resolve = clock(ticket, "resolve")
        assert resolve["state"] == "running"
        assert "stoppedAt" not in resolve
        # the two hours spent resolved count as paused
        assert (resolve["elapsedSeconds"], resolve["pausedSeconds"]) == (5 * HOUR, 2 * HOUR)
        assert resolve["deadline"] == z(at(26))
        assert ticket["expectedResolutionDate"] == z(at(26))
        assert ticket["slaNextCheck"] == z(at(20))
        # the acknowledge clock stays met: inProgress stops it
        assert clock(ticket, "acknowledge")["state"] == "met"
        # and the resolve clock runs on from there
        ticket = tick(ticket, at(17))
        assert clock(ticket, "resolve")["elapsedSeconds"] == 15 * HOUR

    def test_resolving_again_stops_the_reopened_clock_again(self) -> None:
        ticket = patch(in_progress(), {"status": "resolved"}, at(5))
        ticket = patch(ticket, {"status": "inProgress"}, at(7))
        ticket = patch(ticket, {"status": "resolved"}, at(10))
        resolve = clock(ticket, "resolve")
        assert (resolve["state"], resolve["stoppedAt"]) == ("met", z(at(10)))
        assert (resolve["elapsedSeconds"], resolve["pausedSeconds"]) == (8 * HOUR, 2 * HOUR)

    def test_cancelling_cancels_every_running_or_paused_clock(self) -> None:
        ticket = patch(create(), {"status": "pending"}, at(1))
        ticket = patch(ticket, {"status": "cancelled", "statusChangeReason": "duplicate"}, at(2))
        for name in ("acknowledge", "resolve"):
            assert clock(ticket, name)["state"] == "cancelled"
            assert clock(ticket, name)["stoppedAt"] == z(at(2))
            assert clock(ticket, name)["elapsedSeconds"] == HOUR
            assert clock(ticket, name)["pausedSeconds"] == HOUR
        assert "slaNextCheck" not in ticket

    def test_rejecting_cancels_the_clocks(self) -> None:
        ticket = patch(create(), {"status": "rejected", "statusChangeReason": "no fault"}, at(1))
        assert [c["state"] for c in ticket["slaClock"]] == ["cancelled", "cancelled"]

    def test_closing_stops_every_clock_as_met_or_breached(self) -> None:
        clocks = {
            **CLOCKS,
            # stops on closed only: breached when closed after an hour
            "feedback": {
                "stopOn": ["closed"],
                "targets": dict.fromkeys(CLOCKS["resolve"]["targets"], "1h"),
            },
            # never stopped by its own statuses: closing stops it anyway
            "review": {
                "stopOn": ["held"],
                "targets": dict.fromkeys(CLOCKS["resolve"]["targets"], "2d"),
            },
        }
        policy = parse_policy({"sla": {"clocks": clocks}})
        ticket = patch(in_progress(policy), {"status": "resolved"}, at(2), policy)
        assert clock(ticket, "feedback")["state"] == "running"
        ticket = patch(ticket, {"status": "closed"}, at(3), policy)
        states = {c["name"]: (c["state"], c.get("stoppedAt")) for c in ticket["slaClock"]}
        assert states == {
            "acknowledge": ("met", z(T0)),
            "resolve": ("met", z(at(2))),
            "feedback": ("breached", z(at(3))),
            "review": ("met", z(at(3))),
        }
        assert alerts(ticket) == [
            ("feedback-warning", z(at(0, 45))),
            ("feedback-breach", z(at(1))),
        ]
        assert "slaNextCheck" not in ticket

    def test_a_clock_resolved_late_is_breached(self) -> None:
        ticket = patch(in_progress(), {"status": "resolved"}, at(30))
        assert clock(ticket, "resolve")["state"] == "breached"
        assert alerts(ticket) == [("resolve-warning", z(at(18))), ("resolve-breach", z(at(24)))]

    def test_a_ticket_type_override_gives_its_target(self) -> None:
        policy = make_policy(
            sla={
                "overrides": [
                    {"clock": "resolve", "ticketType": "complaint", "targets": {"Medium": "8h"}}
                ]
            }
        )
        ticket = create(policy, ticketType="complaint")
        assert clock(ticket, "resolve")["targetSeconds"] == 8 * HOUR
        assert ticket["expectedResolutionDate"] == z(at(8))
        assert clock(ticket, "acknowledge")["targetSeconds"] == 4 * HOUR


class TestPauseInOfficeHours:
    def test_the_deadline_moves_by_the_paused_business_time(self) -> None:
        policy = office_policy()
        # Thursday 10:00 Berlin; Medium: resolve within 8 business hours, by Thursday 18:00
        ticket = create(policy, now=berlin(15, 10), status="inProgress")
        assert ticket["expectedResolutionDate"] == "2026-01-15T17:00:00.000Z"

        # pending from Thursday 16:00 (6 h elapsed) over the weekend to Monday 10:00
        ticket = patch(ticket, {"status": "pending"}, berlin(15, 16), policy)
        assert clock(ticket, "resolve")["elapsedSeconds"] == 6 * HOUR
        assert ticket["expectedResolutionDate"] == "2026-01-15T17:00:00.000Z"
        ticket = patch(ticket, {"status": "inProgress"}, berlin(19, 10), policy)
        resolve = clock(ticket, "resolve")
        # paused: Thursday 16-18, Friday 08-18, Monday 08-10; not the night nor the weekend
        assert resolve["pausedSeconds"] == 14 * HOUR
        assert resolve["elapsedSeconds"] == 6 * HOUR
        # the remaining 2 h: Monday 10:00-12:00 Berlin
        assert ticket["expectedResolutionDate"] == "2026-01-19T11:00:00.000Z"
        # the warning at 6 h is behind; the breach falls due at the deadline
        assert ticket["slaNextCheck"] == "2026-01-19T11:00:00.000Z"

    def test_a_pause_over_a_night_only_counts_office_hours(self) -> None:
        policy = office_policy()
        ticket = create(policy, now=berlin(15, 17), status="inProgress")
        ticket = patch(ticket, {"status": "held"}, berlin(15, 17, 30), policy)
        ticket = patch(ticket, {"status": "inProgress"}, berlin(16, 9), policy)
        resolve = clock(ticket, "resolve")
        assert (resolve["elapsedSeconds"], resolve["pausedSeconds"]) == (0.5 * HOUR, 1.5 * HOUR)
        # 7.5 h remain from Friday 09:00: Friday 16:30 Berlin
        assert ticket["expectedResolutionDate"] == "2026-01-16T15:30:00.000Z"


class TestFridayEvening:
    @pytest.mark.parametrize(
        ("holidays", "acknowledge", "resolve", "next_check"),
        [
            pytest.param(
                [],
                # 1 h on Friday 17:00-18:00, the second on Monday 08:00-09:00 Berlin
                "2026-01-19T08:00:00.000Z",
                # 1 h on Friday, 7 h on Monday 08:00-15:00 Berlin
                "2026-01-19T14:00:00.000Z",
                # the acknowledge warning at 1.5 h: Monday 08:30 Berlin
                "2026-01-19T07:30:00.000Z",
                id="over-the-weekend",
            ),
            pytest.param(
                ["2026-01-19"],
                "2026-01-20T08:00:00.000Z",
                "2026-01-20T14:00:00.000Z",
                "2026-01-20T07:30:00.000Z",
                id="and-a-monday-holiday",
            ),
        ],
    )
    def test_deadlines_skip_the_weekend(
        self, holidays: list[str], acknowledge: str, resolve: str, next_check: str
    ) -> None:
        policy = office_policy(holidays)
        ticket = create(policy, now=berlin(16, 17))
        assert ticket["priority"] == "Medium"
        assert clock(ticket, "acknowledge")["deadline"] == acknowledge
        assert clock(ticket, "resolve")["deadline"] == resolve
        assert ticket["expectedResolutionDate"] == resolve
        assert ticket["slaNextCheck"] == next_check

    def test_alerts_are_dated_in_office_hours(self) -> None:
        policy = office_policy()
        ticket = create(policy, now=berlin(16, 17))
        ticket = tick(ticket, berlin(19, 16), policy)
        # Friday 17:00-18:00 and Monday 08:00-16:00
        assert clock(ticket, "resolve")["elapsedSeconds"] == 9 * HOUR
        assert alerts(ticket) == [
            ("acknowledge-warning", "2026-01-19T07:30:00.000Z"),  # Monday 08:30 Berlin
            ("acknowledge-breach", "2026-01-19T08:00:00.000Z"),  # Monday 09:00
            ("resolve-warning", "2026-01-19T12:00:00.000Z"),  # Monday 13:00 (6 h)
            ("resolve-breach", "2026-01-19T14:00:00.000Z"),  # Monday 15:00 (8 h)
        ]

    def test_nothing_elapses_over_the_weekend(self) -> None:
        policy = office_policy()
        ticket = create(policy, now=berlin(16, 17))
        ticket = tick(ticket, berlin(19, 8), policy)
        assert clock(ticket, "resolve")["elapsedSeconds"] == HOUR
        assert "troubleTicketJeopardyAlert" not in ticket


class TestPriorityChangeKeepsTheLedger:
    def ticket_at_four_hours(self, severity: str) -> JSON:
        ticket = patch(in_progress(), {"status": "pending"}, at(1))
        ticket = patch(ticket, {"status": "inProgress"}, at(2))
        return patch(ticket, {"severity": severity, "description": "changed"}, at(4))

    def test_elapsed_and_paused_time_stay_and_the_target_changes(self) -> None:
        unchanged = clock(self.ticket_at_four_hours("Major"), "resolve")
        ticket = self.ticket_at_four_hours("Critical")
        resolve = clock(ticket, "resolve")
        assert ticket["priority"] == "High"
        assert (resolve["elapsedSeconds"], resolve["pausedSeconds"]) == (3 * HOUR, HOUR)
        assert (resolve["elapsedSeconds"], resolve["pausedSeconds"]) == (
            unchanged["elapsedSeconds"],
            unchanged["pausedSeconds"],
        )
        assert (unchanged["targetSeconds"], resolve["targetSeconds"]) == (24 * HOUR, 8 * HOUR)
        # 5 h remain of 8
        assert (unchanged["deadline"], resolve["deadline"]) == (z(at(25)), z(at(9)))
        assert ticket["expectedResolutionDate"] == z(at(9))
        assert ticket["slaNextCheck"] == z(at(7))  # the warning at 6 h

    def test_a_lower_target_raises_the_alert_it_puts_behind_at_once(self) -> None:
        ticket = patch(in_progress(), {"severity": "Critical"}, at(7))  # High: 8 h
        assert alerts(ticket) == [("resolve-warning", z(at(7)))]
        (alert,) = ticket["troubleTicketJeopardyAlert"]
        assert alert["exception"] == "resolve clock warning (88 % of the target elapsed)"
        assert alert["message"] == "The resolve SLA is at risk of missing its target of 8 h"
        assert clock(ticket, "resolve")["jeopardy"] == "warning"
        assert ticket["slaNextCheck"] == z(at(8))

    def test_a_target_below_the_elapsed_time_raises_both_at_once(self) -> None:
        ticket = patch(in_progress(), {"severity": "Critical"}, at(10))
        assert alerts(ticket) == [("resolve-warning", z(at(10))), ("resolve-breach", z(at(10)))]
        assert clock(ticket, "resolve")["jeopardy"] == "breach"
        assert "slaNextCheck" not in ticket

    def test_a_higher_target_raises_nothing_more(self) -> None:
        ticket = patch(in_progress(), {"severity": "Warning"}, at(20))  # Low: 72 h
        assert alerts(ticket) == [("resolve-warning", z(at(18)))]
        assert ticket["slaNextCheck"] == z(at(72))
        assert ticket["expectedResolutionDate"] == z(at(72))

    def test_a_target_below_the_elapsed_time_moves_the_deadline_back(self) -> None:
        ticket = patch(in_progress(), {"severity": "Critical"}, at(10))  # High: 8 h
        # by the ledger the deadline passed at 8 h; at the latest it is now
        assert ticket["expectedResolutionDate"] in (z(at(8)), z(at(10)))

    def test_a_stopped_clock_keeps_the_target_it_was_measured_against(self) -> None:
        ticket = patch(create(), {"status": "inProgress"}, at(3))
        ticket = patch(ticket, {"priority": "Critical", "priorityChangeReason": "VIP"}, at(4))
        acknowledge = clock(ticket, "acknowledge")
        assert (acknowledge["state"], acknowledge["elapsedSeconds"]) == ("met", 3 * HOUR)
        assert acknowledge["targetSeconds"] == 4 * HOUR


# -- jeopardy --------------------------------------------------------------------------------


class TestJeopardy:
    def test_warning_at_75_percent_then_breach_at_100(self) -> None:
        ticket = tick(in_progress(), at(17))
        assert "troubleTicketJeopardyAlert" not in ticket
        assert clock(ticket, "resolve")["jeopardy"] == "none"
        assert ticket["slaNextCheck"] == z(at(18))

        ticket = tick(ticket, at(18))
        (warning,) = ticket["troubleTicketJeopardyAlert"]
        assert warning == {
            "@type": "JeopardyAlert",
            "id": "resolve-warning",
            "alertDate": z(at(18)),
            "name": "resolve warning",
            "jeopardyType": "warning",
            "exception": "resolve clock warning (75 % of the target elapsed)",
            "message": "The resolve SLA is at risk of missing its target of 24 h",
            "clock": "resolve",
        }
        assert clock(ticket, "resolve")["jeopardy"] == "warning"
        assert ticket["slaNextCheck"] == z(at(24))
        assert ticket["lastUpdate"] == z(at(18))

        ticket = tick(ticket, at(25))
        assert alerts(ticket) == [("resolve-warning", z(at(18))), ("resolve-breach", z(at(24)))]
        breach = ticket["troubleTicketJeopardyAlert"][1]
        assert breach["message"] == "The resolve SLA has missed its target of 24 h"
        assert breach["jeopardyType"] == "breach"
        assert clock(ticket, "resolve")["jeopardy"] == "breach"
        assert clock(ticket, "resolve")["state"] == "running"
        # a running clock with nothing left to raise needs no check
        assert "slaNextCheck" not in ticket

    def test_each_alert_is_raised_once(self) -> None:
        ticket = tick(in_progress(), at(19))
        again = tick(ticket, at(20))
        assert alerts(again) == [("resolve-warning", z(at(18)))]
        later = tick(tick(again, at(30)), at(40))
        assert alerts(later) == [("resolve-warning", z(at(18))), ("resolve-breach", z(at(24)))]
        # a look that raises nothing leaves lastUpdate alone
        assert tick(later, at(50))["lastUpdate"] == later["lastUpdate"] == z(at(30))

    def test_one_late_look_raises_both_dated_at_their_crossings(self) -> None:
        ticket = tick(create(), at(100))
        assert alerts(ticket) == [
            ("acknowledge-warning", z(at(3))),
            ("acknowledge-breach", z(at(4))),
            ("resolve-warning", z(at(18))),
            ("resolve-breach", z(at(24))),
        ]
        assert clock(ticket, "resolve")["elapsedSeconds"] == 100 * HOUR

    def test_how_often_the_ticket_is_looked_at_changes_nothing(self) -> None:
        once = tick(in_progress(), at(30))
        often = in_progress()
        for minutes in range(45, 30 * 60 + 1, 45):
            often = tick(often, at(0, minutes))
        assert often["slaClock"] == once["slaClock"]
        assert alerts(often) == alerts(once)

    def test_crossings_count_paused_time_out(self) -> None:
        ticket = patch(in_progress(), {"status": "pending"}, at(10))
        ticket = patch(ticket, {"status": "inProgress"}, at(20))
        ticket = tick(ticket, at(30))
        # 10 h before the pause, 8 h more after it: 28 h after creation
        assert alerts(ticket) == [("resolve-warning", z(at(28)))]
        assert ticket["slaNextCheck"] == z(at(34))

    def test_a_paused_clock_raises_nothing(self) -> None:
        ticket = patch(in_progress(), {"status": "pending"}, at(1))
        ticket = tick(ticket, at(100))
        assert "troubleTicketJeopardyAlert" not in ticket
        assert "slaNextCheck" not in ticket

    def test_no_next_check_when_no_clock_runs(self) -> None:
        ticket = patch(in_progress(), {"status": "resolved"}, at(1))
        assert "slaNextCheck" not in ticket

    def test_next_check_is_the_earliest_unraised_threshold(self) -> None:
        ticket = create()
        assert ticket["slaNextCheck"] == z(at(3))  # acknowledge warning
        ticket = tick(ticket, at(3, 30))
        assert ticket["slaNextCheck"] == z(at(4))  # acknowledge breach
        ticket = tick(ticket, at(5))
        assert ticket["slaNextCheck"] == z(at(18))  # resolve warning

    def test_custom_thresholds(self) -> None:
        policy = make_policy(sla={"jeopardy": {"warning": 0.5, "breach": 1.25}})
        ticket = tick(in_progress(policy), at(31), policy)
        assert alerts(ticket) == [("resolve-warning", z(at(12))), ("resolve-breach", z(at(30)))]

    @pytest.mark.parametrize("looks", [[30], [17, 30], [18.5, 23, 30]])
    def test_the_exception_gives_the_share_elapsed_at_the_crossing(
        self, looks: list[float]
    ) -> None:
        ticket = in_progress()
        for hours in looks:
            ticket = tick(ticket, at(hours))
        assert [a["exception"] for a in ticket["troubleTicketJeopardyAlert"]] == [
            "resolve clock warning (75 % of the target elapsed)",
            "resolve clock breach (100 % of the target elapsed)",
        ]


# -- escalation ------------------------------------------------------------------------------


class TestEscalationRules:
    POLICY = make_policy(escalation={"rules": ESCALATION_RULES})

    def escalated(self, hours: float, **fields: Any) -> JSON:
        return tick(in_progress(self.POLICY, **fields), at(hours), self.POLICY)

    def test_a_warning_raises_the_level_and_assigns_the_supervisor(self) -> None:
        old_supervisor = customer("pr-old", role="supervisor")
        ticket = self.escalated(19, relatedParty=[customer("C-9"), old_supervisor])
        assert ticket["escalationLevel"] == 1
        assert ticket["escalation"] == [
            {
                "@type": "Escalation",
                "id": "escalation-1",
                "level": 1,
                "previousLevel": 0,
                "reason": "resolve clock warning",
                "date": z(at(18)),
                "trigger": "rule:resolve:warning",
            }
        ]
        assert ticket["relatedParty"] == [
            customer("C-9"),
            {"@type": "RelatedPartyRefOrPartyRoleRef", **SUPERVISOR},
        ]
        assert ticket["priority"] == "Medium"
        assert ticket["lastUpdate"] == z(at(19))

    def test_a_breach_raises_the_level_and_the_priority(self) -> None:
        ticket = self.escalated(25)
        assert ticket["escalationLevel"] == 2
        assert [
            (e["id"], e["level"], e["previousLevel"], e["date"]) for e in ticket["escalation"]
        ] == [("escalation-1", 1, 0, z(at(18))), ("escalation-2", 2, 1, z(at(24)))]
        assert ticket["escalation"][1]["trigger"] == "rule:resolve:breach"
        assert ticket["priority"] == "Critical"
        assert ticket["priorityOverride"] == {
            "@type": "PriorityOverride",
            "priority": "Critical",
            "reason": "escalation rule: resolve clock breach",
            "date": z(at(24)),
            "source": "escalation",
        }
        assert ticket["priorityHistory"][-1] == {
            "@type": "PriorityChange",
            "priority": "Critical",
            "date": z(at(25)),
            "previousPriority": "Medium",
            "reason": "escalation rule: resolve clock breach",
            "source": "escalation",
        }
        assert clock(ticket, "resolve")["targetSeconds"] == 4 * HOUR

    def test_the_escalated_priority_is_an_override_the_matrix_does_not_move(self) -> None:
        ticket = patch(self.escalated(25), {"severity": "Warning"}, at(26), self.POLICY)
        assert ticket["priority"] == "Critical"

    def test_rules_run_once_per_alert(self) -> None:
        ticket = tick(self.escalated(25), at(40), self.POLICY)
        assert ticket["escalationLevel"] == 2
        assert len(ticket["escalation"]) == 2
        assert len(ticket["relatedParty"]) == 1

    def test_a_rule_never_lowers_the_level(self) -> None:
        ticket = patch(
            in_progress(self.POLICY),
            {"escalationLevel": 3, "escalationReason": "major customer"},
            at(1),
            self.POLICY,
        )
        ticket = tick(ticket, at(25), self.POLICY)
        assert ticket["escalationLevel"] == 3
        assert [e["trigger"] for e in ticket["escalation"]] == ["manual"]
        # the rules' other actions still apply
        assert ticket["relatedParty"][-1]["role"] == "supervisor"
        assert ticket["priority"] == "Critical"

    def test_a_rule_never_lowers_the_priority(self) -> None:
        policy = make_policy(
            escalation={"rules": [{"clock": "resolve", "on": "breach", "raisePriorityTo": "High"}]}
        )
        # Critical: resolve within 4 h
        ticket = in_progress(
            policy, severity="Critical", troubleTicketCharacteristic=urgency("High")
        )
        ticket = tick(ticket, at(5), policy)
        assert ticket["priority"] == "Critical"
        assert "priorityOverride" not in ticket
        assert len(ticket["priorityHistory"]) == 1

    def test_a_raised_priority_can_put_a_threshold_behind_at_once(self) -> None:
        policy = make_policy(
            escalation={
                "rules": [{"clock": "resolve", "on": "warning", "raisePriorityTo": "Critical"}]
            }
        )
        # Low: resolve within 72 h, warning at 54 h
        ticket = tick(in_progress(policy, severity="Warning"), at(60), policy)
        assert ticket["priority"] == "Critical"
        # the Critical target (4 h) is behind: its breach is raised when the rule applies
        assert alerts(ticket) == [("resolve-warning", z(at(54))), ("resolve-breach", z(at(60)))]
        assert clock(ticket, "resolve")["jeopardy"] == "breach"

    def test_a_warning_of_another_clock_triggers_nothing(self) -> None:
        ticket = tick(create(self.POLICY), at(5), self.POLICY)
        assert alerts(ticket) == [
            ("acknowledge-warning", z(at(3))),
            ("acknowledge-breach", z(at(4))),
        ]
        assert ticket["escalationLevel"] == 0
        assert "escalation" not in ticket


class TestManualEscalation:
    def test_a_level_with_a_reason_is_recorded(self) -> None:
        ticket = patch(
            create(),
            {"escalationLevel": 2, "escalationReason": "customer threatens to leave"},
            at(1),
            context=Context(actor="bob"),
        )
        assert ticket["escalationLevel"] == 2
        assert ticket["escalation"] == [
            {
                "@type": "Escalation",
                "id": "escalation-1",
                "level": 2,
                "previousLevel": 0,
                "reason": "customer threatens to leave",
                "date": z(at(1)),
                "trigger": "manual",
                "actor": "bob",
            }
        ]
        assert "escalationReason" not in ticket

    def test_the_level_can_come_down_again(self) -> None:
        ticket = patch(create(), {"escalationLevel": 2, "escalationReason": "VIP"}, at(1))
        ticket = patch(ticket, {"escalationLevel": 0, "escalationReason": "calmed"}, at(2))
        assert ticket["escalationLevel"] == 0
        assert [(e["id"], e["level"], e["previousLevel"]) for e in ticket["escalation"]] == [
            ("escalation-1", 2, 0),
            ("escalation-2", 0, 2),
        ]
        assert "actor" not in ticket["escalation"][1]

    @pytest.mark.parametrize("reason", [None, "", "   "])
    def test_a_change_without_a_reason_is_refused(self, reason: str | None) -> None:
        changes: JSON = {"escalationLevel": 1}
        if reason is not None:
            changes["escalationReason"] = reason
        with pytest.raises(InvalidRequest, match="escalationReason"):
            patch(create(), changes, at(1))

    @pytest.mark.parametrize("level", [11, -1, 2.5, "2", True])
    def test_a_level_out_of_range_is_refused(self, level: Any) -> None:
        with pytest.raises(InvalidRequest, match="from 0 to 10"):
            patch(create(), {"escalationLevel": level, "escalationReason": "why"}, at(1))

    def test_the_highest_level_is_ten(self) -> None:
        ticket = patch(create(), {"escalationLevel": 10, "escalationReason": "CEO"}, at(1))
        assert ticket["escalationLevel"] == 10

    def test_the_same_level_with_a_reason_is_no_escalation(self) -> None:
        ticket = patch(create(), {"escalationLevel": 0, "escalationReason": "just checking"}, at(1))
        assert ticket["escalationLevel"] == 0
        assert "escalation" not in ticket
        assert "escalationReason" not in ticket
