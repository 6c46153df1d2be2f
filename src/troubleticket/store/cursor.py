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
import math
from typing import Any

from troubleticket import strict_json
from troubleticket.domain.errors import InvalidRequest
from troubleticket.store.port import Page
from troubleticket.store.query import SortKey
from troubleticket.types import INT64_MAX, INT64_MIN, JSON

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
        data = strict_json.loads(raw.decode())
        values, issued_for = data["v"], data["s"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidRequest("The paging cursor is not one this server issued") from None
    if not isinstance(values, list) or issued_for != signature:
        raise InvalidRequest(
            "The paging cursor belongs to another sort order; start again without a cursor"
        )
    return values


def sort_signature(sort: tuple[SortKey, ...]) -> str:
    """What a cursor must have been issued for: this sort order."""
    return ",".join(("-" if key.descending else "") + ".".join(key.path) for key in sort)


def cursor_values(cursor: str, signature: str, count: int) -> list[Any]:
    """The key values of a cursor, checked against the number of keys of its order.

    Raises:
        InvalidRequest: the cursor is not one issued for this order.
    """
    values = decode(cursor, signature)
    if len(values) != count or not all(_a_key(value) for value in values):
        raise InvalidRequest("The paging cursor is not one this server issued")
    return values


def _a_key(value: Any) -> bool:
    """Whether ``value`` could be a sort key this server wrote (what ``sort_value`` gives)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str)


def assemble_page(
    rows: list[tuple[JSON, list[Any]]],
    *,
    total: int | None,
    limit: int,
    offset: int,
    forward: bool,
    cursor: str | None,
    signature: str,
) -> Page:
    """The page of a listing from the rows read for it, with cursors to its neighbours.

    ``rows`` are (document, position) pairs in the walking direction — backwards for a
    ``before`` page — with at most one row beyond the page, which tells whether there is more
    in that direction.
    """
    more = len(rows) > limit
    rows = rows[:limit] if forward else rows[:limit][::-1]
    if not rows:
        return Page([], total)
    earlier = more if not forward else (cursor is not None or offset > 0)
    later = more if forward else True
    return Page(
        [doc for doc, _position in rows],
        total,
        next_cursor=encode(rows[-1][1], signature) if later else None,
        prev_cursor=encode(rows[0][1], signature) if earlier else None,
    )
