"""The connections of one SQLite database, and its writes committed in groups.

* One connection per thread, opened on first use and reused: connections are never shared
  between threads, and the thread pool that runs store calls stays small and long-lived.
  ``close()`` releases them all; a later call opens fresh ones (an app may start and stop more
  than once).
* ``:memory:`` is a named shared-cache database, so every thread sees the same data.
* WAL journal: readers never block the writer and a crash never leaves a half-written page;
  ``synchronous=FULL``: a write acknowledged survives a power cut.
* Writes of a file database go through one writer connection and are committed in groups
  (``transaction``): one fsync for every writer queued meanwhile, each still acknowledged only
  once the group's commit is on disk.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from troubleticket.store.sqlite.query import register_functions

# Writes committed together at most (see Connections.transaction).
GROUP_MAX = 64


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


class Connections:
    """The database at ``path`` (``:memory:``: one in this process's memory)."""

    def __init__(self, path: str | Path, *, group_commit: bool = True) -> None:
        """``group_commit=False`` commits each write alone (to measure what grouping gains)."""
        self.path = str(path)
        self._group_commit = group_commit
        self._memory_keeper: sqlite3.Connection | None = None
        if self.path == ":memory:":
            # Each plain ":memory:" connection is a private database; a named shared-cache one
            # is seen by every thread's connection and lives while the keeper stays open.
            self.path = f"file:troubleticket-{uuid.uuid4()}?mode=memory&cache=shared"
            self._memory_keeper = sqlite3.connect(self.path, uri=True, check_same_thread=False)
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.commits = 0  # write transactions this process has ended (committed or not)
        self._writer_conn: sqlite3.Connection | None = None
        self._writer_generation = 0
        self._group: _Group | None = None  # the open group transaction of the writer connection
        self._queued = 0  # writers waiting for the write lock
        # close() bumps the generation; a thread holding a connection of an older one reconnects.
        self._generation = 0

    @property
    def in_memory(self) -> bool:
        return self._memory_keeper is not None

    def connect(self, *, timeout: float = 30) -> sqlite3.Connection:
        """A connection of its own for the caller (a long scan, a probe), not kept here."""
        return sqlite3.connect(self.path, uri=self.in_memory, timeout=timeout)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (reads, and writes of an in-memory database)."""
        conn: sqlite3.Connection | None = getattr(self.local, "conn", None)
        if conn is None or self.local.generation != self._generation:
            conn = self._open()
            self.local.generation = self._generation
            self.local.conn = conn
        return conn

    def _writer(self) -> sqlite3.Connection:
        """The connection every write of a file database goes through (under the write lock)."""
        if self._writer_conn is None or self._writer_generation != self._generation:
            self._writer_conn = self._open()
            self._writer_generation = self._generation
        return self._writer_conn

    def _open(self) -> sqlite3.Connection:
        # autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE below.
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=30,
            uri=self.in_memory,
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
    def transaction(self, *, relaxed: bool = False) -> Iterator[sqlite3.Connection]:
        """A write: committed and durable when the block ends, rolled back if it raises.

        Writes of a file database are committed in groups. Writers of this process queue on a
        lock (not in SQLite's busy handler, which sleeps in growing steps); each runs its block
        in a savepoint of the open group transaction, and the last writer in the queue (or the
        ``GROUP_MAX``-th) commits the group: one fsync for all of them. Every writer returns
        only once the group's commit is on disk, so ``synchronous=FULL`` still holds for each
        write; a writer whose block raises has its savepoint rolled back and leaves the others'
        work in the group. IMMEDIATE then only waits for other processes, and a
        read-then-write never deadlocks.

        ``relaxed``: the write is of bookkeeping that can be derived again (deliveries, events
        marked fanned out), which a power cut may lose its last commits of (never a process
        crash, and never a later commit without the earlier ones: the WAL keeps a prefix); it
        skips the sync per commit that every resource write keeps.
        """
        if self.in_memory or not self._group_commit:
            # (in memory there is nothing to sync) one transaction per write
            with self._solo_transaction() as conn:
                yield conn
            return
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
                    self._queued == 0 or open_group.members >= GROUP_MAX
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
        # counts kept may be stale now (SqliteStore's counts)
        self.commits += 1
        if group.relaxed and self._writer_conn is not None:
            with suppress(sqlite3.Error):
                self._writer_conn.execute("PRAGMA synchronous=FULL")
        group.done.set()

    @contextmanager
    def _solo_transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
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
                self.commits += 1

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
