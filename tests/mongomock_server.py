"""An in-memory MongoDB server for tests: mongomock with the data lifetime of a real server.

mongomock keeps its data in plain dicts and lists, which threads may not change while another
iterates them; a real server serializes its own work. So every collection operation and cursor
step here runs under one lock, and concurrent tests see a server, not a data race of the fake.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import mongomock_ng
from mongomock_ng.collection import Collection, Cursor
from mongomock_ng.store import ServerStore

_LOCK = threading.RLock()


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return call


for _name, _member in list(vars(Collection).items()):
    if callable(_member) and not _name.startswith("_"):
        setattr(Collection, _name, _serialized(_member))
for _name in ("__next__", "next"):
    setattr(Cursor, _name, _serialized(getattr(Cursor, _name)))


if TYPE_CHECKING:
    # mongomock's type information presents its client as pymongo's, generic in the document type
    _FakeClient = mongomock_ng.MongoClient[dict[str, Any]]
else:
    _FakeClient = mongomock_ng.MongoClient


class _Client(_FakeClient):
    def close(self) -> None:
        # mongomock's close() also empties the server it belongs to; a real client's close()
        # only ends its own connections, and the data stays on the server.
        self._closed = True


def in_memory_server() -> Callable[[], Any]:
    """A connect function: each call is a new client of one in-memory server."""
    server = ServerStore()
    return lambda: _Client(_store=server)
