"""The storage port: the only storage interface services see.

Documents are stored whole, as JSON objects keyed by their ``id``. Every stored document carries
a ``version`` that grows by one on each write; updates are compare-and-set on it, so two writers
that read the same version cannot both succeed and no update is lost.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from troubleticket.store.query import Filter, SortKey
from troubleticket.types import JSON


class Collection(StrEnum):
    """The collections: TMF resources, and what notifying subscribers keeps."""

    TROUBLE_TICKET = "troubleTicket"
    TROUBLE_TICKET_SPECIFICATION = "troubleTicketSpecification"
    # Subscriptions registered at /hub.
    HUB = "hub"
    # The outbox: every event, written in the same atomic write as the change that raised it.
    EVENT = "event"
    # One per (hub, event): the state of delivering that event to that subscriber.
    DELIVERY = "delivery"
    # Events received at /listener/*, by eventId.
    RECEIVED_EVENT = "receivedEvent"
    # Recovery activities: kept inside their trouble ticket (see CHILDREN).
    RECOVERY_ACTIVITY = "recoveryActivity"
    # What this server keeps about each partner: the hubs it registered there.
    PARTNER = "partner"
    # Leases: which server process runs the background loops (see services/lease.py).
    LEASE = "lease"


RESOURCE_COLLECTIONS = (Collection.TROUBLE_TICKET, Collection.TROUBLE_TICKET_SPECIFICATION)
"""The collections of TMF resources proper, whose changes raise events."""

CHILDREN: dict[Collection, tuple[Collection, str]] = {
    Collection.RECOVERY_ACTIVITY: (Collection.TROUBLE_TICKET, "recoveryActivity"),
}
"""Collections whose documents live inside a parent document: (parent collection, the array
attribute holding them). They are written only as part of their parent — in its atomic write —
and read through ``get``, ``list`` and ``scan`` like any other; the store indexes them so that a
listing across parents filters, sorts and pages the same way, by id when no sort is given. A
child's version changes whenever it changes (it may change with its parent alone)."""

DOCUMENT_COLLECTIONS = tuple(c for c in Collection if c not in CHILDREN and c != Collection.LEASE)
"""The collections a store writes documents to (what an export holds; leases belong to the
processes of one deployment and are not moved with the data)."""


@dataclass(frozen=True, slots=True)
class Stored:
    """A document as read from the store, with the version a later update must name."""

    doc: JSON
    version: int


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing: ``items`` in order, ``total`` matches before paging (``None``
    when the query asked for no count).

    ``next_cursor`` / ``prev_cursor`` are opaque positions to pass as ``after`` / ``before`` for
    the neighbouring pages; ``None`` where there is no such page.
    """

    items: list[JSON]
    total: int | None
    next_cursor: str | None = None
    prev_cursor: str | None = None

    @property
    def counted(self) -> int:
        """``total`` of a listing that was counted (the default)."""
        if self.total is None:
            raise ValueError("the listing was made with count=False")
        return self.total


# The filter of an unfiltered listing.
MATCH_ALL = Filter()


@dataclass(frozen=True, slots=True)
class ListQuery:
    """One page of a listing.

    ``where`` selects, ``sort`` orders (by the keys, then ``id``; insertion order without keys)
    — both meaning exactly what ``store.query``'s evaluator says. The page starts ``offset``
    documents in, or right after / before the position of an ``after`` / ``before`` cursor from
    an earlier page of the same sort, and holds at most ``limit`` documents. ``count=False``:
    the caller needs no total (a background pass walking its work), so none is computed.
    """

    where: Filter = MATCH_ALL
    sort: tuple[SortKey, ...] = ()
    offset: int = 0
    limit: int = 100
    after: str | None = None
    before: str | None = None
    count: bool = True


@dataclass(frozen=True, slots=True)
class CounterChange:
    """Add ``delta`` to the counter ``name`` under ``key`` (a counter starts at 0)."""

    key: str
    name: str
    delta: int


@dataclass(frozen=True, slots=True)
class Write:
    """One document's part of an atomic ``write``: an insert (``expected_version`` None), a
    replace at ``expected_version``, or (``delete``) a removal at it; with the events of the
    change and the counters it moves, recorded only when the document's own part is."""

    doc: JSON
    expected_version: int | None
    events: Sequence[JSON] = ()
    counters: Sequence[CounterChange] = ()
    delete: bool = False


class DuplicateId(Exception):
    """A document with that id already exists in the collection."""


class StoreUnavailable(Exception):
    """The store cannot be reached right now; the same call may succeed later.

    Nothing is known to be written: a write that failed this way may or may not have taken
    effect, and the caller reports the failure rather than retrying blindly.
    """

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@runtime_checkable
class Store(Protocol):
    """Persistence for TMF resource documents."""

    inline_reads: bool
    """True when ``get`` is an in-process call that returns in microseconds (no network): the
    API then makes it on the event loop instead of paying a hop to a worker thread."""

    def insert(self, collection: Collection, doc: JSON, *, events: Sequence[JSON] = ()) -> Stored:
        """Store a new document under ``doc["id"]`` at version 1.

        ``events`` (documents of ``Collection.EVENT``) are recorded in the same atomic write:
        both are stored, or neither. The same holds for ``replace`` and ``delete``. The
        document's children (``CHILDREN``) are indexed in that write too.

        Raises:
            DuplicateId: the id is taken, or the id of one of its children.
        """
        ...

    def insert_many(self, collection: Collection, docs: Iterable[JSON]) -> int:
        """Store many new documents at version 1 in one write; returns how many.

        All or none: when one id is taken (or repeated), nothing is stored.

        Raises:
            DuplicateId: an id is taken.
        """
        ...

    def restore(
        self,
        collection: Collection,
        items: Iterable[Stored],
        *,
        counters: Sequence[CounterChange] = (),
    ) -> int:
        """Store documents at the versions given (moving data between stores), like insert_many,
        with the counters they move (a major incident's rollup of its children).

        Keeping versions keeps ETags: a client's ``If-Match`` from before the move still names
        the same state of the document.

        Raises:
            DuplicateId: an id is taken.
        """
        ...

    def scan(self, collection: Collection) -> Iterator[Stored]:
        """Every document with its version, in insertion order, read as it is consumed."""
        ...

    def get(self, collection: Collection, doc_id: str) -> Stored | None:
        """Return the document and its version, or ``None`` when there is none."""
        ...

    def list(self, collection: Collection, query: ListQuery) -> Page:
        """The page of documents ``query`` asks for, with the count of all its matches.

        Raises:
            InvalidRequest: a cursor this store did not issue for this sort order.
        """
        ...

    def tally(
        self, collection: Collection, where: Filter, by: Sequence[tuple[str, ...]]
    ) -> dict[tuple[Any, ...], int]:
        """How many documents ``where`` selects, by their values at the paths ``by`` (a
        missing value is ``None``): one figure per combination met. Not for child collections.
        """
        ...

    def replace(
        self,
        collection: Collection,
        doc: JSON,
        *,
        expected_version: int,
        events: Sequence[JSON] = (),
    ) -> Stored | None:
        """Replace the document with ``doc["id"]`` if its version is still ``expected_version``.

        Returns the new stored version, or ``None`` when the document changed or disappeared since
        it was read (the caller re-reads and decides).

        Raises:
            DuplicateId: a new child of the document has the id of another document's child.
        """
        ...

    def delete(
        self,
        collection: Collection,
        doc_id: str,
        *,
        expected_version: int | None = None,
        events: Sequence[JSON] = (),
    ) -> bool:
        """Remove a document (only at ``expected_version`` when one is given).

        ``False`` when there was none, or it is at another version.
        """
        ...

    def write(
        self, collection: Collection, writes: Sequence[Write]
    ) -> builtins.list[Stored | None]:
        """Apply ``writes`` in one atomic write, with their events and counter changes.

        A replace or delete whose document is no longer at its expected version is left out
        (``None`` in its place; nothing of it is recorded, its counters included) and the others
        are applied: the caller reads that one again and decides. An insert whose id is taken
        fails the whole call.

        Raises:
            DuplicateId: an inserted id is taken (nothing is written).
        """
        ...

    def counters(self, key: str) -> dict[str, int]:
        """The counters under ``key`` that are not zero, by name."""
        ...

    def count_counters(self, key: str) -> int:
        """How many counters under ``key`` are above zero (without reading them all)."""
        ...

    def relay_events(self, limit: int = 500) -> int:
        """Make recorded events visible in ``Collection.EVENT``; returns how many it moved.

        A store that cannot write two collections atomically keeps a change's events inside the
        changed document and moves them here, idempotently; one that can writes them to
        ``Collection.EVENT`` directly and moves nothing.
        """
        ...

    def check(self) -> None:
        """Return when the store can be read and written now (what readiness asks).

        Raises:
            StoreUnavailable: it cannot, and why.
        """
        ...

    def close(self) -> None:
        """Release connections; a later call opens new ones."""
        ...
