"""Recovery activities over HTTP, on every store: plan, assign, run, roll up, gate, cascade.

The service policy here (``COORDINATION``) makes customerContact optional, assigns partner
repairs to the partner of the ticket's service, and escalates a late activity to level 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.api.assertions import BASE_URL, assert_tmf_error, created, patch
from tests.builders import API, TICKETS, a_ticket
from tests.conftest import FrozenClock, SequentialIds
from troubleticket.app import create_app
from troubleticket.background.monitor import SlaMonitor
from troubleticket.bootstrap.services import ticket_service
from troubleticket.config import Settings
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.policy_file import parse_policy
from troubleticket.store.port import Collection, ListQuery, Store

if TYPE_CHECKING:
    from connexion import AsyncApp
    from starlette.testclient import TestClient

ACTIVITIES = f"{API}/recoveryActivity"
NOW = "2026-11-20T08:00:00.000Z"
PARTNER = {
    "role": "partner",
    "partyOrPartyRole": {"@type": "PartyRef", "@referredType": "Organization", "id": "acme"},
}
FIELD_TEAM = {
    "role": "assignee",
    "partyOrPartyRole": {"@type": "PartyRoleRef", "@referredType": "Team", "id": "field-7"},
}
NOC = {
    "role": "assignee",
    "partyOrPartyRole": {"@type": "PartyRoleRef", "@referredType": "Team", "id": "noc"},
}
ASSIGNED_NOC = {"@type": "RelatedPartyRefOrPartyRoleRef", **NOC}
COORDINATION = {
    "coordination": {
        "mandatory": {"byActivityType": {"customerContact": False}},
        "assignment": [
            {"activityType": "partnerRepair", "byService": {"SVC-9": PARTNER}},
            {"activityType": "diagnose", "assignTo": NOC},
        ],
        "lateActivity": {"raiseLevelTo": 2},
    }
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(COORDINATION))
    return Settings(
        store=str(tmp_path / "api.sqlite3"),
        base_url=BASE_URL,
        dispatch="off",
        policy=str(policy),
    )


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, store: Store) -> AsyncApp:
    return create_app(settings, store=store, clock=clock, new_activity_id=SequentialIds("ra"))


def activities_of(ticket: dict[str, Any]) -> str:
    return f"{TICKETS}/{ticket['id']}/recoveryActivity"


def path(href: str) -> str:
    return href.removeprefix(BASE_URL)


def an_activity(**overrides: Any) -> dict[str, Any]:
    return {"@type": "RecoveryActivity", "activityType": "diagnose", **overrides}


def plan(client: TestClient, ticket: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return created(client, activities_of(ticket), an_activity(**overrides))


def step(client: TestClient, activity: dict[str, Any], **changes: Any) -> Any:
    return patch(client, path(activity["href"]), {"@type": "RecoveryActivity", **changes})


def ticket_now(client: TestClient, ticket: dict[str, Any]) -> dict[str, Any]:
    return client.get(f"{TICKETS}/{ticket['id']}").json()  # type: ignore[no-any-return]


def recorded(store: Store) -> list[dict[str, Any]]:
    while store.relay_events():
        pass
    return [e["body"] for e in store.list(Collection.EVENT, ListQuery(limit=1000)).items]


@pytest.fixture
def ticket(client: TestClient) -> dict[str, Any]:
    return created(client, TICKETS, a_ticket(status="inProgress"))


class TestPlanning:
    def test_an_activity_is_created_under_its_ticket_and_found_both_ways(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        response = client.post(
            activities_of(ticket),
            json=an_activity(
                name="Line test",
                plannedStartDate="2026-11-20T09:00:00+01:00",
                plannedDuration="PT2H",
            ),
        )

        assert response.status_code == 201, response.text
        activity = response.json()
        href = f"{BASE_URL}{activities_of(ticket)}/ra-1"
        assert activity == {
            "id": "ra-1",
            "href": href,
            "@type": "RecoveryActivity",
            "activityType": "diagnose",
            "name": "Line test",
            # kept in UTC, whatever offset it was sent in
            "plannedStartDate": "2026-11-20T08:00:00.000Z",
            "plannedDuration": "PT2H",
            "plannedEndDate": "2026-11-20T10:00:00.000Z",
            "troubleTicket": {
                "@type": "TroubleTicketRef",
                "id": ticket["id"],
                "href": ticket["href"],
            },
            "mandatory": True,
            "progress": 0,
            "creationDate": NOW,
            "lastUpdate": NOW,
            "state": "planned",
            "stateChangeDate": NOW,
            "stateChangeHistory": [
                {"@type": "ActivityStateChange", "state": "planned", "stateChangeDate": NOW}
            ],
            # the policy's rule for diagnose
            "assignee": ASSIGNED_NOC,
            "assignmentHistory": [
                {
                    "@type": "ActivityAssignment",
                    "date": NOW,
                    "source": "policy",
                    "assignee": ASSIGNED_NOC,
                }
            ],
        }
        assert response.headers["Location"] == href
        assert client.get(path(href)).json() == activity
        assert client.get(f"{ACTIVITIES}/ra-1").json() == activity
        etag = response.headers["ETag"]
        assert client.get(path(href), headers={"If-None-Match": etag}).status_code == 304

    def test_the_ticket_shows_the_rollup_and_not_the_activities(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        plan(client, ticket)

        shown = ticket_now(client, ticket)

        assert "recoveryActivity" not in shown
        assert shown["activitySummary"]["total"] == 1
        assert shown["activitySummary"]["byState"]["planned"] == 1

    def test_partner_repairs_go_to_the_partner_of_the_tickets_service(
        self, client: TestClient
    ) -> None:
        service = {
            "@type": "RelatedEntity",
            "role": "affectedService",
            "entity": {"@type": "EntityRef", "@referredType": "Service", "id": "SVC-9"},
        }
        ticket = created(client, TICKETS, a_ticket(status="inProgress", relatedEntity=[service]))

        activity = plan(client, ticket, activityType="partnerRepair")

        assert activity["assignee"]["partyOrPartyRole"]["id"] == "acme"

    def test_a_ticket_that_is_resolved_or_final_takes_no_new_activity(
        self, client: TestClient
    ) -> None:
        done = created(client, TICKETS, a_ticket(status="closed"))

        response = client.post(activities_of(done), json=an_activity())

        assert_tmf_error(response, 409, "ticketNotOpen", mentions=("closed",))

    def test_an_unknown_ticket_is_a_404(self, client: TestClient) -> None:
        response = client.post(f"{TICKETS}/nope/recoveryActivity", json=an_activity())

        assert_tmf_error(response, 404, "notFound", mentions=("nope",))


class TestLifecycle:
    def test_an_activity_runs_planned_in_progress_completed(
        self, client: TestClient, clock: FrozenClock, ticket: dict[str, Any]
    ) -> None:
        activity = plan(client, ticket)
        clock.advance(minutes=5)
        started = step(client, activity, state="inProgress").json()
        clock.advance(minutes=30)
        done = step(client, started, state="completed").json()

        assert started["actualStartDate"] == "2026-11-20T08:05:00.000Z"
        assert done["actualEndDate"] == "2026-11-20T08:35:00.000Z"
        assert done["progress"] == 100
        assert [h["state"] for h in done["stateChangeHistory"]] == [
            "planned",
            "inProgress",
            "completed",
        ]

    def test_an_illegal_step_is_a_409_and_a_cancel_needs_a_reason(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        activity = plan(client, ticket)

        assert_tmf_error(
            step(client, activity, state="completed"),
            409,
            "invalidStateTransition",
            mentions=("'planned'", "'completed'"),
        )
        assert_tmf_error(
            step(client, activity, state="cancelled"),
            400,
            "stateChangeReasonRequired",
            mentions=("cancelled",),
        )
        assert client.get(path(activity["href"])).json() == activity

    def test_an_activity_starts_only_after_what_it_depends_on_completed(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        first = plan(client, ticket, name="Diagnose")
        second = plan(client, ticket, activityType="dispatchTechnician", dependsOn=[first["id"]])

        refused = step(client, second, state="inProgress")
        assert_tmf_error(refused, 409, "dependencyNotCompleted", mentions=(first["id"],))

        step(client, first, state="inProgress")
        step(client, first, state="completed")
        assert step(client, second, state="inProgress").status_code == 200

    def test_cycles_and_unknown_dependencies_are_refused(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        first = plan(client, ticket)
        second = plan(client, ticket, dependsOn=[first["id"]])

        cycle = step(client, first, dependsOn=[second["id"]])
        assert_tmf_error(cycle, 400, "dependencyCycle", mentions=(first["id"], second["id"]))
        unknown = step(client, first, dependsOn=["ra-99"])
        assert_tmf_error(unknown, 400, "unknownActivity", mentions=("ra-99",))

    def test_a_stale_if_match_is_a_412(self, client: TestClient, ticket: dict[str, Any]) -> None:
        response = client.post(activities_of(ticket), json=an_activity())
        activity = response.json()
        step(client, activity, name="Renamed")

        stale = client.patch(
            path(activity["href"]),
            json={"@type": "RecoveryActivity", "progress": 10},
            headers={"If-Match": response.headers["ETag"]},
        )

        assert_tmf_error(stale, 412, "preconditionFailed")

    def test_only_a_planned_activity_is_deleted(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        planned = plan(client, ticket)
        started = plan(client, ticket)
        step(client, started, state="inProgress")

        assert client.delete(path(planned["href"])).status_code == 204
        assert client.get(path(planned["href"])).status_code == 404
        assert_tmf_error(client.delete(path(started["href"])), 409, "activityStarted")


class TestListing:
    def test_listings_filter_sort_and_page_within_and_across_tickets(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        other = created(client, TICKETS, a_ticket(status="inProgress"))
        plan(client, ticket, name="a")
        second = plan(client, other, name="b")
        plan(client, ticket, name="c", activityType="customerContact")
        step(client, second, state="inProgress")

        mine = client.get(activities_of(ticket))
        assert [a["name"] for a in mine.json()] == ["a", "c"]
        assert mine.headers["X-Total-Count"] == "2"
        running = client.get(ACTIVITIES, params={"state": "inProgress"})
        assert [a["name"] for a in running.json()] == ["b"]
        page = client.get(ACTIVITIES, params={"sort": "-name", "limit": 2, "fields": "name"})
        B, C = ({"@type": "RecoveryActivity", "name": name} for name in ("b", "c"))  # noqa: N806
        assert page.json() == [
            {"id": "ra-3", "href": f"{BASE_URL}{activities_of(ticket)}/ra-3", **C},
            {"id": "ra-2", "href": f"{BASE_URL}{activities_of(other)}/ra-2", **B},
        ]
        assert page.headers["X-Total-Count"] == "3"
        assert 'rel="next"' in page.headers["Link"]

    def test_the_activities_of_an_unknown_ticket_are_a_404(self, client: TestClient) -> None:
        assert_tmf_error(client.get(f"{TICKETS}/nope/recoveryActivity"), 404, "notFound")


class TestTheTicket:
    def test_resolving_waits_for_the_mandatory_activities_only(
        self, client: TestClient, ticket: dict[str, Any]
    ) -> None:
        work = plan(client, ticket, name="Repair")
        plan(client, ticket, activityType="customerContact", name="Call back")
        url = f"{TICKETS}/{ticket['id']}"

        refused = patch(client, url, {"@type": "TroubleTicket", "status": "resolved"})
        assert_tmf_error(refused, 409, "openMandatoryActivities", mentions=(work["id"], "Repair"))

        step(client, work, state="inProgress")
        step(client, work, state="completed")
        resolved = patch(client, url, {"@type": "TroubleTicket", "status": "resolved"})
        assert resolved.status_code == 200, resolved.text
        # the optional call back is still open: closing waits for it
        closing = patch(client, url, {"@type": "TroubleTicket", "status": "closed"})
        assert_tmf_error(closing, 409, "openActivities", mentions=("Call back",))

    def test_cancelling_the_ticket_cancels_its_open_activities_with_its_reason(
        self, client: TestClient, store: Store, ticket: dict[str, Any]
    ) -> None:
        done = plan(client, ticket)
        step(client, done, state="inProgress")
        step(client, done, state="completed")
        running = plan(client, ticket)
        step(client, running, state="inProgress")
        waiting = plan(client, ticket, dependsOn=[running["id"]])
        before = len(recorded(store))

        response = patch(
            client,
            f"{TICKETS}/{ticket['id']}",
            {"@type": "TroubleTicket", "status": "cancelled", "statusChangeReason": "Duplicate"},
        )

        assert response.status_code == 200, response.text
        states = {a["id"]: a for a in client.get(activities_of(ticket)).json()}
        assert states[done["id"]]["state"] == "completed"
        for activity in (running, waiting):
            assert states[activity["id"]]["state"] == "cancelled"
            assert states[activity["id"]]["stateChangeReason"] == "Duplicate"
        assert response.json()["activitySummary"]["byState"]["cancelled"] == 2
        assert [e["eventType"] for e in recorded(store)[before:]] == [
            "TroubleTicketAttributeValueChangeEvent",
            "TroubleTicketStatusChangeEvent",
            "RecoveryActivityStateChangeEvent",
            "RecoveryActivityStateChangeEvent",
        ]

    def test_an_activity_change_raises_its_events_then_the_tickets_rollup(
        self, client: TestClient, store: Store, ticket: dict[str, Any]
    ) -> None:
        activity = plan(client, ticket)
        before = len(recorded(store))

        step(client, activity, state="inProgress", progress=30)

        events = recorded(store)[before:]
        assert [e["eventType"] for e in events] == [
            "RecoveryActivityStateChangeEvent",
            "TroubleTicketAttributeValueChangeEvent",
        ]
        assert events[0]["event"]["recoveryActivity"]["state"] == "inProgress"
        assert events[1]["event"]["troubleTicket"]["activitySummary"]["progress"] == 30.0


class TestTheRollup:
    def test_the_numbers_worked_out_by_hand(
        self, client: TestClient, clock: FrozenClock, ticket: dict[str, Any]
    ) -> None:
        start = "2026-11-20T09:00:00Z"
        one = plan(client, ticket, name="1h", plannedStartDate=start, plannedDuration="PT1H")
        two = plan(client, ticket, name="2h", plannedStartDate=start, plannedDuration="PT2H")
        three = plan(client, ticket, name="3h", plannedStartDate=start, plannedDuration="PT3H")
        optional = plan(client, ticket, activityType="customerContact", name="call")
        step(client, one, state="inProgress", progress=50)
        step(client, three, state="inProgress")
        step(client, three, state="completed")
        step(client, optional, state="cancelled", stateChangeReason="reached by mail")
        clock.advance(hours=2, minutes=30)  # 10:30: the 1 h activity ended at 10:00 by plan
        step(client, two, description="waiting for parts")  # a write at 10:30

        summary = ticket_now(client, ticket)["activitySummary"]

        # weights 1 h, 2 h, 3 h (the cancelled one left out): (1*50 + 2*0 + 3*100) / 6 = 58.3
        assert summary == {
            "@type": "ActivitySummary",
            "total": 4,
            "byState": {
                "planned": 1,
                "inProgress": 1,
                "held": 0,
                "completed": 1,
                "failed": 0,
                "cancelled": 1,
            },
            "openMandatory": 2,
            "late": 1,
            "progress": 58.3,
            "nextPlannedEnd": "2026-11-20T10:00:00.000Z",
            "blockingActivity": {
                "@type": "RecoveryActivityRef",
                "id": two["id"],
                "state": "planned",
                "name": "2h",
                "plannedEndDate": "2026-11-20T11:00:00.000Z",
            },
        }


class TestLateActivities:
    def test_a_late_activity_is_alerted_once_dated_at_its_planned_end_and_escalated(
        self,
        client: TestClient,
        store: Store,
        clock: FrozenClock,
        settings: Settings,
        ticket: dict[str, Any],
    ) -> None:
        activity = plan(client, ticket, plannedEndDate="2026-11-20T09:00:00Z")
        tickets = ticket_service(
            settings, store, ManagedTicket(parse_policy(COORDINATION)), clock=clock
        )
        monitor = SlaMonitor(store, tickets, clock=clock)
        assert monitor.run_once() == 0

        clock.advance(hours=1, minutes=20)  # the monitor comes 20 minutes after the crossing
        assert monitor.run_once() == 1
        clock.advance(hours=1)
        monitor.run_once()

        shown = ticket_now(client, ticket)
        late = [
            a for a in shown["troubleTicketJeopardyAlert"] if a["jeopardyType"] == "activityLate"
        ]
        assert len(late) == 1
        assert late[0]["alertDate"] == "2026-11-20T09:00:00.000Z"
        assert late[0]["recoveryActivity"]["id"] == activity["id"]
        assert shown["escalationLevel"] == 2
        assert shown["activitySummary"]["late"] == 1
