"""merge_diff: the RFC 7396 merge patch between two documents, the inverse of merge_patch."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from troubleticket.domain.documents import merge_diff, merge_patch
from troubleticket.domain.errors import InvalidRequest

# (source, target, the merge patch expected between them)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("unchanged document", {"a": 1, "b": {"c": [1, 2]}}, {"a": 1, "b": {"c": [1, 2]}}, {}),
    ("empty documents", {}, {}, {}),
    ("changed scalar", {"severity": "Major"}, {"severity": "Minor"}, {"severity": "Minor"}),
    ("added key", {"a": 1}, {"a": 1, "b": "new"}, {"b": "new"}),
    ("removed key", {"a": 1, "b": 2}, {"a": 1}, {"b": None}),
    ("everything removed", {"a": 1, "b": {"c": 2}}, {}, {"a": None, "b": None}),
    (
        "nested object diffed key by key",
        {"channel": {"id": "1", "name": "web", "@type": "ChannelRef"}},
        {"channel": {"id": "1", "name": "phone", "@type": "ChannelRef"}},
        {"channel": {"name": "phone"}},
    ),
    (
        "nested key removed",
        {"channel": {"id": "1", "name": "web"}},
        {"channel": {"id": "1"}},
        {"channel": {"name": None}},
    ),
    (
        "deeply nested change",
        {"a": {"b": {"c": {"d": 1, "e": 2}}}},
        {"a": {"b": {"c": {"d": 1, "e": 3}}}},
        {"a": {"b": {"c": {"e": 3}}}},
    ),
    (
        "array with an appended element replaced whole",
        {"note": [{"id": "1", "text": "a"}]},
        {"note": [{"id": "1", "text": "a"}, {"id": "2", "text": "b"}]},
        {"note": [{"id": "1", "text": "a"}, {"id": "2", "text": "b"}]},
    ),
    (
        "array with a changed element replaced whole",
        {"note": [{"id": "1", "text": "a"}, {"id": "2", "text": "b"}]},
        {"note": [{"id": "1", "text": "A"}, {"id": "2", "text": "b"}]},
        {"note": [{"id": "1", "text": "A"}, {"id": "2", "text": "b"}]},
    ),
    ("array emptied", {"note": [1, 2]}, {"note": []}, {"note": []}),
    ("object becomes array", {"a": {"b": 1}}, {"a": [1]}, {"a": [1]}),
    ("array becomes object", {"a": [1]}, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ("scalar becomes object", {"a": "x"}, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ("object becomes scalar", {"a": {"b": 1}}, {"a": 0}, {"a": 0}),
    ("false becomes 0", {"flag": False}, {"flag": 0}, {"flag": 0}),
    ("1 becomes true", {"flag": 1}, {"flag": True}, {"flag": True}),
    ("true inside an array becomes 1", {"a": [True]}, {"a": [1]}, {"a": [1]}),
    ("null inside an array", {"a": [1]}, {"a": [1, None]}, {"a": [1, None]}),
    (
        "null inside an object inside an array",
        {"a": []},
        {"a": [{"b": None}]},
        {"a": [{"b": None}]},
    ),
    (
        "source nulls removed",
        {"a": None, "b": {"c": None, "d": 1}},
        {"b": {"d": 1}},
        {"a": None, "b": {"c": None}},
    ),
    (
        "several changes at once",
        {"id": "1", "severity": "Major", "note": [], "channel": {"id": "7"}, "old": True},
        {"id": "1", "severity": "Minor", "note": [{"text": "x"}], "channel": {"id": "8"}},
        {"severity": "Minor", "note": [{"text": "x"}], "channel": {"id": "8"}, "old": None},
    ),
]


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_merge_diff_gives_the_smallest_merge_patch(
    source: dict[str, Any], target: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert merge_diff(source, target) == expected


@pytest.mark.parametrize(
    ("source", "target"),
    [case[1:3] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_applying_the_diff_to_the_source_gives_the_target(
    source: dict[str, Any], target: dict[str, Any]
) -> None:
    result = merge_patch(source, merge_diff(source, target))

    # Compared as JSON text: Python's == would let true pass for 1.
    assert json.dumps(result, sort_keys=True) == json.dumps(target, sort_keys=True)


@pytest.mark.parametrize(
    ("source", "target"),
    [case[1:3] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_neither_argument_is_modified(source: dict[str, Any], target: dict[str, Any]) -> None:
    source_before, target_before = copy.deepcopy(source), copy.deepcopy(target)

    merge_diff(source, target)

    assert (source, target) == (source_before, target_before)


def test_a_bool_that_replaced_a_number_survives_the_round_trip_as_a_bool() -> None:
    result = merge_patch({"flag": 1}, merge_diff({"flag": 1}, {"flag": True}))

    assert result["flag"] is True


@pytest.mark.parametrize(
    ("target", "where"),
    [
        ({"a": None}, "/a"),
        ({"a": {"b": None}}, "/a/b"),
        ({"a": {"b": {"c": None}}}, "/a/b/c"),
        ({"x/y": {"m~n": None}}, "/x~1y/m~0n"),
    ],
    ids=["top level", "nested", "deeply nested", "escaped names"],
)
def test_a_null_object_member_in_the_target_is_refused_naming_where(
    target: dict[str, Any], where: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        merge_diff({"a": 1}, target)

    assert raised.value.message == f"{where} would be null: attributes cannot be set to null"


def test_an_unchanged_null_member_is_refused_too() -> None:
    with pytest.raises(InvalidRequest, match="/a would be null"):
        merge_diff({"a": None}, {"a": None})
