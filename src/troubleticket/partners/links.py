"""``PartnerLinks`` registers our listeners as hubs at each partner that sends events, once: the
listeners of the TMF621 version the partner speaks (``dialect``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from troubleticket.domain.documents import timestamp
from troubleticket.domain.partners import Partner, PartnerRegistry
from troubleticket.partners.client import PartnerClient, PartnerError, answer_json
from troubleticket.partners.dialect import dialect_of
from troubleticket.partners.gateway import PartnerGateway
from troubleticket.partners.requests import SUBSCRIBED
from troubleticket.store.port import Collection, DuplicateId, Store
from troubleticket.types import JSON, Clock

logger = logging.getLogger(__name__)


class PartnerLinks:
    """Registers our listeners at each partner that sends events, and remembers the hubs."""

    def __init__(
        self,
        registry: PartnerRegistry,
        secrets: Mapping[str, str],
        gateway: PartnerGateway,
        *,
        store: Store,
        base_url: str,
        clock: Clock,
    ) -> None:
        """``base_url``: our public base URL, the listeners' API roots below it."""
        self._registry = registry
        self._secrets = secrets
        self._gateway = gateway
        self._store = store
        self._base_url = base_url
        self._clock = clock

    def run_once(self) -> int:
        """Register at every partner that has no hub of ours yet; returns how many."""
        done = 0
        for partner in self._registry.partners.values():
            if not partner.subscribe or self._store.get(Collection.PARTNER, partner.id) is not None:
                continue
            try:
                hubs = self._register(partner)
            except PartnerError as exc:
                logger.warning("registering at partner %s failed: %s", partner.id, exc)
                continue
            record = {"id": partner.id, "hub": hubs, "registeredAt": timestamp(self._clock())}
            try:
                self._store.insert(Collection.PARTNER, record)
            except DuplicateId:
                pass  # another process registered meanwhile
            done += 1
        return done

    def _register(self, partner: Partner) -> list[JSON]:
        client = self._gateway.client(partner.id)
        assert client is not None
        secret = None if partner.secret_env is None else self._secrets[partner.secret_env]
        wanted = dialect_of(partner).hubs(
            self._base_url, SUBSCRIBED, append=partner.append_listener_path, secret=secret
        )
        hubs: list[JSON] = []
        try:
            for hub in wanted:
                answer = client.call("POST", "/hub", json=hub)
                if answer.status_code != 201:
                    raise PartnerError(
                        f"POST /hub answered {answer.status_code}", answer.status_code
                    )
                registered = answer_json(answer)
                hubs.append(
                    {"id": registered.get("id"), "callback": hub["callback"], "query": hub["query"]}
                )
        except PartnerError:
            # the next pass registers them all again: the hubs made so far are taken back, or
            # the partner would send each event twice
            self._take_back(client, hubs)
            raise
        return hubs

    @staticmethod
    def _take_back(client: PartnerClient, hubs: list[JSON]) -> None:
        for hub in hubs:
            try:
                client.call("DELETE", f"/hub/{hub['id']}")
            except PartnerError as exc:
                logger.warning("taking back hub %s failed: %s", hub["id"], exc)
