"""The TMF621 version a partner speaks (``api`` in TT_PARTNERS): how each request to it is
written and how its answers are read.

The gateway and the links work in TMF621 v5 — the report body they build, the tickets
``partner_report`` reads. A dialect turns what they send into the partner's form and the
partner's tickets into the v5 form:

* ``V5`` (the default) sends and reads v5 as it is: the lookup by ``externalIdentifier.id``,
  JSON Merge Patch for status changes, JSON Patch appending notes, hubs with ``@type`` and,
  when asked, ``appendEventListenerPath``;
* ``V4`` speaks TMF621 v4 (``domain.v4`` translates): a ``TroubleTicket_Create`` carrying the
  correlation id as ``externalId`` and looked up by it, ``TroubleTicket_Update`` bodies
  (``application/json``: named attributes replace the current ones, so notes are the partner's
  current ones plus ours), and one hub per event type pointing at our v4 listeners.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from troubleticket.domain import v4
from troubleticket.domain.documents import note_key
from troubleticket.domain.events import listener_name
from troubleticket.domain.partners import Partner, PartnerApi
from troubleticket.partners.client import PartnerError
from troubleticket.types import JSON


@dataclass(frozen=True, slots=True)
class Change:
    """A PATCH of a partner's ticket: the body as sent, and its headers (its media type)."""

    data: str
    headers: Mapping[str, str]


class Dialect(Protocol):
    """How requests to a partner are written and its answers read, in one TMF621 version."""

    def search(self, correlation: str) -> dict[str, str | int]:
        """The query of ``GET /troubleTicket`` that finds the partner's ticket carrying our
        correlation id (at most one)."""
        ...

    def create(self, report: JSON) -> JSON:
        """The body of ``POST /troubleTicket`` for the report (a v5 ``TroubleTicket_FVO``)."""
        ...

    def ticket(self, answered: Any) -> JSON:
        """A ticket the partner answered with, in the v5 form.

        Raises:
            PartnerError: the answer is not a ticket (not a JSON object).
        """
        ...

    def status(self, status: str, reason: str | None) -> Change:
        """The PATCH that sets the partner ticket's status, giving ``reason``."""
        ...

    def notes(self, current: Any, etag: str | None, notes: list[JSON]) -> Change | None:
        """The PATCH that adds our ``notes`` (v5) to the partner's ticket, ``current`` as the
        partner answered it, with its ``etag``; ``None``: the ticket has them all already.

        Raises:
            PartnerError: ``current`` is not a ticket (not a JSON object).
        """
        ...

    def hubs(
        self, base_url: str, event_types: Sequence[str], *, append: bool, secret: str | None
    ) -> list[JSON]:
        """The hubs (``POST /hub`` bodies) that bring the partner's ``event_types`` to our
        listeners at ``base_url`` (our public base URL); ``append``: one hub, the partner
        appending each event's listener path (a v5 partner's ``appendEventListenerPath``);
        ``secret``: the Standard Webhooks secret given to the partner."""
        ...


def _object(answered: Any) -> JSON:
    if not isinstance(answered, dict):
        raise PartnerError(f"the answer is not a trouble ticket: {json.dumps(answered)[:200]}")
    return answered


class V5Dialect:
    """TMF621 v5, the form the gateway and the report work in: sent and read as it is."""

    def search(self, correlation: str) -> dict[str, str | int]:
        return {"externalIdentifier.id": correlation, "limit": 1}

    def create(self, report: JSON) -> JSON:
        return report

    def ticket(self, answered: Any) -> JSON:
        return _object(answered)

    def status(self, status: str, reason: str | None) -> Change:
        patch: JSON = {"@type": "TroubleTicket", "status": status}
        if reason:
            patch["statusChangeReason"] = reason
        return Change(json.dumps(patch), {"Content-Type": "application/merge-patch+json"})

    def notes(self, current: Any, etag: str | None, notes: list[JSON]) -> Change | None:
        operations = (
            [{"op": "add", "path": "/note/-", "value": note} for note in notes]
            if isinstance(_object(current).get("note"), list)
            else [{"op": "add", "path": "/note", "value": notes}]
        )
        return Change(json.dumps(operations), {"Content-Type": "application/json-patch+json"})

    def hubs(
        self, base_url: str, event_types: Sequence[str], *, append: bool, secret: str | None
    ) -> list[JSON]:
        root = f"{base_url}{v4.V5_ROOT}"
        if append:
            wanted = [(root, ",".join(event_types))]
        else:
            wanted = [(f"{root}/listener/{listener_name(t)}", t) for t in event_types]
        hubs: list[JSON] = []
        for callback, selected in wanted:
            hub: JSON = {"@type": "Hub", "callback": callback, "query": f"eventType={selected}"}
            if append:
                hub["appendEventListenerPath"] = True
            if secret is not None:
                hub["secret"] = secret
            hubs.append(hub)
        return hubs


class V4Dialect:
    """TMF621 v4, translated from and to the v5 form by ``domain.v4``."""

    def search(self, correlation: str) -> dict[str, str | int]:
        return {"externalId": correlation, "limit": 1}

    def create(self, report: JSON) -> JSON:
        body = v4.ticket_v4(report)
        for name in v4.SERVER_SET_ON_CREATE:
            body.pop(name, None)
        return body

    def ticket(self, answered: Any) -> JSON:
        # without this server's base URL, every href stays the partner's own
        return v4.ticket_v5(_object(answered))

    def status(self, status: str, reason: str | None) -> Change:
        patch: JSON = {"status": status}
        if reason:
            patch["statusChangeReason"] = reason
        return Change(json.dumps(patch), {"Content-Type": "application/json"})

    def notes(self, current: Any, etag: str | None, notes: list[JSON]) -> Change | None:
        """The partner's notes as it answered them, then ours it does not have yet (a retry
        after an answer that was lost adds nothing twice). A strong entity tag is sent back
        in ``If-Match``: a note the partner added meanwhile fails the attempt (412), which is
        made again on a fresh read, rather than being overwritten."""
        had = _object(current).get("note")
        theirs = list(had) if isinstance(had, list) else []
        keys = {note_key(n) for n in theirs if isinstance(n, Mapping)}
        new = [v4.note_v4(n) for n in notes if note_key(n) not in keys]
        if not new:
            return None
        headers = {"Content-Type": "application/json"}
        if etag and not etag.startswith("W/"):
            headers["If-Match"] = etag  # If-Match compares strongly: a weak tag never matches
        return Change(json.dumps({"note": [*theirs, *new]}), headers)

    def hubs(
        self, base_url: str, event_types: Sequence[str], *, append: bool, secret: str | None
    ) -> list[JSON]:
        # v4 hubs have no appendEventListenerPath (the registry refuses it for a v4 partner)
        root = f"{base_url}{v4.V4_ROOT}"
        hubs: list[JSON] = []
        for event_type in event_types:
            hub: JSON = {
                "callback": f"{root}/listener/{listener_name(event_type)}",
                "query": f"eventType={event_type}",
            }
            if secret is not None:
                hub["secret"] = secret
            hubs.append(hub)
        return hubs


V5 = V5Dialect()
V4 = V4Dialect()
DIALECTS: Mapping[PartnerApi, Dialect] = {"v5": V5, "v4": V4}


def dialect_of(partner: Partner) -> Dialect:
    """The dialect of the TMF621 version ``partner`` speaks."""
    return DIALECTS[partner.api]
