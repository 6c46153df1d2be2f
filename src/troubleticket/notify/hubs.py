"""Subscriptions (TMF621 ``/hub``), their deliveries and replays.

A hub is stored with its secret; the API never shows the secret, only whether there is one.

A hub registered by a partner (a request restricted to a party) belongs to that party: only its
requests find it, and it gets only the events of tickets that party is related to (each event
record names the parties of its ticket, ``parties``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from troubleticket.context import Context
from troubleticket.domain import v4
from troubleticket.domain.audit import Action
from troubleticket.domain.documents import timestamp
from troubleticket.domain.errors import InvalidRequest, NotFound
from troubleticket.domain.signing import secret_key
from troubleticket.notify.egress import PUBLIC_ONLY, EgressPolicy, EgressRefused
from troubleticket.notify.outbox import (
    CANCELLED,
    DEAD,
    DELIVERED,
    INTERNAL_DELIVERY_FIELDS,
    PENDING,
    new_delivery,
)
from troubleticket.services.audit_log import log_audit, request_record
from troubleticket.store.port import Collection, DuplicateId, ListQuery, Page, Store
from troubleticket.store.query import (
    AnyOf,
    Comparison,
    Filter,
    Op,
    SortKey,
    canonical_instant,
    matches,
    parse_filter,
)
from troubleticket.types import JSON, Clock, IdFactory

MAX_CALLBACK_LENGTH = 2048


MAX_QUERY_LENGTH = 4096


MAX_REPLAY_DELIVERIES = 1000


REPLAY_PAGE = 500


def parse_hub_query(query: str) -> Filter:
    """A hub's query: a TMF630 attribute filter over the event (every name is an attribute).

    Raises:
        InvalidRequest: the query cannot be read.
    """
    try:
        return parse_filter(query, reserved=frozenset())
    except InvalidRequest as exc:
        raise InvalidRequest(
            f"query is not a TMF630 filter over the event: {exc.message}"
        ) from None


def is_filter(query: str) -> bool:
    """Whether a hub's query is a filter: it compares something (``=``, ``<``, ``>``).

    TMF621 describes ``query`` only as "additional data to be passed", and its own example
    passes ``data``; a query that compares nothing is kept as such data and filters nothing.
    """
    return any(char in query for char in "=<>")


ApiVersion = Literal["v4", "v5"]

# Kept with a hub, never shown: its secret, the party it belongs to, the version it speaks.
_NOT_SHOWN = frozenset({"secret", "party", "api"})


def _speaks_v4(hub: JSON) -> bool:
    return hub.get("api") == "v4"


def hub_event(hub: JSON, event_body: JSON) -> JSON:
    """The event as ``hub`` receives it: as recorded, or for a v4 hub in the v4 form."""
    return v4.event_v4(event_body) if _speaks_v4(hub) else event_body


def selects(hub: JSON, event_body: JSON) -> bool:
    """Whether ``hub``'s query selects the event (no query, or one that is no filter, selects
    every event); a v4 hub's query reads the event's v4 form, made only when it filters, and
    a v4 hub takes only the events TMF621 v4 has listeners for."""
    if _speaks_v4(hub) and event_body.get("eventType") not in v4.EVENT_TYPES:
        return False
    query = hub.get("query")
    if not query or not is_filter(query):
        return True
    return matches(hub_event(hub, event_body), parse_hub_query(query))


def delivers(hub: JSON, event: JSON) -> bool:
    """Whether the event record goes to ``hub``: an event (not an internal request) its query
    selects, about a ticket the hub's party (if it has one) is related to."""
    if "target" in event:
        return False  # an internal request goes to its target alone
    party = hub.get("party")
    if party is not None and party not in event.get("parties", ()):
        return False
    return selects(hub, event["body"])


def _check_callback(callback: Any, egress: EgressPolicy) -> str:
    if not isinstance(callback, str) or not callback:
        raise InvalidRequest("callback must be an absolute http or https URL")
    if len(callback) > MAX_CALLBACK_LENGTH:
        raise InvalidRequest(f"callback is longer than {MAX_CALLBACK_LENGTH} characters")
    try:
        parts = urlsplit(callback)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError:
        raise InvalidRequest(f"callback {callback!r} is not a valid URL") from None
    del port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(f"callback {callback!r} must be an absolute http or https URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest(
            "callback must not carry credentials; give the hub a secret to have deliveries signed"
        )
    if parts.fragment:
        raise InvalidRequest("callback must not have a fragment")
    if any(char.isspace() for char in callback):
        raise InvalidRequest("callback must not contain whitespace")
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not all(label and len(label) <= 63 for label in host.split(".")):
            raise InvalidRequest(f"callback host {host!r} is not a valid host name") from None
    try:
        egress.check_kept(callback)
    except EgressRefused as refused:
        raise InvalidRequest(
            f"The callback cannot be used ({refused.message}): events go to public addresses "
            "only, and to the internal networks the server's TT_EGRESS_ALLOW names",
            code="callbackNotAllowed",
        ) from None
    return callback


class HubService:
    """Register, read and remove subscriptions; list and replay their deliveries."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        new_id: IdFactory,
        base_url: str,
        on_change: Callable[[], None] | None = None,
        egress: EgressPolicy = PUBLIC_ONLY,
    ) -> None:
        """``egress``: where callbacks may be (by default: global addresses only)."""
        self._store = store
        self._egress = egress
        self._clock = clock
        self._new_id = new_id
        self._api = f"{base_url}/tmf-api/troubleTicket/v5"
        self._on_change = on_change

    # -- presentation --------------------------------------------------------------------------

    def _present_hub(self, hub: JSON) -> JSON:
        shown = {key: value for key, value in hub.items() if key not in _NOT_SHOWN}
        shown["href"] = f"{self._api}/hub/{hub['id']}"
        shown["signed"] = "secret" in hub
        return shown

    def _present_delivery(self, delivery: JSON) -> JSON:
        return {k: v for k, v in delivery.items() if k not in INTERNAL_DELIVERY_FIELDS}

    # -- hubs ----------------------------------------------------------------------------------

    def register(self, body: JSON, context: Context, *, api: ApiVersion = "v5") -> JSON:
        """Store a subscription (the context's party's, if it has one); return it as the API
        shows it.

        ``api``: the TMF621 version whose events the hub receives (a hub registered at the v4
        root: the v4 events of tickets, in the v4 form). Its ``@type`` is kept as sent
        (``Hub``, or the name a client's model gives it: the contract sets no value);
        attributes a hub does not have (``Hub_FVO`` allows them) are ignored, not stored.

        Raises:
            InvalidRequest: a callback that is not an absolute http(s) URL without credentials,
                a query that compares something but is not a TMF630 filter, a malformed
                secret.
        """
        kind = body.get("@type")
        hub: JSON = {
            "id": self._new_id(),
            "@type": kind if isinstance(kind, str) and kind else "Hub",
            "callback": _check_callback(body.get("callback"), self._egress),
        }
        query = body.get("query")
        if query not in (None, ""):
            if not isinstance(query, str) or len(query) > MAX_QUERY_LENGTH:
                raise InvalidRequest(
                    f"query must be a string of at most {MAX_QUERY_LENGTH} characters"
                )
            if is_filter(query):
                parse_hub_query(query)
            hub["query"] = query
        append = body.get("appendEventListenerPath", False)
        if not isinstance(append, bool):
            raise InvalidRequest("appendEventListenerPath must be true or false")
        hub["appendEventListenerPath"] = append
        if "secret" in body:
            secret_key(body["secret"])
            hub["secret"] = body["secret"]
        hub["createdAt"] = timestamp(self._clock())
        if context.party_id is not None:
            hub["party"] = context.party_id
        if api != "v5":
            hub["api"] = api
        self._store.insert(Collection.HUB, hub)
        self._audit("create", hub["id"], context)
        return self._present_hub(hub)

    def _audit(self, action: Action, hub_id: str, context: Context) -> None:
        log_audit(f"hub/{hub_id}", request_record(action, [], context=context, now=self._clock()))

    def _hub(self, hub_id: str, context: Context) -> JSON:
        """The stored hub, if the context may see it (a party sees only its own).

        Raises:
            NotFound: there is no such hub the context may see.
        """
        stored = self._store.get(Collection.HUB, hub_id)
        party = context.party_id
        if stored is None or (party is not None and stored.doc.get("party") != party):
            raise NotFound("hub", hub_id)
        return stored.doc

    def get(self, hub_id: str, context: Context) -> JSON:
        return self._present_hub(self._hub(hub_id, context))

    def delete(self, hub_id: str, context: Context) -> None:
        """Remove a subscription; its undelivered events are cancelled, not sent.

        Raises:
            NotFound: there is no hub with that id (that the context may see).
        """
        self._hub(hub_id, context)
        if not self._store.delete(Collection.HUB, hub_id):
            raise NotFound("hub", hub_id)
        self._audit("delete", hub_id, context)
        self._cancel_waiting(hub_id)

    def _cancel_waiting(self, hub_id: str) -> None:
        """Mark the hub's pending deliveries cancelled (one in flight is, when it ends)."""
        waiting = Filter(
            (
                AnyOf((Comparison(("hubId",), Op.EQ, hub_id),)),
                AnyOf((Comparison(("state",), Op.EQ, PENDING),)),
            )
        )
        after: str | None = None
        while True:
            page = self._store.list(
                Collection.DELIVERY,
                ListQuery(count=False, where=waiting, limit=REPLAY_PAGE, after=after),
            )
            for delivery in page.items:
                stored = self._store.get(Collection.DELIVERY, delivery["id"])
                if stored is not None and stored.doc["state"] == PENDING:
                    # One a dispatcher claimed meanwhile is cancelled when it is next claimed.
                    self._store.replace(
                        Collection.DELIVERY,
                        {**stored.doc, "state": CANCELLED},
                        expected_version=stored.version,
                    )
            if page.next_cursor is None or not page.items:
                return
            after = page.next_cursor

    # -- deliveries ----------------------------------------------------------------------------

    def deliveries(self, hub_id: str, query: ListQuery, context: Context) -> Page:
        """One page of a hub's deliveries (newest first unless ``query`` sorts otherwise)."""
        self._hub(hub_id, context)
        return self.deliveries_to((hub_id,), query)

    def deliveries_to(self, targets: tuple[str, ...] | None, query: ListQuery) -> Page:
        """One page of the deliveries to any of ``targets`` (hubs, or a partner's lanes; every
        target when ``None``: what an operator looks through)."""
        where = query.where
        if targets is not None:
            own = AnyOf(tuple(Comparison(("hubId",), Op.EQ, target) for target in targets))
            where = Filter((own, *query.where.groups))
        sort = query.sort or (SortKey(("createdAt",), descending=True),)
        page = self._store.list(Collection.DELIVERY, replace(query, where=where, sort=sort))
        return replace(page, items=[self._present_delivery(d) for d in page.items])

    def replay(self, hub_id: str, body: JSON, context: Context) -> JSON:
        """Send events again: the deliveries named, or every selected event since an instant.

        Raises:
            NotFound: there is no hub with that id (that the context may see).
            InvalidRequest: neither or both of ``since`` and ``delivery``; a delivery that is
                not this hub's, or not finished.
        """
        hub = self._hub(hub_id, context)
        since, named = body.get("since"), body.get("delivery")
        if (since is None) == (named is None):
            raise InvalidRequest("Give either since (a date-time) or delivery (a list of ids)")
        now = self._clock()
        if named is not None:
            created = self._replay_deliveries((hub_id,), named, now, f"Hub {hub_id}")
        else:
            created = self._replay_since(hub, since, now)
        return self._replayed(created, since, named)

    def replay_to(self, targets: tuple[str, ...], body: JSON, owner: str) -> JSON:
        """Make the deliveries named again, each to its own target among ``targets``.

        Raises:
            InvalidRequest: no list of deliveries; one that is not to ``targets``, or not
                finished.
        """
        if "since" in body or body.get("delivery") is None:
            raise InvalidRequest("Give delivery: a list of the ids of the deliveries to make again")
        named = body["delivery"]
        created = self._replay_deliveries(targets, named, self._clock(), owner)
        return self._replayed(created, None, named)

    def _replayed(self, created: list[str], since: Any, named: Any) -> JSON:
        if created and self._on_change is not None:
            self._on_change()
        shown: JSON = {
            "id": self._new_id(),
            "@type": "EventReplay",
            "replayed": created,
            "replayedCount": len(created),
        }
        shown["since" if since is not None else "delivery"] = since if since is not None else named
        return shown

    def _replay_deliveries(
        self, targets: tuple[str, ...], named: Any, now: datetime, owner: str
    ) -> list[str]:
        if (
            not isinstance(named, list)
            or not named
            or len(named) > MAX_REPLAY_DELIVERIES
            or not all(isinstance(i, str) for i in named)
        ):
            raise InvalidRequest(
                f"delivery must list 1 to {MAX_REPLAY_DELIVERIES} delivery ids (strings)"
            )
        originals = []
        for delivery_id in dict.fromkeys(named):
            stored = self._store.get(Collection.DELIVERY, delivery_id)
            if stored is None or stored.doc["hubId"] not in targets:
                raise InvalidRequest(f"{owner} has no delivery {delivery_id!r}")
            if stored.doc["state"] not in (DEAD, DELIVERED):
                raise InvalidRequest(
                    f"Delivery {delivery_id} is {stored.doc['state']}; only dead or delivered "
                    "deliveries are replayed"
                )
            originals.append(stored.doc)
        created = []
        for original in originals:
            event = self._store.get(Collection.EVENT, original["eventId"])
            if event is None:
                raise InvalidRequest(f"The event of delivery {original['id']} is no longer kept")
            created.append(
                self._add_delivery(original["hubId"], event.doc, now, replay_of=original["id"])
            )
        return created

    def _replay_since(self, hub: JSON, since: Any, now: datetime) -> list[str]:
        instant = canonical_instant(since) if isinstance(since, str) else None
        if instant is None:
            raise InvalidRequest(f"since must be a date-time, not {since!r}")
        where = Filter((AnyOf((Comparison(("recordedAt",), Op.GTE, instant),)),))
        created = []
        after: str | None = None
        while True:
            page = self._store.list(
                Collection.EVENT,
                ListQuery(count=False, where=where, limit=REPLAY_PAGE, after=after),
            )
            for event in page.items:
                if delivers(hub, event):
                    created.append(self._add_delivery(hub["id"], event, now))
            if page.next_cursor is None or not page.items:
                return created
            after = page.next_cursor

    def _add_delivery(
        self, hub_id: str, event: JSON, now: datetime, replay_of: str | None = None
    ) -> str:
        while True:
            delivery_id = self._new_id()
            delivery = new_delivery(
                delivery_id=delivery_id, hub_id=hub_id, event=event, now=now, replay_of=replay_of
            )
            try:
                self._store.insert(Collection.DELIVERY, delivery)
            except DuplicateId:
                continue
            return delivery_id
