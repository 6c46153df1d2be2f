"""Rules shared by every TMF document: timestamps, RFC 7396 merge patch, server-owned attributes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from troubleticket.domain.documents import (
    merge_patch,
    reject_removal,
    reject_server_owned,
    reject_server_owned_changes,
    timestamp,
    without,
)
from troubleticket.domain.errors import InvalidRequest, ServerOwnedField

# RFC 7396 Appendix A, every example, in order: (original, patch, result).
RFC7396_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


class TestMergePatch:
    @pytest.mark.parametrize(
        ("original", "patch", "expected"),
        RFC7396_EXAMPLES,
        ids=[f"appendix-a-{n}" for n in range(1, len(RFC7396_EXAMPLES) + 1)],
    )
    def test_the_rfc_7396_appendix_a_examples_hold(
        self, original: Any, patch: Any, expected: Any
    ) -> None:
        assert merge_patch(original, patch) == expected

    @pytest.mark.parametrize(
        ("original", "patch"),
        [(o, p) for o, p, _ in RFC7396_EXAMPLES],
        ids=[f"appendix-a-{n}" for n in range(1, len(RFC7396_EXAMPLES) + 1)],
    )
    def test_neither_argument_is_modified(self, original: Any, patch: Any) -> None:
        original_before, patch_before = copy.deepcopy(original), copy.deepcopy(patch)

        merge_patch(original, patch)

        assert original == original_before
        assert patch == patch_before

    def test_the_result_is_a_new_object_even_for_an_empty_patch(self) -> None:
        original = {"a": {"b": 1}}
        result = merge_patch(original, {})
        assert result == original
        assert result is not original


class TestTimestamp:
    def test_a_utc_instant_is_rendered_with_milliseconds_and_z(self) -> None:
        assert timestamp(datetime(2026, 11, 20, 8, 0, tzinfo=UTC)) == "2026-11-20T08:00:00.000Z"

    def test_sub_millisecond_digits_are_dropped(self) -> None:
        moment = datetime(2026, 11, 20, 8, 0, 5, 123_999, tzinfo=UTC)
        assert timestamp(moment) == "2026-11-20T08:00:05.123Z"

    @pytest.mark.parametrize(
        ("moment", "expected"),
        [
            pytest.param(
                datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=2))),
                "2026-11-20T08:00:00.000Z",
                id="plus-two-hours",
            ),
            pytest.param(
                datetime(2026, 11, 20, 3, 30, tzinfo=timezone(timedelta(hours=-4, minutes=-30))),
                "2026-11-20T08:00:00.000Z",
                id="minus-four-and-a-half-hours",
            ),
            pytest.param(
                datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
                "2025-12-31T23:30:00.000Z",
                id="crossing-new-year",
            ),
        ],
    )
    def test_other_offsets_are_converted_to_utc(self, moment: datetime, expected: str) -> None:
        assert timestamp(moment) == expected

    def test_a_naive_datetime_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            timestamp(datetime(2026, 11, 20, 8, 0))


class TestRejectServerOwned:
    def test_a_body_without_owned_attributes_passes(self) -> None:
        reject_server_owned({"name": "x", "status": "acknowledged"}, ["id", "href"])

    def test_every_owned_attribute_present_is_named_in_owned_order(self) -> None:
        body = {"href": "h", "name": "x", "id": "1"}
        with pytest.raises(ServerOwnedField) as caught:
            reject_server_owned(body, ["id", "href", "creationDate"])
        assert caught.value.fields == ["id", "href"]
        assert "id, href" in str(caught.value)
        assert caught.value.code == "serverOwnedField"

    def test_an_owned_attribute_set_to_null_is_still_refused(self) -> None:
        with pytest.raises(ServerOwnedField):
            reject_server_owned({"id": None}, ["id"])

    def test_server_owned_field_is_an_invalid_request(self) -> None:
        assert issubclass(ServerOwnedField, InvalidRequest)


class TestRejectServerOwnedChanges:
    CURRENT = {"id": "1", "creationDate": "2026-11-20T08:00:00.000Z", "name": "x"}

    def test_echoing_the_current_values_passes(self) -> None:
        patch = {"id": "1", "creationDate": "2026-11-20T08:00:00.000Z", "name": "y"}
        reject_server_owned_changes(self.CURRENT, patch, ["id", "creationDate"])

    def test_changing_an_owned_value_is_refused_naming_only_the_changed_ones(self) -> None:
        patch = {"id": "1", "creationDate": "2020-01-01T00:00:00.000Z"}
        with pytest.raises(ServerOwnedField) as caught:
            reject_server_owned_changes(self.CURRENT, patch, ["id", "creationDate"])
        assert caught.value.fields == ["creationDate"]

    def test_setting_an_owned_value_to_null_is_a_change(self) -> None:
        with pytest.raises(ServerOwnedField) as caught:
            reject_server_owned_changes(self.CURRENT, {"id": None}, ["id"])
        assert caught.value.fields == ["id"]

    def test_setting_an_owned_attribute_the_document_lacks_is_a_change(self) -> None:
        with pytest.raises(ServerOwnedField) as caught:
            reject_server_owned_changes(self.CURRENT, {"lastUpdate": "x"}, ["lastUpdate"])
        assert caught.value.fields == ["lastUpdate"]


class TestRejectRemoval:
    def test_null_on_a_kept_attribute_is_refused_naming_it(self) -> None:
        with pytest.raises(InvalidRequest, match="cannot be removed: name, @type"):
            reject_removal({"name": None, "@type": None, "other": None}, ["name", "@type"])

    def test_null_on_other_attributes_and_values_on_kept_ones_pass(self) -> None:
        reject_removal({"other": None, "name": "new"}, ["name"])


def test_without_drops_only_the_named_top_level_attributes_and_copies() -> None:
    doc = {"id": "1", "name": "x", "nested": {"id": "2"}}

    result = without(doc, ["id", "absent"])

    assert result == {"name": "x", "nested": {"id": "2"}}
    assert doc == {"id": "1", "name": "x", "nested": {"id": "2"}}
