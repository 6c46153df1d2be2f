"""Run one piece of work per input on its own thread, all released together."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
TIMEOUT_S = 60.0


def run_together(work: Callable[[T], object], inputs: Sequence[T]) -> None:
    """Call ``work(item)`` for every item on a thread of its own, released at the same instant;
    what it returns is dropped.

    Fails if a thread is still running after the timeout; re-raises the first error a thread hit.
    """
    start = threading.Barrier(len(inputs))
    errors: list[BaseException] = []

    def run(item: T) -> None:
        try:
            start.wait(timeout=TIMEOUT_S)
            work(item)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(item,)) for item in inputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT_S)
    assert not [thread for thread in threads if thread.is_alive()], "threads did not finish"
    if errors:
        raise errors[0]
