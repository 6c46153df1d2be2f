"""The ``troubleticket`` command: serve the API, export and import all stored documents.

``serve`` runs the API server; ``export`` and ``import`` move every stored document between
stores (SQLite to MongoDB, say) as JSON Lines, in the format ``transfer`` describes.

Every setting flag mirrors a ``TT_*`` environment variable; a flag given on the command line wins.
Export and import show a progress bar when stderr is a terminal, and end with a one-line summary
on stderr. Exit codes: 0 success, 1 failure, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from troubleticket import __version__, logs
from troubleticket.config import ConfigError, Settings
from troubleticket.store.port import RESOURCE_COLLECTIONS, Collection, Store, StoreUnavailable
from troubleticket.transfer import DEFAULT_BATCH_SIZE, Progress, TransferError

logger = logging.getLogger(__name__)

# The settings a flag may override, by the attribute argparse gives the flag.
_SETTING_FLAGS = (
    "workers",
    "host",
    "port",
    "store",
    "base_url",
    "max_body_bytes",
    "log_level",
    "log_format",
    "dispatch",
    "dispatch_interval",
    "auth",
    "jwks",
    "jwt_issuer",
    "jwt_audience",
    "egress_allow",
)
_STORE_HELP = (
    "SQLite file path, sqlite:///path or mongodb:// URI "
    "(TT_STORE, default ./data/troubleticket.sqlite3)"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="troubleticket", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the TMF621 API server")
    serve.add_argument("--host", help="interface to listen on (TT_HOST, default 127.0.0.1)")
    serve.add_argument("--port", help="TCP port (TT_PORT, default 8080)")
    serve.add_argument("--store", help=_STORE_HELP)
    serve.add_argument(
        "--workers",
        help="server processes sharing the port and the store; one of them runs the "
        "background loops (TT_WORKERS, default 1)",
    )
    serve.add_argument(
        "--base-url",
        help="public URL clients reach the server at, used in href and Location (TT_BASE_URL)",
    )
    serve.add_argument(
        "--max-body-bytes", help="largest accepted request body (TT_MAX_BODY_BYTES, default 1 MiB)"
    )
    serve.add_argument("--log-level", help="debug, info, warning or error (TT_LOG_LEVEL)")
    serve.add_argument("--log-format", help="text or json, one object a line (TT_LOG_FORMAT)")
    serve.add_argument(
        "--dispatch",
        help="inprocess or off: whether this server also delivers event notifications "
        "(TT_DISPATCH, default inprocess)",
    )
    serve.add_argument(
        "--auth",
        help="none (loopback only) or jwt: bearer tokens checked against a JWKS (TT_AUTH)",
    )
    serve.add_argument("--jwks", help="the token issuer's keys: a JWKS file or URL (TT_JWKS)")
    serve.add_argument("--jwt-issuer", help="the issuer tokens must name (TT_JWT_ISSUER)")
    serve.add_argument("--jwt-audience", help="the audience tokens must name (TT_JWT_AUDIENCE)")
    serve.add_argument(
        "--egress-allow",
        help="internal networks hub callbacks and partners may be at, comma-separated CIDRs "
        "(TT_EGRESS_ALLOW)",
    )
    worker = commands.add_parser(
        "worker",
        help="deliver event notifications (alone, beside servers run with TT_DISPATCH=off)",
        description="Relay, fan out and deliver event notifications until stopped (SIGTERM or "
        "Ctrl-C). Any number of workers and servers may share one store: leases keep them from "
        "making the same delivery attempt twice.",
    )
    worker.add_argument(
        "--dispatch-interval",
        help="idle wait between looks for work made by other processes, e.g. 1s "
        "(TT_DISPATCH_INTERVAL)",
    )
    worker.add_argument("--store", help=_STORE_HELP)
    worker.add_argument("--log-level", help="debug, info, warning or error (TT_LOG_LEVEL)")
    worker.add_argument("--log-format", help="text or json, one object a line (TT_LOG_FORMAT)")
    worker.add_argument(
        "--egress-allow",
        help="internal networks hub callbacks and partners may be at, comma-separated CIDRs "
        "(TT_EGRESS_ALLOW)",
    )

    export = commands.add_parser(
        "export",
        help="write every stored document to a JSON Lines file, to import elsewhere",
        description="Write every stored document to a JSON Lines export file, each collection "
        "in insertion order. Documents written while it runs may or may not be included: stop "
        "the server for an exact copy.",
    )
    export.add_argument("--store", help=f"the store to read: {_STORE_HELP}")
    export.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="file to write (default: stdout); it appears only once the export is complete",
    )
    export.add_argument("--no-progress", action="store_true", help="never show a progress bar")

    load = commands.add_parser(
        "import",
        help="store every document of an export file; best into an empty store",
        description="Store every document of an export file, a batch at a time, each batch all "
        "or nothing. When one fails (an id the store already holds, a damaged line), the "
        "batches before it stay imported and the message says how far it got; import into an "
        "empty store.",
    )
    load.add_argument("file", metavar="FILE", help="the export file, or - for stdin")
    load.add_argument("--store", help=f"the store to write: {_STORE_HELP}")
    load.add_argument(
        "--batch-size",
        type=_batch_size,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"documents per write (default {DEFAULT_BATCH_SIZE})",
    )
    load.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    return parser


def _batch_size(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number greater than 0")
    return int(raw)


def _worker(settings: Settings) -> int:
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import signal
    import threading

    from troubleticket.app import background, open_store, runtime

    store = open_store(settings)
    run = runtime(settings, store)
    stopped = threading.Event()

    def halt(_signum: int, _frame: object) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, halt)
    signal.signal(signal.SIGINT, halt)
    stop = background(run, threading.Event())
    logger.info("delivering notifications and watching SLAs, store %s", settings.store_shown)
    try:
        stopped.wait()
    finally:
        stop()
        store.close()
    logger.info("stopped")
    return 0


def _serve(settings: Settings) -> int:
    # connexion imports Starlette's TestClient at import time, which warns about httpx on every
    # start; the server never uses the test client.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import uvicorn

    from troubleticket.app import create_app, open_store

    settings.check_exposure()
    if settings.workers > 1:
        # every problem with the settings, the policy or the partners stops it here, once
        store = open_store(settings)
        try:
            create_app(settings, store=store)
        finally:
            store.close()
    else:
        app = create_app(settings)
    if settings.auth == "none":
        logger.warning(
            "TT_AUTH=none: every request is trusted, whoever sends it; set TT_AUTH=jwt before "
            "anything but this host can reach the server"
        )
    logger.info(
        "serving %s/tmf-api/troubleTicket/v5 from store %s",
        settings.public_base_url,
        settings.store_shown,
    )
    if settings.workers > 1:
        # uvicorn starts each worker from an import string; they read their settings back
        # from the environment
        os.environ.update(settings.environment())
        uvicorn.run(
            "troubleticket.workers:app",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            log_config=None,  # the workers configure logging themselves (logs.configure)
            access_log=False,  # one line per request comes from the app (logs.ACCESS)
        )
        return 0
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # logging as logs.configure set it up, in the chosen format
        access_log=False,  # one line per request comes from the app (logs.ACCESS)
    )
    return 0


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


def _open_store(settings: Settings, *, must_exist: bool = False) -> Store:
    # The same start-up warning of connexion's import as for serve (see there).
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from troubleticket.app import open_store

    return open_store(settings, must_exist=must_exist)


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from troubleticket.transfer import export_store

    to_stdout = args.output in (None, "-")
    store = _open_store(settings, must_exist=True)
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
        store = _open_store(settings)
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


def _transfer(settings: Settings, args: argparse.Namespace) -> int:
    run = _export if args.command == "export" else _import
    try:
        return run(settings, args)
    except (TransferError, OSError) as exc:
        print(f"troubleticket {args.command}: {exc}", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        print(f"troubleticket {args.command}: {exc.message}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env().with_overrides(
            {name: getattr(args, name, None) for name in _SETTING_FLAGS}
        )
        logs.configure(settings.log_level, settings.log_format)
        if args.command == "serve":
            return _serve(settings)
        if args.command in ("export", "import"):
            return _transfer(settings, args)
        if args.command == "worker":
            return _worker(settings)
    except ConfigError as exc:
        print(f"troubleticket: {exc}", file=sys.stderr)
        return 2
    return 1
