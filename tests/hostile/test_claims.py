"""Tokens whose claims are not what they should be (TT_AUTH=jwt).

A party claim that is not a party id — empty, a list of two, a number, an object, a boolean —
must not make the caller the operator (who has no party claim): 401 unauthorized. A one-item
list, as identity providers' multivalued mappers write it, is that party. A token whose ``exp``
is not a number is 401. A 401 does not echo the key id the token names.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.hostile.client import error_code, tmf_error_problems
from tests.hostile.conftest import ALL_SCOPES, Tenants

NOT_A_PARTY: dict[str, Any] = {
    "empty string": "",
    "two-item list": ["org-beta", "org-alpha"],
    "number": 12345,
    "object": {"id": "org-beta"},
    "true": True,
    "empty list": [],
}
SECRET_KID = "kid-secret-xyz"


def token(tenants: Tenants, **claims: Any) -> dict[str, str]:
    expires = int(time.time()) + 600
    return tenants.issuer.bearer("svc-odd", scopes=ALL_SCOPES, **{"exp": expires, **claims})


def listed_ids(tenants: Tenants, headers: dict[str, str]) -> tuple[int, set[str]]:
    answer = tenants.deployment.send(
        "GET", "/troubleTicket?limit=1000&fields=id", identity="anonymous", headers=headers
    )
    if answer.status != 200:
        return answer.status, set()
    return answer.status, {item["id"] for item in answer.json()}


@pytest.mark.parametrize("claim", list(NOT_A_PARTY), ids=list(NOT_A_PARTY))
def test_a_party_claim_that_is_not_a_party_is_refused(claim: str, tenants: Tenants) -> None:
    answer = tenants.deployment.send(
        "GET",
        "/troubleTicket?limit=1000&fields=id",
        identity="anonymous",
        headers=token(tenants, party_id=NOT_A_PARTY[claim]),
    )
    problems = tmf_error_problems(answer)
    if answer.status != 401 or error_code(answer) != "unauthorized":
        shown = len(answer.json()) if answer.status == 200 else None
        problems.append(
            f"expected 401 unauthorized, got {answer.status}"
            + (f" listing {shown} tickets (the operator's view)" if shown is not None else "")
        )
    if problems:
        pytest.fail(f"{answer.describe()}\n" + "\n".join(problems), pytrace=False)


def test_a_one_item_list_is_that_party(tenants: Tenants) -> None:
    status, as_list = listed_ids(tenants, token(tenants, party_id=["org-beta"]))
    _, as_beta = listed_ids(tenants, tenants.deployment.headers_of("beta"))
    assert status == 200, f"party_id ['org-beta'] got {status}"
    assert as_beta, "beta has tickets to list"
    assert as_list == as_beta, (
        f"party_id ['org-beta'] lists {len(as_list)} tickets, beta's token {len(as_beta)}; "
        f"not beta's: {sorted(as_list - as_beta)[:5]}"
    )


def test_an_expiry_that_is_not_a_number_is_refused(tenants: Tenants) -> None:
    answer = tenants.deployment.send(
        "GET",
        "/troubleTicket",
        identity="anonymous",
        headers=token(tenants, exp="9999999999", party_id="org-beta"),
    )
    problems = tmf_error_problems(answer)
    if answer.status != 401 or error_code(answer) != "unauthorized":
        problems.append("expected 401 unauthorized")
    if problems:
        pytest.fail(f"{answer.describe()}\n" + "\n".join(problems), pytrace=False)


def test_a_401_does_not_echo_the_key_id(tenants: Tenants) -> None:
    issuer = tenants.issuer
    forged = issuer.token(
        "svc-odd",
        scopes=ALL_SCOPES,
        kid=SECRET_KID,
        key=issuer.keys["rsa-1"],
        exp=int(time.time()) + 600,
    )
    answer = tenants.deployment.send(
        "GET",
        "/troubleTicket",
        identity="anonymous",
        headers={"Authorization": f"Bearer {forged}"},
    )
    problems = tmf_error_problems(answer)
    if answer.status != 401:
        problems.append("expected 401")
    if SECRET_KID in answer.text:
        problems.append(f"the body names the key id: {answer.excerpt()}")
    challenge = answer.headers.get("www-authenticate", "")
    if SECRET_KID in challenge:
        problems.append(f"WWW-Authenticate names the key id: {challenge}")
    if problems:
        pytest.fail(f"{answer.describe()}\n" + "\n".join(problems), pytrace=False)
