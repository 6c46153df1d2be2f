"""Bearer tokens over HTTP (``TT_AUTH=jwt``): who may call what, and who the caller is.

Every operation but the listeners needs a valid token (401 without one) granting its scope (403
without it), each failure a TMF Error with an RFC 6750 ``WWW-Authenticate`` challenge. The served
contract says so. The caller is the token's subject, its roles the token's roles and scopes; the
``X-TT-*`` headers count only behind a trusted gateway.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
import pytest
import yaml
from openapi_spec_validator import validate

from tests.api.assertions import BASE_URL, MERGE_PATCH, assert_tmf_error, patch
from tests.builders import API, TICKETS, a_specification, a_ticket
from tests.conftest import LOCAL_NETWORKS, FrozenClock
from tests.tokens import ISSUER, Issuer, ec_key, rsa_key
from troubleticket.api.contract import SPEC_NAME, V4_API_ROOT, V4_SPEC_NAME, load_spec
from troubleticket.api.security import (
    ACTIVITIES,
    ADMIN,
    HUBS,
    OPERATION_SCOPES,
    READ,
    SCOPES,
    WRITE,
)
from troubleticket.app import create_app
from troubleticket.config import ConfigError, Settings
from troubleticket.store.port import Store
from troubleticket.store.sqlite import SqliteStore

if TYPE_CHECKING:
    import httpx
    from connexion import AsyncApp
    from starlette.testclient import TestClient

REALM = 'Bearer realm="troubleticket"'
INVALID_TOKEN = f'{REALM}, error="invalid_token"'
MISSING = "no-such-id"
OVERRIDE = {"priority": "Critical", "priorityChangeReason": "A hospital is without service"}
NOC = {
    "@type": "RelatedPartyRefOrPartyRoleRef",
    "role": "assignee",
    "partyOrPartyRole": {"@type": "PartyRoleRef", "@referredType": "Team", "id": "noc"},
}


# -- the operations of the contract ----------------------------------------------------------

# A minimal valid body for each request body of the contract that is not an event.
BODIES: dict[str, dict[str, Any]] = {
    "Hub_FVO": {"@type": "Hub", "callback": "https://client.example/listener"},
    "EventReplay_FVO": {"@type": "EventReplay", "delivery": ["no-such-delivery"]},
    "TroubleTicket_FVO": a_ticket(),
    "TroubleTicket_MVO": {"@type": "TroubleTicket", "description": "Dial tone back"},
    "TroubleTicketSpecification_FVO": a_specification(),
    "TroubleTicketSpecification_MVO": {"@type": "TroubleTicketSpecification", "version": "1.1"},
    "RecoveryActivity_FVO": {"@type": "RecoveryActivity", "activityType": "diagnose"},
    "RecoveryActivity_MVO": {"@type": "RecoveryActivity", "progress": 10},
    # the v4 contract's
    "TroubleTicket_Create": {"description": "No dial tone", "severity": "Minor", "ticketType": "x"},
    "TroubleTicket_Update": {"description": "Dial tone back"},
    "EventSubscriptionInput": {"callback": "https://client.example/listener"},
}
_METHODS = ("get", "post", "patch", "put", "delete")


@dataclass(frozen=True)
class Operation:
    """One operation of the contract, as a concrete request on resources that do not exist."""

    operation_id: str
    method: str
    template: str
    root: str = API
    spec_name: str = SPEC_NAME

    @property
    def url(self) -> str:
        return self.root + re.sub(r"\{[^}]+\}", MISSING, self.template)

    @property
    def is_listener(self) -> bool:
        return self.template.startswith("/listener/")

    @property
    def body(self) -> dict[str, Any] | None:
        operation = load_spec(self.spec_name)["paths"][self.template][self.method]
        reference = operation.get("requestBody")
        if reference is None:
            return None
        if "$ref" not in reference:  # inline (the v4 contract's): the JSON body's schema
            reference = reference["content"]["application/json"]["schema"]
        name = str(reference.get("$ref", "")).rsplit("/", 1)[-1]
        if self.is_listener:  # an event of the listener's type
            return {"@type": name, "eventId": f"evt-{self.operation_id}", "eventType": name}
        return BODIES.get(name, {})

    def send(self, client: TestClient, headers: dict[str, str]) -> httpx.Response:
        body = self.body
        if body is None:
            return client.request(  # type: ignore[no-any-return]
                self.method.upper(), self.url, headers=headers
            )
        media = MERGE_PATCH if self.method == "patch" else "application/json"
        return client.request(  # type: ignore[no-any-return]
            self.method.upper(),
            self.url,
            content=json.dumps(body),
            headers={"content-type": media, **headers},
        )


OPERATIONS = [
    Operation(operation["operationId"], method, template)
    for template, path_item in load_spec()["paths"].items()
    for method, operation in path_item.items()
    if method in _METHODS
]
SECURED = [op for op in OPERATIONS if not op.is_listener]
LISTENERS = [op for op in OPERATIONS if op.is_listener]

# The v4 root's operations (from its contract) and the v5 operation each is, whose scope it needs.
V4_OPERATIONS = [
    Operation(operation["operationId"], method, template, V4_API_ROOT, V4_SPEC_NAME)
    for template, path_item in load_spec(V4_SPEC_NAME)["paths"].items()
    for method, operation in path_item.items()
    if method in _METHODS
]
V4_SECURED = [op for op in V4_OPERATIONS if not op.is_listener]
V4_LISTENERS = [op for op in V4_OPERATIONS if op.is_listener]
V4_TWINS = {
    "listTroubleTicket": "listTroubleTicket",
    "retrieveTroubleTicket": "retrieveTroubleTicket",
    "createTroubleTicket": "createTroubleTicket",
    "patchTroubleTicket": "patchTroubleTicket",
    "deleteTroubleTicket": "deleteTroubleTicket",
    "registerListener": "createHub",
    "unregisterListener": "hubDelete",
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ids(operations: list[Operation]) -> list[str]:
    return [op.operation_id for op in operations]


def v4_ids(operations: list[Operation]) -> list[str]:
    return [f"v4-{op.operation_id}" for op in operations]


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Issuer:
    return Issuer.create(tmp_path_factory.mktemp("issuer"))


def jwt_settings(issuer: Issuer, directory: Path, **changes: Any) -> Settings:
    settings = Settings(
        store=str(directory / "api.sqlite3"),
        base_url=BASE_URL,
        dispatch="off",
        egress_allow=LOCAL_NETWORKS,
    )
    return replace(issuer.settings(settings), **changes)


@pytest.fixture(scope="module")
def shared(issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app in jwt mode, on SQLite, for the tests that change nothing they look at."""
    directory = tmp_path_factory.mktemp("shared")
    app = create_app(
        jwt_settings(issuer, directory),
        store=SqliteStore(directory / "shared.sqlite3"),
        clock=FrozenClock(),
    )
    with app.test_client() as client:
        yield client


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, store: Store, issuer: Issuer) -> AsyncApp:
    """The app of the shared ``settings`` (overridden by classes) requiring ``issuer``'s tokens,
    on every store."""
    return create_app(issuer.settings(settings), store=store, clock=clock)


def write_policy(directory: Path, roles: list[str]) -> str:
    path = directory / "policy.yaml"
    path.write_text(yaml.safe_dump({"priority": {"override": {"roles": roles}}}))
    return str(path)


def a_ticket_by(client: TestClient, issuer: Issuer, **claims: Any) -> dict[str, Any]:
    response = client.post(
        TICKETS, json=a_ticket(), headers=issuer.bearer(scopes=[WRITE], **claims)
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def listed(client: TestClient, headers: dict[str, str]) -> list[str]:
    response = client.get(TICKETS, headers=headers)
    assert response.status_code == 200, response.text
    return [ticket["id"] for ticket in response.json()]


# -- 401: no valid token ---------------------------------------------------------------------

BAD_TOKENS: dict[str, Callable[[Issuer], str]] = {
    "expired": lambda i: i.token(scopes=[READ], exp=int(time.time()) - 3600),
    "another-issuer": lambda i: i.token(scopes=[READ], iss="https://sso.example.com/realms/x"),
    "another-audience": lambda i: i.token(scopes=[READ], aud="billing"),
    "alg-none": lambda i: jwt.encode(i.claims(scope=READ), "", algorithm="none"),
    "another-rsa-key": lambda i: i.token(scopes=[READ], kid="rsa-1", key=rsa_key()),
    "another-ec-key": lambda i: i.token(scopes=[READ], kid="ec-1", key=ec_key()),
    "unknown-kid": lambda i: i.token(scopes=[READ], kid="rsa-9", key=rsa_key()),
    "no-subject": lambda i: i.token(scopes=[READ], sub=None),
    "not-yet-valid": lambda i: i.token(scopes=[READ], nbf=int(time.time()) + 3600),
    "not-a-jwt": lambda _i: "abc.def.ghi",
}


class TestWithoutAValidToken:
    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Basic c3ZjOnNlY3JldA=="}, {"Authorization": "Basic x"}],
        ids=["no-header", "basic-credentials", "basic-x"],
    )
    def test_a_request_without_a_bearer_token_is_challenged_without_an_error_code(
        self, shared: TestClient, headers: dict[str, str]
    ) -> None:
        response = shared.get(TICKETS, headers=headers)

        assert_tmf_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == REALM

    @pytest.mark.parametrize("authorization", ["Bearer", "Bearer ", "Bearer  "])
    def test_a_bearer_header_without_a_token_is_401(
        self, shared: TestClient, authorization: str
    ) -> None:
        response = shared.get(TICKETS, headers={"Authorization": authorization})

        assert_tmf_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith(REALM)

    @pytest.mark.parametrize("bad", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
    def test_a_token_that_fails_is_401_invalid_token(
        self, shared: TestClient, issuer: Issuer, bad: Callable[[Issuer], str]
    ) -> None:
        token = bad(issuer)

        response = shared.get(TICKETS, headers={"Authorization": f"Bearer {token}"})

        body = assert_tmf_error(response, 401, "unauthorized")
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith(f"{INVALID_TOKEN}, error_description=")
        assert token not in challenge
        assert token not in body["message"]

    def test_the_challenge_says_why_the_token_failed(
        self, shared: TestClient, issuer: Issuer
    ) -> None:
        headers = issuer.bearer(scopes=[READ], exp=int(time.time()) - 3600)

        response = shared.get(TICKETS, headers=headers)

        assert "expired" in assert_tmf_error(response, 401, "unauthorized")["message"]
        assert 'error_description="the token has expired' in response.headers["WWW-Authenticate"]

    def test_the_answer_names_no_key_algorithm_or_issuer(
        self, shared: TestClient, issuer: Issuer
    ) -> None:
        token = issuer.token(scopes=[READ], kid="kid-secret-xyz", key=rsa_key())

        response = shared.get(TICKETS, headers={"Authorization": f"Bearer {token}"})

        body = assert_tmf_error(response, 401, "unauthorized")
        assert body["message"] == "the token is not valid"
        assert response.headers["WWW-Authenticate"] == (
            f'{INVALID_TOKEN}, error_description="the token is not valid"'
        )

    @pytest.mark.parametrize(
        "party",
        ["", ["org-beta", "org-alpha"], 12345, {"id": "org-beta"}],
        ids=["empty", "two", "number", "object"],
    )
    def test_a_party_claim_naming_no_single_party_gets_no_view_at_all(
        self, shared: TestClient, issuer: Issuer, party: Any
    ) -> None:
        headers = issuer.bearer(scopes=[READ], party_id=party)

        response = shared.get(TICKETS, headers=headers)

        assert_tmf_error(response, 401, "unauthorized")

    def test_a_token_is_checked_before_the_body(self, shared: TestClient) -> None:
        response = shared.post(TICKETS, json={"not": "a ticket"})

        assert_tmf_error(response, 401, "unauthorized")

    def test_a_token_whose_algorithm_does_not_fit_its_key_is_401(
        self, issuer: Issuer, tmp_path: Path
    ) -> None:
        token = jwt.encode(
            issuer.claims(scope=READ),
            issuer.keys["ec-1"],
            algorithm="ES256",
            headers={"kid": "rsa-1"},
        )
        app = create_app(
            jwt_settings(issuer, tmp_path),
            store=SqliteStore(":memory:"),
            clock=FrozenClock(),
        )

        with app.test_client(raise_server_exceptions=False) as client:
            response = client.get(TICKETS, headers={"Authorization": f"Bearer {token}"})

        assert_tmf_error(response, 401, "unauthorized")

    @pytest.mark.parametrize(
        "header", [{"kid": "\u20acuro"}, {"alg": "RS\u2460"}], ids=["kid", "alg"]
    )
    def test_a_token_header_with_non_latin1_text_is_401_with_an_ascii_challenge(
        self, issuer: Issuer, tmp_path: Path, header: dict[str, str]
    ) -> None:
        signed = issuer.token(scopes=[READ], kid="rsa-9", key=rsa_key())
        fields = {"alg": "RS256", "typ": "JWT", "kid": "rsa-9", **header}
        token = ".".join([b64url(json.dumps(fields).encode()), *signed.split(".")[1:]])
        app = create_app(
            jwt_settings(issuer, tmp_path), store=SqliteStore(":memory:"), clock=FrozenClock()
        )

        with app.test_client(raise_server_exceptions=False) as client:
            response = client.get(TICKETS, headers={"Authorization": f"Bearer {token}"})

        assert_tmf_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].isascii()

    def test_a_refused_request_creates_nothing(self, client: TestClient, issuer: Issuer) -> None:
        expired = issuer.bearer(scopes=[WRITE, READ], exp=int(time.time()) - 3600)
        read_only = issuer.bearer(scopes=[READ])

        assert client.post(TICKETS, json=a_ticket()).status_code == 401
        assert client.post(TICKETS, json=a_ticket(), headers=expired).status_code == 401
        assert client.post(TICKETS, json=a_ticket(), headers=read_only).status_code == 403

        response = client.get(TICKETS, headers=read_only)
        assert response.status_code == 200, response.text
        assert response.json() == []
        assert response.headers["X-Total-Count"] == "0"


# -- 403 and the scope of each operation -----------------------------------------------------


class TestScopes:
    def test_every_operation_but_the_listeners_has_a_scope(self) -> None:
        assert sorted(OPERATION_SCOPES) == sorted(ids(SECURED))
        assert set(OPERATION_SCOPES.values()) <= set(SCOPES)
        assert {ADMIN, READ, WRITE, HUBS, ACTIVITIES} == set(SCOPES)

    @pytest.mark.parametrize("operation", SECURED, ids=ids(SECURED))
    def test_a_token_with_every_other_scope_is_403_naming_the_one_needed(
        self, shared: TestClient, issuer: Issuer, operation: Operation
    ) -> None:
        needed = OPERATION_SCOPES[operation.operation_id]
        others = [scope for scope in SCOPES if scope != needed]

        response = operation.send(shared, issuer.bearer(scopes=others))

        assert_tmf_error(response, 403, "forbidden", mentions=(needed,))
        assert response.headers["WWW-Authenticate"] == (
            f'{REALM}, error="insufficient_scope", scope="{needed}"'
        )

    @pytest.mark.parametrize("operation", SECURED, ids=ids(SECURED))
    def test_a_token_with_only_the_scope_needed_gets_through(
        self, shared: TestClient, issuer: Issuer, operation: Operation
    ) -> None:
        needed = OPERATION_SCOPES[operation.operation_id]

        response = operation.send(shared, issuer.bearer(scopes=[needed]))

        assert response.status_code in (200, 201, 204, 400, 404), response.text
        if response.status_code in (400, 404):
            assert response.json()["code"] not in ("unauthorized", "forbidden"), response.text

    @pytest.mark.parametrize(
        "operation", SECURED + V4_SECURED, ids=ids(SECURED) + v4_ids(V4_SECURED)
    )
    def test_without_a_token_every_secured_operation_is_401(
        self, shared: TestClient, operation: Operation
    ) -> None:
        response = operation.send(shared, {})

        assert_tmf_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == REALM

    @pytest.mark.parametrize(
        "operation", LISTENERS + V4_LISTENERS, ids=ids(LISTENERS) + v4_ids(V4_LISTENERS)
    )
    def test_a_listener_takes_an_event_without_a_token(
        self, shared: TestClient, issuer: Issuer, operation: Operation
    ) -> None:
        without = operation.send(shared, {})
        with_a_bad_token = operation.send(shared, issuer.bearer(exp=int(time.time()) - 3600))

        taken = 201 if operation.root == V4_API_ROOT else 204  # as each contract declares
        assert without.status_code == taken, without.text
        assert with_a_bad_token.status_code == taken, with_a_bad_token.text
        assert "WWW-Authenticate" not in without.headers

    def test_scopes_a_token_has_beyond_the_one_needed_do_no_harm(
        self, shared: TestClient, issuer: Issuer
    ) -> None:
        headers = issuer.bearer(scopes=["openid", "profile", READ, "email"])

        assert shared.get(TICKETS, headers=headers).status_code == 200

    def test_an_es256_token_is_as_good_as_an_rs256_one(
        self, shared: TestClient, issuer: Issuer
    ) -> None:
        headers = issuer.bearer(scopes=[READ], kid="ec-1")

        assert shared.get(TICKETS, headers=headers).status_code == 200

    def test_scopes_given_as_a_scp_list_count(self, shared: TestClient, issuer: Issuer) -> None:
        headers = issuer.bearer(scp=[READ])

        assert shared.get(TICKETS, headers=headers).status_code == 200


# -- the served contract ---------------------------------------------------------------------


def served(client: TestClient) -> dict[str, Any]:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def operations_of(contract: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for template, path_item in contract["paths"].items()
        for method, operation in path_item.items()
        if method in _METHODS
    }


@pytest.fixture(scope="module")
def contract(shared: TestClient) -> dict[str, Any]:
    """The contract the shared jwt-mode app serves."""
    return served(shared)


class TestServedContract:
    def test_it_is_served_without_a_token(self, shared: TestClient) -> None:
        assert shared.get(f"{API}/openapi.json").status_code == 200

    def test_it_declares_the_oauth2_scheme_with_the_five_scopes(
        self, contract: dict[str, Any]
    ) -> None:
        scheme = contract["components"]["securitySchemes"]["oauth2"]

        assert scheme["type"] == "oauth2"
        flow = scheme["flows"]["clientCredentials"]
        assert flow["tokenUrl"] == f"{ISSUER}/protocol/openid-connect/token"
        assert set(flow["scopes"]) == {READ, WRITE, ADMIN, HUBS, ACTIVITIES}
        assert all(isinstance(text, str) and text for text in flow["scopes"].values())

    def test_each_secured_operation_names_its_scope_and_its_401_and_403(
        self, contract: dict[str, Any]
    ) -> None:
        operations = operations_of(contract)

        for operation_id, scope in OPERATION_SCOPES.items():
            operation = operations[operation_id]
            assert operation["security"] == [{"oauth2": [scope]}], operation_id
            assert {"401", "403"} <= set(operation["responses"]), operation_id

    def test_listeners_take_no_token(self, contract: dict[str, Any]) -> None:
        operations = operations_of(contract)

        for listener in LISTENERS:
            assert operations[listener.operation_id]["security"] == [], listener.operation_id

    def test_the_secured_contract_is_valid_openapi(self, contract: dict[str, Any]) -> None:
        validate(contract)

    def test_the_token_url_setting_is_the_one_shown(self, issuer: Issuer, tmp_path: Path) -> None:
        settings = jwt_settings(issuer, tmp_path, token_url="https://idp.example.com/token")
        app = create_app(settings, store=SqliteStore(":memory:"), clock=FrozenClock())

        with app.test_client() as client:
            scheme = served(client)["components"]["securitySchemes"]["oauth2"]

        assert scheme["flows"]["clientCredentials"]["tokenUrl"] == "https://idp.example.com/token"

    def test_without_authentication_there_is_no_oauth2_scheme(self, tmp_path: Path) -> None:
        settings = Settings(store=str(tmp_path / "api.sqlite3"), base_url=BASE_URL, dispatch="off")
        app = create_app(settings, store=SqliteStore(":memory:"), clock=FrozenClock())

        with app.test_client() as client:
            contract = served(client)
            listing = client.get(TICKETS)

        assert "oauth2" not in contract.get("components", {}).get("securitySchemes", {})
        assert not any(op.get("security") for op in operations_of(contract).values())
        assert listing.status_code == 200


# -- the v4 root ----------------------------------------------------------------------------


def v4_needs(operation: Operation) -> str:
    """The scope a v4 operation needs: its v5 twin's."""
    return OPERATION_SCOPES[V4_TWINS[operation.operation_id]]


class TestTheV4Root:
    """Every operation of the v4 contract but the listeners needs the scope of the v5 operation
    it is; a v4 operation without a v5 twin here fails ``test_every_v4_operation…``."""

    def test_every_v4_operation_but_the_listeners_is_a_v5_operation(self) -> None:
        assert sorted(ids(V4_SECURED)) == sorted(V4_TWINS)
        assert set(V4_TWINS.values()) <= set(OPERATION_SCOPES)
        assert len(V4_LISTENERS) == 6

    def test_the_served_v4_contract_names_the_scope_of_each_operation(
        self, shared: TestClient
    ) -> None:
        response = shared.get(f"{V4_API_ROOT}/openapi.json")

        assert response.status_code == 200, response.text
        contract = response.json()
        operations = operations_of(contract)
        assert sorted(operations) == sorted(ids(V4_OPERATIONS))
        for operation in V4_SECURED:
            security = operations[operation.operation_id]["security"]
            assert security == [{"oauth2": [v4_needs(operation)]}], operation.operation_id
        for listener in V4_LISTENERS:
            assert operations[listener.operation_id]["security"] == [], listener.operation_id
        validate(contract)

    @pytest.mark.parametrize("operation", V4_SECURED, ids=ids(V4_SECURED))
    def test_a_token_with_every_other_scope_is_403_naming_the_one_needed(
        self, shared: TestClient, issuer: Issuer, operation: Operation
    ) -> None:
        needed = v4_needs(operation)
        others = [scope for scope in SCOPES if scope != needed]

        response = operation.send(shared, issuer.bearer(scopes=others))

        assert_tmf_error(response, 403, "forbidden", mentions=(needed,))
        assert response.headers["WWW-Authenticate"] == (
            f'{REALM}, error="insufficient_scope", scope="{needed}"'
        )

    @pytest.mark.parametrize("operation", V4_SECURED, ids=ids(V4_SECURED))
    def test_a_token_with_only_the_scope_needed_gets_through(
        self, shared: TestClient, issuer: Issuer, operation: Operation
    ) -> None:
        response = operation.send(shared, issuer.bearer(scopes=[v4_needs(operation)]))

        assert response.status_code in (200, 201, 204, 404), response.text
        if response.status_code == 404:
            assert response.json()["code"] == "notFound", response.text

    def test_an_override_of_a_v5_operations_scope_applies_to_its_v4_twin(
        self, issuer: Issuer, tmp_path: Path
    ) -> None:
        scopes = scopes_file(tmp_path, {"listTroubleTicket": ADMIN, "createHub": ADMIN})
        app = create_app(
            jwt_settings(issuer, tmp_path, scopes=scopes),
            store=SqliteStore(":memory:"),
            clock=FrozenClock(),
        )
        hub = {"callback": "https://client.example/listener"}

        with app.test_client() as client:
            as_reader = client.get(
                f"{V4_API_ROOT}/troubleTicket", headers=issuer.bearer(scopes=[READ])
            )
            as_admin = client.get(
                f"{V4_API_ROOT}/troubleTicket", headers=issuer.bearer(scopes=[ADMIN])
            )
            by_hubs = client.post(
                f"{V4_API_ROOT}/hub", json=hub, headers=issuer.bearer(scopes=[HUBS])
            )
            by_admin = client.post(
                f"{V4_API_ROOT}/hub", json=hub, headers=issuer.bearer(scopes=[ADMIN])
            )

        assert_tmf_error(as_reader, 403, "forbidden", mentions=(ADMIN,))
        assert as_admin.status_code == 200, as_admin.text
        assert_tmf_error(by_hubs, 403, "forbidden", mentions=(ADMIN,))
        assert by_admin.status_code == 201, by_admin.text

    def test_a_partners_token_sees_only_its_own_tickets_through_v4(
        self, client: TestClient, issuer: Issuer
    ) -> None:
        alpha = issuer.bearer("alpha-system", scopes=[WRITE, READ], party_id="org-alpha")
        beta = issuer.bearer("beta-system", scopes=[READ, WRITE], party_id="org-beta")
        body = {"description": "No dial tone", "severity": "Minor", "ticketType": "incident"}

        response = client.post(f"{V4_API_ROOT}/troubleTicket", json=body, headers=alpha)
        assert response.status_code == 201, response.text
        mine = response.json()
        url = f"{V4_API_ROOT}/troubleTicket/{mine['id']}"

        assert mine["relatedParty"] == [
            {"id": "org-alpha", "@referredType": "Party", "role": "originator"}
        ]
        listed_by_beta = client.get(f"{V4_API_ROOT}/troubleTicket", headers=beta)
        assert listed_by_beta.json() == []
        assert_tmf_error(client.get(url, headers=beta), 404, "notFound")
        changed = client.patch(url, json={"name": "beta was here"}, headers=beta)
        assert_tmf_error(changed, 404, "notFound")
        assert client.get(url, headers=alpha).json() == mine


# -- TT_SCOPES -------------------------------------------------------------------------------


def scopes_file(directory: Path, content: Any) -> str:
    path = directory / "scopes.yaml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return str(path)


class TestScopeOverrides:
    def test_an_override_changes_the_scope_an_operation_needs(
        self, issuer: Issuer, tmp_path: Path
    ) -> None:
        scopes = scopes_file(tmp_path, {"listTroubleTicket": ADMIN})
        app = create_app(
            jwt_settings(issuer, tmp_path, scopes=scopes),
            store=SqliteStore(":memory:"),
            clock=FrozenClock(),
        )

        with app.test_client() as client:
            as_reader = client.get(TICKETS, headers=issuer.bearer(scopes=[READ]))
            as_admin = client.get(TICKETS, headers=issuer.bearer(scopes=[ADMIN]))
            retrieved = client.get(f"{TICKETS}/{MISSING}", headers=issuer.bearer(scopes=[READ]))
            contract = served(client)

        assert_tmf_error(as_reader, 403, "forbidden", mentions=(ADMIN,))
        assert f'scope="{ADMIN}"' in as_reader.headers["WWW-Authenticate"]
        assert as_admin.status_code == 200, as_admin.text
        # the operations not overridden keep their scope
        assert_tmf_error(retrieved, 404, "notFound")
        operations = operations_of(contract)
        assert operations["listTroubleTicket"]["security"] == [{"oauth2": [ADMIN]}]
        assert operations["retrieveTroubleTicket"]["security"] == [{"oauth2": [READ]}]

    def test_an_override_may_name_a_scope_of_its_own(self, issuer: Issuer, tmp_path: Path) -> None:
        scopes = scopes_file(tmp_path, {"deleteTroubleTicket": "troubleTicket:purge"})
        app = create_app(
            jwt_settings(issuer, tmp_path, scopes=scopes),
            store=SqliteStore(":memory:"),
            clock=FrozenClock(),
        )

        with app.test_client() as client:
            as_admin = client.delete(f"{TICKETS}/{MISSING}", headers=issuer.bearer(scopes=[ADMIN]))
            as_purger = client.delete(
                f"{TICKETS}/{MISSING}", headers=issuer.bearer(scopes=["troubleTicket:purge"])
            )

        assert_tmf_error(as_admin, 403, "forbidden", mentions=("troubleTicket:purge",))
        assert_tmf_error(as_purger, 404, "notFound")

    @pytest.mark.parametrize(
        ("content", "mentions"),
        [
            ({"listTroubleTickets": ADMIN}, "listTroubleTickets: no such operationId"),
            ({"listTroubleTicket": 3}, "listTroubleTicket: 3 is not a scope"),
            ({"listTroubleTicket": " "}, "is not a scope"),
            ("- listTroubleTicket\n", "not a mapping of operationId: scope"),
            ("listTroubleTicket: [unclosed\n", "is not valid YAML"),
        ],
        ids=["unknown-operation", "not-a-string", "blank", "a-list", "not-yaml"],
    )
    def test_an_unusable_scopes_file_is_a_configuration_error(
        self, issuer: Issuer, tmp_path: Path, content: Any, mentions: str
    ) -> None:
        settings = jwt_settings(issuer, tmp_path, scopes=scopes_file(tmp_path, content))

        with pytest.raises(ConfigError, match="TT_") as refused:
            create_app(settings, store=SqliteStore(":memory:"), clock=FrozenClock())

        assert mentions in str(refused.value)

    def test_a_missing_scopes_file_is_a_configuration_error(
        self, issuer: Issuer, tmp_path: Path
    ) -> None:
        settings = jwt_settings(issuer, tmp_path, scopes=str(tmp_path / "nowhere.yaml"))

        with pytest.raises(ConfigError, match="TT_SCOPES: cannot read"):
            create_app(settings, store=SqliteStore(":memory:"), clock=FrozenClock())

    def test_an_empty_scopes_file_keeps_the_defaults(self, issuer: Issuer, tmp_path: Path) -> None:
        app = create_app(
            jwt_settings(issuer, tmp_path, scopes=scopes_file(tmp_path, "")),
            store=SqliteStore(":memory:"),
            clock=FrozenClock(),
        )

        with app.test_client() as client:
            response = client.get(TICKETS, headers=issuer.bearer(scopes=[READ]))

        assert response.status_code == 200, response.text


# -- roles, actor and party from the token ---------------------------------------------------


def override(client: TestClient, ticket: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return patch(
        client, f"{TICKETS}/{ticket['id']}", {"@type": "TroubleTicket", **OVERRIDE}, headers=headers
    )


def priority_of(client: TestClient, issuer: Issuer, ticket: dict[str, Any]) -> str:
    response = client.get(f"{TICKETS}/{ticket['id']}", headers=issuer.bearer(scopes=[READ]))
    assert response.status_code == 200, response.text
    return str(response.json()["priority"])


class TestPriorityOverrideRoles:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return Settings(
            store=str(tmp_path / "api.sqlite3"),
            base_url=BASE_URL,
            dispatch="off",
            policy=write_policy(tmp_path, ["incidentManager"]),
        )

    def test_a_token_with_the_role_overrides_the_priority_as_its_subject(
        self, client: TestClient, issuer: Issuer
    ) -> None:
        ticket = a_ticket_by(client, issuer)
        assert ticket["priority"] == "Low"
        manager = issuer.bearer("jane.manager", scopes=[WRITE], roles=["incidentManager"])

        response = override(client, ticket, manager)

        assert response.status_code == 200, response.text
        changed = response.json()
        assert changed["priority"] == "Critical"
        assert changed["priorityOverride"]["priority"] == "Critical"
        assert changed["priorityOverride"]["reason"] == OVERRIDE["priorityChangeReason"]
        assert changed["priorityOverride"]["actor"] == "jane.manager"
        assert priority_of(client, issuer, ticket) == "Critical"

    def test_a_token_without_the_role_is_403_and_changes_nothing(
        self, client: TestClient, issuer: Issuer
    ) -> None:
        ticket = a_ticket_by(client, issuer)
        agent = issuer.bearer("joe.agent", scopes=[WRITE, ADMIN], roles=["serviceDeskAgent"])

        response = override(client, ticket, agent)

        assert_tmf_error(response, 403, "forbidden", mentions=("incidentManager",))
        assert priority_of(client, issuer, ticket) == "Low"

    def test_a_role_header_does_not_give_a_token_the_role(
        self, client: TestClient, issuer: Issuer
    ) -> None:
        ticket = a_ticket_by(client, issuer)
        claimed = {
            **issuer.bearer("joe.agent", scopes=[WRITE]),
            "X-TT-Role": "incidentManager",
            "X-TT-Actor": "jane.manager",
        }

        response = override(client, ticket, claimed)

        assert_tmf_error(response, 403, "forbidden", mentions=("incidentManager",))
        assert priority_of(client, issuer, ticket) == "Low"

    def test_a_role_header_without_a_token_is_401(self, client: TestClient, issuer: Issuer) -> None:
        ticket = a_ticket_by(client, issuer)

        response = override(client, ticket, {"X-TT-Role": "incidentManager"})

        assert_tmf_error(response, 401, "unauthorized")
        assert priority_of(client, issuer, ticket) == "Low"

    def test_lifting_an_override_needs_the_role_too(
        self, client: TestClient, issuer: Issuer
    ) -> None:
        ticket = a_ticket_by(client, issuer)
        manager = issuer.bearer("jane.manager", scopes=[WRITE], roles=["incidentManager"])
        assert override(client, ticket, manager).status_code == 200
        url = f"{TICKETS}/{ticket['id']}"
        lift = {"@type": "TroubleTicket", "priority": None}

        refused = patch(client, url, lift, headers=issuer.bearer(scopes=[WRITE]))
        lifted = patch(client, url, lift, headers=manager)

        assert_tmf_error(refused, 403, "forbidden")
        assert lifted.status_code == 200, lifted.text
        assert lifted.json()["priority"] == "Low"


class TestScopesAsRoles:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return Settings(
            store=str(tmp_path / "api.sqlite3"),
            base_url=BASE_URL,
            dispatch="off",
            policy=write_policy(tmp_path, [ADMIN]),
        )

    def test_a_policy_role_may_be_a_scope_the_token_grants(
        self, client: TestClient, issuer: Issuer
    ) -> None:
        ticket = a_ticket_by(client, issuer)

        as_writer = override(client, ticket, issuer.bearer(scopes=[WRITE]))
        as_admin = override(client, ticket, issuer.bearer(scopes=[WRITE, ADMIN]))

        assert_tmf_error(as_writer, 403, "forbidden", mentions=(ADMIN,))
        assert as_admin.status_code == 200, as_admin.text
        assert as_admin.json()["priority"] == "Critical"


class TestKeycloakRealmRoles:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return Settings(
            store=str(tmp_path / "api.sqlite3"),
            base_url=BASE_URL,
            dispatch="off",
            policy=write_policy(tmp_path, ["incidentManager"]),
            jwt_roles_claim="realm_access.roles",
        )

    def test_realm_roles_grant_the_override(self, client: TestClient, issuer: Issuer) -> None:
        ticket = a_ticket_by(client, issuer)
        manager = issuer.bearer(
            "jane.manager",
            scopes=[WRITE],
            realm_access={"roles": ["offline_access", "incidentManager"]},
        )

        response = override(client, ticket, manager)

        assert response.status_code == 200, response.text
        assert response.json()["priorityOverride"]["actor"] == "jane.manager"

    def test_a_top_level_roles_claim_no_longer_counts(
        self, client: TestClient, issuer: Issuer
    ) -> None:
        ticket = a_ticket_by(client, issuer)
        headers = issuer.bearer(scopes=[WRITE], roles=["incidentManager"])

        response = override(client, ticket, headers)

        assert_tmf_error(response, 403, "forbidden")


class TestBehindATrustedGateway:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return Settings(
            store=str(tmp_path / "api.sqlite3"),
            base_url=BASE_URL,
            dispatch="off",
            policy=write_policy(tmp_path, ["incidentManager"]),
            trusted_gateway=True,
        )

    def test_the_gateways_role_and_actor_headers_count_beside_the_token(
        self, client: TestClient, issuer: Issuer
    ) -> None:
        ticket = a_ticket_by(client, issuer)
        headers = {
            **issuer.bearer("gateway-client", scopes=[WRITE]),
            "X-TT-Role": "incidentManager",
            "X-TT-Actor": "jane.manager",
        }

        response = override(client, ticket, headers)

        assert response.status_code == 200, response.text
        assert response.json()["priorityOverride"]["actor"] == "jane.manager"

    def test_the_token_is_still_required(self, client: TestClient) -> None:
        headers = {"X-TT-Role": "incidentManager", "X-TT-Actor": "jane.manager"}

        assert_tmf_error(client.get(TICKETS, headers=headers), 401, "unauthorized")


class TestTheActorIsTheTokensSubject:
    def test_a_manual_escalation_records_the_subject_not_the_actor_header(
        self, client: TestClient, issuer: Issuer
    ) -> None:
        ticket = a_ticket_by(client, issuer)
        headers = {**issuer.bearer("jane.doe", scopes=[WRITE]), "X-TT-Actor": "mallory"}
        change = {
            "@type": "TroubleTicket",
            "escalationLevel": 1,
            "escalationReason": "Called twice",
        }

        response = patch(client, f"{TICKETS}/{ticket['id']}", change, headers=headers)

        assert response.status_code == 200, response.text
        (escalation,) = response.json()["escalation"]
        assert escalation["actor"] == "jane.doe"
        assert escalation["reason"] == "Called twice"
        assert escalation["trigger"] == "manual"

    def test_an_activitys_assignment_records_the_subject_not_the_actor_header(
        self, client: TestClient, issuer: Issuer
    ) -> None:
        ticket = a_ticket_by(client, issuer)
        headers = {**issuer.bearer("noc.lead", scopes=[ACTIVITIES]), "X-TT-Actor": "mallory"}
        activity = {"@type": "RecoveryActivity", "activityType": "diagnose", "assignee": NOC}

        response = client.post(
            f"{TICKETS}/{ticket['id']}/recoveryActivity", json=activity, headers=headers
        )

        assert response.status_code == 201, response.text
        (assignment,) = response.json()["assignmentHistory"]
        assert assignment["actor"] == "noc.lead"
        assert assignment["source"] == "client"


class TestThePartyOfAPartnersToken:
    def test_a_partners_token_raises_tickets_as_its_party_and_sees_only_those(
        self, client: TestClient, issuer: Issuer
    ) -> None:
        alpha = issuer.bearer("alpha-system", scopes=[WRITE, READ], party_id="org-alpha")
        beta = issuer.bearer("beta-system", scopes=[READ], party_id="org-beta")
        operator = issuer.bearer("svc-desk", scopes=[READ])

        response = client.post(TICKETS, json=a_ticket(), headers=alpha)
        assert response.status_code == 201, response.text
        mine = response.json()
        ours = a_ticket_by(client, issuer)

        assert mine["relatedParty"] == [
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "originator",
                "partyOrPartyRole": {"@type": "PartyRef", "id": "org-alpha"},
            }
        ]
        assert listed(client, alpha) == [mine["id"]]
        assert listed(client, beta) == []
        assert sorted(listed(client, operator)) == sorted([mine["id"], ours["id"]])
        assert_tmf_error(client.get(f"{TICKETS}/{mine['id']}", headers=beta), 404, "notFound")

    def test_a_partner_header_does_not_make_a_token_a_partners(
        self, client: TestClient, issuer: Issuer
    ) -> None:
        a_ticket_by(client, issuer)
        headers = {**issuer.bearer(scopes=[READ]), "X-TT-Partner": "alpha"}

        assert len(listed(client, headers)) == 1
