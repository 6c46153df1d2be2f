"""A trouble ticket under the service policy: the lifecycle rules, then the policy on top.

These are the ticket's create, patch and tick rules: ``ticket`` decides what a request may change,
``sla`` what the policy makes of the result (priority, clocks, alerts, escalation), and ``tick``
what time alone changes, for the monitor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from troubleticket.domain.documents import timestamp
from troubleticket.domain.policy import Policy
from troubleticket.domain.sla import ALERTS, LEVEL, apply_policy
from troubleticket.domain.ticket import create_ticket, patch_ticket
from troubleticket.types import JSON, Context


@dataclass(frozen=True, slots=True)
class ManagedTicket:
    policy: Policy

    def create(self, body: JSON, *, resource_id: str, now: datetime, context: Context) -> JSON:
        ticket = create_ticket(body, resource_id=resource_id, now=now)
        return apply_policy(self.policy, None, ticket, now=now, patch=body, context=context)

    def patch(self, current: JSON, patch: JSON, *, now: datetime, context: Context) -> JSON:
        updated = patch_ticket(current, patch, now=now)
        if updated is current:
            return current
        return apply_policy(self.policy, current, updated, now=now, patch=patch, context=context)

    def tick(self, current: JSON, *, now: datetime) -> JSON:
        ticked = apply_policy(self.policy, current, current, now=now)
        noticed = any(ticked.get(name) != current.get(name) for name in (ALERTS, LEVEL, "priority"))
        if noticed:
            ticked["lastUpdate"] = timestamp(now)
        return ticked
