"""Who asks, and which request: the ``Context`` every use case is given, and the id of the
request being handled (set by ``api.middleware.RequestIdMiddleware``, named in error bodies, log
lines and audit records)."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass

from troubleticket.types import JSON

REQUEST_ID_HEADER = "X-Request-ID"
_current: ContextVar[str | None] = ContextVar("request_id", default=None)
# What the request's log line says beyond the HTTP facts: filled in while it is handled.
_facts: ContextVar[dict[str, str] | None] = ContextVar("request_facts", default=None)
# A request id a client or a proxy sends is kept when it is this plain; otherwise one is made.
_SANE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def current_request_id() -> str | None:
    """The id of the request being handled (``None`` outside a request)."""
    return _current.get()


def request_id_for(sent: str | None) -> str:
    """The id of a request that sent ``sent`` as its X-Request-ID: that, if plain, or a new one."""
    return sent if sent is not None and _SANE_ID.fullmatch(sent) else uuid.uuid4().hex


Bound = tuple[Token[str | None], Token[dict[str, str] | None]]


def bind(request_id: str, facts: dict[str, str] | None = None) -> Bound:
    """Make ``request_id`` current, with ``facts`` to collect what ``note`` is told; returns
    what ``unbind`` needs."""
    return _current.set(request_id), _facts.set(facts)


def unbind(token: Bound) -> None:
    _current.reset(token[0])
    _facts.reset(token[1])


def note(**facts: str | None) -> None:
    """Tell the current request's log line these facts (``None`` ones are left out)."""
    collected = _facts.get()
    if collected is not None:
        collected.update({k: v for k, v in facts.items() if v is not None})


@dataclass(frozen=True, slots=True)
class Context:
    """Who asks: an actor and roles (from a bearer token, or a trusted gateway in front), the
    party a partner's request is restricted to (a PartyRef: it sees only the tickets it is party
    to), the scope that let the request in, and the request's id (``None``: no request, the
    server's own change)."""

    actor: str | None = None
    roles: frozenset[str] = frozenset()
    party: JSON | None = None
    scope: str | None = None
    request_id: str | None = None

    @property
    def party_id(self) -> str | None:
        return None if self.party is None else str(self.party["id"])


NO_CONTEXT = Context()
"""A change nobody in particular asked for: no actor, no roles."""
