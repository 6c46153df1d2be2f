"""The export file's format: its header and end lines, its errors, and how it is written."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol

from troubleticket.store.port import (
    Collection,
)

FORMAT = "troubleticket-export"


FORMAT_VERSION = 1


DEFAULT_PAGE_SIZE = 1000


DEFAULT_BATCH_SIZE = 500


Counts = dict[Collection, int]


class TransferError(Exception):
    """An export file cannot be imported (or imported only in part); the message says why.

    ``imported`` counts the documents that were stored before the error, by collection.
    """

    def __init__(self, message: str, imported: Mapping[Collection, int] | None = None) -> None:
        super().__init__(message)
        self.imported: Counts = dict(imported or {})


class Progress(Protocol):
    """Told how many documents to expect, then of each page or batch as it is done."""

    def start(self, expected: Mapping[Collection, int]) -> None: ...

    def advance(self, collection: Collection, count: int) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def dumps(value: Any) -> str:
    # allow_nan=False: NaN and Infinity are not JSON, and another reader would refuse the file.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


def rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def by_name(counts: Mapping[Collection, int]) -> dict[str, int]:
    return {collection.value: count for collection, count in counts.items()}


def documents(count: int) -> str:
    return "1 document" if count == 1 else f"{count} documents"


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def kind_of(value: Any) -> str:
    kinds: dict[type, str] = {
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return kinds.get(type(value), type(value).__name__)
