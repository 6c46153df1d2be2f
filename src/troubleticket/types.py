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
    """Who asks for a change: an actor and roles, as a trusted gateway in front tells them."""

    actor: str | None = None
    roles: frozenset[str] = frozenset()


NO_CONTEXT = Context()
"""A change nobody in particular asked for: no actor, no roles."""
