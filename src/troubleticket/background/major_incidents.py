"""The background work of major incidents: the cascade from a parent to its open children, and
the announcement of each parent's rollup.

**Cascade.** The parent's own write recorded what to do (``cascade``: the status and reason,
``state: running``). Each pass takes, per running cascade, a batch of the parent's open
children in insertion order and moves each one where the parent went, through the ticket rules,
with its own history entry, audit record (naming who changed the parent, and that request) and
events, in one transaction for the batch; the same write counts the child under the cascade's
counter, which the parent shows as ``done``. Nothing else is kept: a child moved is no longer
open, so after a crash at any point the next pass finds exactly the children not yet moved,
none twice and none skipped. A child changed by its customer meanwhile loses its place in that
batch's transaction and is read again in the next. A child the rules refuse to move (a mandatory
recovery activity still open, say) keeps its status, is marked so this cascade passes it by,
and is counted under ``refused``. When no open child is left, the cascade is completed on the
parent. Any number of processes may run passes at once: the compare-and-set on each child makes
one of them move it.

**Rollup announcements.** A parent's ``childSummary`` is read live from its counters; its
change event is coalesced: each pass (every ``rollupInterval``) writes, per major incident whose
rollup differs from the one last announced, the new one into the parent, which raises one
``TroubleTicketAttributeValueChangeEvent``: at most one per parent per interval however many
children changed.
"""

from __future__ import annotations

import logging
from typing import Any

from troubleticket.context import Context
from troubleticket.domain import major_incident as mi
from troubleticket.domain.errors import TroubleTicketError
from troubleticket.domain.lifecycle import TicketStatus
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.services.major_incidents import MajorIncidents
from troubleticket.services.resources import BatchChange, ResourceService
from troubleticket.store.port import Collection, CounterChange, ListQuery, Store
from troubleticket.store.query import AnyOf, Comparison, Filter, Op
from troubleticket.types import JSON, Clock

logger = logging.getLogger(__name__)

_MAJOR = AnyOf((Comparison(("ticketType",), Op.EQ, mi.MAJOR_INCIDENT),))
RUNNING_CASCADES = Filter((_MAJOR, AnyOf((Comparison((mi.CASCADE, "state"), Op.EQ, "running"),))))
PENDING_NOTES = Filter((_MAJOR, AnyOf((Comparison((mi.NOTE_CASCADES, "note"), Op.REGEX, "."),))))
# The major incidents whose children may still change: not closed or cancelled.
LIVE_MAJOR_INCIDENTS = Filter(
    (
        _MAJOR,
        AnyOf(
            tuple(
                Comparison(("status",), Op.EQ, status.value)
                for status in (*sorted(mi.OPEN), TicketStatus.RESOLVED)
            )
        ),
    )
)


def _open_children(parent_id: str) -> Filter:
    return Filter(
        (
            AnyOf((Comparison((mi.PARENT,), Op.EQ, parent_id),)),
            AnyOf(tuple(Comparison(("status",), Op.EQ, s.value) for s in sorted(mi.OPEN))),
        )
    )


def cascade_context(parent: JSON) -> Context:
    """Who the cascade acts for: whoever changed the parent, in that request."""
    by = parent.get(mi.CASCADE_BY)
    by = by if isinstance(by, dict) else {}
    actor = by.get("actor")
    return Context(
        actor=actor if isinstance(actor, str) else "system:major-incident-cascade",
        scope=by.get("scope") if isinstance(by.get("scope"), str) else None,
        request_id=by.get("requestId") if isinstance(by.get("requestId"), str) else None,
    )


class CascadeRunner:
    def __init__(
        self,
        store: Store,
        tickets: ResourceService,
        managed: ManagedTicket,
        *,
        clock: Clock,
    ) -> None:
        self._store = store
        self._tickets = tickets
        self._managed = managed
        self._clock = clock
        self._batch = managed.policy.major_incident.cascade_batch

    def run_once(self) -> int:
        """One batch of each running cascade, and of each note being copied to the children;
        returns how many children it looked at."""
        running = self._store.list(
            Collection.TROUBLE_TICKET, ListQuery(where=RUNNING_CASCADES, limit=100, count=False)
        )
        looked = sum(self._step(parent) for parent in running.items)
        noting = self._store.list(
            Collection.TROUBLE_TICKET, ListQuery(where=PENDING_NOTES, limit=100, count=False)
        )
        return looked + sum(self._note_step(parent) for parent in noting.items)

    def _note_step(self, parent: JSON) -> int:
        """Copy the parent's first pending note to a batch of its open children, then move
        the parent's position on (or drop the note when none is left). A copy names the parent
        and the note, so a batch done again after a crash adds nothing twice."""
        pending = parent[mi.NOTE_CASCADES][0]
        note = mi.parent_note(parent, str(pending["note"]))
        page = None
        if note is not None:
            page = self._store.list(
                Collection.TROUBLE_TICKET,
                ListQuery(
                    where=_open_children(parent["id"]),
                    limit=self._batch,
                    after=pending.get("after"),
                    count=False,
                ),
            )
            context = cascade_context(parent)

            def copy(child: JSON) -> tuple[JSON, list[CounterChange]]:
                return mi.with_parent_note(child, parent["id"], note), []

            changes: list[tuple[str, BatchChange]] = [(c["id"], copy) for c in page.items]
            self._tickets.update_batch(changes, context=context)
        cursor = None if page is None else page.next_cursor

        def moved_on(current: JSON) -> JSON:
            notes = list(current.get(mi.NOTE_CASCADES) or [])
            if not notes or notes[0].get("note") != pending["note"]:
                return current
            rest = notes[1:] if cursor is None else [{**notes[0], "after": cursor}, *notes[1:]]
            updated = {**current, mi.NOTE_CASCADES: rest}
            if not rest:
                del updated[mi.NOTE_CASCADES]
            return updated

        self._tickets.update(parent["id"], moved_on, context=_SERVER)
        return 0 if page is None else len(page.items)

    def _step(self, parent: JSON) -> int:
        cascade = parent[mi.CASCADE]
        children = self._batch_of(parent["id"], str(cascade["id"]))
        if not children:
            self._finish(parent["id"], str(cascade["id"]))
            return 0
        key = mi.rollup_key(parent["id"])
        context = cascade_context(parent)

        def change(child: JSON) -> tuple[JSON, list[CounterChange]]:
            if not mi.is_open(child) or child.get(mi.PARENT) != parent["id"]:
                return child, []  # moved or detached since it was listed
            if child.get(mi.REFUSED) == cascade["id"]:
                return child, []
            steps = mi.cascade_steps(child, cascade, parent["id"])
            try:
                moved = self._managed.patch_through(
                    child, steps, now=self._clock(), context=context
                )
            except TroubleTicketError as refusal:
                logger.info(
                    "cascade %s of major incident %s leaves ticket %s %s: %s",
                    cascade["id"],
                    parent["id"],
                    child["id"],
                    child.get("status"),
                    refusal.message,
                )
                marked = {**child, mi.REFUSED: cascade["id"]}
                return marked, [CounterChange(key, mi.refused_counter(cascade), 1)]
            return moved, [CounterChange(key, mi.cascaded_counter(cascade), 1)]

        changes: list[tuple[str, BatchChange]] = [(c["id"], change) for c in children]
        self._tickets.update_batch(changes, context=context)
        return len(children)

    def _batch_of(self, parent_id: str, cascade_id: str) -> list[JSON]:
        """The next open children this cascade has not passed by (insertion order)."""
        found: list[JSON] = []
        after: str | None = None
        while len(found) < self._batch:
            page = self._store.list(
                Collection.TROUBLE_TICKET,
                ListQuery(
                    where=_open_children(parent_id), limit=self._batch, after=after, count=False
                ),
            )
            found += [c for c in page.items if c.get(mi.REFUSED) != cascade_id]
            if page.next_cursor is None:
                break
            after = page.next_cursor
        return found[: self._batch]

    def _finish(self, parent_id: str, cascade_id: str) -> None:
        key = mi.rollup_key(parent_id)

        def finished(parent: JSON) -> JSON:
            cascade = parent.get(mi.CASCADE)
            if not isinstance(cascade, dict) or cascade.get("id") != cascade_id:
                return parent
            if cascade.get("state") != "running":
                return parent
            return mi.cascade_finished(parent, self._store.counters(key), self._clock())

        self._tickets.update(parent_id, finished, context=_SERVER)


_SERVER = Context(actor="system:major-incident-cascade")


class RollupAnnouncer:
    def __init__(self, store: Store, tickets: ResourceService, relations: MajorIncidents) -> None:
        self._store = store
        self._tickets = tickets
        self._relations = relations

    def run_once(self) -> int:
        """A pass as a background loop runs it: never busy, so the next pass waits the
        interval (what bounds the events)."""
        self.announce_changed()
        return 0

    def announce_changed(self) -> int:
        """Announce each rollup that changed since it was last announced; returns how many."""
        announced = 0
        after: str | None = None
        while True:
            page = self._store.list(
                Collection.TROUBLE_TICKET,
                ListQuery(where=LIVE_MAJOR_INCIDENTS, limit=200, after=after, count=False),
            )
            for parent in page.items:
                announced += self._announce(parent)
            if page.next_cursor is None:
                return announced
            after = page.next_cursor

    def _announce(self, parent: JSON) -> int:
        summary = self._relations.summary(parent["id"])
        if parent.get(mi.SUMMARY) == summary:
            return 0

        def announce(current: JSON) -> Any:
            return {**current, mi.SUMMARY: self._relations.summary(current["id"])}

        self._tickets.update(parent["id"], announce, context=_SERVER)
        return 1
