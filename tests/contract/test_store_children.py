"""Children through the store port, on every adapter: a ticket's recovery activities, written
inside the ticket and read, filtered, sorted and paged across tickets like any collection.

Each listing is checked against ids written out by hand and against the reference evaluator
over the same activities, so every adapter means what the evaluator means.
"""

from __future__ import annotations

from typing import Any

import pytest

from troubleticket.store.port import CHILDREN, Collection, ListQuery, Store
from troubleticket.store.query import Filter, SortKey, matches, parse_filter, parse_sort

TICKETS = Collection.TROUBLE_TICKET
ACTIVITIES = Collection.RECOVERY_ACTIVITY


def activity(activity_id: str, ticket_id: str, state: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": activity_id,
        "@type": "RecoveryActivity",
        "troubleTicket": {"@type": "TroubleTicketRef", "id": ticket_id},
        "state": state,
        **extra,
    }


def team(party_id: str) -> dict[str, Any]:
    return {"role": "assignee", "partyOrPartyRole": {"@type": "PartyRoleRef", "id": party_id}}


def ticket(ticket_id: str, *activities: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "@type": "TroubleTicket",
        "status": "inProgress",
        "recoveryActivity": list(activities),
    }


# Ids are issued in creation order: a-01 … a-06 across two tickets, and a third with none.
T1 = ticket(
    "t1",
    activity("a-01", "t1", "completed", activityType="diagnose", assignee=team("noc")),
    activity(
        "a-03",
        "t1",
        "inProgress",
        activityType="dispatchTechnician",
        plannedEndDate="2026-11-20T12:00:00.000Z",
        assignee=team("field-7"),
    ),
    activity("a-05", "t1", "planned", activityType="partnerRepair", dependsOn=["a-03"]),
)
T2 = ticket(
    "t2",
    activity("a-02", "t2", "planned", activityType="diagnose", assignee=team("noc")),
    activity(
        "a-04",
        "t2",
        "inProgress",
        activityType="configurationChange",
        plannedEndDate="2026-11-20T09:30:00.000Z",
        progress=40,
    ),
    activity("a-06", "t2", "cancelled", activityType="customerContact"),
)
T3 = ticket("t3")


@pytest.fixture
def loaded(store: Store) -> Store:
    for doc in (T1, T2, T3):
        store.insert(TICKETS, doc)
    return store


def every_activity() -> list[dict[str, Any]]:
    return [*T1["recoveryActivity"], *T2["recoveryActivity"]]


def ids(store: Store, query: ListQuery) -> list[str]:
    return [doc["id"] for doc in store.list(ACTIVITIES, query).items]


def test_activities_are_children_of_trouble_tickets() -> None:
    assert CHILDREN[ACTIVITIES] == (TICKETS, "recoveryActivity")


class TestReading:
    def test_an_activity_is_found_by_its_id_alone(self, loaded: Store) -> None:
        found = loaded.get(ACTIVITIES, "a-04")

        assert found is not None
        assert found.doc == T2["recoveryActivity"][1]
        assert loaded.get(ACTIVITIES, "a-99") is None
        assert loaded.get(ACTIVITIES, "t1") is None

    def test_without_a_sort_activities_of_every_ticket_come_by_id(self, loaded: Store) -> None:
        page = loaded.list(ACTIVITIES, ListQuery())

        assert [doc["id"] for doc in page.items] == ["a-01", "a-02", "a-03", "a-04", "a-05", "a-06"]
        assert page.items[0] == T1["recoveryActivity"][0]
        assert page.total == 6

    def test_scan_yields_every_activity(self, loaded: Store) -> None:
        assert sorted(item.doc["id"] for item in loaded.scan(ACTIVITIES)) == [
            "a-01",
            "a-02",
            "a-03",
            "a-04",
            "a-05",
            "a-06",
        ]


QUERIES = [
    ("state=inProgress", None, ["a-03", "a-04"]),
    ("state=planned,held", None, ["a-02", "a-05"]),
    ("troubleTicket.id=t2", None, ["a-02", "a-04", "a-06"]),
    ("assignee.partyOrPartyRole.id=noc", None, ["a-01", "a-02"]),
    ("state=inProgress&plannedEndDate.lt=2026-11-20T11:00:00Z", None, ["a-04"]),
    ("plannedEndDate.lt=2026-11-20T13:30:00+01:00", None, ["a-03", "a-04"]),
    ("activityType=diagnose&troubleTicket.id=t1", None, ["a-01"]),
    ("dependsOn=a-03", None, ["a-05"]),
    ("progress.gte=40", None, ["a-04"]),
    ("activityType.regex=^(diag|part)", "-id", ["a-05", "a-02", "a-01"]),
    ("", "-plannedEndDate", ["a-03", "a-04", "a-01", "a-02", "a-05", "a-06"]),
    ("", "state,-id", ["a-06", "a-01", "a-04", "a-03", "a-05", "a-02"]),
]


@pytest.mark.parametrize(("raw", "sort", "expected"), QUERIES)
def test_a_filtered_sorted_listing_means_what_the_evaluator_means(
    loaded: Store, raw: str, sort: str | None, expected: list[str]
) -> None:
    where = parse_filter(raw)
    order = parse_sort(sort)
    query = ListQuery(where=where, sort=order)

    page = loaded.list(ACTIVITIES, query)

    found = [doc["id"] for doc in page.items]
    assert sorted(found) == sorted(a["id"] for a in every_activity() if matches(a, where))
    assert found == expected
    assert page.total == len(expected)


class TestPaging:
    def test_pages_by_offset_and_by_cursor_visit_each_activity_once(self, loaded: Store) -> None:
        where = Filter(parse_filter("state=planned,inProgress,completed").groups)
        order = (SortKey(("activityType",)),)
        by_offset = [
            ids(loaded, ListQuery(where=where, sort=order, offset=offset, limit=2))
            for offset in (0, 2, 4)
        ]
        walked: list[str] = []
        after = None
        while True:
            page = loaded.list(ACTIVITIES, ListQuery(where=where, sort=order, limit=2, after=after))
            walked += [doc["id"] for doc in page.items]
            if page.next_cursor is None:
                break
            after = page.next_cursor

        expected = ["a-04", "a-01", "a-02", "a-03", "a-05"]
        assert [i for chunk in by_offset for i in chunk] == expected
        assert walked == expected

    def test_a_count_alone_is_exact(self, loaded: Store) -> None:
        page = loaded.list(ACTIVITIES, ListQuery(where=parse_filter("state=inProgress"), limit=0))

        assert (page.items, page.total) == ([], 2)


class TestWritingThroughTheParent:
    def test_a_changed_added_and_removed_child_show_in_the_next_read(self, loaded: Store) -> None:
        stored = loaded.get(TICKETS, "t1")
        assert stored is not None
        done, started, waiting = stored.doc["recoveryActivity"]
        changed = {
            **stored.doc,
            "recoveryActivity": [
                done,
                {**started, "state": "completed"},
                activity("a-07", "t1", "planned", activityType="customerContact"),
            ],
        }

        written = loaded.replace(TICKETS, changed, expected_version=stored.version)

        assert written is not None
        completed = loaded.get(ACTIVITIES, "a-03")
        assert completed is not None
        assert completed.doc["state"] == "completed"
        assert completed.version > 1
        assert loaded.get(ACTIVITIES, waiting["id"]) is None
        assert ids(loaded, ListQuery(where=parse_filter("troubleTicket.id=t1"))) == [
            "a-01",
            "a-03",
            "a-07",
        ]

    def test_a_parent_that_loses_its_compare_and_set_changes_no_child(self, loaded: Store) -> None:
        stored = loaded.get(TICKETS, "t2")
        assert stored is not None
        stale = {**stored.doc, "recoveryActivity": []}

        assert loaded.replace(TICKETS, stale, expected_version=stored.version + 1) is None

        assert ids(loaded, ListQuery(where=parse_filter("troubleTicket.id=t2"))) == [
            "a-02",
            "a-04",
            "a-06",
        ]

    def test_deleting_the_parent_deletes_its_children(self, loaded: Store) -> None:
        assert loaded.delete(TICKETS, "t2")

        assert loaded.get(ACTIVITIES, "a-04") is None
        assert ids(loaded, ListQuery()) == ["a-01", "a-03", "a-05"]

    def test_children_are_not_written_on_their_own(self, loaded: Store) -> None:
        with pytest.raises(ValueError, match="recoveryActivity"):
            loaded.insert(ACTIVITIES, activity("a-09", "t1", "planned"))
