"""The coordination console: what the people on shift look at in a browser, served by the same
process at ``/console`` (docs/console.md).

Server-rendered HTML (Jinja2 templates under ``templates/``) with htmx (vendored under
``static/vendor/``) for the live board. ``pages`` holds the pages and actions, ``reads`` what
they read through the services, ``views`` and ``charts`` what they show, ``actions`` what the
forms send, ``events`` the live board's stream, ``auth`` (and ``oidc``) who is looking.
``ConsoleMiddleware`` hands the console's paths to it, in front of the API; ``build_console``
builds it for the settings (``None``: no console).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from troubleticket.api.middleware import CONSOLE_CSP
from troubleticket.api.security import OPERATION_SCOPES
from troubleticket.console.auth import ConsoleAuth, CsrfTokens, OperatorAuth
from troubleticket.console.events import DEFAULT_TIMES, StreamTimes
from troubleticket.console.pages import PREFIX, Console

if TYPE_CHECKING:
    from troubleticket.api.callers import Callers
    from troubleticket.api.tokens import TokenVerifier
    from troubleticket.bootstrap import Runtime
    from troubleticket.config import Settings

__all__ = [
    "DEFAULT_OPTIONS",
    "PREFIX",
    "Console",
    "ConsoleMiddleware",
    "ConsoleOptions",
    "StreamTimes",
    "build_console",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConsoleOptions:
    """How ``create_app`` builds the console beyond the settings: the live board's timing, and
    who is looking (``auth``: made with the console's form tokens; ``None``: as the settings
    say — everyone the operator without authentication, signed in with OpenID Connect under
    ``TT_AUTH=jwt``)."""

    stream: StreamTimes = DEFAULT_TIMES
    auth: Callable[[CsrfTokens], ConsoleAuth] | None = None


DEFAULT_OPTIONS = ConsoleOptions()


def build_console(
    settings: Settings,
    run: Runtime,
    *,
    scopes: Mapping[str, str],
    verifier: TokenVerifier | None,
    callers: Callers,
    options: ConsoleOptions = DEFAULT_OPTIONS,
) -> Console | None:
    """The console for these settings, or ``None`` when there is none: ``TT_CONSOLE`` off, or
    ``TT_AUTH=jwt`` without ``TT_CONSOLE_CLIENT_ID`` (nobody could sign in; a warning says so).

    ``scopes``: the scope each API operation needs as served (empty without tokens: the
    defaults); ``verifier``: the served contract's token checks (with ``TT_AUTH=jwt``).
    """
    if not settings.console:
        return None
    tokens = settings.auth == "jwt"
    if options.auth is None and tokens and not settings.console_client_id:
        logger.warning(
            "the console at %s is off: with TT_AUTH=jwt people sign in to it with OpenID "
            "Connect, which needs TT_CONSOLE_CLIENT_ID (and TT_CONSOLE_CLIENT_SECRET for a "
            "confidential client); TT_CONSOLE=0 turns it off without this warning",
            PREFIX,
        )
        return None
    if settings.console_secret is None:
        # one key per start: forms and sessions of an earlier start are no longer taken
        settings = replace(settings, console_secret=secrets.token_urlsafe(32))
    assert settings.console_secret is not None
    csrf = CsrfTokens(settings.console_secret.encode())
    table = dict(scopes) or dict(OPERATION_SCOPES)
    auth: ConsoleAuth
    csp = CONSOLE_CSP
    if options.auth is not None:
        auth = options.auth(csrf)
    elif tokens:
        from troubleticket.console.oidc import OidcAuth  # only under TT_AUTH=jwt

        assert verifier is not None and settings.jwt_issuer is not None
        auth = OidcAuth(settings, verifier, callers, csrf)
        csp = signing_out_to(settings.jwt_issuer)
    else:
        auth = OperatorAuth(set(table.values()), csrf)
    return Console(run, auth, csrf, scopes=table, tokens=tokens, stream=options.stream, csp=csp)


def signing_out_to(issuer: str) -> str:
    """The console's CSP when signing out ends at the issuer: the sign-out form's answer
    redirects there (its end-session endpoint), which ``form-action`` must allow."""
    parts = urlsplit(issuer)
    origin = f"{parts.scheme}://{parts.netloc}"
    return CONSOLE_CSP.replace("form-action 'self'", f"form-action 'self' {origin}")


class ConsoleMiddleware:
    """Hand ``/console`` and everything under it to the console; the rest goes on to the API."""

    def __init__(self, app: ASGIApp, *, console: ASGIApp) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.console(scope, receive, send)
            return
        await self.app(scope, receive, send)
