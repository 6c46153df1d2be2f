"""The id of the request being handled: set by ``middleware.RequestIdMiddleware``, named in
error bodies, log lines and audit records."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
_current: ContextVar[str | None] = ContextVar("request_id", default=None)
# A request id a client or a proxy sends is kept when it is this plain; otherwise one is made.
_SANE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def current_request_id() -> str | None:
    """The id of the request being handled (``None`` outside a request)."""
    return _current.get()


def request_id_for(sent: str | None) -> str:
    """The id of a request that sent ``sent`` as its X-Request-ID: that, if plain, or a new one."""
    return sent if sent is not None and _SANE_ID.fullmatch(sent) else uuid.uuid4().hex


def bind(request_id: str) -> object:
    """Make ``request_id`` current; returns what ``unbind`` needs."""
    return _current.set(request_id)


def unbind(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
