"""The lease the processes of ``serve --workers N`` compete for, on every store adapter."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tests.conftest import FrozenClock
from troubleticket.background.lease import Lease, while_held
from troubleticket.store.port import Collection, Store


def two(store: Store, clock: FrozenClock) -> tuple[Lease, Lease]:
    return (
        Lease(store, "background", "a", clock=clock, term=15),
        Lease(store, "background", "b", clock=clock, term=15),
    )


def test_the_first_process_takes_the_lease_and_the_second_is_refused(
    store: Store, clock: FrozenClock
) -> None:
    a, b = two(store, clock)
    assert a.hold()
    assert not b.hold()
    assert a.holder_now() == "a"


def test_the_holder_renews_and_keeps_it_while_renewing(store: Store, clock: FrozenClock) -> None:
    a, b = two(store, clock)
    assert a.hold()
    for _ in range(5):
        clock.advance(seconds=10)  # within the term each time
        assert a.hold()
        assert not b.hold()
    assert a.holder_now() == "a"


def test_a_lease_not_renewed_within_its_term_passes_to_another_process(
    store: Store, clock: FrozenClock
) -> None:
    a, b = two(store, clock)
    assert a.hold()
    clock.advance(seconds=14.9)
    assert not b.hold()
    clock.advance(seconds=0.2)  # the holder died: nobody renewed
    assert a.holder_now() is None
    assert b.hold()
    assert not a.hold()  # the old holder, back, finds it taken
    assert b.holder_now() == "b"


def test_a_released_lease_is_free_at_once(store: Store, clock: FrozenClock) -> None:
    a, b = two(store, clock)
    assert a.hold()
    b.release()  # not the holder: changes nothing
    assert not b.hold()
    a.release()
    assert a.holder_now() is None
    assert b.hold()


def test_of_many_processes_racing_for_a_free_lease_exactly_one_gets_it(
    store: Store, clock: FrozenClock
) -> None:
    leases = [Lease(store, "background", f"p{n}", clock=clock) for n in range(12)]
    start = threading.Barrier(len(leases))
    won: list[str] = []

    def race(lease: Lease) -> None:
        start.wait(timeout=10)
        if lease.hold():
            won.append(lease.holder)

    threads = [threading.Thread(target=race, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(won) == 1
    assert leases[0].holder_now() == won[0]


def test_leases_are_not_part_of_an_export() -> None:
    from troubleticket.store.port import DOCUMENT_COLLECTIONS

    assert Collection.LEASE not in DOCUMENT_COLLECTIONS


def test_what_runs_while_held_starts_once_and_stops_with_the_lease(
    store: Store, clock: FrozenClock
) -> None:
    events: list[str] = []

    def stop() -> None:
        events.append("stopped")

    def start() -> Callable[[], None]:
        events.append("started")
        return stop

    def start_b() -> Callable[[], None]:
        events.append("b started")
        return lambda: None

    a = Lease(store, "background", "a", clock=clock, term=0.3)
    b = Lease(store, "background", "b", clock=clock, term=0.3)
    stop_a = while_held(a, start)
    deadline = time.monotonic() + 5
    while "started" not in events and time.monotonic() < deadline:
        time.sleep(0.01)
    stop_b = while_held(b, start_b)
    time.sleep(0.5)  # several renewal rounds of both
    assert events == ["started"]
    assert a.holder_now() == "a"

    stop_a()
    assert events == ["started", "stopped"]
    deadline = time.monotonic() + 5
    while "b started" not in events and time.monotonic() < deadline:
        time.sleep(0.01)
    assert events == ["started", "stopped", "b started"]  # released: b took over
    stop_b()
    assert a.holder_now() is None
