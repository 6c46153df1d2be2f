"""What the SQLite adapter promises beyond the port: a durable file, WAL, a unique id, real CAS.

Unlike ``test_store.py`` these tests know they face ``SqliteStore`` and look at the file with a
plain ``sqlite3`` connection of their own.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.threads import TIMEOUT_S, run_together
from troubleticket.store.port import Collection, DuplicateId, ListQuery, Page, Stored
from troubleticket.store.query import parse_filter, parse_sort
from troubleticket.store.sqlite import SqliteStore

TICKETS = Collection.TROUBLE_TICKET
SPECS = Collection.TROUBLE_TICKET_SPECIFICATION
TABLES = ("trouble_ticket", "trouble_ticket_specification")


def a_doc(doc_id: str, **attributes: Any) -> dict[str, Any]:
    return {"id": doc_id, "@type": "TroubleTicket", **attributes}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "x.sqlite3"


@pytest.fixture
def sqlite_store(db_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(db_path)
    yield opened
    opened.close()


def raw(path: Path) -> closing[sqlite3.Connection]:
    return closing(sqlite3.connect(path))


def test_documents_survive_closing_and_reopening_the_store(db_path: Path) -> None:
    first = SqliteStore(db_path)
    first.insert(TICKETS, a_doc("t-1", description="Störung ☎️", note=[{"text": "n1"}]))
    first.insert(TICKETS, a_doc("t-2", description="to be replaced"))
    first.insert(TICKETS, a_doc("t-3", description="to be deleted"))
    first.insert(SPECS, a_doc("s-1", name="spec"))
    assert first.replace(TICKETS, a_doc("t-2", description="replaced"), expected_version=1)
    assert first.delete(TICKETS, "t-3")
    first.close()

    second = SqliteStore(db_path)
    try:
        assert second.get(TICKETS, "t-1") == Stored(
            a_doc("t-1", description="Störung ☎️", note=[{"text": "n1"}]), 1
        )
        assert second.get(TICKETS, "t-2") == Stored(a_doc("t-2", description="replaced"), 2)
        assert second.get(TICKETS, "t-3") is None
        assert second.list(TICKETS, ListQuery(offset=0, limit=10)) == Page(
            [
                a_doc("t-1", description="Störung ☎️", note=[{"text": "n1"}]),
                a_doc("t-2", description="replaced"),
            ],
            2,
        )
        assert second.get(SPECS, "s-1") == Stored(a_doc("s-1", name="spec"), 1)
        # The compare-and-set continues from the persisted version.
        again = a_doc("t-2", description="again")
        assert second.replace(TICKETS, again, expected_version=1) is None
        assert second.replace(TICKETS, again, expected_version=2) == Stored(again, 3)
        with pytest.raises(DuplicateId):
            second.insert(TICKETS, a_doc("t-1"))
    finally:
        second.close()


def test_documents_inserted_after_reopening_are_listed_after_the_old_ones(db_path: Path) -> None:
    first = SqliteStore(db_path)
    first.insert(TICKETS, a_doc("z-old"))
    first.close()

    second = SqliteStore(db_path)
    try:
        second.insert(TICKETS, a_doc("a-new"))
        assert [doc["id"] for doc in second.list(TICKETS, ListQuery(offset=0, limit=10)).items] == [
            "z-old",
            "a-new",
        ]
    finally:
        second.close()


def test_the_store_creates_missing_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "tickets.sqlite3"

    opened = SqliteStore(path)
    try:
        opened.insert(TICKETS, a_doc("t-1"))
    finally:
        opened.close()

    assert path.is_file()


def test_the_database_file_is_in_wal_journal_mode(sqlite_store: SqliteStore, db_path: Path) -> None:
    sqlite_store.insert(TICKETS, a_doc("t-1"))

    with raw(db_path) as conn:
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()

    assert mode.lower() == "wal"


@pytest.mark.parametrize("table", TABLES)
def test_the_schema_puts_a_unique_index_on_id(
    sqlite_store: SqliteStore, db_path: Path, table: str
) -> None:
    with raw(db_path) as conn:
        indexes = conn.execute(f"PRAGMA index_list({table})").fetchall()
        unique_columns = [
            [info[2] for info in conn.execute(f"PRAGMA index_info({index[1]!r})").fetchall()]
            for index in indexes
            if index[2] == 1  # the "unique" column of index_list
        ]

    assert ["id"] in unique_columns


def test_a_duplicate_id_written_behind_the_stores_back_is_refused_by_the_database(
    sqlite_store: SqliteStore, db_path: Path
) -> None:
    sqlite_store.insert(TICKETS, a_doc("t-1"))

    with raw(db_path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO trouble_ticket (id, version, doc) VALUES (?, 1, ?)", ("t-1", "{}")
        )


def test_of_two_writers_that_read_the_same_version_exactly_one_wins(
    sqlite_store: SqliteStore,
) -> None:
    sqlite_store.insert(TICKETS, a_doc("t-1", description="v1"))
    both_have_read = threading.Barrier(2)
    results: dict[str, Stored | None] = {}

    def writer(name: str) -> None:
        current = sqlite_store.get(TICKETS, "t-1")
        assert current is not None
        both_have_read.wait(timeout=TIMEOUT_S)
        results[name] = sqlite_store.replace(
            TICKETS, a_doc("t-1", description=name), expected_version=current.version
        )

    run_together(writer, ["left", "right"])

    winners = [name for name, result in results.items() if result is not None]
    losers = [name for name, result in results.items() if result is None]
    assert len(winners) == 1
    assert len(losers) == 1
    (winner,) = winners
    assert results[winner] == Stored(a_doc("t-1", description=winner), 2)
    assert sqlite_store.get(TICKETS, "t-1") == Stored(a_doc("t-1", description=winner), 2)


def test_an_in_memory_store_serves_calls_from_any_thread() -> None:
    # app.open_store maps TT_STORE=sqlite:/// to ":memory:", and the API calls the store from
    # a worker thread pool, so a document written in one thread must be visible in another.
    in_memory = SqliteStore(":memory:")
    try:
        in_memory.insert(TICKETS, a_doc("t-1"))
        seen: list[object] = []

        def reader() -> None:
            try:
                seen.append(in_memory.get(TICKETS, "t-1"))
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread below
                seen.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        thread.join(timeout=TIMEOUT_S)

        assert not thread.is_alive()
        assert seen == [Stored(a_doc("t-1"), 1)]
    finally:
        in_memory.close()


@pytest.mark.parametrize(
    ("query", "sort", "index"),
    [
        ("status=acknowledged", "-creationDate", "trouble_ticket_by_status"),
        ("relatedParty.partyOrPartyRole.id=42", "", "trouble_ticket_party_by_id"),
        (
            "creationDate.gte=2026-11-01T00:00:00Z",
            "-creationDate",
            "trouble_ticket_by_creation_date",
        ),
        ("", "-lastUpdate", "trouble_ticket_by_last_update"),
    ],
)
def test_typical_list_queries_use_an_index_instead_of_scanning_every_ticket(
    sqlite_store: SqliteStore, query: str, sort: str, index: str
) -> None:
    plan = sqlite_store.explain(
        TICKETS, ListQuery(where=parse_filter(query), sort=parse_sort(sort), limit=20)
    )

    assert any(index in line for line in plan), plan
    # "SCAN t USING INDEX" walks the index in order and stops at the limit; a bare SCAN reads all.
    assert "page: SCAN trouble_ticket" not in plan, plan


def test_a_database_from_before_the_indexed_columns_gains_them_and_keeps_its_tickets(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "CREATE TABLE trouble_ticket (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL, doc TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO trouble_ticket (id, version, doc) VALUES (?, 3, ?)",
            ("old-1", '{"id": "old-1", "status": "held", "severity": "Minor"}'),
        )
        conn.commit()

    store = SqliteStore(path)
    try:
        page = store.list(TICKETS, ListQuery(where=parse_filter("status=held"), limit=10))
        assert page.items == [{"id": "old-1", "status": "held", "severity": "Minor"}]
        assert store.get(TICKETS, "old-1") == Stored(page.items[0], 3)
        plan = store.explain(TICKETS, ListQuery(where=parse_filter("status=held"), limit=10))
        assert any("trouble_ticket_by_status" in line for line in plan)
    finally:
        store.close()


# Counts are kept between listings while nothing was committed (SqliteStore._count): every way
# a commit can happen must make the next listing count again.

HELD = ListQuery(where=parse_filter("status=held"), limit=1)
HELD_COUNT_ONLY = ListQuery(where=parse_filter("status=held"), limit=0)


def held(store: SqliteStore, query: ListQuery = HELD) -> int:
    return store.list(TICKETS, query).counted


def test_a_kept_count_follows_this_stores_own_writes(sqlite_store: SqliteStore) -> None:
    sqlite_store.insert(TICKETS, a_doc("t-1", status="held"))
    assert held(sqlite_store) == 1
    assert held(sqlite_store) == 1
    sqlite_store.insert(TICKETS, a_doc("t-2", status="held"))
    assert held(sqlite_store) == 2
    assert held(sqlite_store, HELD_COUNT_ONLY) == 2
    assert sqlite_store.replace(TICKETS, a_doc("t-1", status="resolved"), expected_version=1)
    assert held(sqlite_store) == 1
    assert held(sqlite_store, HELD_COUNT_ONLY) == 1
    assert sqlite_store.delete(TICKETS, "t-2")
    assert held(sqlite_store) == 0
    assert held(sqlite_store, HELD_COUNT_ONLY) == 0


def test_a_kept_count_follows_writes_of_other_threads(sqlite_store: SqliteStore) -> None:
    sqlite_store.insert(TICKETS, a_doc("t-1", status="held"))
    assert held(sqlite_store) == 1

    writer = threading.Thread(
        target=sqlite_store.insert, args=(TICKETS, a_doc("t-2", status="held"))
    )
    writer.start()
    writer.join(TIMEOUT_S)

    assert held(sqlite_store) == 2


@pytest.mark.parametrize("query", [HELD, HELD_COUNT_ONLY], ids=["page", "count only"])
def test_a_kept_count_follows_writes_of_other_processes(
    sqlite_store: SqliteStore, db_path: Path, query: ListQuery
) -> None:
    sqlite_store.insert(TICKETS, a_doc("t-1", status="held"))
    assert held(sqlite_store, query) == 1

    # another connection to the file, as another server process would have
    with raw(db_path) as other:
        other.execute(
            "INSERT INTO trouble_ticket (id, version, doc) VALUES (?, 1, ?)",
            ("t-2", '{"id":"t-2","@type":"TroubleTicket","status":"held"}'),
        )
        other.commit()
    assert held(sqlite_store, query) == 2

    with raw(db_path) as other:
        other.execute("DELETE FROM trouble_ticket WHERE id = 't-1'")
        other.commit()
    assert held(sqlite_store, query) == 1


def test_a_failed_write_leaves_kept_counts_exact(sqlite_store: SqliteStore) -> None:
    sqlite_store.insert(TICKETS, a_doc("t-1", status="held"))
    assert held(sqlite_store) == 1
    with pytest.raises(DuplicateId):
        sqlite_store.insert_many(
            TICKETS, [a_doc("t-2", status="held"), a_doc("t-1", status="held")]
        )
    assert held(sqlite_store) == 1


# Group commit: concurrent writers share one transaction and one fsync (SqliteStore._transaction)


def committed_ids(path: Path) -> set[str]:
    with raw(path) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM trouble_ticket")}


def test_concurrent_writers_share_commits_and_each_returns_only_once_committed(
    sqlite_store: SqliteStore, db_path: Path
) -> None:
    seen_after_return: list[bool] = []

    def write(n: int) -> None:
        for i in range(20):
            doc_id = f"t-{n}-{i}"
            sqlite_store.insert(TICKETS, a_doc(doc_id, status="held"))
            # another connection (another process) sees it the moment insert returns
            seen_after_return.append(doc_id in committed_ids(db_path))

    before = sqlite_store._db.commits
    run_together(write, list(range(16)))

    assert seen_after_return == [True] * 320
    assert len(committed_ids(db_path)) == 320
    assert sqlite_store.list(TICKETS, HELD).total == 320
    # grouped: fewer commits than writes (a writer alone commits alone, so not 1 either)
    assert sqlite_store._db.commits - before < 320


def test_a_writer_that_fails_inside_a_group_leaves_the_others_committed(
    sqlite_store: SqliteStore, db_path: Path
) -> None:
    sqlite_store.insert(TICKETS, a_doc("taken"))
    refused: list[int] = []

    def write(n: int) -> None:
        for i in range(10):
            if n % 4 == 0 and i == 5:
                with pytest.raises(DuplicateId):
                    sqlite_store.insert_many(TICKETS, [a_doc(f"x-{n}"), a_doc("taken")])
                refused.append(n)
            else:
                sqlite_store.insert(TICKETS, a_doc(f"t-{n}-{i}"))

    run_together(write, list(range(16)))

    ids = committed_ids(db_path)
    assert len(refused) == 4
    assert not {f"x-{n}" for n in refused} & ids  # the failed write left nothing behind
    assert len(ids) == 1 + 16 * 10 - 4


def test_each_write_commits_alone_without_group_commit(db_path: Path) -> None:
    store = SqliteStore(db_path, group_commit=False)
    try:
        before = store._db.commits
        run_together(lambda n: store.insert(TICKETS, a_doc(f"t-{n}")), list(range(8)))
        assert store._db.commits - before == 8
        assert len(committed_ids(db_path)) == 8
    finally:
        store.close()


def test_an_integer_beyond_64_bits_kept_earlier_sorts_and_filters(
    sqlite_store: SqliteStore,
) -> None:
    # Requests with such integers are refused now; a store may hold some from before.
    sqlite_store.insert(Collection.TROUBLE_TICKET, a_doc("big", amount=2**70))
    sqlite_store.insert(Collection.TROUBLE_TICKET, a_doc("small", amount=5))

    for raw, expected in (("amount", ["small", "big"]), ("-amount", ["big", "small"])):
        page = sqlite_store.list(
            Collection.TROUBLE_TICKET, ListQuery(offset=0, limit=10, sort=parse_sort(raw))
        )
        assert [doc["id"] for doc in page.items] == expected
    page = sqlite_store.list(
        Collection.TROUBLE_TICKET,
        ListQuery(offset=0, limit=10, where=parse_filter("amount.gt=10")),
    )
    assert [doc["id"] for doc in page.items] == ["big"]
