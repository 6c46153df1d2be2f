"""Who is calling: the request context every handler passes to the services.

* With bearer tokens (``TT_AUTH=jwt``) Connexion has checked the token before the handler runs;
  the caller is its subject, its roles are the token's roles and scopes (the service policy's
  override roles may name either), and a partner's token names the party it acts for in the
  configured claim: its requests are restricted to the tickets that party is related to.
* A trusted gateway in front (``TT_TRUSTED_GATEWAY=1``) may say the same in headers:
  ``X-TT-Actor``, ``X-TT-Role`` (comma-separated) and the partner header (``X-TT-Partner: <its
  id>`` by default). Without that setting the headers are ignored: a client cannot claim a role
  or a partner's identity by sending them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connexion import request

from troubleticket.context import Context, current_request_id, note
from troubleticket.domain.errors import Forbidden
from troubleticket.domain.partners import NO_PARTNERS, PartnerRegistry
from troubleticket.types import JSON


class Callers:
    def __init__(
        self,
        partners: PartnerRegistry = NO_PARTNERS,
        *,
        tokens: bool = False,
        trusted_gateway: bool = False,
        scopes: Mapping[str, str] | None = None,
    ) -> None:
        """``scopes``: the scope each operation needs (with tokens), named in the audit."""
        self._partners = partners
        self._header = partners.inbound_header.lower()
        self._tokens = tokens
        self._gateway = trusted_gateway
        self._scopes = scopes or {}

    def _party(self, party_id: Any) -> JSON | None:
        if not isinstance(party_id, str) or not party_id:
            return None
        partner = self._partners.by_party(party_id)
        return partner.party if partner is not None else {"@type": "PartyRef", "id": party_id}

    @property
    def uses_tokens(self) -> bool:
        return self._tokens

    def context(self) -> Context:
        """The context of the request Connexion is handling.

        Raises:
            Forbidden: the gateway's partner header names no registered partner.
        """
        token: Mapping[str, Any] | None = None
        if self._tokens:
            token = request.context.get("token_info") or {}
        routing = request.scope.get("extensions", {}).get("connexion_routing", {})
        return self.context_of(request.headers, token, routing.get("operation_id"))

    def context_of(
        self,
        headers: Mapping[str, str],
        token: Mapping[str, Any] | None = None,
        operation_id: str | None = None,
    ) -> Context:
        """The context of a request with these headers (lower-case names) and checked token.

        Raises:
            Forbidden: the gateway's partner header names no registered partner.
        """
        actor: str | None = None
        roles: set[str] = set()
        party: JSON | None = None
        scope: str | None = None
        if self._tokens and token is not None:
            actor = token.get("sub")
            roles = {*token.get("roles", []), *token.get("scope", [])}
            party = self._party(token.get("party"))
            scope = self._scopes.get(operation_id) if operation_id else None
        if self._gateway:
            actor = headers.get("x-tt-actor") or actor
            named_roles = headers.get("x-tt-role", "")
            roles |= {role.strip() for role in named_roles.split(",") if role.strip()}
            named = headers.get(self._header)
            if named is not None:
                partner = self._partners.get(named.strip())
                if partner is None:
                    raise Forbidden(f"{self._partners.inbound_header} names no partner: {named!r}")
                party = partner.party
        note(operationId=operation_id, actor=actor, party=party.get("id") if party else None)
        return Context(
            actor=actor,
            roles=frozenset(roles),
            party=party,
            scope=scope,
            request_id=current_request_id(),
        )
