"""The delivery lanes a dispatcher holds: an even share among the dispatchers alive.

Every process that dispatches (each server process of ``serve --workers N``, each
``troubleticket worker``, on one host or several sharing a MongoDB) keeps a membership lease
``dispatcher:{holder}`` and holds, each under a lease of its own (``lane:{n}``), an even share
of the ``LANES`` lanes (``notify.lanes``): ``ceil(LANES / dispatchers alive)``. It renews them a
third of a term apart; what it holds beyond its share it gives up, so a dispatcher that joins
gets lanes within a term or so; the lanes of one that died are free when their leases run out
(``term`` seconds), and the others take them over. The dispatchers alive are counted every
second, and the lanes shared out again at once when their number changes.

Within a lane, one dispatcher at a time: deliveries of one subscriber and resource are
attempted in order without racing another process for them. Across the boundary of a lease's
expiry two may briefly both act on a lane; each claim is a compare-and-set on the delivery, so
that costs a lost claim, never a double attempt.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from troubleticket.background.lease import LEASE_TERM, Lease, instant
from troubleticket.notify.lanes import LANES
from troubleticket.store.port import Collection, ListQuery, Store
from troubleticket.types import Clock

logger = logging.getLogger(__name__)

MEMBER = "dispatcher:"
LANE = "lane:"
# How often the dispatchers alive are counted between renewals (one listing of the leases).
RECOUNT_SECONDS = 1.0


class LaneLeases:
    """The lanes ``holder`` holds now; calling it renews them when a third of a term has passed."""

    def __init__(
        self,
        store: Store,
        holder: str,
        *,
        clock: Clock,
        term: float = LEASE_TERM,
        lanes: int = LANES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._term = term
        self._monotonic = monotonic
        self._member = Lease(store, f"{MEMBER}{holder}", holder, clock=clock, term=term)
        self._lanes = [
            Lease(store, f"{LANE}{n}", holder, clock=clock, term=term) for n in range(lanes)
        ]
        self._held: frozenset[int] = frozenset()
        self._shared = 0  # the share the last refresh worked to
        self._due = 0.0
        self._recount = 0.0

    def __call__(self) -> frozenset[int]:
        now = self._monotonic()
        try:
            recount = now >= self._recount
            if now >= self._due or (recount and self._share() != self._shared):
                # renew a third of a term apart, and at once when dispatchers come or go
                self.refresh()
                self._due = now + self._term / 3
            elif recount and len(self._held) < self._shared:
                self._take_free()  # lanes another gives up are taken within a second
            if recount:
                self._recount = now + RECOUNT_SECONDS
        except Exception:  # the store is away: keep what we had until the leases lapse
            logger.exception("could not renew the delivery lanes")
            self._due = now + self._term / 3
        return self._held

    def _share(self) -> int:
        return math.ceil(len(self._lanes) / max(1, self.dispatchers()))

    def dispatchers(self) -> int:
        """How many dispatchers hold a live membership lease (this one included)."""
        now = self._clock()
        alive = 0
        after = None
        while True:
            page = self._store.list(
                Collection.LEASE, ListQuery(count=False, limit=500, after=after)
            )
            alive += sum(
                1
                for doc in page.items
                if str(doc["id"]).startswith(MEMBER) and instant(str(doc["until"])) > now
            )
            if page.next_cursor is None or not page.items:
                return alive
            after = page.next_cursor

    def refresh(self) -> frozenset[int]:
        """Renew membership, keep up to an even share of the lanes held, take free ones up to it,
        give up the rest; returns the lanes held."""
        self._member.hold()
        share = self._shared = self._share()
        held: list[int] = []
        for n in sorted(self._held):
            if len(held) < share and self._lanes[n].hold():
                held.append(n)
            elif len(held) >= share:
                self._lanes[n].release()
        self._held = frozenset(held)
        return self._take_free()

    def _take_free(self) -> frozenset[int]:
        """Take free (or lapsed) lanes up to the share; a lane held by another costs a read."""
        held = set(self._held)
        for n, lane in enumerate(self._lanes):
            if len(held) >= self._shared:
                break
            if n not in held and lane.hold():
                held.add(n)
        if held != self._held:
            logger.info("%s delivers lanes %s", self._member.holder, sorted(held))
        self._held = frozenset(held)
        return self._held

    def release(self) -> None:
        """Give every lane and the membership up at once (at shutdown)."""
        for n in sorted(self._held):
            self._lanes[n].release()
        self._held = frozenset()
        self._member.release()
