"""The partner services in process, on every store.

The composition root (``bootstrap.runtime``) builds the real ticket and activity services and
the partner gateway, inbox and links from a registry naming one partner, FibreCo, served on this
host by ``partner_server``. A request to the partner is carried out the way the dispatcher
carries it: the gateway is given the event the ticket's change recorded in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import LOCAL_NETWORKS, FrozenClock, SequentialIds
from tests.unit.partners.partner_server import FakePartner, running
from troubleticket.bootstrap import Runtime, runtime
from troubleticket.config import Settings
from troubleticket.context import NO_CONTEXT
from troubleticket.domain import partner_report
from troubleticket.notify.delivery import Outcome
from troubleticket.partners.gateway import PartnerGateway
from troubleticket.store.port import Collection, ListQuery, Store
from troubleticket.types import JSON

BASE_URL = "https://tt.example.com"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PARTNER_PARTY = {"@type": "PartyRef", "@referredType": "Organization", "id": "org-fibreco"}
OPERATOR_PARTY = {
    "role": "originator",
    "partyOrPartyRole": {"@type": "PartyRef", "id": "org-operator"},
}
TICKET = {
    "@type": "TroubleTicket",
    "name": "No sync",
    "description": "No sync on the DSL line",
    "severity": "Major",
    "ticketType": "incident",
    "status": "inProgress",
}
REPAIR = {
    "@type": "RecoveryActivity",
    "activityType": "partnerRepair",
    "name": "Replace the splitter",
    "assignee": {
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "role": "partner",
        "partyOrPartyRole": PARTNER_PARTY,
    },
}


@dataclass(frozen=True)
class Report:
    """A partner repair of ours: the ticket and the activity that carries the report."""

    ticket_id: str
    activity_id: str

    @property
    def correlation(self) -> str:
        return f"{self.ticket_id}/{self.activity_id}"


@dataclass
class Operator:
    """Our side: the services the runtime built, and the partner they talk to."""

    run: Runtime
    partner: FakePartner
    clock: FrozenClock

    @property
    def store(self) -> Store:
        return self.run.store

    @property
    def gateway(self) -> PartnerGateway:
        assert self.run.gateway is not None
        return self.run.gateway

    def report(self, ticket: JSON | None = None, **activity: Any) -> Report:
        """A new ticket with a partner repair assigned to FibreCo."""
        ticket_id = self.run.tickets.create(ticket or TICKET, context=NO_CONTEXT).doc["id"]
        created = self.run.activities.create(ticket_id, {**REPAIR, **activity}, context=NO_CONTEXT)
        return Report(ticket_id, created["id"])

    def ticket(self, report: Report) -> JSON:
        return self.run.tickets.read(report.ticket_id, context=NO_CONTEXT).doc

    def activity(self, report: Report) -> JSON:
        return self.run.activities.get(report.ticket_id, report.activity_id, context=NO_CONTEXT)

    def state(self, report: Report) -> str:
        state: str = self.activity(report)["partnerReport"]["state"]
        return state

    def change(self, report: Report, **changes: Any) -> JSON:
        """A coordinator's change of the activity."""
        return self.run.activities.patch(
            report.ticket_id,
            report.activity_id,
            {"@type": "RecoveryActivity", **changes},
            context=NO_CONTEXT,
        )

    def change_ticket(self, report: Report, **changes: Any) -> JSON:
        patched = self.run.tickets.patch(
            report.ticket_id, {"@type": "TroubleTicket", **changes}, context=NO_CONTEXT
        )
        return patched.doc

    def requests(self, kind: str, report: Report) -> list[JSON]:
        """The requests of ``kind`` the report's changes recorded, oldest first."""
        self.store.relay_events()
        events = self.store.list(Collection.EVENT, ListQuery(limit=1000)).items
        return [
            e
            for e in events
            if e["eventType"] == kind
            and e["body"]["event"]["recoveryActivity"] == report.activity_id
            and e["body"]["event"]["troubleTicket"] == report.ticket_id
        ]

    def perform(self, kind: str, report: Report) -> Outcome:
        """Carry out the latest request of ``kind`` for the report, as the dispatcher would."""
        recorded = self.requests(kind, report)
        assert recorded, f"no {kind} was recorded for {report}"
        event = recorded[-1]
        assert event["target"].endswith(":fibreco")
        return self.gateway({"id": f"delivery-of-{event['id']}"}, event)


def a_note(text: str, minute: int = 30, **more: Any) -> dict[str, Any]:
    return {
        "@type": "Note",
        "author": "desk",
        "date": f"2026-11-20T08:{minute:02d}:00Z",
        "text": text,
        **more,
    }


def opened(operator: Operator, **activity: Any) -> Report:
    """A report the partner has: its ticket FC-1 made, the report open; requests forgotten."""
    report = operator.report(**activity)
    assert operator.perform(partner_report.CREATE, report) == Outcome(201)
    operator.partner.clear()
    return report


def partners_file(directory: Path, partner: FakePartner, **fibreco: Any) -> Path:
    """A registry with FibreCo at ``partner``, with ``fibreco``'s keys over the defaults."""
    spec = {
        "name": "FibreCo",
        "baseUrl": partner.base_url,
        "party": PARTNER_PARTY,
        "events": {"subscribe": True, "secretEnv": "FIBRECO_HUB_SECRET"},
        "poll": {"interval": "30s", "after": "5m"},
        **fibreco,
    }
    path = directory / "partners.yaml"
    path.write_text(
        yaml.safe_dump(
            {"self": {"id": "operator-1", "party": OPERATOR_PARTY}, "partners": {"fibreco": spec}}
        )
    )
    return path


@pytest.fixture
def partner() -> Iterator[FakePartner]:
    with running() as fake:
        yield fake


@pytest.fixture
def operator_with(
    store: Store, clock: FrozenClock, partner: FakePartner, tmp_path: Path
) -> Iterator[Callable[..., Operator]]:
    """Makes our side with FibreCo configured as the keyword arguments say (registry keys)."""
    made: list[Operator] = []

    def make(**fibreco: Any) -> Operator:
        settings = Settings(
            store="unused",
            base_url=BASE_URL,
            dispatch="off",
            partners=str(partners_file(tmp_path, partner, **fibreco)),
            egress_allow=LOCAL_NETWORKS,
        )
        run = runtime(
            settings,
            store,
            clock=clock,
            new_id=SequentialIds("tt"),
            new_activity_id=SequentialIds("ra"),
            environ={"FIBRECO_HUB_SECRET": SECRET},
        )
        made.append(Operator(run, partner, clock))
        return made[-1]

    yield make
    for operator in made:
        client = operator.gateway.client("fibreco")
        assert client is not None
        client._session().close()


@pytest.fixture
def operator(operator_with: Callable[..., Operator]) -> Operator:
    """Our side with FibreCo as the e2e tests have it: subscribed, its events signed."""
    return operator_with()
