"""What the MongoDB adapter promises beyond the port: its indexes, its stored shape, its failures.

These run on mongomock (pymongo semantics in memory) and, when ``TT_TEST_MONGODB_URI`` names a
server, on a real MongoDB as well. The behaviour every store shares is in ``test_store.py``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import mongomock_ng
import pymongo
import pytest
from pymongo.errors import AutoReconnect

from tests.conftest import MONGODB_ABSENT, MONGODB_URI, STORE_FACTORIES, on_mongomock
from tests.mongomock_server import in_memory_server
from troubleticket.app import create_app
from troubleticket.bootstrap.stores import open_store
from troubleticket.config import ConfigError, Settings
from troubleticket.domain.errors import InvalidRequest
from troubleticket.store.mongo import MongoStore, client_options
from troubleticket.store.port import Collection, ListQuery, StoreUnavailable
from troubleticket.store.query import parse_filter

TICKETS = Collection.TROUBLE_TICKET


def a_ticket(ticket_id: str, **attributes: Any) -> dict[str, Any]:
    return {"id": ticket_id, "@type": "TroubleTicket", **attributes}


@pytest.fixture(params=["mongomock", *(["mongodb"] if MONGODB_URI else [])])
def connect(request: pytest.FixtureRequest) -> Callable[[], Any]:
    """Makes clients of one server: an in-memory one, or the real one the environment names."""
    if request.param == "mongomock":
        return in_memory_server()
    return lambda: pymongo.MongoClient(MONGODB_URI)


def test_real_mongodb_variants(request: pytest.FixtureRequest) -> None:
    """Every test of a store (the ``store`` fixture, ``connect`` here) has a real-MongoDB variant
    when ``TT_TEST_MONGODB_URI`` names a server; without one this is skipped, once for them all."""
    if MONGODB_URI is None:
        alone = sum(1 for item in request.session.items if on_mongomock(item))
        pytest.skip(f"{MONGODB_ABSENT} ({alone} tests ran on mongomock alone)")
    assert "mongodb" in STORE_FACTORIES


@pytest.fixture
def client(connect: Callable[[], Any]) -> Iterator[Any]:
    """A client of the store's server, for looking at what the store wrote."""
    opened = connect()
    yield opened
    opened.close()


@pytest.fixture
def database(client: Any) -> Iterator[str]:
    name = f"tt_test_{uuid.uuid4().hex[:12]}"
    yield name
    client.drop_database(name)


@pytest.fixture
def mongo(connect: Callable[[], Any], database: str) -> Iterator[MongoStore]:
    opened = MongoStore(connect, database)
    yield opened
    opened.close()


def test_the_unique_id_and_listing_indexes_exist_after_first_use(
    mongo: MongoStore, client: Any, database: str
) -> None:
    mongo.insert(TICKETS, a_ticket("t-1", status="acknowledged"))

    indexes = client[database]["troubleTicket"].index_information()

    assert indexes["id_unique"]["unique"] is True
    assert indexes["id_unique"]["key"] == [("id", 1)]
    names = set(indexes)
    assert "k.status_1__id_1" in names
    assert "k.status_1_k.creationDate_1_id_1" in names
    assert "doc.relatedParty.partyOrPartyRole.id_1__id_1" in names
    assert "k.creationDate_1_id_1" in names


def test_creating_the_indexes_again_changes_nothing(
    mongo: MongoStore, connect: Callable[[], Any], client: Any, database: str
) -> None:
    mongo.insert(TICKETS, a_ticket("t-1"))
    before = client[database]["troubleTicket"].index_information()

    second = MongoStore(connect, database)
    second.insert(TICKETS, a_ticket("t-2"))
    second.close()

    assert client[database]["troubleTicket"].index_information() == before


def test_the_stored_record_keeps_the_document_whole_and_its_keys_beside_it(
    mongo: MongoStore, client: Any, database: str
) -> None:
    doc = a_ticket(
        "t-1", status="acknowledged", creationDate="2026-11-20T10:00:00+02:00", severity="Minor"
    )
    mongo.insert(TICKETS, doc)

    record = client[database]["troubleTicket"].find_one({"id": "t-1"})

    assert record["doc"] == doc
    assert record["version"] == 1
    # date-times are keyed in one canonical UTC form, so they compare and sort as instants
    assert record["k"]["creationDate"] == "2026-11-20T08:00:00.000Z"
    assert record["k"]["status"] == "acknowledged"
    assert record["k"]["lastUpdate"] is None


def test_no_mongodb_field_reaches_a_document(mongo: MongoStore) -> None:
    mongo.insert(TICKETS, a_ticket("t-1", status="acknowledged"))

    stored = mongo.get(TICKETS, "t-1")
    listed = mongo.list(TICKETS, ListQuery()).items
    scanned = mongo.list(TICKETS, ListQuery(where=parse_filter("status.regex=ack"))).items

    assert stored is not None
    for doc in (stored.doc, *listed, *scanned):
        assert doc == {"id": "t-1", "@type": "TroubleTicket", "status": "acknowledged"}


def test_keys_mongodb_reserves_are_stored_and_given_back_as_sent(
    mongo: MongoStore, client: Any, database: str
) -> None:
    doc = a_ticket(
        "t-1",
        troubleTicketCharacteristic=[
            {"name": "raw", "value": {"$where": 1, "a.b": {"$ne": "x"}, "100%": "full", "%2E": "."}}
        ],
    )
    mongo.insert(TICKETS, doc)

    stored = mongo.get(TICKETS, "t-1")
    raw = client[database]["troubleTicket"].find_one({"id": "t-1"})

    assert stored is not None and stored.doc == doc
    value = raw["doc"]["troubleTicketCharacteristic"][0]["value"]
    assert set(value) == {"%24where", "a%2Eb", "100%25", "%252E"}
    assert value["a%2Eb"] == {"%24ne": "x"}


def test_an_integer_beyond_64_bits_is_refused_as_a_bad_request(mongo: MongoStore) -> None:
    with pytest.raises(InvalidRequest, match="cannot be stored"):
        mongo.insert(TICKETS, a_ticket("t-1", troubleTicketCharacteristic=[{"value": 2**64}]))

    assert mongo.get(TICKETS, "t-1") is None


def test_a_compare_and_set_update_is_one_filtered_update_on_the_version(
    mongo: MongoStore, client: Any, database: str
) -> None:
    mongo.insert(TICKETS, a_ticket("t-1", status="acknowledged"))

    first = mongo.replace(TICKETS, a_ticket("t-1", status="inProgress"), expected_version=1)
    stale = mongo.replace(TICKETS, a_ticket("t-1", status="held"), expected_version=1)

    assert first is not None and first.version == 2
    assert stale is None
    record = client[database]["troubleTicket"].find_one({"id": "t-1"})
    assert record["version"] == 2 and record["k"]["status"] == "inProgress"


def test_a_client_that_cannot_reach_mongodb_gets_store_unavailable_within_the_timeout() -> None:
    # Nothing listens on port 9 of the loopback interface.
    store = MongoStore.from_uri("mongodb://127.0.0.1:9/tt?serverSelectionTimeoutMS=300")
    started = time.monotonic()

    with pytest.raises(StoreUnavailable) as raised:
        store.get(TICKETS, "t-1")

    assert time.monotonic() - started < 5
    assert raised.value.retry_after > 0
    store.close()


def test_client_options_default_to_majority_writes_unless_the_uri_says_otherwise() -> None:
    options, database = client_options("mongodb://db1,db2/tickets?replicaSet=rs0")
    assert options["w"] == "majority"
    assert options["serverSelectionTimeoutMS"] == 5000
    assert database == "tickets"

    given, default_database = client_options("mongodb://db1/?w=1&serverSelectionTimeoutMS=900")
    assert "w" not in given and "serverSelectionTimeoutMS" not in given
    assert default_database == "troubleticket"


def test_a_malformed_mongodb_uri_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="not a valid MongoDB URI"):
        open_store(Settings(store="mongodb://host:notaport/db"))


def test_a_mongodb_uri_opens_the_mongodb_store_without_contacting_it() -> None:
    opened = open_store(Settings(store="mongodb://127.0.0.1:9/tt"))
    assert isinstance(opened, MongoStore)
    opened.close()


def test_a_closed_store_reconnects_on_next_use_and_finds_its_data(mongo: MongoStore) -> None:
    mongo.insert(TICKETS, a_ticket("t-1", status="acknowledged"))

    mongo.close()
    found = mongo.get(TICKETS, "t-1")

    assert found is not None and found.doc["status"] == "acknowledged"


class _Outage:
    """A client whose every collection call fails with AutoReconnect while ``down``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.down = False

    def __getitem__(self, name: str) -> Any:
        return _OutageProxy(self, self.inner[name])

    def close(self) -> None:
        self.inner.close()


class _OutageProxy:
    def __init__(self, outage: _Outage, inner: Any) -> None:
        self._outage = outage
        self._inner = inner

    def __getitem__(self, name: str) -> Any:
        return _OutageProxy(self._outage, self._inner[name])

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._outage.down:
                raise AutoReconnect("connection closed")
            return attribute(*args, **kwargs)

        return call


def test_an_outage_answers_503_with_retry_after_and_the_server_recovers_without_restart() -> None:
    outage = _Outage(mongomock_ng.MongoClient())
    store = MongoStore(lambda: outage, "tt")
    app = create_app(
        Settings(store="mongodb://unused", base_url="https://tt.example.com"), store=store
    )
    body = {
        "@type": "TroubleTicket",
        "description": "No dial tone",
        "severity": "Minor",
        "ticketType": "incident",
    }

    with app.test_client() as http:
        created = http.post("/tmf-api/troubleTicket/v5/troubleTicket", json=body)
        assert created.status_code == 201
        outage.down = True
        during = [
            http.get("/tmf-api/troubleTicket/v5/troubleTicket"),
            http.post("/tmf-api/troubleTicket/v5/troubleTicket", json=body),
            http.get(f"/tmf-api/troubleTicket/v5/troubleTicket/{created.json()['id']}"),
        ]
        outage.down = False
        after = http.get("/tmf-api/troubleTicket/v5/troubleTicket")

    for response in during:
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        assert response.headers["content-type"] == "application/json"
        error = response.json()
        assert error["@type"] == "Error" and error["code"] == "storeUnavailable"
        assert error["status"] == "503" and error["reason"] == "Service Unavailable"
    assert after.status_code == 200
    assert [t["id"] for t in after.json()] == [created.json()["id"]]


def an_event(event_id: str, ticket_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "eventType": "TroubleTicketCreateEvent",
        "state": "recorded",
        "recordedAt": "2026-11-20T08:00:00.000Z",
        "resource": {"collection": "troubleTicket", "id": ticket_id},
        "resourceKey": f"troubleTicket/{ticket_id}",
        "orderKey": "000000000001.000",
        "body": {"eventId": event_id},
    }


def test_a_change_and_its_events_are_one_document_write_until_relayed(
    mongo: MongoStore, client: Any, database: str
) -> None:
    mongo.insert(TICKETS, a_ticket("t-1"), events=[an_event("e-1", "t-1")])

    record = client[database]["troubleTicket"].find_one({"id": "t-1"})
    assert record["pending"] is True
    assert [event["id"] for event in record["outbox"]] == ["e-1"]
    assert client[database]["event"].count_documents({}) == 0

    assert mongo.relay_events() == 1

    record = client[database]["troubleTicket"].find_one({"id": "t-1"})
    assert "outbox" not in record and "pending" not in record
    assert client[database]["event"].count_documents({"id": "e-1"}) == 1


def test_a_relay_cut_short_after_copying_is_completed_without_a_second_copy(
    mongo: MongoStore, client: Any, database: str
) -> None:
    mongo.insert(TICKETS, a_ticket("t-1"), events=[an_event("e-1", "t-1")])
    # A relay that died after copying the event and before taking it out of the ticket:
    record = client[database]["troubleTicket"].find_one({"id": "t-1"})
    client[database]["event"].insert_one(record["outbox"][0])

    assert mongo.relay_events() == 1

    assert client[database]["event"].count_documents({"id": "e-1"}) == 1
    assert "outbox" not in client[database]["troubleTicket"].find_one({"id": "t-1"})


def test_a_deleted_document_stays_a_tombstone_only_until_its_events_are_relayed(
    mongo: MongoStore, client: Any, database: str
) -> None:
    mongo.insert(TICKETS, a_ticket("t-1", status="acknowledged"))
    assert mongo.delete(TICKETS, "t-1", events=[an_event("e-1", "t-1")])

    tombstone = client[database]["troubleTicket"].find_one({"id": "t-1"})
    assert tombstone["gone"] is True and "doc" not in tombstone and "k" not in tombstone
    assert mongo.get(TICKETS, "t-1") is None

    mongo.relay_events()

    assert client[database]["troubleTicket"].count_documents({"id": "t-1"}) == 0
    assert client[database]["event"].count_documents({"id": "e-1"}) == 1


def test_a_server_without_transactions_refuses_a_write_of_several_documents_clearly(
    mongo: MongoStore, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymongo.errors import OperationFailure

    from troubleticket.store.port import CounterChange, Write

    def standalone(self: Any, callback: Any, *args: Any, **kwargs: Any) -> Any:
        raise OperationFailure(
            "Transaction numbers are only allowed on a replica set member or mongos", code=20
        )

    monkeypatch.setattr(mongomock_ng.session.ClientSession, "with_transaction", standalone)
    if not isinstance(client, mongomock_ng.MongoClient):
        pytest.skip("a real server says for itself whether it has transactions")
    with pytest.raises(StoreUnavailable, match="need a replica set"):
        mongo.write(TICKETS, [Write(a_ticket("t-1"), None, counters=[CounterChange("k", "n", 1)])])
    assert mongo.get(TICKETS, "t-1") is None
