"""The operationId table against the contract, and the contract and Swagger UI served by the app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from connexion.exceptions import ResolverError

from tests.builders import API, LIMITS
from troubleticket.api.activities import ActivityHandlers
from troubleticket.api.callers import Callers
from troubleticket.api.contract import load_spec
from troubleticket.api.notifications import HubHandlers, ListenerHandlers, PartnerHandlers
from troubleticket.api.resources import ResourceHandlers
from troubleticket.api.routing import LISTENER_EVENTS, handler_table, resolver
from troubleticket.bootstrap.services import specification_rules, ticket_rules
from troubleticket.config import Settings
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.partners import NO_PARTNERS
from troubleticket.domain.policy import DEFAULT_POLICY
from troubleticket.notify.hubs import HubService
from troubleticket.notify.listeners import ListenerService
from troubleticket.partners.directory import PartnerDirectory
from troubleticket.services.activities import ActivityService
from troubleticket.services.resources import ResourceService
from troubleticket.services.rules import ResourceRules
from troubleticket.store.port import Collection
from troubleticket.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from starlette.testclient import TestClient

RESOURCE_OPERATIONS = {
    "listTroubleTicket",
    "createTroubleTicket",
    "retrieveTroubleTicket",
    "patchTroubleTicket",
    "deleteTroubleTicket",
    "listTroubleTicketSpecification",
    "createTroubleTicketSpecification",
    "retrieveTroubleTicketSpecification",
    "patchTroubleTicketSpecification",
    "deleteTroubleTicketSpecification",
}
HUB_OPERATIONS = {"createHub", "hubGet", "hubDelete", "listHubDelivery", "createHubReplay"}
LISTENER_OPERATIONS = {
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
    "troubleTicketJeopardyAlertEvent",
    "troubleTicketEscalationEvent",
    "recoveryActivityCreateEvent",
    "recoveryActivityAttributeValueChangeEvent",
    "recoveryActivityStateChangeEvent",
    "recoveryActivityDeleteEvent",
}
# operationId -> the ActivityHandlers method serving it
ACTIVITY_OPERATIONS = {
    "listTroubleTicketRecoveryActivity": "list",
    "createTroubleTicketRecoveryActivity": "create",
    "retrieveTroubleTicketRecoveryActivity": "retrieve",
    "patchTroubleTicketRecoveryActivity": "patch",
    "deleteTroubleTicketRecoveryActivity": "delete",
    "listRecoveryActivity": "list",
    "retrieveRecoveryActivity": "retrieve_by_id",
}
PARTNER_OPERATIONS = {
    "listPartner": "partners",
    "retrievePartner": "retrieve",
    "listPartnerDelivery": "deliveries",
    "createPartnerReplay": "replay",
}
# the ticket's audit trail, served by the tickets' handlers
AUDIT_OPERATION = "listTroubleTicketAuditRecord"
SERVED = (
    RESOURCE_OPERATIONS
    | {AUDIT_OPERATION}
    | HUB_OPERATIONS
    | LISTENER_OPERATIONS
    | set(ACTIVITY_OPERATIONS)
    | set(PARTNER_OPERATIONS)
)
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def spec_operation_ids() -> list[str]:
    return [
        operation["operationId"]
        for path_item in load_spec()["paths"].values()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    ]


class Handlers:
    """The real handler objects of both resources, on an in-memory store."""

    def __init__(self, store: SqliteStore) -> None:
        settings = Settings(store="sqlite:///")

        def service(collection: Collection, rules: ResourceRules) -> ResourceService:
            return ResourceService(
                collection,
                store=store,
                rules=rules,
                clock=lambda: datetime.now(UTC),
                new_id=lambda: "id-1",
                base_url=settings.public_base_url,
                limits=LIMITS,
            )

        self.tickets_service = service(
            Collection.TROUBLE_TICKET, ticket_rules(ManagedTicket(DEFAULT_POLICY))
        )
        callers = Callers()
        self.tickets = ResourceHandlers(self.tickets_service, settings, callers)
        self.specifications = ResourceHandlers(
            service(Collection.TROUBLE_TICKET_SPECIFICATION, specification_rules()),
            settings,
            callers,
        )
        clock = lambda: datetime.now(UTC)  # noqa: E731
        self.hubs = HubHandlers(
            HubService(store, clock=clock, new_id=lambda: "hub-1", base_url="http://x"),
            settings,
            callers,
        )
        self.listeners = ListenerHandlers(ListenerService(store, clock=clock))
        activities = ActivityService(
            self.tickets_service,
            store,
            managed=ManagedTicket(DEFAULT_POLICY),
            clock=clock,
            new_id=lambda: "ra-1",
        )
        self.activities = ActivityHandlers(activities, settings, callers)
        hub_service = HubService(store, clock=clock, new_id=lambda: "hub-1", base_url="http://x")
        self.partners = PartnerHandlers(
            PartnerDirectory(NO_PARTNERS, store=store, hubs=hub_service, api_url="http://x"),
            settings,
            callers,
        )
        self.table = handler_table(
            self.tickets,
            self.specifications,
            self.hubs,
            self.listeners,
            self.activities,
            self.partners,
        )


@pytest.fixture
def handlers() -> Iterator[Handlers]:
    store = SqliteStore(":memory:")
    yield Handlers(store)
    store.close()


class TestTheOperationTable:
    def test_operation_ids_in_the_contract_are_unique(self) -> None:
        ids = spec_operation_ids()

        assert len(ids) == len(set(ids))

    def test_every_operation_in_the_contract_is_served(self, handlers: Handlers) -> None:
        assert set(spec_operation_ids()) == set(handlers.table) == SERVED

    def test_the_audit_trail_is_served_by_the_tickets_handlers(self, handlers: Handlers) -> None:
        assert handlers.table[AUDIT_OPERATION] == handlers.tickets.audit

    def test_each_resource_operation_is_bound_to_its_own_resource(self, handlers: Handlers) -> None:
        for operation_id in RESOURCE_OPERATIONS:
            handler = handlers.table[operation_id]
            owner = handlers.specifications if "Specification" in operation_id else handlers.tickets
            verb = operation_id.removesuffix("TroubleTicketSpecification").removesuffix(
                "TroubleTicket"
            )
            assert getattr(handler, "__self__", None) is owner, operation_id
            assert handler.__name__ == verb, operation_id

    def test_activity_operations_are_bound_to_the_activity_handlers(
        self, handlers: Handlers
    ) -> None:
        for operation_id, method in ACTIVITY_OPERATIONS.items():
            handler = handlers.table[operation_id]
            assert getattr(handler, "__self__", None) is handlers.activities, operation_id
            assert handler.__name__ == method, operation_id

    def test_partner_operations_are_bound_to_the_partner_handlers(self, handlers: Handlers) -> None:
        for operation_id, method in PARTNER_OPERATIONS.items():
            handler = handlers.table[operation_id]
            assert getattr(handler, "__self__", None) is handlers.partners, operation_id
            assert handler.__name__ == method, operation_id

    def test_hub_operations_are_bound_to_the_hub_handlers(self, handlers: Handlers) -> None:
        for operation_id in HUB_OPERATIONS:
            assert getattr(handlers.table[operation_id], "__self__", None) is handlers.hubs

    def test_each_listener_takes_the_event_type_its_path_names(self, handlers: Handlers) -> None:
        assert set(LISTENER_EVENTS) == LISTENER_OPERATIONS
        for operation_id, event_type in LISTENER_EVENTS.items():
            assert event_type == operation_id[:1].upper() + operation_id[1:]
            assert handlers.table[operation_id].__name__ == f"receive{event_type}"

    def test_the_resolver_gives_each_operation_its_handler(self, handlers: Handlers) -> None:
        resolve = resolver(handlers.table).resolve_function_from_operation_id

        assert all(resolve(name) == handlers.table[name] for name in SERVED)

    def test_the_resolver_refuses_an_operation_it_does_not_know(self, handlers: Handlers) -> None:
        resolve = resolver(handlers.table).resolve_function_from_operation_id

        with pytest.raises(ResolverError, match="noSuchOperation"):
            resolve("noSuchOperation")


class TestTheServedContract:
    def test_the_openapi_document_is_served_under_the_api_root(self, client: TestClient) -> None:
        response = client.get(f"{API}/openapi.json")

        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        document = response.json()
        assert "openapi" in document
        assert document["openapi"].startswith("3.")
        assert set(document["paths"]) == set(load_spec()["paths"])

    def test_the_swagger_ui_is_served_under_the_api_root(self, client: TestClient) -> None:
        response = client.get(f"{API}/ui/")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "swagger" in response.text.lower()
