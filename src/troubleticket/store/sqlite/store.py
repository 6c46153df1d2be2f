"""SqliteStore: the embedded, zero-setup store (stdlib ``sqlite3``).

Where each collection lives is ``layout``; the connections and the group commit are
``connections``; the TMF630 query turned into SQL is ``query``. Each method here is one
transaction; an update is a single ``UPDATE … WHERE version = ?``, so a concurrent writer makes
it match no row instead of being overwritten.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from troubleticket.store.cursor import assemble_page
from troubleticket.store.port import (
    CHILDREN,
    Collection,
    CounterChange,
    DuplicateId,
    ListQuery,
    Page,
    Stored,
    StoreUnavailable,
    Write,
)
from troubleticket.store.query import Filter, SortKey, values_at
from troubleticket.store.sqlite.connections import Connections
from troubleticket.store.sqlite.layout import CHILD_TABLES, LAYOUTS, TABLES, create_tables
from troubleticket.store.sqlite.query import PARTY_ID_PATH, ListPlan, where_clause
from troubleticket.types import JSON

# What a power cut may lose the last commits of without harm: it can be derived again
# (Connections.transaction, relaxed).
# Counts of listings kept per connection (see SqliteStore._count).
_COUNTS_KEPT = 256
# (count statement, its parameters) -> (count, (data_version, commits) when counted)
_Counts = dict[tuple[str, tuple[Any, ...]], tuple[int, tuple[int, int]]]
_REDERIVABLE = frozenset({Collection.DELIVERY, Collection.EVENT})


def _writable(collection: Collection) -> None:
    if collection in CHILDREN:
        raise ValueError(f"{collection.value} is written only through its parent document")


def _dumps(doc: JSON) -> str:
    # orjson: several times the standard library's speed, the same compact JSON text; what it
    # cannot write (an integer beyond 64 bits, kept from before requests refused them) the
    # standard library does
    try:
        return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # an integer beyond 64 bits: see _dumps
        return json.loads(text)


def _event_rows(events: Sequence[JSON]) -> list[tuple[str, str]]:
    return [(event["id"], _dumps(event)) for event in events]


class SqliteStore:
    """Store port on a SQLite database file."""

    inline_reads = True  # a read by id is a B-tree lookup in this process

    def __init__(self, path: str | Path, *, group_commit: bool = True) -> None:
        """``group_commit=False`` commits each write alone (to measure what grouping gains)."""
        self._db = Connections(path, group_commit=group_commit)
        with self._db.transaction() as conn:
            create_tables(conn)
        schema = resources.files("troubleticket.store").joinpath("schema.sql").read_text()
        # executescript manages its own transaction; every statement in it is idempotent.
        self._db.connection().executescript(schema)
        # Planner statistics, so that of two indexes on status the one that also gives the
        # requested order is chosen (SQLite's advice for long-lived connections; the limit
        # keeps it to milliseconds even at a million tickets).
        self._db.connection().execute("PRAGMA analysis_limit=400")
        self._db.connection().execute("PRAGMA optimize=0x10002")

    def _transaction(self, collection: Collection) -> AbstractContextManager[sqlite3.Connection]:
        return self._db.transaction(relaxed=collection in _REDERIVABLE)

    def insert(self, collection: Collection, doc: JSON, *, events: Sequence[JSON] = ()) -> Stored:
        self._insert_all(collection, [Stored(doc, 1)], events)
        return Stored(doc, 1)

    def insert_many(self, collection: Collection, docs: Iterable[JSON]) -> int:
        return self.restore(collection, (Stored(doc, 1) for doc in docs))

    def restore(
        self,
        collection: Collection,
        items: Iterable[Stored],
        *,
        counters: Sequence[CounterChange] = (),
    ) -> int:
        return self._insert_all(collection, items, (), counters)

    def _insert_all(
        self,
        collection: Collection,
        items: Iterable[Stored],
        events: Sequence[JSON],
        counters: Sequence[CounterChange] = (),
    ) -> int:
        _writable(collection)
        count = 0
        # Encoded before the write lock is taken: the lock is held for SQLite's work only.
        encoded = [(item, _dumps(item.doc)) for item in items]
        recorded = _event_rows(events)
        try:
            with self._transaction(collection) as conn:
                for item, text in encoded:
                    self._insert_row(conn, collection, item, text)
                    count += 1
                self._record_events(conn, recorded)
                self._move_counters(conn, counters)
        except sqlite3.IntegrityError as exc:
            raise DuplicateId(str(exc)) from exc
        return count

    def _insert_row(
        self, conn: sqlite3.Connection, collection: Collection, item: Stored, text: str
    ) -> None:
        doc = item.doc
        cursor = conn.execute(
            f"INSERT INTO {TABLES[collection]} (id, version, doc) VALUES (?, ?, ?)",
            (doc["id"], item.version, text),
        )
        self._index_parties(conn, collection, cursor.lastrowid, doc, replacing=False)
        self._index_children(conn, collection, cursor.lastrowid, doc, item.version)

    @staticmethod
    def _record_events(conn: sqlite3.Connection, rows: list[tuple[str, str]]) -> None:
        # In the transaction of the change itself: the events commit with it, or not at all.
        conn.executemany(
            f"INSERT INTO {TABLES[Collection.EVENT]} (id, version, doc) VALUES (?, 1, ?)", rows
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
        side = LAYOUTS[collection].party_ids
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
        for child_table, parent_table, attribute in CHILD_TABLES.values():
            if parent_table != TABLES[collection] or seq is None:
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
            self._db.connection()
            .execute(f"SELECT doc, version FROM {TABLES[collection]} WHERE id = ?", (doc_id,))
            .fetchone()
        )
        return Stored(_loads(row[0]), row[1]) if row else None

    def scan(self, collection: Collection) -> Iterator[Stored]:
        # A connection of its own, so the read transaction (one consistent snapshot, thanks to
        # WAL, while writers go on) spans the whole walk whatever else this thread does.
        conn = self._db.connect()
        try:
            conn.execute("BEGIN")
            rows = conn.execute(f"SELECT doc, version FROM {TABLES[collection]} ORDER BY seq")
            while batch := rows.fetchmany(500):
                for doc, version in batch:
                    yield Stored(_loads(doc), version)
        finally:
            conn.close()

    def list(self, collection: Collection, query: ListQuery) -> Page:
        if collection in CHILDREN and not query.sort:
            # children are listed by id, across their parents (CHILDREN)
            query = replace(query, sort=(SortKey(("id",)),))
        plan = ListPlan.build(LAYOUTS[collection], query)
        limit, offset = query.limit, query.offset
        conn = self._db.connection()
        # One read transaction so the count and the page agree with each other.
        conn.execute("BEGIN")
        try:
            # limit=0 asks for the count alone; the first read fixes the transaction's snapshot.
            rows = conn.execute(*plan.page_sql(limit, offset)).fetchall() if limit else []
            total = self._count(conn, plan, started=bool(limit)) if query.count else None
        finally:
            conn.execute("COMMIT")
        return assemble_page(
            [(_loads(row[0]), list(row[1:])) for row in rows],
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
        layout = LAYOUTS[collection]
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
        rows = self._db.connection().execute(sql, [*key_params, *params]).fetchall()
        return {tuple(row[:-1]): row[-1] for row in rows if row[-1]}

    def _count(self, conn: sqlite3.Connection, plan: ListPlan, *, started: bool) -> int:
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
        state = (conn.execute("PRAGMA data_version").fetchone()[0], self._db.commits)
        sql, params = plan.count_sql()
        key = (sql, tuple(params))
        kept: tuple[sqlite3.Connection, _Counts] | None = getattr(self._db.local, "counts", None)
        if kept is None or kept[0] is not conn:
            kept = self._db.local.counts = (conn, {})
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
        plan = ListPlan.build(LAYOUTS[collection], query)
        conn = self._db.connection()
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
        (written,) = self.write(collection, [Write(doc, expected_version, events)])
        return written

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
            return self._delete_row(conn, collection, doc_id, expected_version, recorded)

    def write(
        self, collection: Collection, writes: Sequence[Write]
    ) -> builtins.list[Stored | None]:
        _writable(collection)
        # Encoded before the write lock is taken: the lock is held for SQLite's work only.
        encoded = [(w, None if w.delete else _dumps(w.doc), _event_rows(w.events)) for w in writes]
        written: builtins.list[Stored | None] = []
        try:
            with self._transaction(collection) as conn:
                for w, text, recorded in encoded:
                    done: Stored | None
                    if w.delete:
                        gone = self._delete_row(
                            conn, collection, w.doc["id"], w.expected_version, recorded
                        )
                        done = Stored(w.doc, (w.expected_version or 0) + 1) if gone else None
                    elif w.expected_version is None:
                        assert text is not None
                        self._insert_row(conn, collection, Stored(w.doc, 1), text)
                        self._record_events(conn, recorded)
                        done = Stored(w.doc, 1)
                    else:
                        assert text is not None
                        done = self._replace_row(
                            conn, collection, w.doc, w.expected_version, text, recorded
                        )
                    if done is not None:
                        self._move_counters(conn, w.counters)
                    written.append(done)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            raise DuplicateId(str(exc)) from exc
        return written

    def _replace_row(
        self,
        conn: sqlite3.Connection,
        collection: Collection,
        doc: JSON,
        expected_version: int,
        text: str,
        recorded: builtins.list[tuple[str, str]],
    ) -> Stored | None:
        row = conn.execute(
            f"UPDATE {TABLES[collection]} SET doc = ?, version = version + 1 "
            "WHERE id = ? AND version = ? RETURNING seq",
            (text, doc["id"], expected_version),
        ).fetchone()
        if row is None:
            return None
        self._index_parties(conn, collection, row[0], doc)
        self._index_children(conn, collection, row[0], doc, expected_version + 1)
        self._record_events(conn, recorded)
        return Stored(doc, expected_version + 1)

    def _delete_row(
        self,
        conn: sqlite3.Connection,
        collection: Collection,
        doc_id: str,
        expected_version: int | None,
        recorded: builtins.list[tuple[str, str]],
    ) -> bool:
        cursor = conn.execute(
            f"DELETE FROM {TABLES[collection]} WHERE id = ? AND (? IS NULL OR version = ?)",
            (doc_id, expected_version, expected_version),
        )
        if cursor.rowcount != 1:
            return False
        self._record_events(conn, recorded)
        return True

    @staticmethod
    def _move_counters(conn: sqlite3.Connection, changes: Sequence[CounterChange]) -> None:
        for change in changes:
            conn.execute(
                "INSERT INTO counter (key, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT (key, name) DO UPDATE SET value = value + excluded.value",
                (change.key, change.name, change.delta),
            )
            conn.execute(
                "DELETE FROM counter WHERE key = ? AND name = ? AND value = 0",
                (change.key, change.name),
            )

    def counters(self, key: str) -> dict[str, int]:
        rows = self._db.connection().execute(
            "SELECT name, value FROM counter WHERE key = ?", (key,)
        )
        return dict(rows.fetchall())

    def count_counters(self, key: str) -> int:
        row = (
            self._db.connection()
            .execute("SELECT count(*) FROM counter WHERE key = ? AND value > 0", (key,))
            .fetchone()
        )
        return int(row[0])

    def check(self) -> None:
        try:
            self._db.connection().execute("SELECT 1 FROM trouble_ticket LIMIT 1").fetchall()
            if not self._db.in_memory:
                # the write lock, taken and given back on a connection of its own: another
                # process holding it for long makes this fail after 2 s, not hang
                probe = sqlite3.connect(self._db.path, timeout=2, isolation_level=None)
                try:
                    probe.execute("BEGIN IMMEDIATE")
                    probe.execute("ROLLBACK")
                finally:
                    probe.close()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"The SQLite store cannot be written: {exc}") from None

    def close(self) -> None:
        self._db.close()
