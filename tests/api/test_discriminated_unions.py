"""Every discriminated union of the served contract is validated by its ``@type``.

The unions (``oneOf``/``anyOf`` with a ``discriminator``) and the places where they occur in the
bodies of the create (POST) and patch (PATCH) operations are found by walking the contract, not
listed here. For each (resource, place, branch) one valid value is taken from the operations'
request examples or built from the branch schema's required fields, and sent in a create request
and in each of the three patch formats. Every request must be accepted, and the resource read
back must hold the value, with the ``@type`` the mapping names, at that place.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import pytest
from jsonschema import Draft4Validator

from tests.api.assertions import MERGE_PATCH, created, patch
from tests.builders import API, a_specification, a_ticket
from troubleticket.api.contract import load_spec

if TYPE_CHECKING:
    from starlette.testclient import TestClient

JSON_PATCH = "application/json-patch+json"
JSON_PATCH_QUERY = "application/json-patch-query+json"
FORMATS = ("post", "merge", "json-patch", "json-patch-query")

SPEC = load_spec()
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
UNIONS = {
    name: schema
    for name, schema in SCHEMAS.items()
    if ("oneOf" in schema or "anyOf" in schema) and "discriminator" in schema
}
MAX_DEPTH = 8  # attributes deep; the unions occur two deep today

# What a resource of each family needs besides the union, on creation.
BASES: dict[str, dict[str, Any]] = {
    "troubleTicket": a_ticket(),
    "troubleTicketSpecification": a_specification(),
    "recoveryActivity": {
        "@type": "RecoveryActivity",
        "name": "Line check",
        "activityType": "diagnose",
    },
}


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def branches(union: str) -> dict[str, str]:
    """The union's discriminator mapping: @type -> branch schema name."""
    mapping = UNIONS[union]["discriminator"]["mapping"]
    return {key: ref_name(target) for key, target in mapping.items()}


@dataclass(frozen=True)
class Step:
    """One attribute on the way to a union: its name, whether it holds an array of what
    follows, and the schema of the object that has it."""

    name: str
    array: bool
    owner: str


def walk(schema: Any, steps: tuple[Step, ...], owner: str, seen: frozenset[str]) -> Iterator[Any]:
    """(steps, union name) for each reference to a discriminated union under ``schema``."""
    if len(steps) > MAX_DEPTH or not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = ref_name(schema["$ref"])
        if name in UNIONS:
            yield steps, name
        elif name not in seen:
            yield from walk(SCHEMAS[name], steps, name, seen | {name})
        return
    for part in schema.get("allOf", []):
        yield from walk(part, steps, owner, seen)
    for prop, sub in schema.get("properties", {}).items():
        yield from walk(sub, (*steps, Step(prop, False, owner)), owner, seen)
    if "items" in schema and steps:
        last = Step(steps[-1].name, True, steps[-1].owner)
        yield from walk(schema["items"], (*steps[:-1], last), owner, seen)


def body_of(operation: dict[str, Any]) -> dict[str, Any]:
    body = operation.get("requestBody", {})
    if "$ref" in body:
        body = SPEC["components"]["requestBodies"][ref_name(body["$ref"])]
    return body  # type: ignore[no-any-return]


def label(steps: tuple[Step, ...]) -> str:
    return ".".join(step.name + ("[]" if step.array else "") for step in steps)


# A place where a union occurs, by its label (``relatedParty[].partyOrPartyRole``): the steps
# to it and the union's name.
Places = dict[str, tuple[tuple[Step, ...], str]]


def union_places(operation: dict[str, Any]) -> Places:
    """Where the request body of ``operation``, in any of its media types, holds a union."""
    found: Places = {}
    for content in body_of(operation).get("content", {}).values():
        for steps, union in walk(content.get("schema", {}), (), "", frozenset()):
            found[label(steps)] = (steps, union)
    return found


# The write operations. Listeners are left out: what they receive are events, the server's own
# output, not resources a client writes. Hubs and replays are walked like the rest and must
# hold no union (checked below), so nothing is missed by driving only the resource families.
WRITES = {
    (method, path): operation
    for path, operations in SPEC["paths"].items()
    if not path.startswith("/listener/")
    for method, operation in operations.items()
    if method in ("post", "patch")
}


@dataclass(frozen=True)
class Family:
    """A resource created by POST on ``collection`` and patched at ``item`` (``collection/{…}``),
    with the union in each body by place."""

    name: str
    collection: str
    item: str
    post: Places
    patch: Places


def families() -> list[Family]:
    found = []
    for (method, path), operation in WRITES.items():
        items = [
            p
            for (m, p) in WRITES
            if m == "patch" and re.fullmatch(re.escape(path) + r"/\{[^/}]+\}", p)
        ]
        if method == "post" and items:
            post, patched = union_places(operation), union_places(WRITES["patch", items[0]])
            found.append(Family(path.rsplit("/", 1)[-1], path, items[0], post, patched))
    return found


FAMILIES = families()


@cache
def flat(name: str) -> tuple[dict[str, Any], frozenset[str]]:
    """The properties and required attributes of a schema, through ``allOf`` and ``$ref``."""
    schema = SCHEMAS[name]
    props: dict[str, Any] = dict(schema.get("properties", {}))
    required: set[str] = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        more: dict[str, Any]
        needed: frozenset[str]
        if "$ref" in part:
            more, needed = flat(ref_name(part["$ref"]))
        else:
            more, needed = part.get("properties", {}), frozenset(part.get("required", []))
        props = {**more, **props}
        required |= needed
    return props, frozenset(required)


def own_type(name: str) -> str:
    """The @type of a schema: the key its own discriminator maps to it, else its name."""
    mapping = SCHEMAS[name].get("discriminator", {}).get("mapping", {})
    return next(
        (key for key, target in mapping.items() if ref_name(target) == name),
        re.sub(r"_(FVO|MVO|RES)$", "", name),
    )


def minimal(name: str, type_: str | None = None) -> dict[str, Any]:
    """The smallest valid object of a schema: its required attributes, with its @type."""
    props, required = flat(name)
    obj: dict[str, Any] = {"@type": type_ or own_type(name)}
    for attribute in sorted(required - {"@type"}):
        obj[attribute] = sample(props.get(attribute, {}))
    return obj


def sample(schema: dict[str, Any]) -> Any:
    if "$ref" in schema:
        name = ref_name(schema["$ref"])
        if name in UNIONS:
            type_, branch = next(iter(branches(name).items()))
            return minimal(branch, type_)
        if "properties" in SCHEMAS[name] or "allOf" in SCHEMAS[name]:
            return minimal(name)
        return sample(SCHEMAS[name])
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return sample(schema["allOf"][0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "string")
    if kind == "array":
        return [sample(schema.get("items", {}))]
    scalars = {"integer": 1, "number": 1, "boolean": True, "object": {}}
    if kind in scalars:
        return scalars[kind]
    formats = {"date-time": "2026-11-20T08:00:00Z", "date": "2026-11-20", "uri": "https://x.test/x"}
    return formats.get(schema.get("format", ""), "x")


def valid(value: Any, name: str) -> bool:
    schema = {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}
    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER).is_valid(value)


def values_at(doc: Any, steps: tuple[Step, ...]) -> list[Any]:
    """Everything ``doc`` holds at the place ``steps`` name (each element of its arrays)."""
    found = [doc]
    for step in steps:
        found = [node[step.name] for node in found if isinstance(node, dict) and step.name in node]
        if step.array:
            found = [item for node in found if isinstance(node, list) for item in node]
    return found


def examples(family: Family) -> Iterator[Any]:
    """The request examples the contract gives for the family's POST and PATCH."""
    for operation in (WRITES["post", family.collection], WRITES["patch", family.item]):
        for content in body_of(operation).get("content", {}).values():
            for example in content.get("examples", {}).values():
                if "$ref" in example:
                    example = SPEC["components"]["examples"][ref_name(example["$ref"])]
                yield example.get("value")


def value_for(family: Family, steps: tuple[Step, ...], type_: str, branch: str) -> Any:
    """An example's value of this @type at the place if one is valid, else a built one."""
    for example in examples(family):
        for value in values_at(example, steps):
            if isinstance(value, dict) and value.get("@type") == type_ and valid(value, branch):
                return copy.deepcopy(value)
    return minimal(branch, type_)


def enclose(steps: tuple[Step, ...], value: Any) -> Any:
    """The value of the top attribute that holds ``value`` at the place: the minimal objects
    around it, arrays of one."""
    for index in range(len(steps) - 1, -1, -1):
        step = steps[index]
        if step.array:
            value = [value]
        if index > 0:
            value = {**minimal(step.owner), step.name: value}
    return value


def selectable_by_id(steps: tuple[Step, ...], branch: str) -> bool:
    """Whether the top attribute is an array whose items have an id (for a query path)."""
    if not steps[0].array:
        return False
    item = branch if len(steps) == 1 else steps[1].owner
    return "id" in flat(item)[0]


@dataclass(frozen=True)
class Case:
    family: Family
    steps: tuple[Step, ...]
    type_: str
    branch: str
    form: str

    @property
    def id(self) -> str:
        return f"{self.family.name}-{label(self.steps)}-{self.type_}-{self.form}"


def cases() -> list[Case]:
    """Each (family, place, branch) in each format; the value is built for the create body's
    branch, the strictest, and checked against the patch body's too."""
    return [
        Case(family, steps, type_, branch, form)
        for family in FAMILIES
        for _, (steps, union) in sorted(family.post.items())
        for type_, branch in branches(union).items()
        for form in FORMATS
    ]


CASES = cases()


def collection_url(client: TestClient, template: str) -> str:
    """The URL of a collection, creating the resources its path parameters name."""
    while match := re.search(r"\{[^/}]+\}", template):
        parent = template[: match.start()].rstrip("/")
        made = created(client, API + parent, BASES[parent.rsplit("/", 1)[-1]])
        template = template[: match.start()] + made["id"] + template[match.end() :]
    return API + template


def send(client: TestClient, case: Case, value: Any) -> Any:
    """Send the value as the case says; the resource as then read back."""
    family, steps = case.family, case.steps
    collection = collection_url(client, family.collection)
    base = copy.deepcopy(BASES[family.name])
    attribute = steps[0].name
    if case.form == "post":
        resource = created(client, collection, {**base, attribute: enclose(steps, value)})
    else:
        query = case.form == "json-patch-query" and selectable_by_id(steps, case.branch)
        if query:
            # A query path selects an element by its id: one of this branch is there first,
            # and the replace merges the value into it.
            (seed,) = enclose(steps, minimal(case.branch, case.type_))
            base[attribute] = [{**seed, "id": "seed-1"}]
        resource = created(client, collection, base)
        url = f"{collection}/{resource['id']}"
        if case.form == "merge":
            body: Any = {"@type": base["@type"], attribute: enclose(steps, value)}
            response = patch(client, url, body, media_type=MERGE_PATCH)
        elif query:
            (element,) = enclose(steps, value)
            operations = [{"op": "replace", "path": f"/{attribute}?id=seed-1", "value": element}]
            response = patch(client, url, operations, media_type=JSON_PATCH_QUERY)
        else:
            media_type = JSON_PATCH if case.form == "json-patch" else JSON_PATCH_QUERY
            operations = [{"op": "add", "path": f"/{attribute}", "value": enclose(steps, value)}]
            response = patch(client, url, operations, media_type=media_type)
        assert response.status_code == 200, response.text
    read = client.get(f"{collection}/{resource['id']}")
    assert read.status_code == 200, read.text
    return read.json()


def holds(got: Any, sent: Any) -> bool:
    """``got`` has every attribute of ``sent``, with the same values (deeply)."""
    if isinstance(sent, dict):
        return isinstance(got, dict) and all(
            key in got and holds(got[key], item) for key, item in sent.items()
        )
    return bool(got == sent)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_branch_is_accepted_and_read_back_with_its_type(
    client: TestClient, case: Case
) -> None:
    value = value_for(case.family, case.steps, case.type_, case.branch)
    patched = branches(case.family.patch[label(case.steps)][1])[case.type_]
    assert value["@type"] == case.type_
    assert valid(value, case.branch) and valid(value, patched), (value, patched)

    resource = send(client, case, value)

    found = values_at(resource, case.steps)
    assert any(holds(got, value) for got in found), (label(case.steps), value, found)
    assert case.type_ in [got.get("@type") for got in found if isinstance(got, dict)]


class TestTheWalk:
    """A change of the contract that the walk above no longer follows fails here."""

    def test_the_contract_has_discriminated_unions_each_branch_mapped(self) -> None:
        assert UNIONS
        assert CASES, "no union found in any create or patch body"
        for name, union in UNIONS.items():
            listed = {ref_name(b["$ref"]) for b in union.get("oneOf", union.get("anyOf", []))}
            assert set(branches(name).values()) == listed, name
            for type_, branch in branches(name).items():
                assert own_type(branch) == type_, (name, branch)

    def test_unions_are_found_in_each_family_and_nowhere_else(self) -> None:
        assert {family.name for family in FAMILIES} >= {
            "troubleTicket",
            "troubleTicketSpecification",
            "recoveryActivity",
        }
        for family in FAMILIES:
            assert family.post or family.patch, family.name
            assert family.name in BASES, f"no base body for {family.name}"
            assert set(family.post) == set(family.patch), family.name
        driven = {path for family in FAMILIES for path in (family.collection, family.item)}
        for (method, path), operation in WRITES.items():
            if path not in driven:
                assert not union_places(operation), (method, path)
        assert not list(walk({"$ref": "#/components/schemas/Hub_FVO"}, (), "", frozenset()))

    def test_the_base_bodies_are_valid_creates(self) -> None:
        for family in FAMILIES:
            schema = body_of(WRITES["post", family.collection])["content"]["application/json"]
            assert valid(BASES[family.name], ref_name(schema["schema"]["$ref"])), family.name
