"""The ticket use cases as the TMF621 v4 root offers them: the v5 service, in the v4 form.

Every request goes through the same ``ResourceService`` as at the v5 root, with the caller's
context, so the lifecycle, the service policy, partner isolation, limits and the audit trail
apply exactly as there; only the shapes are translated (``domain.v4``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from troubleticket.context import Context
from troubleticket.domain import v4
from troubleticket.domain.errors import Conflict, InvalidRequest, PreconditionFailed
from troubleticket.services.patch_formats import MERGE_PATCH
from troubleticket.services.resources import MAX_WRITE_ATTEMPTS, ResourceService
from troubleticket.services.rules import VersionCondition
from troubleticket.store.port import ListQuery, Page, Stored
from troubleticket.types import JSON


def _shown(stored: Stored) -> Stored:
    return Stored(v4.ticket_v4(stored.doc), stored.version)


class V4Tickets:
    """Create, read, list, change and delete tickets in their TMF621 v4 form."""

    def __init__(self, tickets: ResourceService) -> None:
        self._tickets = tickets
        # this server's public base URL: the hrefs of its tickets move between the roots
        self._base = v4.base_of(tickets.href(""))

    def create(self, body: JSON, *, context: Context) -> Stored:
        """Raises: what ``ResourceService.create`` raises."""
        converted = v4.create_v5(body, base=self._base)
        return _shown(self._tickets.create(converted, context=context))

    def get(self, ticket_id: str, *, context: Context) -> Stored:
        """Raises: NotFound (no such ticket the context may see)."""
        return _shown(self._tickets.get(ticket_id, context=context))

    def list(self, query: ListQuery, *, context: Context) -> Page:
        page = self._tickets.list(query, context=context)
        return replace(page, items=[v4.ticket_v4(doc) for doc in page.items])

    def patch(
        self,
        ticket_id: str,
        patch: Any,
        *,
        if_match: VersionCondition | None,
        context: Context,
    ) -> Stored:
        """Apply a v4 partial update: its attributes replace the current ones (``null``
        removes one), what v4 does not carry is kept.

        The update is translated against the version just read and written only onto that
        version; when another write landed in between it is translated again.

        Raises:
            InvalidRequest: the body is not an object.
            NotFound, PreconditionFailed, TroubleTicketError: as ``ResourceService.patch``.
            Conflict: the ticket kept changing under the update.
        """
        if not isinstance(patch, dict):
            raise InvalidRequest("A TMF621 v4 update is a JSON object (TroubleTicket_Update)")
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = self._tickets.get(ticket_id, context=context)
            if if_match is not None and not if_match(current.version):
                raise PreconditionFailed(
                    f"troubleTicket {ticket_id} is at version {current.version}, which the "
                    "If-Match condition does not name"
                )
            merge = v4.patch_v5(current.doc, patch)
            try:
                patched = self._tickets.patch(
                    ticket_id,
                    merge,
                    media_type=MERGE_PATCH,
                    if_match=_exactly(current.version),
                    context=context,
                )
            except PreconditionFailed:
                continue  # written in between: translate against the newer version
            return _shown(patched)
        raise Conflict(f"troubleTicket {ticket_id} kept changing; send the update again")

    def delete(
        self, ticket_id: str, *, if_match: VersionCondition | None, context: Context
    ) -> None:
        self._tickets.delete(ticket_id, if_match=if_match, context=context)


def _exactly(version: int) -> VersionCondition:
    return lambda current: current == version
