"""Background loops record their passes; readiness tells a stuck loop from a live one."""

from __future__ import annotations

import threading
import time

from troubleticket.background.loops import STUCK_GRACE_S, Heartbeats, start


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_loop_is_stuck_only_once_its_last_pass_is_too_old() -> None:
    clock = Clock()
    beats = Heartbeats(clock)
    beats.beat("dispatcher", 1.0)
    beats.beat("sla-monitor", 30.0)
    clock.now += 3 * 1.0 + STUCK_GRACE_S - 0.5
    assert beats.ages() == {
        "dispatcher": (62.5, False),
        "sla-monitor": (62.5, False),
    }
    clock.now += 1.0
    ages = beats.ages()
    assert ages["dispatcher"] == (63.5, True)
    assert ages["sla-monitor"] == (63.5, False)  # 3 x 30 s + 60 s allowed
    beats.beat("dispatcher", 1.0)
    assert beats.ages()["dispatcher"] == (0.0, False)
    beats.forget("dispatcher")
    assert set(beats.ages()) == {"sla-monitor"}


def test_a_started_loop_beats_while_it_runs_and_is_forgotten_when_stopped() -> None:
    beats = Heartbeats()
    passes = threading.Event()

    def step() -> int:
        passes.set()
        return 0

    stop = start(step, threading.Event(), 0.01, "looping", beats)
    assert passes.wait(5)
    time.sleep(0.05)
    age, stuck = beats.ages()["looping"]
    assert age < 1 and not stuck
    stop()
    assert beats.ages() == {}
