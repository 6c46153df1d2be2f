"""JSON Schema validators built once per schema and kept.

Connexion builds a new validator for each parameter and each request body on every request;
building one (and resolving the ``$ref``s of the large TMF schemas again through its fresh
resolver) cost more than the validation itself. The schemas are the contract's own objects,
fixed for the life of the app, so the validator built for one is reused: same schema, same
class, same format checker, hence the same verdicts and the same 400 messages.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft4Validator
from jsonschema.protocols import Validator

# (id(schema), validator class) -> (schema, validator); the schema is held so its id stays its own.
_KEPT: dict[tuple[int, type], tuple[Any, Validator]] = {}
_MAX_KEPT = 4096


def validator_for(schema: dict[str, Any], cls: type = Draft4Validator) -> Validator:
    """The validator of class ``cls`` for ``schema`` (with Draft 4's format checker)."""
    key = (id(schema), cls)
    kept = _KEPT.get(key)
    if kept is not None and kept[0] is schema:
        return kept[1]
    if len(_KEPT) >= _MAX_KEPT:  # apps built and dropped (tests): start over
        _KEPT.clear()
    validator: Validator = cls(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
    _KEPT[key] = (schema, validator)
    return validator
