"""Stored documents for the export/import tests: realistic ones, and one rich in JSON edge cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.builders import a_full_ticket, a_specification, a_ticket
from troubleticket.domain.specification import create_specification
from troubleticket.domain.ticket import create_ticket
from troubleticket.store.port import Collection, ListQuery, Store
from troubleticket.types import JSON

TICKETS = Collection.TROUBLE_TICKET
SPECIFICATIONS = Collection.TROUBLE_TICKET_SPECIFICATION
CREATED = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)


def ticket(doc_id: str, *, minute: int = 0, full: bool = False) -> JSON:
    """A ticket as the service stores it."""
    body = a_full_ticket() if full else a_ticket(description=f"ticket {doc_id}")
    return create_ticket(body, resource_id=doc_id, now=CREATED + timedelta(minutes=minute))


def specification(doc_id: str) -> JSON:
    return create_specification(
        a_specification(name=f"spec {doc_id}"), resource_id=doc_id, now=CREATED
    )


def rich_ticket(doc_id: str) -> JSON:
    """A stored ticket using every kind of JSON value a round trip could bend.

    Keys are deliberately out of alphabetical order, and floats with integral values sit next
    to integers, so that a reordering or a 1.0 -> 1 shows in the document's JSON text.
    """
    doc = ticket(doc_id, full=True)
    doc.update(
        {
            "zebra": "first of the extra keys, yet last in the alphabet",
            "alpha": 1,
            "description": "Ünïcödé — 日本語 — עברית — ملف — emoji 🛠️👩🏽‍💻🇧🇪 — 𝔘𝔫𝔦",
            "controlCharacters": "tab\t lf\n cr\r nul\x00 bell\x07 esc\x1b del\x7f",
            # Line separators a str.splitlines() would break a line at; JSON leaves them raw.
            "lineSeparators": "ls\u2028 ps\u2029 nel\x85 vt\x0b ff\x0c fs\x1c",
            "escapes": 'back\\slash "quoted" /solidus </script>',
            "zero": 0.0,
            "negativeZero": -0.0,
            "integralFloat": 1.0,
            "integer": 1,
            "beyondDoublePrecision": 2**53 + 1,
            "negativeBig": -(2**63),
            "tiny": 1e-300,
            "subnormal": 5e-324,
            "largest": 1.7976931348623157e308,
            "third": 1 / 3,
            "flags": {"yes": True, "no": False, "nothing": None},
            "empties": {"list": [], "object": {}, "string": ""},
            "nested": {"z": [1, [2.5, [3, {"y": None, "b": [{}], "a": [[[]]]}]]], "m": {"k": {}}},
            "mixed": [0.0, 0, "0", False, None, [], {}, -1.5e-7],
            "troubleTicketCharacteristic": [
                {"@type": "FloatCharacteristic", "name": "ratio", "value": 0.0},
                {"@type": "IntegerCharacteristic", "name": "count", "value": 9007199254740993},
                {"@type": "ObjectCharacteristic", "name": "o", "value": {"ß": "ẞ", "k": [True]}},
            ],
        }
    )
    return doc


def as_text(doc: JSON) -> str:
    """A document's JSON text in its own key order: differs on reordering, 1.0 vs 1, -0.0 vs 0."""
    return json.dumps(doc, ensure_ascii=False)


def listed(store: Store, collection: Collection) -> list[JSON]:
    """Every document of a collection in insertion order, read page by page."""
    docs: list[JSON] = []
    after: str | None = None
    while True:
        page = store.list(collection, ListQuery(limit=50, after=after))
        docs.extend(page.items)
        if page.next_cursor is None or not page.items:
            return docs
        after = page.next_cursor
