"""From the embedded SQLite store to MongoDB (mongomock) through an export file, and back."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mongomock_server import in_memory_server
from tests.unit.transfer_samples import (
    SPECIFICATIONS,
    TICKETS,
    as_text,
    counts,
    insert_notifications,
    listed,
    rich_ticket,
    specification,
    ticket,
)
from troubleticket.store.mongo import MongoStore
from troubleticket.store.port import DOCUMENT_COLLECTIONS, Collection
from troubleticket.store.sqlite import SqliteStore
from troubleticket.transfer import export_store, import_store
from troubleticket.types import JSON

# Every 20th ticket is the one rich in JSON edge cases, the others realistic, some full.
TICKET_DOCS: list[JSON] = [
    rich_ticket(f"tt-{n:03}")
    if n % 20 == 7
    else ticket(f"tt-{n:03}", minute=n % 90, full=n % 3 == 0)
    for n in range(203)
]
SPEC_DOCS = [specification(f"spec-{n}") for n in (3, 1, 2)]


def version_of(n: int) -> int:
    """The version ticket n is at in the source: some were updated once or twice."""
    return 1 + (n % 10 == 0) + (n % 25 == 0)


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "source.sqlite3")
    store.insert_many(TICKETS, TICKET_DOCS)
    store.insert_many(SPECIFICATIONS, SPEC_DOCS)
    for n, doc in enumerate(TICKET_DOCS):
        for version in range(1, version_of(n)):
            assert store.replace(TICKETS, doc, expected_version=version) is not None
    yield store
    store.close()


@pytest.fixture
def mongo() -> Iterator[MongoStore]:
    store = MongoStore(in_memory_server(), database="migrated")
    yield store
    store.close()


def test_every_document_moves_from_sqlite_to_mongodb_unchanged(
    sqlite: SqliteStore, mongo: MongoStore, tmp_path: Path
) -> None:
    path = tmp_path / "export.jsonl"
    with path.open("w", encoding="utf-8", newline="\n") as out:
        written = export_store(sqlite, out, page_size=64)
    with path.open("rb") as lines:
        imported = import_store(mongo, lines, batch_size=50)

    assert written == imported == counts(troubleTicket=203, troubleTicketSpecification=3)
    for collection, originals in ((TICKETS, TICKET_DOCS), (SPECIFICATIONS, SPEC_DOCS)):
        copies = listed(mongo, collection)
        assert [doc["id"] for doc in copies] == [doc["id"] for doc in originals]
        assert copies == originals
        assert [as_text(doc) for doc in copies] == [as_text(doc) for doc in originals]
        for n, original in enumerate(originals):
            stored = mongo.get(collection, original["id"])
            assert stored is not None
            assert stored.doc == original
            assert as_text(stored.doc) == as_text(original)
            # versions (ETags) carried over: 1, 2 or 3 as in the source
            assert stored.version == (version_of(n) if collection == TICKETS else 1)
            assert stored == sqlite.get(collection, original["id"])


def test_subscriptions_events_and_deliveries_move_from_sqlite_to_mongodb_unchanged(
    mongo: MongoStore, tmp_path: Path
) -> None:
    source = SqliteStore(tmp_path / "notifications.sqlite3")
    try:
        source.insert(TICKETS, ticket("tt-1"))
        insert_notifications(source)
        originals = {
            collection: list(source.scan(collection)) for collection in DOCUMENT_COLLECTIONS
        }
        out = io.StringIO()
        written = export_store(source, out, page_size=2)
    finally:
        source.close()

    imported = import_store(mongo, io.StringIO(out.getvalue()), batch_size=2)

    assert written == imported == counts(troubleTicket=1, hub=2, event=2, delivery=3)
    copies = {collection: list(mongo.scan(collection)) for collection in DOCUMENT_COLLECTIONS}
    assert copies == originals
    assert [item.version for item in copies[Collection.DELIVERY]] == [8, 1, 1]
    for collection in DOCUMENT_COLLECTIONS:
        assert [as_text(item.doc) for item in copies[collection]] == [
            as_text(item.doc) for item in originals[collection]
        ]
        for item in originals[collection]:
            assert mongo.get(collection, item.doc["id"]) == item


def test_mongodb_exports_the_same_document_lines_sqlite_did(
    sqlite: SqliteStore, mongo: MongoStore
) -> None:
    from_sqlite = io.StringIO()
    export_store(sqlite, from_sqlite)
    import_store(mongo, io.StringIO(from_sqlite.getvalue()))

    from_mongo = io.StringIO()
    export_store(mongo, from_mongo)

    # The header differs in its time stamp only; every other line, byte for byte, not at all.
    first, *rest = from_sqlite.getvalue().split("\n")
    again, *rest_again = from_mongo.getvalue().split("\n")
    assert rest_again == rest
    assert len(rest) == 203 + 3 + 2  # documents, end line, and the empty text after the last \n
    assert first.split('"collections"')[1] == again.split('"collections"')[1]
