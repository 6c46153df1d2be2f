"""as_merge_patch: JSON Patch and JSON Patch Query bodies turned into the domain's merge patch."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest

from tests.builders import LIMITS
from troubleticket.domain.documents import merge_patch
from troubleticket.domain.errors import InvalidRequest, NotSupported, PatchTestFailed
from troubleticket.services import patch_formats
from troubleticket.services.limits import Limits
from troubleticket.services.patch_formats import JSON_PATCH, JSON_PATCH_QUERY, MERGE_PATCH_TYPES
from troubleticket.types import JSON


def as_merge_patch(current: JSON, body: Any, media_type: str, limits: Limits = LIMITS) -> JSON:
    """The translation under the limits of a server with default settings, unless given."""
    return patch_formats.as_merge_patch(current, body, media_type, limits=limits)


NOTE_JACK = {"@type": "Note", "id": "77456", "author": "Jack Smith", "text": "first"}
NOTE_ANN = {"@type": "Note", "id": "2", "author": "Ann", "text": "second"}
NOTE_ANN_NUMERIC = {"@type": "Note", "id": 3, "author": "Ann", "text": "third"}

TICKET: JSON = {
    "id": "3180",
    "@type": "TroubleTicket",
    "name": "complaint over last bill",
    "description": "The movie kept stopping",
    "severity": "Major",
    "status": "acknowledged",
    "channel": {"id": "8774", "name": "self service", "@type": "ChannelRef"},
    "note": [NOTE_JACK, NOTE_ANN, NOTE_ANN_NUMERIC],
    "relatedParty": [
        {
            "role": "member",
            "partyOrPartyRole": {"id": "9866", "name": "Sandy Smith", "@type": "PartyRef"},
        },
        {
            "role": "customer",
            "partyOrPartyRole": {"id": 9176, "name": "Jack Smith", "@type": "PartyRoleRef"},
        },
    ],
}


def ticket() -> JSON:
    return copy.deepcopy(TICKET)


def patched(body: Any, media_type: str = JSON_PATCH, current: JSON | None = None) -> JSON:
    """The document the client gets back: the merge patch applied to the current one."""
    doc = ticket() if current is None else current
    result: JSON = merge_patch(doc, as_merge_patch(doc, body, media_type))
    return result


class TestJsonPatchOperations:
    def test_add_of_a_new_member_becomes_that_member(self) -> None:
        body = [{"op": "add", "path": "/priority", "value": "High"}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {"priority": "High"}

    def test_add_of_a_nested_member_becomes_a_nested_merge_patch(self) -> None:
        body = [{"op": "add", "path": "/channel/href", "value": "https://x.example/8774"}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {
            "channel": {"href": "https://x.example/8774"}
        }

    def test_add_at_an_array_index_inserts_there_and_replaces_the_array_whole(self) -> None:
        new = {"@type": "Note", "text": "zeroth"}
        body = [{"op": "add", "path": "/note/0", "value": new}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {
            "note": [new, NOTE_JACK, NOTE_ANN, NOTE_ANN_NUMERIC]
        }

    def test_add_at_the_end_of_an_array_appends(self) -> None:
        new = {"@type": "Note", "text": "last"}
        body = [{"op": "add", "path": "/note/-", "value": new}]

        assert patched(body)["note"] == [NOTE_JACK, NOTE_ANN, NOTE_ANN_NUMERIC, new]

    def test_remove_of_a_member_becomes_null(self) -> None:
        body = [{"op": "remove", "path": "/description"}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {"description": None}

    def test_remove_of_a_nested_member_becomes_a_nested_null(self) -> None:
        body = [{"op": "remove", "path": "/channel/name"}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {"channel": {"name": None}}

    def test_remove_of_an_array_element_gives_the_shorter_array(self) -> None:
        body = [{"op": "remove", "path": "/note/1"}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {"note": [NOTE_JACK, NOTE_ANN_NUMERIC]}

    def test_replace_of_a_scalar_becomes_the_new_value(self) -> None:
        body = [{"op": "replace", "path": "/severity", "value": "Minor"}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {"severity": "Minor"}

    def test_replace_with_the_same_value_gives_an_empty_merge_patch(self) -> None:
        body = [{"op": "replace", "path": "/severity", "value": "Major"}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {}

    def test_an_empty_operation_list_gives_an_empty_merge_patch(self) -> None:
        assert as_merge_patch(ticket(), [], JSON_PATCH) == {}

    def test_move_removes_the_source_and_sets_the_target(self) -> None:
        body = [{"op": "move", "from": "/description", "path": "/name"}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {
            "description": None,
            "name": "The movie kept stopping",
        }

    def test_move_within_an_array_reorders_it(self) -> None:
        body = [{"op": "move", "from": "/note/2", "path": "/note/0"}]

        assert patched(body)["note"] == [NOTE_ANN_NUMERIC, NOTE_JACK, NOTE_ANN]

    def test_copy_duplicates_a_value_and_keeps_the_source(self) -> None:
        body = [{"op": "copy", "from": "/channel/name", "path": "/externalId"}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {"externalId": "self service"}

    def test_a_test_that_holds_lets_the_following_operations_apply(self) -> None:
        body = [
            {"op": "test", "path": "/severity", "value": "Major"},
            {"op": "test", "path": "/channel", "value": TICKET["channel"]},
            {"op": "replace", "path": "/severity", "value": "Minor"},
        ]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {"severity": "Minor"}

    def test_a_test_that_fails_raises_patch_test_failed_naming_path_and_expected_value(
        self,
    ) -> None:
        body = [
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "test", "path": "/severity", "value": "Minor"},
        ]

        with pytest.raises(PatchTestFailed) as raised:
            as_merge_patch(ticket(), body, JSON_PATCH)

        assert raised.value.code == "patchTestFailed"
        assert raised.value.message == (
            'operation 1 (test "/severity"): the value at "/severity" is not "Minor"'
        )

    def test_a_test_of_a_missing_member_fails(self) -> None:
        body = [{"op": "test", "path": "/priority", "value": "High"}]

        with pytest.raises(PatchTestFailed, match='the value at "/priority" is not "High"'):
            as_merge_patch(ticket(), body, JSON_PATCH)

    def test_a_test_tells_true_from_1_as_json_does(self) -> None:
        current = {**ticket(), "count": 1}
        body = [{"op": "test", "path": "/count", "value": True}]

        with pytest.raises(PatchTestFailed, match='"/count" is not true'):
            as_merge_patch(current, body, JSON_PATCH)

    def test_operations_apply_in_order_each_to_the_result_of_the_one_before(self) -> None:
        body = [
            {"op": "add", "path": "/priority", "value": "Low"},
            {"op": "replace", "path": "/priority", "value": "High"},
            {"op": "copy", "from": "/priority", "path": "/severity"},
        ]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {
            "priority": "High",
            "severity": "High",
        }

    def test_a_member_name_with_a_question_mark_is_only_a_name_in_plain_json_patch(
        self,
    ) -> None:
        body = [{"op": "add", "path": "/note?id=77456", "value": "literal"}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {"note?id=77456": "literal"}

    def test_pointer_escapes_are_honoured(self) -> None:
        current = {**ticket(), "a/b": {"m~n": 1}}
        body = [{"op": "replace", "path": "/a~1b/m~0n", "value": 2}]

        assert as_merge_patch(current, body, JSON_PATCH) == {"a/b": {"m~n": 2}}


# Plain RFC 6902 patches (none relies on the TMF append reading): the merge patch applied to the
# current document must give exactly what the jsonpatch library gives for the JSON Patch itself.
RFC_PATCHES = {
    "replace and add": [
        {"op": "replace", "path": "/severity", "value": "Minor"},
        {"op": "add", "path": "/priority", "value": "High"},
    ],
    "remove nested and array element": [
        {"op": "remove", "path": "/channel/name"},
        {"op": "remove", "path": "/note/0"},
    ],
    "move member into an object": [{"op": "move", "from": "/name", "path": "/channel/label"}],
    "copy array element to the end": [{"op": "copy", "from": "/note/1", "path": "/note/-"}],
    "replace nested deep": [
        {"op": "replace", "path": "/relatedParty/1/partyOrPartyRole/name", "value": "J. Smith"}
    ],
    "add a whole new array": [{"op": "add", "path": "/attachment", "value": [{"name": "a"}]}],
    "replace an array by an array": [{"op": "replace", "path": "/note", "value": []}],
    "test then remove several": [
        {"op": "test", "path": "/status", "value": "acknowledged"},
        {"op": "remove", "path": "/description"},
        {"op": "remove", "path": "/channel"},
        {"op": "remove", "path": "/relatedParty/0"},
    ],
    "replace the whole document": [{"op": "replace", "path": "", "value": {"id": "3180"}}],
}


@pytest.mark.parametrize("body", list(RFC_PATCHES.values()), ids=list(RFC_PATCHES))
def test_the_merge_patch_gives_exactly_the_json_patched_document(
    body: list[dict[str, Any]],
) -> None:
    expected = jsonpatch.apply_patch(ticket(), body)

    assert patched(body) == expected


class TestAtomicity:
    def test_a_failing_later_operation_leaves_the_current_document_untouched(self) -> None:
        current = ticket()
        before = copy.deepcopy(current)
        body = [
            {"op": "replace", "path": "/severity", "value": "Minor"},
            {"op": "remove", "path": "/note/0"},
            {"op": "add", "path": "/channel/href", "value": "https://x.example"},
            {"op": "remove", "path": "/doesNotExist"},
        ]

        with pytest.raises(InvalidRequest, match="operation 3"):
            as_merge_patch(current, body, JSON_PATCH)

        assert current == before

    def test_a_failing_test_after_changes_leaves_the_current_document_untouched(self) -> None:
        current = ticket()
        before = copy.deepcopy(current)
        body = [
            {"op": "move", "from": "/note/0", "path": "/note/-"},
            {"op": "test", "path": "/severity", "value": "Critical"},
        ]

        with pytest.raises(PatchTestFailed):
            as_merge_patch(current, body, JSON_PATCH)

        assert current == before

    def test_a_successful_patch_leaves_the_current_document_and_the_body_untouched(
        self,
    ) -> None:
        current = ticket()
        body = [
            {"op": "add", "path": "/note/-", "value": {"text": "x"}},
            {"op": "replace", "path": "/channel/name", "value": "phone"},
        ]
        current_before, body_before = copy.deepcopy(current), copy.deepcopy(body)

        as_merge_patch(current, body, JSON_PATCH)

        assert (current, body) == (current_before, body_before)


class TestTmfAddToArrayQuirk:
    def test_the_tmf621_example_adds_the_note_to_the_note_array(self) -> None:
        # TroubleTicket_partialupdate_example_application_json_patch_request, verbatim.
        new_note = {
            "@type": "Note",
            "id": "77457",
            "author": "Jack Smith",
            "text": "This is quite important, please approach me as soon as possible",
        }
        body = [
            {"op": "replace", "path": "/severity", "value": "Minor"},
            {"op": "add", "path": "/note", "value": new_note},
        ]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {
            "severity": "Minor",
            "note": [NOTE_JACK, NOTE_ANN, NOTE_ANN_NUMERIC, new_note],
        }

    def test_a_scalar_added_onto_an_array_member_is_appended_too(self) -> None:
        current = {**ticket(), "tags": ["a"]}
        body = [{"op": "add", "path": "/tags", "value": "b"}]

        assert patched(body, current=current)["tags"] == ["a", "b"]

    def test_an_array_added_onto_an_array_member_replaces_it_as_in_rfc_6902(self) -> None:
        body = [{"op": "add", "path": "/note", "value": [NOTE_ANN]}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {"note": [NOTE_ANN]}

    def test_an_object_added_as_a_new_member_stays_an_object_as_in_rfc_6902(self) -> None:
        attachment = {"name": "bill.png"}
        body = [{"op": "add", "path": "/attachment", "value": attachment}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {"attachment": attachment}

    def test_an_add_at_an_index_of_an_array_of_arrays_keeps_its_rfc_meaning(self) -> None:
        current = {**ticket(), "matrix": [[1], [2]]}
        body = [{"op": "add", "path": "/matrix/0", "value": 5}]

        assert patched(body, current=current)["matrix"] == [5, [1], [2]]

    def test_the_quirk_applies_to_json_patch_query_bodies_too(self) -> None:
        new_note = {"@type": "Note", "text": "via query format"}
        body = [{"op": "add", "path": "/note", "value": new_note}]

        assert patched(body, JSON_PATCH_QUERY)["note"] == [
            NOTE_JACK,
            NOTE_ANN,
            NOTE_ANN_NUMERIC,
            new_note,
        ]


class TestTmfReplaceOfAMissingMember:
    @pytest.mark.parametrize("media_type", [JSON_PATCH, JSON_PATCH_QUERY])
    def test_it_sets_the_member_as_the_tmf621_examples_expect(self, media_type: str) -> None:
        # TroubleTicketSpecification's JSON Patch example replaces /lifecycleStatus, which its
        # create example never set; the JSON Patch Query example replaces /sererity.
        body = [{"op": "replace", "path": "/sererity", "value": "Minor"}]

        assert as_merge_patch(ticket(), body, media_type) == {"sererity": "Minor"}

    def test_a_missing_nested_member_is_set_inside_an_existing_object(self) -> None:
        body = [{"op": "replace", "path": "/channel/href", "value": "https://x.example/c"}]

        assert as_merge_patch(ticket(), body, JSON_PATCH) == {
            "channel": {"href": "https://x.example/c"}
        }

    def test_under_a_missing_parent_or_in_an_array_it_keeps_its_rfc_meaning(self) -> None:
        for path in ("/nothing/here", "/note/7"):
            body = [{"op": "replace", "path": path, "value": "x"}]
            with pytest.raises(InvalidRequest, match="does not exist"):
                as_merge_patch(ticket(), body, JSON_PATCH)


class TestInvalidJsonPatch:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                [{"op": "bogus", "path": "/a"}],
                "operation 0: op must be one of add, remove, replace, move, copy, test, "
                "not 'bogus'",
            ),
            (
                [{"path": "/a", "value": 1}],
                "operation 0: op must be one of add, remove, replace, move, copy, test, not None",
            ),
            (
                [{"op": ["add"], "path": "/a", "value": 1}],
                "operation 0: op must be one of add, remove, replace, move, copy, test, "
                "not ['add']",
            ),
            ([{"op": "add", "value": 1}], "operation 0 (add): path must be a string"),
            ([{"op": "add", "path": "/a"}], "operation 0 (add \"/a\"): 'value' is missing"),
            ([{"op": "replace", "path": "/a"}], "operation 0 (replace \"/a\"): 'value' is missing"),
            ([{"op": "test", "path": "/a"}], "operation 0 (test \"/a\"): 'value' is missing"),
            ([{"op": "move", "path": "/a"}], "operation 0 (move \"/a\"): 'from' is missing"),
            (
                [{"op": "copy", "path": "/a", "from": 3}],
                "operation 0 (copy \"/a\"): 'from' must be a string",
            ),
            (
                [{"op": "add", "path": "severity", "value": 1}],
                'operation 0 (add "severity"): "severity" is not a JSON Pointer '
                "(Location must start with /)",
            ),
            (
                [{"op": "remove", "path": "/doesNotExist"}],
                'operation 0 (remove "/doesNotExist"): "/doesNotExist" does not exist',
            ),
            (
                [{"op": "replace", "path": "/note/9", "value": {}}],
                'operation 0 (replace "/note/9"): "/note/9" does not exist',
            ),
            (
                [{"op": "move", "from": "/nothing", "path": "/a"}],
                'operation 0 (move "/a"): from "/nothing" does not exist',
            ),
            (
                [{"op": "copy", "from": "/note/7", "path": "/a"}],
                'operation 0 (copy "/a"): from "/note/7" does not exist',
            ),
            (
                [{"op": "add", "path": "/note/7", "value": {}}],
                'operation 0 (add "/note/7"): can\'t insert outside of list',
            ),
            (
                [{"op": "add", "path": "/nothing/x", "value": 1}],
                "operation 0 (add \"/nothing/x\"): member 'nothing' not found",
            ),
            (
                [{"op": "add", "path": "/severity/x", "value": 1}],
                "operation 0 (add \"/severity/x\"): Cannot apply token 'x' to non-container "
                "type <class 'str'>",
            ),
            (
                [{"op": "remove", "path": ""}],
                'operation 0 (remove ""): can\'t remove the whole document',
            ),
            (
                [{"op": "move", "from": "/channel", "path": "/channel/id"}],
                'operation 0 (move "/channel/id"): Cannot move values into their own children',
            ),
            (
                [
                    {"op": "replace", "path": "/severity", "value": "Minor"},
                    {"op": "replace", "path": "/channel/name/first", "value": "x"},
                ],
                'operation 1 (replace "/channel/name/first"): "/channel/name/first" does not exist',
            ),
            ([{"op": "add", "path": "/a", "value": 1}, "add"], "operation 1 must be a JSON object"),
        ],
    )
    def test_an_invalid_operation_is_refused_naming_its_index_and_path(
        self, body: list[Any], message: str
    ) -> None:
        with pytest.raises(InvalidRequest) as raised:
            as_merge_patch(ticket(), body, JSON_PATCH)

        assert type(raised.value) is InvalidRequest
        assert raised.value.message == message

    def test_an_error_message_never_quotes_the_document(self) -> None:
        body = [{"op": "add", "path": "/nothing/x", "value": 1}]

        with pytest.raises(InvalidRequest) as raised:
            as_merge_patch(ticket(), body, JSON_PATCH)

        assert "Sandy Smith" not in raised.value.message
        assert "complaint" not in raised.value.message

    @pytest.mark.parametrize(
        "body",
        [{"op": "add", "path": "/a", "value": 1}, "[]", None, 3],
        ids=["object", "string", "null", "number"],
    )
    def test_a_body_that_is_not_an_array_is_refused(self, body: Any) -> None:
        with pytest.raises(InvalidRequest) as raised:
            as_merge_patch(ticket(), body, JSON_PATCH)

        assert raised.value.message == (
            "A application/json-patch+json body must be a JSON array of operations"
        )

    def test_a_patch_that_leaves_no_object_is_refused(self) -> None:
        body = [{"op": "replace", "path": "", "value": ["not", "an", "object"]}]

        with pytest.raises(InvalidRequest, match="The patched document must be a JSON object"):
            as_merge_patch(ticket(), body, JSON_PATCH)

    def test_setting_an_attribute_to_null_is_refused(self) -> None:
        body = [{"op": "replace", "path": "/channel/name", "value": None}]

        with pytest.raises(InvalidRequest) as raised:
            as_merge_patch(ticket(), body, JSON_PATCH)

        assert raised.value.message == (
            "/channel/name would be null: attributes cannot be set to null"
        )


class TestJsonPatchQuery:
    def test_the_tmf621_example_replaces_the_selected_note(self) -> None:
        value = {"@type": "Note", "id": "77456", "author": "x", "text": "y"}
        body = [{"op": "replace", "path": "/note?id=77456", "value": value}]

        assert as_merge_patch(ticket(), body, JSON_PATCH_QUERY) == {
            "note": [value, NOTE_ANN, NOTE_ANN_NUMERIC]
        }

    def test_replace_of_a_selected_element_merges_the_value_into_it(self) -> None:
        # TMF621's response examples for /note?id=77456 and /specCharacteristic?id=5 show the
        # element with the value merged in, its other attributes (id, @type ...) kept.
        body = [{"op": "replace", "path": "/note?id=2", "value": {"text": "only this"}}]

        assert patched(body, JSON_PATCH_QUERY)["note"] == [
            NOTE_JACK,
            {**NOTE_ANN, "text": "only this"},
            NOTE_ANN_NUMERIC,
        ]

    def test_null_in_the_merged_value_removes_that_attribute_of_the_element(self) -> None:
        body = [{"op": "replace", "path": "/note?id=2", "value": {"author": None}}]

        (note,) = [n for n in patched(body, JSON_PATCH_QUERY)["note"] if n.get("id") == "2"]
        assert "author" not in note
        assert note["text"] == NOTE_ANN["text"]

    def test_a_sub_path_changes_only_that_attribute_of_the_selected_element(self) -> None:
        body = [{"op": "replace", "path": "/note/text?id=2", "value": "edited"}]

        assert patched(body, JSON_PATCH_QUERY)["note"] == [
            NOTE_JACK,
            {**NOTE_ANN, "text": "edited"},
            NOTE_ANN_NUMERIC,
        ]

    def test_every_matching_element_is_changed(self) -> None:
        body = [{"op": "replace", "path": "/note/text?author=Ann", "value": "edited"}]

        assert patched(body, JSON_PATCH_QUERY)["note"] == [
            NOTE_JACK,
            {**NOTE_ANN, "text": "edited"},
            {**NOTE_ANN_NUMERIC, "text": "edited"},
        ]

    def test_conditions_joined_by_ampersand_must_all_hold(self) -> None:
        body = [{"op": "replace", "path": "/note/text?author=Ann&id=3", "value": "edited"}]

        assert patched(body, JSON_PATCH_QUERY)["note"] == [
            NOTE_JACK,
            NOTE_ANN,
            {**NOTE_ANN_NUMERIC, "text": "edited"},
        ]

    def test_a_dotted_attribute_reaches_into_the_element(self) -> None:
        body = [
            {
                "op": "replace",
                "path": "/relatedParty/role?partyOrPartyRole.id=9866",
                "value": "reporter",
            }
        ]

        assert [party["role"] for party in patched(body, JSON_PATCH_QUERY)["relatedParty"]] == [
            "reporter",
            "customer",
        ]

    def test_an_attribute_prefixed_with_the_array_name_is_read_without_the_prefix(self) -> None:
        body = [
            {
                "op": "replace",
                "path": "/relatedParty/role?relatedParty.partyOrPartyRole.id=9176",
                "value": "owner",
            }
        ]

        assert [party["role"] for party in patched(body, JSON_PATCH_QUERY)["relatedParty"]] == [
            "member",
            "owner",
        ]

    @pytest.mark.parametrize(
        ("query", "selected_text"),
        [("id=3", "third"), ("id=77456", "first"), ("id=2", "second")],
        ids=["numeric id", "string id", "short string id"],
    )
    def test_values_compare_as_text_so_numeric_and_string_ids_both_match(
        self, query: str, selected_text: str
    ) -> None:
        body = [{"op": "remove", "path": f"/note?{query}"}]

        remaining = patched(body, JSON_PATCH_QUERY)["note"]

        assert len(remaining) == 2
        assert selected_text not in [note["text"] for note in remaining]

    def test_a_numeric_attribute_inside_a_dotted_path_matches_its_text(self) -> None:
        body = [{"op": "remove", "path": "/relatedParty?partyOrPartyRole.id=9176"}]

        assert patched(body, JSON_PATCH_QUERY)["relatedParty"] == [TICKET["relatedParty"][0]]

    def test_a_boolean_attribute_matches_its_json_spelling(self) -> None:
        current = {**ticket(), "items": [{"done": True, "n": 1}, {"done": False, "n": 2}]}
        body = [{"op": "remove", "path": "/items?done=true"}]

        assert patched(body, JSON_PATCH_QUERY, current)["items"] == [{"done": False, "n": 2}]

    def test_an_array_inside_an_object_can_be_queried(self) -> None:
        current = {**ticket(), "extension": {"items": [{"k": "a", "v": 1}, {"k": "b", "v": 2}]}}
        body = [{"op": "replace", "path": "/extension/items/v?k=b", "value": 20}]

        assert as_merge_patch(current, body, JSON_PATCH_QUERY) == {
            "extension": {"items": [{"k": "a", "v": 1}, {"k": "b", "v": 20}]}
        }

    def test_remove_of_several_matches_removes_each_of_them(self) -> None:
        body = [{"op": "remove", "path": "/note?author=Ann"}]

        assert as_merge_patch(ticket(), body, JSON_PATCH_QUERY) == {"note": [NOTE_JACK]}

    def test_remove_of_matches_that_are_not_adjacent_keeps_the_others_in_order(self) -> None:
        current = {**ticket(), "items": [{"k": "x"}, {"k": "y"}, {"k": "x"}, {"k": "z"}]}
        body = [{"op": "remove", "path": "/items?k=x"}]

        assert patched(body, JSON_PATCH_QUERY, current)["items"] == [{"k": "y"}, {"k": "z"}]

    def test_add_with_a_sub_path_adds_the_attribute_to_each_selected_element(self) -> None:
        body = [{"op": "add", "path": "/note/date?author=Ann", "value": "2026-01-01T00:00:00Z"}]

        assert patched(body, JSON_PATCH_QUERY)["note"] == [
            NOTE_JACK,
            {**NOTE_ANN, "date": "2026-01-01T00:00:00Z"},
            {**NOTE_ANN_NUMERIC, "date": "2026-01-01T00:00:00Z"},
        ]

    def test_a_test_with_a_query_path_that_holds_lets_the_patch_apply(self) -> None:
        body = [
            {"op": "test", "path": "/note/author?id=2", "value": "Ann"},
            {"op": "replace", "path": "/severity", "value": "Minor"},
        ]

        assert as_merge_patch(ticket(), body, JSON_PATCH_QUERY) == {"severity": "Minor"}

    def test_a_test_with_a_query_path_that_fails_raises_patch_test_failed(self) -> None:
        body = [{"op": "test", "path": "/note/author?id=2", "value": "Bob"}]

        with pytest.raises(PatchTestFailed) as raised:
            as_merge_patch(ticket(), body, JSON_PATCH_QUERY)

        assert raised.value.message == (
            'operation 0 (test "/note/author?id=2"): the value at "/note/1/author" is not "Bob"'
        )

    def test_each_query_is_resolved_against_the_document_the_operations_before_it_left(
        self,
    ) -> None:
        # Resolved up front, /note/text?id=2 would point at index 1, which after the remove is
        # the third note.
        body = [
            {"op": "remove", "path": "/note?id=77456"},
            {"op": "replace", "path": "/note/text?id=2", "value": "edited"},
        ]

        assert patched(body, JSON_PATCH_QUERY)["note"] == [
            {**NOTE_ANN, "text": "edited"},
            NOTE_ANN_NUMERIC,
        ]

    def test_a_path_without_a_query_is_plain_json_patch(self) -> None:
        body = [
            {"op": "replace", "path": "/severity", "value": "Minor"},
            {"op": "remove", "path": "/note/0"},
        ]

        assert as_merge_patch(ticket(), body, JSON_PATCH_QUERY) == {
            "severity": "Minor",
            "note": [NOTE_ANN, NOTE_ANN_NUMERIC],
        }

    def test_no_matching_element_is_refused_naming_the_array_and_the_query(self) -> None:
        body = [{"op": "replace", "path": "/note?id=99", "value": {"text": "y"}}]

        with pytest.raises(InvalidRequest) as raised:
            as_merge_patch(ticket(), body, JSON_PATCH_QUERY)

        assert raised.value.message == (
            'operation 0 (replace "/note?id=99"): no element of note matches id=99'
        )

    def test_conditions_that_hold_for_different_elements_select_none(self) -> None:
        body = [{"op": "remove", "path": "/note?author=Jack Smith&id=2"}]

        with pytest.raises(
            InvalidRequest, match="no element of note matches author=Jack Smith&id=2"
        ):
            as_merge_patch(ticket(), body, JSON_PATCH_QUERY)

    def test_a_failed_query_leaves_the_current_document_untouched(self) -> None:
        current = ticket()
        before = copy.deepcopy(current)
        body = [
            {"op": "remove", "path": "/note?author=Ann"},
            {"op": "replace", "path": "/note/text?id=2", "value": "gone already"},
        ]

        with pytest.raises(InvalidRequest, match="no element of note matches id=2"):
            as_merge_patch(current, body, JSON_PATCH_QUERY)

        assert current == before

    @pytest.mark.parametrize(
        ("path", "message"),
        [
            ("/nothing?id=1", '"/nothing" does not exist'),
            ("/channel?id=8774", "a query path must lead to an array"),
            ("/severity?id=1", "a query path must lead to an array"),
            ("?id=1", "a query path must lead to an array"),
        ],
    )
    def test_a_query_path_that_reaches_no_array_is_refused(self, path: str, message: str) -> None:
        body = [{"op": "remove", "path": path}]

        with pytest.raises(InvalidRequest) as raised:
            as_merge_patch(ticket(), body, JSON_PATCH_QUERY)

        assert raised.value.message == f'operation 0 (remove "{path}"): {message}'

    @pytest.mark.parametrize(
        "path",
        [
            "/note[?(@.id=='77456')]",
            "$.note[?(@.id=='77456')]",
            "/note?id!=77456",
            "/note?id>1",
            "/note?id<1",
            "/note?id==77456",
            "/note?id",
            "/note?id=77456&author",
            "/note?",
            "/note?note..id=1",
        ],
    )
    def test_a_query_syntax_other_than_attribute_equals_value_is_not_supported(
        self, path: str
    ) -> None:
        body = [{"op": "remove", "path": path}]

        with pytest.raises(NotSupported) as raised:
            as_merge_patch(ticket(), body, JSON_PATCH_QUERY)

        assert raised.value.message.startswith(f'operation 0 (remove "{path}"): ')

    def test_the_jsonpath_refusal_says_what_to_use_instead(self) -> None:
        body = [{"op": "remove", "path": "/note[?(@.id=='77456')]"}]

        with pytest.raises(NotSupported, match=r"select array elements with /array\?attribute"):
            as_merge_patch(ticket(), body, JSON_PATCH_QUERY)

    def test_a_query_in_from_is_not_supported(self) -> None:
        body = [{"op": "copy", "from": "/note?id=2", "path": "/note/-"}]

        with pytest.raises(NotSupported, match="a query in 'from' is not supported"):
            as_merge_patch(ticket(), body, JSON_PATCH_QUERY)


class TestMediaTypes:
    @pytest.mark.parametrize("media_type", sorted(MERGE_PATCH_TYPES))
    def test_a_merge_patch_is_returned_as_it_is(self, media_type: str) -> None:
        body = {"severity": "Minor", "description": None}

        assert as_merge_patch(ticket(), body, media_type) is body

    def test_media_type_parameters_and_case_are_ignored(self) -> None:
        body = {"severity": "Minor"}

        assert as_merge_patch(ticket(), body, "Application/Merge-Patch+JSON; charset=utf-8") is body

    @pytest.mark.parametrize("body", [[{"op": "remove", "path": "/a"}], "x", None])
    def test_a_merge_patch_that_is_not_an_object_is_refused(self, body: Any) -> None:
        with pytest.raises(InvalidRequest, match="A merge patch must be a JSON object"):
            as_merge_patch(ticket(), body, "application/merge-patch+json")

    @pytest.mark.parametrize(
        "media_type", ["text/plain", "application/xml", "application/json-patch"]
    )
    def test_an_unknown_media_type_is_not_supported(self, media_type: str) -> None:
        with pytest.raises(NotSupported) as raised:
            as_merge_patch(ticket(), {"severity": "Minor"}, media_type)

        assert raised.value.message == f"PATCH with {media_type} is not supported"

    def test_the_public_media_type_names_are_the_ones_tmf621_declares(self) -> None:
        assert (JSON_PATCH, JSON_PATCH_QUERY) == (
            "application/json-patch+json",
            "application/json-patch-query+json",
        )
        assert frozenset({"application/json", "application/merge-patch+json"}) == (
            MERGE_PATCH_TYPES
        )
