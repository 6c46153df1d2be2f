"""Type aliases shared across the package."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# A TMF JSON document as it travels over the wire and into the store.
JSON = dict[str, Any]

# Returns the current instant (timezone-aware, UTC). Services take one so tests can freeze time.
Clock = Callable[[], datetime]

# Returns a new, unique resource identifier.
IdFactory = Callable[[], str]


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

# The integers a store keeps exactly (BSON's and SQLite's are signed 64-bit): a request with an
# integer beyond them is refused, never stored rounded.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
