"""Logging of every process the ``troubleticket`` command starts.

``TT_LOG_FORMAT=text`` (the default) writes lines for people; ``json`` writes one JSON object a
line for a log pipeline: ``time`` (UTC), ``level``, ``logger``, ``message``, the ``requestId``
of the request being handled when there is one, and the record's own fields. The app writes one
line per request on the ``troubleticket.access`` logger (see ``access``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

from troubleticket.api.request_id import current_request_id

ACCESS = "troubleticket.access"
# what every LogRecord has; anything else on a record was given as ``extra`` and is written
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id is not None:
            line["requestId"] = request_id
        line |= {k: v for k, v in vars(record).items() if k not in _STANDARD}  # ours win
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(level: str, format: str = "text") -> None:  # noqa: A002 (the setting's name)
    handler = logging.StreamHandler()
    if format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # TMF621 declares four media types for every PATCH; connexion warns about each, at every
    # start, that it documents the first. The server accepts all four.
    logging.getLogger("connexion.operations.openapi3").setLevel(logging.ERROR)


def access(
    *,
    method: str,
    path: str,
    status: int,
    duration_ms: float,
    operation_id: str | None,
    actor: str | None,
    party: str | None,
) -> None:
    """The line of one answered request."""
    fields: dict[str, Any] = {
        "requestId": current_request_id(),
        "method": method,
        "path": path,
        "status": status,
        "durationMs": round(duration_ms, 3),
    }
    if operation_id:
        fields["operationId"] = operation_id
    if actor:
        fields["actor"] = actor
    if party:
        fields["party"] = party
    logging.getLogger(ACCESS).info(
        "%s %s %s %.1f ms", method, path, status, duration_ms, extra=fields
    )
