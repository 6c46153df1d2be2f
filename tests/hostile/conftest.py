"""Real servers for the hostile-input suite, one per setting, shared by the whole package.

* ``quickstart``: ``TT_AUTH=none``; the corpus runs there.
* ``secured``: ``TT_AUTH=jwt``; the corpus runs there too, as the operator and as partners.
* ``tenants``: ``TT_AUTH=jwt`` with a partner directory, and tickets, activities, hubs and
  deliveries of the operator and of two partners (org-alpha, org-beta); the isolation, claim
  and planting tests use it.

Every request goes through a ``Deployment``, which keeps every answer; ``test_health.py`` checks
them (and the server's memory, log and liveness) after every other test of the package, which
``pytest_collection_modifyitems`` below arranges.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import ServerFactory
from tests.e2e.listener import Listener
from tests.hostile.client import Deployment
from tests.tokens import Issuer

HERE = Path(__file__).parent
HEALTH_FILE = HERE / "test_health.py"

ALL_SCOPES = [
    "troubleTicket:read",
    "troubleTicket:write",
    "troubleTicket:admin",
    "activity:write",
    "hub:manage",
]
PARTIES = {"alpha": "org-alpha", "beta": "org-beta"}
TOKEN_LIFETIME_S = 3600
PARTNER_ID = "fibreco"
DEAD_CALLBACK = "http://127.0.0.1:9/cb"  # nothing listens on the discard port
SETTLE_S = 5.0

TICKET: dict[str, Any] = {
    "@type": "TroubleTicket",
    "description": "No dial tone",
    "severity": "Minor",
    "ticketType": "incident",
}
ACTIVITY: dict[str, Any] = {
    "@type": "RecoveryActivity",
    "name": "Replace ONT",
    "activityType": "dispatchTechnician",
}


def assigned_to(party: str) -> dict[str, Any]:
    """An activity assigned to ``party``: a partner sees it across tickets and by id alone."""
    return {
        **ACTIVITY,
        "assignee": {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "partner",
            "partyOrPartyRole": {"@type": "PartyRef", "id": party},
        },
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the health checks right after the last other test of this package."""
    health = [item for item in items if item.path == HEALTH_FILE]
    if not health:
        return
    rest = [item for item in items if item.path != HEALTH_FILE]
    ours = [n for n, item in enumerate(rest) if HERE in item.path.parents]
    cut = (ours[-1] + 1) if ours else len(rest)
    items[:] = rest[:cut] + health + rest[cut:]


@pytest.fixture(scope="package")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="package")
def factory(hostile_dir: Path) -> Iterator[ServerFactory]:
    servers = ServerFactory(hostile_dir)
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture(scope="package")
def issuer(hostile_dir: Path) -> Issuer:
    return Issuer.create(hostile_dir)


def token_headers(issuer: Issuer, subject: str, **claims: Any) -> dict[str, str]:
    expires = int(time.time()) + TOKEN_LIFETIME_S
    return issuer.bearer(subject, scopes=ALL_SCOPES, exp=expires, **claims)


def jwt_env(issuer: Issuer) -> dict[str, str]:
    return {
        "TT_AUTH": "jwt",
        "TT_JWKS": str(issuer.jwks_path),
        "TT_JWT_ISSUER": issuer.issuer,
        "TT_JWT_AUDIENCE": issuer.audience,
        "TT_DISPATCH_INTERVAL": "100ms",
    }


def deploy(
    factory: ServerFactory,
    name: str,
    auth: str,
    env: dict[str, str],
    issuer: Issuer,
    *,
    capped: bool = False,
) -> Deployment:
    """A running server with the suite's identities. ``capped``: the corpus runs there, whose
    patch bombs may make a server allocate without bound (see ``Deployment.cap_memory``)."""
    if capped:
        # glibc reserves 64 MB of address space per thread arena: keep new threads from using
        # up the cap's head room
        env = {**env, "MALLOC_ARENA_MAX": "2"}
    process = factory.serve(env=env)
    deployment = Deployment(name=name, auth=auth, process=process)
    operator = token_headers(issuer, "svc-desk")
    deployment.identity("operator", lambda: operator)
    for name_, party in PARTIES.items():
        headers = token_headers(issuer, f"svc-{name_}", party_id=party)
        deployment.identity(name_, lambda headers=headers: headers)  # type: ignore[misc]
    if capped:
        deployment.cap_memory()
    deployment.start_measuring()
    return deployment


@dataclass
class CorpusServer:
    deployment: Deployment
    ids: dict[str, str] = field(default_factory=dict)


def corpus_server(deployment: Deployment) -> CorpusServer:
    """The server with what the corpus's placeholders name: tickets (some with an integer
    attribute ``x`` to sort on), an activity and a hub."""
    for x in (3, -2, 40):
        deployment.created("/troubleTicket", {**TICKET, "x": x})
    ticket = deployment.created("/troubleTicket", TICKET)
    alpha_ticket = deployment.created("/troubleTicket", {**TICKET, "x": 1}, identity="alpha")
    activity = deployment.created(f"/troubleTicket/{ticket['id']}/recoveryActivity", ACTIVITY)
    hub = deployment.created("/hub", {"@type": "Hub", "callback": DEAD_CALLBACK})
    return CorpusServer(
        deployment,
        {
            "ticket": ticket["id"],
            "alpha_ticket": alpha_ticket["id"],
            "activity": activity["id"],
            "hub": hub["id"],
        },
    )


@pytest.fixture(scope="package")
def quickstart(factory: ServerFactory, issuer: Issuer) -> CorpusServer:
    return corpus_server(deploy(factory, "quickstart", "none", {}, issuer, capped=True))


@pytest.fixture(scope="package")
def secured(factory: ServerFactory, issuer: Issuer) -> CorpusServer:
    return corpus_server(deploy(factory, "secured", "jwt", jwt_env(issuer), issuer, capped=True))


@dataclass
class Owned:
    """What one party (or the operator) owns on the tenants server."""

    ticket: str
    ticket_activity: str  # on ``ticket``
    hub: str
    extra_tickets: list[str] = field(default_factory=list)


@dataclass
class Tenants:
    deployment: Deployment
    issuer: Issuer
    owned: dict[str, Owned]  # operator, alpha, beta
    specification: str
    partner: str
    callback: str  # for alpha's hubs

    def foreign_ids(self, viewer: str) -> set[str]:
        """The ids of tickets, activities and hubs that ``viewer`` does not own."""
        return {
            resource_id
            for owner, owned in self.owned.items()
            if owner != viewer
            for resource_id in (
                owned.ticket,
                owned.ticket_activity,
                owned.hub,
                *owned.extra_tickets,
            )
        }


def partners_file(directory: Path) -> Path:
    path = directory / "partners.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "partners": {
                    PARTNER_ID: {
                        "name": "FibreCo",
                        "baseUrl": "http://127.0.0.1:9/tmf-api/troubleTicket/v5",
                        "party": {"@type": "PartyRef", "id": "org-fibreco"},
                        "events": {"subscribe": False},
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    return path


def settle_deliveries(deployment: Deployment, hubs: list[str]) -> None:
    """Wait until the events of the setup have become deliveries of ``hubs``, delivered."""
    deadline = time.monotonic() + SETTLE_S
    last: list[str | None] = []
    while time.monotonic() < deadline:
        counts = [
            deployment.send("GET", f"/hub/{hub}/delivery?limit=0").headers.get("x-total-count")
            for hub in hubs
        ]
        pending = [
            deployment.send("GET", f"/hub/{hub}/delivery?limit=0&state=pending").headers.get(
                "x-total-count"
            )
            for hub in hubs
        ]
        settled = all(count not in (None, "0") for count in counts)
        if counts == last and settled and all(count == "0" for count in pending):
            return
        last = counts
        time.sleep(0.2)


@pytest.fixture(scope="package")
def subscriber() -> Iterator[Listener]:
    """Where the tenants' hubs point: their deliveries are delivered, so they may be replayed."""
    running = Listener().start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="package")
def tenants(
    factory: ServerFactory, issuer: Issuer, hostile_dir: Path, subscriber: Listener
) -> Tenants:
    env = {**jwt_env(issuer), "TT_PARTNERS": str(partners_file(hostile_dir))}
    deployment = deploy(factory, "tenants", "jwt", env, issuer)
    owned: dict[str, Owned] = {}
    for owner in ("operator", "beta", "alpha"):
        hub = deployment.created(
            "/hub", {"@type": "Hub", "callback": f"{subscriber.url}/{owner}"}, identity=owner
        )
        ticket = deployment.created(
            "/troubleTicket", {**TICKET, "description": f"{owner}'s line"}, identity=owner
        )
        activity = deployment.created(
            f"/troubleTicket/{ticket['id']}/recoveryActivity",
            assigned_to(PARTIES[owner]) if owner in PARTIES else ACTIVITY,
            identity=owner,
        )
        extra = deployment.created("/troubleTicket", TICKET, identity=owner)
        owned[owner] = Owned(ticket["id"], activity["id"], hub["id"], [extra["id"]])
    specification = deployment.created(
        "/troubleTicketSpecification",
        {"@type": "TroubleTicketSpecification", "name": "Line fault", "description": "DSL"},
    )
    settle_deliveries(deployment, [owned["beta"].hub, owned["operator"].hub])
    return Tenants(
        deployment, issuer, owned, specification["id"], PARTNER_ID, f"{subscriber.url}/alpha"
    )
