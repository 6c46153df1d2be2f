"""Major incidents through the API, on every store: linking children (three PATCH formats and
their rules), the parent's rollup worked out by hand, correlation on create, the cascade of a
parent's status (closed children left alone, detached ones too, a concurrent customer change
retried), the coalesced rollup event, and a hub that hears major incidents only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.builders import TICKETS, a_ticket
from tests.conftest import FrozenClock
from troubleticket.app import create_app
from troubleticket.background.major_incidents import CascadeRunner, RollupAnnouncer
from troubleticket.bootstrap import Runtime, runtime
from troubleticket.bootstrap.services import ticket_service
from troubleticket.config import Settings
from troubleticket.domain.major_incident import MajorIncidentPolicy
from troubleticket.services.major_incidents import MajorIncidents
from troubleticket.store.port import Collection, ListQuery, Store

POLICY = """
majorIncident:
  correlate:
    - name: same network element
      relatedEntity: {referredType: [Resource, Service]}
    - name: same area
      characteristic: [area]
  rollupInterval: 1s
  cascadeBatch: 2
"""

JSON_PATCH = "application/json-patch+json"
QUERY_PATCH = "application/json-patch-query+json"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    return Settings(
        store=str(tmp_path / "api.sqlite3"),
        base_url="https://tt.example.com",
        dispatch="off",
        policy=str(policy),
    )


@pytest.fixture
def run(settings: Settings, store: Store, clock: FrozenClock) -> Runtime:
    """The services on the app's store: what the background loops are built from."""
    return runtime(settings, store, clock=clock, environ={})


@pytest.fixture
def client(settings: Settings, store: Store, clock: FrozenClock) -> Iterator[TestClient]:
    with create_app(settings, store=store, clock=clock, environ={}).test_client() as test_client:
        yield test_client


def cascade(run: Runtime, clock: FrozenClock) -> CascadeRunner:
    return CascadeRunner(run.store, run.tickets, run.managed, clock=clock)


def announcer(run: Runtime) -> RollupAnnouncer:
    assert isinstance(run.tickets.relations, MajorIncidents)
    return RollupAnnouncer(run.store, run.tickets, run.tickets.relations)


def customer(party_id: str) -> dict[str, Any]:
    return {
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "role": "customer",
        "partyOrPartyRole": {"@type": "PartyRef", "id": party_id, "@referredType": "Individual"},
    }


def element(entity_id: str, referred: str = "Resource") -> dict[str, Any]:
    return {
        "@type": "RelatedEntityRefOrValue",
        "role": "affected",
        "entity": {"@type": "EntityRef", "id": entity_id, "@referredType": referred},
    }


def child_of(parent_id: str) -> dict[str, Any]:
    return {"@type": "TroubleTicketRelationship", "id": parent_id, "relationshipType": "isChildOf"}


def created(client: TestClient, **attributes: Any) -> dict[str, Any]:
    answer = client.post(TICKETS, json=a_ticket(**attributes))
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def major(client: TestClient, **attributes: Any) -> dict[str, Any]:
    return created(
        client,
        ticketType="majorIncident",
        severity="Critical",
        description="Fibre cut between exchanges",
        **attributes,
    )


def read(client: TestClient, ticket_id: str) -> dict[str, Any]:
    answer = client.get(f"{TICKETS}/{ticket_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def patch(
    client: TestClient, ticket_id: str, body: Any, media_type: str = "application/merge-patch+json"
) -> Any:
    """A PATCH; a merge patch names the ticket's @type, as TroubleTicket_MVO requires."""
    if media_type == "application/merge-patch+json":
        body = {"@type": "TroubleTicket", **body}
    return client.patch(
        f"{TICKETS}/{ticket_id}", content=_json(body), headers={"Content-Type": media_type}
    )


def _json(body: Any) -> bytes:
    import json

    return json.dumps(body).encode()


def move(client: TestClient, ticket_id: str, *statuses: str, reason: str = "work") -> None:
    for status in statuses:
        answer = patch(client, ticket_id, {"status": status, "statusChangeReason": reason})
        assert answer.status_code == 200, answer.text


def children(client: TestClient, parent_id: str) -> list[dict[str, Any]]:
    answer = client.get(TICKETS, params={"troubleTicketRelationship.id": parent_id})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


class TestLinks:
    @pytest.mark.parametrize(
        ("media_type", "link", "unlink"),
        [
            (
                "application/merge-patch+json",
                lambda p: {"troubleTicketRelationship": [child_of(p)]},
                lambda p: {"troubleTicketRelationship": []},
            ),
            (
                JSON_PATCH,
                lambda p: [
                    {"op": "add", "path": "/troubleTicketRelationship", "value": [child_of(p)]}
                ],
                lambda p: [{"op": "remove", "path": "/troubleTicketRelationship/0"}],
            ),
            (
                QUERY_PATCH,
                lambda p: [
                    {"op": "add", "path": "/troubleTicketRelationship", "value": [child_of(p)]}
                ],
                lambda p: [
                    {"op": "remove", "path": f"/troubleTicketRelationship?id={p}"},
                ],
            ),
        ],
    )
    def test_link_and_unlink_in_each_patch_format(
        self, client: TestClient, media_type: str, link: Any, unlink: Any
    ) -> None:
        parent = major(client)
        ticket = created(client)

        linked = patch(client, ticket["id"], link(parent["id"]), media_type)
        assert linked.status_code == 200, linked.text
        assert linked.json()["troubleTicketRelationship"][0]["id"] == parent["id"]
        assert "parentTicketId" not in linked.json()
        assert [c["id"] for c in children(client, parent["id"])] == [ticket["id"]]
        assert read(client, parent["id"])["childSummary"]["total"] == 1

        unlinked = patch(client, ticket["id"], unlink(parent["id"]), media_type)
        assert unlinked.status_code == 200, unlinked.text
        assert children(client, parent["id"]) == []
        assert read(client, parent["id"])["childSummary"]["total"] == 0

    def test_a_link_the_rules_refuse(self, client: TestClient) -> None:
        parent, other = major(client), major(client)
        ticket = created(client)
        plain = created(client)

        def refused(body: Any) -> dict[str, Any]:
            answer = patch(client, ticket["id"], {"troubleTicketRelationship": body})
            assert answer.status_code in (400, 409), answer.text
            error: dict[str, Any] = answer.json()
            assert error["@type"] == "Error"
            return error

        assert (
            "one major incident at most"
            in refused([child_of(parent["id"]), child_of(other["id"])])["message"]
        )
        assert "itself" in refused([child_of(ticket["id"])])["message"]
        assert "not a major incident" in refused([child_of(plain["id"])])["message"]
        assert "no such trouble ticket" in refused([child_of("nope")])["message"]
        # a major incident is never a child: no grandchildren, no cycles
        answer = patch(client, other["id"], {"troubleTicketRelationship": [child_of(parent["id"])]})
        assert answer.status_code == 400
        assert "cannot be the child of another" in answer.json()["message"]
        # a closed parent takes no new children
        move(client, parent["id"], "inProgress", "resolved")
        closed = patch(
            client, ticket["id"], {"troubleTicketRelationship": [child_of(parent["id"])]}
        )
        assert closed.status_code == 409
        assert closed.json()["code"] == "parentNotOpen"
        # nothing of the refused requests was written
        assert read(client, ticket["id"]).get("troubleTicketRelationship") in (None, [])

    def test_other_relationships_are_no_links(self, client: TestClient) -> None:
        parent = major(client)
        ticket = created(
            client,
            troubleTicketRelationship=[
                {
                    "@type": "TroubleTicketRelationship",
                    "id": parent["id"],
                    "relationshipType": "isRelatedTo",
                }
            ],
        )
        assert children(client, parent["id"]) == [read(client, ticket["id"])]
        assert read(client, parent["id"])["childSummary"]["total"] == 0

    def test_a_major_incident_with_children_keeps_its_type(self, client: TestClient) -> None:
        parent = major(client)
        created(client, troubleTicketRelationship=[child_of(parent["id"])])
        answer = patch(client, parent["id"], {"ticketType": "incident"})
        assert answer.status_code == 409
        assert answer.json()["code"] == "majorIncidentHasChildren"

    def test_a_linked_child_does_not_become_a_major_incident(self, client: TestClient) -> None:
        parent = major(client)
        kid = created(client, troubleTicketRelationship=[child_of(parent["id"])])
        answer = patch(client, kid["id"], {"ticketType": "majorIncident"})
        assert answer.status_code == 400
        assert "cannot be the child of another" in answer.json()["message"]
        assert read(client, kid["id"])["ticketType"] == "incident"

    def test_a_major_incident_with_children_is_not_deleted(self, client: TestClient) -> None:
        parent = major(client)
        kid = created(client, troubleTicketRelationship=[child_of(parent["id"])])
        answer = client.delete(f"{TICKETS}/{parent['id']}")
        assert answer.status_code == 409
        assert answer.json()["code"] == "majorIncidentHasChildren"
        assert patch(client, kid["id"], {"troubleTicketRelationship": []}).status_code == 200
        assert client.delete(f"{TICKETS}/{parent['id']}").status_code == 204

    def test_the_parent_id_is_the_servers(self, client: TestClient) -> None:
        answer = client.post(TICKETS, json=a_ticket(parentTicketId="x"))
        assert answer.status_code == 400


class TestRollup:
    def test_counts_worked_out_by_hand(self, client: TestClient) -> None:
        parent = major(client)
        link = [child_of(parent["id"])]
        a = created(client, troubleTicketRelationship=link, relatedParty=[customer("c-1")])
        b = created(client, troubleTicketRelationship=link, relatedParty=[customer("c-2")])
        c = created(client, troubleTicketRelationship=link, relatedParty=[customer("c-1")])
        d = created(client, troubleTicketRelationship=link)  # no customer named
        move(client, b["id"], "inProgress")
        move(client, c["id"], "inProgress", "resolved")
        move(client, d["id"], "held")

        # a, b, d open; c resolved. Customers of open children: c-1 (a), c-2 (b) -> 2
        assert read(client, parent["id"])["childSummary"] == {
            "@type": "ChildSummary",
            "total": 4,
            "open": 3,
            "byStatus": {"acknowledged": 1, "inProgress": 1, "held": 1, "resolved": 1},
            "affectedCustomers": 2,
        }
        # b detached: c-2 is no longer affected; a deleted: nor is c-1 (c is resolved)
        assert patch(client, b["id"], {"troubleTicketRelationship": []}).status_code == 200
        assert client.delete(f"{TICKETS}/{a['id']}").status_code == 204
        assert read(client, parent["id"])["childSummary"] == {
            "@type": "ChildSummary",
            "total": 2,
            "open": 1,
            "byStatus": {"held": 1, "resolved": 1},
            "affectedCustomers": 0,
        }
        # the same numbers in a listing
        (listed,) = client.get(TICKETS, params={"id": parent["id"]}).json()
        assert listed["childSummary"]["total"] == 2

    def test_the_rollup_event_is_coalesced(
        self, client: TestClient, run: Runtime, store: Store
    ) -> None:
        parent = major(client)
        for _ in range(5):
            created(client, troubleTicketRelationship=[child_of(parent["id"])])
        before = _events_of(store, parent["id"])

        assert announcer(run).announce_changed() == 1
        assert announcer(run).announce_changed() == 0  # nothing changed since
        after = _events_of(store, parent["id"])
        (new,) = [e for e in after if e["eventId"] not in {b["eventId"] for b in before}]
        assert new["eventType"] == "TroubleTicketAttributeValueChangeEvent"
        assert new["event"]["troubleTicket"]["childSummary"]["total"] == 5


def _events_of(store: Store, ticket_id: str) -> list[dict[str, Any]]:
    store.relay_events()
    page = store.list(Collection.EVENT, ListQuery(limit=1000))
    return [
        e["body"]
        for e in page.items
        if e["body"].get("event", {}).get("troubleTicket", {}).get("id") == ticket_id
    ]


class TestCorrelation:
    def test_a_new_ticket_on_the_same_element_is_linked_in_the_create(
        self, client: TestClient
    ) -> None:
        parent = major(client, relatedEntity=[element("olt-7")])
        ticket = created(client, relatedEntity=[element("olt-7")])
        (link,) = ticket["troubleTicketRelationship"]
        assert link["id"] == parent["id"]
        assert link["relationshipType"] == "isChildOf"
        assert link["href"].endswith(f"/troubleTicket/{parent['id']}")
        assert read(client, parent["id"])["childSummary"]["open"] == 1

    def test_a_characteristic_rule_and_no_match(self, client: TestClient) -> None:
        area = {"@type": "Characteristic", "name": "area", "value": "north"}
        parent = major(client, troubleTicketCharacteristic=[area])
        same = created(client, troubleTicketCharacteristic=[area])
        other = created(
            client,
            troubleTicketCharacteristic=[{**area, "value": "south"}],
            relatedEntity=[element("olt-9")],
        )
        assert same["troubleTicketRelationship"][0]["id"] == parent["id"]
        assert "troubleTicketRelationship" not in other

    def test_only_open_major_incidents_take_tickets_and_the_oldest_first(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        done = major(client, relatedEntity=[element("olt-7")])
        move(client, done["id"], "inProgress", "resolved")
        clock.advance(minutes=1)
        older = major(client, relatedEntity=[element("olt-7")])
        clock.advance(minutes=1)
        major(client, relatedEntity=[element("olt-7")])
        ticket = created(client, relatedEntity=[element("olt-7")])
        assert ticket["troubleTicketRelationship"][0]["id"] == older["id"]

    def test_one_declared_by_another_process_is_seen_within_the_candidates_ttl(
        self, client: TestClient, run: Runtime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import time

        from troubleticket.context import NO_CONTEXT
        from troubleticket.services import major_incidents

        monkeypatch.setattr(major_incidents, "CANDIDATES_TTL_S", 0.05)
        created(client, relatedEntity=[element("olt-3")])  # reads the (no) candidates
        body = a_ticket(ticketType="majorIncident", relatedEntity=[element("olt-3")])
        parent = run.tickets.create(body, context=NO_CONTEXT).doc  # another process's write
        time.sleep(0.1)
        ticket = created(client, relatedEntity=[element("olt-3")])
        assert ticket["troubleTicketRelationship"][0]["id"] == parent["id"]

    def test_a_referred_type_outside_the_rule_does_not_match(self, client: TestClient) -> None:
        major(client, relatedEntity=[element("x-1", "Product")])
        ticket = created(client, relatedEntity=[element("x-1", "Product")])
        assert "troubleTicketRelationship" not in ticket


class TestCascade:
    def test_resolving_the_parent_resolves_its_open_children_once(
        self, client: TestClient, run: Runtime, clock: FrozenClock
    ) -> None:
        parent = major(client)
        link = [child_of(parent["id"])]
        kids = [created(client, troubleTicketRelationship=link) for _ in range(5)]
        move(client, kids[1]["id"], "inProgress")
        move(client, kids[2]["id"], "inProgress", "resolved", "closed")  # closed on its own
        move(client, kids[3]["id"], "pending")
        detached = kids[4]
        assert patch(client, detached["id"], {"troubleTicketRelationship": []}).status_code == 200

        move(client, parent["id"], "inProgress")
        resolve = client.patch(
            f"{TICKETS}/{parent['id']}",
            json={
                "@type": "TroubleTicket",
                "status": "resolved",
                "statusChangeReason": "Fibre spliced",
            },
            headers={"Content-Type": "application/merge-patch+json", "X-Request-ID": "resolve-42"},
        )
        assert resolve.status_code == 200, resolve.text
        shown = read(client, parent["id"])
        assert shown["cascade"]["state"] == "running"
        assert shown["cascade"]["total"] == 3
        assert shown["cascade"]["done"] == 0

        runner = cascade(run, clock)
        passes = 0
        while read(client, parent["id"])["cascade"]["state"] == "running":
            runner.run_once()
            passes += 1
            assert passes < 10
        assert passes == 3  # 3 children, 2 a batch, then the pass that completes it

        shown = read(client, parent["id"])
        assert shown["cascade"]["state"] == "completed"
        assert shown["cascade"]["done"] == 3
        assert shown["cascade"]["refused"] == 0
        for kid in kids[:2] + kids[3:4]:
            now = read(client, kid["id"])
            assert now["status"] == "resolved"
            assert (
                now["statusChangeReason"]
                == f"Fibre spliced (major incident {parent['id']} resolved)"
            )
            resolved = [h for h in now["statusChangeHistory"] if h["status"] == "resolved"]
            assert len(resolved) == 1
        assert read(client, kids[2]["id"])["status"] == "closed"  # left alone
        assert read(client, detached["id"])["status"] == "acknowledged"
        # each child's audit names the request that resolved the parent
        audit = client.get(f"{TICKETS}/{kids[0]['id']}/auditRecord").json()
        assert audit[-1]["requestId"] == "resolve-42"
        assert audit[-1]["action"] == "update"
        assert "status" in audit[-1]["changedAttributes"]

    def test_a_child_changed_meanwhile_is_retried_not_overwritten(
        self,
        client: TestClient,
        run: Runtime,
        clock: FrozenClock,
        store: Store,
        settings: Settings,
    ) -> None:
        parent = major(client)
        kid = created(client, troubleTicketRelationship=[child_of(parent["id"])])
        move(client, parent["id"], "inProgress", "resolved")

        # the customer's note lands between the runner's read and its write
        class Interleaving:
            def __init__(self, inner: Store) -> None:
                self.inner = inner
                self.done = False

            def __getattr__(self, name: str) -> Any:
                return getattr(self.inner, name)

            def write(self, collection: Collection, writes: Any) -> Any:
                if not self.done and any(w.doc["id"] == kid["id"] for w in writes):
                    self.done = True
                    note = {"note": [{"@type": "Note", "text": "still down here"}]}
                    assert patch(client, kid["id"], note).status_code == 200
                return self.inner.write(collection, writes)

        racing: Any = Interleaving(store)
        tickets = ticket_service(settings, racing, run.managed, clock=clock)
        runner = CascadeRunner(racing, tickets, run.managed, clock=clock)
        runner.run_once()
        assert read(client, kid["id"])["status"] == "acknowledged"  # lost its place
        runner.run_once()
        now = read(client, kid["id"])
        assert now["status"] == "resolved"
        assert now["note"][0]["text"] == "still down here"  # kept

    def test_a_child_the_rules_refuse_keeps_its_status_and_is_counted(
        self, client: TestClient, run: Runtime, clock: FrozenClock
    ) -> None:
        parent = major(client)
        kid = created(client, troubleTicketRelationship=[child_of(parent["id"])])
        other = created(client, troubleTicketRelationship=[child_of(parent["id"])])
        activity = client.post(
            f"{TICKETS}/{kid['id']}/recoveryActivity",
            json={
                "@type": "RecoveryActivity",
                "activityType": "fieldVisit",
                "name": "site visit",
                "mandatory": True,
            },
        )
        assert activity.status_code == 201, activity.text
        move(client, parent["id"], "inProgress", "resolved")
        runner = cascade(run, clock)
        for _ in range(3):
            runner.run_once()
        shown = read(client, parent["id"])["cascade"]
        assert (shown["state"], shown["done"], shown["refused"]) == ("completed", 1, 1)
        assert read(client, kid["id"])["status"] == "acknowledged"
        assert read(client, other["id"])["status"] == "resolved"

    def test_reopening_the_parent_stops_the_cascade(
        self, client: TestClient, run: Runtime, clock: FrozenClock
    ) -> None:
        parent = major(client)
        kids = [
            created(client, troubleTicketRelationship=[child_of(parent["id"])]) for _ in range(4)
        ]
        move(client, parent["id"], "inProgress", "resolved")
        cascade(run, clock).run_once()  # one batch of two
        move(client, parent["id"], "inProgress", reason="not fixed after all")
        cascade(run, clock).run_once()
        stopped = read(client, parent["id"])["cascade"]
        assert (stopped["state"], stopped["done"], stopped["refused"]) == ("stopped", 2, 0)
        statuses = sorted(read(client, k["id"])["status"] for k in kids)
        assert statuses == ["acknowledged", "acknowledged", "resolved", "resolved"]

    def test_a_parent_without_open_children_completes_at_once(self, client: TestClient) -> None:
        parent = major(client)
        move(client, parent["id"], "inProgress", "resolved")
        shown = read(client, parent["id"])["cascade"]
        assert (shown["state"], shown["total"], shown["done"], shown["refused"]) == (
            "completed",
            0,
            0,
            0,
        )

    def test_cancelling_the_parent_cancels_with_its_reason(
        self, client: TestClient, run: Runtime, clock: FrozenClock
    ) -> None:
        parent = major(client)
        kid = created(client, troubleTicketRelationship=[child_of(parent["id"])])
        move(client, parent["id"], "cancelled", reason="False alarm")
        for _ in range(2):
            cascade(run, clock).run_once()
        now = read(client, kid["id"])
        assert now["status"] == "cancelled"
        assert now["statusChangeReason"].startswith("False alarm")


class TestNotes:
    def test_a_note_for_the_children_reaches_each_open_one_once(
        self, client: TestClient, run: Runtime, clock: FrozenClock
    ) -> None:
        parent = major(client)
        kids = [
            created(client, troubleTicketRelationship=[child_of(parent["id"])]) for _ in range(3)
        ]
        move(client, kids[2]["id"], "inProgress", "resolved")  # not open: no copy
        said = {
            "@type": "Note",
            "author": "NOC",
            "date": "2026-11-20T09:00:00Z",
            "text": "Engineers on site, repair expected by noon",
            "forChildren": True,
        }
        internal = {"@type": "Note", "author": "NOC", "text": "splice kit ordered"}
        answer = patch(client, parent["id"], {"note": [said, internal]})
        assert answer.status_code == 200, answer.text

        runner = cascade(run, clock)
        for _ in range(4):  # more passes than needed: nothing is copied twice
            runner.run_once()

        for kid in kids[:2]:
            (copied,) = read(client, kid["id"])["note"]
            assert copied["text"] == said["text"]
            assert (copied["author"], copied["date"]) == ("NOC", "2026-11-20T09:00:00Z")
            assert copied["id"].startswith(f"majorIncident-{parent['id']}-")
            assert "forChildren" not in copied
        assert "note" not in read(client, kids[2]["id"])
        # a second flagged note goes the same way, after the first
        second = {**said, "text": "Repaired", "date": "2026-11-20T12:00:00Z"}
        assert patch(client, parent["id"], {"note": [said, internal, second]}).status_code == 200
        for _ in range(3):
            runner.run_once()
        texts = [n["text"] for n in read(client, kids[0]["id"])["note"]]
        assert texts == [said["text"], "Repaired"]


class TestClocks:
    def test_under_pause_a_childs_clocks_stop_while_linked(
        self, tmp_path: Path, store: Store, clock: FrozenClock
    ) -> None:
        policy = tmp_path / "pause.yaml"
        policy.write_text(POLICY + "  childClocks: pause\n")
        settings = Settings(
            store="unused", base_url="https://tt.example.com", dispatch="off", policy=str(policy)
        )
        with create_app(settings, store=store, clock=clock, environ={}).test_client() as client:
            parent = major(client, relatedEntity=[element("olt-1")])
            linked = created(client, relatedEntity=[element("olt-1")])
            alone = created(client)
            clock.advance(hours=2)
            assert {c["state"] for c in read(client, linked["id"])["slaClock"]} == {"paused"}
            assert {c["state"] for c in read(client, alone["id"])["slaClock"]} == {"running"}
            assert patch(client, linked["id"], {"troubleTicketRelationship": []}).status_code == 200
            assert {c["state"] for c in read(client, linked["id"])["slaClock"]} == {"running"}
        del parent

    def test_by_default_a_childs_clocks_run(self, client: TestClient) -> None:
        parent = major(client, relatedEntity=[element("olt-1")])
        linked = created(client, relatedEntity=[element("olt-1")])
        assert linked["troubleTicketRelationship"][0]["id"] == parent["id"]
        assert {c["state"] for c in read(client, linked["id"])["slaClock"]} == {"running"}


class TestNotifications:
    def test_a_hub_can_hear_major_incidents_only(self, client: TestClient, store: Store) -> None:
        answer = client.post(
            "/tmf-api/troubleTicket/v5/hub",
            json={
                "@type": "Hub",
                "callback": "https://noc.example.com/listener",
                "query": "event.troubleTicket.ticketType=majorIncident",
            },
        )
        assert answer.status_code == 201, answer.text
        parent = major(client)
        for _ in range(3):
            created(client, troubleTicketRelationship=[child_of(parent["id"])])
        from troubleticket.notify.hubs import selects

        hub = answer.json()
        store.relay_events()
        events = store.list(Collection.EVENT, ListQuery(limit=100)).items
        heard = [e["body"] for e in events if selects(hub, e["body"])]
        assert {e["event"]["troubleTicket"]["id"] for e in heard} == {parent["id"]}
        assert len(events) > len(heard)


def test_the_policy_keys_have_defaults() -> None:
    assert MajorIncidentPolicy().child_clocks == "run"
