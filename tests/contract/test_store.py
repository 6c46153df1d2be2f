"""The store contract: what every adapter of the ``Store`` port must do.

These tests use only the ``store`` fixture and the port, so each adapter listed in
``conftest.STORE_FACTORIES`` runs all of them unchanged.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest

from tests.threads import run_together
from troubleticket.store.port import Collection, DuplicateId, ListQuery, Page, Store, Stored
from troubleticket.store.query import SortKey

TICKETS = Collection.TROUBLE_TICKET
SPECS = Collection.TROUBLE_TICKET_SPECIFICATION

# Keys deliberately out of alphabetical order, so a store that sorts keys is caught.
RICH_DOC: dict[str, Any] = {
    "id": "rich-1",
    "zeta": "last letter first",
    "@type": "TroubleTicket",
    "alpha": "first letter later",
    "description": "Kunde meldet Störung — 电话没有拨号音 — 🚨 ticket ☎️",
    "escaped": 'quotes " backslash \\ newline \n tab \t nul-ish \u0001',
    "integer": 42,
    "negative": -7,
    "big": 2**53 + 1,
    "float": 3.25,
    "tiny": 1e-300,
    "zero_float": 0.0,
    "true": True,
    "false": False,
    "one": 1,
    "nothing": None,
    "empty_list": [],
    "empty_object": {},
    "nested": {
        "b": [1, "two", 3.5, True, None, {"y": 1, "x": [{"deep": {"deeper": ["ü"]}}]}],
        "a": {"c": {"d": {"e": "five levels"}}},
    },
    "note": [
        {"@type": "Note", "text": "première note", "author": "Zoë"},
        {"@type": "Note", "text": "second", "author": "Ärger"},
    ],
}


def a_doc(doc_id: str, **attributes: Any) -> dict[str, Any]:
    return {"id": doc_id, "@type": "TroubleTicket", **attributes}


def assert_same_json(actual: Any, expected: Any) -> None:
    """Equal as values AND as JSON text: catches reordered keys, True→1, 1.0→1 and the like."""
    assert actual == expected
    assert json.dumps(actual, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)


def ids(page: Page) -> list[str]:
    return [doc["id"] for doc in page.items]


def fill(store: Store, count: int, collection: Collection = TICKETS) -> list[str]:
    inserted = [f"doc-{n:02d}" for n in range(count)]
    for doc_id in inserted:
        store.insert(collection, a_doc(doc_id, n=int(doc_id[-2:])))
    return inserted


# -- insert and get -------------------------------------------------------------------------------


def test_store_implements_the_port(store: Store) -> None:
    assert isinstance(store, Store)


def test_inserted_document_is_read_back_identical_at_version_1(store: Store) -> None:
    inserted = store.insert(TICKETS, copy.deepcopy(RICH_DOC))

    got = store.get(TICKETS, "rich-1")

    assert isinstance(inserted, Stored)
    assert inserted.version == 1
    assert_same_json(inserted.doc, RICH_DOC)
    assert got is not None
    assert got.version == 1
    assert_same_json(got.doc, RICH_DOC)


def test_insert_preserves_key_order_at_every_level(store: Store) -> None:
    store.insert(TICKETS, copy.deepcopy(RICH_DOC))

    got = store.get(TICKETS, "rich-1")

    assert got is not None
    assert list(got.doc) == list(RICH_DOC)
    assert list(got.doc["nested"]) == ["b", "a"]
    assert list(got.doc["nested"]["b"][5]) == ["y", "x"]
    assert list(got.doc["note"][0]) == ["@type", "text", "author"]


def test_insert_keeps_booleans_integers_and_floats_apart(store: Store) -> None:
    store.insert(TICKETS, a_doc("types", flag=True, count=1, ratio=1.0, off=False, none=0))

    got = store.get(TICKETS, "types")

    assert got is not None
    assert got.doc["flag"] is True
    assert got.doc["off"] is False
    assert type(got.doc["count"]) is int
    assert type(got.doc["ratio"]) is float
    assert type(got.doc["none"]) is int


def test_insert_does_not_modify_the_callers_document(store: Store) -> None:
    doc = copy.deepcopy(RICH_DOC)

    store.insert(TICKETS, doc)

    assert_same_json(doc, RICH_DOC)


def test_changing_a_document_read_from_the_store_does_not_change_the_stored_one(
    store: Store,
) -> None:
    store.insert(TICKETS, a_doc("t-1", note=[{"text": "original"}]))
    first = store.get(TICKETS, "t-1")
    assert first is not None

    first.doc["note"].append({"text": "sneaky"})
    first.doc["description"] = "changed in memory only"

    again = store.get(TICKETS, "t-1")
    assert again is not None
    assert again.doc == a_doc("t-1", note=[{"text": "original"}])


def test_get_of_a_missing_id_returns_none(store: Store) -> None:
    store.insert(TICKETS, a_doc("present"))

    assert store.get(TICKETS, "absent") is None


def test_get_on_an_empty_store_returns_none(store: Store) -> None:
    assert store.get(TICKETS, "anything") is None


def test_ids_with_unusual_characters_are_stored_and_found_exactly(store: Store) -> None:
    odd_ids = ["a/b", "with space", "ünïcødé-✓", "quote'\"", "%2F", "1"]
    for doc_id in odd_ids:
        store.insert(TICKETS, a_doc(doc_id, marker=doc_id))

    for doc_id in odd_ids:
        got = store.get(TICKETS, doc_id)
        assert got is not None
        assert got.doc["marker"] == doc_id
    assert store.get(TICKETS, "A/B") is None
    assert store.get(TICKETS, "with  space") is None


def test_inserting_a_taken_id_raises_duplicate_id_and_keeps_the_original(store: Store) -> None:
    store.insert(TICKETS, a_doc("t-1", description="original"))

    with pytest.raises(DuplicateId):
        store.insert(TICKETS, a_doc("t-1", description="impostor"))

    got = store.get(TICKETS, "t-1")
    assert got is not None
    assert got.doc == a_doc("t-1", description="original")
    assert got.version == 1
    assert store.list(TICKETS, ListQuery(offset=0, limit=10)).total == 1


def test_duplicate_id_is_refused_even_after_the_original_was_replaced(store: Store) -> None:
    store.insert(TICKETS, a_doc("t-1", description="v1"))
    assert store.replace(TICKETS, a_doc("t-1", description="v2"), expected_version=1)

    with pytest.raises(DuplicateId):
        store.insert(TICKETS, a_doc("t-1", description="impostor"))

    got = store.get(TICKETS, "t-1")
    assert got == Stored(a_doc("t-1", description="v2"), 2)


# -- collections ----------------------------------------------------------------------------------


def test_the_same_id_may_exist_in_both_collections_independently(store: Store) -> None:
    store.insert(TICKETS, a_doc("shared", kind="ticket"))
    store.insert(SPECS, a_doc("shared", kind="specification"))

    ticket = store.get(TICKETS, "shared")
    spec = store.get(SPECS, "shared")

    assert ticket is not None and ticket.doc["kind"] == "ticket"
    assert spec is not None and spec.doc["kind"] == "specification"


def test_listing_one_collection_does_not_show_the_other(store: Store) -> None:
    store.insert(TICKETS, a_doc("ticket-1"))
    store.insert(TICKETS, a_doc("ticket-2"))
    store.insert(SPECS, a_doc("spec-1"))

    tickets = store.list(TICKETS, ListQuery(offset=0, limit=10))
    specs = store.list(SPECS, ListQuery(offset=0, limit=10))

    assert ids(tickets) == ["ticket-1", "ticket-2"]
    assert tickets.total == 2
    assert ids(specs) == ["spec-1"]
    assert specs.total == 1


def test_a_document_in_one_collection_is_not_found_in_the_other(store: Store) -> None:
    store.insert(TICKETS, a_doc("only-ticket"))

    assert store.get(SPECS, "only-ticket") is None
    assert store.replace(SPECS, a_doc("only-ticket"), expected_version=1) is None
    assert store.delete(SPECS, "only-ticket") is False
    assert store.get(TICKETS, "only-ticket") == Stored(a_doc("only-ticket"), 1)


def test_replace_and_delete_in_one_collection_leave_the_other_alone(store: Store) -> None:
    store.insert(TICKETS, a_doc("shared", kind="ticket"))
    store.insert(SPECS, a_doc("shared", kind="specification"))

    assert store.replace(TICKETS, a_doc("shared", kind="ticket v2"), expected_version=1)
    assert store.delete(TICKETS, "shared") is True

    assert store.get(SPECS, "shared") == Stored(a_doc("shared", kind="specification"), 1)


# -- list -----------------------------------------------------------------------------------------


def test_list_of_an_empty_collection_is_empty_with_total_0(store: Store) -> None:
    page = store.list(TICKETS, ListQuery(offset=0, limit=10))

    assert page == Page([], 0)


def test_list_returns_documents_in_insertion_order(store: Store) -> None:
    # Ids chosen so that neither alphabetical nor numeric order matches insertion order.
    order = ["m", "b", "z", "a", "10", "9"]
    for doc_id in order:
        store.insert(TICKETS, a_doc(doc_id))

    page = store.list(TICKETS, ListQuery(offset=0, limit=100))

    assert ids(page) == order
    assert page.total == len(order)


def test_list_returns_whole_documents(store: Store) -> None:
    store.insert(TICKETS, copy.deepcopy(RICH_DOC))

    page = store.list(TICKETS, ListQuery(offset=0, limit=1))

    assert len(page.items) == 1
    assert_same_json(page.items[0], RICH_DOC)


@pytest.mark.parametrize(
    ("offset", "limit", "expected"),
    [
        (0, 3, [0, 1, 2]),
        (3, 3, [3, 4, 5]),
        (6, 3, [6]),
        (2, 1, [2]),
        (0, 7, [0, 1, 2, 3, 4, 5, 6]),
        (0, 100, [0, 1, 2, 3, 4, 5, 6]),
        (5, 100, [5, 6]),
    ],
)
def test_list_slices_by_offset_and_limit_and_total_counts_everything(
    store: Store, offset: int, limit: int, expected: list[int]
) -> None:
    inserted = fill(store, 7)

    page = store.list(TICKETS, ListQuery(offset=offset, limit=limit))

    assert ids(page) == [inserted[n] for n in expected]
    assert page.total == 7


def test_list_with_offset_at_or_beyond_the_end_is_empty_but_keeps_the_total(store: Store) -> None:
    fill(store, 4)

    assert store.list(TICKETS, ListQuery(offset=4, limit=10)) == Page([], 4)
    assert store.list(TICKETS, ListQuery(offset=1000, limit=10)) == Page([], 4)


def test_list_with_limit_0_returns_no_items_but_the_total(store: Store) -> None:
    fill(store, 4)

    assert store.list(TICKETS, ListQuery(offset=0, limit=0)) == Page([], 4)
    assert store.list(TICKETS, ListQuery(offset=2, limit=0)) == Page([], 4)


def test_pages_walked_in_sequence_cover_every_document_once(store: Store) -> None:
    inserted = fill(store, 11)

    seen: list[str] = []
    for offset in range(0, 15, 4):
        page = store.list(TICKETS, ListQuery(offset=offset, limit=4))
        assert page.total == 11
        seen.extend(ids(page))

    assert seen == inserted


def test_a_replaced_document_keeps_its_place_in_the_listing(store: Store) -> None:
    inserted = fill(store, 3)

    assert store.replace(TICKETS, a_doc("doc-00", n=0, changed=True), expected_version=1)

    page = store.list(TICKETS, ListQuery(offset=0, limit=10))
    assert ids(page) == inserted
    assert page.items[0] == a_doc("doc-00", n=0, changed=True)


def test_list_shows_the_latest_version_of_each_document(store: Store) -> None:
    store.insert(TICKETS, a_doc("t-1", description="v1"))
    assert store.replace(TICKETS, a_doc("t-1", description="v2"), expected_version=1)

    assert store.list(TICKETS, ListQuery(offset=0, limit=10)).items == [
        a_doc("t-1", description="v2")
    ]


# -- replace --------------------------------------------------------------------------------------


def test_replace_with_the_current_version_stores_the_new_document_at_version_plus_1(
    store: Store,
) -> None:
    store.insert(TICKETS, a_doc("t-1", description="v1"))
    new = a_doc("t-1", description="v2", note=[{"text": "añadido"}])

    replaced = store.replace(TICKETS, copy.deepcopy(new), expected_version=1)

    assert replaced == Stored(new, 2)
    got = store.get(TICKETS, "t-1")
    assert got is not None
    assert got.version == 2
    assert_same_json(got.doc, new)


def test_replace_can_remove_attributes(store: Store) -> None:
    store.insert(TICKETS, a_doc("t-1", description="v1", priority="High"))

    assert store.replace(TICKETS, a_doc("t-1", description="v1"), expected_version=1)

    got = store.get(TICKETS, "t-1")
    assert got is not None
    assert "priority" not in got.doc


def test_successive_replaces_each_advance_the_version_by_1(store: Store) -> None:
    store.insert(TICKETS, a_doc("t-1", step=0))

    for step in range(1, 6):
        replaced = store.replace(TICKETS, a_doc("t-1", step=step), expected_version=step)
        assert replaced is not None
        assert replaced.version == step + 1

    assert store.get(TICKETS, "t-1") == Stored(a_doc("t-1", step=5), 6)


def test_replace_with_a_stale_version_returns_none_and_changes_nothing(store: Store) -> None:
    store.insert(TICKETS, a_doc("t-1", description="v1"))
    assert store.replace(TICKETS, a_doc("t-1", description="v2"), expected_version=1)

    stale = store.replace(TICKETS, a_doc("t-1", description="lost"), expected_version=1)

    assert stale is None
    assert store.get(TICKETS, "t-1") == Stored(a_doc("t-1", description="v2"), 2)


def test_replace_with_a_version_from_the_future_returns_none_and_changes_nothing(
    store: Store,
) -> None:
    store.insert(TICKETS, a_doc("t-1", description="v1"))

    assert store.replace(TICKETS, a_doc("t-1", description="x"), expected_version=2) is None

    assert store.get(TICKETS, "t-1") == Stored(a_doc("t-1", description="v1"), 1)


def test_replace_of_a_missing_id_returns_none_and_creates_nothing(store: Store) -> None:
    store.insert(TICKETS, a_doc("t-1"))

    assert store.replace(TICKETS, a_doc("ghost"), expected_version=1) is None

    assert store.get(TICKETS, "ghost") is None
    assert store.list(TICKETS, ListQuery(offset=0, limit=10)).total == 1


def test_replace_of_a_deleted_document_returns_none(store: Store) -> None:
    store.insert(TICKETS, a_doc("t-1"))
    assert store.delete(TICKETS, "t-1")

    assert store.replace(TICKETS, a_doc("t-1", description="revived"), expected_version=1) is None

    assert store.get(TICKETS, "t-1") is None


# -- delete ---------------------------------------------------------------------------------------


def test_delete_returns_true_once_then_false(store: Store) -> None:
    store.insert(TICKETS, a_doc("t-1"))

    assert store.delete(TICKETS, "t-1") is True
    assert store.delete(TICKETS, "t-1") is False


def test_delete_of_a_missing_id_returns_false_and_removes_nothing(store: Store) -> None:
    store.insert(TICKETS, a_doc("t-1"))

    assert store.delete(TICKETS, "ghost") is False

    assert ids(store.list(TICKETS, ListQuery(offset=0, limit=10))) == ["t-1"]


def test_delete_at_the_expected_version_removes_the_document(store: Store) -> None:
    store.insert(TICKETS, a_doc("doc-1"))
    store.replace(TICKETS, a_doc("doc-1", edited=True), expected_version=1)

    assert store.delete(TICKETS, "doc-1", expected_version=2)
    assert store.get(TICKETS, "doc-1") is None


def test_delete_at_another_version_returns_false_and_keeps_the_document(store: Store) -> None:
    store.insert(TICKETS, a_doc("doc-1"))
    store.replace(TICKETS, a_doc("doc-1", edited=True), expected_version=1)

    assert not store.delete(TICKETS, "doc-1", expected_version=1)
    assert store.get(TICKETS, "doc-1") == Stored(a_doc("doc-1", edited=True), 2)


def test_a_deleted_document_is_gone_from_get_and_list(store: Store) -> None:
    inserted = fill(store, 3)

    assert store.delete(TICKETS, "doc-01") is True

    assert store.get(TICKETS, "doc-01") is None
    page = store.list(TICKETS, ListQuery(offset=0, limit=10))
    assert ids(page) == [inserted[0], inserted[2]]
    assert page.total == 2


def test_a_deleted_id_can_be_inserted_again_at_version_1_at_the_end_of_the_listing(
    store: Store,
) -> None:
    fill(store, 3)
    assert store.delete(TICKETS, "doc-00")

    store.insert(TICKETS, a_doc("doc-00", reborn=True))

    assert store.get(TICKETS, "doc-00") == Stored(a_doc("doc-00", reborn=True), 1)
    assert ids(store.list(TICKETS, ListQuery(offset=0, limit=10))) == ["doc-01", "doc-02", "doc-00"]


# -- concurrency ----------------------------------------------------------------------------------

WRITERS = 20
MAX_ATTEMPTS_PER_WRITER = 10_000  # a safety net so a broken store fails the test, not hangs it


def test_concurrent_read_modify_write_loops_lose_no_update(store: Store) -> None:
    store.insert(TICKETS, a_doc("counter", items=[]))

    def writer(i: int) -> None:
        for _ in range(MAX_ATTEMPTS_PER_WRITER):
            current = store.get(TICKETS, "counter")
            assert current is not None
            updated = {**current.doc, "items": [*current.doc["items"], f"writer-{i}"]}
            if store.replace(TICKETS, updated, expected_version=current.version):
                return
        raise AssertionError(f"writer {i} never won a compare-and-set")

    run_together(writer, range(WRITERS))

    final = store.get(TICKETS, "counter")
    assert final is not None
    assert sorted(final.doc["items"]) == sorted(f"writer-{i}" for i in range(WRITERS))
    assert len(final.doc["items"]) == WRITERS
    assert final.version == 1 + WRITERS


# -- bulk insert ----------------------------------------------------------------------------------


def test_insert_many_stores_every_document_at_version_1_in_order(store: Store) -> None:
    docs = [a_doc(f"bulk-{n}", n=n) for n in range(5)]

    assert store.insert_many(TICKETS, iter(docs)) == 5

    assert [store.get(TICKETS, doc["id"]) for doc in docs] == [Stored(doc, 1) for doc in docs]
    assert ids(store.list(TICKETS, ListQuery(offset=0, limit=10))) == [d["id"] for d in docs]


def test_insert_many_with_a_taken_id_stores_nothing(store: Store) -> None:
    store.insert(TICKETS, a_doc("taken"))

    with pytest.raises(DuplicateId):
        store.insert_many(TICKETS, [a_doc("new-1"), a_doc("taken"), a_doc("new-2")])

    assert store.get(TICKETS, "new-1") is None
    assert store.list(TICKETS, ListQuery(offset=0, limit=10)).total == 1


def test_insert_many_with_an_id_repeated_in_the_batch_stores_nothing(store: Store) -> None:
    with pytest.raises(DuplicateId):
        store.insert_many(TICKETS, [a_doc("a"), a_doc("b"), a_doc("a")])

    assert store.list(TICKETS, ListQuery(limit=10)).total == 0


# -- moving data: scan and restore -----------------------------------------------------------------


def test_scan_gives_every_document_with_its_version_in_insertion_order(store: Store) -> None:
    for n in range(7):
        store.insert(TICKETS, a_doc(f"s-{n}", n=n))
    store.replace(TICKETS, a_doc("s-3", n=33), expected_version=1)
    store.delete(TICKETS, "s-5")
    store.insert(SPECS, a_doc("spec-1"))

    scanned = list(store.scan(TICKETS))

    assert [item.doc["id"] for item in scanned] == ["s-0", "s-1", "s-2", "s-3", "s-4", "s-6"]
    assert [item.version for item in scanned] == [1, 1, 1, 2, 1, 1]
    assert scanned[3].doc == a_doc("s-3", n=33)
    assert [item.doc["id"] for item in store.scan(SPECS)] == ["spec-1"]


def test_scan_reads_lazily_and_keeps_every_field(store: Store) -> None:
    store.insert(TICKETS, copy.deepcopy(RICH_DOC))
    store.insert(TICKETS, a_doc("second"))

    walk = store.scan(TICKETS)
    first = next(walk)

    assert_same_json(first.doc, RICH_DOC)
    assert [item.doc["id"] for item in walk] == ["second"]


def test_restore_keeps_versions_so_etags_survive_a_move(store: Store) -> None:
    items = [Stored(a_doc("r-1", n=1), 7), Stored(a_doc("r-2"), 1)]

    assert store.restore(TICKETS, iter(items)) == 2

    assert store.get(TICKETS, "r-1") == Stored(a_doc("r-1", n=1), 7)
    assert store.replace(TICKETS, a_doc("r-1", n=2), expected_version=1) is None
    assert store.replace(TICKETS, a_doc("r-1", n=2), expected_version=7) == Stored(
        a_doc("r-1", n=2), 8
    )


def test_restore_with_a_taken_id_stores_nothing(store: Store) -> None:
    store.insert(TICKETS, a_doc("taken"))

    with pytest.raises(DuplicateId):
        store.restore(TICKETS, [Stored(a_doc("new-1"), 3), Stored(a_doc("taken"), 2)])

    assert store.get(TICKETS, "new-1") is None


@pytest.mark.parametrize(
    "query",
    [
        ListQuery(limit=2),
        ListQuery(limit=0),
        ListQuery(limit=2, offset=3),
        ListQuery(limit=2, sort=(SortKey(("severity",), descending=True),)),
    ],
    ids=["first page", "count only", "offset", "sorted"],
)
def test_a_listing_without_count_gives_the_same_page_and_no_total(
    store: Store, query: ListQuery
) -> None:
    for n in range(6):
        store.insert(TICKETS, a_doc(f"t-{n}", severity=["Minor", "Major"][n % 2]))
    counted = store.list(TICKETS, query)
    uncounted = store.list(TICKETS, replace(query, count=False))
    assert counted.total == 6
    assert counted.counted == 6
    assert uncounted.total is None
    assert uncounted.items == counted.items
    assert uncounted.next_cursor == counted.next_cursor
    with pytest.raises(ValueError, match="count=False"):
        _ = uncounted.counted
