"""The ``troubleticket`` command: serve the API, export and import all stored documents.

``serve`` runs the API server; ``export`` and ``import`` move every stored document between
stores (SQLite to MongoDB, say) as JSON Lines, in the format ``transfer`` describes. The
operator's verbs — ``deliveries list|replay``, ``tickets at-risk`` and ``check-config`` — are
parsed and printed here and done by ``admin``.

Every setting flag mirrors a ``TT_*`` environment variable; a flag given on the command line wins.
Export and import show a progress bar when stderr is a terminal, and end with a one-line summary
on stderr. Exit codes: 0 success, 1 failure, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from troubleticket import __version__, logs
from troubleticket.config import ConfigError, Settings
from troubleticket.domain.errors import TroubleTicketError
from troubleticket.domain.policy import parse_duration
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
    "max_document_bytes",
    "max_array_items",
    "max_patch_operations",
    "header_timeout",
    "body_timeout",
    "idle_timeout",
    "max_connections",
    "max_concurrent_requests",
    "max_url_bytes",
    "log_level",
    "log_format",
    "dispatch",
    "dispatch_interval",
    "auth",
    "jwks",
    "jwt_issuer",
    "jwt_audience",
    "egress_allow",
    "metrics",
    "metrics_port",
    "metrics_host",
    "tracing",
    "policy",
    "partners",
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
    _serve_flags(serve)
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
    _admin_parsers(commands)
    return parser


_STATES = ("pending", "delivering", "delivered", "dead", "cancelled")
_PARTNERS_HELP = "the partner registry, a YAML file (TT_PARTNERS); its secrets' variables set"


def _admin_parsers(commands: Any) -> None:
    """The operator's verbs: deliveries, the jeopardy board, the configuration check."""
    deliveries = commands.add_parser(
        "deliveries",
        help="list event deliveries and requests to partners; make them again",
        description="The deliveries of events to hubs and of requests to partners, as "
        "/hub/{id}/delivery and /partner/{id}/delivery show them.",
    )
    actions = deliveries.add_subparsers(dest="action", required=True)
    listing = actions.add_parser(
        "list",
        help="the newest deliveries, as a table or JSON Lines",
        description="The newest deliveries first, to every hub and partner or to the one named.",
    )
    listing.add_argument("--store", help=f"the store to read: {_STORE_HELP}")
    listing.add_argument(
        "--state",
        nargs="+",
        action="extend",
        choices=_STATES,
        metavar="STATE",
        help=f"only deliveries in these states: {', '.join(_STATES)}",
    )
    _target_flags(listing)
    listing.add_argument(
        "--limit",
        type=_batch_size,
        default=50,
        metavar="N",
        help="how many to show (default 50)",
    )
    listing.add_argument(
        "--json",
        action="store_true",
        help="one JSON object a line, as the API shows a delivery",
    )
    replay = actions.add_parser(
        "replay",
        help="make dead or delivered deliveries again",
        description="Make deliveries again: the ones named, or with --dead every dead one (of "
        "the hub or partner named) not replayed before. Only dead or delivered deliveries are "
        "made again; each new one is pending, names the original in replayOf, and is sent by "
        "the server or worker on the store within its TT_DISPATCH_INTERVAL. Prints the new ids.",
    )
    replay.add_argument("ids", nargs="*", metavar="ID", help="the deliveries to make again")
    replay.add_argument(
        "--dead", action="store_true", help="every dead delivery not replayed before"
    )
    replay.add_argument("--store", help=f"the store to write: {_STORE_HELP}")
    _target_flags(replay)

    tickets = commands.add_parser("tickets", help="views of the tickets for operators")
    views = tickets.add_subparsers(dest="action", required=True)
    board = views.add_parser(
        "at-risk",
        help="the open tickets whose SLAs are in jeopardy, breached or soon due",
        description="Open tickets with an SLA clock in jeopardy (warning or breach), a running "
        "clock due within --within, or a threshold the SLA monitor has not recorded yet (shown "
        "as '(due)'); most overdue first.",
    )
    board.add_argument("--store", help=f"the store to read: {_STORE_HELP}")
    board.add_argument(
        "--policy",
        help="the service policy, a YAML file (TT_POLICY); read for who is assigned",
    )
    board.add_argument(
        "--limit", type=_batch_size, default=20, metavar="N", help="how many (default 20)"
    )
    board.add_argument(
        "--within",
        type=_window,
        default=0.0,
        metavar="DURATION",
        help="also running clocks due within this time, e.g. 30m, 4h, 1d",
    )
    board.add_argument("--json", action="store_true", help="one JSON object a line")

    check = commands.add_parser(
        "check-config",
        help="check the settings, policy, partners and keys serve would use",
        description="Check everything serve checks before it listens, without opening the "
        "store: the settings, the exposure rule, the store location, the policy, the partner "
        "registry and the token keys. Every problem is listed; exit 0 when there is none, 2 "
        "otherwise.",
    )
    _serve_flags(check)
    check.add_argument("--policy", help="the service policy, a YAML file (TT_POLICY)")
    check.add_argument("--partners", help=_PARTNERS_HELP)


def _target_flags(parser: argparse.ArgumentParser) -> None:
    whose = parser.add_mutually_exclusive_group()
    whose.add_argument("--hub", metavar="ID", help="only the deliveries to this hub")
    whose.add_argument(
        "--partner",
        metavar="ID",
        help="only the requests to this partner (needs TT_PARTNERS and its secrets)",
    )
    parser.add_argument("--partners", help=_PARTNERS_HELP)


def _window(raw: str) -> float:
    seconds = parse_duration(raw)
    if seconds is None:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a duration such as 30m, 4h or 1d")
    return seconds


def _serve_flags(serve: argparse.ArgumentParser) -> None:
    """The setting flags of ``serve`` (and of ``check-config``, which checks what it would use)."""
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
    serve.add_argument(
        "--max-document-bytes",
        help="largest resource a write may produce (TT_MAX_DOCUMENT_BYTES, default 1 MiB)",
    )
    serve.add_argument(
        "--max-array-items",
        help="most items an array of a resource may hold after a write "
        "(TT_MAX_ARRAY_ITEMS, default 1000)",
    )
    serve.add_argument(
        "--max-patch-operations",
        help="most operations in one JSON Patch (TT_MAX_PATCH_OPERATIONS, default 1000)",
    )
    serve.add_argument(
        "--header-timeout",
        help="time a client has to send a request line and headers (TT_HEADER_TIMEOUT, "
        "default 10s)",
    )
    serve.add_argument(
        "--body-timeout",
        help="time a client has to send a request body (TT_BODY_TIMEOUT, default 30s)",
    )
    serve.add_argument(
        "--idle-timeout",
        help="how long an idle keep-alive connection is kept (TT_IDLE_TIMEOUT, default 5s)",
    )
    serve.add_argument(
        "--max-connections",
        help="connections each server process holds at once (TT_MAX_CONNECTIONS, default 2048)",
    )
    serve.add_argument(
        "--max-concurrent-requests",
        help="requests each server process handles at once, 503 beyond "
        "(TT_MAX_CONCURRENT_REQUESTS, default 512)",
    )
    serve.add_argument(
        "--max-url-bytes",
        help="longest request target, 414 beyond (TT_MAX_URL_BYTES, default 8192)",
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
    serve.add_argument(
        "--metrics", help="on or off: Prometheus metrics at /metrics (TT_METRICS, default on)"
    )
    serve.add_argument(
        "--metrics-port",
        help="serve /metrics on a port of its own instead of the API's (TT_METRICS_PORT)",
    )
    serve.add_argument(
        "--metrics-host",
        help="interface of the metrics port (TT_METRICS_HOST, default the API's host)",
    )
    serve.add_argument(
        "--tracing",
        help="off, otlp (OTEL_EXPORTER_OTLP_* variables) or console: OpenTelemetry traces "
        "(TT_TRACING, default off)",
    )


def _batch_size(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number greater than 0")
    return int(raw)


def _worker(settings: Settings) -> int:
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import signal
    import threading

    from troubleticket import metrics
    from troubleticket.app import background, metered, open_store, runtime

    if settings.tracing != "off":
        from troubleticket import tracing

        tracing.enable(settings)  # its deliveries and partner calls
    store = metered(settings, open_store(settings))
    run = runtime(settings, store)
    stopped = threading.Event()

    def halt(_signum: int, _frame: object) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, halt)
    signal.signal(signal.SIGINT, halt)
    stop_metrics = None
    if settings.metrics and settings.metrics_port is not None:
        stop_metrics = metrics.serve(
            settings.metrics_host or settings.host,
            settings.metrics_port,
            metrics.registry(store),
            settings.metrics_token,
        )
    stop = background(run, threading.Event())
    logger.info("delivering notifications and watching SLAs, store %s", settings.store_shown)
    try:
        stopped.wait()
    finally:
        stop()
        if stop_metrics is not None:
            stop_metrics()
        store.close()
    logger.info("stopped")
    return 0


@contextmanager
def _shared_metrics(settings: Settings) -> Iterator[None]:
    """For the processes of ``serve --workers``: the directory they keep their figures in
    (``TT_METRICS_DIR``, or a temporary one removed at exit), emptied of an earlier run's, and
    with ``TT_METRICS_PORT`` this supervising process answering scrapes for all of them."""
    if not settings.metrics:
        yield
        return
    from troubleticket import metrics
    from troubleticket.app import open_store

    directory = Path(settings.metrics_dir or tempfile.mkdtemp(prefix="troubleticket-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # figures of processes gone: not this run's
        stale.unlink()
    os.environ[metrics.MULTIPROCESS_DIR] = str(directory)
    store = stop = None
    try:
        if settings.metrics_port is not None:
            store = open_store(settings)
            stop = metrics.serve(
                settings.metrics_host or settings.host,
                settings.metrics_port,
                metrics.registry(store),
                settings.metrics_token,
            )
        yield
    finally:
        if stop is not None:
            stop()
        if store is not None:
            store.close()
        if settings.metrics_dir is None:
            shutil.rmtree(directory, ignore_errors=True)


def _serve(settings: Settings) -> int:
    # connexion imports Starlette's TestClient at import time, which warns about httpx on every
    # start; the server never uses the test client.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import uvicorn

    from troubleticket import server
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
    options = server.uvicorn_options(settings)
    if settings.workers > 1:
        # uvicorn starts each worker from an import string; they read their settings back
        # from the environment (the connection limits travel with uvicorn's own configuration)
        os.environ.update(settings.environment())
        with _shared_metrics(settings):
            uvicorn.run(
                "troubleticket.workers:app", factory=True, workers=settings.workers, **options
            )
        return 0
    uvicorn.run(app, **options)
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


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _print_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [
        max([len(column), *(len(row[i]) for row in rows)]) for i, column in enumerate(columns)
    ]
    for line in (columns, *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def _print_json_lines(items: Iterable[Mapping[str, Any]]) -> None:
    for item in items:
        print(json.dumps(item, ensure_ascii=False, separators=(",", ":")))


def _admin(settings: Settings, args: argparse.Namespace) -> int:
    # The same start-up warning of connexion's import as for serve (see there).
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from troubleticket.admin import ReplayStopped

    verb = f"troubleticket {args.command} {args.action}"
    if args.command == "deliveries" and args.action == "replay" and bool(args.ids) == args.dead:
        print(f"{verb}: name the deliveries (ID ...) or give --dead, one of them", file=sys.stderr)
        return 2
    run = _at_risk if args.command == "tickets" else _deliveries
    try:
        return run(settings, args)
    except ReplayStopped as exc:
        for made in exc.made:
            print(made)
        made_before = f" ({_plural(len(exc.made), 'delivery', 'deliveries')} made before)"
        print(f"{verb}: {exc.message}{made_before if exc.made else ''}", file=sys.stderr)
        return 1
    except TroubleTicketError as exc:
        print(f"{verb}: {exc.message}", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        print(f"{verb}: {exc.message}", file=sys.stderr)
        return 1


def _deliveries(settings: Settings, args: argparse.Namespace) -> int:
    from troubleticket.admin import DELIVERY_COLUMNS, DeliveryAdmin, Scope, delivery_row
    from troubleticket.app import hub_service, load_partners, partner_directory

    scope = Scope(hub=args.hub, partner=args.partner)
    store = _open_store(settings, must_exist=True)
    try:
        hubs = hub_service(settings, store)
        partners = None
        if args.partner is not None:  # its secrets must be set, as for serve
            partners = partner_directory(settings, store, hubs, load_partners(settings)[0])
        deliveries = DeliveryAdmin(store, hubs, partners)
        if args.action == "list":
            listing = deliveries.latest(scope, states=args.state or (), limit=args.limit)
            if args.json:
                _print_json_lines(listing.items)
            else:
                _print_table(DELIVERY_COLUMNS, [delivery_row(d) for d in listing.items])
            shown = _plural(len(listing.items), "delivery", "deliveries")
            more = "; more with a higher --limit" if listing.more else ""
            print(f"{shown} to {scope}, newest first{more}", file=sys.stderr)
            return 0
        skipped = None
        if args.dead:
            replay = deliveries.replay_dead(scope)
            made, skipped = replay.made, replay.skipped
        else:
            made = deliveries.replay(args.ids, scope)
    finally:
        store.close()
    for delivery_id in made:
        print(delivery_id)
    summary = f"replayed {_plural(len(made), 'delivery', 'deliveries')} to {scope}"
    if skipped:
        summary += f" ({_plural(skipped, 'dead one', 'dead ones')} replayed before: skipped)"
    if made:
        summary += "; the server or worker on this store sends them within TT_DISPATCH_INTERVAL"
    print(summary, file=sys.stderr)
    return 0


def _at_risk(settings: Settings, args: argparse.Namespace) -> int:
    from troubleticket.admin import BOARD_COLUMNS, at_risk
    from troubleticket.app import load_policy, utc_now

    policy = load_policy(settings)
    store = _open_store(settings, must_exist=True)
    try:
        board = at_risk(store, policy, now=utc_now(), within=args.within, limit=args.limit)
    finally:
        store.close()
    if args.json:
        _print_json_lines(ticket.as_json() for ticket in board.tickets)
    else:
        _print_table(BOARD_COLUMNS, [ticket.row() for ticket in board.tickets])
    summary = f"{_plural(board.total, 'ticket', 'tickets')} at risk"
    if board.total > len(board.tickets):
        summary += f", the {len(board.tickets)} most overdue shown"
    print(summary, file=sys.stderr)
    return 0


def _check_config(args: argparse.Namespace) -> int:
    # The same start-up warning of connexion's import as for serve (see there).
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from troubleticket.admin import PROBLEM, check_config

    findings = check_config({name: getattr(args, name, None) for name in _SETTING_FLAGS})
    for finding in findings:
        print(f"{finding.outcome:<8} {finding.section}: {finding.text}")
    problems = sum(finding.outcome == PROBLEM for finding in findings)
    if problems:
        print(
            f"troubleticket check-config: {_plural(problems, 'problem', 'problems')}; serve "
            "would refuse to start",
            file=sys.stderr,
        )
        return 2
    print("troubleticket check-config: everything serve checks is usable", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        # every problem is reported, the settings' own among them
        return _check_config(args)
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
        if args.command in ("deliveries", "tickets"):
            return _admin(settings, args)
    except ConfigError as exc:
        print(f"troubleticket: {exc}", file=sys.stderr)
        return 2
    return 1
