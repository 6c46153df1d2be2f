"""The ``troubleticket`` command: serve the API, export and import all stored documents.

``serve`` runs the API server; ``export`` and ``import`` move every stored document between
stores (SQLite to MongoDB, say) as JSON Lines, in the format ``transfer`` describes. The
operator's verbs — ``deliveries list|replay``, ``tickets at-risk`` and ``check-config`` — are
parsed and printed by ``cli.admin`` and done by ``troubleticket.admin``.

Every setting flag mirrors a ``TT_*`` environment variable; a flag given on the command line wins.
Export and import show a progress bar when stderr is a terminal, and end with a one-line summary
on stderr. Exit codes: 0 success, 1 failure, 2 usage or configuration error.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from troubleticket import logs
from troubleticket.cli.admin import admin, check_config
from troubleticket.cli.parser import SETTING_FLAGS, build_parser
from troubleticket.cli.processes import serve, worker
from troubleticket.cli.transfer import transfer
from troubleticket.config import ConfigError, Settings

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check-config":
        # every problem is reported, the settings' own among them
        return check_config(args)
    try:
        settings = Settings.from_env().with_overrides(
            {name: getattr(args, name, None) for name in SETTING_FLAGS}
        )
        logs.configure(settings.log_level, settings.log_format)
        if args.command == "serve":
            return serve(settings)
        if args.command in ("export", "import"):
            return transfer(settings, args)
        if args.command == "worker":
            return worker(settings)
        if args.command in ("deliveries", "tickets"):
            return admin(settings, args)
    except ConfigError as exc:
        print(f"troubleticket: {exc}", file=sys.stderr)
        return 2
    return 1
