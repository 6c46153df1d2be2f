"""Polymorphic values validated by their ``@type``, as the contract's discriminators say.

TMF621 v5 types a polymorphic attribute as a union of classes (``AttachmentRefOrValue``:
``oneOf`` ``Attachment`` and ``AttachmentRef``) with a ``discriminator`` on ``@type`` mapping
each class name to its schema. JSON Schema knows nothing of discriminators, so a value that fits
two branches (an ``Attachment`` with an ``id`` is also a valid ``AttachmentRef``; a ``PartyRef``
is also a valid ``PartyRoleRef``) is refused by ``oneOf`` whatever its ``@type`` says.

Validation here follows the discriminator, as OpenAPI means it:

* the branch the mapping names for the value's ``@type`` is the one checked, and only it; its
  errors say which ``@type`` the value was checked as;
* an ``@type`` the mapping does not name (a subclass, TMF630 polymorphism) is checked as the
  class its ``@baseType`` names, when the mapping names that;
* a value with neither (no ``@type``, or classes the union does not know) is valid when any
  branch accepts it.

The branch is found by reference (``$ref`` equal to the mapping's target), or, where Connexion
has replaced references by the schemas themselves, by the branch's own discriminator, which in
TMF schemas maps the class name to that same target.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

_ANY_OF = Draft4Validator.VALIDATORS["anyOf"]
_ONE_OF = Draft4Validator.VALIDATORS["oneOf"]


def branch_named(union: Mapping[str, Any], branches: list[Any], name: str) -> Any | None:
    """The branch of a discriminated ``union`` its mapping gives class ``name``, if any."""
    discriminator = union.get("discriminator")
    if not isinstance(discriminator, Mapping):
        return None
    mapping = discriminator.get("mapping") or {}
    if name not in mapping:
        return None
    target = mapping[name]
    for branch in branches:
        if not isinstance(branch, Mapping):
            continue
        own = branch.get("discriminator")
        own_mapping = own.get("mapping", {}) if isinstance(own, Mapping) else {}
        if branch.get("$ref") == target or own_mapping.get(name) == target:
            return branch
    return None


def branch_for(
    union: Mapping[str, Any], branches: list[Any], instance: Any
) -> tuple[Any, str] | None:
    """The branch of a discriminated ``union`` that checks ``instance``, with the class name
    that chose it; ``None`` when the value names no class the union maps."""
    discriminator = union.get("discriminator")
    if not isinstance(discriminator, Mapping) or not isinstance(instance, Mapping):
        return None
    prop = discriminator.get("propertyName", "@type")
    for name in (instance.get(prop), instance.get("@baseType")):
        if not isinstance(name, str):
            continue
        branch = branch_named(union, branches, name)
        if branch is not None:
            return branch, name
    return None


def _by_discriminator(plain: Any) -> Any:
    def validate(
        validator: Any, branches: list[Any], instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        if "discriminator" not in schema:
            yield from plain(validator, branches, instance, schema)
            return
        chosen = branch_for(schema, branches, instance)
        if chosen is None:
            yield from _ANY_OF(validator, branches, instance, schema)
            return
        branch, name = chosen
        for error in validator.descend(instance, branch):
            error.message = f"{error.message} (checked as @type {name})"
            yield error

    return validate


def discriminating(cls: type[Validator]) -> type[Validator]:
    """``cls`` with its ``oneOf`` and ``anyOf`` following a sibling ``discriminator``."""
    extended: type[Validator] = extend(  # type: ignore[no-untyped-call]
        cls, {"oneOf": _by_discriminator(_ONE_OF), "anyOf": _by_discriminator(_ANY_OF)}
    )
    return extended
