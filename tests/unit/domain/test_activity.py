"""One recovery activity: its lifecycle, what create_activity sets, how patch_activity changes it,
its schedule and its assignment history.

Every activity belongs to ticket TT-1 and is created at T0 (2026-11-20T08:00Z) unless a test says
otherwise; patches happen an hour later. Expected instants and durations are worked out by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from troubleticket.context import NO_CONTEXT, Context
from troubleticket.domain.activity import (
    CREATE_PATHS,
    TRANSITIONS,
    ActivityState,
    check_step,
    create_activity,
    iso_duration,
    patch_activity,
    planned_seconds,
)
from troubleticket.domain.documents import timestamp
from troubleticket.domain.errors import (
    Conflict,
    InvalidRequest,
    InvalidTransition,
    ReasonRequired,
    ServerOwnedField,
)
from troubleticket.types import JSON

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
S = ActivityState
ALICE = Context(actor="alice")


def at(hours: float = 0, minutes: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes)


def z(moment: datetime) -> str:
    return timestamp(moment)


def party(party_id: str, role: str = "fieldTechnician", name: str | None = None) -> JSON:
    ref: JSON = {"@type": "PartyRoleRef", "id": party_id}
    if name is not None:
        ref["name"] = name
    return {"role": role, "partyOrPartyRole": ref}


def create(
    *,
    now: datetime = T0,
    default_mandatory: bool = True,
    context: Context = NO_CONTEXT,
    **fields: Any,
) -> JSON:
    body: JSON = {"activityType": "fieldRepair", "name": "Replace line card", **fields}
    return create_activity(
        body,
        activity_id="RA-1",
        ticket_id="TT-1",
        mandatory=default_mandatory,
        now=now,
        context=context,
    )


def patch(
    activity: JSON, changes: JSON, now: datetime | None = None, context: Context = NO_CONTEXT
) -> JSON:
    return patch_activity(activity, changes, now=now or at(1), context=context)


def states(activity: JSON) -> list[str]:
    return [entry["state"] for entry in activity["stateChangeHistory"]]


# -- lifecycle -------------------------------------------------------------------------------

ALLOWED = {
    ("planned", "inProgress"),
    ("planned", "held"),
    ("planned", "cancelled"),
    ("inProgress", "held"),
    ("inProgress", "completed"),
    ("inProgress", "failed"),
    ("inProgress", "cancelled"),
    ("held", "inProgress"),
    ("held", "cancelled"),
}
FORBIDDEN = [(a, b) for a in S for b in S if (a.value, b.value) not in ALLOWED]


class TestLifecycle:
    def test_the_table_has_exactly_the_documented_steps(self) -> None:
        table = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
        assert table == ALLOWED
        assert {s for s in S if not TRANSITIONS[s]} == {S.COMPLETED, S.FAILED, S.CANCELLED}

    @pytest.mark.parametrize(("before", "after"), sorted(ALLOWED))
    def test_every_step_of_the_table_is_accepted(self, before: str, after: str) -> None:
        check_step(S(before), S(after), "the customer withdrew")  # no exception

    @pytest.mark.parametrize(("before", "after"), FORBIDDEN, ids=lambda s: s.value)
    def test_every_other_step_is_refused_as_a_conflict(self, before: S, after: S) -> None:
        with pytest.raises(InvalidTransition) as refused:
            check_step(before, after, "a reason does not help")
        assert refused.value.code == "invalidStateTransition"
        assert not isinstance(refused.value, InvalidRequest)  # 409, not 400
        assert (refused.value.from_status, refused.value.to_status) == (before.value, after.value)
        assert refused.value.allowed == [s.value for s in S if s in TRANSITIONS[before]]

    def test_the_message_names_the_activity_and_the_allowed_states(self) -> None:
        with pytest.raises(InvalidTransition) as refused:
            check_step(S.PLANNED, S.COMPLETED, None)
        assert "recovery activity" in refused.value.message
        assert "inProgress, held, cancelled" in refused.value.message

    @pytest.mark.parametrize("reason", [None, "", "   ", 42])
    @pytest.mark.parametrize("before", [S.PLANNED, S.IN_PROGRESS, S.HELD])
    def test_cancelling_needs_a_reason(self, before: S, reason: Any) -> None:
        with pytest.raises(ReasonRequired) as refused:
            check_step(before, S.CANCELLED, reason)
        assert refused.value.code == "stateChangeReasonRequired"

    def test_no_other_step_needs_a_reason(self) -> None:
        for before, after in ALLOWED - {
            (b, "cancelled") for b in ("planned", "inProgress", "held")
        }:
            check_step(S(before), S(after), None)


# -- create ----------------------------------------------------------------------------------


class TestCreate:
    def test_the_server_sets_identity_reference_dates_and_the_first_state(self) -> None:
        activity = create(id="mine", href="/elsewhere")
        assert activity == {
            "id": "RA-1",
            "@type": "RecoveryActivity",
            "activityType": "fieldRepair",
            "name": "Replace line card",
            "troubleTicket": {"@type": "TroubleTicketRef", "id": "TT-1"},
            "mandatory": True,
            "progress": 0,
            "creationDate": z(T0),
            "lastUpdate": z(T0),
            "state": "planned",
            "stateChangeDate": z(T0),
            "stateChangeHistory": [
                {"@type": "ActivityStateChange", "state": "planned", "stateChangeDate": z(T0)}
            ],
        }

    def test_the_type_default_for_mandatory_applies_unless_the_request_says(self) -> None:
        assert create(default_mandatory=False)["mandatory"] is False
        assert create(default_mandatory=True)["mandatory"] is True
        assert create(default_mandatory=False, mandatory=True)["mandatory"] is True
        assert create(default_mandatory=True, mandatory=False)["mandatory"] is False

    @pytest.mark.parametrize(
        "name",
        [
            "creationDate",
            "lastUpdate",
            "stateChangeDate",
            "stateChangeHistory",
            "assignmentHistory",
            "beyondResolveDeadline",
        ],
    )
    def test_a_server_owned_attribute_is_refused(self, name: str) -> None:
        owned: JSON = {name: "anything"}
        with pytest.raises(ServerOwnedField) as refused:
            create(**owned)
        assert refused.value.fields == [name]

    def test_the_ticket_it_belongs_to_is_the_servers_to_say(self) -> None:
        activity = create(troubleTicket={"@type": "TroubleTicketRef", "id": "TT-9"})
        assert activity["troubleTicket"] == {"@type": "TroubleTicketRef", "id": "TT-1"}

    def test_another_class_needs_its_base_type(self) -> None:
        without_base: JSON = {"@type": "FieldVisit"}
        with pytest.raises(InvalidRequest) as refused:
            create(**without_base)
        assert refused.value.code == "baseTypeRequired"
        sub = create(**{**without_base, "@baseType": "RecoveryActivity"})
        assert sub["@type"] == "FieldVisit"

    @pytest.mark.parametrize(
        ("state", "path"),
        [
            ("planned", ["planned"]),
            ("inProgress", ["planned", "inProgress"]),
            ("held", ["planned", "held"]),
            ("completed", ["planned", "inProgress", "completed"]),
            ("failed", ["planned", "inProgress", "failed"]),
            ("cancelled", ["planned", "cancelled"]),
        ],
    )
    def test_a_later_state_is_reached_through_its_create_path(
        self, state: str, path: list[str]
    ) -> None:
        assert [s.value for s in (S.PLANNED, *CREATE_PATHS[S(state)])] == path
        activity = create(state=state, stateChangeReason="recorded afterwards")
        assert activity["state"] == state
        assert states(activity) == path
        assert {e["stateChangeDate"] for e in activity["stateChangeHistory"]} == {z(T0)}
        # the reason explains the last step only
        assert [e.get("stateChangeReason") for e in activity["stateChangeHistory"]] == [
            *[None] * (len(path) - 1),
            "recorded afterwards" if len(path) > 1 else None,
        ]

    def test_created_in_progress_it_started_now(self) -> None:
        activity = create(state="inProgress", progress=30)
        assert activity["actualStartDate"] == z(T0)
        assert "actualEndDate" not in activity
        assert activity["progress"] == 30

    def test_created_completed_it_started_and_ended_now_at_100_percent(self) -> None:
        activity = create(state="completed", progress=40)
        assert (activity["actualStartDate"], activity["actualEndDate"]) == (z(T0), z(T0))
        assert activity["progress"] == 100

    def test_created_failed_it_ended_now_and_keeps_its_progress(self) -> None:
        activity = create(state="failed", progress=60)
        assert activity["actualEndDate"] == z(T0)
        assert activity["progress"] == 60

    def test_actual_dates_the_request_gives_are_kept_in_utc(self) -> None:
        activity = create(
            state="completed",
            actualStartDate="2026-11-20T00:00:00+02:00",
            actualEndDate=z(at(-1)),
        )
        assert activity["actualStartDate"] == "2026-11-19T22:00:00.000Z"
        assert activity["actualEndDate"] == z(at(-1))

    def test_created_cancelled_needs_a_reason(self) -> None:
        with pytest.raises(ReasonRequired) as refused:
            create(state="cancelled")
        assert refused.value.code == "stateChangeReasonRequired"
        activity = create(state="cancelled", stateChangeReason="duplicate")
        assert activity["stateChangeReason"] == "duplicate"

    def test_an_unknown_state_is_refused(self) -> None:
        with pytest.raises(InvalidRequest, match="Unknown state 'done'"):
            create(state="done")

    def test_an_assignee_on_create_is_recorded_with_its_reason_and_actor(self) -> None:
        activity = create(
            assignee=party("pr-ann"), assignmentReason="on site already", context=ALICE
        )
        assert activity["assignee"] == party("pr-ann")
        assert activity["assignmentHistory"] == [
            {
                "@type": "ActivityAssignment",
                "date": z(T0),
                "source": "client",
                "assignee": party("pr-ann"),
                "reason": "on site already",
                "actor": "alice",
            }
        ]
        assert "assignmentReason" not in activity

    def test_without_an_assignee_there_is_no_assignment_history(self) -> None:
        assert "assignmentHistory" not in create(assignmentReason="nobody to name")


# -- schedule --------------------------------------------------------------------------------


class TestSchedule:
    def test_a_start_and_a_duration_give_the_end(self) -> None:
        # 10:00 + 1 h 30 min = 11:30; the compact duration is rewritten in ISO 8601
        activity = create(plannedStartDate=z(at(2)), plannedDuration="90m")
        assert activity["plannedEndDate"] == z(at(3, 30))
        assert activity["plannedDuration"] == "PT1H30M"

    @pytest.mark.parametrize(
        ("hours", "duration"),
        [(4, "PT4H"), (26.5, "P1DT2H30M"), (48, "P2D"), (0.25, "PT15M")],
    )
    def test_a_start_and_an_end_give_the_duration(self, hours: float, duration: str) -> None:
        activity = create(plannedStartDate=z(T0), plannedEndDate=z(at(hours)))
        assert activity["plannedDuration"] == duration

    def test_an_end_before_the_start_is_refused(self) -> None:
        with pytest.raises(InvalidRequest) as refused:
            create(plannedStartDate=z(at(4)), plannedEndDate=z(at(2)))
        assert refused.value.code == "invalidSchedule"

    def test_start_end_and_duration_that_disagree_are_refused(self) -> None:
        # 08:00 -> 12:00 is 4 h, not 3 h
        with pytest.raises(InvalidRequest) as refused:
            create(plannedStartDate=z(T0), plannedEndDate=z(at(4)), plannedDuration="PT3H")
        assert refused.value.code == "invalidSchedule"
        agreed = create(plannedStartDate=z(T0), plannedEndDate=z(at(4)), plannedDuration="PT4H")
        assert agreed["plannedEndDate"] == z(at(4))

    @pytest.mark.parametrize(
        "fields",
        [
            {"plannedStartDate": "2026-11-20T08:00:00"},  # no time zone
            {"plannedEndDate": "tomorrow"},
            {"plannedStartDate": z(T0), "plannedDuration": "soon"},
            {"plannedDuration": "-PT1H"},
        ],
    )
    def test_dates_and_durations_must_be_what_they_say(self, fields: JSON) -> None:
        with pytest.raises(InvalidRequest) as refused:
            create(**fields)
        assert refused.value.code == "invalidSchedule"

    def test_a_duration_without_a_start_waits_for_one(self) -> None:
        activity = create(plannedDuration="PT2H")
        assert "plannedEndDate" not in activity
        # 09:00 + 2 h = 11:00
        activity = patch(activity, {"plannedStartDate": z(at(1))})
        assert activity["plannedEndDate"] == z(at(3))

    def test_a_new_duration_moves_the_end(self) -> None:
        activity = create(plannedStartDate=z(T0), plannedEndDate=z(at(4)))
        activity = patch(activity, {"plannedDuration": "PT6H"})
        assert (activity["plannedEndDate"], activity["plannedDuration"]) == (z(at(6)), "PT6H")

    def test_a_new_end_changes_the_duration(self) -> None:
        activity = create(plannedStartDate=z(T0), plannedDuration="PT4H")
        activity = patch(activity, {"plannedEndDate": z(at(5, 15))})
        assert activity["plannedDuration"] == "PT5H15M"

    def test_a_patch_that_puts_the_end_before_the_start_is_refused(self) -> None:
        activity = create(plannedStartDate=z(at(2)), plannedDuration="PT4H")
        with pytest.raises(InvalidRequest) as refused:
            patch(activity, {"plannedEndDate": z(at(1))})
        assert refused.value.code == "invalidSchedule"

    def test_a_milestone_planned_to_start_and_end_at_once_can_still_be_patched(self) -> None:
        milestone = create(plannedStartDate=z(at(2)), plannedEndDate=z(at(2)))
        started = patch(milestone, {"state": "inProgress"})
        assert started["state"] == "inProgress"


class TestDurations:
    @pytest.mark.parametrize(
        ("seconds", "text"),
        [
            (4 * 3600, "PT4H"),
            (26 * 3600 + 30 * 60, "P1DT2H30M"),
            (86400, "P1D"),
            (2 * 86400 + 5, "P2DT5S"),
            (90, "PT1M30S"),
            (45, "PT45S"),
            (59.6, "PT1M"),  # rounded to the second
            (0, "PT0S"),
        ],
    )
    def test_iso_duration(self, seconds: float, text: str) -> None:
        assert iso_duration(seconds) == text

    def test_planned_seconds_needs_a_start_and_an_end(self) -> None:
        plan = {"plannedStartDate": z(T0), "plannedEndDate": "2026-11-20T12:30:00+02:00"}
        # 12:30+02:00 is 10:30Z: 2 h 30 min after 08:00Z
        assert planned_seconds(plan) == 9000.0
        assert planned_seconds({"plannedStartDate": z(T0)}) is None
        assert planned_seconds({"plannedEndDate": z(T0)}) is None
        naive = {"plannedStartDate": "2026-11-20T08:00:00", "plannedEndDate": z(at(1))}
        assert planned_seconds(naive) is None


# -- patch -----------------------------------------------------------------------------------


class TestPatch:
    def test_a_merge_patch_changes_what_it_names_and_the_last_update(self) -> None:
        activity = create(description="swap the card", note={"a": 1, "b": 2})
        updated = patch(activity, {"name": "Replace DSLAM card", "note": {"b": None, "c": 3}})
        assert updated["name"] == "Replace DSLAM card"
        assert updated["note"] == {"a": 1, "c": 3}
        assert updated["description"] == "swap the card"
        assert updated["lastUpdate"] == z(at(1))
        assert updated["creationDate"] == z(T0)
        assert activity["name"] == "Replace line card"  # the input is not modified

    @pytest.mark.parametrize(
        "changes",
        [
            {},
            {"name": "Replace line card"},
            {"creationDate": z(T0), "state": "planned", "id": "RA-1"},  # echoes
            {"assignmentReason": "nothing to explain"},
        ],
    )
    def test_a_patch_that_changes_nothing_returns_the_same_object(self, changes: JSON) -> None:
        activity = create(plannedStartDate=z(T0), plannedDuration="PT2H")
        assert patch(activity, changes) is activity

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("creationDate", "2026-01-01T00:00:00Z"),
            ("stateChangeHistory", []),
            ("assignmentHistory", []),
            ("beyondResolveDeadline", True),
        ],
    )
    def test_a_server_owned_attribute_cannot_change(self, name: str, value: Any) -> None:
        with pytest.raises(ServerOwnedField) as refused:
            patch(create(), {name: value})
        assert refused.value.fields == [name]

    def test_a_patch_cannot_move_the_activity_to_another_ticket(self) -> None:
        activity = create()
        moved = patch(activity, {"troubleTicket": {"id": "TT-2"}, "name": "Swap card"})
        assert moved["troubleTicket"] == {"@type": "TroubleTicketRef", "id": "TT-1"}
        assert patch(activity, {"troubleTicket": {"id": "TT-2"}}) is activity

    def test_the_id_cannot_change(self) -> None:
        with pytest.raises(Conflict) as refused:
            patch(create(), {"id": "RA-2"})
        assert refused.value.code == "identityChange"

    @pytest.mark.parametrize("name", ["state", "activityType", "mandatory", "@type"])
    def test_required_attributes_cannot_be_removed(self, name: str) -> None:
        with pytest.raises(InvalidRequest, match=name):
            patch(create(), {name: None})

    def test_starting_holding_and_resuming_keeps_the_first_start(self) -> None:
        activity = patch(create(), {"state": "inProgress"}, at(1))
        activity = patch(activity, {"state": "held", "stateChangeReason": "parts"}, at(2))
        activity = patch(activity, {"state": "inProgress"}, at(3))
        assert states(activity) == ["planned", "inProgress", "held", "inProgress"]
        assert activity["actualStartDate"] == z(at(1))
        assert activity["stateChangeDate"] == z(at(3))
        assert activity["stateChangeHistory"][2]["stateChangeReason"] == "parts"
        # the reason explained the hold, not the resumption
        assert "stateChangeReason" not in activity

    def test_completing_sets_the_end_and_100_percent(self) -> None:
        activity = patch(create(), {"state": "inProgress", "progress": 20}, at(1))
        activity = patch(activity, {"state": "completed", "progress": 80}, at(2, 30))
        assert activity["actualEndDate"] == z(at(2, 30))
        assert activity["progress"] == 100

    def test_failing_sets_the_end_and_keeps_the_progress(self) -> None:
        activity = patch(create(), {"state": "inProgress", "progress": 20}, at(1))
        activity = patch(activity, {"state": "failed"}, at(2))
        assert (activity["actualEndDate"], activity["progress"]) == (z(at(2)), 20)

    def test_an_actual_end_the_patch_gives_is_kept(self) -> None:
        activity = patch(create(), {"state": "inProgress"}, at(1))
        activity = patch(activity, {"state": "completed", "actualEndDate": z(at(1, 45))}, at(2))
        assert activity["actualEndDate"] == z(at(1, 45))

    @pytest.mark.parametrize(
        ("path", "target"),
        [([], "completed"), ([], "failed"), (["inProgress", "completed"], "inProgress")],
    )
    def test_an_illegal_step_is_refused(self, path: list[str], target: str) -> None:
        activity = create()
        for state in path:
            activity = patch(activity, {"state": state})
        with pytest.raises(InvalidTransition) as refused:
            patch(activity, {"state": target})
        assert refused.value.code == "invalidStateTransition"

    def test_cancelling_needs_a_reason_and_records_it(self) -> None:
        with pytest.raises(ReasonRequired) as refused:
            patch(create(), {"state": "cancelled"})
        assert refused.value.code == "stateChangeReasonRequired"
        cancelled = patch(create(), {"state": "cancelled", "stateChangeReason": "not needed"})
        assert cancelled["stateChangeHistory"][-1] == {
            "@type": "ActivityStateChange",
            "state": "cancelled",
            "stateChangeDate": z(at(1)),
            "stateChangeReason": "not needed",
        }


class TestAssignment:
    def test_the_first_assignee_needs_no_reason(self) -> None:
        activity = patch(create(), {"assignee": party("pr-ann")}, context=ALICE)
        assert activity["assignee"] == party("pr-ann")
        assert activity["assignmentHistory"] == [
            {
                "@type": "ActivityAssignment",
                "date": z(at(1)),
                "source": "client",
                "assignee": party("pr-ann"),
                "actor": "alice",
            }
        ]

    @pytest.mark.parametrize("reason", [None, "", "  "])
    def test_another_party_needs_an_assignment_reason(self, reason: str | None) -> None:
        activity = create(assignee=party("pr-ann"))
        changes: JSON = {"assignee": party("pr-bob")}
        if reason is not None:
            changes["assignmentReason"] = reason
        with pytest.raises(InvalidRequest) as refused:
            patch(activity, changes)
        assert refused.value.code == "assignmentReasonRequired"

    def test_another_party_replaces_the_assignee_whole_and_is_recorded(self) -> None:
        ann = party("pr-ann", name="Ann")
        activity = create(assignee={**ann, "contactMedium": "radio"})
        bob = party("pr-bob", role="partnerEngineer")
        updated = patch(
            activity, {"assignee": bob, "assignmentReason": "Ann is off sick"}, context=ALICE
        )
        # a merge would have kept Ann's name and contactMedium beside Bob's id
        assert updated["assignee"] == bob
        assert updated["assignmentHistory"][-1] == {
            "@type": "ActivityAssignment",
            "date": z(at(1)),
            "source": "client",
            "assignee": bob,
            "previousAssignee": {**ann, "contactMedium": "radio"},
            "reason": "Ann is off sick",
            "actor": "alice",
        }
        assert len(updated["assignmentHistory"]) == 2
        assert "assignmentReason" not in updated

    def test_the_same_party_in_another_role_is_merged_without_a_reason(self) -> None:
        activity = create(assignee=party("pr-ann", name="Ann"))
        updated = patch(
            activity,
            {"assignee": {"role": "teamLead", "partyOrPartyRole": {"id": "pr-ann"}}},
            at(2),
        )
        assert updated["assignee"] == party("pr-ann", role="teamLead", name="Ann")
        entry = updated["assignmentHistory"][-1]
        assert entry["assignee"] == party("pr-ann", role="teamLead", name="Ann")
        assert entry["previousAssignee"] == party("pr-ann", name="Ann")
        assert entry["date"] == z(at(2))
        assert "reason" not in entry

    def test_the_same_assignee_again_records_nothing(self) -> None:
        activity = create(assignee=party("pr-ann"))
        assert patch(activity, {"assignee": party("pr-ann")}) is activity

    def test_every_change_of_assignee_is_kept_in_order(self) -> None:
        activity = create(assignee=party("pr-ann"))
        activity = patch(activity, {"assignee": party("pr-bob"), "assignmentReason": "shift"})
        activity = patch(
            activity, {"assignee": party("pr-cy"), "assignmentReason": "escalated"}, at(2)
        )
        history = activity["assignmentHistory"]
        assert [party_of(e.get("assignee")) for e in history] == ["pr-ann", "pr-bob", "pr-cy"]
        assert [party_of(e.get("previousAssignee")) for e in history] == [None, "pr-ann", "pr-bob"]
        assert [e.get("reason") for e in history] == [None, "shift", "escalated"]

    def test_a_patch_of_the_role_alone_is_a_merge_into_the_current_assignee(self) -> None:
        activity = create(assignee=party("pr-ann"))
        updated = patch(activity, {"assignee": {"role": "teamLead"}})
        assert updated["assignee"] == party("pr-ann", role="teamLead")


def party_of(assignee: Any) -> Any:
    return assignee["partyOrPartyRole"]["id"] if assignee else None
