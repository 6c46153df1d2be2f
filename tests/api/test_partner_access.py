"""Partners over HTTP, on every store: a partner's requests see only its own tickets, and a
partner's events about the tickets we raised at it must carry the signature we asked for.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.api.assertions import BASE_URL, assert_tmf_error, created, patch
from tests.builders import API, SPECIFICATIONS, TICKETS, a_specification, a_ticket
from tests.conftest import LOCAL_NETWORKS, FrozenClock
from troubleticket.app import create_app
from troubleticket.config import Settings
from troubleticket.domain.signing import headers as signed
from troubleticket.notify.delivery import DeliveryPolicy, Outcome
from troubleticket.notify.dispatcher import Dispatcher
from troubleticket.store.port import Collection, Store

if TYPE_CHECKING:
    from connexion import AsyncApp
    from starlette.testclient import TestClient

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ALPHA = {"X-TT-Partner": "alpha"}
BETA = {"X-TT-Partner": "beta"}
ALPHA_PARTY = {"@type": "PartyRef", "@referredType": "Organization", "id": "org-alpha"}
BETA_PARTY = {"@type": "PartyRef", "@referredType": "Organization", "id": "org-beta"}


def partner(party: dict[str, Any]) -> dict[str, Any]:
    return {
        "baseUrl": "http://127.0.0.1:9/tmf-api/troubleTicket/v5",
        "party": party,
        "events": {"subscribe": False, "secretEnv": "HUB_SECRET"},
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    registry = tmp_path / "partners.yaml"
    registry.write_text(
        yaml.safe_dump({"partners": {"alpha": partner(ALPHA_PARTY), "beta": partner(BETA_PARTY)}})
    )
    return Settings(
        store=str(tmp_path / "api.sqlite3"),
        base_url=BASE_URL,
        dispatch="off",
        partners=str(registry),
        # the partner header names who calls (behind a gateway that authenticated it)
        trusted_gateway=True,
        egress_allow=LOCAL_NETWORKS,
    )


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, store: Store) -> AsyncApp:
    return create_app(settings, store=store, clock=clock, environ={"HUB_SECRET": SECRET})


def related(party: dict[str, Any], role: str) -> dict[str, Any]:
    return {"@type": "RelatedPartyRefOrPartyRoleRef", "role": role, "partyOrPartyRole": party}


def url(ticket: dict[str, Any]) -> str:
    return str(ticket["href"]).removeprefix(BASE_URL)


def listed(client: TestClient, headers: dict[str, str]) -> tuple[list[str], str]:
    response = client.get(TICKETS, headers=headers)
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()], response.headers["X-Total-Count"]


class TestAPartnersOwnTickets:
    def test_a_ticket_a_partner_raises_names_it_and_only_it_sees_it(
        self, client: TestClient
    ) -> None:
        response = client.post(TICKETS, json=a_ticket(), headers=ALPHA)
        assert response.status_code == 201, response.text
        mine = response.json()
        ours = created(client, TICKETS, a_ticket())

        assert mine["relatedParty"] == [
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "originator",
                "partyOrPartyRole": ALPHA_PARTY,
            }
        ]
        assert listed(client, ALPHA) == ([mine["id"]], "1")
        assert listed(client, BETA) == ([], "0")
        assert listed(client, {}) == ([mine["id"], ours["id"]], "2")
        assert client.get(url(mine), headers=ALPHA).status_code == 200
        assert_tmf_error(client.get(url(mine), headers=BETA), 404, "notFound")
        assert_tmf_error(client.get(url(ours), headers=ALPHA), 404, "notFound")

    def test_another_partner_can_neither_change_nor_delete_it(self, client: TestClient) -> None:
        mine = client.post(TICKETS, json=a_ticket(), headers=ALPHA).json()

        changed = patch(client, url(mine), {"@type": "TroubleTicket", "name": "x"}, headers=BETA)
        deleted = client.delete(url(mine), headers=BETA)

        assert_tmf_error(changed, 404, "notFound")
        assert_tmf_error(deleted, 404, "notFound")
        assert client.get(url(mine)).json() == mine

    def test_a_ticket_naming_a_partner_as_a_related_party_is_that_partners_too(
        self, client: TestClient
    ) -> None:
        related = {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "supplier",
            "partyOrPartyRole": BETA_PARTY,
        }
        ticket = created(client, TICKETS, a_ticket(relatedParty=[related]))

        assert listed(client, BETA) == ([ticket["id"]], "1")
        assert (
            patch(client, url(ticket), {"@type": "TroubleTicket"}, headers=BETA).status_code == 200
        )

    def test_a_partner_cannot_plant_a_ticket_in_anothers_view(self, client: TestClient) -> None:
        naming_beta = a_ticket(relatedParty=[related(BETA_PARTY, "customer")])

        response = client.post(TICKETS, json=naming_beta, headers=ALPHA)

        assert_tmf_error(response, 403, "relatedPartyNotAllowed", mentions=("org-beta",))
        assert listed(client, BETA) == ([], "0")
        assert listed(client, {}) == ([], "0")

    @pytest.mark.parametrize(
        ("media_type", "body"),
        [
            (
                "application/merge-patch+json",
                {"@type": "TroubleTicket", "relatedParty": [related(BETA_PARTY, "customer")]},
            ),
            (
                "application/json-patch+json",
                [{"op": "add", "path": "/relatedParty/-", "value": related(BETA_PARTY, "x")}],
            ),
            (
                "application/json-patch+json",
                [
                    {
                        "op": "replace",
                        "path": "/relatedParty/0/partyOrPartyRole/id",
                        "value": "org-beta",
                    }
                ],
            ),
            ("application/merge-patch+json", {"@type": "TroubleTicket", "relatedParty": []}),
        ],
        ids=["merge-give-away", "json-patch-add", "json-patch-rename", "merge-drop-itself"],
    )
    def test_a_partner_cannot_give_its_ticket_away_or_drop_itself(
        self, client: TestClient, media_type: str, body: Any
    ) -> None:
        mine = client.post(TICKETS, json=a_ticket(), headers=ALPHA).json()

        response = client.patch(url(mine), json=body, headers={**ALPHA, "Content-Type": media_type})

        assert_tmf_error(response, 403, "relatedPartyNotAllowed")
        assert client.get(url(mine), headers=ALPHA).json() == mine
        assert listed(client, BETA) == ([], "0")

    def test_a_partner_keeps_the_parties_the_operator_named_and_may_add_its_own_roles(
        self, client: TestClient
    ) -> None:
        ticket = created(
            client,
            TICKETS,
            a_ticket(relatedParty=[related(ALPHA_PARTY, "customer"), related(BETA_PARTY, "x")]),
        )
        dropping_beta = {"@type": "TroubleTicket", "relatedParty": [related(ALPHA_PARTY, "c")]}
        both_and_a_role = {
            "@type": "TroubleTicket",
            "relatedParty": [
                related(ALPHA_PARTY, "customer"),
                related(BETA_PARTY, "x"),
                related(ALPHA_PARTY, "reporter"),
            ],
        }

        dropped = patch(client, url(ticket), dropping_beta, headers=ALPHA)
        kept = patch(client, url(ticket), both_and_a_role, headers=ALPHA)

        assert_tmf_error(dropped, 403, "relatedPartyNotAllowed", mentions=("org-beta",))
        assert kept.status_code == 200, kept.text
        assert listed(client, BETA)[0] == [ticket["id"]]

    def test_a_partner_assigns_activities_only_to_itself(self, client: TestClient) -> None:
        mine = client.post(TICKETS, json=a_ticket(status="inProgress"), headers=ALPHA).json()
        work = f"{url(mine)}/recoveryActivity"
        activity = {"@type": "RecoveryActivity", "activityType": "diagnose"}

        to_beta = client.post(
            work, json={**activity, "assignee": related(BETA_PARTY, "partner")}, headers=ALPHA
        )
        to_itself = client.post(
            work, json={**activity, "assignee": related(ALPHA_PARTY, "partner")}, headers=ALPHA
        )
        moved = patch(
            client,
            f"{work}/{to_itself.json()['id']}",
            {"@type": "RecoveryActivity", "assignee": related(BETA_PARTY, "partner")},
            headers=ALPHA,
        )

        assert_tmf_error(to_beta, 403, "relatedPartyNotAllowed", mentions=("org-beta",))
        assert to_itself.status_code == 201, to_itself.text
        assert_tmf_error(moved, 403, "relatedPartyNotAllowed")
        assert client.get(f"{API}/recoveryActivity", headers=BETA).json() == []

    def test_a_partner_reads_specifications_but_does_not_change_them(
        self, client: TestClient
    ) -> None:
        created(client, SPECIFICATIONS, a_specification())

        assert client.get(SPECIFICATIONS, headers=ALPHA).status_code == 200
        refused = client.post(SPECIFICATIONS, json=a_specification(), headers=ALPHA)
        assert_tmf_error(refused, 403, "forbidden")

    def test_a_partner_links_its_ticket_only_to_a_major_incident_it_may_read(
        self, client: TestClient
    ) -> None:
        operators = created(client, TICKETS, a_ticket(ticketType="majorIncident"))
        shared = created(
            client,
            TICKETS,
            a_ticket(
                ticketType="majorIncident",
                relatedParty=[
                    {
                        "@type": "RelatedPartyRefOrPartyRoleRef",
                        "role": "partner",
                        "partyOrPartyRole": ALPHA_PARTY,
                    }
                ],
            ),
        )
        response = client.post(TICKETS, json=a_ticket(), headers=ALPHA)
        assert response.status_code == 201, response.text
        mine = response.json()

        def link(parent_id: str) -> Any:
            body = {
                "@type": "TroubleTicket",
                "troubleTicketRelationship": [
                    {
                        "@type": "TroubleTicketRelationship",
                        "id": parent_id,
                        "relationshipType": "isChildOf",
                    }
                ],
            }
            return patch(client, f"{TICKETS}/{mine['id']}", body, headers=ALPHA)

        refused = link(operators["id"])
        assert_tmf_error(refused, 400, "invalidRelationship")
        assert "no such trouble ticket" in refused.json()["message"]
        assert link(shared["id"]).status_code == 200
        assert client.get(f"{TICKETS}/{shared['id']}").json()["childSummary"]["total"] == 1

    def test_an_unknown_partner_is_refused(self, client: TestClient) -> None:
        response = client.get(TICKETS, headers={"X-TT-Partner": "gamma"})

        assert_tmf_error(response, 403, "forbidden", mentions=("gamma",))

    def test_activities_of_anothers_ticket_are_not_found_and_across_tickets_its_own(
        self, client: TestClient
    ) -> None:
        ours = created(client, TICKETS, a_ticket(status="inProgress"))
        work = f"{url(ours)}/recoveryActivity"
        assignee = {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "partner",
            "partyOrPartyRole": ALPHA_PARTY,
        }
        alphas = created(
            client,
            work,
            {"@type": "RecoveryActivity", "activityType": "diagnose", "assignee": assignee},
        )
        created(client, work, {"@type": "RecoveryActivity", "activityType": "diagnose"})

        assert_tmf_error(client.get(work, headers=ALPHA), 404, "notFound")
        across = client.get(f"{API}/recoveryActivity", headers=ALPHA)
        assert [a["id"] for a in across.json()] == [alphas["id"]]
        assert across.headers["X-Total-Count"] == "1"


def a_reported_ticket(store: Store) -> dict[str, Any]:
    """A ticket of ours whose activity is a report open at partner alpha as ticket P-7."""
    activity = {
        "id": "ra-1",
        "@type": "RecoveryActivity",
        "troubleTicket": {"@type": "TroubleTicketRef", "id": "tt-1"},
        "activityType": "partnerRepair",
        "mandatory": True,
        "progress": 0,
        "state": "planned",
        "stateChangeHistory": [],
        "partnerReport": {
            "@type": "PartnerReport",
            "partner": {"id": "alpha", "name": "alpha"},
            "state": "open",
            "correlationId": "tt-1/ra-1",
            "partnerTicket": {"@type": "TroubleTicketRef", "id": "P-7", "status": "acknowledged"},
            "syncedNotes": [],
        },
    }
    ticket = {
        "id": "tt-1",
        "@type": "TroubleTicket",
        "description": "No sync",
        "severity": "Major",
        "ticketType": "incident",
        "status": "inProgress",
        "recoveryActivity": [activity],
    }
    store.insert(Collection.TROUBLE_TICKET, ticket)
    return ticket


def a_partner_event(status: str) -> bytes:
    event = {
        "@type": "TroubleTicketStatusChangeEvent",
        "eventId": f"p-{status}",
        "eventType": "TroubleTicketStatusChangeEvent",
        "event": {"troubleTicket": {"@type": "TroubleTicket", "id": "P-7", "status": status}},
    }
    return json.dumps(event).encode()


class TestAPartnersEvents:
    LISTENER = f"{API}/listener/troubleTicketStatusChangeEvent"

    def test_an_unsigned_event_about_a_report_is_a_401_and_changes_nothing(
        self, client: TestClient, store: Store
    ) -> None:
        a_reported_ticket(store)

        response = client.post(
            self.LISTENER,
            content=a_partner_event("inProgress"),
            headers={"content-type": "application/json"},
        )

        assert_tmf_error(response, 401, "unauthorized", mentions=("alpha",))
        stored = store.get(Collection.RECOVERY_ACTIVITY, "ra-1")
        assert stored is not None and stored.doc["state"] == "planned"

    def test_a_signed_event_is_mirrored_on_the_activity(
        self, client: TestClient, store: Store, clock: FrozenClock
    ) -> None:
        a_reported_ticket(store)
        body = a_partner_event("inProgress")
        now = int(clock().timestamp())
        headers = {"content-type": "application/json", **signed(SECRET, "p-inProgress", now, body)}

        response = client.post(self.LISTENER, content=body, headers=headers)

        assert response.status_code == 204, response.text
        stored = store.get(Collection.RECOVERY_ACTIVITY, "ra-1")
        assert stored is not None
        assert stored.doc["state"] == "inProgress"
        assert stored.doc["partnerReport"]["partnerTicket"]["status"] == "inProgress"

    def test_a_signature_with_another_secret_is_a_401(
        self, client: TestClient, store: Store, clock: FrozenClock
    ) -> None:
        a_reported_ticket(store)
        body = a_partner_event("resolved")
        other = "whsec_" + "A" * 43 + "="
        headers = {
            "content-type": "application/json",
            **signed(other, "p-resolved", int(clock().timestamp()), body),
        }

        response = client.post(self.LISTENER, content=body, headers=headers)

        assert_tmf_error(response, 401, "unauthorized")


class TestThePartnerDirectory:
    def test_partners_are_shown_without_their_secrets(self, client: TestClient) -> None:
        response = client.get(f"{API}/partner")

        assert response.status_code == 200, response.text
        assert [p["id"] for p in response.json()] == ["alpha", "beta"]
        assert response.headers["X-Total-Count"] == "2"
        alpha = client.get(f"{API}/partner/alpha").json()
        assert alpha == {
            "id": "alpha",
            "href": f"{BASE_URL}{API}/partner/alpha",
            "@type": "Partner",
            "name": "alpha",
            "baseUrl": "http://127.0.0.1:9/tmf-api/troubleTicket/v5",
            "party": ALPHA_PARTY,
            "subscribe": False,
        }
        assert SECRET not in response.text
        assert_tmf_error(client.get(f"{API}/partner/gamma"), 404, "notFound")

    def test_a_request_that_died_is_listed_and_made_again(
        self, client: TestClient, store: Store, clock: FrozenClock
    ) -> None:
        ticket = created(client, TICKETS, a_ticket(status="inProgress"))
        assignee = {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "partner",
            "partyOrPartyRole": ALPHA_PARTY,
        }
        activity = created(
            client,
            f"{url(ticket)}/recoveryActivity",
            {"@type": "RecoveryActivity", "activityType": "partnerRepair", "assignee": assignee},
        )
        assert activity["partnerReport"]["state"] == "requested"
        attempts: list[str] = []

        def unreachable(delivery: dict[str, Any], event: dict[str, Any]) -> Outcome:
            attempts.append(event["eventType"])
            return Outcome(None, "ConnectionError: the partner is down")

        notified: list[str] = []

        def subscriber(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
            notified.append(url)
            return Outcome(204)

        policy = DeliveryPolicy(schedule=(0,), timeout=1.0, lease=10.0, concurrency=1)
        dispatcher = Dispatcher(
            store,
            sender=subscriber,
            clock=clock,
            worker_id="w",
            policy=policy,
            perform=unreachable,
        )
        try:
            while dispatcher.run_once():
                pass
        finally:
            dispatcher.close()
        assert notified == []  # no hub was registered: only the partner was called

        dead = client.get(f"{API}/partner/alpha/delivery", params={"state": "dead"})
        assert sorted(d["eventType"] for d in dead.json()) == [
            "PartnerTicketCreate",
            "PartnerTicketPoll",
        ]
        assert {d["lastError"] for d in dead.json()} == {"ConnectionError: the partner is down"}
        (create,) = [d for d in dead.json() if d["eventType"] == "PartnerTicketCreate"]
        replay = client.post(
            f"{API}/partner/alpha/replay",
            json={"@type": "EventReplay", "delivery": [create["id"]]},
        )
        assert replay.status_code == 201, replay.text
        assert replay.json()["replayedCount"] == 1
        pending = client.get(f"{API}/partner/alpha/delivery", params={"state": "pending"})
        assert [d["replayOf"] for d in pending.json()] == [create["id"]]
        assert client.get(f"{API}/partner/beta/delivery").json() == []


class TestTheOperatorsPartiesAPartnerMayName:
    OPERATOR_PARTY = {"@type": "PartyRef", "id": "org-operator"}

    @pytest.fixture
    def settings(self, settings: Settings, tmp_path: Path) -> Settings:
        policy = tmp_path / "policy.yaml"
        policy.write_text(yaml.safe_dump({"isolation": {"partnersMayName": ["org-operator"]}}))
        return replace(settings, policy=str(policy))

    def test_a_partner_names_the_operators_party_but_still_no_other_partner(
        self, client: TestClient
    ) -> None:
        with_the_operator = a_ticket(relatedParty=[related(self.OPERATOR_PARTY, "helpdesk")])
        with_beta = a_ticket(relatedParty=[related(BETA_PARTY, "helpdesk")])

        allowed = client.post(TICKETS, json=with_the_operator, headers=ALPHA)
        refused = client.post(TICKETS, json=with_beta, headers=ALPHA)

        assert allowed.status_code == 201, allowed.text
        assert [p["partyOrPartyRole"]["id"] for p in allowed.json()["relatedParty"]] == [
            "org-operator",
            "org-alpha",
        ]
        assert_tmf_error(refused, 403, "relatedPartyNotAllowed", mentions=("org-operator",))
        dropped = patch(
            client,
            url(allowed.json()),
            {"@type": "TroubleTicket", "relatedParty": [related(ALPHA_PARTY, "originator")]},
            headers=ALPHA,
        )
        assert dropped.status_code == 200, dropped.text
