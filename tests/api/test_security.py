"""Security over HTTP with bearer tokens, on every store: partners' isolation (tickets, counts,
hubs and their events), the audit trail, callbacks at internal addresses, request ids and the
security headers.

Tokens come from a test authorization server (``tests.tokens``); a partner's token names its
party in ``party_id``. Partners here are not in a registry: the claim alone restricts the token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.assertions import BASE_URL, assert_tmf_error, patch
from tests.api.test_hubs import FakeSender, drain
from tests.builders import API, TICKETS, a_ticket
from tests.conftest import FrozenClock
from tests.tokens import Issuer
from troubleticket.api.security import ACTIVITIES, ADMIN, HUBS, READ, WRITE
from troubleticket.app import create_app
from troubleticket.config import ConfigError, Settings
from troubleticket.notify.delivery import DeliveryPolicy
from troubleticket.notify.dispatcher import Dispatcher
from troubleticket.store.port import Collection, ListQuery, Store

if TYPE_CHECKING:
    from connexion import AsyncApp
    from starlette.testclient import TestClient

ALL = [READ, WRITE, ADMIN, HUBS, ACTIVITIES]
ALPHA_PARTY, BETA_PARTY = "org-alpha", "org-beta"
POLICY = DeliveryPolicy(schedule=(0,), timeout=1.0, lease=10.0, concurrency=1)


@pytest.fixture
def issuer(tmp_path: Path) -> Issuer:
    return Issuer.create(tmp_path)


@pytest.fixture
def app(settings: Settings, issuer: Issuer, clock: FrozenClock, store: Store) -> AsyncApp:
    return create_app(issuer.settings(settings), store=store, clock=clock)


@pytest.fixture
def operator(issuer: Issuer) -> dict[str, str]:
    return issuer.bearer("alice", scopes=ALL)


@pytest.fixture
def alpha(issuer: Issuer) -> dict[str, str]:
    return issuer.bearer("svc-alpha", scopes=ALL, party_id=ALPHA_PARTY)


@pytest.fixture
def beta(issuer: Issuer) -> dict[str, str]:
    return issuer.bearer("svc-beta", scopes=ALL, party_id=BETA_PARTY)


def url(resource: dict[str, Any]) -> str:
    return str(resource["href"]).removeprefix(BASE_URL)


def raise_ticket(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = client.post(TICKETS, json=a_ticket(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def listed(client: TestClient, headers: dict[str, str], **params: Any) -> tuple[set[str], str]:
    response = client.get(TICKETS, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return {t["id"] for t in response.json()}, response.headers["X-Total-Count"]


def related(party_id: str) -> dict[str, Any]:
    return {
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "role": "supplier",
        "partyOrPartyRole": {"@type": "PartyRef", "id": party_id},
    }


class TestTwoPartnersTickets:
    def test_each_lists_and_counts_its_own_and_the_operator_all(
        self,
        client: TestClient,
        operator: dict[str, str],
        alpha: dict[str, str],
        beta: dict[str, str],
    ) -> None:
        alphas = {raise_ticket(client, alpha)["id"] for _ in range(3)}
        betas = {raise_ticket(client, beta)["id"] for _ in range(2)}
        ours = raise_ticket(client, operator)["id"]
        shared = raise_ticket(client, operator, relatedParty=[related(BETA_PARTY)])["id"]

        assert listed(client, alpha) == (alphas, "3")
        assert listed(client, beta) == (betas | {shared}, "3")
        assert listed(client, operator) == (alphas | betas | {ours, shared}, "7")
        # paging counts the partner's own only, so its pages add up
        first, total = listed(client, alpha, limit=2)
        second, _ = listed(client, alpha, limit=2, offset=2)
        assert total == "3" and len(first) == 2 and first | second == alphas
        # a filter cannot reach past the restriction either
        assert listed(client, alpha, **{"relatedParty.partyOrPartyRole.id": BETA_PARTY}) == (
            set(),
            "0",
        )

    def test_another_partners_ticket_is_not_found_to_read_change_or_delete(
        self,
        client: TestClient,
        operator: dict[str, str],
        alpha: dict[str, str],
        beta: dict[str, str],
    ) -> None:
        mine = raise_ticket(client, alpha)

        assert_tmf_error(client.get(url(mine), headers=beta), 404, "notFound")
        changed = patch(client, url(mine), {"@type": "TroubleTicket", "name": "x"}, headers=beta)
        assert_tmf_error(changed, 404, "notFound")
        assert_tmf_error(client.delete(url(mine), headers=beta), 404, "notFound")
        activities = client.get(f"{url(mine)}/recoveryActivity", headers=beta)
        assert_tmf_error(activities, 404, "notFound")
        assert client.get(url(mine), headers=operator).json() == mine
        assert client.get(url(mine), headers=alpha).json() == mine

    def test_a_partners_own_ticket_names_it_as_originator(
        self, client: TestClient, alpha: dict[str, str]
    ) -> None:
        mine = raise_ticket(client, alpha)

        assert [p["partyOrPartyRole"]["id"] for p in mine["relatedParty"]] == [ALPHA_PARTY]
        assert mine["relatedParty"][0]["role"] == "originator"

    def test_headers_do_not_lift_the_restriction_of_a_token(
        self, client: TestClient, operator: dict[str, str], alpha: dict[str, str]
    ) -> None:
        ours = raise_ticket(client, operator)
        claimed = {**alpha, "X-TT-Actor": "alice", "X-TT-Role": "admin", "X-TT-Partner": "x"}

        assert_tmf_error(client.get(url(ours), headers=claimed), 404, "notFound")
        assert listed(client, claimed) == (set(), "0")


class TestHubsOfPartners:
    @pytest.fixture
    def sender(self) -> FakeSender:
        return FakeSender()

    @pytest.fixture
    def dispatcher(
        self, store: Store, clock: FrozenClock, sender: FakeSender
    ) -> Iterator[Dispatcher]:
        opened = Dispatcher(store, sender=sender, clock=clock, worker_id="w", policy=POLICY)
        yield opened
        opened.close()

    @staticmethod
    def register(client: TestClient, headers: dict[str, str], name: str) -> dict[str, Any]:
        hub = {"@type": "Hub", "callback": f"https://{name}.example/listener"}
        response = client.post(f"{API}/hub", json=hub, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def test_a_partners_hub_gets_the_events_of_its_tickets_only(
        self,
        client: TestClient,
        dispatcher: Dispatcher,
        sender: FakeSender,
        operator: dict[str, str],
        alpha: dict[str, str],
        beta: dict[str, str],
    ) -> None:
        self.register(client, alpha, "alpha")
        self.register(client, beta, "beta")
        self.register(client, operator, "noc")
        alphas = raise_ticket(client, alpha)
        betas = raise_ticket(client, beta)
        ours = raise_ticket(client, operator)
        shared = raise_ticket(client, operator, relatedParty=[related(ALPHA_PARTY)])
        patch(client, url(betas), {"@type": "TroubleTicket", "status": "inProgress"}, headers=beta)

        drain(dispatcher)

        def seen_by(name: str) -> list[tuple[str, str]]:
            calls = [c for c in sender.calls if c.url.startswith(f"https://{name}.example/")]
            return [(call.event_type, call.ticket_id) for call in calls]

        create = "TroubleTicketCreateEvent"
        assert sorted(seen_by("alpha")) == sorted([(create, alphas["id"]), (create, shared["id"])])
        assert seen_by("beta") == [
            (create, betas["id"]),
            ("TroubleTicketStatusChangeEvent", betas["id"]),
        ]
        assert {ticket for _, ticket in seen_by("noc")} == {
            alphas["id"],
            betas["id"],
            ours["id"],
            shared["id"],
        }

    def test_another_partners_hub_is_not_found_to_read_remove_or_replay(
        self,
        client: TestClient,
        operator: dict[str, str],
        alpha: dict[str, str],
        beta: dict[str, str],
    ) -> None:
        hub = self.register(client, alpha, "alpha")
        at = f"{API}/hub/{hub['id']}"

        assert_tmf_error(client.get(at, headers=beta), 404, "notFound")
        assert_tmf_error(client.get(f"{at}/delivery", headers=beta), 404, "notFound")
        replay = {"@type": "EventReplay", "since": "2026-01-01T00:00:00Z"}
        assert_tmf_error(client.post(f"{at}/replay", json=replay, headers=beta), 404, "notFound")
        assert_tmf_error(client.delete(at, headers=beta), 404, "notFound")
        assert client.get(at, headers=alpha).json() == hub
        assert client.get(at, headers=operator).json() == hub
        assert "party" not in hub  # whose it is stays the server's business
        assert client.delete(at, headers=alpha).status_code == 204

    def test_replaying_a_partners_hub_sends_it_only_its_tickets_events(
        self,
        client: TestClient,
        clock: FrozenClock,
        dispatcher: Dispatcher,
        sender: FakeSender,
        operator: dict[str, str],
        alpha: dict[str, str],
        beta: dict[str, str],
    ) -> None:
        raise_ticket(client, beta)
        mine = raise_ticket(client, alpha)
        raise_ticket(client, operator)
        drain(dispatcher)  # the events are out (to no hub yet)
        clock.advance(minutes=1)  # the hub is registered after them
        hub = self.register(client, alpha, "alpha")

        replay = {"@type": "EventReplay", "since": "2000-01-01T00:00:00Z"}
        response = client.post(f"{API}/hub/{hub['id']}/replay", json=replay, headers=alpha)
        assert response.status_code == 201, response.text
        drain(dispatcher)

        assert [(c.event_type, c.ticket_id) for c in sender.calls] == [
            ("TroubleTicketCreateEvent", mine["id"])
        ]

    def test_the_partner_directory_is_the_operators(
        self, client: TestClient, operator: dict[str, str], alpha: dict[str, str]
    ) -> None:
        assert_tmf_error(client.get(f"{API}/partner", headers=alpha), 403, "forbidden")
        assert client.get(f"{API}/partner", headers=operator).status_code == 200


class TestAuditTrail:
    def test_every_write_of_a_request_is_recorded_with_who_how_and_what(
        self, client: TestClient, operator: dict[str, str], alpha: dict[str, str]
    ) -> None:
        created = client.post(TICKETS, json=a_ticket(), headers={**alpha, "X-Request-ID": "r-1"})
        ticket = created.json()
        changed = patch(
            client, url(ticket), {"@type": "TroubleTicket", "name": "Line 7"}, headers=operator
        )
        activity = client.post(
            f"{url(ticket)}/recoveryActivity",
            json={
                "@type": "RecoveryActivity",
                "name": "Check the line",
                "activityType": "diagnose",
            },
            headers=operator,
        )
        assert activity.status_code == 201, activity.text

        response = client.get(f"{url(ticket)}/auditRecord", headers=operator)

        assert response.status_code == 200, response.text
        assert response.headers["X-Total-Count"] == "3"
        first, second, third = response.json()
        assert first["action"] == "create" and first["actor"] == "svc-alpha"
        assert (first["party"], first["scope"], first["requestId"]) == (ALPHA_PARTY, WRITE, "r-1")
        assert {"description", "severity", "relatedParty"} <= set(first["changedAttributes"])
        assert second["action"] == "update" and second["actor"] == "alice"
        assert second["requestId"] == changed.headers["X-Request-ID"]
        assert "party" not in second and second["scope"] == WRITE
        assert "name" in second["changedAttributes"]
        assert third["scope"] == ACTIVITIES
        assert f"recoveryActivity/{activity.json()['id']}" in third["changedAttributes"]
        assert all(r["@type"] == "AuditRecord" and r["date"] for r in (first, second, third))

    def test_deleting_an_activity_is_recorded_and_another_partners_delete_changes_nothing(
        self,
        client: TestClient,
        operator: dict[str, str],
        alpha: dict[str, str],
        beta: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        ticket = raise_ticket(client, beta)
        work = f"{url(ticket)}/recoveryActivity"
        body = {"@type": "RecoveryActivity", "name": "Check the line", "activityType": "diagnose"}
        activities = [client.post(work, json=body, headers=who).json() for who in (beta, beta)]
        first, second = (f"{work}/{a['id']}" for a in activities)

        caplog.set_level(logging.INFO, logger="troubleticket.audit")
        refused = client.delete(first, headers=alpha)
        caplog.clear()
        deleted = client.delete(second, headers={**operator, "X-Request-ID": "del-1"})

        assert_tmf_error(refused, 404, "notFound")
        assert client.get(first, headers=beta).status_code == 200
        assert deleted.status_code == 204, deleted.text
        trail = client.get(f"{url(ticket)}/auditRecord", headers=operator).json()
        last = trail[-1]
        assert (last["action"], last["actor"], last["requestId"]) == ("update", "alice", "del-1")
        assert f"recoveryActivity/{activities[1]['id']}" in last["changedAttributes"]
        assert last["scope"] == ACTIVITIES
        # the create, two activities added, one deleted: alpha's attempt left no record
        assert [r["actor"] for r in trail] == ["svc-beta", "svc-beta", "svc-beta", "alice"]
        lines = [
            json.loads(r.getMessage()) for r in caplog.records if r.name == "troubleticket.audit"
        ]
        assert [(x["resource"], x["requestId"]) for x in lines] == [
            (f"troubleTicket/{ticket['id']}", "del-1")
        ]

    def test_registering_and_removing_a_hub_are_on_the_audit_log(
        self, client: TestClient, alpha: dict[str, str], caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="troubleticket.audit")
        hub = client.post(
            f"{API}/hub",
            json={"@type": "Hub", "callback": "https://alpha.example/listener"},
            headers=alpha,
        ).json()
        assert client.delete(f"{API}/hub/{hub['id']}", headers=alpha).status_code == 204

        lines = [
            json.loads(r.getMessage()) for r in caplog.records if r.name == "troubleticket.audit"
        ]
        assert [(x["resource"], x["action"], x["actor"], x["party"]) for x in lines] == [
            (f"hub/{hub['id']}", "create", "svc-alpha", ALPHA_PARTY),
            (f"hub/{hub['id']}", "delete", "svc-alpha", ALPHA_PARTY),
        ]
        assert lines[1]["scope"] == HUBS

    def test_the_trail_is_not_part_of_the_ticket_and_not_for_partners(
        self, client: TestClient, operator: dict[str, str], alpha: dict[str, str]
    ) -> None:
        ticket = raise_ticket(client, alpha)
        read = client.get(url(ticket), headers=operator).json()

        assert "auditTrail" not in ticket and "auditTrail" not in read
        assert_tmf_error(client.get(f"{url(ticket)}/auditRecord", headers=alpha), 403, "forbidden")
        forged = client.post(TICKETS, json=a_ticket(auditTrail=[]), headers=operator)
        assert_tmf_error(forged, 400, "serverOwnedField", mentions=("auditTrail",))


class TestRequestIdsAndHeaders:
    def test_a_plain_request_id_is_echoed_and_named_in_the_error(
        self, client: TestClient, operator: dict[str, str]
    ) -> None:
        response = client.get(f"{TICKETS}/none", headers={**operator, "X-Request-ID": "gw-42.a"})

        body = assert_tmf_error(response, 404, "notFound")
        assert response.headers["X-Request-ID"] == body["requestId"] == "gw-42.a"

    @pytest.mark.parametrize("sent", [None, "two words", "x" * 129, "<script>"])
    def test_otherwise_the_server_makes_one(self, client: TestClient, sent: str | None) -> None:
        headers = {} if sent is None else {"X-Request-ID": sent}
        response = client.get(TICKETS, headers=headers)  # no token: 401

        body = assert_tmf_error(response, 401, "unauthorized")
        assert len(body["requestId"]) == 32 and body["requestId"] != sent

    def test_every_answer_carries_the_security_headers(
        self, client: TestClient, operator: dict[str, str]
    ) -> None:
        for response in (client.get(TICKETS, headers=operator), client.get(TICKETS)):
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["X-Frame-Options"] == "DENY"
            assert response.headers["Cache-Control"] == "no-store"
            assert response.headers["Referrer-Policy"] == "no-referrer"
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
            # the base URL is https: browsers are told to stay on it
            assert response.headers["Strict-Transport-Security"].startswith("max-age=")

    def test_the_swagger_ui_may_run_its_scripts(self, client: TestClient) -> None:
        response = client.get(f"{API}/ui/")

        assert response.status_code == 200
        assert "Content-Security-Policy" not in response.headers
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    def test_the_token_is_never_logged(
        self,
        client: TestClient,
        issuer: Issuer,
        operator: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        expired = issuer.token("alice", scopes=ALL, exp=1)
        caplog.set_level("DEBUG")
        client.get(TICKETS, headers={"Authorization": f"Bearer {expired}"})
        client.post(TICKETS, json=a_ticket(), headers=operator)

        logged = "\n".join(record.getMessage() for record in caplog.records)
        assert "expired" in logged  # the refusal is logged …
        assert expired not in logged  # … but never the token
        assert operator["Authorization"].removeprefix("Bearer ") not in logged


# -- callbacks at internal addresses -------------------------------------------------------------

REFUSED_CALLBACKS = [
    "http://127.0.0.1/listener",
    "http://127.1:8080/",
    "http://2130706433/",  # 127.0.0.1 in decimal
    "http://0x7f000001/",  # in hex
    "http://0177.0.0.1/",  # in octal
    "http://localhost:9000/hooks",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:a9fe:a9fe]/",  # IPv4-mapped link-local, hex
    "http://0.0.0.0/",
    "http://10.1.2.3/",
    "http://172.16.0.10/",
    "http://192.168.1.1/admin",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://198.18.0.1/",  # benchmarking
    "http://192.0.2.10/",  # documentation
    "http://224.0.0.1/",  # multicast
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",  # broadcast
    "http://[fe80::1]/",  # link-local
    "http://[fc00::1]/",  # unique local
    "http://[ff02::1]/",  # multicast
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address
    "http://[2002:7f00:1::]/",  # 6to4 of loopback
]


class TestCallbacksAtInternalAddresses:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return replace(settings, egress_allow=())  # as deployed: no internal network allowed

    @pytest.mark.parametrize("callback", REFUSED_CALLBACKS)
    def test_are_refused_at_registration_and_nothing_is_stored(
        self, client: TestClient, store: Store, operator: dict[str, str], callback: str
    ) -> None:
        hub = {"@type": "Hub", "callback": callback}
        response = client.post(f"{API}/hub", json=hub, headers=operator)

        assert_tmf_error(response, 400, "callbackNotAllowed", mentions=("TT_EGRESS_ALLOW",))
        assert store.list(Collection.HUB, ListQuery(limit=10)).items == []

    def test_a_name_that_does_not_resolve_yet_is_kept_and_checked_when_delivered(
        self, client: TestClient, operator: dict[str, str]
    ) -> None:
        hub = {"@type": "Hub", "callback": "https://not-yet.invalid/listener"}

        assert client.post(f"{API}/hub", json=hub, headers=operator).status_code == 201

    def test_an_allowed_network_may_be_called(
        self, settings: Settings, issuer: Issuer, store: Store, clock: FrozenClock
    ) -> None:
        allowed = replace(settings, egress_allow=("127.0.0.0/8",))
        app = create_app(issuer.settings(allowed), store=store, clock=clock)
        hub = {"@type": "Hub", "callback": "http://127.0.0.1:9000/listener"}
        with app.test_client() as client:
            response = client.post(f"{API}/hub", json=hub, headers=issuer.bearer(scopes=[HUBS]))
            refused = {"@type": "Hub", "callback": "http://10.0.0.1/listener"}
            other = client.post(f"{API}/hub", json=refused, headers=issuer.bearer(scopes=[HUBS]))

        assert response.status_code == 201, response.text
        assert_tmf_error(other, 400, "callbackNotAllowed")

    def test_a_partner_at_an_internal_address_is_refused_at_start(
        self, settings: Settings, tmp_path: Path, store: Store
    ) -> None:
        registry = tmp_path / "partners.yaml"
        registry.write_text(
            "partners:\n"
            "  fibreco:\n"
            "    baseUrl: http://169.254.169.254/tmf-api/troubleTicket/v5\n"
            "    party: {'@type': PartyRef, id: org-fibreco}\n"
        )
        with pytest.raises(ConfigError) as refused:
            create_app(replace(settings, partners=str(registry)), store=store)

        message = str(refused.value)
        assert "partner fibreco" in message and "link-local" in message
        assert "TT_EGRESS_ALLOW" in message
