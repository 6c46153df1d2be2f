"""A trouble ticket under the service policy: the lifecycle rules, then the policy on top.

These are the commands of the ticket aggregate — the ticket and its recovery activities: create
and patch the ticket, add, change and remove an activity, and what time alone changes (``tick``,
for the monitor). ``ticket`` and ``activity`` decide what a request may change,
``coordination`` what it means for the rest of the aggregate (gates, cascade, late activities,
rollup), and ``sla`` what the policy makes of the result (priority, clocks, alerts, escalation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from troubleticket.context import NO_CONTEXT, Context
from troubleticket.domain import coordination, major_incident, partner_report, rollup
from troubleticket.domain.activity import party_id as activity_party
from troubleticket.domain.documents import timestamp
from troubleticket.domain.partners import NO_PARTNERS, PartnerRegistry
from troubleticket.domain.policy import Policy
from troubleticket.domain.sla import ALERTS, LEVEL, apply_policy
from troubleticket.domain.ticket import (
    check_assignee_named,
    check_parties_named,
    create_ticket,
    patch_ticket,
)
from troubleticket.types import JSON

# What time alone may change that makes the ticket itself updated.
_NOTICED = (ALERTS, LEVEL, "priority", coordination.SUMMARY)


@dataclass(frozen=True, slots=True)
class ManagedTicket:
    policy: Policy
    partners: PartnerRegistry = NO_PARTNERS

    def create(self, body: JSON, *, resource_id: str, now: datetime, context: Context) -> JSON:
        if context.party_id is not None:
            self._check_parties(None, body.get("relatedParty"), context.party_id)
        ticket = major_incident.settle(create_ticket(body, resource_id=resource_id, now=now))
        return self._settled(None, ticket, now, body, context)

    def patch(self, current: JSON, patch: JSON, *, now: datetime, context: Context) -> JSON:
        if context.party_id is not None and "relatedParty" in patch:
            self._check_parties(current, patch["relatedParty"], context.party_id)
        updated = patch_ticket(current, patch, now=now)
        if updated is current:
            return current
        updated = major_incident.settle(updated)
        updated = coordination.on_status_change(self.policy, current, updated, now)
        return self._settled(current, updated, now, patch, context)

    def patch_through(
        self, current: JSON, patches: list[JSON], *, now: datetime, context: Context
    ) -> JSON:
        """The ticket after ``patches`` applied one after the other as one change (a cascade
        walking a child through the lifecycle): each its ticket rules, the policy once on the
        whole change (as for one patch, from the first status to the last)."""
        updated = current
        for patch in patches:
            stepped = patch_ticket(updated, patch, now=now)
            if stepped is updated:
                continue
            stepped = major_incident.settle(stepped)
            updated = coordination.on_status_change(self.policy, updated, stepped, now)
        if updated is current:
            return current
        merged: JSON = {}
        for patch in patches:
            merged.update(patch)
        return self._settled(current, updated, now, merged, context)

    def _check_parties(self, current: JSON | None, requested: object, party: str) -> None:
        check_parties_named(
            current, requested, party_id=party, may_name=self.policy.partners_may_name
        )

    def _check_assignee(self, current: object, body: JSON, context: Context) -> None:
        """A partner's request assigns only itself or the operator's parties."""
        if context.party_id is not None and "assignee" in body:
            check_assignee_named(
                activity_party(current),
                activity_party(body["assignee"]),
                party_id=context.party_id,
                may_name=self.policy.partners_may_name,
            )

    def tick(self, current: JSON, *, now: datetime) -> JSON:
        ticked = self._settled(current, current, now, None, NO_CONTEXT)
        if any(ticked.get(name) != current.get(name) for name in _NOTICED):
            ticked["lastUpdate"] = timestamp(now)
        return ticked

    # -- recovery activities -------------------------------------------------------------------

    def add_activity(
        self, current: JSON, body: JSON, *, activity_id: str, now: datetime, context: Context
    ) -> JSON:
        self._check_assignee(None, body, context)
        updated = coordination.add_activity(
            self.policy, current, body, activity_id=activity_id, now=now, context=context
        )
        return self._touched(current, self._reported(updated, activity_id, now), now)

    def change_activity(
        self, current: JSON, activity_id: str, patch: JSON, *, now: datetime, context: Context
    ) -> JSON:
        self._check_assignee(
            coordination.find(current, activity_id).get("assignee"), patch, context
        )
        updated = coordination.change_activity(
            current, activity_id, patch, now=now, context=context
        )
        if updated is current:
            return current
        return self._touched(current, self._reported(updated, activity_id, now), now)

    def _reported(self, ticket: JSON, activity_id: str, now: datetime) -> JSON:
        """The ticket with a partner report on the activity, when it is now a partner's work."""
        activities = [
            partner_report.attach(self.partners, ticket["id"], a, now)
            if a["id"] == activity_id
            else a
            for a in coordination.activities_of(ticket)
        ]
        return {**ticket, coordination.ACTIVITIES: activities}

    def from_partner(self, current: JSON, updated: JSON, *, now: datetime) -> JSON:
        """The ticket after what a partner said (``partner_report``), with the rules on top."""
        return self._touched(current, updated, now)

    def remove_activity(self, current: JSON, activity_id: str, *, now: datetime) -> JSON:
        updated = coordination.remove_activity(current, activity_id)
        return self._touched(current, updated, now)

    # -- the policy on top ---------------------------------------------------------------------

    def _touched(self, current: JSON, updated: JSON, now: datetime) -> JSON:
        if updated is current:
            return current
        return self._settled(
            current, {**updated, "lastUpdate": timestamp(now)}, now, None, NO_CONTEXT
        )

    def _settled(
        self,
        before: JSON | None,
        after: JSON,
        now: datetime,
        patch: JSON | None,
        context: Context,
    ) -> JSON:
        after = partner_report.settle(before, after, now)
        after = rollup.raise_late(self.policy, after, now)
        ticket = apply_policy(self.policy, before, after, now=now, patch=patch, context=context)
        return rollup.settle(ticket, now)
