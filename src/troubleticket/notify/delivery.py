"""One delivery attempt: the policy it follows (schedule, timeout, lease), what it came to, and the
sender that POSTs an event to a subscriber."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests

from troubleticket.domain.events import listener_name
from troubleticket.notify.egress import EgressPolicy
from troubleticket.types import JSON

USER_AGENT = "troubleticket-dispatcher"

# Seconds a dispatcher holds a claimed delivery attempt before another may take it over.
LEASE_SECONDS = 120

# Delays before each delivery attempt: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
# 10 h (as Standard Webhooks); after the last failure a delivery is dead-lettered.
DEFAULT_DELIVERY_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    schedule: tuple[float, ...] = DEFAULT_DELIVERY_SCHEDULE
    timeout: float = 10.0  # seconds an attempt may take before it counts as failed
    lease: float = LEASE_SECONDS  # seconds a claimed attempt is reserved for its worker
    concurrency: int = 64  # attempts in flight at once
    batch: int = 200  # events fanned out / deliveries claimed per pass

    def __post_init__(self) -> None:
        if not self.schedule:
            raise ValueError("the delivery schedule needs at least one attempt")
        if self.lease <= self.timeout:
            raise ValueError("the lease must outlast the attempt timeout")


# Standard Webhooks' schedule, a 10 s timeout, a 120 s lease, 64 attempts at once.
DEFAULT_DELIVERY = DeliveryPolicy()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: an HTTP status, or an error without one. ``again_after``: the
    attempt succeeded and the work recurs (a poll): it is due again that many seconds later."""

    status: int | None
    error: str | None = None
    again_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one delivery attempt came to (told to ``on_attempt``, for the metrics).

    ``state``: the delivery's state after it (delivered; pending: due again, after a failure or
    as a partner asked; dead); ``failed``: the subscriber did not take it; ``seconds``: how long
    the attempt took; ``latency``: from the event's commit to its delivery, when delivered.
    """

    hub_id: str
    partner: bool
    state: str
    failed: bool
    seconds: float
    latency: float | None = None


class Sender(Protocol):
    def __call__(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> Outcome: ...


class Performer(Protocol):
    """Carries out an internal request (an event with a ``target``) for its delivery."""

    def __call__(self, delivery: JSON, event: JSON) -> Outcome: ...


def listener_url(callback: str, event_type: str) -> str:
    """``{callback}/listener/{eventName}``, the callback's query string kept at the end."""
    parts = urlsplit(callback)
    path = f"{parts.path.rstrip('/')}/listener/{listener_name(event_type)}"
    return urlunsplit(parts._replace(path=path))


# An answer's body is read up to this much, so that its connection goes back to the pool for
# the next attempt; a longer answer is cut off and its connection dropped.
ANSWER_BYTES = 64 * 1024


def http_sender(egress: EgressPolicy) -> Sender:
    """POSTs with ``requests``: one session (connection pool) per delivery thread, connecting
    only where ``egress`` permits (checked at connect time), no redirects; of the answer only
    the status counts, and its body is read to ``ANSWER_BYTES`` at most, within the timeout."""
    local = threading.local()

    def send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = egress.session()
        started = time.monotonic()
        try:
            response = session.post(
                url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            )
        except requests.RequestException as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
        try:
            read = 0
            for chunk in response.iter_content(16 * 1024):
                read += len(chunk)
                if read > ANSWER_BYTES or time.monotonic() - started > timeout:
                    break  # not worth keeping the connection for
        except requests.RequestException:
            pass  # the status has arrived: a broken body does not change it
        finally:
            response.close()  # back to the pool when the body was read whole, else dropped
        return Outcome(response.status_code)

    return send


class FirstUse:
    """A sender made when it is first used: the pooled sender's library (aiohttp, a fifth of a
    second to import) and its event loop thread cost a process nothing until it has something
    to deliver. Passes ``start`` and ``close`` on (``notify.pooled``)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._made: Any = None
        self._lock = threading.Lock()

    def _sender(self) -> Any:
        with self._lock:
            if self._made is None:
                self._made = self._make()
            return self._made

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        outcome: Outcome = self._sender()(url, body, headers, timeout)
        return outcome

    def start(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
        then: Callable[[Outcome], None],
    ) -> None:
        self._sender().start(url, body, headers, timeout, then)

    def close(self) -> None:
        with self._lock:
            made, self._made = self._made, None
        if made is not None:
            made.close()
