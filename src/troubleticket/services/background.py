"""Background loops: the dispatcher and the SLA monitor, in threads of the server or a worker."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

Step = Callable[[], int]


def repeat(step: Step, stop: threading.Event, wake: threading.Event, interval: float) -> None:
    """Run ``step`` until ``stop``; after a step that found nothing to do, wait for ``wake`` or
    ``interval``. A failing step (a store outage, say) is logged and tried again later."""
    while not stop.is_set():
        try:
            busy = step()
        except Exception:
            logger.exception("background step %s failed", getattr(step, "__qualname__", step))
            busy = 0
        if not busy:
            wake.wait(interval)
        wake.clear()


def start(step: Step, wake: threading.Event, interval: float, name: str) -> Callable[[], None]:
    """Run ``repeat(step, …)`` in a daemon thread; returns the function that stops it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=repeat, args=(step, stop, wake, interval), name=name, daemon=True
    )
    thread.start()

    def halt() -> None:
        stop.set()
        wake.set()
        thread.join(timeout=30)

    return halt
