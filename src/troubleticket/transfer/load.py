"""An export file read back into a store, a batch at a time, every line checked."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from troubleticket.domain import major_incident
from troubleticket.store.port import (
    DOCUMENT_COLLECTIONS,
    Collection,
    CounterChange,
    DuplicateId,
    Store,
    Stored,
)
from troubleticket.transfer.format import (
    DEFAULT_BATCH_SIZE,
    FORMAT,
    FORMAT_VERSION,
    Counts,
    Progress,
    TransferError,
    documents,
    dumps,
    is_count,
    kind_of,
    reject_constant,
)


def import_store(
    store: Store,
    lines: Iterable[str | bytes],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> Counts:
    """Store every document of an export file, read line by line; return the counts.

    ``lines`` are text, or UTF-8 bytes (a file opened in binary mode): bytes are decoded line by
    line, so a bad byte is reported on its own line. Consecutive documents of one collection are
    inserted ``batch_size`` at a time, each batch all or nothing. Blank lines are skipped.

    Raises:
        TransferError: the input is not a whole export file this version reads, or the store
            refused a batch (an id it already holds). Batches before the failing line stay
            imported; the message says how many documents that is.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    return _Import(store, batch_size, progress).run(lines)


class _Import:
    """One run of ``import_store``: the counts so far and the batch being gathered."""

    def __init__(self, store: Store, batch_size: int, progress: Progress | None) -> None:
        self._store = store
        self._batch_size = batch_size
        self._progress = progress
        self._listed: Counts = {}
        self._read: Counts = {}
        self._imported: Counts = {}
        self._last_imported_line = 0
        self._batch_collection: Collection | None = None
        self._batch: list[Stored] = []
        self._batch_lines: list[int] = []

    def run(self, lines: Iterable[str | bytes]) -> Counts:
        number = 0
        ended = False
        for number, line in self._decoded(lines):
            if number == 1:
                self._header(line)
            elif not line.strip():
                continue
            elif ended:
                raise self._error(number, "text after the end line")
            else:
                value = self._parse(number, line)
                if "end" in value:
                    self._flush()
                    self._end(number, value)
                    ended = True
                else:
                    self._document(number, value)
        if number == 0:
            raise TransferError("the input is empty: expected the header of a troubleticket export")
        self._flush()
        if not ended:
            raise TransferError(
                f"the input ends after line {number} without the end line of the export: it was "
                f"cut short, or the export failed while writing it. {self._imported_so_far()}",
                self._imported,
            )
        return dict(self._imported)

    def _decoded(self, lines: Iterable[str | bytes]) -> Iterator[tuple[int, str]]:
        iterator = iter(lines)
        number = 0
        while True:
            try:
                raw = next(iterator)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                # Text decoded by the caller, a buffer at a time: the line is not known exactly.
                raise TransferError(
                    f"after line {number}: not UTF-8 text ({exc.reason}). "
                    f"{self._imported_so_far()}",
                    self._imported,
                ) from exc
            number += 1
            if isinstance(raw, bytes):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise self._error(
                        number, f"not UTF-8 text ({exc.reason} at byte {exc.start + 1})"
                    ) from exc
            else:
                line = raw
            # A byte order mark an editor may have added is not part of the header.
            yield number, line.removeprefix("\ufeff") if number == 1 else line

    def _parse(self, number: int, line: str) -> dict[str, Any]:
        try:
            value = json.loads(line, parse_constant=reject_constant)
        except json.JSONDecodeError as exc:
            raise self._error(number, f"not JSON ({exc.msg} at column {exc.colno})") from exc
        except ValueError as exc:
            raise self._error(number, f"not JSON ({exc})") from exc
        if not isinstance(value, dict):
            raise self._error(number, f"expected a JSON object, found {kind_of(value)}")
        return value

    def _header(self, line: str) -> None:
        try:
            header = self._parse(1, line)
        except TransferError as exc:
            raise TransferError(f"{exc}: expected the header of a troubleticket export") from exc
        if header.get("format") != FORMAT:
            raise self._error(
                1, f'not the header of a troubleticket export (no "format": "{FORMAT}")'
            )
        version = header.get("formatVersion")
        if not is_count(version):
            raise self._error(1, f"formatVersion must be an integer, not {dumps(version)}")
        if version != FORMAT_VERSION:
            raise self._error(
                1,
                f"formatVersion {version} is not one this troubleticket reads (it reads "
                f"{FORMAT_VERSION}); import with the release that wrote the file, or a newer one",
            )
        self._listed = self._counts(1, header.get("collections"), "the header")
        self._read = dict.fromkeys(self._listed, 0)
        self._imported = dict.fromkeys(self._listed, 0)
        if self._progress is not None:
            self._progress.start(self._listed)

    def _counts(self, number: int, raw: Any, where: str) -> Counts:
        if not isinstance(raw, dict):
            raise self._error(number, f'{where} has no "collections" object')
        counts: Counts = {}
        for name, count in raw.items():
            collection = self._collection(number, name)
            if not is_count(count) or count < 0:
                raise self._error(
                    number, f"{where} counts {dumps(count)} {name}: not a whole number"
                )
            counts[collection] = count
        return counts

    def _collection(self, number: int, name: Any) -> Collection:
        try:
            collection = Collection(name)
            if collection not in DOCUMENT_COLLECTIONS:
                raise ValueError(name)
            return collection
        except ValueError:
            known = " or ".join(c.value for c in DOCUMENT_COLLECTIONS)
            raise self._error(
                number, f"unknown collection {dumps(name)} (expected {known})"
            ) from None

    def _document(self, number: int, line: dict[str, Any]) -> None:
        if not {"collection", "document"} <= set(line) <= {"collection", "version", "document"}:
            keys = ", ".join(dumps(key) for key in line)
            raise self._error(
                number,
                f'expected "collection", "document" and optionally "version" (or the end line), '
                f"found {keys}",
            )
        version = line.get("version", 1)
        if not is_count(version) or version < 1:
            raise self._error(
                number, f"version must be a whole number from 1, not {dumps(version)}"
            )
        collection = self._collection(number, line["collection"])
        if collection not in self._listed:
            raise self._error(number, f"collection {collection} is not listed in the header")
        doc = line["document"]
        if not isinstance(doc, dict):
            raise self._error(number, f"the document is {kind_of(doc)}, not a JSON object")
        doc_id = doc.get("id")
        if not isinstance(doc_id, str) or not doc_id:
            raise self._error(number, f'the {collection} document has no "id" (a non-empty string)')
        if collection != self._batch_collection:
            self._flush()
            self._batch_collection = collection
        self._batch.append(Stored(doc, version))
        self._batch_lines.append(number)
        self._read[collection] += 1
        if len(self._batch) == self._batch_size:
            self._flush()

    def _end(self, number: int, line: dict[str, Any]) -> None:
        if line.get("end") is not True or set(line) != {"end", "collections"}:
            raise self._error(number, 'the end line must be {"end": true, "collections": {...}}')
        declared = self._counts(number, line["collections"], "the end line")
        if declared.keys() != self._listed.keys():
            raise self._error(number, "the end line lists other collections than the header")
        differ = [c for c in declared if declared[c] != self._read[c]]
        if differ:
            found = ", ".join(
                f"{declared[c]} {c} but the file holds {self._read[c]}" for c in differ
            )
            raise self._error(
                number, f"the end line counts {found}: lines were removed or added since the export"
            )

    def _flush(self) -> None:
        collection, batch, lines = self._batch_collection, self._batch, self._batch_lines
        if collection is None or not batch:
            return
        try:
            self._store.restore(collection, batch, counters=_counters_of(collection, batch))
        except DuplicateId as exc:
            span = f"line {lines[0]}" if len(lines) == 1 else f"lines {lines[0]}-{lines[-1]}"
            raise TransferError(
                f"{span}: the store refused this batch of {documents(len(batch))} of "
                f"{collection}, none of which was imported: {self._duplicate(exc)}. "
                f"{self._imported_so_far()}. Import into an empty store.",
                self._imported,
            ) from exc
        self._imported[collection] += len(batch)
        self._last_imported_line = lines[-1]
        self._batch, self._batch_lines = [], []
        if self._progress is not None:
            self._progress.advance(collection, len(batch))

    def _duplicate(self, exc: DuplicateId) -> str:
        # The store says only that some id is taken; name the first one, so it can be found.
        assert self._batch_collection is not None
        first_seen: dict[str, int] = {}
        for item, number in zip(self._batch, self._batch_lines, strict=True):
            doc_id = item.doc["id"]
            if doc_id in first_seen:
                return f"id {dumps(doc_id)} on line {number} repeats line {first_seen[doc_id]}"
            first_seen[doc_id] = number
            if self._store.get(self._batch_collection, doc_id) is not None:
                return f"id {dumps(doc_id)} on line {number} is already in the store"
        return f"an id is already in the store ({exc})"

    def _imported_so_far(self) -> str:
        total = sum(self._imported.values())
        if not total:
            return "Nothing was imported"
        each = ", ".join(
            f"{count} {collection}" for collection, count in self._imported.items() if count
        )
        return (
            f"Imported: {documents(total)} up to line {self._last_imported_line} ({each}), "
            "none after"
        )

    def _error(self, number: int, problem: str) -> TransferError:
        if number == 1:
            return TransferError(f"line 1: {problem}", self._imported)
        return TransferError(f"line {number}: {problem}. {self._imported_so_far()}", self._imported)


def _counters_of(collection: Collection, batch: list[Stored]) -> list[CounterChange]:
    """What the tickets of a batch count in their major incidents' rollups (derived, so not
    exported: made again here, in the batch's own write)."""
    if collection != Collection.TROUBLE_TICKET:
        return []
    totals: Counter[tuple[str, str]] = Counter()
    for item in batch:
        for key, name, delta in major_incident.counter_changes(None, item.doc):
            totals[(key, name)] += delta
    return [CounterChange(key, name, delta) for (key, name), delta in totals.items() if delta]
