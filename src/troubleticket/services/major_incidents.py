"""Major incidents in the ticket use cases: what a ticket write asks of its parent and children.

``domain.major_incident`` holds the rules; this module reads what they need from the store (the
parent a link names, the open major incidents a new ticket may belong to, a parent's counters)
and turns a change into the counter moves the store applies in the change's own write.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from troubleticket.context import Context
from troubleticket.domain import major_incident as mi
from troubleticket.domain.major_incident import MajorIncidentPolicy
from troubleticket.store.port import Collection, CounterChange, ListQuery, Store
from troubleticket.store.query import AnyOf, Comparison, Filter, Op
from troubleticket.types import JSON, Clock

# At most this many open major incidents are looked at by correlation (the oldest first).
CANDIDATES = 1000
# How long the open major incidents read for correlation are used again. A create looks them up
# (a fifth of a POST's time when read every time); they change rarely, a write of one in this
# process forgets them at once, and one declared by another process is seen within this.
CANDIDATES_TTL_S = 1.0

OPEN_MAJOR_INCIDENTS = Filter(
    (
        AnyOf((Comparison(("ticketType",), Op.EQ, mi.MAJOR_INCIDENT),)),
        AnyOf(tuple(Comparison(("status",), Op.EQ, status.value) for status in mi.OPEN)),
    )
)


class MajorIncidents:
    """The ticket service's view of parents and children (``services.rules.Relations``)."""

    def __init__(
        self,
        store: Store,
        policy: MajorIncidentPolicy,
        *,
        clock: Clock,
        href: Callable[[str], str],
        visible: Callable[[JSON, str], bool],
    ) -> None:
        """``href``: a ticket's href by id; ``visible``: whether a party may see a ticket."""
        self._store = store
        self._policy = policy
        self._clock = clock
        self._href = href
        self._visible = visible
        self._candidates: tuple[float, list[JSON]] | None = None

    def open_major_incidents(self) -> list[JSON]:
        """The open major incidents, oldest first (read again after ``CANDIDATES_TTL_S``)."""
        now = time.monotonic()
        kept = self._candidates
        if kept is not None and now - kept[0] < CANDIDATES_TTL_S:
            return kept[1]
        page = self._store.list(
            Collection.TROUBLE_TICKET,
            ListQuery(where=OPEN_MAJOR_INCIDENTS, limit=CANDIDATES, count=False),
        )
        self._candidates = (now, page.items)
        return page.items

    def correlated(self, body: JSON) -> tuple[JSON, bool]:
        """A create request, linked to the open major incident a policy rule matches it with;
        and whether it was (the server's own link, to a parent known to be open)."""
        if not self._policy.correlation or mi.is_major(body) or mi.parent_named(body):
            return body, False
        parent = mi.correlate(self._policy, body, self.open_major_incidents())
        if parent is None:
            return body, False
        return mi.link(body, parent, self._href(str(parent["id"]))), True

    def checked(
        self, before: JSON | None, after: JSON, *, context: Context, correlated: bool
    ) -> JSON:
        """``after`` once the link rules hold, with a cascade record when a major incident
        moves to resolved, closed or cancelled.

        Raises:
            InvalidRequest: a link the rules refuse.
            Conflict: a closed parent, or a major incident with children changing type.
        """
        if mi.is_major(after) or (before is not None and mi.is_major(before)):
            self._candidates = None  # a major incident changes: read them again
        if before is not None and mi.is_major(before) and not mi.is_major(after):
            mi.check_still_major(before, after, self._counts(before["id"]).get("total", 0))
        if mi.link_changed(before, after) and not correlated:
            mi.check_link(after, self._parent(mi.parent_named(after), context))
        if before is not None:
            after = mi.notes_started(before, after)
        if before is not None and mi.is_major(after):
            by = {
                name: value
                for name, value in (
                    ("actor", context.actor),
                    ("scope", context.scope),
                    ("requestId", context.request_id),
                )
                if value is not None
            }
            after = mi.cascade_started(
                before, after, self._clock(), counts=self._counts(after["id"]), by=by
            )
        return after

    def _parent(self, parent_id: str | None, context: Context) -> JSON | None:
        if parent_id is None:
            return None
        stored = self._store.get(Collection.TROUBLE_TICKET, parent_id)
        if stored is None:
            return None
        party = context.party_id
        if party is not None and not self._visible(stored.doc, party):
            return None  # a partner links only to what it may read
        return stored.doc

    @staticmethod
    def counters(before: JSON | None, after: JSON | None) -> list[CounterChange]:
        return [CounterChange(*change) for change in mi.counter_changes(before, after)]

    def _counts(self, parent_id: str) -> dict[str, int]:
        return self._store.counters(mi.rollup_key(parent_id))

    def summary(self, parent_id: str) -> JSON:
        """The live rollup of a parent's children."""
        affected = self._store.count_counters(mi.customers_key(parent_id))
        return mi.child_summary(self._counts(parent_id), affected)

    def shown(self, doc: JSON) -> JSON:
        """A presented ticket with its live rollup and cascade progress (a major incident); any
        other ticket as it is."""
        if not mi.is_major(doc) or "id" not in doc:
            return doc
        counts = self._counts(doc["id"])
        affected = self._store.count_counters(mi.customers_key(doc["id"]))
        shown = {**doc, mi.SUMMARY: mi.child_summary(counts, affected)}
        cascade = doc.get(mi.CASCADE)
        if isinstance(cascade, dict):
            shown[mi.CASCADE] = mi.shown_cascade(cascade, counts)
        return shown

    def check_delete(self, current: JSON) -> None:
        """
        Raises:
            Conflict: a major incident with children.
        """
        if mi.is_major(current):
            mi.check_deletable(current, self._counts(current["id"]).get("total", 0))
