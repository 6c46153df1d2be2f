"""Log lines: JSON ones parse and carry the request id and the record's fields."""

from __future__ import annotations

import json
import logging

import pytest

from troubleticket import logs
from troubleticket.api import request_id


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
    token = request_id.bind("req-42", {})
    try:
        parsed = json.loads(logs.JsonFormatter().format(record()))
    finally:
        request_id.unbind(token)
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
    token = request_id.bind("req-7", {})
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
        request_id.unbind(token)
    [line] = [json.loads(logs.JsonFormatter().format(r)) for r in caplog.records]
    assert line["requestId"] == "req-7"
    assert line["status"] == 404 and line["durationMs"] == 1.235
    assert line["operationId"] == "retrieveTroubleTicket" and line["actor"] == "svc-alpha"
    assert "party" not in line
    assert line["message"] == "GET /x 404 1.2 ms"
