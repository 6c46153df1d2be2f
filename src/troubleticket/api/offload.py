"""Where a handler runs a service call: the services and stores are synchronous.

A call that may wait (a write's fsync, a list's count over many rows, any network round trip)
runs in a worker thread so the event loop keeps serving other requests. A read by id on an
in-process store takes microseconds, less than the hop to a thread and back costs, so it runs
on the event loop when the store says its reads are inline (``Store.inline_reads``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")


async def read(call: Callable[[], T], *, inline: bool) -> T:
    """The result of ``call``, made here when ``inline``, else in a worker thread."""
    if inline:
        return call()
    return await run_in_threadpool(call)
