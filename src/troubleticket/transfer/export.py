"""Every stored document written out, a page at a time, collection by collection."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TextIO

from troubleticket.store.port import (
    DOCUMENT_COLLECTIONS,
    Collection,
    ListQuery,
    Store,
    Stored,
)
from troubleticket.transfer.format import (
    DEFAULT_PAGE_SIZE,
    FORMAT,
    FORMAT_VERSION,
    Counts,
    Progress,
    by_name,
    dumps,
    rfc3339,
    utc_now,
)
from troubleticket.types import Clock


def export_store(
    store: Store,
    out: TextIO,
    *,
    collections: Iterable[Collection] = DOCUMENT_COLLECTIONS,
    page_size: int = DEFAULT_PAGE_SIZE,
    progress: Progress | None = None,
    clock: Clock = utc_now,
) -> Counts:
    """Write every document of ``collections`` to ``out`` as an export file; return the counts.

    All collections by default: the resources, and the subscriptions, events and deliveries of
    notifications, so that no subscriber misses an event because the store moved.

    Each collection is read in insertion order; progress is told every ``page_size`` documents.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, not {page_size}")
    chosen = list(dict.fromkeys(collections))
    # Events a store still keeps inside the changed documents go to the event collection first,
    # so they are exported with it.
    while store.relay_events():
        pass
    expected = {c: store.list(c, ListQuery(limit=0)).counted for c in chosen}
    header = {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "exportedAt": rfc3339(clock()),
        "collections": by_name(expected),
    }
    out.write(dumps(header) + "\n")
    if progress is not None:
        progress.start(expected)
    written: Counts = {}
    for collection in chosen:
        written[collection] = 0
        for items in _pages(store, collection, page_size):
            out.write("".join(_document_line(collection, item) for item in items))
            written[collection] += len(items)
            if progress is not None:
                progress.advance(collection, len(items))
    out.write(dumps({"end": True, "collections": by_name(written)}) + "\n")
    return written


def _pages(store: Store, collection: Collection, page_size: int) -> Iterator[list[Stored]]:
    page: list[Stored] = []
    for item in store.scan(collection):
        page.append(item)
        if len(page) == page_size:
            yield page
            page = []
    if page:
        yield page


def _document_line(collection: Collection, item: Stored) -> str:
    line = {"collection": collection.value, "version": item.version, "document": item.doc}
    return dumps(line) + "\n"
