"""A real server with ``TT_AUTH=jwt``: tokens of a test issuer (keys made here, JWKS in a file),
two partners that never see each other's tickets or events, and callbacks at internal
addresses refused, as a client over HTTP meets them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.e2e.conftest import ServerFactory
from tests.e2e.listener import Listener
from tests.tokens import Issuer

SCOPES = ["troubleTicket:read", "troubleTicket:write", "hub:manage"]
TICKET = {
    "@type": "TroubleTicket",
    "description": "No dial tone",
    "severity": "Minor",
    "ticketType": "incident",
}


def jwt_env(issuer: Issuer) -> dict[str, str]:
    return {
        "TT_AUTH": "jwt",
        "TT_JWKS": str(issuer.jwks_path),
        "TT_JWT_ISSUER": issuer.issuer,
        "TT_JWT_AUDIENCE": issuer.audience,
        "TT_DISPATCH_INTERVAL": "100ms",
    }


def test_tokens_partners_and_callbacks_over_http(
    server_factory: ServerFactory, listener: Listener, tmp_path: Path
) -> None:
    issuer = Issuer.create(tmp_path)
    api = server_factory.serve(env=jwt_env(issuer)).base
    alpha = issuer.bearer("svc-alpha", scopes=SCOPES, party_id="org-alpha")
    beta = issuer.bearer("svc-beta", scopes=SCOPES, party_id="org-beta")

    def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> requests.Response:
        return requests.post(f"{api}{path}", json=body, headers=headers, timeout=5)

    anonymous = requests.get(f"{api}/troubleTicket", timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="troubleticket"'
    assert anonymous.json()["code"] == "unauthorized"
    assert anonymous.json()["requestId"] == anonymous.headers["X-Request-ID"]

    internal = {"@type": "Hub", "callback": "http://169.254.169.254/latest/meta-data/"}
    refused = post("/hub", internal, alpha)
    assert refused.status_code == 400 and refused.json()["code"] == "callbackNotAllowed"
    assert post("/hub", {"@type": "Hub", "callback": f"{listener.url}/alpha"}, alpha).ok
    assert post("/hub", {"@type": "Hub", "callback": f"{listener.url}/beta"}, beta).ok

    mine = post("/troubleTicket", TICKET, alpha).json()
    theirs = post("/troubleTicket", TICKET, beta).json()

    own = requests.get(f"{api}/troubleTicket", headers=alpha, timeout=5)
    assert [t["id"] for t in own.json()] == [mine["id"]]
    assert own.headers["X-Total-Count"] == "1"
    other = requests.get(f"{api}/troubleTicket/{theirs['id']}", headers=alpha, timeout=5)
    assert other.status_code == 404
    listener.wait_count(2)
    received = listener.wait_quiet(0.5)
    assert sorted((call.path, call.resource["id"]) for call in received) == sorted(
        [("/alpha", mine["id"]), ("/beta", theirs["id"])]
    )
