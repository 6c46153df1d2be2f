"""Responses are encoded fast, and every accepted value still reads back exactly."""

from __future__ import annotations

import json
from typing import Any

from tests.api.assertions import created
from tests.builders import a_ticket

TICKETS = "/tmf-api/troubleTicket/v5/troubleTicket"
HUGE = 10**30  # JSON sets no limit on integers; both stores keep 64 bits
LARGEST = 2**63 - 1


def characteristic(value: Any) -> dict[str, Any]:
    return {"@type": "Characteristic", "name": "counter", "valueType": "integer", "value": value}


def test_an_integer_beyond_64_bits_is_refused_by_every_store_and_nothing_is_kept(
    client: Any,
) -> None:
    refused = client.post(TICKETS, json=a_ticket(characteristic=[characteristic(HUGE)]))

    assert refused.status_code == 400
    assert refused.json()["code"] == "malformedBody"
    assert "64-bit" in refused.json()["message"]
    assert client.get(TICKETS).json() == []


def test_the_largest_64_bit_integer_reads_back_exactly(client: Any) -> None:
    ticket = created(client, TICKETS, a_ticket(characteristic=[characteristic(LARGEST)]))
    assert ticket["characteristic"][0]["value"] == LARGEST

    fetched = client.get(f"{TICKETS}/{ticket['id']}")
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/json"
    # parsed with the standard library, which keeps every digit
    assert json.loads(fetched.content)["characteristic"][0]["value"] == LARGEST
    listed = client.get(TICKETS, params={"fields": "characteristic"})
    assert [t["characteristic"][0]["value"] for t in json.loads(listed.content)] == [LARGEST]


def test_text_beyond_ascii_is_sent_as_utf8(client: Any) -> None:
    ticket = created(client, TICKETS, a_ticket(description="Störung ☎️ 故障"))
    fetched = client.get(f"{TICKETS}/{ticket['id']}")
    assert "Störung ☎️ 故障".encode() in fetched.content
    assert fetched.json()["description"] == "Störung ☎️ 故障"
