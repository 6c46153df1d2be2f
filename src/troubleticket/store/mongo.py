"""MongoStore: the store for production and scale-out, on MongoDB through pymongo.

* One MongoDB document per resource: ``_id`` an ObjectId made at insert (insertion order), ``id``
  (unique index), ``version``, ``doc`` (the resource as sent) and ``k`` (the keys of the keyed
  attributes, see ``mongo_query``). Responses are built from ``doc`` alone, so ``_id`` never leaks.
* Every update is one ``update_one`` filtered on ``id`` *and* ``version``: a single-document
  compare-and-set, atomic in MongoDB without a transaction, so no update is lost.
* Writes use write concern ``majority`` unless the URI names another (``w=1``, ``journal=true``),
  so an acknowledged ticket survives the loss of the primary.
* Indexes are created idempotently on first use. When MongoDB cannot be reached every call raises
  ``StoreUnavailable`` (the API answers 503 with ``Retry-After``); pymongo reconnects on its own,
  so the server recovers without a restart.
* The sync driver runs in the server's worker threads, as SQLite does, behind the same port.
* Children (recovery activities) live in their parent's document, so they are written in its
  single-document write; the parent's record also holds each child's id and keys (``ck``),
  indexed, to find a child by id and the parents holding children in a keyed state. Child ids
  are not unique across parents here (the server issues them as UUIDs).
"""

from __future__ import annotations

import builtins
import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import pymongo
from bson import ObjectId
from bson.errors import InvalidDocument, InvalidId
from pymongo import errors as mongo_errors
from pymongo.collection import Collection as MongoCollection

from troubleticket.domain.errors import InvalidRequest
from troubleticket.store.cursor import assemble_page, cursor_values, sort_signature
from troubleticket.store.mongo_query import (
    DOC,
    ID,
    KEYS,
    SEQ,
    CompiledFilter,
    Layout,
    OrderKey,
    compile_filter,
    keyset_condition,
    native_order,
    position_of,
    sort_spec,
)
from troubleticket.store.port import (
    CHILDREN,
    RESOURCE_COLLECTIONS,
    Collection,
    CounterChange,
    DuplicateId,
    ListQuery,
    Page,
    Stored,
    StoreUnavailable,
    Write,
)
from troubleticket.store.query import AnyOf, Filter, SortKey, group_matches, matches, sort_value
from troubleticket.types import JSON

DEFAULT_DATABASE = "troubleticket"
DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 5000
RETRY_AFTER_SECONDS = 5

_DUPLICATE_KEY = 11000
_ILLEGAL_OPERATION = 20  # "Transaction numbers are only allowed on a replica set member"

_TICKET_KEYED = (
    ("status",),
    ("severity",),
    ("priority",),
    ("ticketType",),
    ("creationDate",),
    ("lastUpdate",),
    ("slaNextCheck",),
    ("parentTicketId",),
)

_DELIVERY_KEYED = (
    ("state",),
    ("nextAttemptAt",),
    ("leaseUntil",),
    ("hubId",),
    ("resourceKey",),
    ("orderKey",),
    ("createdAt",),
)

_ACTIVITY_KEYED = (
    ("state",),
    ("activityType",),
    ("plannedEndDate",),
    ("assignee", "partyOrPartyRole", "id"),
    ("troubleTicket", "id"),
    ("partnerReport", "partnerTicket", "id"),
)

# A parent's record holds, beside its document, the id and keys of each child (CHILD_KEYS:
# [{id, k}]): an index finds the parent of a child and the parents holding a child in a keyed
# state; the child itself is read from the parent's document.
CHILD_KEYS = "ck"
CHILD_LAYOUTS = {
    Collection.RECOVERY_ACTIVITY: Layout(collection="troubleTicket", keyed=_ACTIVITY_KEYED),
}

# A changed document carries the events of its change in OUTBOX (with PENDING set) until
# relay_events has copied them into the event collection: one single-document write records
# both, which MongoDB makes atomic without a transaction. A deleted document whose events are
# still to be relayed stays as a tombstone marked GONE, invisible to every read.
OUTBOX = "outbox"
# Counters moved in the transaction of a write (store.port.Write): {_id: key + US + name, k, n, v}.
COUNTERS = "counter"
PENDING = "pending"
GONE = "gone"
LIVE = {GONE: {"$exists": False}}

LAYOUTS = {
    Collection.TROUBLE_TICKET: Layout(
        collection="troubleTicket",
        keyed=_TICKET_KEYED,
        indexes=(
            # Filtered listings in insertion order read one index.
            *(((f"{KEYS}.{path[0]}", 1), (SEQ, 1)) for path in _TICKET_KEYED[:4]),
            # a major incident's children in insertion order (the cascade reads them so)
            ((f"{KEYS}.parentTicketId", 1), (SEQ, 1)),
            # Sorted listings: the key, then id, as every keyed order ends.
            *(((f"{KEYS}.{path[0]}", 1), (ID, 1)) for path in _TICKET_KEYED),
            # "the tickets in this status (and severity), newest first"
            ((f"{KEYS}.status", 1), (f"{KEYS}.creationDate", 1), (ID, 1)),
            ((f"{KEYS}.status", 1), (f"{KEYS}.severity", 1), (f"{KEYS}.creationDate", 1), (ID, 1)),
            # "the tickets of this customer" (multikey: one entry per related party)
            ((f"{DOC}.relatedParty.partyOrPartyRole.id", 1), (SEQ, 1)),
            # changes whose events are still to be relayed
            ((PENDING, 1),),
            # the recovery activities: by id, and the tickets holding one in a keyed state
            ((f"{CHILD_KEYS}.{ID}", 1),),
            *(((f"{CHILD_KEYS}.{KEYS}.{'_'.join(path)}", 1), (SEQ, 1)) for path in _ACTIVITY_KEYED),
        ),
    ),
    Collection.TROUBLE_TICKET_SPECIFICATION: Layout(
        collection="troubleTicketSpecification",
        keyed=(("name",), ("lifecycleStatus",), ("lastUpdate",)),
        indexes=(((PENDING, 1),),),
    ),
    Collection.HUB: Layout(collection="hub"),
    Collection.EVENT: Layout(
        collection="event",
        keyed=(("state",), ("recordedAt",)),
        indexes=(
            ((f"{KEYS}.state", 1), (SEQ, 1)),
            ((f"{KEYS}.recordedAt", 1), (SEQ, 1)),
        ),
    ),
    Collection.DELIVERY: Layout(
        collection="delivery",
        keyed=_DELIVERY_KEYED,
        indexes=(
            ((f"{KEYS}.state", 1), (f"{KEYS}.nextAttemptAt", 1), (ID, 1)),
            ((f"{KEYS}.state", 1), (f"{KEYS}.leaseUntil", 1), (ID, 1)),
            ((f"{KEYS}.hubId", 1), (f"{KEYS}.resourceKey", 1), (f"{KEYS}.orderKey", 1), (ID, 1)),
            ((f"{KEYS}.hubId", 1), (f"{KEYS}.createdAt", 1), (ID, 1)),
        ),
    ),
    Collection.RECEIVED_EVENT: Layout(collection="receivedEvent"),
    Collection.PARTNER: Layout(collection="partner"),
    Collection.LEASE: Layout(collection="lease"),
}

_PROJECTION = {SEQ: 1, ID: 1, "version": 1, DOC: 1, KEYS: 1, "escaped": 1}

P = ParamSpec("P")
R = TypeVar("R")


def _reachable(method: Callable[P, R]) -> Callable[P, R]:
    """Turn "MongoDB cannot be reached" into ``StoreUnavailable``, and oversized data into 400."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (mongo_errors.ConnectionFailure, mongo_errors.WriteConcernError) as exc:
            raise StoreUnavailable(
                f"The MongoDB store cannot be reached: {type(exc).__name__}",
                retry_after=RETRY_AFTER_SECONDS,
            ) from exc
        except (InvalidDocument, OverflowError) as exc:
            # e.g. an integer beyond 64 bits, which BSON cannot hold
            raise InvalidRequest(f"The document cannot be stored: {exc}") from exc

    return call


# ---------------------------------------------------------------------------------------------
# Field names MongoDB reserves ("$" first, "."), NUL, and "%" (so the escaping can be undone) are
# percent-escaped in stored keys. Query paths are made of plain names, so they never need it.

_ESCAPES = {"%": "%25", ".": "%2E", "$": "%24", "\x00": "%00"}
_UNESCAPES = {escaped: plain for plain, escaped in _ESCAPES.items()}


def _escape_key(key: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in key)


def _unescape_key(key: str) -> str:
    if "%" not in key:
        return key
    out, i = [], 0
    while i < len(key):
        token = key[i : i + 3]
        if token in _UNESCAPES:
            out.append(_UNESCAPES[token])
            i += 3
        else:
            out.append(key[i])
            i += 1
    return "".join(out)


def _needs_escape(value: Any) -> bool:
    if isinstance(value, dict):
        return any(
            any(char in key for char in _ESCAPES) or _needs_escape(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return any(_needs_escape(item) for item in value)
    return False


def _map_keys(value: Any, rename: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        return {rename(key): _map_keys(item, rename) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_keys(item, rename) for item in value]
    return value


def client_options(uri: str) -> tuple[dict[str, Any], str]:
    """The client options this server adds to a MongoDB URI, and the database the URI names.

    Write concern ``majority`` (an acknowledged write survives the loss of the primary) and a 5 s
    server selection timeout (a request fails with 503 in seconds, not the driver's 30 s), each
    unless the URI sets its own ``w`` / ``serverSelectionTimeoutMS``.
    """
    parts = urlsplit(uri)
    given = {name.lower() for name in parse_qs(parts.query)}
    options: dict[str, Any] = {"appname": "troubleticket"}
    if "w" not in given:
        options["w"] = "majority"
    if "serverselectiontimeoutms" not in given:
        options["serverSelectionTimeoutMS"] = DEFAULT_SERVER_SELECTION_TIMEOUT_MS
    return options, unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE


class MongoStore:
    """Store port on a MongoDB database."""

    inline_reads = False  # every read is a network round trip

    def __init__(self, connect: Callable[[], Any], database: str = DEFAULT_DATABASE) -> None:
        """``connect`` makes a pymongo ``MongoClient`` (or a compatible one); called lazily."""
        self._connect = connect
        self._database = database
        self._client: Any = None
        self._lock = threading.Lock()
        self._indexed = False

    @classmethod
    def from_uri(cls, uri: str, *, database: str | None = None) -> MongoStore:
        """The store at a ``mongodb://`` or ``mongodb+srv://`` URI (see ``client_options``).

        The database is ``database``, else the URI's, else ``troubleticket``.
        """
        options, named = client_options(uri)

        def connect() -> pymongo.MongoClient[Any]:
            return pymongo.MongoClient(uri, **options)

        return cls(connect, database or named)

    # -- plumbing ------------------------------------------------------------------------------

    def _collection(self, collection: Collection) -> MongoCollection[Any]:
        _writable(collection)
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            client = self._client
        if not self._indexed:
            self._create_indexes(client)
        return client[self._database][LAYOUTS[collection].collection]  # type: ignore[no-any-return]

    def _create_indexes(self, client: Any) -> None:
        # Idempotent: MongoDB keeps an index that exists with the same keys and options.
        database = client[self._database]
        for layout in LAYOUTS.values():
            target = database[layout.collection]
            target.create_index([(ID, 1)], unique=True, name="id_unique")
            for keys in layout.indexes:
                target.create_index(list(keys), name="_".join(f"{f}_{d}" for f, d in keys))
        database[COUNTERS].create_index([("k", 1), ("v", 1)], name="k_1_v_1")
        self._indexed = True

    @staticmethod
    def _record(layout: Layout, doc: JSON) -> dict[str, Any]:
        escaped = _needs_escape(doc)
        record = {
            ID: doc["id"],
            DOC: _map_keys(doc, _escape_key) if escaped else doc,
            KEYS: layout.keys_of(doc),
            "escaped": escaped,
        }
        for child, (parent, attribute) in CHILDREN.items():
            if LAYOUTS[parent] is layout:
                keyed = CHILD_LAYOUTS[child]
                record[CHILD_KEYS] = [
                    {ID: item["id"], KEYS: keyed.keys_of(item)} for item in doc.get(attribute) or []
                ]
        return record

    @staticmethod
    def _doc(record: dict[str, Any]) -> JSON:
        doc: JSON = record[DOC]
        return _map_keys(doc, _unescape_key) if record.get("escaped") else doc

    # -- the port ------------------------------------------------------------------------------

    @staticmethod
    def _outbox(events: Sequence[JSON]) -> dict[str, Any]:
        """The fields that carry a change's events until they are relayed."""
        layout = LAYOUTS[Collection.EVENT]
        return {
            OUTBOX: [
                {SEQ: ObjectId(), **MongoStore._record(layout, e), "version": 1} for e in events
            ]
        }

    @_reachable
    def insert(self, collection: Collection, doc: JSON, *, events: Sequence[JSON] = ()) -> Stored:
        _writable(collection)
        record = {SEQ: ObjectId(), **self._record(LAYOUTS[collection], doc), "version": 1}
        if events:
            record |= {**self._outbox(events), PENDING: True}
        try:
            self._collection(collection).insert_one(record)
        except mongo_errors.DuplicateKeyError as exc:
            raise DuplicateId(f"{collection}: {doc['id']!r} exists") from exc
        return Stored(doc, 1)

    def insert_many(self, collection: Collection, docs: Iterable[JSON]) -> int:
        return self.restore(collection, (Stored(doc, 1) for doc in docs))

    @_reachable
    def restore(
        self,
        collection: Collection,
        items: Iterable[Stored],
        *,
        counters: Sequence[CounterChange] = (),
    ) -> int:
        """The documents, then their counters (not one transaction: an import is made into an
        empty store, and one that fails is made again into an empty one)."""
        restored = self._restore(collection, items)
        _move_counters(self._counters(), counters)
        return restored

    def _restore(self, collection: Collection, items: Iterable[Stored]) -> int:
        _writable(collection)
        layout = LAYOUTS[collection]
        records = [
            {SEQ: ObjectId(), **self._record(layout, item.doc), "version": item.version}
            for item in items
        ]
        if not records:
            return 0
        ids = [record[ID] for record in records]
        if len(set(ids)) != len(ids):
            raise DuplicateId(f"{collection}: an id is repeated in the batch")
        target = self._collection(collection)
        taken = target.find_one({ID: {"$in": ids}}, {ID: 1})
        if taken is not None:
            raise DuplicateId(f"{collection}: {taken[ID]!r} exists")
        try:
            target.insert_many(records, ordered=True)
        except mongo_errors.BulkWriteError as exc:
            # A writer took one of the ids meanwhile: take back what this call inserted, so the
            # batch is all or nothing (as the port promises) once this call returns.
            inserted = exc.details.get("nInserted", 0)
            target.delete_many({SEQ: {"$in": [record[SEQ] for record in records[:inserted]]}})
            if any(e.get("code") == _DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise DuplicateId(f"{collection}: an id of the batch exists") from exc
            raise
        return len(records)

    def scan(self, collection: Collection) -> Iterator[Stored]:
        parent, attribute = CHILDREN.get(collection, (collection, ""))
        records = self._scan_cursor(parent)
        while (record := _next_record(records)) is not None:
            doc = self._doc(record)
            if not attribute:
                yield Stored(doc, record["version"])
                continue
            for child in doc.get(attribute) or []:
                yield Stored(child, record["version"])

    @_reachable
    def _scan_cursor(self, collection: Collection) -> Iterator[dict[str, Any]]:
        found = self._collection(collection).find(LIVE, _PROJECTION).sort(SEQ, 1)
        return found.batch_size(500)

    @_reachable
    def get(self, collection: Collection, doc_id: str) -> Stored | None:
        if collection in CHILDREN:
            return self._get_child(collection, doc_id)
        record = self._collection(collection).find_one({ID: doc_id, **LIVE}, _PROJECTION)
        return Stored(self._doc(record), record["version"]) if record else None

    def _get_child(self, collection: Collection, child_id: str) -> Stored | None:
        parent, attribute = CHILDREN[collection]
        found = self._collection(parent).find_one(
            {f"{CHILD_KEYS}.{ID}": child_id, **LIVE}, _PROJECTION
        )
        if found is None:
            return None
        for child in self._doc(found).get(attribute) or []:
            if child["id"] == child_id:
                return Stored(child, found["version"])
        return None

    @_reachable
    def replace(
        self,
        collection: Collection,
        doc: JSON,
        *,
        expected_version: int,
        events: Sequence[JSON] = (),
    ) -> Stored | None:
        _writable(collection)
        return self._replace(
            self._collection(collection), collection, doc, expected_version, events
        )

    def _replace(
        self,
        target: MongoCollection[Any],
        collection: Collection,
        doc: JSON,
        expected_version: int,
        events: Sequence[JSON],
        session: Any = None,
    ) -> Stored | None:
        update: dict[str, Any] = {
            "$set": self._record(LAYOUTS[collection], doc),
            "$inc": {"version": 1},
        }
        if events:
            update["$set"][PENDING] = True
            update["$push"] = {OUTBOX: {"$each": self._outbox(events)[OUTBOX]}}
        result = target.update_one(
            {ID: doc["id"], "version": expected_version, **LIVE}, update, session=session
        )
        return Stored(doc, expected_version + 1) if result.matched_count == 1 else None

    @_reachable
    def delete(
        self,
        collection: Collection,
        doc_id: str,
        *,
        expected_version: int | None = None,
        events: Sequence[JSON] = (),
    ) -> bool:
        return self._delete(self._collection(collection), doc_id, expected_version, events)

    def _delete(
        self,
        target: MongoCollection[Any],
        doc_id: str,
        expected_version: int | None,
        events: Sequence[JSON],
        session: Any = None,
    ) -> bool:
        condition: dict[str, Any] = {ID: doc_id, **LIVE}
        if expected_version is not None:
            condition["version"] = expected_version
        if not events:
            return target.delete_one(condition, session=session).deleted_count == 1
        # The delete and its events in one write: a tombstone, removed once they are relayed.
        result = target.update_one(
            condition,
            {
                "$set": {GONE: True, PENDING: True},
                "$unset": {DOC: "", KEYS: ""},
                "$inc": {"version": 1},
                "$push": {OUTBOX: {"$each": self._outbox(events)[OUTBOX]}},
            },
            session=session,
        )
        return result.matched_count == 1

    @_reachable
    def write(
        self, collection: Collection, writes: Sequence[Write]
    ) -> builtins.list[Stored | None]:
        """One multi-document transaction (MongoDB needs a replica set or a sharded cluster
        for it, as the compose file runs); the events still go through each document's outbox."""
        _writable(collection)
        target = self._collection(collection)
        counters = target.database[COUNTERS]

        def apply(session: Any) -> builtins.list[Stored | None]:
            written: builtins.list[Stored | None] = []
            for w in writes:
                done: Stored | None
                if w.delete:
                    gone = self._delete(target, w.doc["id"], w.expected_version, w.events, session)
                    done = Stored(w.doc, (w.expected_version or 0) + 1) if gone else None
                elif w.expected_version is None:
                    record = {SEQ: ObjectId(), **self._record(LAYOUTS[collection], w.doc)}
                    record["version"] = 1
                    if w.events:
                        record |= {**self._outbox(w.events), PENDING: True}
                    target.insert_one(record, session=session)
                    done = Stored(w.doc, 1)
                else:
                    done = self._replace(
                        target, collection, w.doc, w.expected_version, w.events, session
                    )
                if done is not None:
                    _move_counters(counters, w.counters, session)
                written.append(done)
            return written

        try:
            with target.database.client.start_session() as session:
                result: builtins.list[Stored | None] = session.with_transaction(apply)
        except mongo_errors.DuplicateKeyError as exc:
            raise DuplicateId(f"{collection}: an id of the write exists") from exc
        except mongo_errors.OperationFailure as exc:
            if exc.code != _ILLEGAL_OPERATION:
                raise
            # a standalone server: nothing was written, and retrying will not help
            raise StoreUnavailable(
                "MongoDB refuses multi-document transactions (a standalone server): major "
                "incidents need a replica set, as the compose file runs",
                retry_after=RETRY_AFTER_SECONDS,
            ) from exc
        return result

    @_reachable
    def counters(self, key: str) -> dict[str, int]:
        found = self._counters().find({"k": key, "v": {"$ne": 0}}, {"n": 1, "v": 1})
        return {record["n"]: int(record["v"]) for record in found}

    @_reachable
    def count_counters(self, key: str) -> int:
        return int(self._counters().count_documents({"k": key, "v": {"$gt": 0}}))

    def _counters(self) -> MongoCollection[Any]:
        return self._collection(Collection.TROUBLE_TICKET).database[COUNTERS]

    @_reachable
    def relay_events(self, limit: int = 500) -> int:
        moved = 0
        database = self._collection(Collection.EVENT).database
        events = database[LAYOUTS[Collection.EVENT].collection]
        for collection in RESOURCE_COLLECTIONS:
            source = database[LAYOUTS[collection].collection]
            for record in source.find({PENDING: True}, {SEQ: 1, OUTBOX: 1}).limit(limit):
                outbox = record.get(OUTBOX, [])
                if outbox:
                    try:
                        events.insert_many(outbox, ordered=False)
                    except mongo_errors.BulkWriteError as exc:
                        # Relayed before (by this or another worker) up to a crash: the unique
                        # event id keeps one copy. Anything else is a real failure.
                        if any(
                            e.get("code") != _DUPLICATE_KEY
                            for e in exc.details.get("writeErrors", [])
                        ):
                            raise
                    ids = [event[ID] for event in outbox]
                    source.update_one({SEQ: record[SEQ]}, {"$pull": {OUTBOX: {ID: {"$in": ids}}}})
                    moved += len(outbox)
                # Only once nothing new was pushed meanwhile: the outbox is empty.
                empty = {SEQ: record[SEQ], OUTBOX: {"$size": 0}}
                source.delete_one({**empty, GONE: True})
                source.update_one(empty, {"$unset": {PENDING: "", OUTBOX: ""}})
        return moved

    @_reachable
    def list(self, collection: Collection, query: ListQuery) -> Page:
        if collection in CHILDREN:
            return self._list_children(collection, query)
        layout = LAYOUTS[collection]
        compiled = compile_filter(layout, query.where)
        order = native_order(layout, query.sort)
        target = self._collection(collection)
        if order is not None and not compiled.residual:
            return self._list_native(target, compiled, order, query)
        return self._list_scanned(target, compiled, query)

    def _list_native(
        self,
        target: MongoCollection[Any],
        compiled: CompiledFilter,
        order: builtins.list[OrderKey],
        query: ListQuery,
    ) -> Page:
        """Filter, order, count and page inside MongoDB, on its indexes."""
        signature = sort_signature(query.sort)
        forward = query.before is None
        cursor = query.after if forward else query.before
        condition = _live(compiled.condition)
        paged = condition
        if cursor is not None:
            values = self._cursor_position(cursor, signature, order)
            keyset = keyset_condition(order, values, forward=forward)
            paged = {"$and": [condition, keyset]}
        total = target.count_documents(condition) if query.count else None
        rows: list[tuple[JSON, list[Any]]] = []
        if query.limit:
            found = (
                target.find(paged, _PROJECTION)
                .sort(sort_spec(order, reverse=not forward))
                .skip(query.offset)
                .limit(query.limit + 1)
            )
            rows = [(self._doc(record), position_of(record, order)) for record in found]
        return assemble_page(
            rows,
            total=total,
            limit=query.limit,
            offset=query.offset,
            forward=forward,
            cursor=cursor,
            signature=signature,
        )

    def _list_children(self, collection: Collection, query: ListQuery) -> Page:
        """Children of every parent: MongoDB selects the parents holding a child that meets
        the keyed groups of the filter (an index on the child keys), then each child is judged
        here by the whole filter, and ordered (by id without a sort) and paged.

        Its cost grows with the children of the parents selected.
        """
        parent, attribute = CHILDREN[collection]
        keyed = CHILD_LAYOUTS[collection]
        held: builtins.list[dict[str, Any]] = []
        for group in query.where.groups:
            compiled = compile_filter(keyed, Filter((group,)))
            if not compiled.residual and _keys_only(compiled.condition):
                held.append({CHILD_KEYS: {"$elemMatch": compiled.condition}})
        condition = {"$and": held} if held else {f"{CHILD_KEYS}.0": {"$exists": True}}
        if not query.sort:
            query = replace(query, sort=(SortKey((ID,)),))
        matched: builtins.list[tuple[JSON, builtins.list[Any]]] = []
        for record in self._collection(parent).find(_live(condition), _PROJECTION).sort(SEQ, 1):
            for child in self._doc(record).get(attribute) or []:
                if matches(child, query.where):
                    matched.append((child, _scan_position(child, record[SEQ], query.sort)))
        return _page_in_memory(matched, query)

    def _list_scanned(
        self, target: MongoCollection[Any], compiled: CompiledFilter, query: ListQuery
    ) -> Page:
        """Filter what MongoDB can, then evaluate, order and page the rest here.

        Used when a filter group or a sort key has no exact MongoDB form; it reads every
        document the MongoDB part selects, so its cost grows with those.
        """
        matched: builtins.list[tuple[JSON, builtins.list[Any]]] = []
        for record in target.find(_live(compiled.condition), _PROJECTION).sort(SEQ, 1):
            doc = self._doc(record)
            if _residual_matches(doc, compiled.residual):
                matched.append((doc, _scan_position(doc, record[SEQ], query.sort)))
        return _page_in_memory(matched, query)

    @staticmethod
    def _cursor_position(
        cursor: str, signature: str, order: builtins.list[OrderKey]
    ) -> builtins.list[Any]:
        values = cursor_values(cursor, signature, len(order))
        if order[0].name == SEQ:
            try:
                values[0] = ObjectId(values[0])
            except (InvalidId, TypeError):
                raise InvalidRequest("The paging cursor is not one this server issued") from None
        return values

    @_reachable
    def tally(
        self, collection: Collection, where: Filter, by: Sequence[tuple[str, ...]]
    ) -> dict[tuple[Any, ...], int]:
        if collection in CHILDREN:
            raise ValueError(f"{collection} is a child collection: tally its parents")
        compiled = compile_filter(LAYOUTS[collection], where)
        target = self._collection(collection)
        counts: dict[tuple[Any, ...], int] = {}
        if compiled.residual:  # judged here, document by document
            for record in target.find(_live(compiled.condition), _PROJECTION):
                doc = self._doc(record)
                if _residual_matches(doc, compiled.residual):
                    key = tuple(_value_at(doc, path) for path in by)
                    counts[key] = counts.get(key, 0) + 1
            return counts
        group = {f"k{n}": f"${DOC}.{'.'.join(path)}" for n, path in enumerate(by)}
        pipeline = [
            {"$match": _live(compiled.condition)},
            {"$group": {"_id": group, "n": {"$sum": 1}}},
        ]
        for row in target.aggregate(pipeline):
            key = tuple(row["_id"].get(f"k{n}") for n in range(len(by)))
            counts[key] = counts.get(key, 0) + row["n"]
        return counts

    @_reachable
    def check(self) -> None:
        # a read answered by the server (writes go to the primary pymongo has found)
        self._collection(Collection.TROUBLE_TICKET).find_one({}, {ID: 1})

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            self._indexed = False
        if client is not None:
            client.close()


def _move_counters(
    counters: MongoCollection[Any], changes: Sequence[CounterChange], session: Any = None
) -> None:
    for change in changes:
        counters.update_one(
            {ID: f"{change.key}\x1f{change.name}"},
            {"$inc": {"v": change.delta}, "$setOnInsert": {"k": change.key, "n": change.name}},
            upsert=True,
            session=session,
        )


def _writable(collection: Collection) -> None:
    if collection in CHILDREN:
        raise ValueError(f"{collection.value} is stored only inside its parent document")


def _live(condition: dict[str, Any]) -> dict[str, Any]:
    """``condition`` on the documents that exist (not tombstones of a delete being relayed)."""
    return {"$and": [condition, LIVE]} if condition else dict(LIVE)


@_reachable
def _next_record(records: Iterator[dict[str, Any]]) -> dict[str, Any] | None:
    return next(records, None)


def _page_in_memory(matched: list[tuple[JSON, list[Any]]], query: ListQuery) -> Page:
    """Order ``matched`` (documents with their positions) and cut the page ``query`` asks for."""
    signature = sort_signature(query.sort)
    forward = query.before is None
    cursor = query.after if forward else query.before
    descending = tuple(key.descending for key in query.sort)

    def order(a: tuple[JSON, list[Any]], b: tuple[JSON, list[Any]]) -> int:
        return _compare(a[1], b[1], descending)

    ranked = sorted(matched, key=functools.cmp_to_key(order))
    if cursor is not None:
        mark = cursor_values(cursor, signature, len(query.sort) + 1 if query.sort else 1)
        if forward:
            ranked = [row for row in ranked if _compare(row[1], mark, descending) > 0]
        else:
            ranked = [row for row in ranked if _compare(row[1], mark, descending) < 0]
    if not forward:
        ranked.reverse()
    window = ranked[query.offset : query.offset + query.limit + 1] if query.limit else []
    return assemble_page(
        window,
        total=len(matched) if query.count else None,
        limit=query.limit,
        offset=query.offset,
        forward=forward,
        cursor=cursor,
        signature=signature,
    )


def _keys_only(condition: Any) -> bool:
    """Whether a compiled condition reads the keys alone (no document path)."""
    if isinstance(condition, dict):
        return all(
            (name.startswith("$") or name.startswith(f"{KEYS}.")) and _keys_only(value)
            for name, value in condition.items()
        )
    if isinstance(condition, list):
        return all(_keys_only(item) for item in condition)
    return True


def _value_at(doc: JSON, path: tuple[str, ...]) -> Any:
    value: Any = doc
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    return value


def _residual_matches(doc: JSON, residual: tuple[AnyOf, ...]) -> bool:
    return all(group_matches(doc, group) for group in residual)


def _scan_position(doc: JSON, seq: ObjectId, sort: tuple[SortKey, ...]) -> list[Any]:
    if not sort:
        return [str(seq)]
    return [*(sort_value(doc, key.path) for key in sort), doc["id"]]


def _rank(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    return (1, value) if isinstance(value, int | float) else (2, value)


def _compare(a: list[Any], b: list[Any], descending: tuple[bool, ...]) -> int:
    """Order of two positions: per key null < numbers < strings, reversed for a descending key;
    the last value (id, or the insertion sequence) always ascending."""
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        rx, ry = _rank(x), _rank(y)
        if rx != ry:
            result = -1 if rx < ry else 1
            return -result if i < len(descending) and descending[i] else result
    return 0
