"""``export`` and ``import``: every stored document moved between stores as JSON Lines (the format
``troubleticket.transfer`` describes), with a progress bar on a terminal and a one-line summary."""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from troubleticket.bootstrap.stores import open_store
from troubleticket.config import Settings
from troubleticket.store.port import RESOURCE_COLLECTIONS, Collection, StoreUnavailable
from troubleticket.transfer import Progress, TransferError


class _Bar:
    """A tqdm bar on stderr as ``transfer``'s progress; nothing at all when disabled."""

    def __init__(self, verb: str, *, enabled: bool) -> None:
        self._verb = verb
        self._enabled = enabled
        self._bar: Any = None
        self._collection: Collection | None = None

    def start(self, expected: Mapping[Collection, int]) -> None:
        if not self._enabled:
            return
        # tqdm ships no type information.
        from tqdm import tqdm  # type: ignore[import-untyped]

        self._bar = tqdm(
            total=sum(expected.values()),
            desc=self._verb,
            unit=" documents",
            file=sys.stderr,
            **_bar_size(),
        )

    def advance(self, collection: Collection, count: int) -> None:
        if self._bar is None:
            return
        if collection != self._collection:
            self._collection = collection
            self._bar.set_description(f"{self._verb} {collection}", refresh=False)
        self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _bar_size() -> dict[str, Any]:
    # A terminal that reports a size of 0 x 0 (the pty of `script`, some CI runners) would
    # otherwise get a bar tqdm hides entirely.
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError):
        size = os.terminal_size((0, 0))
    return {"dynamic_ncols": True} if size.columns and size.lines else {"ncols": 80, "nrows": 24}


@contextmanager
def _progress(verb: str, args: argparse.Namespace) -> Iterator[Progress]:
    bar = _Bar(verb, enabled=not args.no_progress and sys.stderr.isatty())
    try:
        yield bar
    finally:
        bar.close()


def _summary(counts: Mapping[Collection, int]) -> str:
    # the resources always; subscriptions, events and deliveries when there are any
    return ", ".join(
        f"{count} {collection}"
        for collection, count in counts.items()
        if count or collection in RESOURCE_COLLECTIONS
    )


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from troubleticket.transfer import export_store

    to_stdout = args.output in (None, "-")
    store = open_store(settings, must_exist=True)
    try:
        with _progress("export", args) as progress:
            if to_stdout:
                with _utf8_stdout() as out:
                    counts = export_store(store, out, progress=progress)
            else:
                with _replaced_on_success(Path(args.output)) as out:
                    counts = export_store(store, out, progress=progress)
    finally:
        store.close()
    target = "stdout" if to_stdout else args.output
    print(f"exported {_summary(counts)} to {target}", file=sys.stderr)
    return 0


@contextmanager
def _utf8_stdout() -> Iterator[TextIO]:
    # The file is UTF-8 whatever the locale says stdout is.
    sys.stdout.flush()
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:  # a text-only stream put in place of stdout
        yield sys.stdout
        return
    out = io.TextIOWrapper(binary, encoding="utf-8", newline="\n")
    try:
        yield out
    finally:
        out.detach()  # flushes; the wrapper must not close stdout


@contextmanager
def _replaced_on_success(path: Path) -> Iterator[TextIO]:
    """Write to ``path``.partial, renamed to ``path`` once complete and on disk.

    A failed or interrupted export leaves no file that looks like an export, and never
    destroys an earlier export of the same name.
    """
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _import(settings: Settings, args: argparse.Namespace) -> int:
    from troubleticket.transfer import import_store

    from_stdin = args.file == "-"
    # Binary: import_store decodes each line itself, so a bad byte is named by its line. The
    # file is opened before the store, which a mistyped SQLite path would otherwise create.
    source: BinaryIO = sys.stdin.buffer if from_stdin else open(args.file, "rb")
    try:
        store = open_store(settings)
        try:
            with _progress("import", args) as progress:
                counts = import_store(store, source, batch_size=args.batch_size, progress=progress)
        finally:
            store.close()
    finally:
        if not from_stdin:
            source.close()
    origin = "stdin" if from_stdin else args.file
    print(f"imported {_summary(counts)} from {origin}", file=sys.stderr)
    return 0


def transfer(settings: Settings, args: argparse.Namespace) -> int:
    run = _export if args.command == "export" else _import
    try:
        return run(settings, args)
    except (TransferError, OSError) as exc:
        print(f"troubleticket {args.command}: {exc}", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        print(f"troubleticket {args.command}: {exc.message}", file=sys.stderr)
        return 1
