"""Connexion's asynchronous app with each operation's handler decorated once.

Connexion 3 wraps the handler of an operation in its parameter and response decorators anew on
every request (``AsyncOperation.fn`` builds a decorator, whose wrapper decorates again and
inspects the handler's signature). The wrapped handler depends only on the handler, so this app
builds it the first time the operation is called and keeps it: requests are parsed, coerced and
answered by the same Connexion code, without rebuilding it each time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from connexion import AsyncApp
from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.context import receive, scope
from connexion.decorators import StarletteDecorator
from connexion.operations import AbstractOperation


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
