"""What one write may produce and one patch may ask for: the limits, and a patch stopped while
it is applied rather than after."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest

from troubleticket.domain.errors import LimitExceeded
from troubleticket.services.limits import Limits, check_document, encoded_size
from troubleticket.services.patch_formats import JSON_PATCH, JSON_PATCH_QUERY, as_merge_patch

SMALL = Limits(document_bytes=2000, array_items=10, patch_operations=5)
DEFAULT = Limits(document_bytes=1_048_576, array_items=1000, patch_operations=1000)


def ticket(**attributes: Any) -> dict[str, Any]:
    return {"id": "t-1", "@type": "TroubleTicket", "description": "No dial tone", **attributes}


def refused(code: str, call: Any, *args: Any, **kwargs: Any) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


class TestTheDocumentAWriteProduces:
    def test_a_document_within_the_limits_passes(self) -> None:
        check_document(ticket(note=[{"text": "x"}] * 10), None, SMALL)

    def test_a_document_over_the_size_limit_is_refused_naming_both_sizes(self) -> None:
        doc = ticket(description="x" * 3000)

        error = refused("documentTooLarge", check_document, doc, None, SMALL)

        assert str(encoded_size(doc)) in error.message and "2000" in error.message

    def test_ignored_attributes_do_not_count(self) -> None:
        doc = ticket(auditTrail=[{"a": "x" * 100}] * 30)

        check_document(doc, None, SMALL, ignore=("auditTrail",))
        refused("documentTooLarge", check_document, doc, None, SMALL)

    @pytest.mark.parametrize(
        ("doc", "where"),
        [
            (ticket(note=[{"t": 1}] * 11), "/note"),
            (ticket(characteristic=[{"value": [1] * 11}]), "/characteristic/0/value"),
            (ticket(a={"b": {"c": list(range(11))}}), "/a/b/c"),
        ],
    )
    def test_an_array_over_the_limit_anywhere_is_refused_naming_where(
        self, doc: dict[str, Any], where: str
    ) -> None:
        error = refused("tooManyItems", check_document, doc, None, SMALL)

        assert where in error.message and "11" in error.message

    def test_a_document_kept_before_the_limits_were_lowered_may_still_be_changed(self) -> None:
        before = ticket(description="x" * 3000, note=[{"t": 1}] * 12)
        smaller = ticket(description="x" * 2900, note=[{"t": 1}] * 12, status="inProgress")

        check_document(smaller, before, SMALL)
        refused("documentTooLarge", check_document, {**smaller, "x": "y" * 200}, before, SMALL)
        grown = {**smaller, "description": "x", "note": [{"t": 1}] * 13}
        refused("tooManyItems", check_document, grown, before, SMALL)


def doubling(count: int, value: Any) -> list[dict[str, Any]]:
    """A 1 KB patch asking for a document 2**count times the value: each copy appends the
    whole array to itself, doubling it."""
    return [
        {"op": "add", "path": "/arr", "value": [value]},
        *({"op": "copy", "from": "/arr", "path": "/arr/-"} for _ in range(count)),
    ]


def nesting(count: int) -> list[dict[str, Any]]:
    """The same without growing any array: an object copied into itself."""
    return [
        {"op": "add", "path": "/a", "value": {"v": "x" * 50}},
        *({"op": "copy", "from": "/a", "path": f"/a/c{n}"} for n in range(count)),
    ]


class TestAPatchIsStoppedWhileItIsApplied:
    @pytest.mark.parametrize(
        ("body", "code"),
        [
            (doubling(30, "x" * 50), "documentTooLarge"),
            (doubling(30, {"nested": ["x" * 50] * 3}), "documentTooLarge"),
            (nesting(30), "documentTooLarge"),
        ],
        ids=["array-of-strings", "array-of-objects", "object-in-itself"],
    )
    def test_an_amplifying_patch_is_refused_fast_and_small(
        self, body: list[dict[str, Any]], code: str
    ) -> None:
        assert encoded_size(body) < 2000
        tracemalloc.start()
        started = time.perf_counter()
        try:
            refused(code, as_merge_patch, ticket(), body, JSON_PATCH, limits=DEFAULT)
            seconds = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        # 2**30 copies would be gigabytes; stopped at the limit it is a few MB at most
        assert peak < 20 * 2**20, peak
        assert seconds < 5, seconds

    def test_an_amplifying_query_patch_is_refused_too(self) -> None:
        notes = [{"@type": "Note", "id": str(n), "text": "x"} for n in range(8)]
        body = [
            {"op": "replace", "path": "/note?text=x", "value": {"text": "y" * 400}},
        ]

        refused(
            "documentTooLarge",
            as_merge_patch,
            ticket(note=notes),
            body,
            JSON_PATCH_QUERY,
            limits=SMALL,
        )

    def test_more_operations_than_a_patch_may_have_is_refused_before_any_is_applied(
        self,
    ) -> None:
        body = [{"op": "test", "path": "/id", "value": "t-1"}] * 6

        error = refused(
            "tooManyOperations", as_merge_patch, ticket(), body, JSON_PATCH, limits=SMALL
        )

        assert "5" in error.message and "6" in error.message
        assert as_merge_patch(ticket(), body[:5], JSON_PATCH, limits=SMALL) == {}

    def test_an_array_grown_past_the_limit_by_adds_is_refused(self) -> None:
        body = [{"op": "add", "path": "/note/-", "value": {"text": "n"}}] * 5
        current = ticket(note=[{"text": "n"}] * 8)

        error = refused("tooManyItems", as_merge_patch, current, body, JSON_PATCH, limits=SMALL)

        assert "/note" in error.message

    def test_moving_items_within_a_full_array_is_allowed(self) -> None:
        current = ticket(note=[{"text": str(n)} for n in range(10)])
        body = [{"op": "move", "from": "/note/0", "path": "/note/-"}]

        merge = as_merge_patch(current, body, JSON_PATCH, limits=SMALL)

        assert [n["text"] for n in merge["note"]] == [*map(str, range(1, 10)), "0"]

    def test_a_patch_that_grows_then_shrinks_within_the_limit_passes(self) -> None:
        body = [
            {"op": "add", "path": "/big", "value": "x" * 1500},
            {"op": "remove", "path": "/big"},
            {"op": "add", "path": "/big", "value": "y" * 1500},
        ]

        assert as_merge_patch(ticket(), body, JSON_PATCH, limits=SMALL) == {"big": "y" * 1500}
