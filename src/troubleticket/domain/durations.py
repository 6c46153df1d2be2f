"""Durations, written one way wherever they are given: ``TT_*`` settings and their flags, the
service policy and partner files, and the command line (``--within``).

* a number of seconds: ``90``, ``0.25``;
* numbers with units, added up: ``250ms``, ``90s``, ``15m``, ``4h``, ``1d``, ``1w``, ``1h30m``;
* ISO 8601: ``PT4H``, ``PT1H30M``, ``P1DT2H``.

At most ten years (longer is a mistake, and would overflow date arithmetic).
"""

from __future__ import annotations

import re
from typing import Any

MAX_DURATION = 10 * 366 * 86400.0
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_COMPACT = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)")
_ISO = re.compile(
    r"P(?:(?P<d>[0-9]+(?:\.[0-9]+)?)D)?"
    r"(?:T(?:(?P<h>[0-9]+(?:\.[0-9]+)?)H)?(?:(?P<m>[0-9]+(?:\.[0-9]+)?)M)?"
    r"(?:(?P<s>[0-9]+(?:\.[0-9]+)?)S)?)?"
)
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
GRAMMAR = "a duration such as 90, 90s, 15m, 4h, 1d, 1h30m or PT4H"


def parse_duration(raw: Any, *, zero: bool = False) -> float | None:
    """The seconds ``raw`` (a string or a number) says, or ``None`` when it says none; ``zero``:
    whether no time at all is a duration here (a first retry's delay, a leeway)."""
    seconds = _seconds(raw)
    if seconds is None or seconds > MAX_DURATION or (seconds == 0 and not zero):
        return None
    return seconds


def _seconds(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw) if raw >= 0 else None
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    if _NUMBER.fullmatch(text):
        return float(text)
    iso = _ISO.fullmatch(text)
    if iso and text not in ("P", "PT") and not text.endswith("T"):
        parts = {k: float(v) for k, v in iso.groupdict().items() if v is not None}
        total = parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600
        return total + parts.get("m", 0) * 60 + parts.get("s", 0)
    position, total = 0, 0.0
    for found in _COMPACT.finditer(text):
        if found.start() != position:
            return None
        total += float(found.group(1)) * _UNIT[found.group(2)]
        position = found.end()
    return total if position == len(text) else None
