"""``PartnerInbox`` takes the partner's events at our listeners: it finds the report by the
partner ticket's id, checks the Standard Webhooks signature when the partner was given a secret,
and mirrors the partner ticket onto the activity."""

from __future__ import annotations

from collections.abc import Mapping

from troubleticket.domain.errors import Unauthorized
from troubleticket.domain.partners import Partner, PartnerRegistry
from troubleticket.domain.signing import verify
from troubleticket.partners.gateway import PartnerGateway
from troubleticket.store.port import Collection, ListQuery, Store
from troubleticket.store.query import AnyOf, Comparison, Filter, Op
from troubleticket.types import JSON, Clock


class PartnerInbox:
    """Partner events at our listeners: whose report, signed by whom, and what they change."""

    def __init__(
        self,
        registry: PartnerRegistry,
        secrets: Mapping[str, str],
        *,
        store: Store,
        gateway: PartnerGateway,
        clock: Clock,
    ) -> None:
        self._registry = registry
        self._secrets = secrets
        self._store = store
        self._gateway = gateway
        self._clock = clock

    def accept(self, event: JSON, raw: bytes, headers: Mapping[str, str]) -> bool:
        """Apply a partner's event to the report it concerns; ``False`` when it concerns none.

        Raises:
            Unauthorized: the partner was given a secret and the event is not signed with it.
        """
        payload = event.get("event")
        partner_ticket = payload.get("troubleTicket") if isinstance(payload, Mapping) else None
        if not isinstance(partner_ticket, Mapping) or not isinstance(partner_ticket.get("id"), str):
            return False
        match = Filter(
            (
                AnyOf(
                    (
                        Comparison(
                            ("partnerReport", "partnerTicket", "id"), Op.EQ, partner_ticket["id"]
                        ),
                    )
                ),
            )
        )
        page = self._store.list(
            Collection.RECOVERY_ACTIVITY, ListQuery(count=False, where=match, limit=1)
        )
        if not page.items:
            return False
        activity = page.items[0]
        partner = self._registry.get(activity["partnerReport"]["partner"]["id"])
        if partner is None:
            return False
        if partner.secret_env is not None:
            self._verify(partner, raw, headers)
        self._gateway.mirror(activity["troubleTicket"]["id"], activity["id"], dict(partner_ticket))
        return True

    def _verify(self, partner: Partner, raw: bytes, headers: Mapping[str, str]) -> None:
        assert partner.secret_env is not None
        stamp = headers.get("webhook-timestamp", "")
        signed = stamp.isdigit() and verify(
            self._secrets[partner.secret_env],
            headers.get("webhook-id", ""),
            int(stamp),
            raw,
            headers.get("webhook-signature", ""),
            now=int(self._clock().timestamp()),
        )
        if not signed:
            raise Unauthorized(
                f"The event is not signed with the secret partner {partner.id} was given "
                "(Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)"
            )
