"""Dispatchers share the delivery lanes evenly and take over a dead one's (``background.lanes``),
and a dispatcher claims only deliveries of the lanes it holds; on every store adapter."""

from __future__ import annotations

from tests.conftest import FrozenClock
from troubleticket.background.lanes import LaneLeases
from troubleticket.notify.lanes import LANES, lane_of
from troubleticket.store.port import Store


def lanes(store: Store, clock: FrozenClock, holder: str) -> LaneLeases:
    return LaneLeases(store, holder, clock=clock, term=15)


def test_one_dispatcher_holds_every_lane(store: Store, clock: FrozenClock) -> None:
    assert lanes(store, clock, "a").refresh() == frozenset(range(LANES))


def test_a_second_dispatcher_gets_half_once_the_first_gives_its_excess_up(
    store: Store, clock: FrozenClock
) -> None:
    a, b = lanes(store, clock, "a"), lanes(store, clock, "b")
    a.refresh()
    assert b.refresh() == frozenset()  # all taken; b is now known alive
    clock.advance(seconds=5)
    held_a = a.refresh()  # sees two dispatchers: keeps half
    assert len(held_a) == LANES // 2
    held_b = b.refresh()
    assert held_b == frozenset(range(LANES)) - held_a


def test_a_dead_dispatchers_lanes_are_taken_over_after_the_term(
    store: Store, clock: FrozenClock
) -> None:
    a, b = lanes(store, clock, "a"), lanes(store, clock, "b")
    a.refresh()
    b.refresh()
    clock.advance(seconds=5)
    a.refresh()
    b.refresh()
    # a dies (renews no more); within the term its lanes stay its own
    clock.advance(seconds=10)
    assert len(b.refresh()) == LANES // 2
    clock.advance(seconds=6)
    assert b.refresh() == frozenset(range(LANES))


def test_a_dispatcher_stopping_gives_its_lanes_up_at_once(store: Store, clock: FrozenClock) -> None:
    a, b = lanes(store, clock, "a"), lanes(store, clock, "b")
    a.refresh()
    a.release()
    assert b.refresh() == frozenset(range(LANES))


def test_the_lane_follows_subscriber_and_resource_alone() -> None:
    assert lane_of("hub-1", "troubleTicket/42") == lane_of("hub-1", "troubleTicket/42")
    spread = {lane_of("hub-1", f"troubleTicket/{n}") for n in range(200)}
    assert spread == set(range(LANES))


def test_a_dispatcher_short_of_its_share_takes_given_up_lanes_within_a_second(
    store: Store, clock: FrozenClock
) -> None:
    now = [0.0]

    def lanes_at(holder: str) -> LaneLeases:
        return LaneLeases(store, holder, clock=clock, term=15, monotonic=lambda: now[0])

    a, b = lanes_at("a"), lanes_at("b")
    assert len(a()) == LANES
    assert b() == frozenset()  # all held; b counted among the dispatchers from now on
    now[0] = 1.1  # a recount, well before either renews (every 5 s)
    assert len(a()) == LANES // 2  # a saw two dispatchers and gave half up
    assert len(b()) == LANES // 2  # b, short of its share, took them
    assert a() | b() == frozenset(range(LANES))
