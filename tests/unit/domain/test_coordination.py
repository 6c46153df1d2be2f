"""Coordinate Customer Problem: a ticket and its recovery activities as one aggregate.

Tickets are created at T0 (2026-11-20T08:00Z) through ManagedTicket under the default SLA clocks,
straight into inProgress unless a test says otherwise: severity Major makes them Medium, so the
acknowledge clock is met at once and the resolve clock (24 h) warns at 18 h. Every expected
instant, count and percentage is worked out by hand from T0.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from troubleticket.context import NO_CONTEXT
from troubleticket.domain import coordination
from troubleticket.domain import rollup as rollups
from troubleticket.domain.activity import ActivityState, create_activity
from troubleticket.domain.documents import timestamp
from troubleticket.domain.errors import Conflict, InvalidRequest, NotFound
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.policy import Policy
from troubleticket.domain.policy_file import parse_policy
from troubleticket.types import JSON

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
REF = "RelatedPartyRefOrPartyRoleRef"
PARTNER_A = {"role": "partner", "partyOrPartyRole": {"@type": "OrganizationRef", "id": "org-a"}}
DISPATCH = {"role": "dispatcher", "partyOrPartyRole": {"@type": "PartyRoleRef", "id": "pr-disp"}}
COORDINATOR = {"role": "coordinator", "partyOrPartyRole": {"@type": "PartyRoleRef", "id": "pr-co"}}
SUPPLIER = {"@type": REF, "role": "supplier", "partyOrPartyRole": {"id": "org-s"}}
COORDINATION: dict[str, Any] = {
    "mandatory": {"byActivityType": {"customerContact": False}},
    "assignment": [
        {
            "activityType": "partnerRepair",
            "byService": {"SVC-1": PARTNER_A},
            "fromTicketParty": "supplier",
            "assignTo": DISPATCH,
        }
    ],
}
LATE = {"raiseLevelTo": 2, "raisePriorityTo": "High", "assignTo": COORDINATOR}
POLICY = parse_policy({"coordination": COORDINATION})
LATE_POLICY = parse_policy({"coordination": {**COORDINATION, "lateActivity": LATE}})
CANCEL = {"status": "cancelled", "statusChangeReason": "Customer withdrew"}
CANCEL_ACTIVITY = {"state": "cancelled", "stateChangeReason": "done another way"}
DONE = {"state": "completed"}
REASON = {"reason": "recovery activity a1 late"}
NAME: JSON = {"name": "Replace card"}
NINE_TO_ELEVEN: JSON = {"plannedStartDate": "2026-11-20T09:00:00.000Z", "plannedDuration": "PT2H"}
TICKET = {"@type": "TroubleTicket", "description": "No sync", "severity": "Major"}


def at(hours: float = 0) -> datetime:
    return T0 + timedelta(hours=hours)


def z(moment: datetime) -> str:
    return timestamp(moment)


def ticket(status: str = "inProgress", policy: Policy = POLICY, **fields: Any) -> JSON:
    body = {**TICKET, "ticketType": "incident", "status": status, **fields}
    return ManagedTicket(policy).create(body, resource_id="TT-1", now=T0, context=NO_CONTEXT)


def add(
    tt: JSON, activity_id: str, policy: Policy = POLICY, hours: float = 0, **fields: Any
) -> JSON:
    body: JSON = {"activityType": "fieldRepair", **fields}
    return coordination.add_activity(
        policy, tt, body, activity_id=activity_id, now=at(hours), context=NO_CONTEXT
    )


def change(tt: JSON, activity_id: str, changes: JSON, hours: float = 1) -> JSON:
    return coordination.change_activity(tt, activity_id, changes, now=at(hours), context=NO_CONTEXT)


def act(tt: JSON, activity_id: str) -> JSON:
    return coordination.find(tt, activity_id)


def ids(activities: list[JSON]) -> list[str]:
    return [a["id"] for a in activities]


def activity(activity_id: str, state: str = "planned", **plan: Any) -> JSON:
    """An activity of TT-1 created at T0 in ``state``, planned from ``start`` to ``end`` hours
    after T0 when given, at ``progress`` (0), ``mandatory`` unless it says otherwise."""
    body: JSON = {"activityType": "fieldRepair", "state": state, "progress": 0}
    body.update({k: v for k, v in plan.items() if k in ("progress", "mandatory")})
    if state == "cancelled":
        body["stateChangeReason"] = "not needed"
    for name, key in (("start", "plannedStartDate"), ("end", "plannedEndDate")):
        if name in plan:
            body[key] = z(at(plan[name]))
    made = create_activity(
        body, activity_id=activity_id, ticket_id="TT-1", mandatory=True, now=T0, context=NO_CONTEXT
    )
    return made


def alert_ids(tt: JSON) -> list[str]:
    return ids(tt.get("troubleTicketJeopardyAlert", []))


def late(tt: JSON, hours: float, policy: Policy = LATE_POLICY) -> JSON:
    return rollups.raise_late(policy, tt, at(hours))


def rollup(*activities: JSON, hours: float = 0) -> JSON:
    return rollups.summary(list(activities), at(hours))


# The aggregate's commands (ManagedTicket), at ``hours`` after T0.


def patch_ticket(tt: JSON, changes: JSON, hours: float, policy: Policy = POLICY) -> JSON:
    return ManagedTicket(policy).patch(tt, changes, now=at(hours), context=NO_CONTEXT)


def add_in(tt: JSON, activity_id: str, hours: float, **fields: Any) -> JSON:
    body: JSON = {"activityType": "fieldRepair", **fields}
    return ManagedTicket(LATE_POLICY).add_activity(
        tt, body, activity_id=activity_id, now=at(hours), context=NO_CONTEXT
    )


def change_in(tt: JSON, activity_id: str, changes: JSON, hours: float) -> JSON:
    return ManagedTicket(LATE_POLICY).change_activity(
        tt, activity_id, changes, now=at(hours), context=NO_CONTEXT
    )


def tick(tt: JSON, hours: float) -> JSON:
    return ManagedTicket(LATE_POLICY).tick(tt, now=at(hours))


# -- adding, assignment, removal -------------------------------------------------------------


class TestAdd:
    @pytest.mark.parametrize(
        "fields",
        [
            {"status": "resolved"},
            {"status": "closed"},
            {"status": "cancelled", "statusChangeReason": "duplicate"},
            {"status": "rejected", "statusChangeReason": "not our network"},
        ],
    )
    def test_a_ticket_whose_work_is_over_takes_no_new_activity(self, fields: JSON) -> None:
        with pytest.raises(Conflict) as refused:
            add(ticket(**fields), "a1")
        assert refused.value.code == "ticketNotOpen"

    @pytest.mark.parametrize("status", ["acknowledged", "inProgress", "pending", "held"])
    def test_an_open_ticket_takes_activities_stored_in_its_document(self, status: str) -> None:
        tt = add(add(ticket(status), "a1"), "a2")
        assert ids(tt["recoveryActivity"]) == ["a1", "a2"]
        assert act(tt, "a2")["troubleTicket"] == {"@type": "TroubleTicketRef", "id": "TT-1"}

    def test_mandatory_defaults_by_activity_type(self) -> None:
        tt = add(ticket(), "a1", activityType="customerContact")
        tt = add(tt, "a2", activityType="fieldRepair")  # not listed: default true
        tt = add(tt, "a3", activityType="customerContact", mandatory=True)
        assert [a["mandatory"] for a in tt["recoveryActivity"]] == [False, True, True]
        optional = parse_policy({"coordination": {"mandatory": {"default": False}}})
        assert act(add(ticket(), "a1", optional), "a1")["mandatory"] is False


def entity(entity_id: str, referred: str) -> JSON:
    ref = {"@type": "EntityRef", "id": entity_id, "@referredType": referred}
    return {"@type": "RelatedEntity", "role": "affected", "entity": ref}


class TestPolicyAssignment:
    @pytest.mark.parametrize(
        ("entities", "parties", "request_names", "expected", "source"),
        [
            ([entity("SVC-1", "Service")], [SUPPLIER], None, {"@type": REF, **PARTNER_A}, "policy"),
            # not a Service: the ticket's party with the rule's role
            ([entity("SVC-1", "Resource")], [SUPPLIER], None, SUPPLIER, "policy"),
            # another service, no supplier: the rule's own assignee
            ([entity("SVC-2", "Service")], [], None, {"@type": REF, **DISPATCH}, "policy"),
            # the request's assignee wins over the rule
            ([entity("SVC-1", "Service")], [SUPPLIER], DISPATCH, DISPATCH, "client"),
        ],
    )
    def test_the_rule_picks_by_service_then_ticket_party_then_its_default(
        self, entities: list[JSON], parties: list[JSON], request_names: Any, expected: JSON,
        source: str,
    ) -> None:  # fmt: skip
        tt = ticket(relatedEntity=entities, relatedParty=parties)
        fields = {"assignee": request_names} if request_names else {}
        added = act(add(tt, "a1", activityType="partnerRepair", hours=1, **fields), "a1")
        assert added["assignee"] == expected
        entry = {"@type": "ActivityAssignment", "date": z(at(1)), "source": source}
        assert added["assignmentHistory"] == [{**entry, "assignee": expected}]

    def test_a_type_without_a_rule_stays_unassigned(self) -> None:
        added = act(add(ticket(relatedParty=[SUPPLIER]), "a1", activityType="fieldRepair"), "a1")
        assert "assignee" not in added and "assignmentHistory" not in added


class TestChangeAndRemove:
    def test_a_change_replaces_the_activity_in_place(self) -> None:
        tt = add(add(ticket(), "a1"), "a2")
        changed = change(tt, "a1", {"state": "inProgress"})
        assert [(a["id"], a["state"]) for a in changed["recoveryActivity"]] == [
            ("a1", "inProgress"), ("a2", "planned"),
        ]  # fmt: skip

    def test_a_change_of_nothing_returns_the_same_ticket(self) -> None:
        tt = add(ticket(), "a1", name="Swap card")
        assert change(tt, "a1", {"name": "Swap card"}) is tt

    def test_an_unknown_activity_is_not_found(self) -> None:
        with pytest.raises(NotFound) as missing:
            change(add(ticket(), "a1"), "a2", {"name": "x"})
        assert missing.value.code == "notFound"
        with pytest.raises(NotFound):
            coordination.remove_activity(ticket(), "a1")

    def test_a_planned_activity_is_removed(self) -> None:
        tt = add(add(ticket(), "a1"), "a2")
        assert ids(coordination.remove_activity(tt, "a1")["recoveryActivity"]) == ["a2"]

    @pytest.mark.parametrize("path", [["inProgress"], ["held"], ["inProgress", "completed"]])
    def test_one_that_left_planned_is_cancelled_not_removed(self, path: list[str]) -> None:
        tt = add(ticket(), "a1")
        for state in path:
            tt = change(tt, "a1", {"state": state})
        with pytest.raises(Conflict) as refused:
            coordination.remove_activity(tt, "a1")
        assert refused.value.code == "activityStarted"

    def test_one_another_depends_on_stays(self) -> None:
        tt = add(add(ticket(), "a1"), "a2", name="Test line", dependsOn=["a1"])
        with pytest.raises(Conflict) as refused:
            coordination.remove_activity(tt, "a1")
        assert refused.value.code == "activityDependedOn"
        assert "a2 (Test line)" in refused.value.message


class TestDependencies:
    def test_an_unknown_activity_is_refused_on_add_and_on_change(self) -> None:
        tt = add(ticket(), "a1")
        for attempt in (
            lambda: add(tt, "a2", dependsOn=["a1", "a9"]),
            lambda: change(tt, "a1", {"dependsOn": ["a9"]}),
        ):
            with pytest.raises(InvalidRequest) as refused:
                attempt()
            assert refused.value.code == "unknownActivity"
            assert "a9" in refused.value.message and "a1" not in refused.value.message

    def test_depending_on_itself_is_a_cycle(self) -> None:
        with pytest.raises(InvalidRequest) as refused:
            add(ticket(), "a1", dependsOn=["a1"])
        assert refused.value.code == "dependencyCycle"
        assert "a1 -> a1" in refused.value.message

    def test_an_indirect_cycle_is_refused_and_named(self) -> None:
        tt = add(add(add(ticket(), "a1"), "a2", dependsOn=["a1"]), "a3", dependsOn=["a2"])
        with pytest.raises(InvalidRequest) as refused:
            change(tt, "a1", {"dependsOn": ["a3"]})
        assert refused.value.code == "dependencyCycle"
        # a1 depends on a3, which depends on a2, which depends on a1
        assert "a1 -> a3 -> a2 -> a1" in refused.value.message

    def test_an_activity_starts_only_when_every_dependency_completed(self) -> None:
        tt = add(add(ticket(), "a1", name="Order card"), "a2", name="Ship card")
        tt = add(tt, "a3", dependsOn=["a1", "a2"])
        tt = change(change(tt, "a1", {"state": "inProgress"}), "a1", {"state": "completed"})
        with pytest.raises(Conflict) as refused:
            change(tt, "a3", {"state": "inProgress"})
        assert refused.value.code == "dependencyNotCompleted"
        assert "a2 (Ship card)" in refused.value.message
        assert "a1" not in refused.value.message.split("before")[1]
        tt = change(change(tt, "a2", {"state": "inProgress"}), "a2", {"state": "completed"})
        assert act(change(tt, "a3", {"state": "inProgress"}), "a3")["state"] == "inProgress"

    def test_created_started_before_its_dependency_completed_is_refused(self) -> None:
        tt = add(ticket(), "a1", name="Order card")
        for state in ("inProgress", "completed"):
            with pytest.raises(Conflict) as refused:
                add(tt, "a2", state=state, dependsOn=["a1"])
            assert refused.value.code == "dependencyNotCompleted"
            assert "a1 (Order card)" in refused.value.message
        assert act(add(tt, "a2", state="held", dependsOn=["a1"]), "a2")["state"] == "held"


# -- the ticket's status: gates and cascade --------------------------------------------------


def worked(policy: Policy = POLICY) -> JSON:
    """inProgress ticket: a1 completed, a2 inProgress, a3 planned (optional), a4 held."""
    tt = add(add(ticket(policy=policy), "a1"), "a2")
    tt = add(add(tt, "a3", activityType="customerContact"), "a4")
    for activity_id, state in (("a1", "inProgress"), ("a1", "completed"), ("a2", "inProgress")):
        tt = change(tt, activity_id, {"state": state})
    return change(tt, "a4", {"state": "held"})


class TestStatusChange:
    def test_resolving_waits_for_the_open_mandatory_activities(self) -> None:
        with pytest.raises(Conflict) as refused:
            patch_ticket(worked(), {"status": "resolved"}, 2)
        assert refused.value.code == "openMandatoryActivities"
        assert "a2" in refused.value.message and "a4" in refused.value.message
        assert "a3" not in refused.value.message  # not mandatory

    def test_open_optional_activities_do_not_block_the_resolution(self) -> None:
        tt = change(change(worked(), "a2", {"state": "completed"}), "a4", CANCEL_ACTIVITY)
        resolved = patch_ticket(tt, {"status": "resolved"}, 2)
        assert resolved["status"] == "resolved"
        assert act(resolved, "a3")["state"] == "planned"

    def test_the_gate_is_the_policys_choice(self) -> None:
        ungated = parse_policy({"coordination": {"gateResolve": False}})
        before = worked()
        resolved = coordination.on_status_change(
            ungated, before, {**before, "status": "resolved"}, at(2)
        )
        assert resolved["status"] == "resolved"

    def test_closing_waits_for_every_activity(self) -> None:
        tt = change(change(worked(), "a2", {"state": "completed"}), "a4", CANCEL_ACTIVITY)
        resolved = patch_ticket(tt, {"status": "resolved"}, 2)
        with pytest.raises(Conflict) as refused:
            patch_ticket(resolved, {"status": "closed"}, 3)
        assert refused.value.code == "openActivities"
        assert "a3" in refused.value.message

    @pytest.mark.parametrize("status", ["cancelled", "rejected"])
    def test_cancelling_or_rejecting_cancels_every_open_activity(self, status: str) -> None:
        before = worked()
        after = {**before, "status": status, "statusChangeReason": "Customer withdrew"}
        done = coordination.on_status_change(POLICY, before, after, at(2))
        assert [a["state"] for a in done["recoveryActivity"]] == [
            "completed", "cancelled", "cancelled", "cancelled",
        ]  # fmt: skip
        assert act(done, "a1") == act(before, "a1")  # a closed one is untouched
        for activity_id in ("a2", "a3", "a4"):
            cancelled = act(done, activity_id)
            assert cancelled["stateChangeReason"] == "Customer withdrew"
            assert cancelled["stateChangeHistory"][-1]["stateChangeDate"] == z(at(2))
            assert cancelled["lastUpdate"] == z(at(2))

    def test_a_ticket_with_a_milestone_can_be_cancelled(self) -> None:
        tt = add(ticket(), "m1", plannedStartDate=z(at(2)), plannedEndDate=z(at(2)))
        assert act(patch_ticket(tt, CANCEL, 1), "m1")["state"] == "cancelled"

    def test_another_status_change_leaves_the_activities_alone(self) -> None:
        before = worked()
        after = {**before, "status": "pending"}
        assert coordination.on_status_change(POLICY, before, after, at(2)) is after


# -- time: late activities -------------------------------------------------------------------


def late_ticket(policy: Policy = LATE_POLICY) -> JSON:
    """a1 "Replace card", planned 09:00-11:00 (1 h to 3 h after T0)."""
    return add(ticket(policy=policy), "a1", policy, **NAME, **NINE_TO_ELEVEN)


class TestLate:
    def test_an_open_activity_past_its_planned_end_alerts_dated_at_that_end(self) -> None:
        alerted = late(late_ticket(), 5)
        assert alerted["troubleTicketJeopardyAlert"] == [
            {
                "@type": "JeopardyAlert",
                "id": "activity-a1-late",
                "alertDate": z(at(3)),  # the planned end, not now (at 5 h)
                "name": "Replace card late",
                "jeopardyType": "activityLate",
                "exception": "recovery activity past its planned end",
                "message": "Recovery activity Replace card was planned to end at "
                "2026-11-20T11:00:00.000Z and is not completed",
                "recoveryActivity": {"@type": "RecoveryActivityRef", "id": "a1", **NAME},
            }
        ]

    def test_it_is_late_from_the_planned_end_on(self) -> None:
        tt = late_ticket()
        assert rollups.raise_late(LATE_POLICY, tt, at(3) - timedelta(seconds=1)) is tt
        assert alert_ids(late(tt, 3)) == ["activity-a1-late"]

    def test_the_alert_is_raised_once_even_when_rescheduled(self) -> None:
        alerted = late(late_ticket(), 3)
        assert late(alerted, 6) is alerted
        moved = change(alerted, "a1", {"plannedEndDate": z(at(6))}, 4)
        again = late(moved, 7)
        assert [(a["id"], a["alertDate"]) for a in again["troubleTicketJeopardyAlert"]] == [
            ("activity-a1-late", z(at(3)))
        ]
        assert len(again["escalation"]) == 1

    @pytest.mark.parametrize(
        ("path", "alerts"),
        [
            (["inProgress", "completed"], []),
            (["inProgress", "failed"], []),
            (["cancelled"], []),
            (["held"], ["activity-a1-late"]),  # still open
            (["inProgress"], ["activity-a1-late"]),
        ],
    )
    def test_only_open_activities_alert(self, path: list[str], alerts: list[str]) -> None:
        tt = late_ticket()
        for state in path:
            tt = change(tt, "a1", {"state": state, "stateChangeReason": "no longer needed"})
        assert alert_ids(late(tt, 5)) == alerts

    def test_the_policy_escalates_raises_the_priority_and_assigns(self) -> None:
        alerted = late(late_ticket(), 5)
        assert alerted["escalationLevel"] == 2
        escalation = {"@type": "Escalation", "id": "escalation-1", "level": 2, "previousLevel": 0}
        assert alerted["escalation"] == [
            {**escalation, **REASON, "date": z(at(3)), "trigger": "rule:activity:late"}
        ]
        assert alerted["priorityOverride"] == {
            "@type": "PriorityOverride",
            "priority": "High",
            "reason": "escalation rule: recovery activity a1 late",
            "date": z(at(3)),
            "source": "escalation",
        }
        assert alerted["relatedParty"] == [{"@type": REF, **COORDINATOR}]

    @pytest.mark.parametrize(
        ("late_policy", "level", "override", "parties"),
        [
            ({"raiseLevelTo": 1}, 1, False, 0),
            ({"raisePriorityTo": "High"}, 0, True, 0),
            ({"assignTo": COORDINATOR}, 0, False, 1),
            (None, 0, False, 0),
        ],
    )
    def test_each_step_of_the_escalation_is_the_policys(
        self, late_policy: JSON | None, level: int, override: bool, parties: int
    ) -> None:
        section = {"lateActivity": late_policy} if late_policy else {}
        policy = parse_policy({"coordination": section})
        alerted = late(late_ticket(policy), 5, policy)
        assert alert_ids(alerted) == ["activity-a1-late"]
        assert alerted["escalationLevel"] == level
        assert ("priorityOverride" in alerted) is override
        assert len(alerted.get("relatedParty", [])) == parties

    def test_several_late_activities_alert_in_the_order_they_became_late(self) -> None:
        tt = add(late_ticket(), "a2", LATE_POLICY, plannedStartDate=z(T0), plannedDuration="PT2H")
        alerted = late(tt, 5)
        # a2 ended at 10:00, a1 at 11:00
        assert alert_ids(alerted) == ["activity-a2-late", "activity-a1-late"]
        # the level is raised once, the coordinator added once
        assert [e["reason"] for e in alerted["escalation"]] == ["recovery activity a2 late"]
        assert len(alerted["relatedParty"]) == 1


# -- the rollup ------------------------------------------------------------------------------


class TestSummary:
    def test_counts_lateness_progress_next_end_and_blocking_activity(self) -> None:
        activities = [
            activity("p1", start=0, end=2),
            activity("p2", "inProgress", start=0, end=1, mandatory=False),
            activity("p3", "held"),
            activity("c", "completed", start=0, end=0.5),
            activity("x", "cancelled", start=0, end=0.25),
            activity("f", "failed"),
        ]
        # at 09:30: p2 (ended 09:00) is late; c and x ended earlier but are not open.
        # progress, x excluded: weights p1 7200, p2 3600, c 1800 s; p3 and f have no plan and
        # weigh the mean (7200 + 3600 + 1800) / 3 = 4200: 1800 * 100 / 21000 = 8.57 -> 8.6
        assert rollup(*activities, hours=1.5) == {
            "@type": "ActivitySummary",
            "total": 6,
            "byState": {state.value: 1 for state in ActivityState},
            "openMandatory": 2,  # p1, p3 (p2 is optional)
            "late": 1,
            "progress": 8.6,
            "nextPlannedEnd": z(at(1)),  # p2's, late as it is
            "blockingActivity": {"@type": "RecoveryActivityRef", "id": "p3", "state": "held"},
        }

    def test_progress_is_weighted_by_planned_duration(self) -> None:
        a = activity("a", "inProgress", start=0, end=2, progress=50)
        b = activity("b", start=2, end=8)
        # completed counts 100, whatever progress its document says
        c = {**activity("c", "completed", start=0, end=4), "progress": 10}
        # (2 * 50 + 6 * 0 + 4 * 100) / 12 = 41.67
        assert rollup(a, b, c)["progress"] == 41.7

    def test_an_activity_without_a_plan_weighs_the_mean_of_the_others(self) -> None:
        a = activity("a", "inProgress", start=0, end=2, progress=50)
        b = activity("b", start=2, end=8)
        u = activity("u", "inProgress", start=1, progress=30)  # a start but no end
        # u weighs (2 + 6) / 2 = 4 h: (2 * 50 + 6 * 0 + 4 * 30) / 12 = 18.33
        assert rollup(a, b, u)["progress"] == 18.3

    def test_without_any_plan_every_activity_weighs_the_same(self) -> None:
        a = activity("a", "inProgress", progress=10)
        b = activity("b", "held", progress=20)
        # (10 + 20 + 100) / 3 = 43.33
        assert rollup(a, b, activity("c", "completed"))["progress"] == 43.3

    def test_cancelled_activities_do_not_count_failed_ones_do(self) -> None:
        kept = activity("a", "inProgress", start=0, end=2, progress=50)
        cancelled = activity("x", "cancelled", start=0, end=10, progress=90)
        assert rollup(kept, cancelled)["progress"] == 50.0
        failed = activity("f", "failed", start=0, end=2, progress=20)
        # (2 * 20 + 2 * 100) / 4 = 60
        assert rollup(failed, activity("c", "completed", start=0, end=2))["progress"] == 60.0
        assert "progress" not in rollup(cancelled)

    def test_the_blocking_activity_is_the_open_mandatory_one_ending_last(self) -> None:
        activities = [
            activity("p1", start=0, end=4),
            activity("p2", start=0, end=6, mandatory=False),
            {**activity("p3", "inProgress", start=0, end=5), "name": "Splice fibre"},
            activity("c", "completed", start=0, end=9),
        ]
        assert rollup(*activities)["blockingActivity"] == {
            "@type": "RecoveryActivityRef",
            "id": "p3",
            "state": "inProgress",
            "name": "Splice fibre",
            "plannedEndDate": z(at(5)),
        }
        # one without a planned end counts as ending last
        assert rollup(*activities, activity("p4", "held"))["blockingActivity"]["id"] == "p4"

    def test_among_equal_ends_the_first_created_blocks(self) -> None:
        a, b, c = activity("a", end=3), activity("b", end=5), activity("c", start=1, end=5)
        assert rollup(a, b, c)["blockingActivity"]["id"] == "b"
        unplanned = rollup(activity("d"), activity("e"), activity("f", start=0, end=9))
        assert unplanned["blockingActivity"]["id"] == "d"
        optional = rollup(activity("o", mandatory=False))
        assert (optional["openMandatory"], "blockingActivity" in optional) == (0, False)


class TestSettle:
    def base(self, *activities: JSON, check: float = 18) -> JSON:
        return {
            "id": "TT-1",
            "status": "inProgress",
            "expectedResolutionDate": z(at(24)),
            "slaNextCheck": z(at(check)),
            "recoveryActivity": list(activities),
        }

    def test_rollup_deadline_flags_and_next_check(self) -> None:
        tt = self.base(
            activity("a1", start=0, end=4),
            activity("a2", start=0, end=30),  # after the expected resolution (24 h)
            activity("a3", "completed", start=0, end=2),
            activity("a4", "inProgress", start=0, end=1),
        )
        settled = rollups.settle(tt, at(1.5))
        flags = [a.get("beyondResolveDeadline") for a in settled["recoveryActivity"]]
        assert flags == [None, True, None, None]
        # a3 ended, a4's end has passed: the next planned end is a1's, before the 18 h check
        assert settled["slaNextCheck"] == z(at(4))
        assert settled["activitySummary"] == rollup(*settled["recoveryActivity"], hours=1.5)

    def test_the_flag_goes_when_the_plan_is_back_within_the_deadline(self) -> None:
        settled = rollups.settle(self.base(activity("a1", start=0, end=30)), T0)
        assert act(settled, "a1")["beyondResolveDeadline"] is True
        moved = {**act(settled, "a1"), "plannedEndDate": z(at(20))}
        again = rollups.settle({**settled, "recoveryActivity": [moved]}, T0)
        assert "beyondResolveDeadline" not in act(again, "a1")

    def test_an_earlier_check_stays_and_without_a_deadline_nothing_is_flagged(self) -> None:
        tt = self.base(activity("a1", start=0, end=30), check=3)
        del tt["expectedResolutionDate"]
        settled = rollups.settle(tt, T0)
        assert settled["slaNextCheck"] == z(at(3))
        assert "beyondResolveDeadline" not in act(settled, "a1")

    def test_a_ticket_without_activities_is_left_as_it_is(self) -> None:
        tt = {"id": "TT-1", "status": "inProgress"}
        assert rollups.settle(tt, T0) is tt
        emptied = {**self.base(), "activitySummary": {"total": 1}}
        summary = rollups.settle(emptied, T0)["activitySummary"]
        assert (summary["total"], summary["openMandatory"]) == (0, 0)
        assert "progress" not in summary


# -- the aggregate's commands ----------------------------------------------------------------


def planned() -> JSON:
    """An inProgress ticket with a1 "Replace card" added at 09:00, planned 09:00-11:00."""
    tt = ticket(policy=LATE_POLICY)
    return add_in(tt, "a1", 1, **NAME, **NINE_TO_ELEVEN)


class TestManagedTicket:
    def test_adding_an_activity_updates_the_ticket_its_rollup_and_its_next_check(self) -> None:
        tt = planned()
        assert tt["lastUpdate"] == z(at(1))
        assert tt["activitySummary"]["blockingActivity"]["id"] == "a1"
        # the resolve clock warns at 18 h; the activity ends at 11:00 (3 h)
        assert tt["slaNextCheck"] == z(at(3))
        assert change_in(tt, "a1", NAME, 2) is tt  # a change of nothing

    def test_a_tick_before_the_planned_end_notices_nothing(self) -> None:
        ticked = tick(planned(), 2)
        assert (ticked["lastUpdate"], alert_ids(ticked)) == (z(at(1)), [])

    def test_a_tick_at_the_planned_end_alerts_and_escalates_through_the_policy(self) -> None:
        ticked = tick(planned(), 3)
        assert alert_ids(ticked) == ["activity-a1-late"]
        assert (ticked["escalationLevel"], ticked["priority"]) == (2, "High")
        assert ticked["priorityHistory"][-1] == {
            "@type": "PriorityChange",
            "priority": "High",
            "date": z(at(3)),
            "previousPriority": "Medium",
            "reason": "escalation rule: recovery activity a1 late",
            "source": "escalation",
        }
        assert ticked["relatedParty"] == [{"@type": REF, **COORDINATOR}]
        # High resolves in 8 h: 3 h spent, so the deadline is at 8 h and the warning
        # (75 % = 6 h) the next check
        assert ticked["expectedResolutionDate"] == z(at(8))
        assert ticked["slaNextCheck"] == z(at(6))
        assert ticked["activitySummary"]["late"] == 1
        assert ticked["lastUpdate"] == z(at(3))
        again = tick(ticked, 4)
        assert again["lastUpdate"] == z(at(3))
        assert alert_ids(again) == ["activity-a1-late"]
        assert len(again["escalation"]) == 1

    def test_a_rescheduled_late_activity_alerts_only_once(self) -> None:
        tt = change_in(tick(planned(), 3), "a1", {"plannedEndDate": z(at(5))}, 3.5)
        assert tt["activitySummary"]["late"] == 0
        assert tt["slaNextCheck"] == z(at(5))  # before the 6 h warning
        tt = tick(tt, 5)
        assert tt["activitySummary"]["late"] == 1
        assert [a["alertDate"] for a in tt["troubleTicketJeopardyAlert"]] == [z(at(3))]
        assert len(tt["escalation"]) == 1

    def test_a_plan_beyond_a_deadline_the_escalation_brought_forward_is_flagged(self) -> None:
        tt = add_in(planned(), "a2", 1, plannedStartDate=z(at(1)), plannedEndDate=z(at(10)))
        assert "beyondResolveDeadline" not in act(tt, "a2")  # deadline at 24 h
        ticked = tick(tt, 3)  # High: deadline at 8 h
        assert act(ticked, "a2")["beyondResolveDeadline"] is True
        assert "beyondResolveDeadline" not in act(ticked, "a1")  # ends at 3 h

    def test_cancelling_the_ticket_cancels_its_activities(self) -> None:
        tt = change_in(planned(), "a1", {"state": "inProgress"}, 1.5)
        done = patch_ticket(tt, CANCEL, 2, LATE_POLICY)
        assert act(done, "a1")["state"] == "cancelled"
        assert act(done, "a1")["stateChangeReason"] == "Customer withdrew"
        summary = done["activitySummary"]
        assert (summary["byState"]["cancelled"], summary["openMandatory"]) == (1, 0)
        assert "blockingActivity" not in summary and "progress" not in summary
        assert "slaNextCheck" not in done  # no clock runs, no activity is open
        assert alert_ids(tick(done, 5)) == []

    def test_resolving_is_refused_until_the_mandatory_activity_completed(self) -> None:
        tt = planned()
        with pytest.raises(Conflict) as refused:
            patch_ticket(tt, {"status": "resolved"}, 2, LATE_POLICY)
        assert refused.value.code == "openMandatoryActivities"
        tt = change_in(change_in(tt, "a1", {"state": "inProgress"}, 2), "a1", DONE, 2.5)
        resolved = patch_ticket(tt, {"status": "resolved"}, 2.5, LATE_POLICY)
        assert (resolved["status"], resolved["resolutionDate"]) == ("resolved", z(at(2.5)))
        assert resolved["activitySummary"]["progress"] == 100.0
        assert alert_ids(tick(resolved, 4)) == []  # completed before 11:00

    def test_removing_an_activity_updates_the_rollup_and_the_next_check(self) -> None:
        removed = ManagedTicket(LATE_POLICY).remove_activity(planned(), "a1", now=at(2))
        assert removed["lastUpdate"] == z(at(2))
        assert removed["activitySummary"]["total"] == 0
        assert removed["slaNextCheck"] == z(at(18))  # back to the resolve warning


# -- inputs are never modified ---------------------------------------------------------------


class TestNoMutation:
    def test_a_failure_in_the_middle_of_a_cascade_leaves_the_ticket_untouched(self) -> None:
        tt = add(add(ticket(), "a1"), "a2", plannedStartDate=z(at(1)), plannedDuration="PT2H")
        tt = change(tt, "a2", {"state": "inProgress"})
        # a record an older version stored: a plan without a time zone, which the activity's
        # rules refuse once a1 has already been cancelled in the cascade
        tt["recoveryActivity"][1]["plannedStartDate"] = "2026-11-20T09:00:00"
        snapshot = copy.deepcopy(tt)
        with pytest.raises(InvalidRequest) as refused:
            patch_ticket(tt, CANCEL, 2)
        assert refused.value.code == "invalidSchedule"
        assert tt == snapshot
        assert act(tt, "a1")["state"] == "planned"

    OPERATIONS: dict[str, Callable[[JSON], JSON]] = {
        "add": lambda tt: add(tt, "a9", dependsOn=["a1"]),
        "change": lambda tt: change(tt, "a2", {"state": "completed", "name": "done"}),
        "remove": lambda tt: coordination.remove_activity(tt, "a3"),
        "cascade": lambda tt: coordination.on_status_change(POLICY, tt, {**tt, **CANCEL}, at(2)),
        "raise_late": lambda tt: late(tt, 30),
        "settle": lambda tt: rollups.settle(tt, at(1)),
        "managed_patch": lambda tt: patch_ticket(tt, CANCEL, 2, LATE_POLICY),
        "managed_tick": lambda tt: tick(tt, 30),
    }

    @pytest.mark.parametrize("name", OPERATIONS)
    def test_operations_return_new_documents(self, name: str) -> None:
        tt = worked()
        for activity_id, end in (("a2", 3), ("a3", 26), ("a4", 5)):
            tt = change(tt, activity_id, {"plannedStartDate": z(T0), "plannedEndDate": z(at(end))})
        snapshot = copy.deepcopy(tt)
        result = self.OPERATIONS[name](tt)
        assert result != snapshot
        assert tt == snapshot
