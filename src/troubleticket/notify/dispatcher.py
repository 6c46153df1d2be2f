"""The dispatcher: relays recorded events, fans them out to hubs, and delivers them.

One pass (``run_once``) does three things, each safe to run in several processes at once:

1. **relay** — asks the store to make recorded events visible (a no-op for SQLite);
2. **fan-out** — turns each event not yet fanned out into one delivery per hub whose query
   selects it (delivery id ``{hub}:{event}``, so a second fan-out of the same event adds nothing);
3. **deliver** — claims due deliveries with a lease (a compare-and-set on the delivery, so two
   workers never make the same attempt) and POSTs each event to its hub, signed when the hub has
   a secret. A delivery waits while an earlier event of the same resource to the same hub is not
   finished, so each subscriber gets the events of a resource in the order they happened.

A failed attempt is retried on the schedule (Standard Webhooks' by default), then dead-lettered.
An attempt whose worker died is taken over when its lease expires: delivery is at least once, and
every attempt of one event carries the same ``eventId`` (``webhook-id``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from troubleticket.domain.documents import timestamp
from troubleticket.domain.signing import headers as signature_headers
from troubleticket.notify.delivery import (
    DEFAULT_DELIVERY,
    USER_AGENT,
    Attempt,
    DeliveryPolicy,
    Outcome,
    Performer,
    Sender,
    listener_url,
)
from troubleticket.notify.hubs import delivers, hub_event
from troubleticket.notify.lanes import lane_of
from troubleticket.notify.outbox import (
    CANCELLED,
    DEAD,
    DELIVERED,
    DELIVERING,
    FANNED_OUT,
    FIRST_EVENT,
    PENDING,
    RECORDED,
    UNFINISHED,
    new_delivery,
)
from troubleticket.store.port import (
    Collection,
    DuplicateId,
    ListQuery,
    Store,
    Stored,
    StoreUnavailable,
    Write,
)
from troubleticket.store.query import AnyOf, Comparison, Filter, Op, SortKey, instant
from troubleticket.types import JSON, Clock

logger = logging.getLogger(__name__)


# Pages of due deliveries one pass reads at most, looking for ones that need not wait.
MAX_PAGES_PER_PASS = 10
# Candidates a pass considers for each delivery it may claim (some must wait their turn).
CANDIDATES_PER_CLAIM = 4


def _equals(path: str, value: str) -> AnyOf:
    return AnyOf((Comparison((path,), Op.EQ, value),))


def _at_or_before(path: str, stamp: str) -> AnyOf:
    return AnyOf((Comparison((path,), Op.LTE, stamp),))


@dataclass(frozen=True, slots=True)
class _Post:
    url: str
    body: bytes
    headers: dict[str, str]


def _instant(stamp: str) -> datetime:
    moment = instant(stamp)
    assert moment is not None, stamp
    return moment


class Dispatcher:
    """Moves events from the outbox to subscribers; see the module docstring."""

    def __init__(
        self,
        store: Store,
        *,
        sender: Sender,
        clock: Clock,
        worker_id: str,
        policy: DeliveryPolicy = DEFAULT_DELIVERY,
        perform: Performer | None = None,
        overlapping: bool = False,
        on_free: Callable[[], None] | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        lanes: Callable[[], frozenset[int] | None] | None = None,
    ) -> None:
        """``perform``: carries out internal requests (to partners); without it they wait.

        ``overlapping``: a pass starts its attempts and returns; later passes claim more while
        they run, up to ``concurrency`` in flight, of which one subscriber may hold at most
        half, so a slow endpoint never holds back the others; ``on_free`` is told whenever an
        attempt ends (to wake the loop that runs the passes). Without it a pass waits for its
        attempts, which is what a caller stepping the dispatcher by hand (tests) needs.
        ``on_attempt`` is told what each attempt came to.

        ``lanes``: the delivery lanes (``notify.lanes``) this dispatcher holds now, asked at
        each pass; it claims deliveries of those lanes only, and fans events out while it holds
        lane 0. Without it (or when it answers ``None``) every lane is this dispatcher's.
        """
        self._store = store
        self._send = sender
        self._perform = perform
        self._clock = clock
        self._worker = worker_id
        self._policy = policy
        self._pool = ThreadPoolExecutor(policy.concurrency, thread_name_prefix="delivery")
        self._overlapping = overlapping
        self._on_free = on_free
        self._on_attempt = on_attempt
        self._flight_lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()  # attempts running, by hub
        self._lanes = lanes
        # attempts ended whose results are not written yet, written together by the next pass
        self._ended: list[tuple[Stored, JSON]] = []

    def close(self) -> None:
        """Wait for the attempts running on threads; close the sender when it has connections
        of its own (``notify.pooled``)."""
        self._pool.shutdown(wait=True)
        close = getattr(self._send, "close", None)
        if close is not None:
            close()

    # -- one pass ------------------------------------------------------------------------------

    def run_once(self) -> int:
        """One relay, fan-out and delivery pass; returns how much it did (0: idle)."""
        self.record_ended()
        lanes = self._lanes() if self._lanes is not None else None
        relayed = self._store.relay_events(self._policy.batch)
        fanned = self.fan_out() if lanes is None or 0 in lanes else 0
        attempted = self.deliver_due(lanes)
        return relayed + fanned + attempted

    # -- fan-out -------------------------------------------------------------------------------

    def fan_out(self) -> int:
        """Create the deliveries of events not yet fanned out; returns how many events."""
        page = self._store.list(
            Collection.EVENT,
            ListQuery(
                count=False, where=Filter((_equals("state", RECORDED),)), limit=self._policy.batch
            ),
        )
        if not page.items:
            return 0
        hubs = self._all_hubs()
        now = self._clock()
        # The schedule's first delay comes before the first attempt (0 by default).
        first_attempt = now + timedelta(seconds=self._policy.schedule[0])
        deliveries: list[JSON] = []
        for event in page.items:
            # An internal request goes to its target alone; an event to the hubs it selects.
            targets = (
                [event["target"]]
                if "target" in event
                else [
                    hub["id"]
                    for hub in hubs
                    if hub["createdAt"] <= event["recordedAt"] and delivers(hub, event)
                ]
            )
            deliveries += [
                new_delivery(
                    delivery_id=f"{target}:{event['id']}",
                    hub_id=target,
                    event=event,
                    now=now,
                    due=first_attempt,
                )
                for target in targets
            ]
        # The deliveries first, then the events marked: a crash between fans the same events
        # out again, which adds nothing (same delivery ids).
        self._write_each(Collection.DELIVERY, [Write(d, None) for d in deliveries])
        # Events are written once (version 1) and changed only here.
        self._write_each(
            Collection.EVENT,
            [Write({**event, "state": FANNED_OUT}, 1) for event in page.items],
        )
        return len(page.items)

    def _write_each(self, collection: Collection, writes: list[Write]) -> list[Stored | None]:
        """Each write on its own terms (an insert of an id that exists is skipped, a replace
        whose version moved on is not made), in one transaction where the store has them: the
        commit of a pass's claims or results, not one per delivery."""
        if not writes:
            return []
        try:
            return self._store.write(collection, writes)
        except (DuplicateId, StoreUnavailable):
            pass  # an insert made before (the batch wrote nothing), or no transactions here
        written: list[Stored | None] = []
        for one in writes:
            if one.expected_version is None:
                try:
                    written.append(self._store.insert(collection, one.doc))
                except DuplicateId:
                    written.append(None)
            else:
                stored = self._store.replace(
                    collection, one.doc, expected_version=one.expected_version
                )
                written.append(stored)
        return written

    def _all_hubs(self) -> list[JSON]:
        hubs: list[JSON] = []
        after = None
        while True:
            page = self._store.list(Collection.HUB, ListQuery(count=False, limit=1000, after=after))
            hubs.extend(page.items)
            if page.next_cursor is None or not page.items:
                return hubs
            after = page.next_cursor

    # -- delivery ------------------------------------------------------------------------------

    def deliver_due(self, lanes: frozenset[int] | None = None) -> int:
        """Claim the deliveries that are due (of ``lanes``; all when ``None``) and attempt them;
        returns how many were attempted."""
        now = self._clock()
        stamp = timestamp(now)
        batch = self._policy.batch
        taken: Counter[str] = Counter()
        per_hub = batch
        if self._overlapping:
            with self._flight_lock:
                taken.update(self._in_flight)
            batch = min(batch, self._policy.concurrency - taken.total())
            per_hub = max(1, self._policy.concurrency // 2)
            if batch <= 0:
                return 0
        candidates: dict[str, JSON] = {}
        wanted = batch * CANDIDATES_PER_CLAIM

        def consider(candidate: JSON) -> None:
            hub = candidate["hubId"]
            if lanes is not None and lane_of(hub, candidate["resourceKey"]) not in lanes:
                return
            if taken[hub] < per_hub and len(candidates) < wanted:  # a full hub waits
                candidates.setdefault(candidate["id"], candidate)

        # Attempts whose worker died: their lease has run out.
        abandoned = Filter((_equals("state", DELIVERING), _at_or_before("leaseUntil", stamp)))
        for candidate in self._store.list(
            Collection.DELIVERY, ListQuery(count=False, where=abandoned, limit=batch)
        ).items:
            consider(candidate)
        # Due deliveries, earliest first. Those that must wait for an earlier event of their
        # resource are moved behind it (see _claim_all), so they cannot crowd the front; a
        # bounded number of further pages is read when the first is all waiting ones or
        # another dispatcher's lanes.
        due = Filter((_equals("state", PENDING), _at_or_before("nextAttemptAt", stamp)))
        after = None
        for _ in range(MAX_PAGES_PER_PASS):
            if len(candidates) >= wanted:
                break
            page = self._store.list(
                Collection.DELIVERY,
                ListQuery(
                    count=False,
                    where=due,
                    sort=(SortKey(("nextAttemptAt",)),),
                    limit=batch,
                    after=after,
                ),
            )
            for candidate in page.items:
                consider(candidate)
            if page.next_cursor is None:
                break
            after = page.next_cursor
        claimed = self._claim_all(list(candidates.values()), now, batch, taken, per_hub)
        if not claimed:
            return 0
        # What the attempts of this pass read: each hub and event once, however many deliveries.
        hubs = {
            hub_id: self._store.get(Collection.HUB, hub_id)
            for hub_id in {c.doc["hubId"] for c in claimed}
        }
        events = {
            event_id: self._store.get(Collection.EVENT, event_id)
            for event_id in {c.doc["eventId"] for c in claimed}
        }
        if not self._overlapping:
            list(self._pool.map(lambda c: self._attempt(c, hubs, events), claimed))
            self.record_ended()
            return len(claimed)
        with self._flight_lock:
            self._in_flight.update(c.doc["hubId"] for c in claimed)
        start = getattr(self._send, "start", None)
        for one in claimed:
            if start is None or not self._started(start, one, hubs, events):
                self._pool.submit(self._attempt_and_free, one, hubs, events)
        return len(claimed)

    def _started(
        self,
        start: Callable[..., None],
        claimed: Stored,
        hubs: dict[str, Stored | None],
        events: dict[str, Stored | None],
    ) -> bool:
        """Hand a hub's attempt to a sender that runs attempts itself (``notify.pooled``):
        whether it did (a partner request goes to the thread pool instead)."""
        try:
            prepared = self._prepare(claimed, hubs, events)
        except Exception:
            logger.exception("delivery %s failed unexpectedly", claimed.doc["id"])
            self._free(claimed)
            return True
        if prepared is None:
            self._free(claimed)
            return True
        event, post = prepared
        if post is None:
            return False
        started = time.perf_counter()

        def then(outcome: Outcome) -> None:
            try:
                self._conclude(claimed, event, outcome, started)
            except Exception:  # the lease runs out and another pass retries it
                logger.exception("delivery %s failed unexpectedly", claimed.doc["id"])
            finally:
                self._free(claimed)

        start(post.url, post.body, post.headers, self._policy.timeout, then)
        return True

    def _attempt_and_free(
        self, claimed: Stored, hubs: dict[str, Stored | None], events: dict[str, Stored | None]
    ) -> None:
        try:
            self._attempt(claimed, hubs, events)
        finally:
            self._free(claimed)

    def _free(self, claimed: Stored) -> None:
        """An attempt of the overlapping mode ended: its slot is free."""
        with self._flight_lock:
            self._in_flight[claimed.doc["hubId"]] -= 1
            self._in_flight += Counter()  # drops hubs with none left
        if self._on_free is not None:
            self._on_free()

    def _unfinished_of(self, candidates: list[JSON]) -> dict[tuple[str, str], JSON]:
        """For each (hub, resource) of ``candidates``: its earliest unfinished delivery — the
        one whose turn it is; the others of that subscriber and resource wait for it."""
        pairs = {(c["hubId"], c["resourceKey"]) for c in candidates}
        unfinished = Filter(
            (
                AnyOf(tuple(Comparison(("hubId",), Op.EQ, h) for h in {h for h, _ in pairs})),
                AnyOf(tuple(Comparison(("resourceKey",), Op.EQ, k) for k in {k for _, k in pairs})),
                AnyOf(tuple(Comparison(("state",), Op.EQ, s) for s in UNFINISHED)),
            )
        )
        first: dict[tuple[str, str], JSON] = {}
        after = None
        while True:
            page = self._store.list(
                Collection.DELIVERY,
                ListQuery(count=False, where=unfinished, limit=1000, after=after),
            )
            for delivery in page.items:
                pair = (delivery["hubId"], delivery["resourceKey"])
                if pair in pairs and (
                    pair not in first or delivery["orderKey"] < first[pair]["orderKey"]
                ):
                    first[pair] = delivery
            if page.next_cursor is None or not page.items:
                return first
            after = page.next_cursor

    def _claim_all(
        self, candidates: list[JSON], now: datetime, batch: int, taken: Counter[str], per_hub: int
    ) -> list[Stored]:
        """Lease those of ``candidates`` whose turn it is, in order, in one write: ``batch`` at
        most, and no more for a hub than ``per_hub`` with those it has ``taken``; returns them."""
        if not candidates:
            return []
        stamp = timestamp(now)
        lease_end = timestamp(now + timedelta(seconds=self._policy.lease))
        # the first event of a resource (its creation) has none before it
        later = [c for c in candidates if c["orderKey"] != FIRST_EVENT]
        turns = self._unfinished_of(later) if later else {}
        writes: list[Write] = []
        leasing: list[bool] = []
        for candidate in candidates:
            if leasing.count(True) >= batch:
                break
            if taken[candidate["hubId"]] >= per_hub:
                continue
            stored = self._store.get(Collection.DELIVERY, candidate["id"])
            if stored is None:
                continue
            delivery = stored.doc
            pending_due = delivery["state"] == PENDING and delivery["nextAttemptAt"] <= stamp
            lapsed = delivery["state"] == DELIVERING and delivery.get("leaseUntil", "") <= stamp
            if not (pending_due or lapsed):
                continue
            turn = turns.get((delivery["hubId"], delivery["resourceKey"]))
            if turn is not None and turn["id"] != delivery["id"]:
                if turn["state"] == PENDING and turn["nextAttemptAt"] > delivery["nextAttemptAt"]:
                    # Due only after the one it waits for, which then sorts first.
                    behind = timestamp(_instant(turn["nextAttemptAt"]) + timedelta(milliseconds=1))
                    writes.append(Write({**delivery, "nextAttemptAt": behind}, stored.version))
                    leasing.append(False)
                continue
            leased = {
                **delivery,
                "state": DELIVERING,
                "leaseUntil": lease_end,
                "leaseOwner": self._worker,
            }
            writes.append(Write(leased, stored.version))
            leasing.append(True)
            taken[delivery["hubId"]] += 1
        written = self._write_each(Collection.DELIVERY, writes)
        return [done for done, lease in zip(written, leasing, strict=True) if lease and done]

    def _attempt(
        self, claimed: Stored, hubs: dict[str, Stored | None], events: dict[str, Stored | None]
    ) -> None:
        try:
            self._attempt_unsafe(claimed, hubs, events)
        except Exception:  # the lease runs out and another pass retries it
            logger.exception("delivery %s failed unexpectedly", claimed.doc["id"])

    def _attempt_unsafe(
        self, claimed: Stored, hubs: dict[str, Stored | None], events: dict[str, Stored | None]
    ) -> None:
        prepared = self._prepare(claimed, hubs, events)
        if prepared is None:
            return
        event, post = prepared
        started = time.perf_counter()
        if post is None:
            assert self._perform is not None
            outcome = self._perform(claimed.doc, event)
        else:
            outcome = self._send(post.url, post.body, post.headers, self._policy.timeout)
        self._conclude(claimed, event, outcome, started)

    def _prepare(
        self, claimed: Stored, hubs: dict[str, Stored | None], events: dict[str, Stored | None]
    ) -> tuple[JSON, _Post | None] | None:
        """The event and the POST of an attempt (``None`` for a partner request, which the
        performer makes); ``None`` when there is nothing to attempt (its end is kept)."""
        delivery = claimed.doc
        event = events[delivery["eventId"]]
        if event is None:
            self._finish(claimed, {"state": DEAD, "lastError": "the event is no longer kept"})
            return None
        if "target" in event.doc:
            if self._perform is None:
                # no performer in this process: another worker's, when its lease runs out
                return None
            return event.doc, None
        hub = hubs[delivery["hubId"]]
        if hub is None:
            self._finish(claimed, {"state": CANCELLED})
            return None
        return event.doc, self._post(delivery, hub.doc, event.doc)

    def _conclude(self, claimed: Stored, event: JSON, outcome: Outcome, started: float) -> None:
        """Keep what the attempt came to (``_finish``) and tell ``on_attempt``."""
        delivery = claimed.doc
        seconds = time.perf_counter() - started
        attempts = delivery.get("attempts", 0) + 1
        now = self._clock()
        result: JSON = {"attempts": attempts, "lastAttemptAt": timestamp(now)}
        if outcome.status is not None:
            result["lastStatusCode"] = outcome.status
        if outcome.again_after is not None and outcome.status is not None and outcome.status < 400:
            # done for now; due again later, its failures counted afresh
            again = timestamp(now + timedelta(seconds=outcome.again_after))
            result |= {"state": PENDING, "nextAttemptAt": again, "attempts": 0}
            result.pop("lastError", None)
        elif outcome.delivered:
            result |= {"state": DELIVERED, "deliveredAt": timestamp(now)}
        else:
            result["lastError"] = outcome.error or f"HTTP {outcome.status}"
            schedule = self._policy.schedule
            if attempts < len(schedule):
                delay = timedelta(seconds=schedule[attempts])
                result |= {"state": PENDING, "nextAttemptAt": timestamp(now + delay)}
            else:
                result["state"] = DEAD
                logger.warning(
                    "delivery %s dead after %d attempts: %s",
                    delivery["id"],
                    attempts,
                    result["lastError"],
                )
        self._finish(claimed, result)
        if self._on_attempt is not None:
            latency = None
            if result["state"] == DELIVERED:
                latency = (now - _instant(event["recordedAt"])).total_seconds()
            failed = "lastError" in result
            partner = "target" in event
            state = result["state"]
            self._on_attempt(Attempt(delivery["hubId"], partner, state, failed, seconds, latency))

    def _post(self, delivery: JSON, hub: JSON, event: JSON) -> _Post:
        """The POST of an event to a hub's callback, signed when the hub has a secret."""
        shown = hub_event(hub, event["body"])
        try:
            body = orjson.dumps(shown)
        except TypeError:  # an integer beyond 64 bits, kept from before requests refused them
            body = json.dumps(shown, ensure_ascii=False, separators=(",", ":")).encode()
        url = hub["callback"]
        if hub.get("appendEventListenerPath"):
            url = listener_url(url, delivery["eventType"])
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if "secret" in hub:
            headers |= signature_headers(hub["secret"], delivery["eventId"], int(time.time()), body)
        return _Post(url, body, headers)

    def _finish(self, claimed: Stored, changes: JSON) -> None:
        """Keep what an attempt came to; ``record_ended`` writes it with the others'."""
        finished = {
            key: value
            for key, value in {**claimed.doc, **changes}.items()
            if key not in ("leaseUntil", "leaseOwner")
            and not (
                key == "lastError" and "lastError" not in changes and changes.get("attempts") == 0
            )
        }
        with self._flight_lock:
            self._ended.append((claimed, finished))

    def record_ended(self) -> int:
        """Write what the attempts ended since the last call came to, in one write; returns
        how many. Until then an ended attempt still holds its lease, so nothing follows it."""
        with self._flight_lock:
            ended, self._ended = self._ended, []
        if not ended:
            return 0
        written = self._write_each(
            Collection.DELIVERY,
            [Write(finished, claimed.version) for claimed, finished in ended],
        )
        for (claimed, finished), done in zip(ended, written, strict=True):
            if done is None:
                # The lease lapsed and another worker took the delivery over; it reports its own.
                logger.warning(
                    "delivery %s was taken over before its attempt was recorded",
                    claimed.doc["id"],
                )
            elif finished["state"] != PENDING and claimed.doc.get("attempts", 0) > 0:
                # Deliveries moved behind this one while it was being retried are due now.
                self._release_followers(finished)
        return len(ended)

    def _release_followers(self, delivery: JSON) -> None:
        stamp = timestamp(self._clock())
        followers = Filter(
            (
                _equals("hubId", delivery["hubId"]),
                _equals("resourceKey", delivery["resourceKey"]),
                AnyOf((Comparison(("orderKey",), Op.GT, delivery["orderKey"]),)),
                _equals("state", PENDING),
                AnyOf((Comparison(("nextAttemptAt",), Op.GT, stamp),)),
            )
        )
        after = None
        while True:
            page = self._store.list(
                Collection.DELIVERY, ListQuery(count=False, where=followers, limit=500, after=after)
            )
            for follower in page.items:
                stored = self._store.get(Collection.DELIVERY, follower["id"])
                if stored is not None and stored.doc["state"] == PENDING:
                    self._store.replace(
                        Collection.DELIVERY,
                        {**stored.doc, "nextAttemptAt": stamp},
                        expected_version=stored.version,
                    )
            if page.next_cursor is None or not page.items:
                return
            after = page.next_cursor
