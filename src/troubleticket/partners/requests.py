"""The requests a ticket's change makes to partners, and the partners' URLs checked against the egress guard."""

from __future__ import annotations


import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
import urllib3

from troubleticket.context import NO_CONTEXT, Context
from troubleticket.domain import coordination, partner_report
from troubleticket.domain.documents import timestamp
from troubleticket.domain.errors import Forbidden, NotFound, Unauthorized
from troubleticket.domain.events import Raised, listener_name
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.partners import Partner, PartnerRegistry
from troubleticket.domain.signing import verify
from troubleticket.notify.dispatch import Outcome
from troubleticket.notify.egress import PUBLIC_ONLY, EgressPolicy, EgressRefused
from troubleticket.notify.hubs import HubService
from troubleticket.services.resources import Requests, ResourceService
from troubleticket.store.port import Collection, DuplicateId, ListQuery, Page, Store
from troubleticket.store.query import AnyOf, Comparison, Filter, Op
from troubleticket.types import JSON, Clock



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
