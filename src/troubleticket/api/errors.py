"""The one place where exceptions become TMF ``Error`` responses.

Every 4xx and 5xx leaves the server as ``application/json`` with the TMF630 Error shape
``{"@type": "Error", "code", "reason", "message", "status"}`` — never HTML and never Connexion's
``application/problem+json``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from connexion import AsyncApp
from connexion.exceptions import OAuthScopeProblem, ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from troubleticket.context import current_request_id
from troubleticket.domain import errors as domain
from troubleticket.store.port import StoreUnavailable

logger = logging.getLogger(__name__)


class PayloadTooLarge(domain.TroubleTicketError):
    code = "payloadTooLarge"


class MalformedBody(domain.InvalidRequest):
    code = "malformedBody"


class UnsupportedMediaType(domain.TroubleTicketError):
    code = "unsupportedMediaType"


# Looked up along the exception's MRO, so a subclass inherits its parent's status.
STATUS: dict[type[domain.TroubleTicketError], int] = {
    domain.NotFound: 404,
    domain.InvalidRequest: 400,
    domain.InvalidTransition: 409,
    domain.Conflict: 409,
    domain.PreconditionFailed: 412,
    domain.Unauthorized: 401,
    domain.Forbidden: 403,
    # A JSON Patch test that does not hold is a conflict with the current state of the resource.
    domain.PatchTestFailed: 409,
    domain.NotSupported: 501,
    PayloadTooLarge: 413,
    domain.LimitExceeded: 413,
    UnsupportedMediaType: 415,
}

# Codes for errors raised by the framework rather than by our own rules.
_FRAMEWORK_CODES = {
    400: "invalidRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "notFound",
    405: "methodNotAllowed",
    406: "notAcceptable",
    413: "payloadTooLarge",
    415: "unsupportedMediaType",
    500: "internalError",
}

# Service Unavailable: the store is out of reach; the client should retry after a pause.
UNAVAILABLE = 503


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """The TMF Error document for one failure, naming the request (to find it in the logs)."""
    body = {
        "@type": "Error",
        "code": code,
        "reason": HTTPStatus(status).phrase,
        "message": message,
        "status": str(status),
    }
    request_id = current_request_id()
    if request_id is not None:
        body["requestId"] = request_id
    return body


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> ConnexionResponse:
    request_id = current_request_id()
    if status >= 500:
        logger.error("%s %s: %s [request %s]", status, code, message, request_id)
    else:
        logger.warning("%s %s: %s [request %s]", status, code, message, request_id)
    return ConnexionResponse(
        status_code=status,
        mimetype="application/json",
        content_type="application/json",
        body=json.dumps(error_body(status, code, message)).encode(),
        headers=headers or {},
    )


def _status_of(exc: domain.TroubleTicketError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _domain_error(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, domain.TroubleTicketError)
    status = _status_of(exc)
    headers = {"WWW-Authenticate": REALM} if status == 401 else None
    return error_response(status, exc.code, exc.message, headers)


# RFC 6750 §3: a 401 says how to authenticate; "invalid_token" when a token was sent and failed.
REALM = 'Bearer realm="troubleticket"'
NO_TOKEN = "No authorization token provided"


def _challenge(message: str) -> dict[str, str]:
    if message == NO_TOKEN:
        return {"WWW-Authenticate": REALM}
    # a header is printable ASCII, and the message may quote what the token said
    described = "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in message)
    return {"WWW-Authenticate": f'{REALM}, error="invalid_token", error_description="{described}"'}


def _problem(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, ProblemException)
    status = exc.status or 500
    message = exc.detail or exc.title or HTTPStatus(status).phrase
    # Connexion's schema messages end with a jsonschema dump; the first line names the problem.
    message = str(message).split("\n\nFailed validating")[0]
    headers = dict(exc.headers or {})
    if status == 401:
        headers |= _challenge(message)
    return error_response(status, _FRAMEWORK_CODES.get(status, "error"), message, headers)


def _http_exception_handler(
    allowed_methods: Callable[[str], list[str]],
) -> Callable[[ConnexionRequest, Exception], ConnexionResponse]:
    def handle(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        headers = dict(exc.headers or {})
        message = exc.detail if exc.detail != HTTPStatus(status).phrase else ""
        if status == 404:
            message = message or f"No resource at {request.url.path}"
        elif status == 403 and isinstance(exc, OAuthScopeProblem):
            scopes = " ".join(exc.required_scopes)
            headers["WWW-Authenticate"] = f'{REALM}, error="insufficient_scope", scope="{scopes}"'
            message = f"The token does not grant the scope this operation needs: {scopes}"
        elif status == 405:
            # The router only knows the route it matched first; the contract knows them all.
            methods = allowed_methods(request.url.path)
            headers["Allow"] = ", ".join(methods)
            message = f"{request.method} is not allowed here; allowed: {', '.join(methods)}"
        return error_response(
            status,
            _FRAMEWORK_CODES.get(status, "error"),
            message or HTTPStatus(status).phrase,
            headers,
        )

    return handle


def _store_unavailable(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, StoreUnavailable)
    return error_response(
        UNAVAILABLE,
        "storeUnavailable",
        f"{exc.message}; retry in {exc.retry_after} s",
        {"Retry-After": str(exc.retry_after)},
    )


def _unexpected(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    logger.error("unhandled error", exc_info=exc)
    return error_response(500, "internalError", "The server failed to process the request")


def install(app: AsyncApp, allowed_methods: Callable[[str], list[str]]) -> None:
    """Register the handlers that turn every failure into a TMF Error response."""
    app.add_error_handler(domain.TroubleTicketError, _domain_error)
    app.add_error_handler(StoreUnavailable, _store_unavailable)
    app.add_error_handler(ProblemException, _problem)
    app.add_error_handler(HTTPException, _http_exception_handler(allowed_methods))
    app.add_error_handler(Exception, _unexpected)
