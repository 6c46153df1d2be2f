"""The requests a ticket's change makes to partners, and the partners' URLs checked against
the egress guard."""

from __future__ import annotations

from troubleticket.domain import partner_report
from troubleticket.domain.events import Raised
from troubleticket.domain.partners import PartnerRegistry
from troubleticket.notify.egress import EgressPolicy, EgressRefused
from troubleticket.services.rules import Requests
from troubleticket.types import JSON

# The partner events our listeners take: a status change says where the ticket is, an
# attribute value change brings its notes.
SUBSCRIBED = ("TroubleTicketStatusChangeEvent", "TroubleTicketAttributeValueChangeEvent")


def target(partner_id: str, event_type: str) -> str:
    """The delivery lane of a request to a partner: polls apart, so they never hold back the
    ticket's other requests (which keep their order)."""
    lane = "partner-poll" if event_type == partner_report.POLL else "partner"
    return f"{lane}:{partner_id}"


def partner_requests(registry: PartnerRegistry) -> Requests:
    """The ticket rule that turns a change into requests to partners (``ResourceRules``)."""

    def requests_of(before: JSON | None, after: JSON | None) -> list[tuple[str, Raised]]:
        return [
            (target(partner_id, raised.event_type), raised)
            for partner_id, raised in partner_report.commands(registry, before, after)
        ]

    return requests_of


def refused_partner_urls(registry: PartnerRegistry, egress: EgressPolicy) -> list[str]:
    """Why each partner URL ``egress`` refuses (base URL, token URL) is refused; none: []."""
    refused = []
    for partner_id, partner in registry.partners.items():
        urls = [partner.base_url, *([partner.oauth2.token_url] if partner.oauth2 else [])]
        for url in urls:
            try:
                egress.check_kept(url)
            except EgressRefused as exc:
                refused.append(f"partner {partner_id}: {exc.message}")
    return refused
