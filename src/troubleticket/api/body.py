"""Request bodies: strict JSON decoding and validation of merge patches.

Connexion 3.3 decodes bodies itself and turns invalid UTF-8 into a 500; its JSON parser also
accepts ``NaN`` and lets very deep nesting raise ``RecursionError``. The validator below replaces
Connexion's for every ``*/*json`` media type and answers all of those with a 400.

RFC 7396 gives ``null`` in a merge patch the meaning "remove this attribute", while the TMF schemas
type the attributes without ``null``. A PATCH body is therefore validated with its removals taken
out; the document that results from the patch is validated whole by the service.
"""

from __future__ import annotations

from typing import Any

from connexion.exceptions import BadRequestProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.validators import JSONRequestBodyValidator
from starlette.types import Scope

from troubleticket import strict_json
from troubleticket.api.compiled import acceptor_for, validator_for
from troubleticket.api.errors import MalformedBody
from troubleticket.api.unions import discriminating

# Connexion's request validator, with discriminated unions checked by @type (``unions``).
_REQUEST_VALIDATOR = discriminating(Draft4RequestValidator)

# Where the raw request body is kept in the ASGI scope's extensions.
RAW_BODY = "troubleticket.raw_body"


def parse_json(raw: bytes, encoding: str = "utf-8") -> Any:
    """Decode a request body strictly (``strict_json``).

    Raises:
        MalformedBody: not text in ``encoding``, not JSON, or what no store keeps (a lone
            surrogate, a non-finite number, an integer beyond 64 bits, too deep a nesting).
    """
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise MalformedBody(f"The request body is not valid {encoding} text: {exc}") from None
    if not text.strip():
        return None
    try:
        return strict_json.loads(text)
    except strict_json.NotKept as exc:
        raise MalformedBody(f"The request body is not valid JSON: {exc}") from None


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
    schema's validator built once, behind its compiled acceptor (``compiled``)."""

    _is_patch = False

    @property
    def _validator(self) -> Any:
        return validator_for(self._schema, _REQUEST_VALIDATOR)

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
        if acceptor_for(self._schema, nullable=True)(body):
            return None
        result: dict[Any, Any] | None = super()._validate(body)
        return result
