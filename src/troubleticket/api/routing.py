"""TMF operationId -> handler: the table handed to Connexion's resolver.

Every operationId in the contract is mapped here; an unknown id raises at start-up, so the table
and the spec cannot drift apart silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connexion.resolver import Resolver

from troubleticket.api.activities import ActivityHandlers
from troubleticket.api.notifications import HubHandlers, ListenerHandlers, PartnerHandlers
from troubleticket.api.resources import ResourceHandlers
from troubleticket.domain.events import listener_name

Handler = Callable[..., Any]

# The listener operations of the contract, by the event type each takes.
LISTENER_EVENTS = {
    listener_name(event_type): event_type
    for event_type in (
        "TroubleTicketCreateEvent",
        "TroubleTicketAttributeValueChangeEvent",
        "TroubleTicketStatusChangeEvent",
        "TroubleTicketDeleteEvent",
        "TroubleTicketResolvedEvent",
        "TroubleTicketInformationRequiredEvent",
        "TroubleTicketSpecificationCreateEvent",
        "TroubleTicketSpecificationAttributeValueChangeEvent",
        "TroubleTicketSpecificationStatusChangeEvent",
        "TroubleTicketSpecificationDeleteEvent",
        # extensions: the service policy's events, and recovery activities'
        "TroubleTicketJeopardyAlertEvent",
        "TroubleTicketEscalationEvent",
        "RecoveryActivityCreateEvent",
        "RecoveryActivityAttributeValueChangeEvent",
        "RecoveryActivityStateChangeEvent",
        "RecoveryActivityDeleteEvent",
    )
}


def handler_table(
    tickets: ResourceHandlers,
    specifications: ResourceHandlers,
    hubs: HubHandlers,
    listeners: ListenerHandlers,
    activities: ActivityHandlers,
    partners: PartnerHandlers,
) -> dict[str, Handler]:
    return {
        **{op: listeners.for_event(event) for op, event in LISTENER_EVENTS.items()},
        "createHub": hubs.create,
        "hubGet": hubs.retrieve,
        "hubDelete": hubs.delete,
        "listHubDelivery": hubs.deliveries,
        "createHubReplay": hubs.replay,
        "listTroubleTicket": tickets.list,
        "createTroubleTicket": tickets.create,
        "retrieveTroubleTicket": tickets.retrieve,
        "patchTroubleTicket": tickets.patch,
        "deleteTroubleTicket": tickets.delete,
        "listTroubleTicketAuditRecord": tickets.audit,
        "listTroubleTicketSpecification": specifications.list,
        "createTroubleTicketSpecification": specifications.create,
        "retrieveTroubleTicketSpecification": specifications.retrieve,
        "patchTroubleTicketSpecification": specifications.patch,
        "deleteTroubleTicketSpecification": specifications.delete,
        "listTroubleTicketRecoveryActivity": activities.list,
        "createTroubleTicketRecoveryActivity": activities.create,
        "retrieveTroubleTicketRecoveryActivity": activities.retrieve,
        "patchTroubleTicketRecoveryActivity": activities.patch,
        "deleteTroubleTicketRecoveryActivity": activities.delete,
        "listRecoveryActivity": activities.list,
        "retrieveRecoveryActivity": activities.retrieve_by_id,
        "listPartner": partners.partners,
        "retrievePartner": partners.retrieve,
        "listPartnerDelivery": partners.deliveries,
        "createPartnerReplay": partners.replay,
    }


def resolver(table: dict[str, Handler]) -> Resolver:
    def resolve(operation_id: str) -> Handler:
        if operation_id in table:
            return table[operation_id]
        raise ValueError(f"operationId {operation_id!r} has no handler")

    return Resolver(function_resolver=resolve)
