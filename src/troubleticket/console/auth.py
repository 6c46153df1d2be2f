"""Who is looking at the console, and what they may do: the same caller model as the API.

A console request is answered for a ``Caller``: the ``Context`` the services are given (actor,
roles, the party a partner is restricted to) and the scopes the caller holds. Every page reads
through the services with that context, so a partner sees only its tickets; every action needs
the scope of the API operation it is (``needs``), so a read-only caller cannot act.

``ConsoleAuth`` finds the caller of a request. Without authentication (``TT_AUTH=none``, the
server on loopback) everyone is the operator, with every scope, as at the API. With
``TT_AUTH=jwt`` the console signs people in with OpenID Connect (``console.oidc``).

Actions are form posts; each carries the token ``csrf_token`` gives for the caller's session,
which ``check_csrf`` compares (besides the session cookie being ``SameSite``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from troubleticket.context import Context
from troubleticket.domain.errors import Forbidden

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True, slots=True)
class Caller:
    """The person (or partner) a console request is answered for."""

    context: Context
    scopes: frozenset[str]
    name: str  # shown in the page header
    session: str  # what the CSRF token is bound to (a session id)

    def may(self, scope: str | None) -> bool:
        """Whether the caller holds ``scope`` (``None``: an operation that needs none)."""
        return scope is None or scope in self.scopes


class ConsoleAuth(Protocol):
    """How the console finds who asks."""

    async def caller(self, request: Request) -> Caller | Response:
        """The caller of ``request``, or the answer that gets one (a redirect to sign in)."""
        ...

    def routes(self) -> list[BaseRoute]:
        """The routes signing in and out needs (under the console's prefix)."""
        ...

    def csrf_token(self, caller: Caller) -> str:
        """The token the caller's forms carry."""
        ...


class CsrfTokens:
    """Synchronizer tokens: an HMAC of the caller's session under the console's key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @property
    def key(self) -> bytes:
        """The console's key, which also signs its cookies (``console.oidc``)."""
        return self._key

    def token(self, caller: Caller) -> str:
        return hmac.new(self._key, caller.session.encode(), hashlib.sha256).hexdigest()

    def check(self, caller: Caller, sent: str | None) -> None:
        """Raises: Forbidden: ``sent`` is not the caller's token."""
        if not sent or not hmac.compare_digest(sent, self.token(caller)):
            raise Forbidden("The form is stale or was not sent from the console; reload the page")


class OperatorAuth:
    """No authentication: the server listens on loopback only and everyone is the operator."""

    def __init__(self, scopes: Iterable[str], csrf: CsrfTokens) -> None:
        self._caller = Caller(
            context=Context(actor="operator"),
            scopes=frozenset(scopes),
            name="operator",
            session="operator",
        )
        self._csrf = csrf

    async def caller(self, request: Request) -> Caller | Response:
        return self._caller

    def routes(self) -> list[BaseRoute]:
        return []

    def csrf_token(self, caller: Caller) -> str:
        return self._csrf.token(caller)
