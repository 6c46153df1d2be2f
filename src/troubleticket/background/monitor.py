"""The SLA monitor: looks at the tickets whose next SLA threshold is due, and only those.

Every ticket under a running clock carries ``slaNextCheck``, the instant its next threshold
(warning or breach) falls due, in an indexed column; a pass reads the tickets at or past it, in
that order, so its cost grows with the tickets due, not with the tickets open. Each is refreshed
through the ticket service — the policy's tick rule, a compare-and-set write, and the alert and
escalation events in the same write — so several processes may run monitors at once: one writes
a crossing, the others find it already raised. After downtime a pass raises what was missed, once
and dated when it happened.
"""

from __future__ import annotations

import logging

from troubleticket.domain.documents import timestamp
from troubleticket.domain.sla import NEXT_CHECK
from troubleticket.services.resources import ResourceService
from troubleticket.store.port import Collection, ListQuery, Store
from troubleticket.store.query import AnyOf, Comparison, Filter, Op, SortKey
from troubleticket.types import Clock

logger = logging.getLogger(__name__)


class SlaMonitor:
    def __init__(
        self, store: Store, tickets: ResourceService, *, clock: Clock, batch: int = 500
    ) -> None:
        self._store = store
        self._tickets = tickets
        self._clock = clock
        self._batch = batch

    def due(self) -> list[str]:
        """Ids of the tickets whose next check is due, earliest first (one batch)."""
        stamp = timestamp(self._clock())
        page = self._store.list(
            Collection.TROUBLE_TICKET,
            ListQuery(
                count=False,
                where=Filter((AnyOf((Comparison((NEXT_CHECK,), Op.LTE, stamp),)),)),
                sort=(SortKey((NEXT_CHECK,)),),
                limit=self._batch,
            ),
        )
        return [doc["id"] for doc in page.items]

    def run_once(self) -> int:
        """Refresh every due ticket of one batch; returns how many it looked at."""
        due = self.due()
        for ticket_id in due:
            self._tickets.refresh(ticket_id)
        return len(due)
