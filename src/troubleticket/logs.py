"""Logging of every process the ``troubleticket`` command starts."""

from __future__ import annotations

import logging


def configure(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # TMF621 declares four media types for every PATCH; connexion warns about each, at every
    # start, that it documents the first. The server accepts all four.
    logging.getLogger("connexion.operations.openapi3").setLevel(logging.ERROR)
