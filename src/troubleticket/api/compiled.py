"""JSON Schema validators built once per schema and kept, and compiled acceptors in front of them.

Connexion builds a new validator for each parameter and each request body on every request;
building one (and resolving the ``$ref``s of the large TMF schemas again through its fresh
resolver) cost more than the validation itself. The schemas are the contract's own objects,
fixed for the life of the app, so the validator built for one is reused: same schema, same
class, same format checker, hence the same verdicts and the same 400 messages.

Validating a ticket in pure Python still cost a third of a write. ``acceptor_for`` compiles the
same schema, translated to plain Draft 4 with the same meaning, with ``jsonschema-rs`` (a Rust
validator, already what schemathesis uses): a document it accepts is valid, and only a document it
refuses goes to the Python validator, which gives the verdict and the message as before. The
translation keeps the acceptor at least as strict as the validator of record:

* OpenAPI's ``nullable`` (honoured by Connexion's request validator) becomes ``null`` in
  ``type`` and ``enum``;
* a union with a ``discriminator`` is checked as ``unions`` checks it: the branch its ``@type``
  names, else the one its ``@baseType`` names, else any branch;
* every ``format`` is decided by the very format checker the Python validator uses, called from
  the compiled validator; a format that checker does not know is not checked by either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jsonschema_rs
import orjson
from jsonschema import Draft4Validator
from jsonschema.protocols import Validator

from troubleticket.api.unions import branch_named

# (id(schema), validator class) -> (schema, validator); the schema is held so its id stays its own.
_KEPT: dict[tuple[int, type], tuple[Any, Validator]] = {}
_MAX_KEPT = 4096

_FORMATS = Draft4Validator.FORMAT_CHECKER


def validator_for(schema: dict[str, Any], cls: type = Draft4Validator) -> Validator:
    """The validator of class ``cls`` for ``schema`` (with Draft 4's format checker)."""
    key = (id(schema), cls)
    kept = _KEPT.get(key)
    if kept is not None and kept[0] is schema:
        return kept[1]
    if len(_KEPT) >= _MAX_KEPT:  # apps built and dropped (tests): start over
        _KEPT.clear()
    validator: Validator = cls(schema, format_checker=_FORMATS)
    _KEPT[key] = (schema, validator)
    return validator


Acceptor = Callable[[Any], bool]

# (id(schema), nullable) -> (schema, acceptor): the fast path, per schema object
_ACCEPTORS: dict[tuple[int, bool], tuple[Any, Acceptor]] = {}
# (the schema's canonical JSON without the spec's components, id of the components it refers
# to, nullable) -> (those components, acceptor). An app built again (tests, each worker
# process) hands over equal schemas as new objects: they are compiled once for all of them.
_BY_CONTENT: dict[tuple[bytes, int | None, bool], tuple[Any, Acceptor]] = {}
_MAX_COMPILED = 512


def acceptor_for(schema: dict[str, Any], *, nullable: bool) -> Acceptor:
    """A compiled check that answers True only for documents the Python validator of ``schema``
    accepts (``nullable``: whether that validator honours OpenAPI's ``nullable``, as Connexion's
    request validator does). False means "not known valid": ask the validator of record."""
    key = (id(schema), nullable)
    kept = _ACCEPTORS.get(key)
    if kept is not None and kept[0] is schema:
        return kept[1]
    if len(_ACCEPTORS) >= _MAX_KEPT:
        _ACCEPTORS.clear()
    accepts = _shared(schema, nullable)
    _ACCEPTORS[key] = (schema, accepts)
    return accepts


def _shared(schema: dict[str, Any], nullable: bool) -> Acceptor:
    """The acceptor of a schema equal to ``schema``, compiled once."""
    rest = {name: value for name, value in schema.items() if name != "components"}
    components = schema.get("components") if _refers(rest) else None
    try:
        text = orjson.dumps(rest, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:  # a value JSON has no form for: compiled for this object alone
        return _compiled(schema, nullable)
    content = (text, id(components) if components is not None else None, nullable)
    found = _BY_CONTENT.get(content)
    if found is not None and found[0] is components:
        return found[1]
    if len(_BY_CONTENT) >= _MAX_COMPILED:
        _BY_CONTENT.clear()
    accepts = _compiled(schema, nullable)
    _BY_CONTENT[content] = (components, accepts)
    return accepts


def _compiled(schema: dict[str, Any], nullable: bool) -> Acceptor:
    compiled = jsonschema_rs.Draft4Validator(
        translate(schema, nullable=nullable),
        validate_formats=True,
        formats={_format_name(name): _format_check(name) for name in _FORMATS.checkers},
    )

    def accepts(instance: Any) -> bool:
        try:
            return bool(compiled.is_valid(instance))
        except (ValueError, TypeError, OverflowError):  # a value Rust cannot take: ask Python
            return False

    return accepts


def _format_name(name: str) -> str:
    return f"tt-{name}"


def _format_check(name: str) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        return bool(_FORMATS.conforms(value, name))

    return check


# keywords whose value is a schema / a list of schemas / a mapping of names to schemas
_SCHEMA = ("not", "additionalProperties", "additionalItems")
_SCHEMA_LIST = ("allOf", "anyOf", "oneOf")
_SCHEMA_MAP = ("properties", "patternProperties", "definitions")
# where the branches of discriminated unions are kept, each once, in the translated root
_BRANCHES = "definitions"


def translate(schema: Any, *, nullable: bool) -> Any:
    """``schema`` in plain Draft 4 with the meaning the validators of record give it."""
    translation = _Translation(nullable)
    if (
        isinstance(schema, Mapping)
        and "components" in schema
        and not _refers({key: value for key, value in schema.items() if key != "components"})
    ):  # Connexion hands over the spec's components beside a schema it has already resolved
        schema = {key: value for key, value in schema.items() if key != "components"}
    out = translation.schema(schema)
    if translation.branches and isinstance(out, dict):
        out.setdefault(_BRANCHES, {}).update(translation.branches)
    return out


def _refers(value: Any) -> bool:
    """Whether ``value`` holds a ``$ref`` anywhere."""
    if isinstance(value, Mapping):
        return "$ref" in value or any(_refers(member) for member in value.values())
    if isinstance(value, list):
        return any(_refers(member) for member in value)
    return False


class _Translation:
    """One schema's translation. A union's branch is referred to by each clause that chooses it,
    so each branch is written once under ``definitions`` and referred to by ``$ref`` (writing it
    out in every clause multiplies the size of nested unions)."""

    def __init__(self, nullable: bool) -> None:
        self.nullable = nullable
        self.branches: dict[str, Any] = {}
        self._named: dict[int, tuple[Any, str]] = {}

    def schema(self, schema: Any) -> Any:
        if not isinstance(schema, Mapping):
            return schema
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _SCHEMA or (key == "items" and isinstance(value, Mapping)):
                out[key] = self.schema(value)
            elif key in _SCHEMA_LIST or (key == "items" and isinstance(value, list)):
                out[key] = [self.schema(branch) for branch in value]
            elif key in _SCHEMA_MAP and isinstance(value, Mapping):
                out[key] = {name: self.schema(sub) for name, sub in value.items()}
            elif key == "dependencies" and isinstance(value, Mapping):
                out[key] = {
                    name: self.schema(sub) if isinstance(sub, Mapping) else sub
                    for name, sub in value.items()
                }
            elif key == "components" and isinstance(value, Mapping):  # a whole spec's schemas
                schemas = value.get("schemas") or {}
                out[key] = {"schemas": {name: self.schema(sub) for name, sub in schemas.items()}}
            elif key == "format":
                if value in _FORMATS.checkers:
                    out[key] = _format_name(value)
            else:
                out[key] = value
        if self.nullable and (schema.get("nullable") is True or schema.get("x-nullable") is True):
            if "type" in out:
                kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
                out["type"] = [*kinds, "null"] if "null" not in kinds else kinds
            if isinstance(out.get("enum"), list) and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        if isinstance(schema.get("discriminator"), Mapping):
            for key in ("oneOf", "anyOf"):
                if isinstance(schema.get(key), list):
                    out.pop(key, None)
                    choice = self._by_discriminator(schema, schema[key])
                    out.setdefault("allOf", []).append(choice)
        return out

    def _ref(self, branch: Any) -> Any:
        """A reference to the translated ``branch``, written once under ``definitions``."""
        kept = self._named.get(id(branch))
        if kept is None or kept[0] is not branch:
            name = f"tt-branch-{len(self._named)}"
            kept = (branch, name)
            self._named[id(branch)] = kept
            self.branches[name] = self.schema(branch)
        return {"$ref": f"#/{_BRANCHES}/{kept[1]}"}

    def _by_discriminator(self, union: Mapping[str, Any], branches: list[Any]) -> dict[str, Any]:
        """The discriminated choice of ``unions`` written in Draft 4 (``if A then B`` as
        ``anyOf [not A, B]``): the ``@type``'s branch, else the ``@baseType``'s, else any."""
        discriminator = union["discriminator"]
        prop = discriminator.get("propertyName", "@type")
        chosen: dict[str, Any] = {}
        for name in discriminator.get("mapping") or {}:
            found = branch_named(union, branches, name)
            if found is not None:
                chosen[name] = found
        refs = [self._ref(branch) for branch in branches]
        if not chosen:
            return {"anyOf": refs}
        names = list(chosen)
        by_type = _named(prop, names)
        clauses: list[dict[str, Any]] = []
        for name, branch in chosen.items():
            picked = {
                "anyOf": [
                    _named(prop, [name]),
                    {"allOf": [_named("@baseType", [name]), {"not": by_type}]},
                ]
            }
            clauses.append({"anyOf": [{"not": picked}, self._ref(branch)]})
        clauses.append({"anyOf": [by_type, _named("@baseType", names), {"anyOf": refs}]})
        return {"allOf": clauses}


def _named(key: str, names: list[str]) -> dict[str, Any]:
    return {"type": "object", "required": [key], "properties": {key: {"enum": names}}}
