"""Deliveries for the people on call: list them (a hub's, a partner's, the store's), and make
dead ones again, through the same services the API's delivery administration uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from troubleticket.context import NO_CONTEXT
from troubleticket.domain.errors import TroubleTicketError
from troubleticket.notify.hubs import MAX_REPLAY_DELIVERIES, HubService
from troubleticket.notify.outbox import DEAD, DELIVERED, DELIVERING, PENDING
from troubleticket.partners.directory import PartnerDirectory
from troubleticket.store.port import Collection, ListQuery, Page, Store
from troubleticket.store.query import AnyOf, Comparison, Filter, Op, SortKey
from troubleticket.types import JSON

# The order of a listing of deliveries (the API's), and the order dead ones are replayed in.
OLDEST_FIRST = (SortKey(("createdAt",)),)


DELIVERY_COLUMNS = (
    "ID",
    "TARGET",
    "EVENT TYPE",
    "RESOURCE",
    "STATE",
    "ATTEMPTS",
    "NEXT ATTEMPT / LAST ERROR",
    "CREATED",
)


# The longest last error a table shows (the whole one is in --json).
SHOWN_ERROR = 60


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose deliveries: one hub's, one partner's (its lanes), or, naming neither, all."""

    hub: str | None = None
    partner: str | None = None

    def __str__(self) -> str:
        if self.hub is not None:
            return f"hub {self.hub}"
        if self.partner is not None:
            return f"partner {self.partner}"
        return "all hubs and partners"


@dataclass(frozen=True, slots=True)
class Listing:
    """Deliveries as the API shows them, newest first; ``more``: the limit cut some off."""

    items: list[JSON]
    more: bool


@dataclass(frozen=True, slots=True)
class DeadReplay:
    """What ``replay --dead`` did: the new deliveries, and the dead ones it left alone
    because they were replayed before (their replay is the one to look at)."""

    made: list[str]
    skipped: int


class ReplayStopped(Exception):
    """A replay was refused; ``made`` holds the deliveries made by earlier batches, which stay."""

    def __init__(self, message: str, made: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.made = made


class DeliveryAdmin:
    """List and replay deliveries, through the services the API's ``/hub/{id}/delivery`` and
    ``/partner/{id}/delivery`` use; ``partners`` is needed only for a partner's scope."""

    def __init__(
        self, store: Store, hubs: HubService, partners: PartnerDirectory | None = None
    ) -> None:
        self._store = store
        self._hubs = hubs
        self._partners = partners

    def _directory(self) -> PartnerDirectory:
        if self._partners is None:
            raise ValueError("a partner's deliveries need the partner directory")
        return self._partners

    def _page(self, scope: Scope, query: ListQuery) -> Page:
        """One page of the scope's deliveries as the API shows them (newest first unless
        ``query`` sorts otherwise).

        Raises:
            NotFound: no such hub or partner.
        """
        if scope.hub is not None:
            return self._hubs.deliveries(scope.hub, query, NO_CONTEXT)
        if scope.partner is not None:
            return self._directory().deliveries(scope.partner, query, NO_CONTEXT)
        return self._hubs.deliveries_to(None, query)

    def latest(
        self, scope: Scope = Scope(), *, states: Sequence[str] = (), limit: int = 50
    ) -> Listing:
        """The newest ``limit`` deliveries of the scope, in any of ``states`` (all if none).

        Raises:
            NotFound: no such hub or partner.
        """
        page = self._page(scope, ListQuery(where=_in_states(states), limit=limit, count=False))
        return Listing(page.items, more=page.next_cursor is not None)

    def replay(self, delivery_ids: Sequence[str], scope: Scope = Scope()) -> list[str]:
        """Make the named deliveries again (each to its own hub or partner lane, which must be
        the scope's when one is named); returns the ids of the new deliveries.

        Only dead or delivered deliveries are made again, as the API's replay says; the new
        delivery is pending, names the original in ``replayOf`` and carries the same event.

        Raises:
            ReplayStopped: one is unknown (to the scope), not finished, or its event is gone;
                the batches before it (of ``MAX_REPLAY_DELIVERIES``) stay made.
        """
        unique = list(dict.fromkeys(delivery_ids))
        made: list[str] = []
        for start in range(0, len(unique), MAX_REPLAY_DELIVERIES):
            made.extend(
                self._replay_batch(unique[start : start + MAX_REPLAY_DELIVERIES], scope, made)
            )
        return made

    def replay_dead(
        self, scope: Scope = Scope(), *, batch: int = MAX_REPLAY_DELIVERIES
    ) -> DeadReplay:
        """Make every dead delivery of the scope again, oldest first, a batch at a time.

        One replayed before is skipped: its replay says how that went (and is itself made
        again here if it died too), so running this twice sends nothing twice.

        Raises:
            NotFound: no such hub or partner.
            ReplayStopped: a batch was refused (see ``replay``).
        """
        batch = min(batch, MAX_REPLAY_DELIVERIES)
        replayed = self._replayed(scope)
        made: list[str] = []
        skipped = 0
        after: str | None = None
        dead = _in_states((DEAD,))
        while True:
            page = self._page(
                scope,
                ListQuery(where=dead, sort=OLDEST_FIRST, limit=batch, after=after, count=False),
            )
            fresh = [d["id"] for d in page.items if d["id"] not in replayed]
            skipped += len(page.items) - len(fresh)
            if fresh:
                # New deliveries are pending: they never join the dead ones being paged through.
                made.extend(self._replay_batch(fresh, scope, made))
            if page.next_cursor is None or not page.items:
                return DeadReplay(made, skipped)
            after = page.next_cursor

    def _replayed(self, scope: Scope) -> set[str]:
        """The ids of the scope's deliveries some delivery is a replay of."""
        has_original = Filter((AnyOf((Comparison(("replayOf",), Op.REGEX, ""),)),))
        originals: set[str] = set()
        after: str | None = None
        while True:
            page = self._page(
                scope, ListQuery(where=has_original, limit=1000, after=after, count=False)
            )
            originals.update(d["replayOf"] for d in page.items)
            if page.next_cursor is None or not page.items:
                return originals
            after = page.next_cursor

    def _replay_batch(self, ids: list[str], scope: Scope, made: list[str]) -> list[str]:
        body: JSON = {"delivery": ids}
        try:
            if scope.hub is not None:
                result = self._hubs.replay(scope.hub, body, NO_CONTEXT)
            elif scope.partner is not None:
                result = self._directory().replay(scope.partner, body, NO_CONTEXT)
            else:
                result = self._hubs.replay_to(self._targets(ids), body, "The store")
        except TroubleTicketError as exc:
            raise ReplayStopped(exc.message, list(made)) from None
        return list(result["replayed"])

    def _targets(self, ids: list[str]) -> tuple[str, ...]:
        """Where the named deliveries went (hubs, partner lanes): each replay goes there."""
        found = (self._store.get(Collection.DELIVERY, i) for i in ids)
        return tuple(dict.fromkeys(s.doc["hubId"] for s in found if s is not None))


def _in_states(states: Sequence[str]) -> Filter:
    if not states:
        return Filter()
    return Filter((AnyOf(tuple(Comparison(("state",), Op.EQ, s) for s in states)),))


def delivery_row(delivery: JSON) -> tuple[str, ...]:
    """A delivery as a row of ``DELIVERY_COLUMNS``."""
    state = delivery.get("state", "")
    error = delivery.get("lastError")
    if state in (PENDING, DELIVERING):
        outlook = f"next {delivery.get('nextAttemptAt', '')}"
        if error:
            outlook += f" after: {error}"
    elif state == DELIVERED:
        outlook = f"delivered {delivery.get('deliveredAt', '')}"
    else:
        outlook = error or ""
    if len(outlook) > SHOWN_ERROR:
        outlook = outlook[: SHOWN_ERROR - 3] + "..."
    return (
        str(delivery["id"]),
        str(delivery.get("hubId", "")),
        str(delivery.get("eventType", "")),
        str((delivery.get("resource") or {}).get("id", "")),
        str(state),
        str(delivery.get("attempts", 0)),
        outlook,
        str(delivery.get("createdAt", "")),
    )
