"""``PartnerGateway`` carries out the requests a ticket change recorded for a partner (internal
events with a ``target``, delivered by the dispatcher with its leases, retries, order per ticket
and dead letters): create the partner's ticket (idempotent: the partner is searched for the
report's correlation id before anything is created, so a retry after a crash adopts the ticket
instead of making a second), cancel it, close it, forward notes, and poll it. Each answer is
written back to our ticket through the ticket service.

The requests are made in the TMF621 version the partner speaks (``dialect``); the partner's
tickets are read in the v5 form whatever it speaks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

import requests

from troubleticket.context import NO_CONTEXT
from troubleticket.domain import coordination, partner_report
from troubleticket.domain.errors import NotFound
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.partners import PartnerRegistry
from troubleticket.notify.delivery import Outcome
from troubleticket.notify.egress import PUBLIC_ONLY, EgressPolicy
from troubleticket.partners.client import PartnerClient, PartnerError, answer_json
from troubleticket.partners.dialect import Change, dialect_of
from troubleticket.services.resources import ResourceService
from troubleticket.types import JSON, Clock

logger = logging.getLogger(__name__)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class PartnerGateway:
    """Carries out requests to partners for the dispatcher (``Performer``)."""

    def __init__(
        self,
        registry: PartnerRegistry,
        secrets: Mapping[str, str],
        *,
        tickets: ResourceService,
        managed: ManagedTicket,
        clock: Clock,
        egress: EgressPolicy = PUBLIC_ONLY,
    ) -> None:
        self._registry = registry
        self._clients = {
            pid: PartnerClient(p, secrets, egress) for pid, p in registry.partners.items()
        }
        self._tickets = tickets
        self._managed = managed
        self._clock = clock

    def client(self, partner_id: str) -> PartnerClient | None:
        return self._clients.get(partner_id)

    def __call__(self, delivery: JSON, event: JSON) -> Outcome:
        request = event["body"]["event"]
        client = self._clients.get(request["partner"])
        if client is None:
            return Outcome(None, f"partner {request['partner']!r} is not configured")
        kind = event["eventType"]
        try:
            found = self._report(request)
            if found is None:
                return Outcome(200)  # the ticket or the activity is gone: nothing to do
            ticket, activity = found
            perform = {
                partner_report.CREATE: self._create,
                partner_report.CANCEL: self._cancel,
                partner_report.CLOSE: self._close,
                partner_report.NOTE: self._note,
                partner_report.POLL: self._poll,
            }[kind]
            return perform(client, request, ticket, activity)
        except PartnerError as exc:
            logger.warning("%s for %s failed: %s", kind, request["correlationId"], exc)
            return Outcome(exc.status, str(exc))

    def _report(self, request: JSON) -> tuple[JSON, JSON] | None:
        try:
            ticket = self._tickets.read(request["troubleTicket"], context=NO_CONTEXT).doc
            return ticket, coordination.find(ticket, request["recoveryActivity"])
        except NotFound:
            return None

    def _write(self, ticket_id: str, change: Callable[[JSON, datetime], JSON]) -> None:
        def update(current: JSON) -> JSON:
            now = self._clock()
            changed = change(current, now)
            if changed is current:
                return current
            return self._managed.from_partner(current, changed, now=now)

        self._tickets.update(ticket_id, update, context=NO_CONTEXT)

    # -- the requests --------------------------------------------------------------------------

    def _create(
        self, client: PartnerClient, request: JSON, ticket: JSON, activity: JSON
    ) -> Outcome:
        report = activity[partner_report.REPORT]
        if report["state"] != partner_report.REQUESTED:
            return Outcome(200)  # made before, or cancelled before it was made
        dialect = dialect_of(client.partner)
        correlation = request["correlationId"]
        found = client.call("GET", "/troubleTicket", params=dialect.search(correlation))
        existing = answer_json(found) if found.status_code == 200 else []
        body = self._report_body(ticket, activity, correlation)
        if isinstance(existing, list) and existing:
            partner_ticket = dialect.ticket(existing[0])
            status = 200
        else:
            answer = client.call("POST", "/troubleTicket", json=dialect.create(body))
            if answer.status_code != 201:
                raise PartnerError(
                    f"POST /troubleTicket answered {answer.status_code}: {answer.text[:300]}",
                    answer.status_code,
                )
            partner_ticket, status = dialect.ticket(answer_json(answer)), 201
        notes = body.get("note", [])
        self._write(
            ticket["id"],
            lambda t, now: partner_report.opened(t, activity["id"], partner_ticket, notes, now),
        )
        return Outcome(status)

    def _report_body(self, ticket: JSON, activity: JSON, correlation: str) -> JSON:
        body: JSON = {
            "@type": "TroubleTicket",
            "name": activity.get("name") or ticket.get("name") or ticket["description"][:80],
            "description": activity.get("description") or ticket["description"],
            "severity": ticket["severity"],
            "ticketType": ticket["ticketType"],
            "externalIdentifier": [
                {
                    "@type": "ExternalIdentifier",
                    "owner": self._registry.self_id,
                    "externalIdentifierType": "troubleTicket",
                    "id": correlation,
                }
            ],
        }
        if self._registry.self_party is not None:
            body["relatedParty"] = [self._registry.self_party]
        services = [
            e
            for e in ticket.get("relatedEntity", []) or []
            if str(e.get("entity", {}).get("@referredType", "")).lower() == "service"
        ]
        if services:
            body["relatedEntity"] = services
        if activity.get("plannedEndDate"):
            body["requestedResolutionDate"] = activity["plannedEndDate"]
        if activity.get("note"):
            body["note"] = activity["note"]
        return body

    def _partner_ticket(self, report: JSON) -> str | None:
        partner_ticket = report.get("partnerTicket") or {}
        return partner_ticket.get("id")

    @staticmethod
    def _patch(client: PartnerClient, partner_id: str, change: Change) -> requests.Response:
        return client.call(
            "PATCH", f"/troubleTicket/{partner_id}", data=change.data, headers=dict(change.headers)
        )

    def _patch_status(
        self, client: PartnerClient, partner_id: str, status: str, reason: str | None
    ) -> requests.Response:
        return self._patch(client, partner_id, dialect_of(client.partner).status(status, reason))

    def _cancel(
        self, client: PartnerClient, request: JSON, ticket: JSON, activity: JSON
    ) -> Outcome:
        report = activity[partner_report.REPORT]
        partner_id = self._partner_ticket(report)
        if partner_id is not None:
            reason = request.get("reason") or f"Cancelled by {self._registry.self_id}"
            answer = self._patch_status(client, partner_id, "cancelled", reason)
            if answer.status_code not in (200, 409):
                raise PartnerError(f"cancelling answered {answer.status_code}", answer.status_code)
            if answer.status_code == 409:
                # it can no longer be cancelled there (resolved or final): the report ends as
                # the partner's ticket is
                return self._cancel_refused(client, ticket, activity, partner_id)
        self._write(
            ticket["id"],
            lambda t, now: partner_report.finished(
                t, activity["id"], partner_report.CANCELLED, now
            ),
        )
        return Outcome(200)

    def _cancel_refused(
        self, client: PartnerClient, ticket: JSON, activity: JSON, partner_id: str
    ) -> Outcome:
        answer = client.call("GET", f"/troubleTicket/{partner_id}")
        if answer.status_code != 200:
            raise PartnerError(
                f"reading the ticket answered {answer.status_code}", answer.status_code
            )
        partner_ticket = dialect_of(client.partner).ticket(answer_json(answer))
        status = str(partner_ticket.get("status"))
        ended = {"cancelled": partner_report.CANCELLED, "closed": partner_report.CLOSED}.get(
            status, partner_report.FAILED
        )

        def change(current: JSON, now: datetime) -> JSON:
            mirrored = partner_report.mirror(current, activity["id"], partner_ticket, now)
            return partner_report.finished(mirrored, activity["id"], ended, now)

        self._write(ticket["id"], change)
        return Outcome(200)

    def _close(self, client: PartnerClient, request: JSON, ticket: JSON, activity: JSON) -> Outcome:
        partner_id = self._partner_ticket(activity[partner_report.REPORT])
        if partner_id is None:
            return Outcome(200)
        answer = self._patch_status(client, partner_id, "closed", "Resolution accepted")
        if answer.status_code not in (200, 409):
            raise PartnerError(f"closing answered {answer.status_code}", answer.status_code)
        return self._refresh(client, ticket, activity, partner_id)

    def _note(self, client: PartnerClient, request: JSON, ticket: JSON, activity: JSON) -> Outcome:
        partner_id = self._partner_ticket(activity[partner_report.REPORT])
        if partner_id is None:
            return Outcome(200)
        current = client.call("GET", f"/troubleTicket/{partner_id}")
        if current.status_code != 200:
            raise PartnerError(
                f"reading the ticket answered {current.status_code}", current.status_code
            )
        # the notes go back in the partner's own form: the ticket is read as it answered
        change = dialect_of(client.partner).notes(
            answer_json(current), current.headers.get("ETag"), request["note"]
        )
        if change is None:
            return Outcome(200)  # it has them all (the answer to an earlier attempt was lost)
        answer = self._patch(client, partner_id, change)
        if answer.status_code != 200:
            raise PartnerError(f"adding notes answered {answer.status_code}", answer.status_code)
        return Outcome(200)

    def _poll(self, client: PartnerClient, request: JSON, ticket: JSON, activity: JSON) -> Outcome:
        partner = client.partner
        report = activity[partner_report.REPORT]
        if report["state"] in partner_report.FINAL:
            return Outcome(200)  # nothing more to hear
        partner_id = self._partner_ticket(report)
        heard = report.get("lastHeardAt")
        quiet = partner.poll_after if partner.subscribe else 0.0
        if partner_id is None or (
            heard is not None and (self._clock() - _instant(heard)).total_seconds() < quiet
        ):
            return Outcome(200, again_after=partner.poll_interval)
        headers = {"If-None-Match": report["etag"]} if report.get("etag") else {}
        answer = client.call("GET", f"/troubleTicket/{partner_id}", headers=headers)
        if answer.status_code == 304:
            return Outcome(304, again_after=partner.poll_interval)
        if answer.status_code != 200:
            raise PartnerError(f"polling answered {answer.status_code}", answer.status_code)
        partner_ticket = dialect_of(partner).ticket(answer_json(answer))
        self._mirror(ticket["id"], activity["id"], partner_ticket, answer.headers.get("ETag"))
        return Outcome(200, again_after=partner.poll_interval)

    def _refresh(
        self, client: PartnerClient, ticket: JSON, activity: JSON, partner_id: str
    ) -> Outcome:
        answer = client.call("GET", f"/troubleTicket/{partner_id}")
        if answer.status_code != 200:
            raise PartnerError(
                f"reading the ticket answered {answer.status_code}", answer.status_code
            )
        partner_ticket = dialect_of(client.partner).ticket(answer_json(answer))
        self._mirror(ticket["id"], activity["id"], partner_ticket, answer.headers.get("ETag"))
        return Outcome(200)

    def _mirror(
        self, ticket_id: str, activity_id: str, partner_ticket: JSON, etag: str | None
    ) -> None:
        def change(current: JSON, now: datetime) -> JSON:
            mirrored = partner_report.mirror(current, activity_id, partner_ticket, now)
            if etag:
                mirrored = partner_report.remember_etag(mirrored, activity_id, etag)
            return mirrored

        self._write(ticket_id, change)

    def mirror(self, ticket_id: str, activity_id: str, partner_ticket: JSON) -> None:
        """Apply what a partner's event says of its ticket to our activity."""
        self._mirror(ticket_id, activity_id, partner_ticket, None)
