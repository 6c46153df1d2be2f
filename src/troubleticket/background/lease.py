"""One process at a time runs the background loops: a lease in the store.

With ``serve --workers N`` every worker process serves requests, but the dispatcher, the SLA
monitor and the partner links must not run N times over: deliveries are claimed one by one
anyway, but N monitors would refresh each due ticket N times and N dispatchers poll N times.
The workers compete for one lease document (``Collection.LEASE``): the holder renews it every
third of its term and runs the loops; the others try again as often. When the holder stops (or
dies: its lease runs out after ``term`` seconds) another takes over.

Taking and renewing are compare-and-set writes on the lease's version, so two processes never
both believe they hold it — except across the boundary of an expiry, where the old holder may
still be finishing a pass while the new one starts; every background write is itself a
compare-and-set, so that overlap costs a wasted attempt, never a double effect.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from troubleticket.domain.documents import timestamp
from troubleticket.store.port import Collection, DuplicateId, Store
from troubleticket.types import Clock

logger = logging.getLogger(__name__)

LEASE_TERM = 15.0  # seconds a lease lasts unless renewed


def instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


class Lease:
    """The lease ``name`` as seen by ``holder``."""

    def __init__(
        self, store: Store, name: str, holder: str, *, clock: Clock, term: float = LEASE_TERM
    ) -> None:
        self._store = store
        self.name = name
        self.holder = holder
        self._clock = clock
        self.term = term

    def _doc(self, until: datetime) -> dict[str, str]:
        return {"id": self.name, "@type": "Lease", "holder": self.holder, "until": timestamp(until)}

    def hold(self) -> bool:
        """Take the lease if it is free or expired, renew it if held here; whether it is ours."""
        now = self._clock()
        until = now + timedelta(seconds=self.term)
        stored = self._store.get(Collection.LEASE, self.name)
        if stored is None:
            try:
                self._store.insert(Collection.LEASE, self._doc(until))
            except DuplicateId:
                return False  # another process took it first
            return True
        doc = stored.doc
        if doc.get("holder") != self.holder and instant(str(doc["until"])) > now:
            return False
        renewed = self._store.replace(
            Collection.LEASE, self._doc(until), expected_version=stored.version
        )
        return renewed is not None

    def release(self) -> None:
        """Give the lease up at once (when held here), so another process need not wait."""
        stored = self._store.get(Collection.LEASE, self.name)
        if stored is not None and stored.doc.get("holder") == self.holder:
            self._store.replace(
                Collection.LEASE, self._doc(self._clock()), expected_version=stored.version
            )

    def holder_now(self) -> str | None:
        """Who holds the lease now (``None``: nobody, or it ran out)."""
        stored = self._store.get(Collection.LEASE, self.name)
        if stored is None or instant(str(stored.doc["until"])) <= self._clock():
            return None
        return str(stored.doc.get("holder"))


def while_held(lease: Lease, start: Callable[[], Callable[[], None]]) -> Callable[[], None]:
    """Run what ``start`` starts only while ``lease`` is held; returns the function that stops.

    A thread takes or renews the lease every third of its term: on taking it calls ``start``
    (which returns the function stopping what it started), on losing it stops that. Stopping
    also gives the lease up.
    """
    stop = threading.Event()
    running: list[Callable[[], None]] = []

    def watch() -> None:
        while not stop.is_set():
            try:
                held = lease.hold()
            except Exception:
                logger.exception("could not renew the lease %s", lease.name)
                held = False
            if held and not running:
                logger.info(
                    "%s took the lease %s: running the background loops", lease.holder, lease.name
                )
                running.append(start())
            elif not held and running:
                logger.warning(
                    "%s lost the lease %s: stopping the background loops", lease.holder, lease.name
                )
                running.pop()()
            stop.wait(lease.term / 3)

    thread = threading.Thread(target=watch, name=f"lease-{lease.name}", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=30)
        if running:
            running.pop()()
        try:
            lease.release()
        except Exception:
            logger.exception("could not give the lease %s up", lease.name)

    return halt
