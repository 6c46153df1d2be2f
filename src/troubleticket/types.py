"""Type aliases shared across the package."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

# A TMF JSON document as it travels over the wire and into the store.
JSON = dict[str, Any]

# Returns the current instant (timezone-aware, UTC). Services take one so tests can freeze time.
Clock = Callable[[], datetime]

# Returns a new, unique resource identifier.
IdFactory = Callable[[], str]


# The integers a store keeps exactly (BSON's and SQLite's are signed 64-bit): a request with an
# integer beyond them is refused, never stored rounded.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
