"""What one write may produce, and what one patch may ask for.

A request body is bounded (``TT_MAX_BODY_BYTES``), but what a write makes of it is not: a JSON
Patch of a kilobyte can copy an array onto itself thirty times and ask for gigabytes. So every
write that a request (or a partner's event) makes is checked against three limits, and refused
with 413 and nothing written:

* ``document_bytes``: the resource as stored, encoded as JSON, without its audit trail (which is
  the server's own bookkeeping, appended by every change);
* ``array_items``: the items of any one array in it;
* ``patch_operations``: the operations of one JSON Patch (or JSON Patch Query).

A JSON Patch is checked while it is applied (``PatchBudget``), so the amplification stops at the
first operation that passes the limit instead of after the whole patch has been built in memory.
The result of every write is checked again, exactly (``check_document``).

A resource stored before the limits were lowered is not locked: a write is refused only when it
makes the document larger than the limit *and* larger than it was, or an array over the limit
longer than it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from troubleticket.domain.errors import LimitExceeded
from troubleticket.types import JSON

DOCUMENT_TOO_LARGE = "documentTooLarge"
TOO_MANY_ITEMS = "tooManyItems"
TOO_MANY_OPERATIONS = "tooManyOperations"


@dataclass(frozen=True, slots=True)
class Limits:
    document_bytes: int
    array_items: int
    patch_operations: int

    def check_operations(self, count: int) -> None:
        """Raises LimitExceeded: a patch with more operations than one request may send."""
        if count > self.patch_operations:
            raise LimitExceeded(
                f"A patch may have at most {self.patch_operations} operations; "
                f"this one has {count}",
                code=TOO_MANY_OPERATIONS,
            )

    def too_large(self, size: int) -> LimitExceeded:
        return LimitExceeded(
            f"The resource would take {size} bytes; at most {self.document_bytes} are kept",
            code=DOCUMENT_TOO_LARGE,
        )

    def too_many_items(self, where: str, count: int) -> LimitExceeded:
        return LimitExceeded(
            f"{where} would hold {count} items; an array holds at most {self.array_items}",
            code=TOO_MANY_ITEMS,
        )


def encoded_size(value: Any) -> int:
    """The bytes of ``value`` as compact JSON."""
    return len(orjson.dumps(value))


def check_document(
    doc: JSON, before: JSON | None, limits: Limits, *, ignore: Iterable[str] = ()
) -> None:
    """Check the document a write produces (``before``: what it replaces, if anything).

    Raises:
        LimitExceeded: ``doc`` (without the ``ignore`` attributes) encodes to more than the
            limit and more than ``before`` did, or it has an array over the limit that is
            longer than the same array in ``before``.
    """
    ignored = set(ignore)
    counted = {k: v for k, v in doc.items() if k not in ignored}
    size = encoded_size(counted)
    if size > limits.document_bytes:
        prior = {k: v for k, v in (before or {}).items() if k not in ignored}
        if before is None or size > encoded_size(prior):
            raise limits.too_large(size)
    # an array of more than N items takes at least 2N bytes ("[1,1,...]")
    if size > 2 * limits.array_items:
        _check_arrays(counted, before, limits.array_items, limits, "")


def _check_arrays(node: Any, prior: Any, limit: int, limits: Limits, where: str) -> None:
    """Refuse an array of ``node`` over ``limit`` that is longer than at the same place in
    ``prior`` (walked without recursion)."""
    pending = [(node, prior, where)]
    while pending:
        value, was, at = pending.pop()
        if isinstance(value, dict):
            old = was if isinstance(was, dict) else {}
            pending.extend(
                (child, old.get(name), f"{at}/{name}")
                for name, child in value.items()
                if isinstance(child, dict | list)
            )
        elif isinstance(value, list):
            old_items = was if isinstance(was, list) else []
            if len(value) > limit and len(value) > len(old_items):
                raise limits.too_many_items(at or "/", len(value))
            pending.extend(
                (child, old_items[i] if i < len(old_items) else None, f"{at}/{i}")
                for i, child in enumerate(value)
                if isinstance(child, dict | list)
            )


class PatchBudget:
    """The size of a document being patched, kept as an upper bound operation by operation,
    and measured exactly whenever that bound passes the limit."""

    def __init__(self, doc: Any, limits: Limits) -> None:
        self._limits = limits
        self._size = encoded_size(doc)
        self._base = self._size

    @staticmethod
    def adding(value: Any, path: str) -> int:
        """What putting ``value`` at ``path`` adds to the document, at most (its member name,
        quotes, colon and comma included)."""
        return encoded_size(value) + len(path) + 4

    def spend(self, doc: Any, added: int, where: str, array: list[Any] | None, was: int) -> None:
        """Account for an operation just applied to ``doc`` that added at most ``added`` bytes
        and, when it went into ``array`` (``was`` items before), check that array.

        Raises:
            LimitExceeded: the document, or that array, is now over its limit.
        """
        limits = self._limits
        if array is not None and len(array) > limits.array_items and len(array) > was:
            raise limits.too_many_items(where, len(array))
        self._size += added
        if self._size > limits.document_bytes:
            self._size = encoded_size(doc)
            if self._size > limits.document_bytes and self._size > self._base:
                raise limits.too_large(self._size)
