"""Log lines: JSON ones parse and carry the request id and the record's fields."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Callable, Iterator

import pytest

from troubleticket import context, logs


def record(message: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("troubleticket.x", logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_a_json_line_is_one_object_with_the_message_and_the_records_fields() -> None:
    line = logs.JsonFormatter().format(record("hello %s", "world", operationId="listTroubleTicket"))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "hello world"
    assert parsed["level"] == "warning"
    assert parsed["logger"] == "troubleticket.x"
    assert parsed["operationId"] == "listTroubleTicket"
    assert parsed["time"].endswith("+00:00")
    assert "requestId" not in parsed  # outside a request


def test_a_line_written_while_a_request_is_handled_names_its_id() -> None:
    token = context.bind("req-42", {})
    try:
        parsed = json.loads(logs.JsonFormatter().format(record()))
    finally:
        context.unbind(token)
    assert parsed["requestId"] == "req-42"


def test_an_exception_is_written_inside_the_line() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        import sys

        made = record()
        made.exc_info = sys.exc_info()
    parsed = json.loads(logs.JsonFormatter().format(made))
    assert "ValueError: broken" in parsed["exception"]


def test_the_access_line_carries_the_request_facts(caplog: pytest.LogCaptureFixture) -> None:
    token = context.bind("req-7", {})
    try:
        with caplog.at_level(logging.INFO, logger=logs.ACCESS):
            logs.access(
                method="GET",
                path="/x",
                status=404,
                duration_ms=1.23456,
                operation_id="retrieveTroubleTicket",
                actor="svc-alpha",
                party=None,
            )
    finally:
        context.unbind(token)
    [line] = [json.loads(logs.JsonFormatter().format(r)) for r in caplog.records]
    assert line["requestId"] == "req-7"
    assert line["status"] == 404 and line["durationMs"] == 1.235
    assert line["operationId"] == "retrieveTroubleTicket" and line["actor"] == "svc-alpha"
    assert "party" not in line
    assert line["message"] == "GET /x 404 1.2 ms"


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], io.StringIO]]:
    """``logs.configure`` writing to a buffer; the logging set-up is restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)

    def configure(format: str) -> io.StringIO:  # noqa: A002
        buffer = io.StringIO()
        monkeypatch.setattr(sys, "stderr", buffer)
        logs.configure("info", format)
        return buffer

    yield configure
    root.handlers[:], level = saved
    root.setLevel(level)
    monkeypatch.setattr(logs, "_direct", None)


def a_request_line() -> None:
    token = context.bind("req-7", {})
    try:
        logs.access(
            method="GET",
            path="/tmf-api/troubleTicket/v5/troubleTicket/t1",
            status=200,
            duration_ms=1.25,
            operation_id="retrieveTroubleTicket",
            actor="alice",
            party=None,
        )
    finally:
        context.unbind(token)


@pytest.mark.parametrize("format", ["json", "text"])
def test_the_direct_access_line_is_the_line_logging_would_write(
    configured: Callable[[str], io.StringIO], format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = configured(format)
    a_request_line()  # written directly
    # a filter on the root logger: the line goes through logging, as a capture would see it
    logging.getLogger().addFilter(lambda _record: True)
    try:
        a_request_line()
    finally:
        logging.getLogger().filters.clear()
    direct, through_logging = buffer.getvalue().splitlines()
    time_of = (
        (lambda line: json.loads(line).pop("time"))
        if format == "json"
        else (lambda line: line[:23])
    )
    without_time = (
        (lambda line: {k: v for k, v in json.loads(line).items() if k != "time"})
        if format == "json"
        else (lambda line: line[23:])
    )
    assert without_time(direct) == without_time(through_logging)
    assert time_of(direct)[:16] == time_of(through_logging)[:16]  # same minute, same shape
    assert len(time_of(direct)) == len(time_of(through_logging))
    if format == "json":
        parsed = json.loads(direct)
        assert parsed["requestId"] == "req-7"
        assert parsed["operationId"] == "retrieveTroubleTicket"
        assert parsed["actor"] == "alice"
        assert parsed["time"].endswith("+00:00")


def test_the_access_line_skips_logging_when_it_reaches_only_the_configured_handler(
    configured: Callable[[str], io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = configured("json")

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the access line went through logging")

    monkeypatch.setattr(logging.Logger, "info", refuse)
    a_request_line()
    assert json.loads(buffer.getvalue())["path"].endswith("/t1")


def test_no_access_line_below_its_level(configured: Callable[[str], io.StringIO]) -> None:
    buffer = configured("json")
    logging.getLogger(logs.ACCESS).setLevel(logging.WARNING)
    try:
        a_request_line()
    finally:
        logging.getLogger(logs.ACCESS).setLevel(logging.NOTSET)
    assert buffer.getvalue() == ""


def test_lines_held_back_are_written_together_in_one_write(
    configured: Callable[[str], io.StringIO],
) -> None:
    buffer = configured("json")
    writes: list[str] = []
    stream = logging.getLogger().handlers[0].stream  # type: ignore[attr-defined]
    original = stream.write

    def counting(text: str) -> int:
        writes.append(text)
        return int(original(text))

    stream.write = counting
    with logs.held():
        a_request_line()
        a_request_line()
        a_request_line()
        during = buffer.getvalue()
    assert during == ""
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 3
    assert all(json.loads(line)["requestId"] == "req-7" for line in lines)
    assert len(writes) == 1
    a_request_line()  # outside: at once
    assert len(buffer.getvalue().splitlines()) == 4


FORGED = (
    "/troubleTicket/x\n2026-01-01 00:00:00,000 INFO troubleticket.access: FORGED\r\x1b[2J\u2028"
)


@pytest.mark.parametrize("through_logging", [False, True], ids=["direct", "logging"])
def test_a_text_line_escapes_what_a_client_sent_so_it_cannot_forge_lines(
    configured: Callable[[str], io.StringIO], through_logging: bool
) -> None:
    buffer = configured("text")
    if through_logging:
        logging.getLogger().addFilter(lambda _record: True)
    try:
        logs.access(
            method="GET",
            path=FORGED,
            status=404,
            duration_ms=1.0,
            operation_id=None,
            actor=None,
            party=None,
        )
        logging.getLogger("troubleticket.x").warning("no such ticket: %s", FORGED)
    finally:
        logging.getLogger().filters.clear()

    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith(
        "/troubleTicket/x\\n2026-01-01 00:00:00,000 INFO troubleticket.access: FORGED\\r"
        "\\x1b[2J\\u2028 404 1.0 ms"
    )
    assert "no such ticket: /troubleTicket/x\\n2026" in lines[1]


def test_a_json_line_stays_one_object_whatever_the_client_sent(
    configured: Callable[[str], io.StringIO],
) -> None:
    buffer = configured("json")
    logs.access(
        method="GET",
        path=FORGED,
        status=404,
        duration_ms=1.0,
        operation_id=None,
        actor=None,
        party=None,
    )

    [line] = buffer.getvalue().split("\n")[:-1]
    assert json.loads(line)["path"] == FORGED


def test_a_traceback_keeps_its_lines_in_text(configured: Callable[[str], io.StringIO]) -> None:
    buffer = configured("text")
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("troubleticket.x").exception("failed")

    text = buffer.getvalue()
    assert "failed\nTraceback (most recent call last):\n" in text
