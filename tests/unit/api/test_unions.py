"""Discriminated unions are checked by the branch the value's @type names (``api.unions``)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

from troubleticket.api.unions import discriminating

COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Value": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
            "discriminator": {
                "propertyName": "@type",
                "mapping": {"Value": "#/components/schemas/Value"},
            },
        },
        "Ref": {
            "type": "object",
            "required": ["id"],
            "discriminator": {
                "propertyName": "@type",
                "mapping": {"Ref": "#/components/schemas/Ref"},
            },
        },
    }
}


def union(keyword: str) -> dict[str, Any]:
    return {
        keyword: [{"$ref": "#/components/schemas/Value"}, {"$ref": "#/components/schemas/Ref"}],
        "discriminator": {
            "propertyName": "@type",
            "mapping": {
                "Value": "#/components/schemas/Value",
                "Ref": "#/components/schemas/Ref",
            },
        },
        "components": COMPONENTS,
    }


def errors(schema: dict[str, Any], instance: Any) -> list[str]:
    validator = discriminating(Draft4Validator)(schema)
    return [error.message for error in validator.iter_errors(instance)]


@pytest.mark.parametrize("keyword", ["oneOf", "anyOf"])
class TestByDiscriminator:
    def test_a_value_fitting_both_branches_is_valid_as_its_type(self, keyword: str) -> None:
        both = {"@type": "Value", "id": "v1", "name": "photo"}

        assert errors(union(keyword), both) == []
        if keyword == "oneOf":  # plain JSON Schema refuses it: it is valid under each
            assert best_match(Draft4Validator(union(keyword)).iter_errors(both)) is not None

    def test_only_the_named_branch_is_checked_and_the_error_says_so(self, keyword: str) -> None:
        # a valid Ref, but it says it is a Value, which needs a name
        found = errors(union(keyword), {"@type": "Value", "id": "v1"})

        assert found == ["'name' is a required property (checked as @type Value)"]

    def test_a_subclass_is_checked_as_its_base_type(self, keyword: str) -> None:
        subclass = {"@type": "PhotoValue", "@baseType": "Value", "id": "v1"}

        assert errors(union(keyword), subclass) == [
            "'name' is a required property (checked as @type Value)"
        ]
        assert errors(union(keyword), {**subclass, "name": "photo"}) == []

    @pytest.mark.parametrize("value", [{"id": "r1"}, {"@type": "Other", "name": "n"}, {}])
    def test_without_a_type_it_names_any_branch_will_do(
        self, keyword: str, value: dict[str, Any]
    ) -> None:
        found = errors(union(keyword), value)

        assert (found == []) == ("id" in value or "name" in value)


def test_a_union_without_a_discriminator_keeps_json_schema_meaning() -> None:
    schema = union("oneOf")
    del schema["discriminator"]

    assert errors(schema, {"@type": "Value", "id": "v1", "name": "photo"}) != []
