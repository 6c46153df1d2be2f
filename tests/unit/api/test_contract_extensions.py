"""The contract's extensions to TMF621 are marked as such, and the hub secret is never returned."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from troubleticket.api.contract import load_spec

EXTENSION = "Extension (not TMF621):"
EXTENSION_PATHS = ("/hub/{id}/delivery", "/hub/{id}/replay")
EXTENSION_SCHEMAS = ("EventDelivery", "EventReplay", "EventReplay_FVO")
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def operations(path: str) -> list[dict[str, Any]]:
    path_item = load_spec()["paths"][path]
    return [operation for method, operation in path_item.items() if method in HTTP_METHODS]


def properties(schema_name: str) -> dict[str, Any]:
    """The properties a schema declares itself and in its ``allOf`` parts (not through $ref)."""
    schema = load_spec()["components"]["schemas"][schema_name]
    found = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        found.update(part.get("properties", {}))
    return found


@pytest.mark.parametrize("path", EXTENSION_PATHS)
def test_extension_operations_are_marked(path: str) -> None:
    found = operations(path)
    assert found, f"{path} has no operation"
    for operation in found:
        assert operation["x-extension"] is True
        assert operation["description"].startswith(EXTENSION)
        assert operation["tags"] == ["delivery administration (extension)"]


def test_extension_operations_have_their_operation_ids() -> None:
    assert [op["operationId"] for op in operations("/hub/{id}/delivery")] == ["listHubDelivery"]
    assert [op["operationId"] for op in operations("/hub/{id}/replay")] == ["createHubReplay"]


@pytest.mark.parametrize("name", EXTENSION_SCHEMAS)
def test_extension_schemas_are_marked(name: str) -> None:
    assert load_spec()["components"]["schemas"][name]["description"].startswith(EXTENSION)


def test_event_delivery_states() -> None:
    assert properties("EventDelivery")["state"]["enum"] == [
        "pending",
        "delivering",
        "delivered",
        "dead",
        "cancelled",
    ]


def test_the_hub_secret_is_write_only_and_never_part_of_a_hub() -> None:
    secret = properties("Hub_FVO")["secret"]
    assert secret["type"] == "string"
    assert secret["writeOnly"] is True
    assert secret["description"].startswith(EXTENSION)
    assert "secret" not in properties("Hub")


def test_hub_extension_properties_are_marked() -> None:
    assert properties("Hub_FVO")["appendEventListenerPath"]["default"] is False
    assert properties("Hub")["appendEventListenerPath"]["default"] is False
    for name in ("signed", "createdAt"):
        assert properties("Hub")[name]["readOnly"] is True
    for schema_name, names in (
        ("Hub_FVO", ("secret", "appendEventListenerPath")),
        ("Hub", ("appendEventListenerPath", "signed", "createdAt")),
    ):
        for name in names:
            assert properties(schema_name)[name]["description"].startswith(EXTENSION)


def test_the_hub_query_keeps_its_official_description_first() -> None:
    description = properties("Hub_FVO")["query"]["description"]
    assert description.startswith("additional data to be passed")
    assert "TMF630 attribute filter" in description


def test_creating_a_hub_answers_201_with_location_and_retrieving_it_200_without() -> None:
    spec = load_spec()
    responses = spec["components"]["responses"]
    created = spec["paths"]["/hub"]["post"]["responses"]["201"]["$ref"]
    retrieved = spec["paths"]["/hub/{id}"]["get"]["responses"]["200"]["$ref"]
    assert created == "#/components/responses/201Hub"
    assert retrieved == "#/components/responses/Hub"
    assert "Location" in responses["201Hub"]["headers"]
    assert "headers" not in responses["Hub"]


def test_every_operation_id_is_unique() -> None:
    ids = Counter(
        operation["operationId"]
        for path_item in load_spec()["paths"].values()
        for method, operation in path_item.items()
        if method in HTTP_METHODS and "operationId" in operation
    )
    assert ids, "the contract declares no operationId"
    assert [name for name, count in ids.items() if count > 1] == []
