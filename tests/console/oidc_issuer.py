"""A small OpenID Connect issuer for tests: a real HTTP server on 127.0.0.1, in a thread.

It plays the operator's Keycloak for the console's sign-in (authorization code flow with PKCE)
and signs what the API checks: an RS256 ``id_token`` for the console client and an RS256
``access_token`` for the API (``iss``, ``aud`` = the API's audience, ``exp``, ``sub``, ``scope``,
the party claim of a partner's user).

Use::

    with OidcIssuer() as issuer:                      # started; stopped on leaving
        settings = issuer.settings(Settings(...))     # TT_AUTH=jwt at this issuer + console client
        app = create_app(settings)
        ...
        callback = issuer.sign_in(authorization_url, "jane")   # without a browser

``OidcIssuer(*, client_id="troubleticket-console", client_secret=None, audience="troubleticket",
users=USERS, end_session=True, token_lifetime=300, party_claim="party_id")``:

* ``client_secret``: ``None`` for a public client (PKCE only); otherwise the token endpoint wants
  it (HTTP Basic, or ``client_secret`` in the form).
* ``users``: the people who may sign in, by user name (``User``); ``issuer.users`` may be changed
  while it runs.
* ``end_session``: whether discovery names an ``end_session_endpoint``.
* ``token_lifetime``: seconds until both tokens expire (a ``User`` may set its own).

Its URLs: ``issuer.url`` (the issuer, ``http://127.0.0.1:<port>``, also ``TT_JWT_ISSUER``) and

* ``GET /.well-known/openid-configuration``: discovery (``issuer.discovery_status`` other than
  200 makes it fail).
* ``GET /authorize``: checks client, response type ``code``, PKCE ``S256`` and the ``openid``
  scope, then shows a minimal login form (a ``<select name="user">`` of the users and a submit
  button labelled "Sign in"), which posts to ``POST /authorize``; with ``login_hint=<user>`` it
  redirects at once. Either way: a redirect to ``redirect_uri`` with ``code`` and ``state``.
* ``POST /token``: the authorization code grant, a code used once, within 60 s; enforces the
  client's authentication, the same ``redirect_uri`` and the PKCE S256 verifier.
* ``GET /jwks`` (``issuer.jwks_url``): the public key.
* ``GET /logout``: the end-session endpoint; records the call in ``issuer.logouts`` and redirects
  to ``post_logout_redirect_uri`` (with ``state``).

``issuer.access_token(user)`` gives an access token without the flow (for calls to the API);
``issuer.token_requests`` lists the token requests' forms. ``issuer.id_token_key`` signs the ID
tokens (set another key to test a forged signature).

The users of ``USERS``: ``jane`` (an operator, every scope, role ``incidentManager``), ``rob``
(``troubleTicket:read`` only), ``alpha`` (a partner's user, party ``org-alpha``, read and write),
``nina`` (no scope at all).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.tokens import AUDIENCE, public_jwk, rsa_key
from troubleticket.api.security import ACTIVITIES, ADMIN, HUBS, READ, SCOPES, WRITE
from troubleticket.config import Settings

CLIENT_ID = "troubleticket-console"
KEY_ID = "oidc-rsa-1"
CODE_SECONDS = 60


@dataclass(frozen=True)
class User:
    """Someone who may sign in: the tokens' ``sub`` is the user name."""

    username: str
    name: str
    scopes: tuple[str, ...] = ()
    party: str | None = None  # a partner's user: the party claim of the access token
    roles: tuple[str, ...] = ()
    lifetime: int | None = None  # seconds the tokens last (None: the issuer's)
    # claims added to (or, with None, removed from) the access token and the ID token
    access_claims: Mapping[str, Any] = field(default_factory=dict)
    id_claims: Mapping[str, Any] = field(default_factory=dict)


OPERATOR = User("jane", "Jane Operator", tuple(SCOPES), roles=("incidentManager",))
READER = User("rob", "Rob Reader", (READ,))
PARTNER = User("alpha", "Alpha Desk", (READ, WRITE), party="org-alpha")
NO_SCOPE = User("nina", "Nina Noscope")
USERS = (OPERATOR, READER, PARTNER, NO_SCOPE)
ALL_SCOPES = (READ, WRITE, ADMIN, ACTIVITIES, HUBS)


@dataclass
class _Grant:
    user: User
    redirect_uri: str
    nonce: str | None
    challenge: str
    scope: str
    expires: float


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcIssuer:
    """An OpenID Connect issuer on 127.0.0.1 (see the module's docstring)."""

    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str | None = None,
        audience: str = AUDIENCE,
        users: Iterable[User] = USERS,
        end_session: bool = True,
        token_lifetime: int = 300,
        party_claim: str = "party_id",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.audience = audience
        self.users = {user.username: user for user in users}
        self.end_session = end_session
        self.token_lifetime = token_lifetime
        self.party_claim = party_claim
        self.key = rsa_key()
        self.id_token_key: rsa.RSAPrivateKey = self.key
        self.discovery_status = 200
        self.token_requests: list[dict[str, str]] = []
        self.logouts: list[dict[str, str]] = []
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- running ----------------------------------------------------------------------------

    def __enter__(self) -> OidcIssuer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.issuer = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="oidc-issuer"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    @property
    def url(self) -> str:
        """The issuer (``iss``), which is also where its endpoints are."""
        assert self._server is not None, "the issuer is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    def settings(self, settings: Settings, *, scope: str = "openid") -> Settings:
        """``settings`` with bearer tokens of this issuer required and the console its client."""
        return replace(
            settings,
            auth="jwt",
            jwks=self.jwks_url,
            jwt_issuer=self.url,
            jwt_audience=self.audience,
            jwt_party_claim=self.party_claim,
            console_client_id=self.client_id,
            console_client_secret=self.client_secret,
            console_scope=scope,
        )

    def sign_in(self, authorization_url: str, username: str) -> str:
        """Where the issuer sends the browser back (the client's ``redirect_uri`` with code and
        state) once ``username`` signs in at ``authorization_url``, the form skipped."""
        separator = "&" if "?" in authorization_url else "?"
        url = f"{authorization_url}{separator}{urlencode({'login_hint': username})}"
        with requests.Session() as session:
            session.trust_env = False
            answer = session.get(url, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, (answer.status_code, answer.text)
        return answer.headers["Location"]

    def access_token(self, username: str) -> str:
        """An access token of ``username`` as the sign-in would give (for calls to the API)."""
        grant = _Grant(self.users[username], "", None, "", "openid", time.time())
        token: str = self.tokens(grant)["access_token"]
        return token

    # -- the protocol -----------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": self.jwks_url,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "scopes_supported": ["openid", "profile", *SCOPES],
        }
        if self.end_session:
            document["end_session_endpoint"] = f"{self.url}/logout"
        return document

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.key, KEY_ID)]}

    def authorization_problem(self, params: Mapping[str, str]) -> str | None:
        """What is wrong with an authorization request (an OAuth error code), if anything."""
        if params.get("response_type") != "code":
            return "unsupported_response_type"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "invalid_request"
        if "openid" not in params.get("scope", "").split():
            return "invalid_scope"
        return None

    def grant(self, params: Mapping[str, str], user: User) -> str:
        """A code for ``user`` answering the authorization request ``params``."""
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = _Grant(
                user=user,
                redirect_uri=params["redirect_uri"],
                nonce=params.get("nonce"),
                challenge=params["code_challenge"],
                scope=params.get("scope", ""),
                expires=time.time() + CODE_SECONDS,
            )
        return code

    def exchange(self, form: Mapping[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
        """The token endpoint's answer to ``form`` (an ``error`` key when refused)."""
        self.token_requests.append(dict(form))
        client_id, secret = basic if basic else (form.get("client_id"), form.get("client_secret"))
        if client_id != self.client_id:
            return {"error": "invalid_client"}
        if self.client_secret is not None and not (
            secret and secrets.compare_digest(secret, self.client_secret)
        ):
            return {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return {"error": "unsupported_grant_type"}
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)
        if grant is None or grant.expires < time.time():
            return {"error": "invalid_grant", "error_description": "unknown or used code"}
        if form.get("redirect_uri") != grant.redirect_uri:
            return {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        verifier = form.get("code_verifier", "")
        if not verifier or not secrets.compare_digest(s256(verifier), grant.challenge):
            return {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        return self.tokens(grant)

    def tokens(self, grant: _Grant) -> dict[str, Any]:
        user = grant.user
        now = int(time.time())
        lifetime = user.lifetime if user.lifetime is not None else self.token_lifetime
        access: dict[str, Any] = {
            "iss": self.url,
            "aud": self.audience,
            "sub": user.username,
            "iat": now,
            "exp": now + lifetime,
            "azp": self.client_id,
            "scope": " ".join(user.scopes) or None,
            "roles": list(user.roles) or None,
            self.party_claim: user.party,
            **user.access_claims,
        }
        identity: dict[str, Any] = {
            "iss": self.url,
            "aud": self.client_id,
            "sub": user.username,
            "iat": now,
            "auth_time": now,
            "exp": now + lifetime,
            "azp": self.client_id,
            "nonce": grant.nonce,
            "name": user.name,
            "preferred_username": user.username,
            **user.id_claims,
        }
        return {
            "access_token": self._sign(access, self.key),
            "id_token": self._sign(identity, self.id_token_key),
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": grant.scope,
        }

    @staticmethod
    def _sign(claims: Mapping[str, Any], key: rsa.RSAPrivateKey) -> str:
        body = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": KEY_ID})

    def login_form(self, params: Mapping[str, str]) -> str:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k != "login_hint"
        )
        options = "".join(
            f'<option value="{html.escape(u.username)}">{html.escape(u.name)} '
            f"({html.escape(u.username)})</option>"
            for u in self.users.values()
        )
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>Sign in · test issuer</title></head><body><h1>Sign in</h1>"
            f'<form method="post" action="/authorize">{hidden}'
            f'<label for="user">User</label> <select id="user" name="user">{options}</select> '
            '<button type="submit">Sign in</button></form></body></html>'
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    issuer: OidcIssuer


def _single(values: Mapping[str, list[str]]) -> dict[str, str]:
    return {name: items[0] for name, items in values.items() if items}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass

    @property
    def issuer(self) -> OidcIssuer:
        return self.server.issuer

    # -- answers ----------------------------------------------------------------------------

    def _send(
        self, status: int, body: bytes, media: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, document: Mapping[str, Any]) -> None:
        self._send(status, json.dumps(document).encode(), "application/json")

    def _html(self, status: int, page: str) -> None:
        self._send(status, page.encode(), "text/html; charset=utf-8")

    def _redirect(self, status: int, location: str) -> None:
        self._send(status, b"", "text/plain", {"Location": location})

    def _back(self, status: int, params: Mapping[str, str], answer: Mapping[str, str]) -> None:
        """Back to the client's redirect URI with ``answer`` (and the request's state)."""
        if "state" in params:
            answer = {**answer, "state": params["state"]}
        uri = params["redirect_uri"]
        self._redirect(status, f"{uri}{'&' if '?' in uri else '?'}{urlencode(answer)}")

    # -- requests ---------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        parts = urlsplit(self.path)
        params = _single(parse_qs(parts.query))
        if parts.path == "/.well-known/openid-configuration":
            if self.issuer.discovery_status != 200:
                self._json(self.issuer.discovery_status, {"error": "unavailable"})
            else:
                self._json(200, self.issuer.discovery())
        elif parts.path == "/jwks":
            self._json(200, self.issuer.jwks())
        elif parts.path == "/authorize":
            self._authorize(params, params.get("login_hint"), status=302)
        elif parts.path == "/logout":
            self.issuer.logouts.append(params)
            target = params.get("post_logout_redirect_uri")
            if target:
                state = {"state": params["state"]} if "state" in params else {}
                self._redirect(302, f"{target}?{urlencode(state)}" if state else target)
            else:
                self._html(200, "<!doctype html><title>Signed out</title><p>Signed out</p>")
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        form = _single(parse_qs(self.rfile.read(length).decode("utf-8")))
        path = urlsplit(self.path).path
        if path == "/authorize":
            user = form.pop("user", None)
            self._authorize(form, user or "", status=303)
        elif path == "/token":
            answer = self.issuer.exchange(form, self._basic())
            self._json(400 if "error" in answer else 200, answer)
        else:
            self._json(404, {"error": "not_found"})

    def _basic(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        decoded = base64.b64decode(header[6:]).decode("utf-8")
        client_id, _, secret = decoded.partition(":")
        # RFC 6749 2.3.1: each form-encoded before base64
        return unquote_plus(client_id), unquote_plus(secret)

    def _authorize(self, params: Mapping[str, str], username: str | None, *, status: int) -> None:
        issuer = self.issuer
        if params.get("client_id") != issuer.client_id or not params.get("redirect_uri"):
            self._html(400, "<!doctype html><title>Unknown client</title><p>Unknown client</p>")
            return
        problem = issuer.authorization_problem(params)
        if problem is not None:
            self._back(status, params, {"error": problem})
            return
        user = issuer.users.get(username or "")
        if user is None:
            self._html(200, issuer.login_form(params))
            return
        self._back(status, params, {"code": issuer.grant(params, user)})
