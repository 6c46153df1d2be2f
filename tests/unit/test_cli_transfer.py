"""``troubleticket export`` and ``import``: files, stdin and stdout, exit codes, progress bars."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.cli_environment import logging_as_found, no_tt_environment  # noqa: F401 (autouse)
from tests.unit.transfer_samples import (
    SPECIFICATIONS,
    TICKETS,
    as_text,
    counts_by_name,
    insert_notifications,
    listed,
    rich_ticket,
    specification,
    ticket,
)
from troubleticket import transfer
from troubleticket.cli import main
from troubleticket.store.sqlite import SqliteStore
from troubleticket.types import JSON

TICKET_DOCS = [ticket("tt-2"), rich_ticket("tt-rich"), ticket("tt-1", full=True)]
SPEC_DOCS = [specification("spec-1")]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.sqlite3"
    store = SqliteStore(path)
    store.insert_many(TICKETS, TICKET_DOCS)
    store.insert_many(SPECIFICATIONS, SPEC_DOCS)
    store.close()
    return path


def contents(path: Path) -> dict[str, list[JSON]]:
    store = SqliteStore(path)
    try:
        return {c.value: listed(store, c) for c in (TICKETS, SPECIFICATIONS)}
    finally:
        store.close()


def assert_same_documents(path: Path) -> None:
    copied = contents(path)
    assert copied == {"troubleTicket": TICKET_DOCS, "troubleTicketSpecification": SPEC_DOCS}
    assert [as_text(doc) for doc in copied["troubleTicket"]] == [
        as_text(doc) for doc in TICKET_DOCS
    ]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestExportThenImport:
    def test_through_a_file_into_another_store(
        self, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out, target = tmp_path / "all.jsonl", tmp_path / "target.sqlite3"

        exported = main(["export", "--store", str(source), "-o", str(out), "--no-progress"])
        export_err = capsys.readouterr().err
        imported = main(["import", str(out), "--store", str(target), "--no-progress"])
        import_err = capsys.readouterr().err

        assert (exported, imported) == (0, 0)
        assert export_err == f"exported 3 troubleTicket, 1 troubleTicketSpecification to {out}\n"
        assert import_err == f"imported 3 troubleTicket, 1 troubleTicketSpecification from {out}\n"
        assert_same_documents(target)
        assert sorted(p.name for p in tmp_path.iterdir() if "jsonl" in p.name) == ["all.jsonl"]
        # split, not splitlines: a document may hold U+2028 and such, which JSON leaves raw.
        assert out.read_text(encoding="utf-8").count("\n") == 1 + 4 + 1

    def test_the_summary_names_other_collections_when_they_hold_documents(
        self, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        store = SqliteStore(source)
        insert_notifications(store)
        store.close()
        out, target = tmp_path / "all.jsonl", tmp_path / "target.sqlite3"

        assert main(["export", "--store", str(source), "-o", str(out), "--no-progress"]) == 0
        export_err = capsys.readouterr().err
        assert main(["import", str(out), "--store", str(target), "--no-progress"]) == 0
        import_err = capsys.readouterr().err

        summary = "3 troubleTicket, 1 troubleTicketSpecification, 2 hub, 2 event, 3 delivery"
        assert export_err == f"exported {summary} to {out}\n"
        assert import_err == f"imported {summary} from {out}\n"
        assert_same_documents(target)

    def test_the_summary_names_the_resources_even_when_there_are_none(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        empty = tmp_path / "empty.sqlite3"
        SqliteStore(empty).close()
        out = tmp_path / "all.jsonl"

        assert main(["export", "--store", str(empty), "-o", str(out), "--no-progress"]) == 0

        assert capsys.readouterr().err == (
            f"exported 0 troubleTicket, 0 troubleTicketSpecification to {out}\n"
        )

    def test_the_store_defaults_to_tt_store(
        self, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        out, target = tmp_path / "all.jsonl", tmp_path / "target.sqlite3"
        monkeypatch.setenv("TT_STORE", str(source))
        assert main(["export", "-o", str(out)]) == 0
        monkeypatch.setenv("TT_STORE", f"sqlite:///{target}")

        assert main(["import", str(out), "--batch-size", "1"]) == 0

        assert_same_documents(target)

    @pytest.mark.parametrize("dash", [[], ["-o", "-"], ["--output", "-"]])
    def test_export_to_stdout_and_import_from_stdin(
        self,
        source: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        dash: list[str],
    ) -> None:
        target = tmp_path / "target.sqlite3"

        assert main(["export", "--store", str(source), *dash]) == 0
        captured = capsys.readouterr()
        assert captured.err == "exported 3 troubleTicket, 1 troubleTicketSpecification to stdout\n"
        records = [json.loads(line) for line in captured.out.split("\n")[:-1]]
        assert records[0]["collections"] == counts_by_name(
            troubleTicket=3, troubleTicketSpecification=1
        )
        assert [r["document"]["id"] for r in records[1:-1]] == ["tt-2", "tt-rich", "tt-1", "spec-1"]

        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(captured.out.encode())))
        assert main(["import", "-", "--store", str(target)]) == 0
        assert capsys.readouterr().err == (
            "imported 3 troubleTicket, 1 troubleTicketSpecification from stdin\n"
        )
        assert_same_documents(target)

    def test_a_file_with_a_byte_order_mark_and_crlf_line_ends_imports(
        self, source: Path, tmp_path: Path
    ) -> None:
        out, target = tmp_path / "all.jsonl", tmp_path / "target.sqlite3"
        assert main(["export", "--store", str(source), "-o", str(out)]) == 0
        edited = b"\xef\xbb\xbf" + out.read_bytes().replace(b"\n", b"\r\n")
        out.write_bytes(edited)

        assert main(["import", str(out), "--store", str(target)]) == 0

        assert_same_documents(target)


class TestFailures:
    def test_a_refused_import_exits_1_and_says_why_on_stderr(
        self, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "all.jsonl"
        assert main(["export", "--store", str(source), "-o", str(out)]) == 0
        capsys.readouterr()

        # Importing twice into the same store: every id is taken the second time.
        assert main(["import", str(out), "--store", str(source)]) == 1

        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == (
            "troubleticket import: lines 2-4: the store refused this batch of 3 documents of "
            'troubleTicket, none of which was imported: id "tt-2" on line 2 is already in the '
            "store. Nothing was imported. Import into an empty store.\n"
        )

    def test_a_malformed_file_exits_1_naming_the_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"format": "troubleticket-export", "formatVersion": 7}\n')

        assert main(["import", str(bad), "--store", str(tmp_path / "t.sqlite3")]) == 1

        assert capsys.readouterr().err == (
            "troubleticket import: line 1: formatVersion 7 is not one this troubleticket reads "
            "(it reads 1); import with the release that wrote the file, or a newer one\n"
        )

    def test_a_missing_file_exits_1_without_creating_the_store(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        target = tmp_path / "target.sqlite3"

        assert main(["import", str(tmp_path / "nope.jsonl"), "--store", str(target)]) == 1

        assert (
            "troubleticket import: [Errno 2] No such file or directory" in capsys.readouterr().err
        )
        assert not target.exists()

    def test_a_failed_export_leaves_no_file_and_keeps_an_earlier_one(
        self,
        source: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        out = tmp_path / "all.jsonl"
        out.write_text("an earlier export\n")

        def disk_full(store: Any, stream: Any, **options: Any) -> Any:
            stream.write('{"format": "troubleticket-export"}\n')
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(transfer, "export_store", disk_full)

        assert main(["export", "--store", str(source), "-o", str(out)]) == 1

        assert capsys.readouterr().err == (
            "troubleticket export: [Errno 28] No space left on device\n"
        )
        assert out.read_text() == "an earlier export\n"
        assert sorted(p.name for p in tmp_path.iterdir() if "jsonl" in p.name) == ["all.jsonl"]

    def test_an_export_into_a_missing_directory_exits_1(
        self, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "no" / "such" / "dir" / "all.jsonl"

        assert main(["export", "--store", str(source), "-o", str(out)]) == 1

        assert (
            "troubleticket export: [Errno 2] No such file or directory" in capsys.readouterr().err
        )

    @pytest.mark.parametrize("verb", [["export"], ["import", "-"]])
    def test_a_store_setting_that_cannot_be_used_exits_2(
        self, verb: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main([*verb, "--store", "ftp://tickets.example.com/db"]) == 2

        assert capsys.readouterr().err.startswith(
            "troubleticket: TT_STORE has value 'ftp://tickets.example.com/db'"
        )

    def test_exporting_from_a_sqlite_file_that_does_not_exist_exits_2_and_creates_none(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        missing = tmp_path / "mistyped.sqlite3"

        assert main(["export", "--store", str(missing), "-o", str(tmp_path / "x.jsonl")]) == 2

        assert "TT_STORE names no existing SQLite file" in capsys.readouterr().err
        assert not missing.exists()
        assert not (tmp_path / "x.jsonl").exists()

    def test_an_unreachable_mongodb_exits_1_with_one_line(
        self, source: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = source.parent / "export.jsonl"
        assert main(["export", "--store", str(source), "-o", str(out), "--no-progress"]) == 0
        capsys.readouterr()

        unreachable = "mongodb://127.0.0.1:9/tt?serverSelectionTimeoutMS=200"
        assert main(["import", str(out), "--store", unreachable, "--no-progress"]) == 1

        err = capsys.readouterr().err
        assert err.startswith("troubleticket import: The MongoDB store cannot be reached")
        assert len(err.strip().splitlines()) == 1

    @pytest.mark.parametrize("size", ["0", "-3", "many", "1.5"])
    def test_a_batch_size_that_is_not_a_positive_integer_is_a_usage_error(
        self, size: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as exited:
            main(["import", "x.jsonl", "--batch-size", size])

        assert exited.value.code == 2
        assert "--batch-size: " in capsys.readouterr().err


class TestProgress:
    def test_a_bar_shows_on_a_terminal(
        self, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        terminal = FakeTerminal()
        monkeypatch.setattr("sys.stderr", terminal)

        assert main(["export", "--store", str(source), "-o", str(tmp_path / "a.jsonl")]) == 0

        shown = terminal.getvalue()
        assert "export troubleTicketSpecification: 100%" in shown
        assert "4/4" in shown
        assert shown.endswith(
            f"exported 3 troubleTicket, 1 troubleTicketSpecification to {tmp_path / 'a.jsonl'}\n"
        )

    def test_a_bar_shows_on_import_too(
        self, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        out = tmp_path / "a.jsonl"
        assert main(["export", "--store", str(source), "-o", str(out)]) == 0
        terminal = FakeTerminal()
        monkeypatch.setattr("sys.stderr", terminal)

        assert main(["import", str(out), "--store", str(tmp_path / "t.sqlite3")]) == 0

        assert "import troubleTicketSpecification: 100%" in terminal.getvalue()

    def test_no_progress_keeps_a_terminal_free_of_the_bar(
        self, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        terminal = FakeTerminal()
        monkeypatch.setattr("sys.stderr", terminal)

        out = str(tmp_path / "a.jsonl")
        assert main(["export", "--store", str(source), "-o", out, "--no-progress"]) == 0

        assert terminal.getvalue() == (
            f"exported 3 troubleTicket, 1 troubleTicketSpecification to {out}\n"
        )

    def test_no_bar_when_stderr_is_not_a_terminal(
        self, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = str(tmp_path / "a.jsonl")

        assert main(["export", "--store", str(source), "-o", out]) == 0

        assert capsys.readouterr().err == (
            f"exported 3 troubleTicket, 1 troubleTicketSpecification to {out}\n"
        )
