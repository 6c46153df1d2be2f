"""TMF operationId -> handler: the table handed to Connexion's resolver.

Every operationId in the contract is either mapped here or listed in ``NOT_SERVED``; an unknown
id raises at start-up, so the table and the spec cannot drift apart silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connexion.resolver import Resolver

from troubleticket.api.resources import ResourceHandlers
from troubleticket.domain.errors import NotSupported

Handler = Callable[..., Any]

# Hub registration and the client-side listener examples are part of the contract but not yet
# offered: they answer 501 with a TMF Error.
NOT_SERVED = frozenset(
    {
        "createHub",
        "hubGet",
        "hubDelete",
        "troubleTicketCreateEvent",
        "troubleTicketAttributeValueChangeEvent",
        "troubleTicketStatusChangeEvent",
        "troubleTicketDeleteEvent",
        "troubleTicketResolvedEvent",
        "troubleTicketInformationRequiredEvent",
        "troubleTicketSpecificationCreateEvent",
        "troubleTicketSpecificationAttributeValueChangeEvent",
        "troubleTicketSpecificationStatusChangeEvent",
        "troubleTicketSpecificationDeleteEvent",
    }
)


async def not_served(**_: Any) -> None:
    raise NotSupported("This operation is part of TMF621 but not offered by this server yet")


def handler_table(
    tickets: ResourceHandlers, specifications: ResourceHandlers
) -> dict[str, Handler]:
    return {
        "listTroubleTicket": tickets.list,
        "createTroubleTicket": tickets.create,
        "retrieveTroubleTicket": tickets.retrieve,
        "patchTroubleTicket": tickets.patch,
        "deleteTroubleTicket": tickets.delete,
        "listTroubleTicketSpecification": specifications.list,
        "createTroubleTicketSpecification": specifications.create,
        "retrieveTroubleTicketSpecification": specifications.retrieve,
        "patchTroubleTicketSpecification": specifications.patch,
        "deleteTroubleTicketSpecification": specifications.delete,
    }


def resolver(table: dict[str, Handler]) -> Resolver:
    def resolve(operation_id: str) -> Handler:
        if operation_id in table:
            return table[operation_id]
        if operation_id in NOT_SERVED:
            return not_served
        raise ValueError(f"operationId {operation_id!r} has no handler")

    return Resolver(function_resolver=resolve)
