"""Logging of every process the ``troubleticket`` command starts.

``TT_LOG_FORMAT=text`` (the default) writes lines for people; ``json`` writes one JSON object a
line for a log pipeline: ``time`` (UTC), ``level``, ``logger``, ``message``, the ``requestId``
of the request being handled when there is one, and the record's own fields. The app writes one
line per request on the ``troubleticket.access`` logger (see ``access``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

from troubleticket.context import current_request_id

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


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Control characters (C0, DEL, C1) and Unicode's line and paragraph separators, written as
# escapes in a text line: a client's "%0a" in a path must not start a line of its own.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_CONTROLS |= {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
_CONTROLS |= {0x2028: "\\u2028", 0x2029: "\\u2029"}


def escaped(text: str) -> str:
    """``text`` with its control characters written as escapes."""
    return text.translate(_CONTROLS) if not text.isprintable() else text


class TextFormatter(logging.Formatter):
    """``TEXT_FORMAT`` with the line's own text escaped; a traceback after it keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return escaped(super().formatMessage(record))


def configure(level: str, format: str = "text") -> None:  # noqa: A002 (the setting's name)
    global _direct
    handler = logging.StreamHandler()
    if format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    if _direct is not None:
        _direct.flush()
    _direct = _DirectAccess(handler, json=format == "json")
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
    request_id: str | None = None,
) -> None:
    """The line of one answered request (``request_id``: by default the current one)."""
    if not _access_logger.isEnabledFor(logging.INFO):
        return
    message = f"{method} {path} {status} {duration_ms:.1f} ms"
    direct = _direct
    if direct is None or not direct.alone():
        fields = _fields(
            {}, request_id, method, path, status, duration_ms, operation_id, actor, party
        )
        _access_logger.info(message, extra=fields)
    elif direct.json:
        head = {"time": direct.stamp(), "level": "info", "logger": ACCESS, "message": message}
        direct.emit(
            orjson.dumps(
                _fields(
                    head, request_id, method, path, status, duration_ms, operation_id, actor, party
                ),
                default=str,
            ).decode()
        )
    else:
        direct.emit(f"{direct.stamp()} INFO {ACCESS}: {escaped(message)}")


def _fields(
    line: dict[str, Any],
    request_id: str | None,
    method: str,
    path: str,
    status: int,
    duration_ms: float,
    operation_id: str | None,
    actor: str | None,
    party: str | None,
) -> dict[str, Any]:
    """``line`` with the access line's own fields added."""
    line["requestId"] = request_id or current_request_id()
    line["method"] = method
    line["path"] = path
    line["status"] = status
    line["durationMs"] = round(duration_ms, 3)
    if operation_id:
        line["operationId"] = operation_id
    if actor:
        line["actor"] = actor
    if party:
        line["party"] = party
    return line


_access_logger = logging.getLogger(ACCESS)


class _DirectAccess:
    """The access line written straight to the stream of the handler ``configure`` set up,
    exactly as that handler would format it.

    Going through ``logging`` (a LogRecord, the caller's frame looked up, the formatter) cost a
    fifth of a GET by id; building the same line here costs a tenth of that. It is used only
    while the line would reach that handler and no other (``alone``): a handler or filter added
    later (a test's capture, say) gets the record the usual way.

    Within ``held()`` lines are kept and written together at its end: one write to the stream
    instead of one each, which matters most on a pipe (a container's stdout), where every write
    may wake the reader.
    """

    def __init__(self, handler: logging.StreamHandler[Any], *, json: bool) -> None:
        self._handler = handler
        self.json = json
        self._second = -1
        self._stamp = ""
        self.holding = False
        self._pending: list[str] = []

    def alone(self) -> bool:
        logger: logging.Logger | None = _access_logger
        while logger is not None:
            if logger.filters:
                return False
            if logger is logging.root:
                return logger.handlers == [self._handler] and not self._handler.filters
            if logger.handlers:
                return False
            logger = logger.parent if logger.propagate else None
        return False

    def stamp(self) -> str:
        """Now, as the handler's formatter writes it (UTC in JSON, local time in text)."""
        now = time.time()
        second = int(now)
        if second != self._second:  # formatted once a second
            self._second = second
            if self.json:
                self._stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            else:
                self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        millis = int((now - second) * 1000)
        return f"{self._stamp}.{millis:03d}+00:00" if self.json else f"{self._stamp},{millis:03d}"

    def emit(self, line: str) -> None:
        if self.holding:
            self._pending.append(line)
        else:
            self._out(line + self._handler.terminator)

    def flush(self) -> None:
        """Write the lines held back, in one write."""
        lines, self._pending = self._pending, []
        if lines:
            terminator = self._handler.terminator
            self._out(terminator.join(lines) + terminator)

    def _out(self, text: str) -> None:
        handler = self._handler
        handler.acquire()
        try:
            handler.stream.write(text)
            handler.stream.flush()
        except Exception:
            handler.handleError(logging.makeLogRecord({"msg": text}))
        finally:
            handler.release()


_direct: _DirectAccess | None = None


@contextmanager
def held() -> Iterator[None]:
    """Access lines written within are written together as it ends (from one thread)."""
    direct = _direct
    if direct is None or direct.holding:
        yield
        return
    direct.holding = True
    try:
        yield
    finally:
        direct.holding = False
        direct.flush()
