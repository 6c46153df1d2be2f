"""JSON text from outside (request bodies, paging cursors) parsed strictly: what no store can keep
is refused here, before anything is written or queried with it.

orjson parses (fast, and it refuses lone surrogates, ``NaN``, numbers beyond a double and nesting
over 1024 levels); a text with a number of 19 digits or more is parsed again exactly, to refuse
integers beyond signed 64 bits (BSON's and SQLite's) rather than keep them rounded or fail to
store them. Nesting deeper than ``MAX_DEPTH`` is refused too: no TMF resource needs it, and the
recursive code after the parse (validation, encoding) would spend its stack on it. A refusal is
explained by the standard library's message where that names the cause.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from troubleticket.types import INT64_MAX, INT64_MIN

MAX_DEPTH = 64
# A number with this many digits may be an integer beyond 64 bits: checked exactly.
_LONG_NUMBER = re.compile(r"[0-9]{19}")


class NotKept(ValueError):
    """The text is not JSON, or holds what no store keeps; the message says which."""


def loads(text: str) -> Any:
    """The value of a JSON text.

    Raises:
        NotKept: not JSON, a lone surrogate, a number a store cannot keep (non-finite, an
            integer beyond 64 bits), or nested more than ``MAX_DEPTH`` levels.
    """
    try:
        value = orjson.loads(text)
        if _LONG_NUMBER.search(text) is not None:
            _exact(text)
    except (ValueError, RecursionError) as exc:  # orjson's JSONDecodeError included
        raise NotKept(_reason(text, exc)) from None
    # brackets bound the depth: only a text with many of them is walked
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise NotKept(f"it is nested more than {MAX_DEPTH} levels deep")
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is beyond the range of a double")
    return value


def _int64(text: str) -> int:
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"the integer {text[:40]} is beyond the signed 64-bit range")
    return value


def _exact(text: str) -> Any:
    """The standard library's parse, refusing what no store can keep."""
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite, parse_int=_int64)


def _depth(value: Any) -> int:
    """How many arrays and objects deep ``value`` nests (without recursion)."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            node = list(node.values())
        elif not isinstance(node, list):
            continue
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        pending.extend((item, depth + 1) for item in node if isinstance(item, dict | list))
    return deepest


def _reason(text: str, exc: Exception) -> str:
    if "depth limit" in str(exc) or isinstance(exc, RecursionError):
        return "it is nested too deeply"
    if isinstance(exc, orjson.JSONDecodeError):
        try:
            _exact(text)
        except RecursionError:
            return "it is nested too deeply"
        except ValueError as stricter:  # JSONDecodeError included
            return str(stricter)
    return str(exc)
