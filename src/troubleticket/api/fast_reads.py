"""Reads of one resource by id, answered beside Connexion's per-request pipeline.

``GET /troubleTicket/{id}`` is what partner systems send most. Through Connexion it is routed
across every path of the contract, checked by the security and validation middlewares, wrapped
by the context middleware and by the parameter and response decorators: together several times
the cost of the read itself (see bench/results). Yet for such an operation the contract refuses
nothing: no body, and every parameter an optional, unconstrained string (the path's ``id`` is
any segment). So this middleware, placed inside the request-id and TMF-error middlewares,
answers it directly with the handler's own code (``ResourceHandlers.one``): same context, same
``fields`` selection, same ``ETag``/``If-None-Match``, same errors raised to the same error
middleware, same JSON.

It takes a request only when nothing could make Connexion answer differently, and passes
everything else on untouched:

* the operation is ``get`` on ``<root>/<collection>/{id}``, and the served contract declares
  only unconstrained string parameters and no security requirement for it (checked once at
  start-up from the contract itself: with ``TT_AUTH=jwt`` every operation needs a token, so no
  request takes this path, and a later constraint in the contract turns it off);
* the query string is empty or a single non-empty ``fields``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from troubleticket.api.callers import Callers
from troubleticket.api.encoding import FastJsonifier
from troubleticket.api.resources import ResourceHandlers

_PLAIN_STRING = {"type": "string"}
_PARAMETER_KEYS = {"name", "in", "required", "description", "schema", "x-extension"}


def _resolved(spec: Mapping[str, Any], item: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = item.get("$ref")
    if not isinstance(ref, str):
        return item
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return _resolved(spec, node)


def refuses_nothing(spec: Mapping[str, Any], path: str) -> bool:
    """Whether the contract's ``get`` of ``path`` accepts every request without a body."""
    path_item = spec.get("paths", {}).get(path, {})
    operation = path_item.get("get")
    if operation is None or operation.get("requestBody") is not None:
        return False
    if operation.get("security", spec.get("security")):
        return False
    for raw in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
        parameter = _resolved(spec, raw)
        if set(parameter) - _PARAMETER_KEYS or parameter.get("in") == "cookie":
            return False
        if parameter.get("in") != "path" and parameter.get("required"):
            return False
        if parameter.get("schema") != _PLAIN_STRING:
            return False
    return True


class FastReadMiddleware:
    """Answer ``GET <root>/<collection>/{id}`` for the collections in ``handlers``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        root: str,
        spec: Mapping[str, Any],
        handlers: Mapping[str, ResourceHandlers],
        callers: Callers,
    ) -> None:
        self.app = app
        self._callers = callers
        self._jsonifier = FastJsonifier()
        # "<root>/<collection>/" -> its handlers and operation, for the operations that may
        # take this path
        self._prefixes = {
            f"{root}/{collection}/": (handler, spec["paths"][f"/{collection}/{{id}}"]["get"])
            for collection, handler in handlers.items()
            if refuses_nothing(spec, f"/{collection}/{{id}}") and not callers.uses_tokens
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler, operation_id, resource_id = self._route(scope)
        if handler is None:
            await self.app(scope, receive, send)
            return
        taken, fields = self._fields(scope.get("query_string", b""))
        if not taken:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        context = self._callers.context_of(headers, operation_id=operation_id)
        body, status, extra = await handler.one(
            resource_id, fields, headers.get("if-none-match"), context
        )
        encoded = b"" if body is None else self._jsonifier.dumps(body)
        raw = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in extra.items()
        ]
        if body is not None:
            raw.append((b"content-type", b"application/json"))
            raw.append((b"content-length", str(len(encoded)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": encoded})

    def _route(self, scope: Scope) -> tuple[ResourceHandlers | None, str | None, str]:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None, None, ""
        path: str = scope["path"]
        for prefix, (handler, operation) in self._prefixes.items():
            if path.startswith(prefix):
                resource_id = path[len(prefix) :]
                if resource_id and "/" not in resource_id:
                    return handler, operation.get("operationId"), resource_id
        return None, None, ""

    @staticmethod
    def _fields(query: bytes) -> tuple[bool, str | None]:
        """Whether the query is one this path takes, and the ``fields`` it asks for."""
        if not query:
            return True, None
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        if len(pairs) != 1 or pairs[0][0] != "fields" or not pairs[0][1]:
            return False, None
        return True, pairs[0][1]
