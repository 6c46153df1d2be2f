"""The ``troubleticket`` command: ``serve`` runs the API server.

Every flag mirrors a ``TT_*`` environment variable; a flag given on the command line wins.
Exit codes: 0 success, 1 failure, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence

from troubleticket import __version__
from troubleticket.config import ConfigError, Settings

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="troubleticket", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the TMF621 API server")
    serve.add_argument("--host", help="interface to listen on (TT_HOST, default 127.0.0.1)")
    serve.add_argument("--port", help="TCP port (TT_PORT, default 8080)")
    serve.add_argument(
        "--store",
        help="SQLite file path or sqlite:///path (TT_STORE, default ./data/troubleticket.sqlite3)",
    )
    serve.add_argument(
        "--base-url",
        help="public URL clients reach the server at, used in href and Location (TT_BASE_URL)",
    )
    serve.add_argument(
        "--max-body-bytes", help="largest accepted request body (TT_MAX_BODY_BYTES, default 1 MiB)"
    )
    serve.add_argument("--log-level", help="debug, info, warning or error (TT_LOG_LEVEL)")
    return parser


def _serve(settings: Settings) -> int:
    # connexion imports Starlette's TestClient at import time, which warns about httpx on every
    # start; the server never uses the test client.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import uvicorn

    from troubleticket.app import create_app

    app = create_app(settings)
    logger.info(
        "serving %s/tmf-api/troubleTicket/v5 from store %s",
        settings.public_base_url,
        settings.store,
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env().with_overrides(
            {
                "host": args.host,
                "port": args.port,
                "store": args.store,
                "base_url": args.base_url,
                "max_body_bytes": args.max_body_bytes,
                "log_level": args.log_level,
            }
        )
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        # TMF621 declares four media types for every PATCH; connexion warns about each, at
        # every start, that it documents the first. The server accepts all four.
        logging.getLogger("connexion.operations.openapi3").setLevel(logging.ERROR)
        if args.command == "serve":
            return _serve(settings)
    except ConfigError as exc:
        print(f"troubleticket: {exc}", file=sys.stderr)
        return 2
    return 1
