"""ActivityService: the use cases of recovery activities, a ticket's sub-resource.

An activity lives in its ticket's document, so every write is a write of the ticket through the
ticket service's ``update``: the aggregate's rules (``ManagedTicket``) run on the ticket as just
read, the compare-and-set write carries the activity's events and the ticket's (its rollup, an
alert), and a concurrent writer makes the whole change run again on the newer ticket. Reads by
id alone and listings across tickets use the store's index of the activities (``CHILDREN``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

from troubleticket.context import Context
from troubleticket.domain.activity import party_id
from troubleticket.domain.coordination import find
from troubleticket.domain.errors import NotFound, PreconditionFailed
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.services.patch_formats import MERGE_PATCH, as_merge_patch
from troubleticket.services.resources import ResourceService
from troubleticket.services.rules import VersionCondition
from troubleticket.store.port import Collection, DuplicateId, ListQuery, Page, Store, Stored
from troubleticket.store.query import AnyOf, Comparison, Filter, Op, SortKey
from troubleticket.types import JSON, Clock, IdFactory

KIND = "recoveryActivity"
ASSIGNEE_PATH = ("assignee", "partyOrPartyRole", "id")


def entity_tag(activity: JSON) -> str:
    """A strong entity tag of an activity as shown: a digest of its content."""
    text = json.dumps(activity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class ActivityService:
    def __init__(
        self,
        tickets: ResourceService,
        store: Store,
        *,
        managed: ManagedTicket,
        clock: Clock,
        new_id: IdFactory,
    ) -> None:
        self._tickets = tickets
        self._store = store
        self._managed = managed
        self._clock = clock
        self._new_id = new_id
        self.inline_reads: bool = tickets.inline_reads

    def _shown(self, ticket: JSON, activity_id: str) -> JSON:
        return self._tickets.present_child(find(ticket, activity_id))

    def create(self, ticket_id: str, body: JSON, *, context: Context) -> JSON:
        """Add an activity to a ticket; the activity as shown.

        Raises:
            NotFound: there is no such ticket.
            TroubleTicketError: the request breaks a rule of the activity or the ticket.
        """
        while True:
            activity_id = self._new_id()
            try:
                stored = self._add(ticket_id, body, activity_id, context)
            except DuplicateId:
                continue  # another ticket's activity has that id: draw another
            return self._shown(stored.doc, activity_id)

    def _add(self, ticket_id: str, body: JSON, activity_id: str, context: Context) -> Stored:
        def change(ticket: JSON) -> JSON:
            return self._managed.add_activity(
                ticket, body, activity_id=activity_id, now=self._clock(), context=context
            )

        return self._tickets.update(ticket_id, change, children_first=True, context=context)

    def get(self, ticket_id: str, activity_id: str, *, context: Context) -> JSON:
        """One activity of one ticket, as shown.

        Raises:
            NotFound: no such ticket (that the context's party may see), or no such activity.
        """
        return self._shown(self._tickets.read(ticket_id, context=context).doc, activity_id)

    def get_by_id(self, activity_id: str, *, context: Context) -> JSON:
        """One activity by its id alone, as shown (a partner's, when assigned to it).

        Raises:
            NotFound: no activity has that id (that the context's party may see).
        """
        stored = self._store.get(Collection.RECOVERY_ACTIVITY, activity_id)
        if stored is None or (
            context.party_id is not None
            and party_id(stored.doc.get("assignee")) != context.party_id
        ):
            raise NotFound(KIND, activity_id)
        return self._tickets.present_child(stored.doc)

    def list(self, query: ListQuery, *, ticket_id: str | None = None, context: Context) -> Page:
        """One page of the activities ``query`` selects (of one ticket, when given), by id
        unless sorted otherwise. A partner sees those of its tickets, and across tickets those
        assigned to it.

        Raises:
            NotFound: ``ticket_id`` names no ticket (that the context's party may see).
            InvalidRequest: a cursor that was not issued for this sort order.
        """
        if ticket_id is not None:
            self._tickets.read(ticket_id, context=context)
            own = AnyOf((Comparison(("troubleTicket", "id"), Op.EQ, ticket_id),))
            query = replace(query, where=Filter((own, *query.where.groups)))
        elif context.party_id is not None:
            mine = AnyOf((Comparison(ASSIGNEE_PATH, Op.EQ, context.party_id),))
            query = replace(query, where=Filter((mine, *query.where.groups)))
        if not query.sort:
            query = replace(query, sort=(SortKey(("id",)),))
        page = self._store.list(Collection.RECOVERY_ACTIVITY, query)
        return replace(page, items=[self._tickets.present_child(a) for a in page.items])

    def _checked(self, ticket: JSON, activity_id: str, if_match: VersionCondition | None) -> JSON:
        shown = self._shown(ticket, activity_id)
        if if_match is not None and not if_match(entity_tag(shown)):
            raise PreconditionFailed(
                f"Recovery activity {activity_id} has changed since the version the If-Match "
                "condition names"
            )
        return shown

    def patch(
        self,
        ticket_id: str,
        activity_id: str,
        patch: Any,
        *,
        media_type: str = MERGE_PATCH,
        if_match: VersionCondition | None = None,
        context: Context,
    ) -> JSON:
        """Apply a patch in any TMF621 PATCH format to one activity; the activity after it.

        Raises:
            NotFound: no such ticket or activity.
            PreconditionFailed: the activity is not as the If-Match condition names it.
            TroubleTicketError: the patch breaks a rule of the activity or the ticket.
        """

        def change(ticket: JSON) -> JSON:
            shown = self._checked(ticket, activity_id, if_match)
            merge = as_merge_patch(shown, patch, media_type, limits=self._tickets.limits)
            return self._managed.change_activity(
                ticket, activity_id, merge, now=self._clock(), context=context
            )

        stored = self._tickets.update(ticket_id, change, children_first=True, context=context)
        return self._shown(stored.doc, activity_id)

    def delete(
        self,
        ticket_id: str,
        activity_id: str,
        *,
        if_match: VersionCondition | None = None,
        context: Context,
    ) -> None:
        """Remove an activity that has not started.

        Raises:
            NotFound: no such ticket or activity.
            PreconditionFailed: the activity is not as the If-Match condition names it.
            Conflict: it has started, or another activity depends on it.
        """

        def change(ticket: JSON) -> JSON:
            self._checked(ticket, activity_id, if_match)
            return self._managed.remove_activity(ticket, activity_id, now=self._clock())

        self._tickets.update(ticket_id, change, children_first=True, context=context)
