"""Responses are encoded fast, and every accepted value still reads back exactly."""

from __future__ import annotations

import json
from typing import Any

from tests.api.assertions import created
from tests.builders import a_ticket
from troubleticket.store.mongo import MongoStore
from troubleticket.store.port import Store

TICKETS = "/tmf-api/troubleTicket/v5/troubleTicket"
HUGE = 10**30  # JSON sets no limit on integers; 64-bit encoders do


def characteristic(value: Any) -> dict[str, Any]:
    return {"@type": "Characteristic", "name": "counter", "valueType": "integer", "value": value}


def test_an_integer_beyond_64_bits_reads_back_exactly(client: Any, store: Store) -> None:
    if isinstance(store, MongoStore):  # BSON has no such integers: refused whole, with a reason
        refused = client.post(TICKETS, json=a_ticket(characteristic=[characteristic(HUGE)]))
        assert refused.status_code == 400
        assert "8-byte ints" in refused.json()["message"]
        assert client.get(TICKETS).json() == []
        return
    ticket = created(client, TICKETS, a_ticket(characteristic=[characteristic(HUGE)]))
    assert ticket["characteristic"][0]["value"] == HUGE

    fetched = client.get(f"{TICKETS}/{ticket['id']}")
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/json"
    # parsed with the standard library, which keeps every digit
    assert json.loads(fetched.content)["characteristic"][0]["value"] == HUGE
    listed = client.get(TICKETS, params={"fields": "characteristic"})
    assert [t["characteristic"][0]["value"] for t in json.loads(listed.content)] == [HUGE]


def test_text_beyond_ascii_is_sent_as_utf8(client: Any) -> None:
    ticket = created(client, TICKETS, a_ticket(description="Störung ☎️ 故障"))
    fetched = client.get(f"{TICKETS}/{ticket['id']}")
    assert "Störung ☎️ 故障".encode() in fetched.content
    assert fetched.json()["description"] == "Störung ☎️ 故障"
