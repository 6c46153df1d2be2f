"""Opaque cursors for keyset paging (TMF621 v5 ``before`` / ``after``).

A cursor records the sort-key values of one listed document and the sort it belongs to. The page
after it holds the documents ordered after those values, so documents inserted meanwhile never
shift a page the way an offset does. What the values are (a column, a row sequence) is the
store's business; clients only hand cursors back.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from troubleticket.domain.errors import InvalidRequest

MAX_CURSOR_LENGTH = 4096


def encode(values: list[Any], signature: str) -> str:
    """The cursor for a position (its key values) in the order named by ``signature``."""
    raw = json.dumps({"s": signature, "v": values}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, signature: str) -> list[Any]:
    """The key values a cursor holds.

    Raises:
        InvalidRequest: not a cursor this server issued, or one issued for another sort order.
    """
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidRequest("The paging cursor is too long to be one this server issued")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        values, issued_for = data["v"], data["s"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidRequest("The paging cursor is not one this server issued") from None
    if not isinstance(values, list) or issued_for != signature:
        raise InvalidRequest(
            "The paging cursor belongs to another sort order; start again without a cursor"
        )
    return values
