"""Reads by id answered beside Connexion (api/fast_reads.py) answer exactly as Connexion does.

Every request below is sent to two apps on the same store: one with the fast path, one without.
Status, headers (but the request id and date) and body must be byte for byte the same, and the
fast path must really have answered the requests it is meant to take.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from tests.api.assertions import BASE_URL, created
from tests.builders import SPECIFICATIONS, TICKETS, a_specification, a_ticket
from tests.conftest import FrozenClock
from troubleticket.api.contract import load_spec
from troubleticket.api.fast_reads import refuses_nothing
from troubleticket.api.resources import ResourceHandlers
from troubleticket.app import create_app
from troubleticket.config import Settings
from troubleticket.store.port import Store

ALPHA_PARTY = {"@type": "PartyRef", "@referredType": "Organization", "id": "org-alpha"}
BETA_PARTY = {"@type": "PartyRef", "@referredType": "Organization", "id": "org-beta"}


def partner(party: dict[str, Any]) -> dict[str, Any]:
    return {
        "baseUrl": "https://partner.example.com/tmf-api/troubleTicket/v5",
        "party": party,
        "events": {"subscribe": False},
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
        trusted_gateway=True,
    )


@pytest.fixture
def clients(
    settings: Settings, clock: FrozenClock, store: Store, connexion_calls: list[str]
) -> Iterator[tuple[TestClient, TestClient]]:
    # (connexion_calls: the handler is counted before the apps take it)
    fast = create_app(settings, store=store, clock=clock)
    slow = create_app(settings, store=store, clock=clock, fast_reads=False)
    with fast.test_client() as fast_client, slow.test_client() as slow_client:
        yield fast_client, slow_client


@pytest.fixture
def connexion_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ids of the reads that went through Connexion's handler."""
    calls: list[str] = []
    through_connexion = ResourceHandlers.retrieve

    async def counted(self: ResourceHandlers, id_: str, fields: str | None = None) -> Any:
        calls.append(id_)
        return await through_connexion(self, id_, fields)

    monkeypatch.setattr(ResourceHandlers, "retrieve", counted)
    return calls


# one request id for both apps, so that error bodies, which name it, can be compared too
SAME_ID = {"X-Request-ID": "compare-1"}


def compared(response: Any) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k != "date"}
    return response.status_code, headers, response.content


def test_the_fast_path_is_taken_for_plain_reads_and_answers_as_connexion_does(
    clients: tuple[TestClient, TestClient], connexion_calls: list[str]
) -> None:
    fast, slow = clients
    ticket = created(slow, TICKETS, a_ticket(relatedParty=[]))
    spec = created(slow, SPECIFICATIONS, a_specification())
    url = f"{TICKETS}/{ticket['id']}"
    etag = slow.get(url).headers["ETag"]
    connexion_calls.clear()

    taken: list[tuple[str, dict[str, str]]] = [
        (url, {}),
        (f"{url}?fields=status,severity", {}),
        (f"{url}?fields=none", {}),
        (f"{url}?fields=relatedParty.role,id", {}),
        (f"{url}?fields=noSuchAttribute", {}),
        (f"{url}/", {}),  # the trailing slash is dropped before either path
        (url, {"If-None-Match": etag}),
        (url, {"If-None-Match": '"999"'}),
        (url, {"If-None-Match": "*"}),
        (f"{TICKETS}/no-such-ticket", {}),
        (f"{TICKETS}/%C3%A9t%C3%A9%20x", {}),
        (f"{SPECIFICATIONS}/{spec['id']}", {}),
        (f"{SPECIFICATIONS}/nope", {}),
        (url, {"X-TT-Partner": "beta"}),  # not its ticket: 404
        (url, {"X-TT-Partner": "nobody"}),  # no such partner: 403
        (url, {"X-TT-Role": "supervisor", "X-TT-Actor": "ann"}),
        (url, {"Accept": "application/xml"}),
    ]
    for path, headers in taken:
        headers = {**headers, **SAME_ID}
        assert compared(fast.get(path, headers=headers)) == compared(
            slow.get(path, headers=headers)
        ), (path, headers)
    # the fast app answered all of them itself; the other app went through Connexion each time
    assert len(connexion_calls) == len(taken)

    connexion_calls.clear()
    passed_on = [
        f"{url}?fields=",
        f"{url}?fields=status&fields=severity",
        f"{url}?status=acknowledged",
        f"{url}?limit=1",
        f"{TICKETS}/{ticket['id']}/auditRecord",
        f"{TICKETS}/{ticket['id']}/recoveryActivity",
    ]
    for path in passed_on:
        assert compared(fast.get(path, headers=SAME_ID)) == compared(
            slow.get(path, headers=SAME_ID)
        ), path
    # these went through Connexion in both apps (the id reads among them)
    assert connexion_calls.count(ticket["id"]) == 2 * 4


def test_other_methods_on_the_same_path_go_through_connexion(
    clients: tuple[TestClient, TestClient],
) -> None:
    fast, slow = clients
    ticket = created(slow, TICKETS, a_ticket())
    url = f"{TICKETS}/{ticket['id']}"
    for method in ("HEAD", "OPTIONS", "PUT"):
        assert compared(fast.request(method, url, headers=SAME_ID)) == compared(
            slow.request(method, url, headers=SAME_ID)
        ), method


def test_the_fast_path_is_off_for_an_operation_the_contract_constrains() -> None:
    spec = load_spec()
    assert refuses_nothing(spec, "/troubleTicket/{id}")
    assert refuses_nothing(spec, "/troubleTicketSpecification/{id}")
    assert not refuses_nothing(spec, "/troubleTicket")  # a list: integer limit and offset
    assert not refuses_nothing(spec, "/no/such/{id}")

    # (load_spec gives the one parsed contract every app is built from: changed on copies)
    constrained = copy.deepcopy(load_spec())
    constrained["paths"]["/troubleTicket/{id}"]["get"]["parameters"].append(
        {"name": "depth", "in": "query", "schema": {"type": "integer"}}
    )
    assert not refuses_nothing(constrained, "/troubleTicket/{id}")
    secured = copy.deepcopy(load_spec())
    secured["paths"]["/troubleTicket/{id}"]["get"]["security"] = [{"oauth2": ["read"]}]
    assert not refuses_nothing(secured, "/troubleTicket/{id}")
