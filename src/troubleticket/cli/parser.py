"""The command line of ``troubleticket``: its verbs, their flags, and the settings a flag mirrors
(each a ``TT_*`` variable; a flag given on the command line wins)."""

from __future__ import annotations

import argparse
from typing import Any

from troubleticket import __version__
from troubleticket.domain.durations import parse_duration
from troubleticket.transfer import DEFAULT_BATCH_SIZE

# The settings a flag may override, by the attribute argparse gives the flag.
SETTING_FLAGS = (
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
    "v4",
    "console",
    "policy",
    "partners",
)


_STORE_HELP = (
    "SQLite file path, sqlite:///path or mongodb:// URI "
    "(TT_STORE, default ./data/troubleticket.sqlite3)"
)


def build_parser() -> argparse.ArgumentParser:
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
        help="server processes sharing the port and the store, or 'auto' for one per core "
        "(the production setting); all deliver notifications, one of them runs the other "
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
        "--v4",
        help="on or off: the TMF621 v4 root /tmf-api/troubleTicket/v4 on the same tickets "
        "(TT_V4, default on)",
    )
    serve.add_argument(
        "--console",
        help="on or off: the coordination console for people at /console (TT_CONSOLE, default on)",
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
