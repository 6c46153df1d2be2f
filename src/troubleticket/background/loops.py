"""Background loops: the dispatcher and the SLA monitor, in threads of the server or a worker."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

Step = Callable[[], int]

# A loop counts as stuck when its last pass began longer ago than this many intervals, plus a
# minute (a pass over a large backlog may take that long).
STUCK_INTERVALS = 3
STUCK_GRACE_S = 60.0


class Heartbeats:
    """When each running loop last began a pass (for readiness: alive and not stuck)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._beats: dict[str, tuple[float, float]] = {}  # name -> (last pass, interval)

    def beat(self, name: str, interval: float) -> None:
        with self._lock:
            self._beats[name] = (self._clock(), interval)

    def forget(self, name: str) -> None:
        with self._lock:
            self._beats.pop(name, None)

    def ages(self) -> dict[str, tuple[float, bool]]:
        """Each running loop: seconds since its last pass began, and whether it is stuck."""
        now = self._clock()
        with self._lock:
            beats = dict(self._beats)
        return {
            name: (now - last, now - last > interval * STUCK_INTERVALS + STUCK_GRACE_S)
            for name, (last, interval) in beats.items()
        }


def repeat(
    step: Step,
    stop: threading.Event,
    wake: threading.Event,
    interval: float,
    beat: Callable[[], None] | None = None,
) -> None:
    """Run ``step`` until ``stop``; after a step that found nothing to do, wait for ``wake`` or
    ``interval``. A failing step (a store outage, say) is logged and tried again later. ``beat``
    is called as each pass begins."""
    while not stop.is_set():
        if beat is not None:
            beat()
        try:
            busy = step()
        except Exception:
            logger.exception("background step %s failed", getattr(step, "__qualname__", step))
            busy = 0
        if not busy:
            wake.wait(interval)
        wake.clear()


def start(
    step: Step,
    wake: threading.Event,
    interval: float,
    name: str,
    heartbeats: Heartbeats | None = None,
) -> Callable[[], None]:
    """Run ``repeat(step, …)`` in a daemon thread; returns the function that stops it. With
    ``heartbeats`` the loop's passes are recorded there under ``name`` while it runs."""
    stop = threading.Event()
    beat = (lambda: heartbeats.beat(name, interval)) if heartbeats is not None else None
    thread = threading.Thread(
        target=repeat, args=(step, stop, wake, interval, beat), name=name, daemon=True
    )
    thread.start()

    def halt() -> None:
        stop.set()
        wake.set()
        thread.join(timeout=30)
        if heartbeats is not None:
            heartbeats.forget(name)

    return halt
