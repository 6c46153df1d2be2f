"""export_store / import_store: the file, a lossless round trip, and every way an import fails.

Stores are real ``SqliteStore`` files; where a test must watch the calls (paging, streaming) it
wraps one in a small recording proxy.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.unit.transfer_samples import (
    DELIVERIES,
    EVENTS,
    HUBS,
    SPECIFICATIONS,
    TICKETS,
    as_text,
    counts,
    counts_by_name,
    insert_notifications,
    listed,
    notification_documents,
    rich_ticket,
    specification,
    ticket,
)
from troubleticket.store.port import (
    DOCUMENT_COLLECTIONS,
    Collection,
    CounterChange,
    ListQuery,
    Page,
    Store,
    Stored,
    Write,
)
from troubleticket.store.sqlite import SqliteStore
from troubleticket.transfer import FORMAT, TransferError, export_store, import_store
from troubleticket.types import JSON

FROZEN_NOW = "2026-11-20T09:00:00.123Z"
TZ_PLUS_ONE = timezone(timedelta(hours=1))


@pytest.fixture
def source(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "source.sqlite3")
    yield store
    store.close()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "target.sqlite3")
    yield store
    store.close()


def frozen_clock() -> datetime:
    return datetime(2026, 11, 20, 9, 0, 0, 123456, tzinfo=UTC).astimezone(TZ_PLUS_ONE)


def exported(store: Store, **options: Any) -> str:
    out = io.StringIO()
    export_store(store, out, clock=frozen_clock, **options)
    return out.getvalue()


def header(**collections: int) -> str:
    return json.dumps(
        {
            "format": FORMAT,
            "formatVersion": 1,
            "exportedAt": FROZEN_NOW,
            "collections": collections,
        }
    )


def doc_line(doc: JSON, collection: str = "troubleTicket") -> str:
    return json.dumps({"collection": collection, "document": doc})


def end_line(**collections: int) -> str:
    return json.dumps({"end": True, "collections": collections})


def export_file(tickets: Sequence[JSON], specifications: Sequence[JSON] = ()) -> list[str]:
    """The lines of an export file holding these documents."""
    return [
        header(troubleTicket=len(tickets), troubleTicketSpecification=len(specifications)),
        *(doc_line(doc) for doc in tickets),
        *(doc_line(doc, "troubleTicketSpecification") for doc in specifications),
        end_line(troubleTicket=len(tickets), troubleTicketSpecification=len(specifications)),
    ]


def text(lines: Iterable[str]) -> list[str]:
    return [line + "\n" for line in lines]


class Recorder:
    """A Progress that remembers what it was told."""

    def __init__(self) -> None:
        self.expected: dict[Collection, int] | None = None
        self.advances: list[tuple[Collection, int]] = []

    def start(self, expected: Mapping[Collection, int]) -> None:
        self.expected = dict(expected)

    def advance(self, collection: Collection, count: int) -> None:
        self.advances.append((collection, count))


class RecordingStore:
    """Delegates to a store and logs each list, scanned document and restore into an event log."""

    def __init__(self, inner: Store, events: list[str] | None = None) -> None:
        self.inner = inner
        self.events = events if events is not None else []
        self.queries: list[ListQuery] = []
        self.batches: list[list[str]] = []

    def list(self, collection: Collection, query: ListQuery) -> Page:
        self.queries.append(query)
        self.events.append(f"list {collection} limit={query.limit}")
        return self.inner.list(collection, query)

    def scan(self, collection: Collection) -> Iterator[Stored]:
        for item in self.inner.scan(collection):
            self.events.append(f"read {item.doc['id']}")
            yield item

    def restore(
        self, collection: Collection, items: Iterable[Stored], *, counters: Any = ()
    ) -> int:
        batch = list(items)
        self.batches.append([item.doc["id"] for item in batch])
        self.events.append(f"restore {len(batch)}")
        return self.inner.restore(collection, batch, counters=counters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class TestRoundTrip:
    @pytest.mark.parametrize(("page_size", "batch_size"), [(1000, 500), (3, 2), (1, 1)])
    def test_every_document_arrives_exactly_as_it_was_stored(
        self, source: SqliteStore, target: SqliteStore, page_size: int, batch_size: int
    ) -> None:
        tickets = [
            ticket("tt-3", minute=3),
            rich_ticket("tt-rich"),
            ticket("tt-1", minute=1, full=True),
            *(ticket(f"tt-{n}", minute=n) for n in range(10, 17)),
        ]
        specs = [specification("spec-b"), specification("spec-a")]
        source.insert_many(TICKETS, tickets)
        source.insert_many(SPECIFICATIONS, specs)

        out = io.StringIO()
        written = export_store(source, out, page_size=page_size)
        imported = import_store(target, io.StringIO(out.getvalue()), batch_size=batch_size)

        assert written == imported == counts(troubleTicket=10, troubleTicketSpecification=2)
        for collection, originals in ((TICKETS, tickets), (SPECIFICATIONS, specs)):
            copies = listed(target, collection)
            assert [doc["id"] for doc in copies] == [doc["id"] for doc in originals]
            assert copies == originals
            assert [as_text(doc) for doc in copies] == [as_text(doc) for doc in originals]
            for original in originals:
                stored = target.get(collection, original["id"])
                assert stored is not None
                assert as_text(stored.doc) == as_text(original)

    def test_the_edge_cases_survive_a_file_by_type_not_only_by_value(
        self, source: SqliteStore, target: SqliteStore, tmp_path: Path
    ) -> None:
        source.insert(TICKETS, rich_ticket("tt-rich"))
        path = tmp_path / "export.jsonl"
        with path.open("w", encoding="utf-8", newline="\n") as out:
            export_store(source, out)

        with path.open("rb") as lines:
            import_store(target, lines)

        stored = target.get(TICKETS, "tt-rich")
        assert stored is not None
        copy = stored.doc
        assert list(copy) == list(rich_ticket("tt-rich"))
        assert copy["zero"] == 0.0 and isinstance(copy["zero"], float)
        assert str(copy["negativeZero"]) == "-0.0"
        assert isinstance(copy["integralFloat"], float)
        assert copy["beyondDoublePrecision"] == 9007199254740993
        assert isinstance(copy["beyondDoublePrecision"], int)
        assert copy["negativeBig"] == -9223372036854775808
        assert copy["tiny"] == 1e-300 and copy["subnormal"] == 5e-324
        assert copy["third"] == 1 / 3
        assert copy["flags"] == {"yes": True, "no": False, "nothing": None}
        assert copy["flags"]["yes"] is True
        assert copy["controlCharacters"] == "tab\t lf\n cr\r nul\x00 bell\x07 esc\x1b del\x7f"
        assert copy["lineSeparators"] == "ls\u2028 ps\u2029 nel\x85 vt\x0b ff\x0c fs\x1c"
        assert copy["description"].endswith("🛠️👩🏽‍💻🇧🇪 — 𝔘𝔫𝔦")
        assert list(copy["nested"]["z"][1][1][1]) == ["y", "b", "a"]

    def test_subscriptions_events_and_deliveries_arrive_with_their_versions(
        self, source: SqliteStore, target: SqliteStore
    ) -> None:
        source.insert(TICKETS, ticket("tt-1"))
        insert_notifications(source)
        originals: dict[Collection, list[Stored]] = {
            collection: list(source.scan(collection)) for collection in DOCUMENT_COLLECTIONS
        }
        notified = (HUBS, EVENTS, DELIVERIES)
        assert {c: [item.doc for item in originals[c]] for c in notified} == (
            notification_documents()
        )
        assert {c: [item.version for item in originals[c]] for c in notified} == {
            HUBS: [1, 2],
            EVENTS: [2, 1],
            DELIVERIES: [8, 1, 1],
        }

        out = io.StringIO()
        written = export_store(source, out, page_size=2)
        imported = import_store(target, io.StringIO(out.getvalue()), batch_size=2)

        assert written == imported == counts(troubleTicket=1, hub=2, event=2, delivery=3)
        copies = {collection: list(target.scan(collection)) for collection in DOCUMENT_COLLECTIONS}
        assert copies == originals
        for collection in DOCUMENT_COLLECTIONS:
            assert [as_text(item.doc) for item in copies[collection]] == [
                as_text(item.doc) for item in originals[collection]
            ]

    def test_a_major_incidents_rollup_is_made_again_from_its_children(
        self, source: SqliteStore, target: SqliteStore
    ) -> None:
        from troubleticket.domain import major_incident as mi

        def child(ticket_id: str, status: str, customer: str) -> JSON:
            party = {"role": "customer", "partyOrPartyRole": {"id": customer}}
            return {
                **ticket(ticket_id, minute=1),
                "status": status,
                "relatedParty": [party],
                "troubleTicketRelationship": [{"id": "mi-1", "relationshipType": "isChildOf"}],
                mi.PARENT: "mi-1",
            }

        kids = [child("c-1", "acknowledged", "p-1"), child("c-2", "resolved", "p-2")]
        kids.append(child("c-3", "inProgress", "p-1"))
        source.insert_many(TICKETS, [{**ticket("mi-1", minute=0), "ticketType": "majorIncident"}])
        for kid in kids:  # as the ticket service writes them: the rollup in the same write
            changes = [CounterChange(*c) for c in mi.counter_changes(None, kid)]
            source.write(TICKETS, [Write(kid, None, counters=changes)])

        out = io.StringIO()
        export_store(source, out)
        import_store(target, io.StringIO(out.getvalue()), batch_size=2)

        for key in (mi.rollup_key("mi-1"), mi.customers_key("mi-1")):
            assert target.counters(key) == source.counters(key)
        assert target.counters(mi.rollup_key("mi-1")) == {
            "total": 3,
            "open": 2,
            "status:acknowledged": 1,
            "status:inProgress": 1,
            "status:resolved": 1,
        }
        assert target.count_counters(mi.customers_key("mi-1")) == 1  # p-1; p-2's is resolved

    def test_an_empty_store_exports_a_header_and_an_end_line_and_imports_as_nothing(
        self, source: SqliteStore, target: SqliteStore
    ) -> None:
        content = exported(source)

        assert [json.loads(line) for line in content.splitlines()] == [
            json.loads(header(**counts_by_name())),
            json.loads(end_line(**counts_by_name())),
        ]
        assert import_store(target, io.StringIO(content)) == counts()


class TestExportFile:
    def test_header_document_lines_and_end_line(self, source: SqliteStore) -> None:
        source.insert_many(TICKETS, [ticket("tt-1"), ticket("tt-2")])
        source.insert(SPECIFICATIONS, specification("spec-1"))

        lines = exported(source).split("\n")

        assert lines[-1] == ""  # the last line ends with a newline too
        records = [json.loads(line) for line in lines[:-1]]
        assert records[0] == {
            "format": "troubleticket-export",
            "formatVersion": 1,
            "exportedAt": FROZEN_NOW,
            "collections": counts_by_name(troubleTicket=2, troubleTicketSpecification=1),
        }
        assert list(records[0]) == ["format", "formatVersion", "exportedAt", "collections"]
        assert list(records[0]["collections"]) == [c.value for c in DOCUMENT_COLLECTIONS]
        assert records[1:4] == [
            {"collection": "troubleTicket", "version": 1, "document": ticket("tt-1")},
            {"collection": "troubleTicket", "version": 1, "document": ticket("tt-2")},
            {
                "collection": "troubleTicketSpecification",
                "version": 1,
                "document": specification("spec-1"),
            },
        ]
        assert records[4] == {
            "end": True,
            "collections": counts_by_name(troubleTicket=2, troubleTicketSpecification=1),
        }
        assert list(records[4]["collections"]) == [c.value for c in DOCUMENT_COLLECTIONS]
        assert len(records) == 5

    def test_lines_are_compact_utf8_json_without_escaped_non_ascii(
        self, source: SqliteStore
    ) -> None:
        source.insert(TICKETS, {"id": "t", "name": "Ünïcödé 🛠️", "x": 1.0})

        line = exported(source).split("\n")[1]

        assert line == (
            '{"collection":"troubleTicket","version":1,'
            '"document":{"id":"t","name":"Ünïcödé 🛠️","x":1.0}}'
        )

    def test_exported_at_is_rfc3339_in_utc_from_the_real_clock_by_default(
        self, source: SqliteStore
    ) -> None:
        before = datetime.now(UTC).replace(microsecond=0)
        out = io.StringIO()
        export_store(source, out)

        stamp = json.loads(out.getvalue().split("\n")[0])["exportedAt"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
        assert before <= datetime.fromisoformat(stamp) <= datetime.now(UTC)

    def test_reads_a_collection_in_insertion_order_with_each_version(
        self, source: SqliteStore
    ) -> None:
        ids = ["tt-7", "tt-2", "tt-9", "tt-1", "tt-5", "tt-3", "tt-10", "tt-4", "tt-8", "tt-6"]
        for doc_id in ids:  # one write each, so insertion order is this order
            source.insert(TICKETS, ticket(doc_id))
        source.replace(TICKETS, ticket("tt-5") | {"name": "renamed"}, expected_version=1)

        content = exported(source, collections=[TICKETS], page_size=3)

        lines = [json.loads(line) for line in content.splitlines()]
        assert [line["document"]["id"] for line in lines[1:-1]] == ids
        assert [line["version"] for line in lines[1:-1]] == [1, 1, 1, 1, 2, 1, 1, 1, 1, 1]
        assert lines[5]["document"]["name"] == "renamed"
        assert lines[0]["collections"] == {"troubleTicket": 10}
        assert lines[-1] == {"end": True, "collections": {"troubleTicket": 10}}

    def test_writes_each_page_before_reading_the_next(self, source: SqliteStore) -> None:
        source.insert_many(TICKETS, [ticket(f"tt-{n}") for n in range(5)])
        events: list[str] = []

        class Out(io.StringIO):
            def write(self, s: str) -> int:
                events.append(f"write {s.count(chr(10))} lines")
                return super().write(s)

        export_store(RecordingStore(source, events), Out(), collections=[TICKETS], page_size=2)

        assert events == [
            "list troubleTicket limit=0",
            "write 1 lines",
            "read tt-0",
            "read tt-1",
            "write 2 lines",
            "read tt-2",
            "read tt-3",
            "write 2 lines",
            "read tt-4",
            "write 1 lines",
            "write 1 lines",
        ]

    def test_returns_the_counts_and_reports_progress_per_page(self, source: SqliteStore) -> None:
        source.insert_many(TICKETS, [ticket(f"tt-{n}") for n in range(7)])
        source.insert(SPECIFICATIONS, specification("spec-1"))
        progress = Recorder()

        written = export_store(source, io.StringIO(), page_size=3, progress=progress)

        assert written == counts(troubleTicket=7, troubleTicketSpecification=1)
        assert progress.expected == counts(troubleTicket=7, troubleTicketSpecification=1)
        assert progress.advances == [(TICKETS, 3), (TICKETS, 3), (TICKETS, 1), (SPECIFICATIONS, 1)]

    def test_a_page_size_below_one_is_refused(self, source: SqliteStore) -> None:
        with pytest.raises(ValueError, match="page_size"):
            export_store(source, io.StringIO(), page_size=0)


class TestImport:
    def test_batches_follow_the_batch_size_and_change_with_the_collection(
        self, target: SqliteStore
    ) -> None:
        recording = RecordingStore(target)
        lines = export_file(
            [ticket(f"tt-{n}") for n in range(5)], [specification(f"s-{n}") for n in range(3)]
        )
        progress = Recorder()

        imported = import_store(recording, text(lines), batch_size=2, progress=progress)

        assert imported == {TICKETS: 5, SPECIFICATIONS: 3}
        assert recording.batches == [
            ["tt-0", "tt-1"],
            ["tt-2", "tt-3"],
            ["tt-4"],
            ["s-0", "s-1"],
            ["s-2"],
        ]
        assert progress.expected == {TICKETS: 5, SPECIFICATIONS: 3}
        assert progress.advances == [
            (TICKETS, 2),
            (TICKETS, 2),
            (TICKETS, 1),
            (SPECIFICATIONS, 2),
            (SPECIFICATIONS, 1),
        ]

    def test_consumes_its_input_lazily(self, target: SqliteStore) -> None:
        lines = text(export_file([ticket(f"tt-{n}") for n in range(10)]))
        yielded: list[int] = []

        def produce() -> Iterator[str]:
            for number, line in enumerate(lines, start=1):
                yielded.append(number)
                yield line

        seen_at_insert: list[int] = []

        class Watching(RecordingStore):
            def restore(
                self, collection: Collection, items: Iterable[Stored], *, counters: Any = ()
            ) -> int:
                seen_at_insert.append(len(yielded))
                return super().restore(collection, items, counters=counters)

        import_store(Watching(target), produce(), batch_size=3)

        # A batch is written as soon as it is full, long before the input is exhausted; the
        # last, partial one when the end line is read.
        assert len(lines) == 12
        assert seen_at_insert == [4, 7, 10, 12]

    def test_blank_lines_and_crlf_line_ends_are_fine(self, target: SqliteStore) -> None:
        lines = export_file([ticket("tt-1"), ticket("tt-2")])
        content = "\r\n".join(lines[:2]) + "\r\n\r\n" + "\n".join(lines[2:]) + "\n\n  \n"

        imported = import_store(target, io.StringIO(content, newline="\n"))

        assert imported == {TICKETS: 2, SPECIFICATIONS: 0}
        assert [doc["id"] for doc in listed(target, TICKETS)] == ["tt-1", "tt-2"]

    def test_a_header_of_fewer_collections_imports_those(self, target: SqliteStore) -> None:
        lines = [
            json.dumps({"format": FORMAT, "formatVersion": 1, "collections": {"troubleTicket": 1}}),
            doc_line(ticket("tt-1")),
            end_line(troubleTicket=1),
        ]

        assert import_store(target, text(lines)) == {TICKETS: 1}

    def test_header_counts_that_differ_from_the_file_are_no_error(
        self, target: SqliteStore
    ) -> None:
        # The header counts what was there when the export started; writes went on meanwhile.
        lines = export_file([ticket("tt-1"), ticket("tt-2")])
        lines[0] = header(troubleTicket=5, troubleTicketSpecification=0)

        assert import_store(target, text(lines)) == {TICKETS: 2, SPECIFICATIONS: 0}

    def test_a_batch_size_below_one_is_refused(self, target: SqliteStore) -> None:
        with pytest.raises(ValueError, match="batch_size"):
            import_store(target, [], batch_size=0)


def import_error(store: Store, lines: Iterable[str], **options: Any) -> TransferError:
    with pytest.raises(TransferError) as caught:
        import_store(store, text(lines), **options)
    return caught.value


class TestImportErrors:
    def test_empty_input(self, target: SqliteStore) -> None:
        error = import_error(target, [])

        assert str(error) == "the input is empty: expected the header of a troubleticket export"

    @pytest.mark.parametrize(
        ("first_line", "message"),
        [
            ("", "line 1: not JSON (Expecting value at column 1): expected the header"),
            ("not json", "line 1: not JSON (Expecting value at column 1): expected the header"),
            ("[1, 2]", "line 1: expected a JSON object, found an array: expected the header"),
            ('{"formatVersion": 1}', 'line 1: not the header of a troubleticket export (no "'),
            (doc_line({"id": "x"}), "line 1: not the header of a troubleticket export"),
            (
                '{"format": "troubleticket-export", "formatVersion": "1", "collections": {}}',
                'line 1: formatVersion must be an integer, not "1"',
            ),
            (
                '{"format": "troubleticket-export", "formatVersion": 1}',
                'line 1: the header has no "collections" object',
            ),
            (
                '{"format": "troubleticket-export", "formatVersion": 1, '
                '"collections": {"troubleTicket": -1}}',
                "line 1: the header counts -1 troubleTicket: not a whole number",
            ),
            (
                '{"format": "troubleticket-export", "formatVersion": 1, '
                '"collections": {"incident": 3}}',
                'line 1: unknown collection "incident" (expected troubleTicket or '
                "troubleTicketSpecification or hub or event or delivery or receivedEvent "
                "or partner)",
            ),
        ],
    )
    def test_a_bad_header_is_refused_before_anything_is_stored(
        self, target: SqliteStore, first_line: str, message: str
    ) -> None:
        lines = [first_line, *export_file([ticket("tt-1")])[1:]]

        error = import_error(target, lines)

        assert str(error).startswith(message)
        assert listed(target, TICKETS) == []

    def test_an_unknown_format_version_is_named(self, target: SqliteStore) -> None:
        first = json.dumps({"format": FORMAT, "formatVersion": 2, "collections": {}})

        error = import_error(target, [first, end_line()])

        assert str(error) == (
            "line 1: formatVersion 2 is not one this troubleticket reads (it reads 1); "
            "import with the release that wrote the file, or a newer one"
        )

    @pytest.mark.parametrize(
        ("bad_line", "problem"),
        [
            ('{"collection": "troubleTicket", "document": ', "not JSON (Expecting value at column"),
            ("{'collection': 'troubleTicket'}", "not JSON (Expecting property name enclosed"),
            ('{"collection": "troubleTicket", "document": {"id": "x", "v": NaN}}', "not JSON (NaN"),
            ('"a string"', "expected a JSON object, found a string"),
            (
                doc_line({"id": "x"}, "incident"),
                'unknown collection "incident" (expected troubleTicket or '
                "troubleTicketSpecification or hub or event or delivery or receivedEvent "
                "or partner)",
            ),
            (
                '{"collection": "troubleTicket"}',
                'expected "collection", "document" and optionally "version" (or the end line), '
                'found "collection"',
            ),
            (
                '{"collection": "troubleTicket", "document": {"id": "x"}, "etag": 3}',
                'expected "collection", "document" and optionally "version" (or the end line), '
                'found "collection", "document", "etag"',
            ),
            (
                '{"collection": "troubleTicket", "document": {"id": "x"}, "version": 0}',
                "version must be a whole number from 1, not 0",
            ),
            (
                '{"collection": "troubleTicket", "document": {"id": "x"}, "version": "3"}',
                'version must be a whole number from 1, not "3"',
            ),
            (
                '{"collection": "troubleTicket", "document": [{"id": "x"}]}',
                "the document is an array, not a JSON object",
            ),
            (doc_line({"name": "no id"}), 'the troubleTicket document has no "id"'),
            (doc_line({"id": ""}), 'the troubleTicket document has no "id"'),
            (doc_line({"id": 7}), 'the troubleTicket document has no "id"'),
            ('{"end": "yes", "collections": {}}', 'the end line must be {"end": true'),
        ],
    )
    def test_a_bad_line_is_named_by_its_number(
        self, target: SqliteStore, bad_line: str, problem: str
    ) -> None:
        lines = export_file([ticket(f"tt-{n}") for n in range(5)])
        lines.insert(5, bad_line)  # line 6, after the five documents on lines 2-6

        error = import_error(target, lines, batch_size=2)

        assert str(error).startswith(f"line 6: {problem}")
        # The two full batches before it were stored; the document waiting for a third was not.
        assert str(error).endswith(
            "Imported: 4 documents up to line 5 (4 troubleTicket), none after"
        )
        assert error.imported == {TICKETS: 4, SPECIFICATIONS: 0}
        assert [doc["id"] for doc in listed(target, TICKETS)] == ["tt-0", "tt-1", "tt-2", "tt-3"]

    def test_an_error_before_any_batch_says_nothing_was_imported(self, target: SqliteStore) -> None:
        lines = export_file([ticket("tt-1")])
        lines.insert(2, "oops")

        error = import_error(target, lines)

        assert str(error) == (
            "line 3: not JSON (Expecting value at column 1). Nothing was imported"
        )
        assert listed(target, TICKETS) == []

    def test_a_collection_missing_from_the_header_is_refused(self, target: SqliteStore) -> None:
        lines = [
            json.dumps({"format": FORMAT, "formatVersion": 1, "collections": {"troubleTicket": 0}}),
            doc_line(specification("spec-1"), "troubleTicketSpecification"),
            end_line(troubleTicket=0),
        ]

        error = import_error(target, lines)

        assert str(error).startswith(
            "line 2: collection troubleTicketSpecification is not listed in the header"
        )

    def test_a_duplicate_id_refuses_its_batch_and_keeps_the_earlier_ones(
        self, target: SqliteStore
    ) -> None:
        target.insert(TICKETS, ticket("tt-4"))
        lines = export_file([ticket(f"tt-{n}") for n in range(9)])

        error = import_error(target, lines, batch_size=3)

        assert str(error) == (
            "lines 5-7: the store refused this batch of 3 documents of troubleTicket, none of "
            'which was imported: id "tt-4" on line 6 is already in the store. '
            "Imported: 3 documents up to line 4 (3 troubleTicket), none after. "
            "Import into an empty store."
        )
        assert error.imported == {TICKETS: 3, SPECIFICATIONS: 0}
        assert [doc["id"] for doc in listed(target, TICKETS)] == ["tt-4", "tt-0", "tt-1", "tt-2"]

    def test_an_id_repeated_in_the_file_is_named_with_both_lines(self, target: SqliteStore) -> None:
        lines = export_file([ticket("tt-1"), ticket("tt-2"), ticket("tt-1")])

        error = import_error(target, lines)

        assert str(error).startswith(
            "lines 2-4: the store refused this batch of 3 documents of troubleTicket, none of "
            'which was imported: id "tt-1" on line 4 repeats line 2. Nothing was imported.'
        )
        assert listed(target, TICKETS) == []

    def test_an_id_repeated_across_batches_is_found_in_the_store(self, target: SqliteStore) -> None:
        lines = export_file([ticket("tt-1"), ticket("tt-2"), ticket("tt-1")])

        error = import_error(target, lines, batch_size=2)

        assert str(error).startswith(
            "line 4: the store refused this batch of 1 document of troubleTicket, none of which "
            'was imported: id "tt-1" on line 4 is already in the store. Imported: 2 documents up '
            "to line 3 (2 troubleTicket), none after."
        )

    def test_input_cut_short_is_imported_and_reported(self, target: SqliteStore) -> None:
        lines = export_file([ticket(f"tt-{n}") for n in range(4)])[:-2]  # no end line, no tt-3

        error = import_error(target, lines, batch_size=2)

        assert str(error) == (
            "the input ends after line 4 without the end line of the export: it was cut short, "
            "or the export failed while writing it. Imported: 3 documents up to line 4 "
            "(3 troubleTicket), none after"
        )
        assert [doc["id"] for doc in listed(target, TICKETS)] == ["tt-0", "tt-1", "tt-2"]

    def test_an_end_line_that_counts_other_documents_is_reported_after_importing(
        self, target: SqliteStore
    ) -> None:
        lines = export_file([ticket(f"tt-{n}") for n in range(4)])
        del lines[2]  # someone removed tt-1

        error = import_error(target, lines)

        assert str(error).startswith(
            "line 5: the end line counts 4 troubleTicket but the file holds 3: "
            "lines were removed or added since the export. Imported: 3 documents up to line 4"
        )
        assert [doc["id"] for doc in listed(target, TICKETS)] == ["tt-0", "tt-2", "tt-3"]

    def test_an_end_line_listing_other_collections_is_refused(self, target: SqliteStore) -> None:
        lines = export_file([ticket("tt-1")])
        lines[-1] = end_line(troubleTicket=1)

        error = import_error(target, lines)

        assert str(error).startswith("line 3: the end line lists other collections than the header")

    def test_the_count_imported_names_each_collection_that_has_documents(
        self, source: SqliteStore, target: SqliteStore
    ) -> None:
        source.insert_many(TICKETS, [ticket("tt-1"), ticket("tt-2")])
        insert_notifications(source)
        lines = exported(source).split("\n")[:-2]  # without the end line

        error = import_error(target, lines, batch_size=1)

        assert str(error) == (
            "the input ends after line 10 without the end line of the export: it was cut short, "
            "or the export failed while writing it. Imported: 9 documents up to line 10 "
            "(2 troubleTicket, 2 hub, 2 event, 3 delivery), none after"
        )
        assert error.imported == counts(troubleTicket=2, hub=2, event=2, delivery=3)

    def test_text_after_the_end_line_is_refused(self, target: SqliteStore) -> None:
        # For instance two exports concatenated: the second would be silently skipped otherwise.
        lines = export_file([ticket("tt-1")]) + export_file([ticket("tt-2")])

        error = import_error(target, lines)

        assert str(error) == (
            "line 4: text after the end line. Imported: 1 document up to line 2 "
            "(1 troubleTicket), none after"
        )
        assert [doc["id"] for doc in listed(target, TICKETS)] == ["tt-1"]

    def test_undecodable_bytes_are_named_by_their_line(self, target: SqliteStore) -> None:
        lines = [line.encode() + b"\n" for line in export_file([ticket("tt-1"), ticket("tt-2")])]
        lines[2] = lines[2].replace(b"tt-2", b"tt-\xff")

        error = import_error_of(target, lines)

        position = lines[2].index(b"\xff") + 1
        assert str(error) == (
            f"line 3: not UTF-8 text (invalid start byte at byte {position}). Nothing was imported"
        )

    def test_undecodable_text_is_placed_as_near_as_the_decoder_knows(
        self, target: SqliteStore
    ) -> None:
        data = "\n".join(export_file([ticket("tt-1")])).encode() + b"\n\xff\n"

        error = import_error_of(target, io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))

        # The decoder read the whole (small) input at once, before line 1 was handed over.
        assert (
            str(error) == "after line 0: not UTF-8 text (invalid start byte). Nothing was imported"
        )

    @pytest.mark.parametrize("bom", [b"\xef\xbb\xbf", "\ufeff"])
    def test_a_byte_order_mark_before_the_header_is_ignored(
        self, target: SqliteStore, bom: bytes | str
    ) -> None:
        lines = text(export_file([ticket("tt-1")]))
        raw: list[Any] = [line.encode() for line in lines] if isinstance(bom, bytes) else lines
        raw[0] = bom + raw[0]

        assert import_store(target, raw) == {TICKETS: 1, SPECIFICATIONS: 0}


def import_error_of(store: Store, lines: Iterable[str | bytes]) -> TransferError:
    with pytest.raises(TransferError) as caught:
        import_store(store, lines)
    return caught.value
