"""A partner may not plant a ticket on another party, nor drop itself from its own (TT_AUTH=jwt).

org-alpha naming org-beta as a related party — on create, in a merge patch that replaces the
array, or in a JSON Patch that adds to it — is 403 relatedPartyNotAllowed, as is alpha removing
itself from its own ticket, or assigning a recovery activity of its own ticket to org-beta.
Nothing of it is stored: beta's list shows none of alpha's tickets or activities, and alpha still
sees its own, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.hostile.client import Answer, error_code, tmf_error_problems
from tests.hostile.conftest import TICKET, Tenants, assigned_to

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
BETA = {
    "@type": "RelatedPartyRefOrPartyRoleRef",
    "role": "customer",
    "partyOrPartyRole": {"@type": "PartyRef", "id": "org-beta"},
}


def refusal_problems(answer: Answer) -> list[str]:
    problems = []
    if answer.status != 403 or error_code(answer) != "relatedPartyNotAllowed":
        problems.append(f"expected 403 relatedPartyNotAllowed: {answer.describe()}")
    return problems + tmf_error_problems(answer)


def alphas_index(ticket: dict[str, Any]) -> int:
    parties = ticket.get("relatedParty") or []
    for index, party in enumerate(parties):
        if (party.get("partyOrPartyRole") or {}).get("id") == "org-alpha":
            return index
    pytest.fail(f"alpha's ticket does not name org-alpha: {parties}", pytrace=False)


Patch = Callable[[dict[str, Any]], tuple[Any, str]]

PATCHES: dict[str, Patch] = {
    "merge patch replacing relatedParty with org-beta": lambda _own: (
        {"@type": "TroubleTicket", "relatedParty": [BETA]},
        MERGE,
    ),
    "merge patch adding org-beta beside alpha": lambda own: (
        {"@type": "TroubleTicket", "relatedParty": [*own.get("relatedParty", []), BETA]},
        MERGE,
    ),
    "JSON Patch adding org-beta": lambda _own: (
        [{"op": "add", "path": "/relatedParty/-", "value": BETA}],
        JSON_PATCH,
    ),
    "JSON Patch replacing alpha by org-beta": lambda own: (
        [{"op": "replace", "path": f"/relatedParty/{alphas_index(own)}", "value": BETA}],
        JSON_PATCH,
    ),
    "merge patch emptying relatedParty": lambda _own: (
        {"@type": "TroubleTicket", "relatedParty": []},
        MERGE,
    ),
    "merge patch removing relatedParty": lambda _own: (
        {"@type": "TroubleTicket", "relatedParty": None},
        MERGE,
    ),
    "JSON Patch removing alpha": lambda own: (
        [{"op": "remove", "path": f"/relatedParty/{alphas_index(own)}"}],
        JSON_PATCH,
    ),
}


@pytest.fixture(scope="module")
def alphas_tickets() -> list[str]:
    """Every ticket alpha created in this module (whatever became of it)."""
    return []


def test_create_naming_another_party(tenants: Tenants, alphas_tickets: list[str]) -> None:
    planted = tenants.deployment.call(
        "POST",
        "/troubleTicket",
        {**TICKET, "description": "planted on beta", "relatedParty": [BETA]},
        identity="alpha",
    )
    if planted.status == 201:
        alphas_tickets.append(planted.json()["id"])
    problems = refusal_problems(planted)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.mark.parametrize("name", list(PATCHES), ids=list(PATCHES))
def test_patch_naming_another_party_or_dropping_itself(
    name: str, tenants: Tenants, alphas_tickets: list[str]
) -> None:
    deployment = tenants.deployment
    own = deployment.created("/troubleTicket", TICKET, identity="alpha")
    alphas_tickets.append(own["id"])
    path = f"/troubleTicket/{own['id']}"
    version = deployment.send("GET", path, identity="alpha").headers.get("etag")
    body, media_type = PATCHES[name](own)
    answer = deployment.call("PATCH", path, body, identity="alpha", content_type=media_type)
    problems = refusal_problems(answer)
    after = deployment.send("GET", path, identity="alpha")
    if after.status != 200:
        problems.append(f"alpha lost its own ticket: {after.describe()}")
    elif after.headers.get("etag") != version:
        problems.append(
            f"alpha's ticket changed ({version} → {after.headers.get('etag')}): "
            f"relatedParty {after.json().get('relatedParty')}"
        )
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_beta_sees_none_of_alphas_and_alpha_keeps_its_own(
    tenants: Tenants, alphas_tickets: list[str]
) -> None:
    deployment = tenants.deployment
    assert alphas_tickets, "the tests above created tickets as alpha"
    betas = deployment.send("GET", "/troubleTicket?limit=1000&fields=id", identity="beta")
    seen = sorted(set(alphas_tickets) & {item["id"] for item in betas.json()})
    alphas = deployment.send("GET", "/troubleTicket?limit=1000&fields=id", identity="alpha")
    lost = sorted(set(alphas_tickets) - {item["id"] for item in alphas.json()})
    problems = []
    if seen:
        problems.append(f"beta's list shows {len(seen)} of alpha's tickets: {seen}")
    if lost:
        problems.append(f"alpha's list no longer shows {len(lost)} of its tickets: {lost}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_an_activity_assigned_to_another_party(tenants: Tenants) -> None:
    deployment = tenants.deployment
    own = deployment.created("/troubleTicket", TICKET, identity="alpha")
    work = f"/troubleTicket/{own['id']}/recoveryActivity"
    planted = deployment.call("POST", work, assigned_to("org-beta"), identity="alpha")
    mine = deployment.created(work, assigned_to("org-alpha"), identity="alpha")
    moved = deployment.call(
        "PATCH",
        f"{work}/{mine['id']}",
        {"@type": "RecoveryActivity", "assignee": assigned_to("org-beta")["assignee"]},
        identity="alpha",
        content_type=MERGE,
    )
    across = deployment.send("GET", "/recoveryActivity?limit=1000&fields=id", identity="beta")
    problems = refusal_problems(planted) + refusal_problems(moved)
    seen = {item["id"] for item in across.json()} & {mine["id"]}
    if seen:
        problems.append(f"beta sees alpha's activity {sorted(seen)}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
