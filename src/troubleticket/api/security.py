"""Authorization in the contract: the OAuth2 scheme, a scope per operation, Connexion's checks.

With ``TT_AUTH=jwt`` the contract Connexion serves declares the ``oauth2`` security scheme (client
credentials, the scopes below) and each operation's required scope; Connexion then refuses a
request without a valid bearer token (401) or without the scope (403) before any handler runs,
and hands the handler the token's information. Listeners take no token: partners' hubs post
there, and their events about our reports are checked by signature instead.

The scope of each operation comes from ``OPERATION_SCOPES``, which ``TT_SCOPES`` (a YAML file of
``operationId: scope``) may override.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from typing import Any

from connexion.exceptions import OAuthProblem
from connexion.security import OAuthSecurityHandler

from troubleticket.api.tokens import InvalidToken, TokenVerifier

logger = logging.getLogger(__name__)

READ = "troubleTicket:read"
WRITE = "troubleTicket:write"
ADMIN = "troubleTicket:admin"
HUBS = "hub:manage"
ACTIVITIES = "activity:write"

SCOPES = {
    READ: "Read trouble tickets, their recovery activities and specifications",
    WRITE: "Create and change trouble tickets",
    ADMIN: "Delete tickets, read their audit trail, manage specifications, see partners",
    HUBS: "Register and remove event subscriptions, see and replay their deliveries",
    ACTIVITIES: "Plan, assign and change recovery activities",
}

OPERATION_SCOPES: dict[str, str] = {
    "listTroubleTicket": READ,
    "retrieveTroubleTicket": READ,
    "createTroubleTicket": WRITE,
    "patchTroubleTicket": WRITE,
    "deleteTroubleTicket": ADMIN,
    "listTroubleTicketAuditRecord": ADMIN,
    "listTroubleTicketSpecification": READ,
    "retrieveTroubleTicketSpecification": READ,
    "createTroubleTicketSpecification": ADMIN,
    "patchTroubleTicketSpecification": ADMIN,
    "deleteTroubleTicketSpecification": ADMIN,
    "listTroubleTicketRecoveryActivity": READ,
    "retrieveTroubleTicketRecoveryActivity": READ,
    "listRecoveryActivity": READ,
    "retrieveRecoveryActivity": READ,
    "createTroubleTicketRecoveryActivity": ACTIVITIES,
    "patchTroubleTicketRecoveryActivity": ACTIVITIES,
    "deleteTroubleTicketRecoveryActivity": ACTIVITIES,
    "createHub": HUBS,
    "hubGet": HUBS,
    "hubDelete": HUBS,
    "listHubDelivery": HUBS,
    "createHubReplay": HUBS,
    "listPartner": ADMIN,
    "retrievePartner": ADMIN,
    "listPartnerDelivery": ADMIN,
    "createPartnerReplay": ADMIN,
}
"""The scope each operation needs; an operation not listed (the listeners) needs no token."""

SCHEME = "oauth2"
_METHODS = frozenset({"get", "put", "post", "delete", "patch"})


def operation_scopes(overrides: Mapping[str, Any], known: set[str]) -> dict[str, str]:
    """The default table with ``overrides`` applied.

    Raises:
        ValueError: an override names an operation the contract does not have, or gives a scope
            that is not a string (every problem listed).
    """
    problems = [f"{op}: no such operationId" for op in overrides if op not in known]
    problems += [
        f"{op}: {scope!r} is not a scope"
        for op, scope in overrides.items()
        if not isinstance(scope, str) or not scope.strip()
    ]
    if problems:
        raise ValueError("; ".join(problems))
    return {**OPERATION_SCOPES, **{op: str(scope) for op, scope in overrides.items()}}


def operation_ids(spec: Mapping[str, Any]) -> set[str]:
    return {
        operation["operationId"]
        for path_item in spec["paths"].values()
        for method, operation in path_item.items()
        if method in _METHODS
    }


def secured(spec: Mapping[str, Any], scopes: Mapping[str, str], token_url: str) -> dict[str, Any]:
    """A copy of the contract that requires the scopes of ``scopes`` (no token elsewhere)."""
    secured_spec: dict[str, Any] = copy.deepcopy(dict(spec))
    schemes = secured_spec.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[SCHEME] = {
        "type": "oauth2",
        "description": (
            "Extension (not TMF621): bearer access tokens (JWT) of the configured authorization "
            "server; each operation names the scope it needs."
        ),
        "flows": {"clientCredentials": {"tokenUrl": token_url, "scopes": dict(SCOPES)}},
    }
    for path_item in secured_spec["paths"].values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            scope = scopes.get(operation["operationId"])
            operation["security"] = [{SCHEME: [scope]}] if scope is not None else []
            if scope is not None:
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", {"$ref": "#/components/responses/401"})
                responses.setdefault("403", {"$ref": "#/components/responses/403"})
    return secured_spec


def security_map(verifier: TokenVerifier) -> dict[str, type]:
    """Connexion's handler for the ``oauth2`` scheme, checking tokens with ``verifier``."""

    def token_info(token: str) -> dict[str, Any]:
        try:
            return verifier.token_info(token)
        except InvalidToken as exc:
            # the reason is for the operator's log; the client learns only expired or invalid
            logger.warning("bearer token refused: %s", exc.message)
            raise OAuthProblem(detail=exc.public) from None

    class JwtSecurityHandler(OAuthSecurityHandler):
        def get_tokeninfo_func(self, security_definition: dict[str, Any]) -> Callable[..., Any]:
            return token_info

    return {"oauth2": JwtSecurityHandler}
