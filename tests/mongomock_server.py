"""An in-memory MongoDB server for tests: mongomock with the data lifetime of a real server."""

from __future__ import annotations

from collections.abc import Callable

import mongomock_ng
from mongomock_ng.store import ServerStore


class _Client(mongomock_ng.MongoClient):  # type: ignore[misc]
    def close(self) -> None:
        # mongomock's close() also empties the server it belongs to; a real client's close()
        # only ends its own connections, and the data stays on the server.
        self._closed = True


def in_memory_server() -> Callable[[], mongomock_ng.MongoClient]:
    """A connect function: each call is a new client of one in-memory server."""
    server = ServerStore()
    return lambda: _Client(_store=server)
