"""TroubleTicket rules: what create_ticket sets, and how patch_ticket applies a merge patch."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from troubleticket.domain.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    InvalidTransition,
    ReasonRequired,
    ServerOwnedField,
)
from troubleticket.domain.ticket import (
    check_assignee_named,
    check_parties_named,
    create_ticket,
    patch_ticket,
)

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
T_NOW = "2026-11-20T08:00:00.000Z"
LATER = datetime(2026, 11, 20, 9, 30, 15, 250_000, tzinfo=UTC)
T_LATER = "2026-11-20T09:30:15.250Z"
HREF = "http://localhost:8080/tmf-api/troubleTicket/v5/troubleTicket/TT-1"

SERVER_OWNED = [
    "id",
    "href",
    "creationDate",
    "lastUpdate",
    "statusChangeDate",
    "statusChangeHistory",
]
# Outside TroubleTicket_FVO: refused on create.
NOT_IN_CREATE_VIEW = ["creationDate", "lastUpdate", "statusChangeHistory"]
NOT_REMOVABLE = ["@type", "status", "description", "severity", "ticketType"]


def create_request(**overrides: Any) -> dict[str, Any]:
    """A valid TroubleTicket_FVO with nested objects, so copies and merges are exercised."""
    body: dict[str, Any] = {
        "@type": "TroubleTicket",
        "name": "Broadband down",
        "description": "No sync on the DSL line since 08:00",
        "severity": "Major",
        "ticketType": "incident",
        "priority": "High",
        "channel": {"@type": "ChannelRef", "id": "8774", "name": "Self Service"},
        "note": [{"@type": "Note", "author": "Jane Doe", "text": "Line test shows no sync"}],
    }
    body.update(overrides)
    return body


def change(status: str, when: str, reason: str | None = None) -> dict[str, Any]:
    entry = {"@type": "StatusChange", "status": status, "statusChangeDate": when}
    if reason is not None:
        entry["statusChangeReason"] = reason
    return entry


def stored_ticket(status: str = "acknowledged", **overrides: Any) -> dict[str, Any]:
    """A ticket as the service hands it to patch_ticket, created at NOW and now in ``status``."""
    history = [change("acknowledged", T_NOW)]
    path = {
        "acknowledged": [],
        "inProgress": ["inProgress"],
        "pending": ["pending"],
        "resolved": ["inProgress", "resolved"],
        "closed": ["inProgress", "resolved", "closed"],
    }[status]
    history += [change(step, T_NOW) for step in path]
    doc = {
        "id": "TT-1",
        "href": HREF,
        **create_request(),
        "status": status,
        "creationDate": T_NOW,
        "lastUpdate": T_NOW,
        "statusChangeDate": T_NOW,
        "statusChangeHistory": history,
    }
    if "resolved" in path:
        doc["resolutionDate"] = T_NOW
    doc.update(overrides)
    return doc


class TestCreateTicket:
    def test_the_server_sets_id_dates_status_and_first_history_entry(self) -> None:
        ticket = create_ticket(create_request(), resource_id="TT-1", now=NOW)

        assert ticket["id"] == "TT-1"
        assert ticket["creationDate"] == T_NOW
        assert ticket["lastUpdate"] == T_NOW
        assert ticket["statusChangeDate"] == T_NOW
        assert ticket["status"] == "acknowledged"
        assert ticket["statusChangeHistory"] == [
            {"@type": "StatusChange", "status": "acknowledged", "statusChangeDate": T_NOW}
        ]

    def test_every_client_attribute_is_kept_exactly(self) -> None:
        body = create_request(
            relatedParty=[{"@type": "RelatedPartyRefOrPartyRoleRef", "role": "customer"}],
            externalIdentifier=[{"@type": "ExternalIdentifier", "id": "EXT-9"}],
        )
        ticket = create_ticket(body, resource_id="TT-1", now=NOW)

        server_set = {
            "id",
            "status",
            "creationDate",
            "lastUpdate",
            "statusChangeDate",
            "statusChangeHistory",
        }
        assert set(ticket) == set(body) | server_set
        for name, value in body.items():
            assert ticket[name] == value, name

    def test_dates_are_rendered_in_utc_with_milliseconds(self) -> None:
        ticket = create_ticket(create_request(), resource_id="TT-1", now=LATER)
        assert ticket["creationDate"] == T_LATER

    def test_an_explicit_acknowledged_status_keeps_its_reason_in_the_history(self) -> None:
        body = create_request(status="acknowledged", statusChangeReason="Reported by phone")
        ticket = create_ticket(body, resource_id="TT-1", now=NOW)

        assert ticket["status"] == "acknowledged"
        assert ticket["statusChangeHistory"] == [change("acknowledged", T_NOW, "Reported by phone")]

    @pytest.mark.parametrize("status", ["inProgress", "pending", "held"])
    def test_a_requested_initial_status_reachable_from_acknowledged_records_both_steps(
        self, status: str
    ) -> None:
        ticket = create_ticket(create_request(status=status), resource_id="TT-1", now=NOW)

        assert ticket["status"] == status
        assert ticket["statusChangeHistory"] == [
            change("acknowledged", T_NOW),
            change(status, T_NOW),
        ]

    @pytest.mark.parametrize("status", ["rejected", "cancelled"])
    def test_a_requested_status_that_needs_a_reason_records_it_on_the_second_step(
        self, status: str
    ) -> None:
        body = create_request(status=status, statusChangeReason="Duplicate of TT-7")
        ticket = create_ticket(body, resource_id="TT-1", now=NOW)

        assert ticket["status"] == status
        assert ticket["statusChangeReason"] == "Duplicate of TT-7"
        assert ticket["statusChangeHistory"] == [
            change("acknowledged", T_NOW),
            change(status, T_NOW, "Duplicate of TT-7"),
        ]

    def test_a_ticket_reported_resolved_goes_through_the_work_and_is_dated(self) -> None:
        body = create_request(status="resolved", statusChangeReason="Fixed on the call")
        ticket = create_ticket(body, resource_id="TT-1", now=NOW)

        assert ticket["status"] == "resolved"
        assert ticket["resolutionDate"] == T_NOW
        assert ticket["statusChangeHistory"] == [
            change("acknowledged", T_NOW),
            change("inProgress", T_NOW),
            change("resolved", T_NOW, "Fixed on the call"),
        ]

    def test_a_ticket_reported_closed_keeps_the_clients_resolution_date(self) -> None:
        body = create_request(status="closed", resolutionDate="2026-11-20T07:55:00.000Z")
        ticket = create_ticket(body, resource_id="TT-1", now=NOW)

        assert ticket["resolutionDate"] == "2026-11-20T07:55:00.000Z"
        assert [entry["status"] for entry in ticket["statusChangeHistory"]] == [
            "acknowledged",
            "inProgress",
            "resolved",
            "closed",
        ]

    @pytest.mark.parametrize("reason", [None, "", "   "])
    def test_creating_a_cancelled_ticket_without_a_reason_is_refused(
        self, reason: str | None
    ) -> None:
        body = create_request(status="cancelled")
        if reason is not None:
            body["statusChangeReason"] = reason
        with pytest.raises(ReasonRequired) as caught:
            create_ticket(body, resource_id="TT-1", now=NOW)
        assert caught.value.status == "cancelled"

    def test_an_unknown_status_is_an_invalid_request(self) -> None:
        with pytest.raises(InvalidRequest, match="Unknown status 'open'"):
            create_ticket(create_request(status="open"), resource_id="TT-1", now=NOW)

    @pytest.mark.parametrize("name", NOT_IN_CREATE_VIEW)
    def test_a_server_owned_attribute_in_the_request_is_refused_by_name(self, name: str) -> None:
        body = create_request(**{name: "client value"})
        with pytest.raises(ServerOwnedField) as caught:
            create_ticket(body, resource_id="TT-1", now=NOW)
        assert caught.value.fields == [name]
        assert name in str(caught.value)

    def test_all_server_owned_attributes_in_the_request_are_named_together(self) -> None:
        body = create_request(creationDate=T_NOW, lastUpdate=T_NOW)
        with pytest.raises(ServerOwnedField) as caught:
            create_ticket(body, resource_id="TT-1", now=NOW)
        assert caught.value.fields == ["creationDate", "lastUpdate"]

    def test_what_the_create_view_has_but_the_server_sets_is_replaced(self) -> None:
        # TroubleTicket_FVO has id, href and statusChangeDate; the server assigns them.
        body = create_request(
            id="mine", href="https://elsewhere.example/tt/mine", statusChangeDate="2020-01-01"
        )
        ticket = create_ticket(body, resource_id="TT-1", now=NOW)
        assert ticket["id"] == "TT-1"
        assert "href" not in ticket  # derived from the id by the service
        assert ticket["statusChangeDate"] == T_NOW

    def test_a_subclass_of_trouble_ticket_is_created_with_its_class(self) -> None:
        body = create_request(**{"@type": "FibreTroubleTicket"})
        with pytest.raises(InvalidRequest, match="@baseType"):
            create_ticket(body, resource_id="TT-1", now=NOW)
        body["@baseType"] = "TroubleTicket"
        assert create_ticket(body, resource_id="TT-1", now=NOW)["@type"] == "FibreTroubleTicket"

    def test_the_request_is_not_mutated(self) -> None:
        body = create_request(status="inProgress", statusChangeReason="Engineer assigned")
        before = copy.deepcopy(body)

        create_ticket(body, resource_id="TT-1", now=NOW)

        assert body == before


class TestPatchStatus:
    def test_a_status_change_appends_history_with_its_reason_and_bumps_the_dates(self) -> None:
        current = stored_ticket()
        patched = patch_ticket(
            current, {"status": "inProgress", "statusChangeReason": "Engineer assigned"}, now=LATER
        )

        assert patched["status"] == "inProgress"
        assert patched["statusChangeReason"] == "Engineer assigned"
        assert patched["statusChangeHistory"] == [
            change("acknowledged", T_NOW),
            change("inProgress", T_LATER, "Engineer assigned"),
        ]
        assert patched["statusChangeDate"] == T_LATER
        assert patched["lastUpdate"] == T_LATER
        assert patched["creationDate"] == T_NOW

    def test_a_status_change_without_a_reason_records_no_reason(self) -> None:
        patched = patch_ticket(stored_ticket(), {"status": "pending"}, now=LATER)
        assert patched["statusChangeHistory"][-1] == change("pending", T_LATER)

    def test_a_status_change_leaves_the_input_untouched(self) -> None:
        current = stored_ticket()
        before = copy.deepcopy(current)

        patch_ticket(current, {"status": "inProgress", "description": "Now on it"}, now=LATER)

        assert current == before

    def test_an_illegal_transition_is_refused_and_the_input_is_untouched(self) -> None:
        current = stored_ticket("pending")
        before = copy.deepcopy(current)

        with pytest.raises(InvalidTransition) as caught:
            patch_ticket(current, {"status": "closed", "description": "Closing"}, now=LATER)

        assert (caught.value.from_status, caught.value.to_status) == ("pending", "closed")
        assert current == before

    def test_a_final_ticket_cannot_be_reopened(self) -> None:
        with pytest.raises(InvalidTransition):
            patch_ticket(stored_ticket("closed"), {"status": "inProgress"}, now=LATER)

    def test_cancelling_needs_a_reason_in_the_patch_even_if_the_ticket_has_an_older_one(
        self,
    ) -> None:
        current = stored_ticket("pending", statusChangeReason="Waiting for the customer")
        with pytest.raises(ReasonRequired):
            patch_ticket(current, {"status": "cancelled"}, now=LATER)

    def test_rejecting_with_a_blank_reason_is_refused(self) -> None:
        with pytest.raises(ReasonRequired):
            patch_ticket(
                stored_ticket(), {"status": "rejected", "statusChangeReason": "  "}, now=LATER
            )

    def test_cancelling_with_a_reason_is_recorded(self) -> None:
        patched = patch_ticket(
            stored_ticket("inProgress"),
            {"status": "cancelled", "statusChangeReason": "Customer withdrew"},
            now=LATER,
        )
        assert patched["status"] == "cancelled"
        assert patched["statusChangeHistory"][-1] == change(
            "cancelled", T_LATER, "Customer withdrew"
        )

    def test_a_status_change_without_a_reason_drops_the_stale_reason(self) -> None:
        current = stored_ticket("pending", statusChangeReason="Waiting for the customer")
        patched = patch_ticket(current, {"status": "inProgress"}, now=LATER)
        assert "statusChangeReason" not in patched

    def test_an_unknown_status_is_an_invalid_request(self) -> None:
        with pytest.raises(InvalidRequest, match="Unknown status 'done'"):
            patch_ticket(stored_ticket(), {"status": "done"}, now=LATER)

    def test_a_same_status_patch_adds_no_history_entry(self) -> None:
        current = stored_ticket("inProgress")
        patched = patch_ticket(current, {"status": "inProgress", "priority": "Low"}, now=LATER)

        assert patched["priority"] == "Low"
        assert patched["statusChangeHistory"] == current["statusChangeHistory"]
        assert patched["statusChangeDate"] == T_NOW
        assert patched["lastUpdate"] == T_LATER


class TestPatchResolution:
    def test_resolving_sets_the_resolution_date(self) -> None:
        patched = patch_ticket(stored_ticket("inProgress"), {"status": "resolved"}, now=LATER)
        assert patched["resolutionDate"] == T_LATER

    def test_resolving_keeps_a_resolution_date_given_in_the_patch(self) -> None:
        patch = {"status": "resolved", "resolutionDate": "2026-11-20T09:00:00.000Z"}
        patched = patch_ticket(stored_ticket("inProgress"), patch, now=LATER)
        assert patched["resolutionDate"] == "2026-11-20T09:00:00.000Z"

    def test_resolved_ticket_can_be_reopened_which_removes_the_resolution_date(self) -> None:
        current = stored_ticket("resolved")
        patched = patch_ticket(
            current, {"status": "inProgress", "statusChangeReason": "Still no sync"}, now=LATER
        )

        assert patched["status"] == "inProgress"
        assert "resolutionDate" not in patched
        assert current["resolutionDate"] == T_NOW

    def test_closing_a_resolved_ticket_keeps_its_resolution_date(self) -> None:
        # The originator accepted the fix: the ticket was resolved at T_NOW and stays so.
        patched = patch_ticket(stored_ticket("resolved"), {"status": "closed"}, now=LATER)

        assert patched["status"] == "closed"
        assert patched.get("resolutionDate") == T_NOW


class TestPatchMerge:
    def test_null_removes_an_attribute(self) -> None:
        patched = patch_ticket(stored_ticket(), {"priority": None}, now=LATER)
        assert "priority" not in patched
        assert patched["lastUpdate"] == T_LATER

    def test_nested_objects_are_merged_key_by_key(self) -> None:
        patched = patch_ticket(
            stored_ticket(), {"channel": {"name": "Phone", "@type": None}}, now=LATER
        )
        assert patched["channel"] == {"id": "8774", "name": "Phone"}

    def test_arrays_are_replaced_whole(self) -> None:
        note = [{"@type": "Note", "text": "Replaced"}]
        patched = patch_ticket(stored_ticket(), {"note": note}, now=LATER)
        assert patched["note"] == note

    def test_a_merge_leaves_nested_input_objects_untouched(self) -> None:
        current = stored_ticket()
        before = copy.deepcopy(current)

        patch_ticket(current, {"channel": {"name": None}, "note": None}, now=LATER)

        assert current == before

    @pytest.mark.parametrize("name", NOT_REMOVABLE)
    def test_a_ticket_cannot_lose_a_required_attribute(self, name: str) -> None:
        with pytest.raises(InvalidRequest, match=f"cannot be removed: {name}"):
            patch_ticket(stored_ticket(), {name: None}, now=LATER)


class TestPatchServerOwned:
    def test_echoing_every_server_owned_value_unchanged_is_accepted(self) -> None:
        current = stored_ticket()
        patch = {name: copy.deepcopy(current[name]) for name in SERVER_OWNED}
        patch["description"] = "Line resynchronised, speed low"

        patched = patch_ticket(current, patch, now=LATER)

        assert patched["description"] == "Line resynchronised, speed low"
        assert patched["lastUpdate"] == T_LATER
        assert patched["id"] == "TT-1"
        assert patched["statusChangeHistory"] == current["statusChangeHistory"]

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            pytest.param("creationDate", "2020-01-01T00:00:00.000Z", id="creationDate"),
            pytest.param("lastUpdate", "2020-01-01T00:00:00.000Z", id="lastUpdate"),
            pytest.param("statusChangeDate", "2020-01-01T00:00:00.000Z", id="statusChangeDate"),
            pytest.param("creationDate", None, id="creationDate-null"),
        ],
    )
    def test_changing_a_server_owned_attribute_is_refused(self, name: str, value: Any) -> None:
        current = stored_ticket()
        with pytest.raises(ServerOwnedField) as caught:
            patch_ticket(current, {name: value}, now=LATER)
        assert caught.value.fields == [name]

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            pytest.param("href", "http://elsewhere.example.com/troubleTicket/TT-1", id="href"),
            pytest.param("statusChangeHistory", [], id="statusChangeHistory"),
        ],
    )
    def test_what_the_patch_view_has_but_the_server_keeps_is_ignored(
        self, name: str, value: Any
    ) -> None:
        current = stored_ticket()
        patched = patch_ticket(current, {name: value, "name": "Renamed"}, now=LATER)
        assert patched[name] == current[name]
        assert patched["name"] == "Renamed"

    def test_changing_the_id_is_a_conflict(self) -> None:
        with pytest.raises(Conflict) as caught:
            patch_ticket(stored_ticket(), {"id": "TT-2"}, now=LATER)
        assert caught.value.code == "identityChange"


class TestPatchWithoutEffect:
    @pytest.mark.parametrize(
        "patch",
        [
            pytest.param({}, id="empty"),
            pytest.param({"status": "acknowledged"}, id="same-status"),
            pytest.param({"severity": "Major", "channel": {"id": "8774"}}, id="same-values"),
            pytest.param({"lastUpdate": T_NOW, "id": "TT-1"}, id="echoed-server-values"),
            pytest.param({"resolutionDate": None}, id="removing-an-absent-attribute"),
        ],
    )
    def test_a_patch_that_changes_nothing_returns_the_same_object(
        self, patch: dict[str, Any]
    ) -> None:
        current = stored_ticket()

        patched = patch_ticket(current, patch, now=LATER)

        assert patched is current
        assert patched["lastUpdate"] == T_NOW


class TestWhatAPartnerMayNameAsAParty:
    MAY_NAME = frozenset({"org-operator"})

    @staticmethod
    def parties(*ids: str) -> list[dict[str, Any]]:
        return [{"role": "r", "partyOrPartyRole": {"id": party}} for party in ids]

    def check(self, current: list[str] | None, requested: list[str]) -> None:
        check_parties_named(
            None if current is None else {"relatedParty": self.parties(*current)},
            self.parties(*requested),
            party_id="org-alpha",
            may_name=self.MAY_NAME,
        )

    @pytest.mark.parametrize(
        ("current", "requested"),
        [
            (None, ["org-alpha"]),
            (None, ["org-alpha", "org-operator"]),
            (["org-alpha", "org-beta"], ["org-beta", "org-alpha", "org-alpha"]),
            (["org-alpha", "org-operator"], ["org-alpha"]),
        ],
    )
    def test_allowed(self, current: list[str] | None, requested: list[str]) -> None:
        self.check(current, requested)

    @pytest.mark.parametrize(
        ("current", "requested", "named"),
        [
            (None, ["org-alpha", "org-beta"], "not org-beta"),
            (["org-alpha"], ["org-beta"], "not org-beta"),
            (["org-alpha"], [], "remove org-alpha"),
            (["org-alpha", "org-beta"], ["org-alpha"], "remove org-beta"),
        ],
    )
    def test_refused(self, current: list[str] | None, requested: list[str], named: str) -> None:
        with pytest.raises(Forbidden, match=named) as refused:
            self.check(current, requested)
        assert refused.value.code == "relatedPartyNotAllowed"

    def test_an_assignee_is_itself_or_the_operators_and_anothers_stays(self) -> None:
        def check(current: str | None, requested: str | None) -> None:
            check_assignee_named(current, requested, party_id="org-alpha", may_name=self.MAY_NAME)

        check(None, "org-alpha")
        check("org-beta", "org-beta")
        check("org-alpha", "org-operator")
        check("org-alpha", None)
        for current, requested in (
            (None, "org-beta"),
            ("org-beta", "org-alpha"),
            ("org-beta", None),
        ):
            with pytest.raises(Forbidden):
                check(current, requested)
