"""Connexion's asynchronous app with each operation's handler decorated once, and the contract
validated once per process.

Connexion 3 wraps the handler of an operation in its parameter and response decorators anew on
every request (``AsyncOperation.fn`` builds a decorator, whose wrapper decorates again and
inspects the handler's signature). The wrapped handler depends only on the handler, so this app
builds it the first time the operation is called and keeps it: requests are parsed, coerced and
answered by the same Connexion code, without rebuilding it each time.

Connexion also validates the whole contract against the OpenAPI schema each time an API is
added, twice (the contract, then its copy with the base path): 0.2 s of the 0.23 s an app takes
to build. The verdict depends only on the contract, so it is kept per process, by a digest of
the contract: a contract seen valid before is not validated again, any other still is.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from connexion import AsyncApp
from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.context import receive, scope
from connexion.decorators import StarletteDecorator
from connexion.operations import AbstractOperation
from connexion.spec import OpenAPISpecification

_VALID: set[bytes] = set()  # digests of contracts Connexion found valid in this process
_validate_spec = OpenAPISpecification._validate_spec.__func__


def _validated_once(cls: type, spec: dict[str, Any]) -> None:
    digest = hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)).digest()
    if digest not in _VALID:
        _validate_spec(cls, spec)  # raises InvalidSpecification, and then nothing is kept
        _VALID.add(digest)


OpenAPISpecification._validate_spec = classmethod(_validated_once)


class _DecoratedOnce(StarletteDecorator):  # type: ignore[misc]
    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        decorated = self.decorate(function)

        @functools.wraps(function)
        async def wrapper(*_args: Any, **_kwargs: Any) -> Any:
            request = self.framework.get_request(
                uri_parser=self.uri_parser, scope=scope, receive=receive
            )
            return await decorated(request)

        return wrapper


class _Operation(AsyncOperation):  # type: ignore[misc]
    def __init__(self, fn: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(fn, **kwargs)
        self._decorated = _DecoratedOnce(
            pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )(fn)

    @property
    def fn(self) -> Callable[..., Any]:
        return self._decorated


class _Api(AsyncApi):  # type: ignore[misc]
    def make_operation(self, operation: AbstractOperation) -> AsyncOperation:
        return _Operation(
            operation.function,
            jsonifier=self.jsonifier,
            operation_id=operation.operation_id,
            pythonic_params=self.pythonic_params,
        )


class App(AsyncApp):  # type: ignore[misc]
    """``connexion.AsyncApp`` whose operations keep their decorated handlers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._middleware_app.api_cls = _Api
