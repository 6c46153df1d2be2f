"""Trouble reports at partners over TMF621: what goes out, what comes back (an extension).

* ``PartnerGateway`` carries out the requests a ticket change recorded for a partner (internal
  events with a ``target``, delivered by the dispatcher with its leases, retries, order per
  ticket and dead letters): create the partner's ticket (idempotent — the partner is searched
  for the report's correlation id before anything is created, so a retry after a crash adopts
  the ticket instead of making a second), cancel it, close it, forward notes, and poll it.
  Each answer is written back to our ticket through the ticket service.
* ``PartnerInbox`` takes the partner's events at our listeners: it finds the report by the
  partner ticket's id, checks the Standard Webhooks signature when the partner was given a
  secret, and mirrors the partner ticket onto the activity.
* ``PartnerLinks`` registers our listeners as hubs at each partner that sends events, once.

Outbound HTTP uses ``requests``: a pooled session per thread, connect and read timeouts, no
redirects, bounded response bodies, bearer or OAuth2 client-credentials tokens.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
import urllib3

from troubleticket.domain import coordination, partner_report
from troubleticket.domain.documents import timestamp
from troubleticket.domain.errors import Forbidden, NotFound, Unauthorized
from troubleticket.domain.events import Raised, listener_name
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.partners import Partner, PartnerRegistry
from troubleticket.domain.signing import verify
from troubleticket.services.dispatch import Outcome
from troubleticket.services.egress import PUBLIC_ONLY, EgressPolicy, EgressRefused
from troubleticket.services.hubs import HubService
from troubleticket.services.resources import Requests, ResourceService
from troubleticket.store.port import Collection, DuplicateId, ListQuery, Page, Store
from troubleticket.store.query import AnyOf, Comparison, Filter, Op
from troubleticket.types import JSON, NO_CONTEXT, Clock, Context

logger = logging.getLogger(__name__)

USER_AGENT = "troubleticket-partner-client"
MAX_BODY_BYTES = 1 << 20
# The partner events our listeners take: a status change says where the ticket is, an
# attribute value change brings its notes.
SUBSCRIBED = ("TroubleTicketStatusChangeEvent", "TroubleTicketAttributeValueChangeEvent")


def target(partner_id: str, event_type: str) -> str:
    """The delivery lane of a request to a partner: polls apart, so they never hold back the
    ticket's other requests (which keep their order)."""
    lane = "partner-poll" if event_type == partner_report.POLL else "partner"
    return f"{lane}:{partner_id}"


def partner_requests(registry: PartnerRegistry) -> Requests:
    """The ticket rule that turns a change into requests to partners (``ResourceRules``)."""

    def requests_of(before: JSON | None, after: JSON | None) -> list[tuple[str, Raised]]:
        return [
            (target(partner_id, raised.event_type), raised)
            for partner_id, raised in partner_report.commands(registry, before, after)
        ]

    return requests_of


def refused_partner_urls(registry: PartnerRegistry, egress: EgressPolicy) -> list[str]:
    """Why each partner URL ``egress`` refuses (base URL, token URL) is refused; none: []."""
    refused = []
    for partner_id, partner in registry.partners.items():
        urls = [partner.base_url, *([partner.oauth2.token_url] if partner.oauth2 else [])]
        for url in urls:
            try:
                egress.check_kept(url)
            except EgressRefused as exc:
                refused.append(f"partner {partner_id}: {exc.message}")
    return refused


class PartnerError(Exception):
    """A partner call that failed: no answer, or an answer that is not what was asked for."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Token:
    value: str
    expires: float


class PartnerClient:
    """The HTTP client of one partner's TMF621 API."""

    def __init__(
        self, partner: Partner, secrets: Mapping[str, str], egress: EgressPolicy = PUBLIC_ONLY
    ) -> None:
        """``egress``: where connections may go (the partner's addresses are checked each time
        one is opened)."""
        self.partner = partner
        self._secrets = secrets
        self._egress = egress
        self._local = threading.local()
        self._lock = threading.Lock()
        self._token: _Token | None = None

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._egress.session()
        return session

    def _authorization(self, renew: bool = False) -> dict[str, str]:
        partner = self.partner
        if partner.bearer_token_env is not None:
            return {"Authorization": f"Bearer {self._secrets[partner.bearer_token_env]}"}
        if partner.oauth2 is None:
            return {}
        with self._lock:
            if renew or self._token is None or self._token.expires <= time.monotonic():
                self._token = self._fetch_token()
            return {"Authorization": f"Bearer {self._token.value}"}

    def _fetch_token(self) -> _Token:
        oauth2 = self.partner.oauth2
        assert oauth2 is not None
        form = {
            "grant_type": "client_credentials",
            "client_id": oauth2.client_id,
            "client_secret": self._secrets[oauth2.client_secret_env],
        }
        if oauth2.scope:
            form["scope"] = oauth2.scope
        response = self._send("POST", oauth2.token_url, data=form, auth=False)
        try:
            token = response.json()
            value, lifetime = token["access_token"], float(token.get("expires_in", 300))
        except (ValueError, KeyError, TypeError) as exc:
            raise PartnerError(
                f"no access token from {oauth2.token_url}", response.status_code
            ) from exc
        # renewed half a minute early, so a call never carries one that is about to expire
        return _Token(str(value), time.monotonic() + max(lifetime - 30, 1))

    def _send(
        self, method: str, url: str, *, auth: bool = True, **kwargs: Any
    ) -> requests.Response:
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            **kwargs.pop("headers", {}),
        }
        timeout = (self.partner.connect_timeout, self.partner.read_timeout)
        for renew in (False, True):
            sent = {**headers, **(self._authorization(renew) if auth else {})}
            try:
                response = self._session().request(
                    method,
                    url,
                    headers=sent,
                    timeout=timeout,
                    allow_redirects=False,
                    stream=True,
                    **kwargs,
                )
            except requests.RequestException as exc:
                raise PartnerError(f"{type(exc).__name__}: {exc}"[:500]) from exc
            try:
                # the body is read here, under the cap: a stall or a short body is this call's
                body = response.raw.read(MAX_BODY_BYTES + 1, decode_content=True)
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                response.close()
                raise PartnerError(f"{type(exc).__name__}: {exc}"[:500]) from exc
            if len(body) > MAX_BODY_BYTES:
                response.close()
                raise PartnerError(f"{method} {url}: answer over {MAX_BODY_BYTES} bytes")
            response._content = body  # noqa: SLF001 - the body read under the cap above
            if response.status_code == 401 and auth and not renew and self.partner.oauth2:
                continue  # the token may have been revoked: one more try with a new one
            return response
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request to ``{baseUrl}{path}``."""
        return self._send(method, f"{self.partner.base_url}{path}", **kwargs)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise PartnerError(
            f"the answer is not JSON ({response.status_code})", response.status_code
        ) from exc


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
        correlation = request["correlationId"]
        found = client.call(
            "GET", "/troubleTicket", params={"externalIdentifier.id": correlation, "limit": 1}
        )
        existing = _json(found) if found.status_code == 200 else []
        body = self._report_body(ticket, activity, correlation)
        if isinstance(existing, list) and existing:
            partner_ticket = existing[0]
            status = 200
        else:
            answer = client.call("POST", "/troubleTicket", json=body)
            if answer.status_code != 201:
                raise PartnerError(
                    f"POST /troubleTicket answered {answer.status_code}: {answer.text[:300]}",
                    answer.status_code,
                )
            partner_ticket, status = _json(answer), 201
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

    def _patch_status(
        self, client: PartnerClient, partner_id: str, status: str, reason: str | None
    ) -> requests.Response:
        patch: JSON = {"@type": "TroubleTicket", "status": status}
        if reason:
            patch["statusChangeReason"] = reason
        return client.call(
            "PATCH",
            f"/troubleTicket/{partner_id}",
            data=json.dumps(patch),
            headers={"Content-Type": "application/merge-patch+json"},
        )

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
        partner_ticket = _json(answer)
        status = partner_ticket.get("status")
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
        has_notes = isinstance(_json(current).get("note"), list)
        operations = (
            [{"op": "add", "path": "/note/-", "value": note} for note in request["note"]]
            if has_notes
            else [{"op": "add", "path": "/note", "value": request["note"]}]
        )
        answer = client.call(
            "PATCH",
            f"/troubleTicket/{partner_id}",
            data=json.dumps(operations),
            headers={"Content-Type": "application/json-patch+json"},
        )
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
        self._mirror(ticket["id"], activity["id"], _json(answer), answer.headers.get("ETag"))
        return Outcome(200, again_after=partner.poll_interval)

    def _refresh(
        self, client: PartnerClient, ticket: JSON, activity: JSON, partner_id: str
    ) -> Outcome:
        answer = client.call("GET", f"/troubleTicket/{partner_id}")
        if answer.status_code != 200:
            raise PartnerError(
                f"reading the ticket answered {answer.status_code}", answer.status_code
            )
        self._mirror(ticket["id"], activity["id"], _json(answer), answer.headers.get("ETag"))
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


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class PartnerInbox:
    """Partner events at our listeners: whose report, signed by whom, and what they change."""

    def __init__(
        self,
        registry: PartnerRegistry,
        secrets: Mapping[str, str],
        *,
        store: Store,
        gateway: PartnerGateway,
        clock: Clock,
    ) -> None:
        self._registry = registry
        self._secrets = secrets
        self._store = store
        self._gateway = gateway
        self._clock = clock

    def accept(self, event: JSON, raw: bytes, headers: Mapping[str, str]) -> bool:
        """Apply a partner's event to the report it concerns; ``False`` when it concerns none.

        Raises:
            Unauthorized: the partner was given a secret and the event is not signed with it.
        """
        payload = event.get("event")
        partner_ticket = payload.get("troubleTicket") if isinstance(payload, Mapping) else None
        if not isinstance(partner_ticket, Mapping) or not isinstance(partner_ticket.get("id"), str):
            return False
        match = Filter(
            (
                AnyOf(
                    (
                        Comparison(
                            ("partnerReport", "partnerTicket", "id"), Op.EQ, partner_ticket["id"]
                        ),
                    )
                ),
            )
        )
        page = self._store.list(
            Collection.RECOVERY_ACTIVITY, ListQuery(count=False, where=match, limit=1)
        )
        if not page.items:
            return False
        activity = page.items[0]
        partner = self._registry.get(activity["partnerReport"]["partner"]["id"])
        if partner is None:
            return False
        if partner.secret_env is not None:
            self._verify(partner, raw, headers)
        self._gateway.mirror(activity["troubleTicket"]["id"], activity["id"], dict(partner_ticket))
        return True

    def _verify(self, partner: Partner, raw: bytes, headers: Mapping[str, str]) -> None:
        assert partner.secret_env is not None
        stamp = headers.get("webhook-timestamp", "")
        signed = stamp.isdigit() and verify(
            self._secrets[partner.secret_env],
            headers.get("webhook-id", ""),
            int(stamp),
            raw,
            headers.get("webhook-signature", ""),
            now=int(self._clock().timestamp()),
        )
        if not signed:
            raise Unauthorized(
                f"The event is not signed with the secret partner {partner.id} was given "
                "(Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)"
            )


class PartnerLinks:
    """Registers our listeners at each partner that sends events, and remembers the hubs."""

    def __init__(
        self,
        registry: PartnerRegistry,
        secrets: Mapping[str, str],
        gateway: PartnerGateway,
        *,
        store: Store,
        api_url: str,
        clock: Clock,
    ) -> None:
        self._registry = registry
        self._secrets = secrets
        self._gateway = gateway
        self._store = store
        self._api_url = api_url
        self._clock = clock

    def run_once(self) -> int:
        """Register at every partner that has no hub of ours yet; returns how many."""
        done = 0
        for partner in self._registry.partners.values():
            if not partner.subscribe or self._store.get(Collection.PARTNER, partner.id) is not None:
                continue
            try:
                hubs = self._register(partner)
            except PartnerError as exc:
                logger.warning("registering at partner %s failed: %s", partner.id, exc)
                continue
            record = {"id": partner.id, "hub": hubs, "registeredAt": timestamp(self._clock())}
            try:
                self._store.insert(Collection.PARTNER, record)
            except DuplicateId:
                pass  # another process registered meanwhile
            done += 1
        return done

    def _register(self, partner: Partner) -> list[JSON]:
        client = self._gateway.client(partner.id)
        assert client is not None
        if partner.append_listener_path:
            wanted = [(self._api_url, ",".join(SUBSCRIBED), True)]
        else:
            wanted = [
                (f"{self._api_url}/listener/{listener_name(t)}", t, False) for t in SUBSCRIBED
            ]
        hubs = []
        for callback, event_types, append in wanted:
            hub: JSON = {"@type": "Hub", "callback": callback, "query": f"eventType={event_types}"}
            if append:
                hub["appendEventListenerPath"] = True
            if partner.secret_env is not None:
                hub["secret"] = self._secrets[partner.secret_env]
            answer = client.call("POST", "/hub", json=hub)
            if answer.status_code != 201:
                raise PartnerError(f"POST /hub answered {answer.status_code}", answer.status_code)
            registered = _json(answer)
            hubs.append({"id": registered.get("id"), "callback": callback, "query": hub["query"]})
        return hubs


class PartnerDirectory:
    """The partners for operators: what is configured (never a secret), the hubs registered at
    each, and the requests to each — listed like a hub's deliveries, dead ones made again."""

    def __init__(
        self, registry: PartnerRegistry, *, store: Store, hubs: HubService, api_url: str
    ) -> None:
        self._registry = registry
        self._store = store
        self._hubs = hubs
        self._api_url = api_url

    def _shown(self, partner: Partner) -> JSON:
        shown: JSON = {
            "id": partner.id,
            "href": f"{self._api_url}/partner/{partner.id}",
            "@type": "Partner",
            "name": partner.name,
            "baseUrl": partner.base_url,
            "party": partner.party,
            "subscribe": partner.subscribe,
        }
        link = self._store.get(Collection.PARTNER, partner.id)
        if link is not None:
            shown["hub"] = link.doc["hub"]
            shown["registeredAt"] = link.doc["registeredAt"]
        return shown

    def _partner(self, partner_id: str, context: Context) -> Partner:
        _operator_only(context)
        partner = self._registry.get(partner_id)
        if partner is None:
            raise NotFound("partner", partner_id)
        return partner

    def list(self, context: Context) -> list[JSON]:
        """Raises: Forbidden: a partner's request."""
        _operator_only(context)
        return [self._shown(p) for p in self._registry.partners.values()]

    def get(self, partner_id: str, context: Context) -> JSON:
        """Raises: Forbidden: a partner's request. NotFound: no partner has that id."""
        return self._shown(self._partner(partner_id, context))

    @staticmethod
    def _lanes(partner_id: str) -> tuple[str, ...]:
        return (target(partner_id, partner_report.CREATE), target(partner_id, partner_report.POLL))

    def deliveries(self, partner_id: str, query: ListQuery, context: Context) -> Page:
        """One page of the requests to a partner (newest first unless sorted otherwise).

        Raises:
            Forbidden: a partner's request.
            NotFound: no partner has that id.
        """
        self._partner(partner_id, context)
        return self._hubs.deliveries_to(self._lanes(partner_id), query)

    def replay(self, partner_id: str, body: JSON, context: Context) -> JSON:
        """Make the named requests to a partner again (dead ones after an outage, say).

        Raises:
            Forbidden: a partner's request.
            NotFound: no partner has that id.
            InvalidRequest: see ``HubService.replay_to``.
        """
        self._partner(partner_id, context)
        return self._hubs.replay_to(self._lanes(partner_id), body, f"Partner {partner_id}")


def _operator_only(context: Context) -> None:
    if context.party is not None:
        raise Forbidden("The partner directory is the operator's; a partner may not use it")
