"""The SQLite store: the embedded, zero-setup default (stdlib ``sqlite3``)."""

from __future__ import annotations

from troubleticket.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
