"""SqliteStore: the embedded, zero-setup store (stdlib ``sqlite3``).

* One connection per thread, opened on first use and reused: connections are never shared between
  threads, and the thread pool that runs store calls stays small and long-lived. ``close()``
  releases them all; a later call opens fresh ones (an app may start and stop more than once).
* ``:memory:`` is a named shared-cache database, so every thread sees the same data.
* WAL journal: readers never block the writer and a crash never leaves a half-written page.
* Each method is one transaction; an update is a single ``UPDATE … WHERE version = ?``, so a
  concurrent writer makes it match no row instead of being overwritten.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from troubleticket.store.cursor import assemble_page, cursor_values, sort_signature
from troubleticket.store.port import (
    CHILDREN,
    Collection,
    DuplicateId,
    ListQuery,
    Page,
    Stored,
    StoreUnavailable,
)
from troubleticket.store.query import Filter, SortKey, values_at
from troubleticket.store.sqlite_query import (
    PARTY_ID_PATH,
    Kind,
    Layout,
    SortExpression,
    keyset_clause,
    order_clause,
    register_functions,
    sort_expressions,
    where_clause,
)
from troubleticket.types import JSON

# Indexed attributes of tickets: (path, column, kind). Each column is generated from the document
# and indexed together with seq, so a filtered page in insertion order reads the index only.
_TICKET_COLUMNS = (
    (("status",), "status", Kind.TEXT),
    (("severity",), "severity", Kind.TEXT),
    (("priority",), "priority", Kind.TEXT),
    (("ticketType",), "ticket_type", Kind.TEXT),
    (("creationDate",), "creation_date", Kind.INSTANT),
    (("lastUpdate",), "last_update", Kind.INSTANT),
    # when the next SLA threshold of the ticket falls due (the monitor reads by it)
    (("slaNextCheck",), "sla_next_check", Kind.INSTANT),
)

_LAYOUTS = {
    Collection.TROUBLE_TICKET: Layout(
        table="trouble_ticket",
        columns={
            **{path: (column, kind) for path, column, kind in _TICKET_COLUMNS},
            ("slaJeopardy",): ("sla_jeopardy", Kind.TEXT),
        },
        indexes=(
            *((column, "seq") for _path, column, _kind in _TICKET_COLUMNS),
            # "the tickets in this status (and severity), newest first": what partners and
            # operators list most; both also count their matches from the index alone.
            ("status", "creation_date"),
            ("status", "severity", "creation_date"),
            # the open tickets by priority and jeopardy (the metrics), counted from the index
            ("status", "priority", "sla_jeopardy"),
        ),
        party_ids=("trouble_ticket_party", "party_id"),
    ),
    Collection.TROUBLE_TICKET_SPECIFICATION: Layout(table="trouble_ticket_specification"),
    Collection.HUB: Layout(table="hub"),
    Collection.EVENT: Layout(
        table="event",
        columns={
            ("state",): ("state", Kind.TEXT),
            ("recordedAt",): ("recorded_at", Kind.INSTANT),
        },
        # the events not yet fanned out, in order; the events since an instant (replay)
        indexes=(("state", "seq"), ("recorded_at", "seq")),
    ),
    Collection.DELIVERY: Layout(
        table="delivery",
        columns={
            ("state",): ("state", Kind.TEXT),
            ("nextAttemptAt",): ("next_attempt_at", Kind.INSTANT),
            ("leaseUntil",): ("lease_until", Kind.INSTANT),
            ("hubId",): ("hub_id", Kind.TEXT),
            ("resourceKey",): ("resource_key", Kind.TEXT),
            ("orderKey",): ("order_key", Kind.TEXT),
            ("createdAt",): ("created_at", Kind.INSTANT),
        },
        indexes=(
            # what is due: pending by next attempt, delivering by lease end
            ("state", "next_attempt_at"),
            ("state", "lease_until"),
            # what comes before a delivery for the same subscriber and resource
            ("hub_id", "resource_key", "order_key"),
            # a hub's deliveries, newest first
            ("hub_id", "created_at"),
        ),
    ),
    Collection.RECEIVED_EVENT: Layout(table="received_event"),
    Collection.PARTNER: Layout(table="partner"),
    Collection.LEASE: Layout(table="lease"),
    # A copy of each ticket's recovery activities, one row each, kept in the ticket's own
    # transaction (parent_seq: the ticket's row; deleted with it).
    Collection.RECOVERY_ACTIVITY: Layout(
        table="recovery_activity",
        columns={
            ("state",): ("state", Kind.TEXT),
            ("activityType",): ("activity_type", Kind.TEXT),
            ("plannedEndDate",): ("planned_end_date", Kind.INSTANT),
            ("troubleTicket", "id"): ("ticket_id", Kind.TEXT),
            ("assignee", "partyOrPartyRole", "id"): ("assignee_id", Kind.TEXT),
            # the partner's ticket of a trouble report: its events are found by it
            ("partnerReport", "partnerTicket", "id"): ("partner_ticket_id", Kind.TEXT),
        },
        indexes=(
            ("parent_seq",),
            ("state", "seq"),
            ("activity_type", "seq"),
            ("planned_end_date", "seq"),
            ("ticket_id", "seq"),
            ("assignee_id", "seq"),
            ("partner_ticket_id", "seq"),
        ),
    ),
}
_TABLES = {collection: layout.table for collection, layout in _LAYOUTS.items()}
# child collection -> (its table, the parent's table, the parent's attribute holding them)
_CHILD_TABLES = {
    child: (_TABLES[child], _TABLES[parent], attribute)
    for child, (parent, attribute) in CHILDREN.items()
}


# Delivery bookkeeping (deliveries, and marking events fanned out; events themselves are written
# in the transaction of their change): a power cut may lose its last commits (never a process
# crash, and never a later commit without the earlier ones: the WAL keeps a prefix). Losing them
# only repeats work — a fan-out (idempotent), an attempt (at least once) — so they skip the sync
# per commit that every resource write, and the events recorded with it, keeps.
# Writes committed together at most (see SqliteStore._transaction).
_GROUP_MAX = 64


@dataclass(eq=False)
class _Group:
    """One write transaction that the writers queued while it was open share."""

    relaxed: bool  # synchronous=NORMAL: only rederivable collections written
    members: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def _copy_error(error: BaseException) -> BaseException:
    """The group's commit error, raised anew in each of its writers' threads."""
    try:
        return type(error)(*error.args)
    except Exception:
        return RuntimeError(f"the write was not committed: {error}")


# Counts of listings kept per connection (see SqliteStore._count).
_COUNTS_KEPT = 256
# (count statement, its parameters) -> (count, (data_version, commits) when counted)
_Counts = dict[tuple[str, tuple[Any, ...]], tuple[int, tuple[int, int]]]
_REDERIVABLE = frozenset({Collection.DELIVERY, Collection.EVENT})


def _writable(collection: Collection) -> None:
    if collection in CHILDREN:
        raise ValueError(f"{collection.value} is written only through its parent document")


def _dumps(doc: JSON) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _event_rows(events: Sequence[JSON]) -> list[tuple[str, str]]:
    return [(event["id"], _dumps(event)) for event in events]


@dataclass(frozen=True, slots=True)
class _ListPlan:
    """The two statements of one listing: the count of matches and the page."""

    table: str
    condition: str
    params: list[Any]
    keys: list[SortExpression]
    signature: str
    forward: bool
    cursor: str | None
    paged: str
    paged_params: list[Any]

    @classmethod
    def build(cls, layout: Layout, query: ListQuery) -> _ListPlan:
        condition, params = where_clause(layout, query.where)
        keys = sort_expressions(layout, query.sort)
        signature = sort_signature(query.sort)
        forward = query.before is None
        cursor = query.after if forward else query.before
        paged, paged_params = condition, params
        if cursor is not None:
            keyset, keyset_params = keyset_clause(
                keys, cursor_values(cursor, signature, len(keys)), forward=forward
            )
            paged = f"{condition} AND {keyset}" if condition else f"WHERE {keyset}"
            paged_params = [*params, *keyset_params]
        return cls(
            layout.table, condition, params, keys, signature, forward, cursor, paged, paged_params
        )

    def count_sql(self) -> tuple[str, list[Any]]:
        return f"SELECT count(*) FROM {self.table} {self.condition}", self.params

    def page_sql(self, limit: int, offset: int) -> tuple[str, list[Any]]:
        # Selects the sort keys too (they make the cursors), and one row beyond the page, which
        # tells whether there is more in the walking direction.
        order, order_params = order_clause(self.keys, reverse=not self.forward)
        key_columns = ", ".join(k.sql for k in self.keys)
        key_params = [p for k in self.keys for p in k.params]
        return (
            f"SELECT doc, {key_columns} FROM {self.table} {self.paged} {order} LIMIT ? OFFSET ?",
            [*key_params, *self.paged_params, *order_params, limit + 1, offset],
        )


class SqliteStore:
    """Store port on a SQLite database file."""

    inline_reads = True  # a read by id is a B-tree lookup in this process

    def __init__(self, path: str | Path, *, group_commit: bool = True) -> None:
        """``group_commit=False`` commits each write alone (to measure what grouping gains)."""
        self._path = str(path)
        self._group_commit = group_commit
        self._memory_keeper: sqlite3.Connection | None = None
        if self._path == ":memory:":
            # Each plain ":memory:" connection is a private database; a named shared-cache one
            # is seen by every thread's connection and lives while the keeper stays open.
            self._path = f"file:troubleticket-{uuid.uuid4()}?mode=memory&cache=shared"
            self._memory_keeper = sqlite3.connect(self._path, uri=True, check_same_thread=False)
        else:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._commits = 0  # write transactions this process has ended (committed or not)
        self._writer_conn: sqlite3.Connection | None = None
        self._writer_generation = 0
        self._group: _Group | None = None  # the open group transaction of the writer connection
        self._queued = 0  # writers waiting for the write lock
        # close() bumps the generation; a thread holding a connection of an older one reconnects.
        self._generation = 0
        self._create_tables()
        schema = resources.files("troubleticket.store").joinpath("schema.sql").read_text()
        # executescript manages its own transaction; every statement in it is idempotent.
        self._connection().executescript(schema)
        # Planner statistics, so that of two indexes on status the one that also gives the
        # requested order is chosen (SQLite's advice for long-lived connections; the limit
        # keeps it to milliseconds even at a million tickets).
        self._connection().execute("PRAGMA analysis_limit=400")
        self._connection().execute("PRAGMA optimize=0x10002")

    def _create_tables(self) -> None:
        with self._transaction() as conn:
            for collection, layout in _LAYOUTS.items():
                generated = [
                    f"{column} GENERATED ALWAYS AS (json_extract(doc, '$.{'.'.join(path)}'))"
                    for path, (column, _kind) in layout.columns.items()
                ]
                # STORED: a filter on one indexed column reads the others from the row, not by
                # parsing the document again.
                parent = ""
                if collection in _CHILD_TABLES:
                    parent = (
                        ", parent_seq INTEGER NOT NULL REFERENCES "
                        f"{_CHILD_TABLES[collection][1]} (seq) ON DELETE CASCADE"
                    )
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {layout.table} ("
                    "seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, "
                    "version INTEGER NOT NULL, doc TEXT NOT NULL CHECK (json_valid(doc))"
                    + parent
                    + "".join(f", {column} STORED" for column in generated)
                    + ")"
                )
                existing = {row[1] for row in conn.execute(f"PRAGMA table_xinfo({layout.table})")}
                for (column, _kind), definition in zip(
                    layout.columns.values(), generated, strict=True
                ):
                    if column not in existing:
                        # A database from before the column existed: SQLite can only add a
                        # generated column as VIRTUAL.
                        conn.execute(f"ALTER TABLE {layout.table} ADD COLUMN {definition} VIRTUAL")
                for index in layout.indexes:
                    name = f"{layout.table}_by_{'_'.join(c for c in index if c != 'seq')}"
                    conn.execute(
                        f"CREATE INDEX IF NOT EXISTS {name} ON {layout.table} ({', '.join(index)})"
                    )

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (reads, and writes of an in-memory store)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._local.generation != self._generation:
            conn = self._open()
            self._local.generation = self._generation
            self._local.conn = conn
        return conn

    def _writer(self) -> sqlite3.Connection:
        """The connection every write of a file store goes through (under the write lock)."""
        if self._writer_conn is None or self._writer_generation != self._generation:
            self._writer_conn = self._open()
            self._writer_generation = self._generation
        return self._writer_conn

    def _open(self) -> sqlite3.Connection:
        # autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE below.
        conn = sqlite3.connect(
            self._path,
            isolation_level=None,
            check_same_thread=False,
            timeout=30,
            uri=self._memory_keeper is not None,
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        # 64 MiB of page cache per connection (SQLite's default is 2 MiB): the upper levels
        # of the ticket indexes stay in memory at a million tickets.
        conn.execute("PRAGMA cache_size=-65536")
        register_functions(conn)
        # FULL syncs the WAL on every commit: a 201 means the ticket survives a power cut,
        # not only a process crash (NORMAL would guarantee the latter only).
        conn.execute("PRAGMA synchronous=FULL")
        with self._lock:
            self._connections.append(conn)
        return conn

    @contextmanager
    def _transaction(self, collection: Collection | None = None) -> Iterator[sqlite3.Connection]:
        """A write: committed and durable when the block ends, rolled back if it raises.

        Writes of a file store are committed in groups. Writers of this process queue on a lock
        (not in SQLite's busy handler, which sleeps in growing steps); each runs its block in a
        savepoint of the open group transaction, and the last writer in the queue (or the
        ``_GROUP_MAX``-th) commits the group: one fsync for all of them. Every writer returns
        only once the group's commit is on disk, so ``synchronous=FULL`` still holds for each
        write; a writer whose block raises has its savepoint rolled back and leaves the others'
        work in the group. IMMEDIATE then only waits for other processes, and a
        read-then-write never deadlocks.
        """
        if self._memory_keeper is not None or not self._group_commit:
            # (in memory there is nothing to sync) one transaction per write
            with self._solo_transaction(collection) as conn:
                yield conn
            return
        relaxed = collection in _REDERIVABLE
        with self._lock:
            self._queued += 1
        self._write_lock.acquire()
        with self._lock:
            self._queued -= 1
        member: _Group | None = None
        try:
            conn = self._writer()
            group = self._group
            if group is not None and group.relaxed and not relaxed:
                self._end_group()  # a full-durability write does not join a relaxed group
                group = None
            # The first writer of a group is alone in its transaction: no savepoint needed
            # (what a writer with nobody queued behind it saves).
            first = group is None
            if group is None:
                group = self._begin_group(conn, relaxed=relaxed)
            else:
                conn.execute("SAVEPOINT member")
            try:
                yield conn
            except BaseException as exc:
                if first or not conn.in_transaction:
                    # its own transaction, or SQLite rolled it all back (disk full, I/O error)
                    self._abandon_group(exc)
                else:
                    conn.execute("ROLLBACK TO member")
                    conn.execute("RELEASE member")
                raise
            if not first:
                conn.execute("RELEASE member")
            group.members += 1
            member = group
        finally:
            # Whatever happened above: the last writer in the queue commits what is open.
            try:
                open_group = self._group
                if open_group is not None and (
                    self._queued == 0 or open_group.members >= _GROUP_MAX
                ):
                    self._end_group()
            finally:
                self._write_lock.release()
        assert member is not None  # the block returned
        member.done.wait()
        if member.error is not None:
            raise _copy_error(member.error) from member.error

    def _begin_group(self, conn: sqlite3.Connection, *, relaxed: bool) -> _Group:
        if relaxed:
            conn.execute("PRAGMA synchronous=NORMAL")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            if relaxed:
                conn.execute("PRAGMA synchronous=FULL")
            raise
        self._group = _Group(relaxed)
        return self._group

    def _end_group(self) -> None:
        group, self._group = self._group, None
        assert group is not None and self._writer_conn is not None
        conn = self._writer_conn
        try:
            conn.execute("COMMIT")
        except BaseException as exc:
            group.error = exc
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        finally:
            self._ended(group)

    def _abandon_group(self, exc: BaseException) -> None:
        group, self._group = self._group, None
        assert group is not None and self._writer_conn is not None
        if self._writer_conn.in_transaction:
            self._writer_conn.execute("ROLLBACK")
        group.error = exc
        self._ended(group)

    def _ended(self, group: _Group) -> None:
        # counts this process kept may be stale now (see _count)
        self._commits += 1
        if group.relaxed and self._writer_conn is not None:
            with suppress(sqlite3.Error):
                self._writer_conn.execute("PRAGMA synchronous=FULL")
        group.done.set()

    @contextmanager
    def _solo_transaction(self, collection: Collection | None) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        with self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                self._commits += 1

    def insert(self, collection: Collection, doc: JSON, *, events: Sequence[JSON] = ()) -> Stored:
        self._insert_all(collection, [Stored(doc, 1)], events)
        return Stored(doc, 1)

    def insert_many(self, collection: Collection, docs: Iterable[JSON]) -> int:
        return self.restore(collection, (Stored(doc, 1) for doc in docs))

    def restore(self, collection: Collection, items: Iterable[Stored]) -> int:
        return self._insert_all(collection, items, ())

    def _insert_all(
        self, collection: Collection, items: Iterable[Stored], events: Sequence[JSON]
    ) -> int:
        _writable(collection)
        count = 0
        # Encoded before the write lock is taken: the lock is held for SQLite's work only.
        encoded = [(item, _dumps(item.doc)) for item in items]
        recorded = _event_rows(events)
        try:
            with self._transaction(collection) as conn:
                for item, text in encoded:
                    doc = item.doc
                    cursor = conn.execute(
                        f"INSERT INTO {_TABLES[collection]} (id, version, doc) VALUES (?, ?, ?)",
                        (doc["id"], item.version, text),
                    )
                    self._index_parties(conn, collection, cursor.lastrowid, doc, replacing=False)
                    self._index_children(conn, collection, cursor.lastrowid, doc, item.version)
                    count += 1
                self._record_events(conn, recorded)
        except sqlite3.IntegrityError as exc:
            raise DuplicateId(str(exc)) from exc
        return count

    @staticmethod
    def _record_events(conn: sqlite3.Connection, rows: list[tuple[str, str]]) -> None:
        # In the transaction of the change itself: the events commit with it, or not at all.
        conn.executemany(
            f"INSERT INTO {_TABLES[Collection.EVENT]} (id, version, doc) VALUES (?, 1, ?)", rows
        )

    def relay_events(self, limit: int = 500) -> int:
        return 0  # events are written to their table in the change's own transaction

    @staticmethod
    def _index_parties(
        conn: sqlite3.Connection,
        collection: Collection,
        seq: int | None,
        doc: JSON,
        *,
        replacing: bool = True,
    ) -> None:
        side = _LAYOUTS[collection].party_ids
        if side is None or seq is None:
            return
        table, column = side
        if replacing:
            conn.execute(f"DELETE FROM {table} WHERE seq = ?", (seq,))
        party_ids = {str(v) for v in values_at(doc, PARTY_ID_PATH) if isinstance(v, str | int)}
        conn.executemany(
            f"INSERT INTO {table} (seq, {column}) VALUES (?, ?)",
            [(seq, party_id) for party_id in sorted(party_ids)],
        )

    @staticmethod
    def _index_children(
        conn: sqlite3.Connection, collection: Collection, seq: int | None, doc: JSON, version: int
    ) -> None:
        """Bring the child rows of one parent in line with its document: new children are
        inserted, changed ones updated (at the parent's new version), gone ones deleted."""
        for child_table, parent_table, attribute in _CHILD_TABLES.values():
            if parent_table != _TABLES[collection] or seq is None:
                continue
            known = dict(
                conn.execute(f"SELECT id, doc FROM {child_table} WHERE parent_seq = ?", (seq,))
            )
            children = doc.get(attribute) or []
            for child in children:
                text = _dumps(child)
                if child["id"] not in known:
                    conn.execute(
                        f"INSERT INTO {child_table} (id, version, doc, parent_seq) "
                        "VALUES (?, ?, ?, ?)",
                        (child["id"], version, text, seq),
                    )
                elif known[child["id"]] != text:
                    conn.execute(
                        f"UPDATE {child_table} SET doc = ?, version = ? WHERE id = ?",
                        (text, version, child["id"]),
                    )
            gone = known.keys() - {child["id"] for child in children}
            conn.executemany(f"DELETE FROM {child_table} WHERE id = ?", [(i,) for i in gone])

    def get(self, collection: Collection, doc_id: str) -> Stored | None:
        row = (
            self._connection()
            .execute(f"SELECT doc, version FROM {_TABLES[collection]} WHERE id = ?", (doc_id,))
            .fetchone()
        )
        return Stored(json.loads(row[0]), row[1]) if row else None

    def scan(self, collection: Collection) -> Iterator[Stored]:
        # A connection of its own, so the read transaction (one consistent snapshot, thanks to
        # WAL, while writers go on) spans the whole walk whatever else this thread does.
        conn = sqlite3.connect(self._path, uri=self._memory_keeper is not None, timeout=30)
        try:
            conn.execute("BEGIN")
            rows = conn.execute(f"SELECT doc, version FROM {_TABLES[collection]} ORDER BY seq")
            while batch := rows.fetchmany(500):
                for doc, version in batch:
                    yield Stored(json.loads(doc), version)
        finally:
            conn.close()

    def list(self, collection: Collection, query: ListQuery) -> Page:
        if collection in CHILDREN and not query.sort:
            # children are listed by id, across their parents (CHILDREN)
            query = replace(query, sort=(SortKey(("id",)),))
        plan = _ListPlan.build(_LAYOUTS[collection], query)
        limit, offset = query.limit, query.offset
        conn = self._connection()
        # One read transaction so the count and the page agree with each other.
        conn.execute("BEGIN")
        try:
            # limit=0 asks for the count alone; the first read fixes the transaction's snapshot.
            rows = conn.execute(*plan.page_sql(limit, offset)).fetchall() if limit else []
            total = self._count(conn, plan, started=bool(limit)) if query.count else None
        finally:
            conn.execute("COMMIT")
        return assemble_page(
            [(json.loads(row[0]), list(row[1:])) for row in rows],
            total=total,
            limit=limit,
            offset=offset,
            forward=plan.forward,
            cursor=plan.cursor,
            signature=plan.signature,
        )

    def tally(
        self, collection: Collection, where: Filter, by: Sequence[tuple[str, ...]]
    ) -> dict[tuple[Any, ...], int]:
        if collection in CHILDREN:
            raise ValueError(f"{collection} is a child collection: tally its parents")
        layout = _LAYOUTS[collection]
        condition, params = where_clause(layout, where)
        keys: list[str] = []
        key_params: list[Any] = []
        for path in by:
            if path in layout.columns:
                keys.append(layout.columns[path][0])
            else:
                keys.append("json_extract(doc, ?)")
                key_params.append("$" + "".join(f'."{step}"' for step in path))
        sql = (
            f"SELECT {''.join(f'{key}, ' for key in keys)}count(*) FROM {layout.table} {condition}"
        )
        if keys:
            sql += f" GROUP BY {', '.join(str(n) for n in range(1, len(keys) + 1))}"
        rows = self._connection().execute(sql, [*key_params, *params]).fetchall()
        return {tuple(row[:-1]): row[-1] for row in rows if row[-1]}

    def _count(self, conn: sqlite3.Connection, plan: _ListPlan, *, started: bool) -> int:
        """The count of ``plan``'s matches, exact for the snapshot of ``conn``'s read transaction.

        Counting the matches of a broad filter reads every matching index entry (milliseconds at
        a million tickets) while the page beside it takes microseconds, and clients page through
        the same filters again and again. A count is kept per connection together with what
        marks the database's state: SQLite's ``data_version`` (it changes when any other
        connection, in this process or another, has committed since) and this process's commit
        counter (this connection's own commits). Both unchanged means no commit since the count
        was taken, so it is still exact; anything else counts again.
        """
        if not started:  # data_version is read in a transaction's snapshot: open one
            conn.execute(f"SELECT 1 FROM {plan.table} LIMIT 1").fetchall()
        state = (conn.execute("PRAGMA data_version").fetchone()[0], self._commits)
        sql, params = plan.count_sql()
        key = (sql, tuple(params))
        kept: tuple[sqlite3.Connection, _Counts] | None = getattr(self._local, "counts", None)
        if kept is None or kept[0] is not conn:
            kept = self._local.counts = (conn, {})
        counts: _Counts = kept[1]
        cached = counts.get(key)
        if cached is not None and cached[1] == state:
            return cached[0]
        total: int = conn.execute(sql, params).fetchone()[0]
        if len(counts) >= _COUNTS_KEPT:
            counts.pop(next(iter(counts)))
        counts[key] = (total, state)
        return total

    def explain(
        self, collection: Collection, query: ListQuery
    ) -> builtins.list[str]:  # the method above shadows the builtin in this class
        """SQLite's query plan for the page and the count of a listing, one step a line."""
        plan = _ListPlan.build(_LAYOUTS[collection], query)
        conn = self._connection()
        lines: builtins.list[str] = []
        page = plan.page_sql(query.limit, query.offset)
        for label, (sql, params) in (("page", page), ("count", plan.count_sql())):
            for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params):
                lines.append(f"{label}: {row[3]}")
        return lines

    def replace(
        self,
        collection: Collection,
        doc: JSON,
        *,
        expected_version: int,
        events: Sequence[JSON] = (),
    ) -> Stored | None:
        _writable(collection)
        text, recorded = _dumps(doc), _event_rows(events)  # before the write lock
        try:
            with self._transaction(collection) as conn:
                row = conn.execute(
                    f"UPDATE {_TABLES[collection]} SET doc = ?, version = version + 1 "
                    "WHERE id = ? AND version = ? RETURNING seq",
                    (text, doc["id"], expected_version),
                ).fetchone()
                if row is None:
                    return None
                self._index_parties(conn, collection, row[0], doc)
                self._index_children(conn, collection, row[0], doc, expected_version + 1)
                self._record_events(conn, recorded)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            raise DuplicateId(str(exc)) from exc
        return Stored(doc, expected_version + 1)

    def delete(
        self,
        collection: Collection,
        doc_id: str,
        *,
        expected_version: int | None = None,
        events: Sequence[JSON] = (),
    ) -> bool:
        _writable(collection)
        recorded = _event_rows(events)  # before the write lock
        with self._transaction(collection) as conn:
            cursor = conn.execute(
                f"DELETE FROM {_TABLES[collection]} WHERE id = ? AND (? IS NULL OR version = ?)",
                (doc_id, expected_version, expected_version),
            )
            if cursor.rowcount != 1:
                return False
            self._record_events(conn, recorded)
        return True

    def check(self) -> None:
        try:
            self._connection().execute("SELECT 1 FROM trouble_ticket LIMIT 1").fetchall()
            if self._memory_keeper is None:
                # the write lock, taken and given back on a connection of its own: another
                # process holding it for long makes this fail after 2 s, not hang
                probe = sqlite3.connect(self._path, timeout=2, isolation_level=None)
                try:
                    probe.execute("BEGIN IMMEDIATE")
                    probe.execute("ROLLBACK")
                finally:
                    probe.close()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"The SQLite store cannot be written: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._generation += 1
            for conn in self._connections:
                # Refreshes the planner's statistics where the queries of this run need them;
                # a connection caught mid-transaction at shutdown just skips it.
                with suppress(sqlite3.Error):
                    conn.execute("PRAGMA optimize")
                conn.close()
            self._connections.clear()
