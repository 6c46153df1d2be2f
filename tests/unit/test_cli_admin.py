"""``troubleticket deliveries list|replay``, and the serve flags of metrics and tracing.

The store is a SQLite file filled through the real services: hubs registered with
``HubService``, tickets (and a recovery activity raised at a partner) through the runtime, and
one dispatcher pass after each change with a schedule of one attempt, so that what fails is dead
at once: hub A's callback fails, hub B's succeeds, and the partner is down.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders import a_ticket
from tests.conftest import LOCAL_NETWORKS, FrozenClock
from tests.unit.cli_environment import logging_as_found, no_tt_environment  # noqa: F401 (autouse)
from troubleticket import cli
from troubleticket.admin.deliveries import DELIVERY_COLUMNS, DeliveryAdmin, Scope
from troubleticket.bootstrap import runtime
from troubleticket.bootstrap.services import egress_policy, hub_service, ticket_service
from troubleticket.cli import main
from troubleticket.config import Settings
from troubleticket.context import NO_CONTEXT
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.policy import DEFAULT_POLICY
from troubleticket.notify.delivery import DeliveryPolicy, Outcome
from troubleticket.notify.dispatcher import Dispatcher
from troubleticket.notify.hubs import HubService
from troubleticket.store.port import Collection, ListQuery, Store
from troubleticket.store.sqlite import SqliteStore
from troubleticket.types import JSON

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ALPHA_PARTY = {"@type": "PartyRef", "@referredType": "Organization", "id": "org-alpha"}
# Only ticket creations go to the hubs: one delivery per hub and ticket.
CREATIONS = "eventType=TroubleTicketCreateEvent"
FAILING = "http://127.0.0.1:9/a"
WORKING = "http://127.0.0.1:9/b"
INTERNAL = {"resourceKey", "orderKey", "leaseUntil", "leaseOwner"}


@dataclass
class World:
    path: Path
    partners: Path
    hub_a: str
    hub_b: str
    tickets: list[str]  # oldest first

    def deliveries(self) -> list[JSON]:
        store = SqliteStore(self.path)
        try:
            return store.list(Collection.DELIVERY, ListQuery(limit=1000)).items
        finally:
            store.close()

    def delivery(self, hub: str, ticket: str) -> JSON:
        (found,) = [
            d
            for d in self.deliveries()
            if d["hubId"] == hub and d["resource"]["id"] == ticket and "replayOf" not in d
        ]
        return found


def send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    return Outcome(204) if url == WORKING else Outcome(None, "ConnectionError: hub A is down")


def partner_down(delivery: JSON, event: JSON) -> Outcome:
    return Outcome(None, "ConnectionError: the partner is down")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    registry = tmp_path / "partners.yaml"
    registry.write_text(
        yaml.safe_dump(
            {
                "partners": {
                    "alpha": {
                        "baseUrl": "http://127.0.0.1:9/tmf-api/troubleTicket/v5",
                        "party": ALPHA_PARTY,
                        "events": {"subscribe": False, "secretEnv": "HUB_SECRET"},
                    }
                }
            }
        )
    )
    # the CLI reads the partner registry's secret from the environment, as serve does
    monkeypatch.setenv("HUB_SECRET", SECRET)
    monkeypatch.setenv("TT_EGRESS_ALLOW", ",".join(LOCAL_NETWORKS))
    path = tmp_path / "tt.sqlite3"
    settings = Settings(
        store=str(path),
        base_url="https://tt.example.com",
        partners=str(registry),
        egress_allow=LOCAL_NETWORKS,
    )
    clock = FrozenClock()
    store = SqliteStore(path)
    run = runtime(settings, store, clock=clock, environ={"HUB_SECRET": SECRET})
    hubs: HubService = hub_service(settings, store, egress_policy(settings), clock=clock)
    hub_a = hubs.register({"callback": FAILING, "query": CREATIONS}, context=NO_CONTEXT)["id"]
    hub_b = hubs.register({"callback": WORKING, "query": CREATIONS}, context=NO_CONTEXT)["id"]
    dispatcher = Dispatcher(
        store,
        sender=send,
        clock=clock,
        worker_id="test",
        policy=DeliveryPolicy(schedule=(0,), timeout=1.0, lease=10.0, concurrency=1),
        perform=partner_down,
    )

    def dispatch() -> None:
        clock.advance(seconds=10)
        while dispatcher.run_once():
            pass

    tickets = []
    try:
        for _ in range(2):
            clock.advance(minutes=1)
            tickets.append(run.tickets.create(a_ticket(), context=NO_CONTEXT).doc["id"])
            dispatch()
        clock.advance(minutes=1)
        raised = run.tickets.create(a_ticket(status="inProgress"), context=NO_CONTEXT).doc["id"]
        tickets.append(raised)
        assignee = {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "partner",
            "partyOrPartyRole": ALPHA_PARTY,
        }
        run.activities.create(
            raised,
            {"@type": "RecoveryActivity", "activityType": "partnerRepair", "assignee": assignee},
            context=NO_CONTEXT,
        )
        dispatch()
    finally:
        dispatcher.close()
        store.close()
    return World(path, registry, hub_a, hub_b, tickets)


def cells(line: str) -> list[str]:
    """A table row's cells: columns are two spaces apart or more, cells hold single spaces."""
    return re.split(r" {2,}", line.strip())


def json_lines(out: str) -> list[JSON]:
    return [json.loads(line) for line in out.splitlines()]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class TestTheFixture:
    def test_hub_a_and_the_partner_are_dead_and_hub_b_is_delivered(self, world: World) -> None:
        states = sorted((d["hubId"], d["state"]) for d in world.deliveries())

        assert states == sorted(
            [(world.hub_a, "dead")] * 3
            + [(world.hub_b, "delivered")] * 3
            + [("partner:alpha", "dead"), ("partner-poll:alpha", "dead")]
        )


class TestList:
    def test_every_delivery_newest_first_as_a_table(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, err = run(capsys, "deliveries", "list", "--store", str(world.path))

        assert code == 0
        header, *rows = [cells(line) for line in out.splitlines()]
        assert header == list(DELIVERY_COLUMNS)
        assert len(rows) == 8
        created = [row[7] for row in rows]
        assert created == sorted(created, reverse=True)
        assert {row[1] for row in rows[:4]} == {
            world.hub_a,
            world.hub_b,
            "partner:alpha",
            "partner-poll:alpha",
        }
        first_a = world.delivery(world.hub_a, world.tickets[0])
        assert [row for row in rows if row[0] == first_a["id"]] == [
            [
                first_a["id"],
                world.hub_a,
                "TroubleTicketCreateEvent",
                world.tickets[0],
                "dead",
                "1",
                "ConnectionError: hub A is down",
                first_a["createdAt"],
            ]
        ]
        first_b = world.delivery(world.hub_b, world.tickets[0])
        assert [row[4:7] for row in rows if row[0] == first_b["id"]] == [
            ["delivered", "1", f"delivered {first_b['deliveredAt']}"]
        ]
        assert err == "8 deliveries to all hubs and partners, newest first\n"

    def test_by_state_as_json_lines_shown_as_the_api_shows_them(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, _ = run(
            capsys, "deliveries", "list", "--store", str(world.path), "--state", "dead", "--json"
        )

        assert code == 0
        listed = json_lines(out)
        assert sorted((d["hubId"], d["resource"]["id"]) for d in listed) == sorted(
            [(world.hub_a, ticket) for ticket in world.tickets]
            + [("partner:alpha", world.tickets[2]), ("partner-poll:alpha", world.tickets[2])]
        )
        assert {d["state"] for d in listed} == {"dead"}
        assert all(INTERNAL.isdisjoint(d) for d in listed)
        stored = {d["id"]: d for d in world.deliveries()}
        assert all(
            d == {k: v for k, v in stored[d["id"]].items() if k not in INTERNAL} for d in listed
        )

    def test_several_states_may_be_named(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, _ = run(
            capsys,
            "deliveries",
            "list",
            "--store",
            str(world.path),
            "--state",
            "delivered",
            "pending",
            "--json",
        )

        assert code == 0
        assert [(d["hubId"], d["state"]) for d in json_lines(out)] == [
            (world.hub_b, "delivered")
        ] * 3

    def test_one_hubs_deliveries(self, world: World, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, err = run(
            capsys, "deliveries", "list", "--store", str(world.path), "--hub", world.hub_b, "--json"
        )

        assert code == 0
        listed = json_lines(out)
        assert [d["resource"]["id"] for d in listed] == world.tickets[::-1]
        assert {d["hubId"] for d in listed} == {world.hub_b}
        assert err == f"3 deliveries to hub {world.hub_b}, newest first\n"

    def test_one_partners_requests_are_those_of_its_lanes(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, _ = run(
            capsys,
            "deliveries",
            "list",
            "--store",
            str(world.path),
            "--partner",
            "alpha",
            "--partners",
            str(world.partners),
            "--json",
        )

        assert code == 0
        listed = json_lines(out)
        assert sorted(d["eventType"] for d in listed) == [
            "PartnerTicketCreate",
            "PartnerTicketPoll",
        ]
        assert {d["lastError"] for d in listed} == {"ConnectionError: the partner is down"}

    def test_an_unknown_partner_exits_1(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, err = run(
            capsys,
            "deliveries",
            "list",
            "--store",
            str(world.path),
            "--partner",
            "gamma",
            "--partners",
            str(world.partners),
        )

        assert (code, out) == (1, "")
        assert err == "troubleticket deliveries list: No partner with id 'gamma'\n"

    def test_an_unknown_hub_exits_1(self, world: World, capsys: pytest.CaptureFixture[str]) -> None:
        code, _, err = run(capsys, "deliveries", "list", "--store", str(world.path), "--hub", "x")

        assert code == 1
        assert err == "troubleticket deliveries list: No hub with id 'x'\n"

    def test_the_limit_cuts_the_list_and_says_so(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, err = run(
            capsys, "deliveries", "list", "--store", str(world.path), "--limit", "2", "--json"
        )

        assert code == 0
        assert len(json_lines(out)) == 2
        assert err == (
            "2 deliveries to all hubs and partners, newest first; more with a higher --limit\n"
        )

    def test_hub_and_partner_together_are_a_usage_error(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as exited:
            main(["deliveries", "list", "--hub", "a", "--partner", "b"])

        assert exited.value.code == 2
        assert "not allowed with argument" in capsys.readouterr().err

    def test_an_unknown_state_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exited:
            main(["deliveries", "list", "--state", "failed"])

        assert exited.value.code == 2
        assert "invalid choice: 'failed'" in capsys.readouterr().err

    def test_a_store_that_does_not_exist_exits_2_and_is_not_created(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        missing = tmp_path / "mistyped.sqlite3"

        code, out, err = run(capsys, "deliveries", "list", "--store", str(missing))

        assert (code, out) == (2, "")
        assert err == f"troubleticket: TT_STORE names no existing SQLite file: {missing}\n"
        assert not missing.exists()


class TestReplay:
    def test_a_dead_delivery_is_made_again_pending_and_naming_the_original(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        original = world.delivery(world.hub_a, world.tickets[0])

        code, out, err = run(
            capsys, "deliveries", "replay", original["id"], "--store", str(world.path)
        )

        assert code == 0
        (made,) = out.split()
        (replay,) = [d for d in world.deliveries() if d["id"] == made]
        assert replay["state"] == "pending"
        assert replay["attempts"] == 0
        assert replay["replayOf"] == original["id"]
        assert (replay["hubId"], replay["eventId"]) == (world.hub_a, original["eventId"])
        assert world.delivery(world.hub_a, world.tickets[0])["state"] == "dead"
        assert err.startswith("replayed 1 delivery to all hubs and partners; the server or ")

    def test_deliveries_to_several_targets_each_go_to_their_own(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        delivered = world.delivery(world.hub_b, world.tickets[1])["id"]
        dead = world.delivery("partner:alpha", world.tickets[2])["id"]

        code, out, _ = run(
            capsys, "deliveries", "replay", delivered, dead, "--store", str(world.path)
        )

        assert code == 0
        made = out.split()
        replays = {d["replayOf"]: d["hubId"] for d in world.deliveries() if d["id"] in made}
        assert replays == {delivered: world.hub_b, dead: "partner:alpha"}

    def test_a_pending_delivery_is_refused_and_nothing_is_made(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        original = world.delivery(world.hub_a, world.tickets[0])["id"]
        assert main(["deliveries", "replay", original, "--store", str(world.path)]) == 0
        pending = capsys.readouterr().out.strip()
        before = len(world.deliveries())

        code, out, err = run(capsys, "deliveries", "replay", pending, "--store", str(world.path))

        assert (code, out) == (1, "")
        assert err == (
            f"troubleticket deliveries replay: Delivery {pending} is pending; only dead or "
            "delivered deliveries are replayed\n"
        )
        assert len(world.deliveries()) == before

    def test_a_delivery_of_another_hub_is_refused_when_a_hub_is_named(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        of_b = world.delivery(world.hub_b, world.tickets[0])["id"]

        code, _, err = run(
            capsys, "deliveries", "replay", of_b, "--hub", world.hub_a, "--store", str(world.path)
        )

        assert code == 1
        assert (
            err == f"troubleticket deliveries replay: Hub {world.hub_a} has no delivery {of_b!r}\n"
        )

    def test_an_unknown_delivery_is_refused(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, _, err = run(capsys, "deliveries", "replay", "nope", "--store", str(world.path))

        assert code == 1
        assert err == "troubleticket deliveries replay: The store has no delivery 'nope'\n"

    def test_dead_makes_every_dead_delivery_again_once(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        dead = {d["id"] for d in world.deliveries() if d["state"] == "dead"}

        code, out, err = run(capsys, "deliveries", "replay", "--dead", "--store", str(world.path))

        assert code == 0
        made = out.split()
        replays = [d for d in world.deliveries() if d["id"] in made]
        assert len(made) == 5
        assert {d["replayOf"] for d in replays} == dead
        assert {d["state"] for d in replays} == {"pending"}
        assert err.startswith("replayed 5 deliveries to all hubs and partners; ")

        again = run(capsys, "deliveries", "replay", "--dead", "--store", str(world.path))

        assert again == (
            0,
            "",
            "replayed 0 deliveries to all hubs and partners (5 dead ones replayed before: "
            "skipped)\n",
        )

    def test_dead_of_one_hub(self, world: World, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run(
            capsys,
            "deliveries",
            "replay",
            "--dead",
            "--hub",
            world.hub_a,
            "--store",
            str(world.path),
        )

        assert code == 0
        made = out.split()
        replays = [d for d in world.deliveries() if d["id"] in made]
        assert sorted(d["resource"]["id"] for d in replays) == sorted(world.tickets)
        assert {d["hubId"] for d in replays} == {world.hub_a}

    def test_dead_of_one_partner(self, world: World, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run(
            capsys,
            "deliveries",
            "replay",
            "--dead",
            "--partner",
            "alpha",
            "--partners",
            str(world.partners),
            "--store",
            str(world.path),
        )

        assert code == 0
        replays = [d for d in world.deliveries() if d["id"] in out.split()]
        assert sorted(d["hubId"] for d in replays) == ["partner-poll:alpha", "partner:alpha"]

    def test_dead_goes_in_batches(
        self, world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        batches: list[int] = []
        replay = HubService.replay_to

        def counted(self: HubService, targets: Any, body: JSON, owner: str) -> JSON:
            batches.append(len(body["delivery"]))
            return replay(self, targets, body, owner)

        monkeypatch.setattr(HubService, "replay_to", counted)
        monkeypatch.setattr("troubleticket.admin.deliveries.MAX_REPLAY_DELIVERIES", 2)

        code, out, _ = run(capsys, "deliveries", "replay", "--dead", "--store", str(world.path))

        assert code == 0
        assert len(out.split()) == 5
        assert batches == [2, 2, 1]

    @pytest.mark.parametrize("argv", [[], ["some-id", "--dead"]])
    def test_ids_or_dead_one_of_them(
        self, world: World, argv: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, _, err = run(capsys, "deliveries", "replay", *argv, "--store", str(world.path))

        assert code == 2
        assert err == (
            "troubleticket deliveries replay: name the deliveries (ID ...) or give --dead, one "
            "of them\n"
        )


class TestServeFlags:
    @pytest.fixture
    def served(self, monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
        """The settings serve would have run with (it runs nothing)."""
        seen: list[Settings] = []

        def serve(settings: Settings) -> int:
            seen.append(settings)
            return 0

        monkeypatch.setattr(cli, "serve", serve)
        return seen

    def test_metrics_and_tracing_flags_reach_the_settings(self, served: list[Settings]) -> None:
        argv = ["--metrics", "off", "--metrics-port", "9100", "--metrics-host", "0.0.0.0"]

        assert main(["serve", *argv, "--tracing", "console"]) == 0

        (settings,) = served
        assert (settings.metrics, settings.metrics_port, settings.metrics_host) == (
            False,
            9100,
            "0.0.0.0",
        )
        assert settings.tracing == "console"

    def test_a_flag_wins_over_its_variable(
        self, served: list[Settings], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TT_METRICS_PORT", "9200")
        monkeypatch.setenv("TT_TRACING", "otlp")

        assert main(["serve", "--metrics-port", "9300"]) == 0

        assert (served[0].metrics_port, served[0].tracing) == (9300, "otlp")

    def test_a_bad_value_exits_2_naming_the_variable(
        self, served: list[Settings], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["serve", "--tracing", "zipkin"]) == 2

        assert capsys.readouterr().err == (
            "troubleticket: TT_TRACING has value 'zipkin': expected off, otlp or console\n"
        )
        assert served == []

    def test_the_metrics_token_is_no_flag(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exited:
            main(["serve", "--metrics-token", "s3cret"])

        assert exited.value.code == 2

    def test_every_setting_flag_names_a_setting(self) -> None:
        assert set(cli.parser.SETTING_FLAGS) <= set(Settings.__dataclass_fields__)
        assert {"metrics", "metrics_port", "metrics_host", "tracing", "policy", "partners"} <= set(
            cli.parser.SETTING_FLAGS
        )
        assert "metrics_token" not in cli.parser.SETTING_FLAGS


def test_dead_deliveries_are_replayed_once_on_every_store(store: Store) -> None:
    """Replaying the dead ones finds them, and those replayed before, alike in each store."""
    settings = Settings(store="unused", egress_allow=LOCAL_NETWORKS)
    clock = FrozenClock()
    hubs = hub_service(settings, store, egress_policy(settings), clock=clock)
    hub = hubs.register({"callback": FAILING}, context=NO_CONTEXT)["id"]
    tickets = ticket_service(settings, store, ManagedTicket(DEFAULT_POLICY), clock=clock)
    tickets.create(a_ticket(), context=NO_CONTEXT)
    dispatcher = Dispatcher(
        store,
        sender=send,
        clock=clock,
        worker_id="test",
        policy=DeliveryPolicy(schedule=(0,), timeout=1.0, lease=10.0, concurrency=1),
    )
    try:
        while dispatcher.run_once():
            pass
    finally:
        dispatcher.close()
    deliveries = DeliveryAdmin(store, hubs)
    (dead,) = deliveries.latest(Scope(hub=hub), states=["dead"]).items

    first = deliveries.replay_dead()
    second = deliveries.replay_dead(Scope(hub=hub))

    (made,) = first.made
    assert (first.skipped, second.made, second.skipped) == (0, [], 1)
    (replay,) = deliveries.latest(states=["pending"]).items
    assert (replay["id"], replay["replayOf"], replay["hubId"]) == (made, dead["id"], hub)
