"""The compiled acceptor never accepts what the validator of record refuses (``api.compiled``).

Every request body and resource schema of the served contract is checked on its examples and on
thousands of seeded mutants of them (values of the wrong kind, bad dates and URIs, nulls, removed
members, other and unknown ``@type`` / ``@baseType`` names): for each, the Python validator's
verdict is computed, and the acceptor must not say valid where it says invalid. The verdicts are
also required to agree, so that the fast path is taken wherever it can be.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

import pytest
from connexion.json_schema import Draft4RequestValidator, resolve_refs
from jsonschema import Draft4Validator

from troubleticket.api.compiled import acceptor_for, translate
from troubleticket.api.contract import load_spec
from troubleticket.api.unions import discriminating

MUTANTS_PER_EXAMPLE = 150
_TYPES = [
    "TroubleTicket",
    "Note",
    "PartyRef",
    "PartyRoleRef",
    "Attachment",
    "AttachmentRef",
    "RelatedPartyRefOrPartyRoleRef",
    "Characteristic",
    "StringCharacteristic",
    "BooleanCharacteristic",
    "Unknown",
    "EntityRef",
    "RelatedEntity",
    "Extended",
]
_VALUES: list[Any] = [
    None,
    1,
    1.0,
    2.5,
    True,
    "x",
    "",
    [],
    {},
    "2026-13-01T00:00:00Z",
    "2026-12-07T09:00:00Z",
    "2026-12-07",
    "not a uri",
    "http://example.com/x",
    "https://a b",
    ["x"],
    [{}],
    {"@type": "Unknown"},
    2**40,
]


def _request_bodies() -> Iterator[tuple[str, Any, list[Any]]]:
    spec = resolve_refs(load_spec())
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            for media, content in operation["requestBody"]["content"].items():
                examples = [e["value"] for e in content.get("examples", {}).values()]
                yield f"{method} {path} {media}", content["schema"], examples


def _documents() -> Iterator[tuple[str, Any, list[Any]]]:
    spec = load_spec()
    examples = spec["components"]["examples"]
    for name, prefix in [
        ("TroubleTicket_RES", "TroubleTicket_"),
        ("TroubleTicketSpecification_RES", "TroubleTicketSpecification_"),
        ("RecoveryActivity_RES", "RecoveryActivity_"),
    ]:
        values = [
            e["value"]
            for key, e in examples.items()
            if key.startswith(prefix)
            and key.endswith("_response")
            and isinstance(e.get("value"), dict)
        ]
        schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
        yield name, schema, values


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for key, member in value.items():
            yield from _paths(member, (*at, key))
    elif isinstance(value, list):
        for index, member in enumerate(value):
            yield from _paths(member, (*at, index))


def _mutant(base: Any, rng: random.Random) -> Any:
    doc = copy.deepcopy(base)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            return rng.choice(_VALUES)
        path = rng.choice(paths)
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        move = rng.random()
        if isinstance(parent, dict) and move < 0.2:
            del parent[last]
        elif isinstance(parent, dict) and move < 0.45:
            key = rng.choice(["@type", "@baseType"])
            parent[key] = rng.choice(_TYPES)
        elif isinstance(parent[last], dict) and move < 0.6:
            parent[last][rng.choice(["@type", "@baseType", "id", "href"])] = rng.choice(
                [*_TYPES, None, 3]
            )
        else:
            parent[last] = copy.deepcopy(rng.choice(_VALUES))
    return doc


def _verdicts(validator: Any, accepts: Any, examples: list[Any], seed: str) -> tuple[int, int]:
    rng = random.Random(seed)
    seen = agreed = 0
    for example in examples:
        for doc in [example] + [_mutant(example, rng) for _ in range(MUTANTS_PER_EXAMPLE)]:
            valid = validator.is_valid(doc)
            fast = accepts(doc)
            assert not (fast and not valid), f"accepted what the validator refuses: {doc!r}"
            seen += 1
            agreed += fast == valid
    return seen, agreed


@pytest.mark.parametrize(
    ("name", "schema", "examples"),
    list(_request_bodies()),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_request_bodies_verdicts_agree(name: str, schema: Any, examples: list[Any]) -> None:
    validator = discriminating(Draft4RequestValidator)(
        schema, format_checker=Draft4Validator.FORMAT_CHECKER
    )
    seen, agreed = _verdicts(validator, acceptor_for(schema, nullable=True), examples, name)
    assert seen == agreed, f"{seen - agreed} of {seen} refused by the acceptor alone"


@pytest.mark.parametrize(
    ("name", "schema", "examples"),
    list(_documents()),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_documents_verdicts_agree(name: str, schema: Any, examples: list[Any]) -> None:
    assert examples
    validator = discriminating(Draft4Validator)(
        schema, format_checker=Draft4Validator.FORMAT_CHECKER
    )
    seen, agreed = _verdicts(validator, acceptor_for(schema, nullable=False), examples, name)
    assert seen == agreed, f"{seen - agreed} of {seen} refused by the acceptor alone"


UNION = {
    "oneOf": [{"$ref": "#/components/schemas/Value"}, {"$ref": "#/components/schemas/Ref"}],
    "discriminator": {
        "propertyName": "@type",
        "mapping": {"Value": "#/components/schemas/Value", "Ref": "#/components/schemas/Ref"},
    },
    "components": {
        "schemas": {
            "Value": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
            },
            "Ref": {"type": "object", "required": ["id"]},
        }
    },
}


@pytest.mark.parametrize(
    ("instance", "valid"),
    [
        ({"@type": "Value", "name": "a", "id": "1"}, True),  # fits both: oneOf alone refuses it
        ({"@type": "Ref", "name": "a"}, False),  # checked as Ref only
        ({"@type": "Sub", "@baseType": "Value", "name": "a"}, True),
        ({"@type": "Sub", "@baseType": "Ref", "name": "a"}, False),
        ({"@type": "Value", "@baseType": "Ref", "name": "a"}, True),  # @type decides first
        ({"name": "a"}, True),  # no class named: any branch
        ({"size": 1.0}, False),
        ("text", False),
    ],
)
def test_discriminated_union_is_chosen_by_type_then_base_type(instance: Any, valid: bool) -> None:
    assert acceptor_for(UNION, nullable=False)(instance) is valid
    python = discriminating(Draft4Validator)(UNION)
    assert python.is_valid(instance) is valid


def test_nullable_is_honoured_only_where_the_validator_honours_it() -> None:
    schema = {
        "type": "object",
        "properties": {
            "when": {"type": "string", "nullable": True, "format": "date-time"},
            "kind": {"type": "string", "enum": ["a"], "nullable": True},
        },
    }
    assert acceptor_for(schema, nullable=True)({"when": None, "kind": None})
    assert not acceptor_for(schema, nullable=False)({"when": None})
    assert translate(schema, nullable=True)["properties"]["kind"]["enum"] == ["a", None]


def test_formats_are_decided_by_the_python_format_checker() -> None:
    schema = {
        "type": "object",
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "to": {"type": "string", "format": "uri"},
            "n": {"type": "string", "format": "float"},
        },
    }
    accepts = acceptor_for(schema, nullable=False)
    assert accepts({"at": "2026-12-07T09:00:00Z", "to": "https://a/b", "n": "anything"})
    assert not accepts({"at": "2026-02-30T09:00:00Z"})  # no such day
    assert not accepts({"to": "no scheme"})
    assert "format" not in translate(schema, nullable=False)["properties"]["n"]


def test_the_spec_handed_beside_a_resolved_schema_is_not_compiled() -> None:
    components = {"schemas": {"Big": {"type": "object", "properties": {"a": {"type": "string"}}}}}
    resolved = {"type": "object", "components": components}
    assert "components" not in translate(resolved, nullable=True)
    referring = {"$ref": "#/components/schemas/Big", "components": components}
    assert translate(referring, nullable=True)["components"]["schemas"]["Big"]
    assert not acceptor_for(referring, nullable=True)({"a": 1})


def test_an_equal_schema_handed_over_again_is_not_compiled_again() -> None:
    first = {"type": "object", "properties": {"a": {"type": "integer"}}}
    again = copy.deepcopy(first)  # as an app built anew hands it over
    assert acceptor_for(again, nullable=True) is acceptor_for(first, nullable=True)
    assert acceptor_for(first, nullable=False) is not acceptor_for(first, nullable=True)
    components = {"schemas": {"A": {"type": "string"}}}
    other = {"schemas": {"A": {"type": "integer"}}}  # the same $ref, other components
    by_ref = acceptor_for(
        {"$ref": "#/components/schemas/A", "components": components}, nullable=True
    )
    assert by_ref("x") and not by_ref(1)
    by_other = acceptor_for({"$ref": "#/components/schemas/A", "components": other}, nullable=True)
    assert by_other(1) and not by_other("x")
