"""The live board's event stream against real servers: uvicorn in a thread of the test (its
clock and callers the test's), and ``troubleticket serve`` in a process of its own for the
shutdown. Streams are read as a browser's EventSource reads them, a line at a time."""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.builders import TICKETS, a_ticket
from tests.conftest import FrozenClock
from tests.console.test_console import ALPHA, ALPHA_PARTY, OPERATOR, FixedAuth
from tests.e2e.conftest import ServerFactory, free_port
from troubleticket.app import create_app
from troubleticket.config import Settings
from troubleticket.console import ConsoleOptions, StreamTimes
from troubleticket.console.auth import Caller
from troubleticket.console.events import Stopping
from troubleticket.store.sqlite import SqliteStore

# Looks every 50 ms, a keep-alive every 200 ms: a test waits a fraction of a second.
FAST = StreamTimes(interval=0.05, keepalive=0.2, longest=30.0)
WAIT_S = 5.0


@contextmanager
def serving(app: Any) -> Iterator[tuple[str, list[float]]]:
    """``app`` served by uvicorn on a free port until the block ends; the base URL, and how
    long stopping the server took (filled in at the end)."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="console-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    stopped: list[float] = []
    try:
        yield f"http://127.0.0.1:{port}", stopped
    finally:
        began = time.monotonic()
        server.should_exit = True
        thread.join(timeout=WAIT_S * 2)
        stopped.append(time.monotonic() - began)
        assert not thread.is_alive(), "the server did not stop"


@pytest.fixture
def auth() -> FixedAuth:
    return FixedAuth()


@pytest.fixture
def app(tmp_path: Path, auth: FixedAuth) -> Iterator[Any]:
    store = SqliteStore(tmp_path / "stream.sqlite3")
    settings = Settings(store=str(tmp_path / "stream.sqlite3"), dispatch="off")
    yield create_app(
        settings,
        store=store,
        clock=FrozenClock(),
        console_options=ConsoleOptions(stream=FAST, auth=auth.bind),
    )


def lines_until(lines: Iterator[str], wanted: str, seconds: float = WAIT_S) -> list[str]:
    """The lines read up to and including ``wanted`` (fails after ``seconds``)."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    for line in lines:
        seen.append(line)
        if line == wanted:
            return seen
        assert time.monotonic() < deadline, f"no {wanted!r} within {seconds} s: {seen}"
    raise AssertionError(f"the stream ended before {wanted!r}: {seen}")


def create(base: str, **overrides: Any) -> None:
    answer = httpx.post(f"{base}{TICKETS}", json=a_ticket(**overrides), timeout=WAIT_S)
    assert answer.status_code == 201, answer.text


def test_a_change_through_the_api_is_told_as_a_board_event(app: Any) -> None:
    with (
        serving(app) as (base, _stopped),
        httpx.Client(base_url=base, timeout=WAIT_S) as http,
        http.stream("GET", "/console/events") as stream,
    ):
        lines = stream.iter_lines()
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-store"
        assert next(lines) == "retry: 2000"

        quiet = lines_until(lines, ": keep-alive")  # nothing changed: only keep-alives
        create(base)
        told = lines_until(lines, "event: board")

        assert "event: board" not in quiet
        assert told[-1] == "event: board"
        assert next(lines) == "data: changed"


def test_a_change_between_the_page_and_its_stream_is_told_at_the_first_look(app: Any) -> None:
    with (
        serving(app) as (base, _stopped),
        httpx.Client(base_url=base, timeout=WAIT_S) as http,
    ):
        page = http.get("/console/")
        assert page.status_code == 200
        found = re.search(r'sse-connect="/console/events\?seen=([0-9a-f]{16})"', page.text)
        assert found is not None, "the board's stream does not carry what the page showed"
        unchanged = found.group(1)
        create(base)  # after the page, before its stream connects

        with http.stream("GET", f"/console/events?seen={unchanged}") as stream:
            lines = stream.iter_lines()
            assert next(lines) == "retry: 2000"
            told = lines_until(lines, "event: board")
        # the same page now: nothing to tell until something changes
        current = re.search(r"seen=([0-9a-f]{16})", http.get("/console/").text)
        assert current is not None
        with http.stream("GET", f"/console/events?seen={current.group(1)}") as stream:
            lines = stream.iter_lines()
            assert next(lines) == "retry: 2000"
            quiet = lines_until(lines, ": keep-alive")

    assert told[-1] == "event: board"
    assert "event: board" not in quiet


def test_the_filters_and_the_callers_view_decide_what_is_a_change(
    app: Any, auth: FixedAuth
) -> None:
    auth.who = ALPHA
    customer = {
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "role": "customer",
        "partyOrPartyRole": ALPHA_PARTY,
    }
    with (
        serving(app) as (base, _stopped),
        httpx.Client(base_url=base, timeout=WAIT_S) as http,
        http.stream("GET", "/console/events?priority=Low") as stream,
    ):
        lines = stream.iter_lines()
        assert next(lines) == "retry: 2000"

        create(base, severity="Minor")  # Low, but not Alpha's
        create(base, severity="Major", relatedParty=[customer])  # Alpha's, but Medium
        unseen = lines_until(lines, ": keep-alive") + lines_until(lines, ": keep-alive")
        create(base, severity="Minor", relatedParty=[customer])  # Alpha's and Low
        seen = lines_until(lines, "event: board")

        assert "event: board" not in unseen
        assert seen[-1] == "event: board"


def test_the_stream_ends_by_itself_and_the_browser_is_told_to_come_back(
    tmp_path: Path, auth: FixedAuth
) -> None:
    short = StreamTimes(interval=0.05, keepalive=0.2, longest=0.5)
    app = create_app(
        Settings(store=str(tmp_path / "short.sqlite3"), dispatch="off"),
        console_options=ConsoleOptions(stream=short, auth=auth.bind),
    )
    with serving(app) as (base, _stopped):
        began = time.monotonic()
        answer = httpx.get(f"{base}/console/events", timeout=WAIT_S)
        took = time.monotonic() - began

    assert answer.status_code == 200
    assert answer.text.startswith("retry: 2000\n\n")
    assert 0.4 < took < 2.0


def test_a_client_that_goes_away_does_not_hold_the_server(app: Any) -> None:
    with serving(app) as (base, stopped):
        with (
            httpx.Client(base_url=base, timeout=WAIT_S) as http,
            http.stream("GET", "/console/events") as stream,
        ):
            assert next(stream.iter_lines()) == "retry: 2000"
        time.sleep(0.3)  # the server notices the connection closed

    assert stopped[0] < 1.5


def test_a_caller_who_may_not_read_is_told_not_to_reconnect(app: Any, auth: FixedAuth) -> None:
    auth.who = Caller(OPERATOR.context, frozenset(), "nobody", "session-nobody")
    with serving(app) as (base, _stopped):
        answer = httpx.get(f"{base}/console/events", timeout=WAIT_S)

    assert answer.status_code == 204
    assert answer.text == ""


def test_an_open_stream_does_not_hold_a_shutdown(tmp_path: Path) -> None:
    """``serve`` stopped by SIGTERM while a board is open exits within about a second, not when
    the stream would end (5 minutes)."""
    servers = ServerFactory(tmp_path)
    try:
        process = servers.serve()
        console = process.base.split("/tmf-api")[0] + "/console/events"
        with httpx.Client(timeout=WAIT_S) as http, http.stream("GET", console) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "retry: 2000"
            began = time.monotonic()
            process.stop()
            took = time.monotonic() - began
            rest = list(lines)  # the stream ended: the server closed it

        assert took < 2.5, process.log()
        assert "event: board" not in rest
    finally:
        servers.close()


def test_a_stop_signal_sets_the_flag_and_reaches_the_handler_before() -> None:
    received: list[int] = []
    original = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda signum, _frame: received.append(signum))
    try:
        stopping = Stopping()
        undo = stopping.watch_signals()
        signal.raise_signal(signal.SIGTERM)
        undo()
        signal.raise_signal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, original)

    assert stopping.is_set()
    assert received == [signal.SIGTERM, signal.SIGTERM]  # the second after the undo


def test_no_signal_is_watched_outside_the_main_thread() -> None:
    before = signal.getsignal(signal.SIGINT)
    undone: list[bool] = []

    def watch() -> None:
        Stopping().watch_signals()()
        undone.append(signal.getsignal(signal.SIGINT) is before)

    thread = threading.Thread(target=watch)
    thread.start()
    thread.join()

    assert undone == [True]
