"""The entry of each process of ``troubleticket serve --workers N``.

uvicorn starts every worker process from an import string; the parent process put the settings
in the ``TT_*`` environment variables, which each worker reads back here.
"""

from __future__ import annotations

from typing import Any


def app() -> Any:
    from troubleticket import logs
    from troubleticket.app import create_app
    from troubleticket.config import Settings

    settings = Settings.from_env()
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings)
