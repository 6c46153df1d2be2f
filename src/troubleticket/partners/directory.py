"""``PartnerDirectory``: the partners for operators (what is configured, never a secret), the hubs
registered at each, and the requests to each, listed like a hub's deliveries and made again."""

from __future__ import annotations

from troubleticket.context import Context
from troubleticket.domain import partner_report
from troubleticket.domain.errors import Forbidden, NotFound
from troubleticket.domain.partners import Partner, PartnerRegistry
from troubleticket.notify.hubs import HubService
from troubleticket.partners.requests import target
from troubleticket.store.port import Collection, ListQuery, Page, Store
from troubleticket.types import JSON


class PartnerDirectory:
    """The partners for operators: what is configured (never a secret), the hubs registered at
    each, and the requests to each — listed like a hub's deliveries, dead ones made again."""

    def __init__(
        self, registry: PartnerRegistry, *, store: Store, hubs: HubService, api_url: str
    ) -> None:
        self._registry = registry
        self._store = store
        self._hubs = hubs
        self._api_url = api_url

    def _shown(self, partner: Partner) -> JSON:
        shown: JSON = {
            "id": partner.id,
            "href": f"{self._api_url}/partner/{partner.id}",
            "@type": "Partner",
            "name": partner.name,
            "baseUrl": partner.base_url,
            "party": partner.party,
            "subscribe": partner.subscribe,
        }
        link = self._store.get(Collection.PARTNER, partner.id)
        if link is not None:
            shown["hub"] = link.doc["hub"]
            shown["registeredAt"] = link.doc["registeredAt"]
        return shown

    def _partner(self, partner_id: str, context: Context) -> Partner:
        _operator_only(context)
        partner = self._registry.get(partner_id)
        if partner is None:
            raise NotFound("partner", partner_id)
        return partner

    def list(self, context: Context) -> list[JSON]:
        """Raises: Forbidden: a partner's request."""
        _operator_only(context)
        return [self._shown(p) for p in self._registry.partners.values()]

    def get(self, partner_id: str, context: Context) -> JSON:
        """Raises: Forbidden: a partner's request. NotFound: no partner has that id."""
        return self._shown(self._partner(partner_id, context))

    @staticmethod
    def _lanes(partner_id: str) -> tuple[str, ...]:
        return (target(partner_id, partner_report.CREATE), target(partner_id, partner_report.POLL))

    def deliveries(self, partner_id: str, query: ListQuery, context: Context) -> Page:
        """One page of the requests to a partner (newest first unless sorted otherwise).

        Raises:
            Forbidden: a partner's request.
            NotFound: no partner has that id.
        """
        self._partner(partner_id, context)
        return self._hubs.deliveries_to(self._lanes(partner_id), query)

    def replay(self, partner_id: str, body: JSON, context: Context) -> JSON:
        """Make the named requests to a partner again (dead ones after an outage, say).

        Raises:
            Forbidden: a partner's request.
            NotFound: no partner has that id.
            InvalidRequest: see ``HubService.replay_to``.
        """
        self._partner(partner_id, context)
        return self._hubs.replay_to(self._lanes(partner_id), body, f"Partner {partner_id}")


def _operator_only(context: Context) -> None:
    if context.party is not None:
        raise Forbidden("The partner directory is the operator's; a partner may not use it")
