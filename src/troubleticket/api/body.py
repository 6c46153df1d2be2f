"""Request bodies: strict JSON decoding and validation of merge patches.

Connexion 3.3 decodes bodies itself and turns invalid UTF-8 into a 500; its JSON parser also
accepts ``NaN`` and lets very deep nesting raise ``RecursionError``. The validator below replaces
Connexion's for every ``*/*json`` media type and answers all of those with a 400.

RFC 7396 gives ``null`` in a merge patch the meaning "remove this attribute", while the TMF schemas
type the attributes without ``null``. A PATCH body is therefore validated with its removals taken
out; the document that results from the patch is validated whole by the service.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson
from connexion.exceptions import BadRequestProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.validators import JSONRequestBodyValidator
from starlette.types import Scope

from troubleticket.api.compiled import validator_for
from troubleticket.api.errors import MalformedBody
from troubleticket.types import INT64_MAX, INT64_MIN

# Where the raw request body is kept in the ASGI scope's extensions.
RAW_BODY = "troubleticket.raw_body"


# Deeper nesting than any TMF resource needs; what is deeper would cost the recursive code
# after the parse (validation, encoding) its stack.
MAX_DEPTH = 64
# A number with this many digits may be an integer beyond 64 bits: checked exactly.
_LONG_NUMBER = re.compile(rb"[0-9]{19}")


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


def _strict(text: str | bytes) -> Any:
    """The standard library's parse, refusing what no store can keep."""
    return json.loads(
        text, parse_constant=_reject_constant, parse_float=_finite, parse_int=_int64
    )


def parse_json(raw: bytes, encoding: str = "utf-8") -> Any:
    """Decode a request body strictly.

    orjson parses (fast, and it refuses lone surrogates, ``NaN``, numbers beyond a double and
    nesting over 1024 levels); a body with a number of 19 digits or more is parsed again
    exactly, to refuse integers beyond 64 bits rather than store them rounded or fail to store
    them. A refusal is explained by the standard library's message when it names the cause.

    Raises:
        MalformedBody: not text in ``encoding``, not JSON, a lone surrogate, a number a store
            cannot keep (non-finite, an integer beyond 64 bits), or nested too deep.
    """
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise MalformedBody(f"The request body is not valid {encoding} text: {exc}") from None
    if not text.strip():
        return None
    try:
        value = orjson.loads(text)
        if _LONG_NUMBER.search(raw) is not None:
            _strict(text)
    except (orjson.JSONDecodeError, ValueError, RecursionError) as exc:
        raise MalformedBody(f"The request body is not valid JSON: {_reason(text, exc)}") from None
    # brackets bound the depth: only a body with many of them is walked
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise MalformedBody(f"The request body is nested more than {MAX_DEPTH} levels deep")
    return value


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
            _strict(text)
        except RecursionError:
            return "it is nested too deeply"
        except ValueError as stricter:  # JSONDecodeError included
            return str(stricter)
    return str(exc)


def without_removals(value: Any) -> Any:
    """The merge patch with every ``null`` member of an object taken out (arrays are kept as sent).

    An array in a merge patch replaces the target whole, so a ``null`` inside one is a value,
    not a removal, and must still be validated.
    """
    if isinstance(value, dict):
        return {k: without_removals(v) for k, v in value.items() if v is not None}
    return value


class TmfJSONBodyValidator(JSONRequestBodyValidator):
    """Connexion's JSON body validator with strict decoding and merge-patch awareness, using the
    schema's validator built once (``compiled``)."""

    _is_patch = False

    @property
    def _validator(self) -> Any:
        return validator_for(self._schema, Draft4RequestValidator)

    async def _parse(self, stream: Any, scope: Scope) -> Any:
        self._is_patch = scope.get("method") == "PATCH"
        raw = b"".join([chunk async for chunk in stream])
        # the exact bytes, for handlers that verify a signature over them
        scope.setdefault("extensions", {})[RAW_BODY] = raw
        return parse_json(raw, self._encoding)

    def _validate(self, body: Any) -> dict[Any, Any] | None:
        if body is None:
            raise BadRequestProblem(detail="The request body must not be empty")
        if self._is_patch and isinstance(body, dict):
            body = without_removals(body)
        result: dict[Any, Any] | None = super()._validate(body)
        return result
