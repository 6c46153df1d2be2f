"""Who is calling: the request context every handler passes to the services.

A trusted gateway in front tells the actor (``X-TT-Actor``) and their roles (``X-TT-Role``,
comma-separated). A partner's system names itself in the registry's inbound header
(``X-TT-Partner: <partner id>`` by default): its requests are then restricted to the tickets it
is party to, and the tickets it raises name it.
"""

from __future__ import annotations

from connexion import request

from troubleticket.domain.errors import Forbidden
from troubleticket.domain.partners import NO_PARTNERS, PartnerRegistry
from troubleticket.types import Context


class Callers:
    def __init__(self, partners: PartnerRegistry = NO_PARTNERS) -> None:
        self._partners = partners
        self._header = partners.inbound_header.lower()

    def context(self) -> Context:
        """The context of the request being handled.

        Raises:
            Forbidden: the partner header names no registered partner.
        """
        actor = request.headers.get("x-tt-actor") or None
        roles = request.headers.get("x-tt-role", "")
        party = None
        named = request.headers.get(self._header)
        if named is not None:
            partner = self._partners.get(named.strip())
            if partner is None:
                raise Forbidden(f"{self._partners.inbound_header} names no partner: {named!r}")
            party = partner.party
        return Context(
            actor=actor,
            roles=frozenset(role.strip() for role in roles.split(",") if role.strip()),
            party=party,
        )
