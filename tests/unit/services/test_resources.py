"""ResourceService wired for trouble tickets exactly as ``app.create_app`` wires it.

The store is a real ``SqliteStore`` on a temporary file; where a test needs to steer the store
(an interleaved writer, a write that never lands) it wraps it in a small hand-written proxy.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.builders import LIMITS, a_ticket
from tests.conftest import FrozenClock, SequentialIds
from tests.threads import run_together
from troubleticket.bootstrap.services import ticket_rules
from troubleticket.context import NO_CONTEXT
from troubleticket.domain.errors import (
    Conflict,
    InvalidRequest,
    InvalidTransition,
    NotFound,
    ServerOwnedField,
)
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.policy import DEFAULT_POLICY
from troubleticket.domain.ticket import create_ticket
from troubleticket.services.resources import MAX_WRITE_ATTEMPTS, ResourceService
from troubleticket.store.port import (
    Collection,
    CounterChange,
    ListQuery,
    Page,
    Store,
    Stored,
    Write,
)
from troubleticket.store.query import Filter
from troubleticket.store.sqlite import SqliteStore
from troubleticket.types import JSON, IdFactory

BASE_URL = "https://tt.example.com"
TICKET_URL = f"{BASE_URL}/tmf-api/troubleTicket/v5/troubleTicket"
TICKETS = Collection.TROUBLE_TICKET
CREATED_AT = "2026-11-20T08:00:00.000Z"
# When the SLA monitor is next due for a_ticket() created at CREATED_AT under the default policy:
# priority Low (severity Minor, no urgency), acknowledge target 8 h, warning at 75 % of it.
FIRST_CHECK = "2026-11-20T14:00:00.000Z"


def ticket_service(
    store: Store, clock: FrozenClock, new_id: IdFactory | None = None
) -> ResourceService:
    return ResourceService(
        TICKETS,
        store=store,
        rules=ticket_rules(ManagedTicket(DEFAULT_POLICY)),
        clock=clock,
        new_id=new_id or SequentialIds("tt"),
        base_url=BASE_URL,
        limits=LIMITS,
    )


def without_href(doc: JSON) -> JSON:
    return {key: value for key, value in doc.items() if key != "href"}


def as_stored(doc: JSON, next_check: str, jeopardy: str = "none") -> JSON:
    """A ticket the service presented, as the store holds it: without href, with the SLA
    monitor's next check and the worst jeopardy level (kept for the server, never shown)."""
    return {**without_href(doc), "slaNextCheck": next_check, "slaJeopardy": jeopardy}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "service.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def service(db: SqliteStore, clock: FrozenClock) -> ResourceService:
    return ticket_service(db, clock)


def stored(db: Store, ticket_id: str) -> Stored:
    found = db.get(TICKETS, ticket_id)
    assert found is not None, f"{ticket_id} is not in the store"
    return found


# -- proxies --------------------------------------------------------------------------------------


class ForwardingStore:
    """Passes every call to a real store; subclasses override what they steer."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.inline_reads = inner.inline_reads

    def insert(self, collection: Collection, doc: JSON, *, events: Sequence[JSON] = ()) -> Stored:
        return self.inner.insert(collection, doc, events=events)

    def insert_many(self, collection: Collection, docs: Iterable[JSON]) -> int:
        return self.inner.insert_many(collection, docs)

    def restore(
        self,
        collection: Collection,
        items: Iterable[Stored],
        *,
        counters: Sequence[CounterChange] = (),
    ) -> int:
        return self.inner.restore(collection, items, counters=counters)

    def scan(self, collection: Collection) -> Iterator[Stored]:
        return self.inner.scan(collection)

    def get(self, collection: Collection, doc_id: str) -> Stored | None:
        return self.inner.get(collection, doc_id)

    def list(self, collection: Collection, query: ListQuery) -> Page:
        return self.inner.list(collection, query)

    def tally(
        self, collection: Collection, where: Filter, by: Sequence[tuple[str, ...]]
    ) -> dict[tuple[Any, ...], int]:
        return self.inner.tally(collection, where, by)

    def replace(
        self,
        collection: Collection,
        doc: JSON,
        *,
        expected_version: int,
        events: Sequence[JSON] = (),
    ) -> Stored | None:
        return self.inner.replace(collection, doc, expected_version=expected_version, events=events)

    def delete(
        self,
        collection: Collection,
        doc_id: str,
        *,
        expected_version: int | None = None,
        events: Sequence[JSON] = (),
    ) -> bool:
        return self.inner.delete(
            collection, doc_id, expected_version=expected_version, events=events
        )

    def write(
        self, collection: Collection, writes: Sequence[Write]
    ) -> builtins.list[Stored | None]:
        return self.inner.write(collection, writes)

    def counters(self, key: str) -> dict[str, int]:
        return self.inner.counters(key)

    def count_counters(self, key: str) -> int:
        return self.inner.count_counters(key)

    def relay_events(self, limit: int = 500) -> int:
        return self.inner.relay_events(limit)

    def check(self) -> None:
        self.inner.check()

    def close(self) -> None:
        self.inner.close()


class InterleavingStore(ForwardingStore):
    """On the next replace, first runs ``interleave`` (another writer) and then forwards.

    The replace that triggered the interleaving therefore carries a version that was current
    when its caller read it and is stale by the time it reaches the real store.
    """

    def __init__(self, inner: Store) -> None:
        super().__init__(inner)
        self.interleave: Callable[[], object] | None = None
        self.outcomes: list[tuple[int, bool]] = []  # (expected_version, succeeded) in order

    def replace(
        self,
        collection: Collection,
        doc: JSON,
        *,
        expected_version: int,
        events: Sequence[JSON] = (),
    ) -> Stored | None:
        interleave, self.interleave = self.interleave, None
        if interleave is not None:
            interleave()
        result = self.inner.replace(
            collection, doc, expected_version=expected_version, events=events
        )
        self.outcomes.append((expected_version, result is not None))
        return result


class AlwaysStaleStore(ForwardingStore):
    """Every replace loses the compare-and-set, as if another writer always got there first."""

    def __init__(self, inner: Store) -> None:
        super().__init__(inner)
        self.replace_calls = 0

    def replace(
        self,
        collection: Collection,
        doc: JSON,
        *,
        expected_version: int,
        events: Sequence[JSON] = (),
    ) -> Stored | None:
        self.replace_calls += 1
        return None


class ScriptedIds:
    """Hands out the given ids in order, then fails loudly instead of looping forever."""

    def __init__(self, *ids: str) -> None:
        self.remaining = list(ids)
        self.issued: list[str] = []

    def __call__(self) -> str:
        if not self.remaining:
            raise AssertionError(f"ran out of scripted ids after {self.issued}")
        self.issued.append(self.remaining.pop(0))
        return self.issued[-1]


# -- create ---------------------------------------------------------------------------------------


def test_create_returns_the_ticket_with_its_id_and_derived_href(service: ResourceService) -> None:
    created = service.create(a_ticket(name="Line down"), context=NO_CONTEXT).doc

    assert created["id"] == "tt-1"
    assert created["href"] == f"{TICKET_URL}/tt-1"
    assert list(created)[:2] == ["id", "href"]
    assert created["name"] == "Line down"
    assert created["status"] == "acknowledged"
    assert created["creationDate"] == CREATED_AT
    assert created["lastUpdate"] == CREATED_AT


def test_create_stores_the_ticket_without_href_at_version_1(
    service: ResourceService, db: SqliteStore
) -> None:
    created = service.create(a_ticket(), context=NO_CONTEXT).doc

    in_store = stored(db, created["id"])
    assert "href" not in in_store.doc
    assert "slaNextCheck" not in created
    assert in_store.doc == as_stored(created, FIRST_CHECK)
    assert in_store.version == 1


def test_create_draws_a_fresh_id_for_each_ticket(service: ResourceService) -> None:
    first = service.create(a_ticket(), context=NO_CONTEXT).doc
    second = service.create(a_ticket(), context=NO_CONTEXT).doc

    assert (first["id"], second["id"]) == ("tt-1", "tt-2")
    assert second["href"] == f"{TICKET_URL}/tt-2"


def test_create_retries_with_a_new_id_when_the_generated_one_is_taken(
    db: SqliteStore, clock: FrozenClock
) -> None:
    ids = ScriptedIds("taken", "taken", "fresh")
    service = ticket_service(db, clock, ids)
    original = service.create(a_ticket(description="the original"), context=NO_CONTEXT).doc

    retried = service.create(a_ticket(description="the newcomer"), context=NO_CONTEXT).doc

    assert retried["id"] == "fresh"
    assert retried["href"] == f"{TICKET_URL}/fresh"
    assert ids.issued == ["taken", "taken", "fresh"]
    assert stored(db, "taken") == Stored(as_stored(original, FIRST_CHECK), 1)
    assert stored(db, "fresh").doc["description"] == "the newcomer"
    assert db.list(TICKETS, ListQuery(offset=0, limit=10)).total == 2


def test_create_refuses_a_server_owned_attribute_and_writes_nothing(
    service: ResourceService, db: SqliteStore
) -> None:
    with pytest.raises(ServerOwnedField):
        service.create(a_ticket(creationDate="2020-01-01T00:00:00.000Z"), context=NO_CONTEXT)

    assert db.list(TICKETS, ListQuery(offset=0, limit=10)) == Page([], 0)


def test_create_refuses_a_schema_invalid_ticket_and_writes_nothing(
    service: ResourceService, db: SqliteStore
) -> None:
    with pytest.raises(InvalidRequest, match="@type"):
        service.create(a_ticket(note=[{"text": "no type"}]), context=NO_CONTEXT)

    assert db.list(TICKETS, ListQuery(offset=0, limit=10)) == Page([], 0)


# -- get and list ---------------------------------------------------------------------------------


def test_get_returns_the_ticket_with_href(service: ResourceService) -> None:
    created = service.create(a_ticket(name="Line down"), context=NO_CONTEXT).doc

    got = service.get(created["id"], context=NO_CONTEXT).doc

    assert got == created
    assert got["href"] == f"{TICKET_URL}/{created['id']}"


def test_get_derives_href_from_the_base_url_since_the_store_has_none(
    service: ResourceService, db: SqliteStore, clock: FrozenClock
) -> None:
    doc = create_ticket(a_ticket(), resource_id="put-by-hand", now=clock())
    db.insert(TICKETS, doc)

    got = service.get("put-by-hand", context=NO_CONTEXT).doc

    assert got == {"id": "put-by-hand", "href": f"{TICKET_URL}/put-by-hand", **doc}


def test_get_of_an_unknown_id_raises_not_found(service: ResourceService) -> None:
    with pytest.raises(NotFound) as raised:
        service.get("nope", context=NO_CONTEXT)

    assert raised.value.resource_id == "nope"
    assert raised.value.kind == "troubleTicket"


def test_list_presents_every_ticket_with_href_in_creation_order(service: ResourceService) -> None:
    created = [
        service.create(a_ticket(name=f"ticket {n}"), context=NO_CONTEXT).doc for n in range(3)
    ]

    page = service.list(ListQuery(offset=0, limit=10), context=NO_CONTEXT)

    assert page.total == 3
    assert page.items == created
    assert [item["href"] for item in page.items] == [f"{TICKET_URL}/tt-{n}" for n in (1, 2, 3)]


def test_list_pages_and_keeps_the_total(service: ResourceService) -> None:
    for n in range(5):
        service.create(a_ticket(name=f"ticket {n}"), context=NO_CONTEXT)

    page = service.list(ListQuery(offset=1, limit=2), context=NO_CONTEXT)

    assert [item["id"] for item in page.items] == ["tt-2", "tt-3"]
    assert page.total == 5


# -- patch ----------------------------------------------------------------------------------------


def test_patch_applies_the_ticket_rules_and_persists_the_result(
    service: ResourceService, db: SqliteStore, clock: FrozenClock
) -> None:
    created = service.create(a_ticket(), context=NO_CONTEXT).doc
    later = "2026-11-20T09:30:00.000Z"
    clock.advance(minutes=90)

    patched = service.patch(
        created["id"], {"status": "inProgress", "severity": "Major"}, context=NO_CONTEXT
    ).doc

    assert patched["href"] == created["href"]
    assert patched["status"] == "inProgress"
    assert patched["severity"] == "Major"
    assert patched["priority"] == "Medium"  # severity Major, no urgency
    assert patched["lastUpdate"] == later
    assert patched["statusChangeDate"] == later
    assert [entry["status"] for entry in patched["statusChangeHistory"]] == [
        "acknowledged",
        "inProgress",
    ]
    assert patched["creationDate"] == CREATED_AT
    # inProgress stops the acknowledge clock; the resolve clock (Medium: 24 h) has run 1.5 h and
    # reaches its warning (75 %: 18 h) 16.5 h later.
    assert stored(db, created["id"]) == Stored(as_stored(patched, "2026-11-21T02:00:00.000Z"), 2)
    assert service.get(created["id"], context=NO_CONTEXT).doc == patched


def test_patch_that_changes_nothing_does_not_write(
    service: ResourceService, db: SqliteStore, clock: FrozenClock
) -> None:
    created = service.create(a_ticket(name="Same"), context=NO_CONTEXT).doc
    clock.advance(hours=1)

    result = service.patch(
        created["id"], {"name": "Same", "href": created["href"]}, context=NO_CONTEXT
    ).doc

    assert result == created
    assert stored(db, created["id"]) == Stored(as_stored(created, FIRST_CHECK), 1)


def test_patch_with_an_illegal_transition_leaves_the_ticket_untouched(
    service: ResourceService, db: SqliteStore, clock: FrozenClock
) -> None:
    created = service.create(a_ticket(), context=NO_CONTEXT).doc
    clock.advance(hours=1)

    with pytest.raises(InvalidTransition):
        service.patch(created["id"], {"status": "closed", "name": "sneaked in"}, context=NO_CONTEXT)

    assert stored(db, created["id"]) == Stored(as_stored(created, FIRST_CHECK), 1)


def test_patch_whose_result_breaks_the_schema_raises_invalid_request_and_writes_nothing(
    service: ResourceService, db: SqliteStore, clock: FrozenClock
) -> None:
    created = service.create(
        a_ticket(note=[{"@type": "Note", "text": "typed"}]), context=NO_CONTEXT
    ).doc
    clock.advance(hours=1)

    with pytest.raises(InvalidRequest, match="note"):
        service.patch(created["id"], {"note": [{"text": "x"}]}, context=NO_CONTEXT)

    assert stored(db, created["id"]) == Stored(as_stored(created, FIRST_CHECK), 1)


def test_patch_of_an_unknown_id_raises_not_found(service: ResourceService, db: SqliteStore) -> None:
    with pytest.raises(NotFound):
        service.patch("nope", {"name": "x"}, context=NO_CONTEXT)

    assert db.get(TICKETS, "nope") is None


def test_a_patch_that_loses_a_race_is_reapplied_to_the_newer_version(
    db: SqliteStore, clock: FrozenClock
) -> None:
    proxy = InterleavingStore(db)
    service = ticket_service(proxy, clock)
    created = service.create(a_ticket(name="Original"), context=NO_CONTEXT).doc
    ticket_id = created["id"]
    # While the rename is on its way to the store, another writer changes the severity.
    proxy.interleave = lambda: (
        service.patch(ticket_id, {"severity": "Major"}, context=NO_CONTEXT).doc
    )

    result = service.patch(ticket_id, {"name": "Renamed"}, context=NO_CONTEXT).doc

    assert result["name"] == "Renamed"
    assert result["severity"] == "Major"
    assert result["priority"] == "Medium"
    final = stored(db, ticket_id)
    # Medium: acknowledge target 4 h, its warning (75 %) 3 h after creation.
    assert final.doc == as_stored(result, "2026-11-20T11:00:00.000Z")
    assert final.version == 1 + 2
    # The interleaved write landed, the rename's first attempt lost, its retry won.
    assert proxy.outcomes == [(1, True), (1, False), (2, True)]


def test_patch_raises_conflict_after_max_write_attempts_and_changes_nothing(
    db: SqliteStore, clock: FrozenClock
) -> None:
    proxy = AlwaysStaleStore(db)
    service = ticket_service(proxy, clock)
    created = service.create(a_ticket(name="Original"), context=NO_CONTEXT).doc

    with pytest.raises(Conflict):
        service.patch(created["id"], {"name": "Never stored"}, context=NO_CONTEXT)

    assert proxy.replace_calls == MAX_WRITE_ATTEMPTS
    assert stored(db, created["id"]) == Stored(as_stored(created, FIRST_CHECK), 1)


def test_concurrent_patches_of_different_attributes_are_all_kept(
    service: ResourceService, db: SqliteStore
) -> None:
    created = service.create(a_ticket(), context=NO_CONTEXT).doc
    patches: list[dict[str, Any]] = [
        {"name": "renamed"},
        {"description": "redescribed"},
        {"severity": "Critical"},
        {"ticketType": "complaint"},
        {"requestedResolutionDate": "2026-12-01T10:00:00.000Z"},
    ]
    run_together(lambda patch: service.patch(created["id"], patch, context=NO_CONTEXT).doc, patches)

    final = stored(db, created["id"])
    for patch in patches:
        for key, value in patch.items():
            assert final.doc[key] == value
    assert final.doc["priority"] == "High"  # from the final severity, Critical, no urgency
    assert final.version == 1 + len(patches)


# -- delete ---------------------------------------------------------------------------------------


def test_delete_removes_the_ticket_so_get_raises_not_found(
    service: ResourceService, db: SqliteStore
) -> None:
    created = service.create(a_ticket(), context=NO_CONTEXT).doc

    service.delete(created["id"], context=NO_CONTEXT)

    with pytest.raises(NotFound):
        service.get(created["id"], context=NO_CONTEXT)
    assert db.get(TICKETS, created["id"]) is None
    assert service.list(ListQuery(offset=0, limit=10), context=NO_CONTEXT) == Page([], 0)


def test_delete_of_an_unknown_id_raises_not_found(service: ResourceService) -> None:
    kept = service.create(a_ticket(), context=NO_CONTEXT).doc

    with pytest.raises(NotFound):
        service.delete("nope", context=NO_CONTEXT)

    assert service.get(kept["id"], context=NO_CONTEXT).doc == kept


def test_deleting_twice_raises_not_found_the_second_time(service: ResourceService) -> None:
    created = service.create(a_ticket(), context=NO_CONTEXT).doc
    service.delete(created["id"], context=NO_CONTEXT)

    with pytest.raises(NotFound):
        service.delete(created["id"], context=NO_CONTEXT)
