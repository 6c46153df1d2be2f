"""Health for probes (Docker ``HEALTHCHECK``, compose, Kubernetes), outside the TMF contract.

* ``GET /health/live``: the process answers HTTP (200 whenever it does).
* ``GET /health/ready``: it can do its work: the store can be read and written now, and each
  background loop this process runs (dispatcher, SLA monitor, partner links) has begun a pass
  recently. 200 when every check passes, else 503; the body names every check and, for a
  failing one, why (the health check response format of draft-inadarei-api-health-check).

Neither needs a token, so a probe works under ``TT_AUTH=jwt``; neither says anything about the
tickets. A process of ``serve --workers N`` that does not hold the background lease runs no
loops and reports none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from troubleticket.background.loops import Heartbeats
from troubleticket.store.port import Store, StoreUnavailable

LIVE = "/health/live"
READY = "/health/ready"


def readiness(store: Store, heartbeats: Heartbeats) -> dict[str, dict[str, Any]]:
    """Every check: ``{"status": "pass" | "fail", "output": why (failing only), …}``."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        store.check()
        checks["store"] = {"status": "pass"}
    except StoreUnavailable as exc:
        checks["store"] = {"status": "fail", "output": exc.message}
    for name, (age, stuck) in sorted(heartbeats.ages().items()):
        check: dict[str, Any] = {"status": "fail" if stuck else "pass", "lastPassSeconds": age}
        if stuck:
            check["output"] = f"no pass began in the last {age:.0f} s"
        checks[name] = check
    return checks


class HealthMiddleware:
    def __init__(self, app: ASGIApp, *, ready: Callable[[], dict[str, dict[str, Any]]]) -> None:
        self.app = app
        self._ready = ready

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path not in (LIVE, READY):
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await self._answer(send, 405, {"status": "fail", "output": "GET only"}, scope)
            return
        if path == LIVE:
            await self._answer(send, 200, {"status": "pass"}, scope)
            return
        checks = await run_in_threadpool(self._ready)  # the store check may wait on a lock
        passing = all(check["status"] == "pass" for check in checks.values())
        body = {"status": "pass" if passing else "fail", "checks": checks}
        await self._answer(send, 200 if passing else 503, body, scope)

    @staticmethod
    async def _answer(send: Send, status: int, body: dict[str, Any], scope: Scope) -> None:
        encoded = orjson.dumps(body)
        headers = [
            (b"content-type", b"application/health+json"),
            (b"content-length", str(len(encoded)).encode()),
            (b"cache-control", b"no-store"),
        ]
        if status == 405:
            headers.append((b"allow", b"GET, HEAD"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else encoded}
        )
