"""``Store.write`` and the counters, on every adapter: several documents in one atomic write, a
stale one left out with its counters, a taken id failing all of it; counters that move only
with the writes that carry them."""

from __future__ import annotations

from typing import Any

import pytest

from troubleticket.store.port import Collection, CounterChange, DuplicateId, ListQuery, Store, Write

TICKETS = Collection.TROUBLE_TICKET


def doc(doc_id: str, **attributes: Any) -> dict[str, Any]:
    return {"id": doc_id, "@type": "TroubleTicket", "status": "acknowledged", **attributes}


def event(event_id: str, about: str) -> dict[str, Any]:
    return {"id": event_id, "eventType": "X", "body": {"about": about}, "state": "new"}


def events(store: Store) -> list[str]:
    store.relay_events()
    return sorted(e["id"] for e in store.list(Collection.EVENT, ListQuery(limit=100)).items)


def test_inserts_replaces_and_deletes_in_one_write_with_their_events_and_counters(
    store: Store,
) -> None:
    store.insert(TICKETS, doc("a"))
    store.insert(TICKETS, doc("b"))
    up = CounterChange("k", "n", 1)

    written = store.write(
        TICKETS,
        [
            Write(doc("c"), None, [event("e-c", "c")], [up]),
            Write(doc("a", status="inProgress"), 1, [event("e-a", "a")], [up, up]),
            Write({"id": "b"}, 1, [event("e-b", "b")], [CounterChange("k", "m", 5)], delete=True),
        ],
    )

    assert [w.version if w else None for w in written] == [1, 2, 2]
    assert store.get(TICKETS, "c") is not None
    stored = store.get(TICKETS, "a")
    assert stored is not None and stored.doc["status"] == "inProgress" and stored.version == 2
    assert store.get(TICKETS, "b") is None
    assert events(store) == ["e-a", "e-b", "e-c"]
    assert store.counters("k") == {"n": 3, "m": 5}


def test_a_stale_document_is_left_out_with_its_events_and_counters(store: Store) -> None:
    store.insert(TICKETS, doc("a"))
    store.insert(TICKETS, doc("b"))
    store.replace(TICKETS, doc("b", status="held"), expected_version=1)  # b moves on to 2

    written = store.write(
        TICKETS,
        [
            Write(
                doc("a", status="inProgress"), 1, [event("e-a", "a")], [CounterChange("k", "a", 1)]
            ),
            Write(
                doc("b", status="inProgress"), 1, [event("e-b", "b")], [CounterChange("k", "b", 1)]
            ),
            Write({"id": "gone"}, 1, [], [CounterChange("k", "gone", 1)], delete=True),
        ],
    )

    assert [w is not None for w in written] == [True, False, False]
    stored = store.get(TICKETS, "b")
    assert stored is not None and stored.doc["status"] == "held"
    assert events(store) == ["e-a"]
    assert store.counters("k") == {"a": 1}


def test_a_taken_id_fails_the_whole_write(store: Store) -> None:
    store.insert(TICKETS, doc("a"))
    store.insert(TICKETS, doc("taken"))

    with pytest.raises(DuplicateId):
        store.write(
            TICKETS,
            [
                Write(
                    doc("a", status="inProgress"),
                    1,
                    [event("e-a", "a")],
                    [CounterChange("k", "n", 1)],
                ),
                Write(doc("taken"), None, [event("e-t", "t")], [CounterChange("k", "n", 1)]),
            ],
        )

    stored = store.get(TICKETS, "a")
    assert stored is not None and (stored.doc["status"], stored.version) == ("acknowledged", 1)
    assert events(store) == []
    assert store.counters("k") == {}


def test_counters_come_back_to_zero_and_are_counted_above_it(store: Store) -> None:
    store.insert(TICKETS, doc("a"))
    store.write(
        TICKETS,
        [
            Write(
                doc("a", status="held"),
                1,
                counters=[
                    CounterChange("customers", "c-1", 1),
                    CounterChange("customers", "c-2", 2),
                    CounterChange("customers", "c-3", 1),
                    CounterChange("other", "c-9", 1),
                ],
            )
        ],
    )
    store.write(
        TICKETS,
        [
            Write(
                doc("a", status="inProgress"),
                2,
                counters=[
                    CounterChange("customers", "c-1", -1),
                    CounterChange("customers", "c-2", -1),
                ],
            )
        ],
    )

    assert store.counters("customers") == {"c-2": 1, "c-3": 1}
    assert store.count_counters("customers") == 2
    assert store.count_counters("nothing") == 0
    assert store.counters("nothing") == {}


def test_a_child_written_with_counters_is_found_by_its_indexed_parent(store: Store) -> None:
    from troubleticket.store.query import parse_filter

    store.write(
        TICKETS,
        [Write(doc("c-1", parentTicketId="p"), None, counters=[CounterChange("k", "n", 1)])],
    )
    store.insert(TICKETS, doc("c-2", parentTicketId="q"))
    page = store.list(TICKETS, ListQuery(where=parse_filter("parentTicketId=p")))
    assert [d["id"] for d in page.items] == ["c-1"]


def test_restored_documents_bring_their_counters(store: Store) -> None:
    from troubleticket.store.port import Stored

    moved = store.restore(
        TICKETS,
        [Stored(doc("a"), 4), Stored(doc("b"), 2)],
        counters=[CounterChange("k", "n", 2), CounterChange("k", "m", 1)],
    )
    assert moved == 2
    stored = store.get(TICKETS, "a")
    assert stored is not None and stored.version == 4
    assert store.counters("k") == {"n": 2, "m": 1}
