"""Signing in to the console with OpenID Connect (``TT_AUTH=jwt``), against a real issuer.

The console's side runs in a TestClient; the issuer (``tests/console/oidc_issuer.py``) is a real
HTTP server, reached over HTTP by the console and by the test, which follows each redirect by
hand: login → the issuer's authorize → the console's callback → the console's pages.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from tests.builders import TICKETS, a_ticket
from tests.console.oidc_issuer import CLIENT_ID, OidcIssuer, User, s256
from tests.tokens import rsa_key
from troubleticket.api.callers import Callers
from troubleticket.api.security import OPERATION_SCOPES, READ, SCOPES, WRITE
from troubleticket.api.tokens import TokenSettings, TokenVerifier
from troubleticket.app import create_app
from troubleticket.config import ConfigError, Settings
from troubleticket.console.auth import CsrfTokens
from troubleticket.console.oidc import (
    FLOW_COOKIE,
    SESSION_COOKIE,
    OidcAuth,
    safe_next,
)
from troubleticket.domain.errors import Forbidden

if TYPE_CHECKING:
    import httpx

BASE = "https://tt.example.com"
KEY = b"console-test-key-0123456789abcdef"
SOMEONE_ELSE = User("mallory", "Mallory", (READ,), access_claims={"aud": "another-api"})
NOT_THIS_ISSUER = User("ivan", "Ivan", (READ,), access_claims={"iss": "https://sso.example.org"})
TWO_PARTIES = User("duo", "Duo", (READ,), access_claims={"party_id": ["org-a", "org-b"]})
SHORT_LIVED = User("sam", "Sam Short", (READ,), lifetime=2)


# -- the console side: OidcAuth behind a small app of its routes and caller() ---------------


def settings_for(issuer: OidcIssuer, tmp_path: Path, base_url: str = BASE, **changes: Any):
    plain = Settings(store=str(tmp_path / "console.sqlite3"), base_url=base_url, dispatch="off")
    return issuer.settings(plain, **changes)


def oidc_auth(settings: Settings, key: bytes = KEY) -> OidcAuth:
    assert settings.jwks and settings.jwt_issuer and settings.jwt_audience
    verifier = TokenVerifier(
        TokenSettings(
            jwks=settings.jwks,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            party_claim=settings.jwt_party_claim,
        )
    )
    callers = Callers(tokens=True, scopes=OPERATION_SCOPES)
    return OidcAuth(settings, verifier, callers, CsrfTokens(key))


def console_app(auth: OidcAuth) -> Starlette:
    """The console's mount, reduced to a board that says who asks and an action."""

    async def board(request: Request) -> Response:
        caller = await auth.caller(request)
        if isinstance(caller, Response):
            return caller
        party = caller.context.party
        return JSONResponse(
            {
                "actor": caller.context.actor,
                "name": caller.name,
                "scopes": sorted(caller.scopes),
                "roles": sorted(caller.context.roles),
                "party": party["id"] if party else None,
                "csrf": auth.csrf_token(caller),
            }
        )

    async def act(request: Request) -> Response:
        caller = await auth.caller(request)
        if isinstance(caller, Response):
            return caller
        async with request.form() as form:
            sent = form.get("csrf")
        try:
            CsrfTokens(KEY).check(caller, sent if isinstance(sent, str) else None)
        except Forbidden:
            return PlainTextResponse("stale form", status_code=403)
        return PlainTextResponse("done")

    routes = [*auth.routes(), Route("/", board), Route("/board", board)]
    routes.append(Route("/act", act, methods=["POST"]))
    return Starlette(routes=[Mount("/console", routes=routes)])


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer(users=[*OidcIssuer().users.values(), SOMEONE_ELSE]) as running:
        running.users.update({u.username: u for u in (NOT_THIS_ISSUER, TWO_PARTIES, SHORT_LIVED)})
        yield running


@pytest.fixture
def client(issuer: OidcIssuer, tmp_path: Path) -> Iterator[TestClient]:
    app = console_app(oidc_auth(settings_for(issuer, tmp_path)))
    with TestClient(app, base_url=BASE) as test_client:
        yield test_client


def start(client: TestClient, after: str | None = "/console/board") -> httpx.Response:
    """The console's login: a redirect to the issuer."""
    answer: httpx.Response = client.get(
        "/console/login", params={"next": after} if after else None, follow_redirects=False
    )
    assert answer.status_code == 302, answer.text
    return answer


def sign_in(
    client: TestClient, issuer: OidcIssuer, username: str, after: str | None = "/console/board"
) -> httpx.Response:
    """The whole round trip for ``username``; the callback's answer."""
    callback = issuer.sign_in(start(client, after).headers["location"], username)
    answer: httpx.Response = client.get(callback, follow_redirects=False)
    return answer


def set_cookies(answer: httpx.Response) -> dict[str, str]:
    """The Set-Cookie headers of ``answer``, by cookie name."""
    return {h.split("=", 1)[0]: h for h in answer.headers.get_list("set-cookie")}


def attributes(header: str) -> dict[str, str]:
    parts = [part.strip() for part in header.split(";")[1:]]
    return {k.lower(): v for k, _, v in (part.partition("=") for part in parts)}


def assert_signed_out(client: TestClient) -> None:
    answer = client.get("/console/board", follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == "/console/login?next=%2Fconsole%2Fboard"


# -- the round trip -------------------------------------------------------------------------


def test_the_round_trip_signs_the_operator_in(client: TestClient, issuer: OidcIssuer) -> None:
    login = start(client)
    authorize = urlsplit(login.headers["location"])
    query = parse_qs(authorize.query)
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{issuer.url}/authorize"
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{BASE}/console/callback"]
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["openid"]
    assert query["code_challenge_method"] == ["S256"]
    assert {"state", "nonce", "code_challenge"} <= set(query)

    callback = client.get(issuer.sign_in(login.headers["location"], "jane"), follow_redirects=False)
    assert callback.status_code == 303, callback.text
    assert callback.headers["location"] == "/console/board"

    board = client.get("/console/board")
    assert board.status_code == 200
    seen = board.json()
    assert seen["actor"] == "jane"
    assert seen["name"] == "Jane Operator"
    assert seen["scopes"] == sorted(SCOPES)
    assert "incidentManager" in seen["roles"]
    assert seen["party"] is None
    # a public client: the code was exchanged with the PKCE verifier, without a secret
    (request,) = issuer.token_requests
    assert request["client_id"] == CLIENT_ID
    assert request["code_verifier"]
    assert "client_secret" not in request


def test_a_read_only_user_gets_its_scopes_only(client: TestClient, issuer: OidcIssuer) -> None:
    assert sign_in(client, issuer, "rob").status_code == 303
    seen = client.get("/console/board").json()
    assert (seen["actor"], seen["name"], seen["scopes"]) == ("rob", "Rob Reader", [READ])


def test_a_partners_user_is_restricted_to_its_party(client: TestClient, issuer: OidcIssuer) -> None:
    assert sign_in(client, issuer, "alpha").status_code == 303
    seen = client.get("/console/board").json()
    assert seen["actor"] == "alpha"
    assert seen["party"] == "org-alpha"
    assert seen["scopes"] == sorted([READ, WRITE])


def test_caller_gives_the_partners_context(issuer: OidcIssuer, tmp_path: Path) -> None:
    auth = oidc_auth(settings_for(issuer, tmp_path))
    with TestClient(console_app(auth), base_url=BASE) as client:
        assert sign_in(client, issuer, "alpha").status_code == 303
        cookie = client.cookies[SESSION_COOKIE]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/console/",
        "query_string": b"",
        "headers": [(b"cookie", f"{SESSION_COOKIE}={cookie}".encode())],
    }
    caller = asyncio.run(auth.caller(Request(scope)))
    assert not isinstance(caller, Response)
    assert caller.context.actor == "alpha"
    assert caller.context.party == {"@type": "PartyRef", "id": "org-alpha"}
    assert caller.may(READ) and caller.may(WRITE) and not caller.may("troubleTicket:admin")


def test_the_scope_asked_for_always_has_openid(issuer: OidcIssuer, tmp_path: Path) -> None:
    settings = settings_for(issuer, tmp_path, scope="troubleTicket:read troubleTicket:write")
    with TestClient(console_app(oidc_auth(settings)), base_url=BASE) as client:
        query = parse_qs(urlsplit(start(client).headers["location"]).query)
    assert query["scope"] == ["openid troubleTicket:read troubleTicket:write"]


def test_a_confidential_client_authenticates_at_the_token_endpoint(tmp_path: Path) -> None:
    with OidcIssuer(client_secret="s3cret-of-the-console") as issuer:
        app = console_app(oidc_auth(settings_for(issuer, tmp_path)))
        with TestClient(app, base_url=BASE) as client:
            assert sign_in(client, issuer, "jane").status_code == 303
            assert client.get("/console/board").json()["actor"] == "jane"
        # HTTP Basic, so not in the form
        assert "client_secret" not in issuer.token_requests[0]

        wrong = replace(settings_for(issuer, tmp_path), console_client_secret="guessed")
        with TestClient(console_app(oidc_auth(wrong)), base_url=BASE) as client:
            answer = sign_in(client, issuer, "jane")
            assert answer.status_code == 400
            assert SESSION_COOKIE not in set_cookies(answer)
            assert_signed_out(client)


# -- cookies --------------------------------------------------------------------------------


@pytest.mark.parametrize("base_url", [BASE, "http://localhost:8080"])
def test_cookies_are_http_only_lax_under_console_and_secure_behind_https(
    issuer: OidcIssuer, tmp_path: Path, base_url: str
) -> None:
    secure = base_url.startswith("https://")
    app = console_app(oidc_auth(settings_for(issuer, tmp_path, base_url)))
    with TestClient(app, base_url=base_url) as client:
        login = start(client)
        callback = client.get(
            issuer.sign_in(login.headers["location"], "jane"), follow_redirects=False
        )
        assert callback.status_code == 303
        flow = attributes(set_cookies(login)[FLOW_COOKIE])
        session = attributes(set_cookies(callback)[SESSION_COOKIE])
        cleared = attributes(set_cookies(callback)[FLOW_COOKIE])
        assert client.get("/console/board").status_code == 200
    for cookie in (flow, session, cleared):
        assert "httponly" in cookie
        assert cookie["samesite"].lower() == "lax"
        assert cookie["path"] == "/console"
        assert ("secure" in cookie) is secure
    assert int(flow["max-age"]) == 600
    # the session lasts as long as the access token (300 s at the test issuer)
    assert 290 <= int(session["max-age"]) <= 300
    assert int(cleared["max-age"]) == 0
    value = set_cookies(callback)[SESSION_COOKIE].split(";")[0]
    assert len(value) < 4096


# -- what opens no session ------------------------------------------------------------------


def test_a_callback_of_another_state_is_refused(client: TestClient, issuer: OidcIssuer) -> None:
    back = urlsplit(issuer.sign_in(start(client).headers["location"], "jane"))
    params = {k: v[0] for k, v in parse_qs(back.query).items()}
    answer = client.get(
        "/console/callback", params={**params, "state": "forged"}, follow_redirects=False
    )
    assert answer.status_code == 400
    assert "Sign-in not recognised" in answer.text
    assert SESSION_COOKIE not in set_cookies(answer)
    assert issuer.token_requests == []  # the code was not even exchanged
    assert_signed_out(client)


def test_a_callback_without_the_sign_in_cookie_is_refused(
    issuer: OidcIssuer, tmp_path: Path
) -> None:
    app = console_app(oidc_auth(settings_for(issuer, tmp_path)))
    with TestClient(app, base_url=BASE) as victim, TestClient(app, base_url=BASE) as attacker:
        # an attacker's own code and state, pushed into someone else's browser (login CSRF)
        callback = issuer.sign_in(start(attacker).headers["location"], "jane")
        answer = victim.get(callback, follow_redirects=False)
        assert answer.status_code == 400
        assert SESSION_COOKIE not in set_cookies(answer)
        assert_signed_out(victim)


def test_an_error_from_the_issuer_opens_no_session(client: TestClient, issuer: OidcIssuer) -> None:
    state = parse_qs(urlsplit(start(client).headers["location"]).query)["state"][0]
    answer = client.get(
        "/console/callback",
        params={"error": "access_denied", "state": state},
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert "access_denied" in answer.text
    assert SESSION_COOKIE not in set_cookies(answer)


@pytest.mark.parametrize(
    ("username", "status"),
    [
        pytest.param("mallory", 401, id="another audience"),
        pytest.param("ivan", 401, id="another issuer"),
        pytest.param("duo", 401, id="a party claim naming two parties"),
        pytest.param("nina", 403, id="without troubleTicket:read"),
    ],
)
def test_an_access_token_the_api_refuses_opens_no_session(
    client: TestClient, issuer: OidcIssuer, username: str, status: int
) -> None:
    answer = sign_in(client, issuer, username)
    assert answer.status_code == status, answer.text
    assert SESSION_COOKIE not in set_cookies(answer)
    assert_signed_out(client)


@pytest.mark.parametrize(
    "id_claims",
    [
        pytest.param({"aud": "another-client"}, id="another audience"),
        pytest.param({"nonce": "replayed"}, id="another nonce"),
        pytest.param({"nonce": None}, id="no nonce"),
        pytest.param({"iss": "https://sso.example.org"}, id="another issuer"),
        pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
        pytest.param({"sub": "somebody-else"}, id="another subject than the access token's"),
    ],
)
def test_an_id_token_that_fails_its_checks_opens_no_session(
    client: TestClient, issuer: OidcIssuer, id_claims: dict[str, Any]
) -> None:
    issuer.users["rob"] = User("rob", "Rob Reader", (READ,), id_claims=id_claims)
    answer = sign_in(client, issuer, "rob")
    assert answer.status_code == 401, answer.text
    assert SESSION_COOKIE not in set_cookies(answer)
    assert_signed_out(client)


def test_an_id_token_signed_by_another_key_opens_no_session(
    client: TestClient, issuer: OidcIssuer
) -> None:
    issuer.id_token_key = rsa_key()
    answer = sign_in(client, issuer, "jane")
    assert answer.status_code == 401
    assert SESSION_COOKIE not in set_cookies(answer)


def test_an_issuer_that_cannot_be_reached_is_a_503_page(
    issuer: OidcIssuer, client: TestClient, tmp_path: Path
) -> None:
    issuer.discovery_status = 500
    answer = client.get("/console/login", follow_redirects=False)
    assert answer.status_code == 503
    assert "Sign-in unavailable" in answer.text
    # a failure is not kept: once the issuer answers, sign-in works
    issuer.discovery_status = 200
    assert sign_in(client, issuer, "jane").status_code == 303

    with OidcIssuer() as gone:
        settings = settings_for(gone, tmp_path)
    with TestClient(console_app(oidc_auth(settings)), base_url=BASE) as stranded:
        assert stranded.get("/console/login", follow_redirects=False).status_code == 503


# -- sessions -------------------------------------------------------------------------------


def test_without_a_session_a_page_redirects_to_sign_in_and_an_action_is_401(
    client: TestClient,
) -> None:
    answer = client.get("/console/board?status=open&sort=-priority", follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == (
        "/console/login?next=%2Fconsole%2Fboard%3Fstatus%3Dopen%26sort%3D-priority"
    )
    assert client.post("/console/act", data={"csrf": "x"}).status_code == 401


def test_a_tampered_session_is_no_session(client: TestClient, issuer: OidcIssuer) -> None:
    assert sign_in(client, issuer, "jane").status_code == 303
    value = client.cookies[SESSION_COOKIE]
    middle = len(value) // 2  # in the payload
    for forged in (
        value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :],
        # in the signature (not its last character, whose low bits base64 leaves unused)
        value[:-5] + ("A" if value[-5] != "A" else "B") + value[-4:],
        "garbage",
    ):
        client.cookies.set(SESSION_COOKIE, forged, domain="tt.example.com", path="/console")
        answer = client.get("/console/board", follow_redirects=False)
        assert answer.status_code == 302, forged
        assert answer.headers["location"].startswith("/console/login?next=")
        assert client.post("/console/act", data={"csrf": "x"}).status_code == 401


def test_a_session_signed_with_another_key_is_no_session(
    issuer: OidcIssuer, tmp_path: Path
) -> None:
    settings = settings_for(issuer, tmp_path)
    with TestClient(console_app(oidc_auth(settings)), base_url=BASE) as client:
        assert sign_in(client, issuer, "jane").status_code == 303
        cookie = client.cookies[SESSION_COOKIE]
    other = oidc_auth(settings, key=b"another console's key, after a restart")
    with TestClient(console_app(other), base_url=BASE) as client:
        answer = client.get(
            "/console/board",
            headers={"cookie": f"{SESSION_COOKIE}={cookie}"},
            follow_redirects=False,
        )
        assert answer.status_code == 302


def test_a_session_ends_when_the_access_token_expires(
    client: TestClient, issuer: OidcIssuer
) -> None:
    assert sign_in(client, issuer, "sam").status_code == 303
    cookie = client.cookies[SESSION_COOKIE]
    assert client.get("/console/board").status_code == 200
    time.sleep(2.1)
    # sent again by hand, as a browser ignoring Max-Age would: the server itself refuses it
    client.cookies.clear()
    answer = client.get(
        "/console/board", headers={"cookie": f"{SESSION_COOKIE}={cookie}"}, follow_redirects=False
    )
    assert answer.status_code == 302
    assert answer.headers["location"] == "/console/login?next=%2Fconsole%2Fboard"


# -- where to go afterwards -----------------------------------------------------------------


@pytest.mark.parametrize(
    "after",
    [
        "https://evil.example/console/",
        "//evil.example/console/",
        "/tmf-api/troubleTicket/v5/troubleTicket",
        "/consolation",
        "/console/../tmf-api/troubleTicket/v5/troubleTicket",
        "/console/%2e%2e/metrics",
        "/console\\..\\metrics",
        "/console/login",
        "",
    ],
)
def test_next_outside_the_console_is_ignored(
    client: TestClient, issuer: OidcIssuer, after: str
) -> None:
    answer = sign_in(client, issuer, "jane", after=after or None)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/"


def test_next_under_the_console_is_followed(client: TestClient, issuer: OidcIssuer) -> None:
    answer = sign_in(client, issuer, "jane", after="/console/tickets/tt-1?tab=notes")
    assert answer.headers["location"] == "/console/tickets/tt-1?tab=notes"


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("/console", "/console"),
        ("/console/", "/console/"),
        ("/console/board?status=open", "/console/board?status=open"),
        ("/console/a%20b", "/console/a%20b"),
        (None, "/console/"),
        ("/console/x#frag", "/console/"),
        ("/console/\r\nSet-Cookie: x=y", "/console/"),
        ("/console/callback", "/console/"),
        ("javascript:alert(1)", "/console/"),
    ],
)
def test_safe_next(raw: str | None, kept: str) -> None:
    assert safe_next(raw) == kept


# -- signing out ----------------------------------------------------------------------------


def test_logout_needs_the_csrf_token(client: TestClient, issuer: OidcIssuer) -> None:
    assert sign_in(client, issuer, "jane").status_code == 303
    csrf = client.get("/console/board").json()["csrf"]
    for form in ({}, {"csrf": "guessed"}, {"csrf": csrf[:-1]}):
        answer = client.post("/console/logout", data=form, follow_redirects=False)
        assert answer.status_code == 403
        assert client.get("/console/board").status_code == 200  # still signed in

    answer = client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    cleared = attributes(set_cookies(answer)[SESSION_COOKIE])
    assert int(cleared["max-age"]) == 0 and cleared["path"] == "/console"
    assert_signed_out(client)

    # on to the issuer's end of session, which sends the browser back to the signed-out page
    end = urlsplit(answer.headers["location"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{issuer.url}/logout"
    query = parse_qs(end.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["post_logout_redirect_uri"] == [f"{BASE}/console/signed-out"]
    back = requests.get(answer.headers["location"], allow_redirects=False, timeout=10)
    assert back.headers["location"].startswith(f"{BASE}/console/signed-out")
    page = client.get(back.headers["location"])
    assert page.status_code == 200
    assert "signed out" in page.text


def test_logout_without_an_end_session_endpoint_shows_the_signed_out_page(
    tmp_path: Path,
) -> None:
    with OidcIssuer(end_session=False) as issuer:
        app = console_app(oidc_auth(settings_for(issuer, tmp_path)))
        with TestClient(app, base_url=BASE) as client:
            assert sign_in(client, issuer, "jane").status_code == 303
            csrf = client.get("/console/board").json()["csrf"]
            answer = client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
            assert answer.status_code == 303
            assert answer.headers["location"] == "/console/signed-out"
            assert_signed_out(client)
    assert issuer.logouts == []


def test_logout_without_a_session_just_signs_out(client: TestClient) -> None:
    answer = client.post("/console/logout", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/signed-out"


def test_the_console_needs_a_client_id(issuer: OidcIssuer, tmp_path: Path) -> None:
    settings = replace(settings_for(issuer, tmp_path), console_client_id=None)
    with pytest.raises(ConfigError, match="TT_CONSOLE_CLIENT_ID"):
        oidc_auth(settings)


# -- the test issuer itself (a browser test drives its form) --------------------------------


def test_the_issuers_form_signs_the_chosen_user_in(issuer: OidcIssuer, client: TestClient) -> None:
    authorize = start(client).headers["location"]
    form = requests.get(authorize, timeout=10)
    assert form.status_code == 200
    assert '<select id="user" name="user">' in form.text
    assert '<button type="submit">Sign in</button>' in form.text
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    answer = requests.post(
        f"{issuer.url}/authorize", data={**params, "user": "rob"}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 303
    assert client.get(answer.headers["location"], follow_redirects=False).status_code == 303
    assert client.get("/console/board").json()["actor"] == "rob"


def test_the_issuer_enforces_pkce_and_the_redirect_uri(issuer: OidcIssuer) -> None:
    verifier = "v" * 50

    def code() -> str:
        params = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": f"{BASE}/console/callback",
            "scope": "openid",
            "state": "s",
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
            "login_hint": "jane",
        }
        answer = requests.get(f"{issuer.url}/authorize", params=params, allow_redirects=False)
        return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]

    def exchange(**changes: str) -> requests.Response:
        form = {
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "redirect_uri": f"{BASE}/console/callback",
            "code_verifier": verifier,
            **changes,
        }
        return requests.post(f"{issuer.url}/token", data=form, timeout=10)

    assert exchange(code=code(), code_verifier="w" * 50).json()["error"] == "invalid_grant"
    assert exchange(code=code(), code_verifier="").json()["error"] == "invalid_grant"
    wrong_uri = exchange(code=code(), redirect_uri="https://evil.example/cb")
    assert wrong_uri.json()["error"] == "invalid_grant"
    used = code()
    assert exchange(code=used).status_code == 200
    assert exchange(code=used).json()["error"] == "invalid_grant"  # once only

    plain = requests.get(
        f"{issuer.url}/authorize",
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": f"{BASE}/console/callback",
            "scope": "openid",
            "code_challenge": verifier,
            "code_challenge_method": "plain",
            "login_hint": "jane",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert parse_qs(urlsplit(plain.headers["location"]).query)["error"] == ["invalid_request"]


# -- through the real app (create_app, TT_AUTH=jwt) -----------------------------------------


@pytest.fixture
def served(issuer: OidcIssuer, tmp_path: Path) -> Iterator[TestClient]:
    """The whole server (API and console) with tokens of the test issuer required."""
    app = create_app(settings_for(issuer, tmp_path))
    with app.test_client(base_url=BASE) as test_client:
        yield test_client


def bearer(issuer: OidcIssuer, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.access_token(username)}"}


def test_a_partners_user_sees_only_its_partys_tickets(
    served: TestClient, issuer: OidcIssuer
) -> None:
    for username, text in (("alpha", "Alpha splitter alarm"), ("jane", "Core router down")):
        ticket = a_ticket(description=text)
        made = served.post(TICKETS, json=ticket, headers=bearer(issuer, username))
        assert made.status_code == 201, made.text

    assert sign_in(served, issuer, "alpha", after="/console/").status_code == 303
    board = served.get("/console/")
    assert board.status_code == 200
    assert "Alpha Desk" in board.text
    assert "Alpha splitter alarm" in board.text
    assert "Core router down" not in board.text

    served.cookies.clear()
    assert sign_in(served, issuer, "jane", after="/console/").status_code == 303
    board = served.get("/console/")
    assert "Alpha splitter alarm" in board.text and "Core router down" in board.text


@pytest.mark.parametrize(
    ("username", "status"),
    [("jane", 200), ("mallory", 401), ("ivan", 401), ("duo", 401), ("nina", 403)],
)
def test_the_console_refuses_the_access_tokens_the_api_refuses(
    served: TestClient, issuer: OidcIssuer, username: str, status: int
) -> None:
    api = served.get(TICKETS, headers=bearer(issuer, username))
    assert api.status_code == status
    answer = sign_in(served, issuer, username, after="/console/")
    if status == 200:
        assert answer.status_code == 303
        assert served.get("/console/").status_code == 200
    else:
        assert answer.status_code == status
        assert SESSION_COOKIE not in set_cookies(answer)
        assert served.get("/console/", follow_redirects=False).status_code == 302


def test_the_pages_sign_out_form_signs_out(served: TestClient, issuer: OidcIssuer) -> None:
    assert sign_in(served, issuer, "rob", after="/console/").status_code == 303
    page = served.get("/console/").text
    form = re.search(r'<form[^>]*action="/console/logout".*?</form>', page, re.DOTALL)
    assert form is not None
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.group(0))
    assert csrf is not None
    answer = served.post("/console/logout", data={"csrf": csrf[1]}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"{issuer.url}/logout?")
    assert served.get("/console/", follow_redirects=False).status_code == 302


def test_without_a_session_the_boards_script_sends_the_page_to_sign_in(
    client: TestClient,
) -> None:
    answer = client.get(
        "/console/board?status=open",
        headers={"HX-Request": "true", "HX-Current-URL": f"{BASE}/console/?status=open"},
        follow_redirects=False,
    )
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"] == "/console/login?next=%2Fconsole%2F%3Fstatus%3Dopen"
    stream = client.get(
        "/console/board", headers={"Accept": "text/event-stream"}, follow_redirects=False
    )
    assert stream.status_code == 401
