"""Signing in to the console with OpenID Connect (``TT_AUTH=jwt``).

The console is a client of the issuer the API trusts (``TT_JWT_ISSUER``): the authorization code
flow with PKCE (S256), as client ``TT_CONSOLE_CLIENT_ID`` (confidential with
``TT_CONSOLE_CLIENT_SECRET``, otherwise public, PKCE alone), asking for ``TT_CONSOLE_SCOPE``
(``openid`` added when it lacks it), redirected back to ``{TT_BASE_URL}/console/callback``.
Authlib does the protocol: discovery (fetched when first needed, then kept), the authorization
URL with state, nonce and code challenge, the token request, and the ID token's checks (the
issuer's signature by its JWKS, ``iss``, ``aud`` = the client id, ``exp``, ``nonce``).

The access token that comes with it must then pass the API's own ``TokenVerifier`` (issuer,
audience, algorithms, lifetime, the party claim) and grant the scope the ticket list needs: a
token the API would refuse opens no console session. The session is a signed, timestamped
cookie holding what a ``Caller`` is made of (subject, name, scopes, roles, party, a random
session id the forms' CSRF tokens are bound to) and lasting until the access token expires;
the access token itself is not kept.

* ``GET /console/login?next=/console/…`` → 302 to the issuer; the state, nonce, code verifier
  and where to go afterwards (a path under /console only) ride in a cookie signed for 10 min.
* ``GET /console/callback`` → the checks above, the session cookie, 303 to ``next``.
* ``POST /console/logout`` (with the form's ``csrf`` field) → the session cleared, 303 to the
  issuer's ``end_session_endpoint`` when it has one, else to ``/console/signed-out``.

Both cookies are ``HttpOnly``, ``SameSite=Lax``, ``Path=/console`` and ``Secure`` when
``TT_BASE_URL`` is https. Without a session a page is redirected to sign in (htmx's requests get
401 and ``HX-Redirect``), a form post or an event stream gets 401.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from functools import partial
from html import escape
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import jwt
import requests
from authlib.integrations.base_client import (  # type: ignore[import-untyped]
    BaseApp,
    FrameworkIntegration,
    OAuth2Mixin,
    OAuthError,
    OpenIDMixin,
)
from authlib.integrations.requests_client import (  # type: ignore[import-untyped]
    OAuth2Session,
)
from itsdangerous import BadData, URLSafeTimedSerializer
from joserfc.errors import JoseError  # what Authlib's ID-token checks raise (its JOSE library)
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from troubleticket.api.callers import Callers
from troubleticket.api.tokens import InvalidToken, TokenVerifier
from troubleticket.config import ConfigError, Settings
from troubleticket.console.auth import CSRF_FIELD, Caller, CsrfTokens
from troubleticket.domain.errors import Forbidden

logger = logging.getLogger(__name__)

PREFIX = "/console"
HOME = f"{PREFIX}/"
LOGIN = f"{PREFIX}/login"
CALLBACK = f"{PREFIX}/callback"
LOGOUT = f"{PREFIX}/logout"
SIGNED_OUT = f"{PREFIX}/signed-out"

SESSION_COOKIE = "tt_console"
FLOW_COOKIE = "tt_console_sign_in"
FLOW_SECONDS = 600  # how long a sign-in may take at the issuer
# The most a session cookie is believed for, whatever the access token's lifetime.
SESSION_MAX_SECONDS = 24 * 3600
# A browser keeps a cookie of at most 4096 bytes, its name and attributes included.
COOKIE_VALUE_LIMIT = 3800
HTTP_TIMEOUT = 10.0  # seconds, for each call to the issuer
# The console's board lists tickets: a session needs the scope that operation needs.
BOARD_OPERATION = "listTroubleTicket"

_FLOW_SALT = "troubleticket.console.sign-in"
_SESSION_SALT = "troubleticket.console.session"
_NOT_NEXT = frozenset({LOGIN, CALLBACK, LOGOUT})


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: ``raw`` when it is a path under /console (a query kept),
    else the console's home. Never another host, scheme or part of the server."""
    if not raw or len(raw) > 2048 or "\\" in raw or raw.startswith("//"):
        return HOME
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in raw):
        return HOME
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or parts.fragment:
        return HOME
    path = parts.path
    if path != PREFIX and not path.startswith(HOME):
        return HOME
    if {".", ".."} & set(unquote(path).split("/")) or path in _NOT_NEXT:
        return HOME
    return raw


class _Unavailable(Exception):
    """The issuer cannot be reached or told us something unusable: sign-in waits for it."""


class _Provider(OAuth2Mixin, OpenIDMixin, BaseApp):  # type: ignore[misc]
    """Authlib's OpenID Connect client over ``requests``, whose calls run in a worker thread
    (Authlib's async client is on httpx, for which it now warns that httpx is deprecated)."""

    client_cls = OAuth2Session


def _page(
    status: int, title: str, message: str, *, link: tuple[str, str] | None = None
) -> Response:
    """A small HTML page of its own (no console chrome: the caller may be nobody yet)."""
    more = f'<p><a href="{escape(link[0])}">{escape(link[1])}</a></p>' if link else ""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · Trouble tickets</title></head>"
        f"<body><main><h1>{escape(title)}</h1><p>{escape(message)}</p>{more}</main></body></html>"
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


_START_AGAIN = (LOGIN, "Sign in again")


class OidcAuth:
    """The console's ``ConsoleAuth`` with ``TT_AUTH=jwt``: OpenID Connect sign-in at the API's
    issuer, sessions in a signed cookie."""

    def __init__(
        self, settings: Settings, verifier: TokenVerifier, callers: Callers, csrf: CsrfTokens
    ) -> None:
        """Raises:
        ConfigError: no issuer, or no console client id.
        """
        if not settings.jwt_issuer:
            raise ConfigError("the console's sign-in needs TT_JWT_ISSUER")
        if not settings.console_client_id:
            raise ConfigError(
                "TT_AUTH=jwt: the console signs people in as an OpenID Connect client: set "
                "TT_CONSOLE_CLIENT_ID (see docs/console.md), or TT_CONSOLE=0"
            )
        self._verifier = verifier
        self._callers = callers
        self._csrf = csrf
        self._issuer = settings.jwt_issuer
        self._client_id = settings.console_client_id
        base = settings.public_base_url.rstrip("/")
        self._redirect_uri = f"{base}{CALLBACK}"
        self._signed_out_uri = f"{base}{SIGNED_OUT}"
        self._secure = base.startswith("https://")
        scope = settings.console_scope.split()
        if "openid" not in scope:
            scope.insert(0, "openid")
        self._discovery = f"{self._issuer.rstrip('/')}/.well-known/openid-configuration"
        self._provider = _Provider(
            FrameworkIntegration("console"),
            name="console",
            client_id=self._client_id,
            client_secret=settings.console_client_secret or None,
            server_metadata_url=self._discovery,
            client_kwargs={
                "scope": " ".join(scope),
                "code_challenge_method": "S256",
                "default_timeout": HTTP_TIMEOUT,
            },
        )
        sha256 = {"digest_method": hashlib.sha256}  # HMAC-SHA256 rather than the default SHA-1
        self._flows = URLSafeTimedSerializer(csrf.key, salt=_FLOW_SALT, signer_kwargs=sha256)
        self._sessions = URLSafeTimedSerializer(csrf.key, salt=_SESSION_SALT, signer_kwargs=sha256)

    # -- ConsoleAuth ------------------------------------------------------------------------

    async def caller(self, request: Request) -> Caller | Response:
        session = self._session_of(request)
        if session is not None:
            return self._caller_of(session)
        response = self._sign_in_first(request)
        if SESSION_COOKIE in request.cookies:
            self._clear(response, SESSION_COOKIE)
        return response

    @staticmethod
    def _sign_in_first(request: Request) -> Response:
        """The answer to a request without a session: a page is redirected to sign in (and back
        to it afterwards), a fragment the page's script asked for sends the whole page there
        (``HX-Redirect``), an event stream or a form post is 401."""
        url = request.url
        page = url.path + (f"?{url.query}" if url.query else "")
        if request.headers.get("hx-request") == "true":
            shown = urlsplit(request.headers.get("hx-current-url", ""))
            page = shown.path + (f"?{shown.query}" if shown.query else "") if shown.path else HOME
            login = f"{LOGIN}?next={quote(safe_next(page), safe='')}"
            return Response(status_code=401, headers={"HX-Redirect": login})
        streaming = "text/event-stream" in request.headers.get("accept", "")
        if request.method in ("GET", "HEAD") and not streaming:
            login = f"{LOGIN}?next={quote(safe_next(page), safe='')}"
            return RedirectResponse(login, status_code=302)
        return _page(
            401,
            "Signed out",
            "Your console session has ended; sign in again, then repeat what you did.",
            link=(LOGIN, "Sign in"),
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/login", self._login, methods=["GET"]),
            Route("/callback", self._callback, methods=["GET"]),
            Route("/logout", self._logout, methods=["POST"]),
            Route("/signed-out", self._signed_out, methods=["GET"]),
        ]

    def csrf_token(self, caller: Caller) -> str:
        return self._csrf.token(caller)

    # -- the routes -------------------------------------------------------------------------

    async def _login(self, request: Request) -> Response:
        after = safe_next(request.query_params.get("next"))
        try:
            await self._metadata()
            started = await run_in_threadpool(
                self._provider.create_authorization_url, self._redirect_uri
            )
        except _Unavailable:
            return _unavailable()
        flow = {
            "state": started["state"],
            "nonce": started["nonce"],
            "verifier": started["code_verifier"],
            "next": after,
        }
        response = RedirectResponse(started["url"], status_code=302)
        self._set(response, FLOW_COOKIE, self._flows.dumps(flow), FLOW_SECONDS)
        return response

    async def _callback(self, request: Request) -> Response:
        flow = self._flow_of(request)
        response = await self._complete(request.query_params, flow)
        # a sign-in's state is good for one answer, whichever it was
        if FLOW_COOKIE in request.cookies:
            self._clear(response, FLOW_COOKIE)
        return response

    async def _logout(self, request: Request) -> Response:
        session = self._session_of(request)
        target = SIGNED_OUT
        if session is not None:
            async with request.form() as form:
                sent = form.get(CSRF_FIELD)
            try:
                self._csrf.check(self._caller_of(session), sent if isinstance(sent, str) else None)
            except Forbidden as exc:
                return _page(403, "Not signed out", str(exc), link=(HOME, "Back to the console"))
            target = await self._end_session_url() or SIGNED_OUT
        response = RedirectResponse(target, status_code=303)
        self._clear(response, SESSION_COOKIE)
        return response

    async def _signed_out(self, _request: Request) -> Response:
        return _page(
            200,
            "Signed out",
            "You are signed out of the trouble ticket console.",
            link=_START_AGAIN,
        )

    # -- signing in -------------------------------------------------------------------------

    async def _complete(self, params: Mapping[str, str], flow: dict[str, str] | None) -> Response:
        """The callback's answer: a session and a redirect, or a page saying why not."""
        if flow is None:
            return _page(
                400,
                "Sign-in not recognised",
                "This sign-in was not started from this browser, or took longer than 10 "
                "minutes. Start again.",
                link=_START_AGAIN,
            )
        if not hmac.compare_digest(params.get("state", "").encode(), flow["state"].encode()):
            logger.warning("console sign-in refused: the callback's state is not the sign-in's")
            return _page(
                400,
                "Sign-in not recognised",
                "The answer from the sign-in service does not belong to the sign-in this browser "
                "started. Start again.",
                link=_START_AGAIN,
            )
        if "error" in params:
            logger.info(
                "console sign-in ended at the issuer: %s %s",
                params["error"],
                params.get("error_description", ""),
            )
            return _page(
                400,
                "Not signed in",
                f"The sign-in service did not sign you in ({params['error']}).",
                link=_START_AGAIN,
            )
        code = params.get("code")
        if not code:
            return _page(400, "Not signed in", "The answer carries no code.", link=_START_AGAIN)
        try:
            token = await run_in_threadpool(
                partial(
                    self._provider.fetch_access_token,
                    redirect_uri=self._redirect_uri,
                    code=code,
                    code_verifier=flow["verifier"],
                )
            )
            identity = await run_in_threadpool(
                partial(
                    self._provider.parse_id_token,
                    token,
                    nonce=flow["nonce"],
                    claims_options={
                        "iss": {"essential": True, "values": [self._issuer]},
                        "aud": {"essential": True, "values": [self._client_id]},
                    },
                )
            )
        except OAuthError as exc:
            logger.warning("console sign-in refused by the issuer's token endpoint: %s", exc)
            return _page(
                400,
                "Not signed in",
                "The sign-in service would not complete the sign-in. Start again.",
                link=_START_AGAIN,
            )
        except requests.RequestException as exc:
            logger.warning("console sign-in: the issuer cannot be reached: %s", exc)
            return _unavailable()
        except (JoseError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            logger.warning("console sign-in refused: the ID token is not valid: %r", exc)
            return _refused("The sign-in service's answer could not be verified.")
        if identity is None:
            logger.warning("console sign-in refused: the issuer sent no ID token")
            return _refused("The sign-in service's answer could not be verified.")
        return await self._open_session(token.get("access_token"), identity, flow["next"])

    async def _open_session(
        self, access: object, identity: Mapping[str, Any], after: str
    ) -> Response:
        """The session of an access token the API accepts (as the API checks it)."""
        if not isinstance(access, str):
            logger.warning("console sign-in refused: the issuer sent no access token")
            return _refused("The sign-in service sent no access token.")
        try:
            info = await run_in_threadpool(self._verifier.token_info, access)
        except InvalidToken as exc:
            logger.warning("console sign-in refused: the access token: %s", exc.message)
            return _refused(f"The API does not accept your access token: {exc.public}.")
        # verified just now: its claims are the issuer's
        expires = jwt.decode(access, options={"verify_signature": False}).get("exp")
        subject = info["sub"]
        if identity.get("sub") != subject:
            logger.warning("console sign-in refused: the ID and access tokens name other subjects")
            return _refused("The ID token and the access token name different people.")
        now = time.time()
        if not isinstance(expires, int | float) or expires <= now:
            logger.warning("console sign-in refused: the access token expired at once (clocks?)")
            return _refused("Your access token has already expired; check the servers' clocks.")
        # (the context computes the scope the operation needs, TT_SCOPES overrides included)
        needed = self._callers.context_of({}, info, BOARD_OPERATION).scope
        if needed is not None and needed not in info["scope"]:
            logger.warning("console sign-in refused: %s lacks the scope %s", subject, needed)
            return _page(
                403,
                "No access to the console",
                f"Your sign-in does not grant {needed}, which the console needs.",
                link=_START_AGAIN,
            )
        name = identity.get("name") or identity.get("preferred_username") or subject
        session = {
            "sid": secrets.token_urlsafe(18),
            "sub": subject,
            "name": str(name),
            "scope": list(info["scope"]),
            "roles": list(info["roles"]),
            "party": info["party"],
            "exp": int(expires),
        }
        value = self._sessions.dumps(session)
        if len(value) > COOKIE_VALUE_LIMIT:
            logger.warning(
                "console sign-in refused: %s's session (%d bytes) exceeds a cookie",
                subject,
                len(value),
            )
            return _page(
                400,
                "Not signed in",
                "Your sign-in carries more roles and scopes than a browser cookie holds.",
            )
        response = RedirectResponse(after, status_code=303)
        self._set(response, SESSION_COOKIE, value, max(1, int(expires - now)))
        logger.info("console sign-in: %s", subject)
        return response

    async def _metadata(self) -> Mapping[str, Any]:
        """The issuer's discovery document, fetched once (again after a failure).

        Raises:
            _Unavailable: it cannot be fetched, or is not this issuer's.
        """
        try:
            metadata: dict[str, Any] = await run_in_threadpool(self._provider.load_server_metadata)
        except (requests.RequestException, ValueError) as exc:
            logger.warning("console sign-in: the discovery at %s failed: %s", self._discovery, exc)
            self._provider.server_metadata.clear()
            raise _Unavailable from None
        missing = [
            name
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
            if not isinstance(metadata.get(name), str)
        ]
        if metadata.get("issuer") != self._issuer or missing:
            logger.warning(
                "console sign-in: the discovery at %s is unusable (issuer %r, missing %s)",
                self._discovery,
                metadata.get("issuer"),
                ", ".join(missing) or "nothing",
            )
            self._provider.server_metadata.clear()
            raise _Unavailable
        return metadata

    async def _end_session_url(self) -> str | None:
        """Where the issuer ends its own session (RP-initiated logout), if it says."""
        try:
            metadata = await self._metadata()
        except _Unavailable:
            return None
        if not isinstance(metadata.get("end_session_endpoint"), str):
            return None
        made = self._provider.create_logout_url(
            post_logout_redirect_uri=self._signed_out_uri, client_id=self._client_id
        )
        return str(made["url"])

    # -- cookies ----------------------------------------------------------------------------

    def _flow_of(self, request: Request) -> dict[str, str] | None:
        raw = request.cookies.get(FLOW_COOKIE)
        if not raw:
            return None
        try:
            flow = self._flows.loads(raw, max_age=FLOW_SECONDS)
        except BadData:
            return None
        names = ("state", "nonce", "verifier", "next")
        if not isinstance(flow, dict) or not all(isinstance(flow.get(n), str) for n in names):
            return None
        return {name: flow[name] for name in names}

    def _session_of(self, request: Request) -> dict[str, Any] | None:
        """The request's session: signed by us, well formed and unexpired; else ``None``."""
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            session = self._sessions.loads(raw, max_age=SESSION_MAX_SECONDS)
        except BadData:
            return None
        if not (
            isinstance(session, dict)
            and all(isinstance(session.get(n), str) for n in ("sid", "sub", "name"))
            and _strings(session.get("scope"))
            and _strings(session.get("roles"))
            and (session.get("party") is None or isinstance(session.get("party"), str))
            and isinstance(session.get("exp"), int)
        ):
            return None
        if session["exp"] <= time.time():
            return None
        return session

    def _caller_of(self, session: Mapping[str, Any]) -> Caller:
        info = {
            "sub": session["sub"],
            "scope": session["scope"],
            "roles": session["roles"],
            "party": session["party"],
        }
        return Caller(
            context=self._callers.context_of({}, info),
            scopes=frozenset(session["scope"]),
            name=session["name"],
            session=session["sid"],
        )

    def _set(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=PREFIX,
            secure=self._secure,
            httponly=True,
            samesite="lax",
        )

    def _clear(self, response: Response, name: str) -> None:
        response.delete_cookie(
            name, path=PREFIX, secure=self._secure, httponly=True, samesite="lax"
        )


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _refused(message: str) -> Response:
    return _page(401, "Not signed in", message, link=_START_AGAIN)


def _unavailable() -> Response:
    return _page(
        503,
        "Sign-in unavailable",
        "The sign-in service cannot be reached just now; try again in a moment.",
        link=_START_AGAIN,
    )
