"""One access log line per request, with its id, operation, status and duration."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.api.assertions import created
from tests.builders import TICKETS, a_ticket
from troubleticket import logs


def lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = logs.JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == logs.ACCESS]


def test_every_request_gets_one_line_naming_its_id_and_operation(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ticket = created(client, TICKETS, a_ticket())
    with caplog.at_level(logging.INFO, logger=logs.ACCESS):
        client.get(f"{TICKETS}/{ticket['id']}", headers={"X-Request-ID": "probe-1"})
        client.get(TICKETS, params={"limit": 1}, headers={"X-Request-ID": "probe-2"})
        client.get(f"{TICKETS}/nope", headers={"X-Request-ID": "probe-3"})
        client.patch(f"{TICKETS}/{ticket['id']}", json=[], headers={"X-Request-ID": "probe-4"})
    # the create's own line is written at the end of its event loop turn, which may come late
    got = [line for line in lines(caplog) if line["requestId"].startswith("probe-")]
    assert [(g["requestId"], g["method"], g["status"], g.get("operationId")) for g in got] == [
        ("probe-1", "GET", 200, "retrieveTroubleTicket"),
        ("probe-2", "GET", 200, "listTroubleTicket"),
        ("probe-3", "GET", 404, "retrieveTroubleTicket"),
        ("probe-4", "PATCH", 400, "patchTroubleTicket"),  # refused before its handler ran
    ]
    assert all(g["path"].startswith(TICKETS) and g["durationMs"] > 0 for g in got)
