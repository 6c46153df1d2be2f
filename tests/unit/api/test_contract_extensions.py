"""The contract's extensions to TMF621 are marked as such, and the hub secret is never returned.

The service policy's attributes and events are checked against what the policy produces.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft4Validator

from troubleticket.api.contract import document_validator, load_spec
from troubleticket.context import Context
from troubleticket.domain.events import TROUBLE_TICKET, envelope, raised_by
from troubleticket.domain.policy import DEFAULT_POLICY, EscalationRule
from troubleticket.domain.sla import HIDDEN, apply_policy
from troubleticket.types import JSON

EXTENSION = "Extension (not TMF621):"
EXTENSION_PATHS = ("/hub/{id}/delivery", "/hub/{id}/replay")
EXTENSION_SCHEMAS = (
    "EventDelivery",
    "EventReplay",
    "EventReplay_FVO",
    "SlaClock",
    "JeopardyAlert",
    "PriorityOverride",
    "PriorityChange",
    "Escalation",
    "TroubleTicketJeopardyAlertEvent",
    "TroubleTicketJeopardyAlertEventPayload",
    "TroubleTicketEscalationEvent",
    "TroubleTicketEscalationEventPayload",
    "ActivityStateType",
    "ActivityStateChange",
    "ActivityAssignment",
    "ActivitySummary",
    "RecoveryActivity",
    "RecoveryActivity_FVO",
    "RecoveryActivity_MVO",
    "RecoveryActivity_RES",
    "RecoveryActivityRef",
    "RecoveryActivityCreateEvent",
    "RecoveryActivityCreateEventPayload",
    "RecoveryActivityAttributeValueChangeEvent",
    "RecoveryActivityAttributeValueChangeEventPayload",
    "RecoveryActivityStateChangeEvent",
    "RecoveryActivityStateChangeEventPayload",
    "RecoveryActivityDeleteEvent",
    "RecoveryActivityDeleteEventPayload",
)
# The service policy's listeners: path -> (operationId, event type).
POLICY_LISTENERS = {
    "/listener/troubleTicketJeopardyAlertEvent": (
        "troubleTicketJeopardyAlertEvent",
        "TroubleTicketJeopardyAlertEvent",
    ),
    "/listener/troubleTicketEscalationEvent": (
        "troubleTicketEscalationEvent",
        "TroubleTicketEscalationEvent",
    ),
}
# The recovery activities' listeners: path -> (operationId, event type).
ACTIVITY_LISTENERS = {
    "/listener/recoveryActivityCreateEvent": (
        "recoveryActivityCreateEvent",
        "RecoveryActivityCreateEvent",
    ),
    "/listener/recoveryActivityAttributeValueChangeEvent": (
        "recoveryActivityAttributeValueChangeEvent",
        "RecoveryActivityAttributeValueChangeEvent",
    ),
    "/listener/recoveryActivityStateChangeEvent": (
        "recoveryActivityStateChangeEvent",
        "RecoveryActivityStateChangeEvent",
    ),
    "/listener/recoveryActivityDeleteEvent": (
        "recoveryActivityDeleteEvent",
        "RecoveryActivityDeleteEvent",
    ),
}
EXTENSION_LISTENERS = {**POLICY_LISTENERS, **ACTIVITY_LISTENERS}
# Ticket attributes the server keeps, and the schema of each (of its items, for arrays).
SERVER_OWNED = {
    "slaClock": "SlaClock",
    "troubleTicketJeopardyAlert": "JeopardyAlert",
    "priorityOverride": "PriorityOverride",
    "priorityHistory": "PriorityChange",
    "escalation": "Escalation",
}
# What the contract adds to TMF622's JeopardyAlert.
JEOPARDY_EXTENSIONS = ("clock", "recoveryActivity")
REASONS = ("priorityChangeReason", "escalationReason")
WRITABLE_TICKETS = ("TroubleTicket_FVO", "TroubleTicket_MVO")
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def operations(path: str) -> list[dict[str, Any]]:
    path_item = load_spec()["paths"][path]
    return [operation for method, operation in path_item.items() if method in HTTP_METHODS]


def properties(schema_name: str) -> dict[str, Any]:
    """The properties a schema declares itself and in its ``allOf`` parts (not through $ref)."""
    schema = load_spec()["components"]["schemas"][schema_name]
    found = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        found.update(part.get("properties", {}))
    return found


@pytest.mark.parametrize("path", EXTENSION_PATHS)
def test_extension_operations_are_marked(path: str) -> None:
    found = operations(path)
    assert found, f"{path} has no operation"
    for operation in found:
        assert operation["x-extension"] is True
        assert operation["description"].startswith(EXTENSION)
        assert operation["tags"] == ["delivery administration (extension)"]


def test_extension_operations_have_their_operation_ids() -> None:
    assert [op["operationId"] for op in operations("/hub/{id}/delivery")] == ["listHubDelivery"]
    assert [op["operationId"] for op in operations("/hub/{id}/replay")] == ["createHubReplay"]


@pytest.mark.parametrize("name", EXTENSION_SCHEMAS)
def test_extension_schemas_are_marked(name: str) -> None:
    assert load_spec()["components"]["schemas"][name]["description"].startswith(EXTENSION)


def test_event_delivery_states() -> None:
    assert properties("EventDelivery")["state"]["enum"] == [
        "pending",
        "delivering",
        "delivered",
        "dead",
        "cancelled",
    ]


def test_the_hub_secret_is_write_only_and_never_part_of_a_hub() -> None:
    secret = properties("Hub_FVO")["secret"]
    assert secret["type"] == "string"
    assert secret["writeOnly"] is True
    assert secret["description"].startswith(EXTENSION)
    assert "secret" not in properties("Hub")


def test_hub_extension_properties_are_marked() -> None:
    assert properties("Hub_FVO")["appendEventListenerPath"]["default"] is False
    assert properties("Hub")["appendEventListenerPath"]["default"] is False
    for name in ("signed", "createdAt"):
        assert properties("Hub")[name]["readOnly"] is True
    for schema_name, names in (
        ("Hub_FVO", ("secret", "appendEventListenerPath")),
        ("Hub", ("appendEventListenerPath", "signed", "createdAt")),
    ):
        for name in names:
            assert properties(schema_name)[name]["description"].startswith(EXTENSION)


def test_the_hub_query_keeps_its_official_description_first() -> None:
    description = properties("Hub_FVO")["query"]["description"]
    assert description.startswith("additional data to be passed")
    assert "TMF630 attribute filter" in description


def test_creating_a_hub_answers_201_with_location_and_retrieving_it_200_without() -> None:
    spec = load_spec()
    responses = spec["components"]["responses"]
    created = spec["paths"]["/hub"]["post"]["responses"]["201"]["$ref"]
    retrieved = spec["paths"]["/hub/{id}"]["get"]["responses"]["200"]["$ref"]
    assert created == "#/components/responses/201Hub"
    assert retrieved == "#/components/responses/Hub"
    assert "Location" in responses["201Hub"]["headers"]
    assert "headers" not in responses["Hub"]


def test_every_operation_id_is_unique() -> None:
    ids = Counter(
        operation["operationId"]
        for path_item in load_spec()["paths"].values()
        for method, operation in path_item.items()
        if method in HTTP_METHODS and "operationId" in operation
    )
    assert ids, "the contract declares no operationId"
    assert [name for name, count in ids.items() if count > 1] == []


def ref(schema: dict[str, Any]) -> str:
    """The ``$ref`` of a property, directly or as the one part of an ``allOf``."""
    if "$ref" in schema:
        return str(schema["$ref"])
    (part,) = schema["allOf"]
    return str(part["$ref"])


def validator(schema_name: str) -> Draft4Validator:
    return Draft4Validator(
        {"$ref": f"#/components/schemas/{schema_name}", "components": load_spec()["components"]},
        format_checker=Draft4Validator.FORMAT_CHECKER,
    )


# -- the service policy: ticket attributes ---------------------------------------------------


@pytest.mark.parametrize(("name", "schema_name"), SERVER_OWNED.items())
def test_server_owned_policy_attributes_are_read_only_extensions(
    name: str, schema_name: str
) -> None:
    attribute = properties("TroubleTicket")[name]
    assert attribute["readOnly"] is True
    assert attribute["description"].startswith(EXTENSION)
    if name == "priorityOverride":
        assert ref(attribute) == f"#/components/schemas/{schema_name}"
    else:
        assert attribute["type"] == "array"
        assert attribute["items"]["$ref"] == f"#/components/schemas/{schema_name}"
    for writable in WRITABLE_TICKETS:
        assert name not in properties(writable)


@pytest.mark.parametrize("schema_name", ["TroubleTicket", *WRITABLE_TICKETS])
def test_the_escalation_level_is_a_whole_number_from_0_to_10(schema_name: str) -> None:
    level = properties(schema_name)["escalationLevel"]
    assert level["type"] == "integer"
    assert (level["minimum"], level["maximum"]) == (0, 10)
    assert "readOnly" not in level
    assert level["description"].startswith(EXTENSION)
    assert "TMF656" in level["description"]
    assert "escalationReason" in level["description"]


@pytest.mark.parametrize("schema_name", WRITABLE_TICKETS)
def test_the_reasons_are_writable_only(schema_name: str) -> None:
    for name in REASONS:
        reason = properties(schema_name)[name]
        assert reason["type"] == "string"
        assert reason["description"].startswith(EXTENSION)
    assert "X-TT-Role" in properties(schema_name)["priorityChangeReason"]["description"]
    for name in REASONS:
        assert name not in properties("TroubleTicket")


def test_the_ticket_priority_keeps_its_official_description_first() -> None:
    description = properties("TroubleTicket")["priority"]["description"]
    assert description.startswith(
        "The priority of the trouble ticket and how quickly the issue should be resolved."
    )
    assert "override (priorityOverride)" in description
    assert "kept in requestedPriority" in description
    for writable in WRITABLE_TICKETS:
        assert "priorityChangeReason" not in properties(writable)["priority"]["description"]


@pytest.mark.parametrize(
    ("name", "sent_as"),
    [("requestedPriority", "priority"), ("clientExpectedResolutionDate", "expectedResolutionDate")],
)
def test_what_the_client_sent_beside_the_servers_value_is_a_read_only_extension(
    name: str, sent_as: str
) -> None:
    attribute = properties("TroubleTicket")[name]
    assert attribute["readOnly"] is True
    assert attribute["description"].startswith(EXTENSION)
    assert name in properties("TroubleTicket")[sent_as]["description"]
    for writable in WRITABLE_TICKETS:
        assert name not in properties(writable)
        # the attribute the client sends stays in the official write views
        assert sent_as in properties(writable)


def test_the_ticket_clocks_can_be_filtered_by_jeopardy() -> None:
    description = properties("TroubleTicket")["slaClock"]["description"]
    assert "slaClock.jeopardy=warning,breach" in description


def test_sla_clock_shape() -> None:
    clock = properties("SlaClock")
    assert clock["state"]["enum"] == ["running", "paused", "met", "breached", "cancelled"]
    assert clock["jeopardy"]["enum"] == ["none", "warning", "breach"]
    for name in ("targetSeconds", "elapsedSeconds", "pausedSeconds"):
        assert clock[name]["type"] == "number"
    for name in ("startedAt", "asOf", "stoppedAt", "deadline"):
        assert (clock[name]["type"], clock[name]["format"]) == ("string", "date-time")
    assert "resumed now" in clock["deadline"]["description"]
    assert clock["name"]["type"] == "string"


def test_the_jeopardy_alert_is_tmf622s_with_its_clock() -> None:
    alert = properties("JeopardyAlert")
    official = {name: value for name, value in alert.items() if name not in JEOPARDY_EXTENSIONS}
    assert {name: value["description"] for name, value in official.items()} == {
        "id": "identifier of the JeopardyAlert",
        "alertDate": "A date time( DateTime). The date that the alert issued",
        "name": "A string used to give a name to the jeopardy alert",
        "jeopardyType": (
            "A string represents the type of jeopardy/risk like Normal, Hazard, Critical, ..."
        ),
        "exception": " The exception associated with this jeopardy alert",
        "message": "A string represents the message of the alert",
    }
    assert alert["alertDate"]["format"] == "date-time"
    for name in JEOPARDY_EXTENSIONS:
        assert alert[name]["description"].startswith(EXTENSION)
    schema = load_spec()["components"]["schemas"]["JeopardyAlert"]
    assert schema["allOf"][0] == {"$ref": "#/components/schemas/Extensible"}
    assert schema["discriminator"]["mapping"] == {
        "JeopardyAlert": "#/components/schemas/JeopardyAlert"
    }


def test_priority_override_and_history_sources() -> None:
    assert properties("PriorityOverride")["source"]["enum"] == ["client", "escalation"]
    assert properties("PriorityChange")["source"]["enum"] == ["matrix", "client", "escalation"]
    assert set(properties("PriorityOverride")) == {"priority", "reason", "date", "source", "actor"}
    assert set(properties("PriorityChange")) == {
        "priority",
        "previousPriority",
        "date",
        "reason",
        "source",
    }


def test_escalation_entry_shape() -> None:
    entry = properties("Escalation")
    assert set(entry) == {"id", "level", "previousLevel", "reason", "date", "trigger", "actor"}
    for name in ("level", "previousLevel"):
        assert (entry[name]["minimum"], entry[name]["maximum"]) == (0, 10)
    assert "rule:<clock>:<warning|breach>" in entry["trigger"]["description"]


@pytest.mark.parametrize(
    "schema_name", ["SlaClock", "JeopardyAlert", "PriorityOverride", "PriorityChange", "Escalation"]
)
def test_policy_entries_carry_their_own_type(schema_name: str) -> None:
    schema = load_spec()["components"]["schemas"][schema_name]
    assert schema["discriminator"]["mapping"] == {
        schema_name: f"#/components/schemas/{schema_name}"
    }
    assert validator(schema_name).is_valid({"@type": schema_name})
    assert not validator(schema_name).is_valid({})


# -- the service policy: headers and 403 -------------------------------------------------------


@pytest.mark.parametrize("name", ["X-TT-Actor", "X-TT-Role"])
def test_the_gateway_headers_are_optional_extension_parameters(name: str) -> None:
    spec = load_spec()
    parameter = spec["components"]["parameters"][name]
    assert (parameter["name"], parameter["in"], parameter["required"]) == (name, "header", False)
    assert parameter["schema"] == {"type": "string"}
    assert parameter["x-extension"] is True
    assert parameter["description"].startswith(EXTENSION)
    for path, method in (("/troubleTicket", "post"), ("/troubleTicket/{id}", "patch")):
        declared = spec["paths"][path][method]["parameters"]
        assert {"$ref": f"#/components/parameters/{name}"} in declared
    for path, method in (("/troubleTicket", "get"), ("/troubleTicket/{id}", "delete")):
        declared = spec["paths"][path][method]["parameters"]
        assert {"$ref": f"#/components/parameters/{name}"} not in declared


def test_creating_and_patching_a_ticket_may_answer_403_with_an_error() -> None:
    spec = load_spec()
    for path, method in (("/troubleTicket", "post"), ("/troubleTicket/{id}", "patch")):
        assert spec["paths"][path][method]["responses"]["403"] == {
            "$ref": "#/components/responses/403"
        }
    forbidden = spec["components"]["responses"]["403"]["content"]["application/json"]["schema"]
    assert forbidden == {"$ref": "#/components/schemas/Error"}


# -- the service policy: events and listeners --------------------------------------------------


@pytest.mark.parametrize(("path", "listener"), EXTENSION_LISTENERS.items())
def test_extension_listeners_are_marked_extension_operations(
    path: str, listener: tuple[str, str]
) -> None:
    operation_id, event_type = listener
    spec = load_spec()
    assert list(spec["paths"][path]) == ["post"]
    operation = spec["paths"][path]["post"]
    assert operation["operationId"] == operation_id
    assert operation["x-extension"] is True
    assert operation["description"].startswith(EXTENSION)
    assert operation["tags"] == ["notification listener"]
    assert operation["requestBody"] == {"$ref": f"#/components/requestBodies/{event_type}"}
    assert operation["responses"]["204"] == {"description": "Notified"}
    assert operation["responses"]["default"] == {"$ref": "#/components/responses/Error"}
    body = spec["components"]["requestBodies"][event_type]
    assert body["required"] is True
    assert body["description"].startswith(EXTENSION)
    content = body["content"]["application/json"]
    assert content["schema"] == {"$ref": f"#/components/schemas/{event_type}"}
    for example in content["examples"].values():
        name = example["$ref"].rsplit("/", 1)[1]
        document = spec["components"]["examples"][name]["value"]
        assert document["eventType"] == event_type
        assert list(validator(event_type).iter_errors(document)) == []


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        ("TroubleTicketJeopardyAlertEvent", {"jeopardyAlert": "JeopardyAlert"}),
        ("TroubleTicketEscalationEvent", {"escalation": "Escalation"}),
    ],
)
def test_policy_events_are_modelled_like_the_ticket_events(
    event_type: str, payload: dict[str, str]
) -> None:
    schemas = load_spec()["components"]["schemas"]
    event = schemas[event_type]
    assert event["allOf"][0] == {"$ref": "#/components/schemas/Event"}
    assert event["allOf"][1]["properties"]["event"] == {
        "$ref": f"#/components/schemas/{event_type}Payload"
    }
    assert event["discriminator"] == {
        "propertyName": "@type",
        "mapping": {event_type: f"#/components/schemas/{event_type}"},
    }
    expected = {"troubleTicket": "TroubleTicket", **payload}
    assert schemas[f"{event_type}Payload"]["properties"] == {
        name: {"$ref": f"#/components/schemas/{schema_name}"}
        for name, schema_name in expected.items()
    }


# -- the service policy: what it produces conforms ---------------------------------------------

START = datetime(2024, 5, 2, 5, 0, tzinfo=UTC)


def policy_history() -> list[tuple[JSON, JSON]]:
    """(before, after) of each change of one ticket: created, paused with an override and a
    manual escalation, resumed, then left until both clocks breach and a rule escalates."""
    policy = dataclasses.replace(
        DEFAULT_POLICY,
        escalation=(EscalationRule("resolve", "breach", raise_level_to=3),),
    )
    created = apply_policy(
        policy,
        None,
        {
            "@type": "TroubleTicket",
            "id": "3180",
            "href": "http://localhost:8080/tmf-api/troubleTicket/v5/troubleTicket/3180",
            "description": "No dial tone",
            "severity": "Major",
            "ticketType": "incident",
            "status": "acknowledged",
            "creationDate": "2024-05-02T05:00:00.000Z",
        },
        now=START,
    )
    patch = {
        "status": "pending",
        "statusChangeReason": "Waiting for the customer",
        "priority": "Critical",
        "priorityChangeReason": "Hospital line",
        "escalationLevel": 1,
        "escalationReason": "Customer called twice",
    }
    paused = apply_policy(
        policy,
        created,
        {**created, **patch},
        now=START + timedelta(minutes=10),
        patch=patch,
        context=Context(actor="alice", roles=frozenset({"supervisor"})),
    )
    resumed = apply_policy(
        policy,
        paused,
        {**paused, "status": "inProgress"},
        now=START + timedelta(hours=1),
        patch={"status": "inProgress"},
    )
    late = apply_policy(policy, resumed, dict(resumed), now=START + timedelta(hours=9))
    return [({}, created), (created, paused), (paused, resumed), (resumed, late)]


def test_tickets_the_policy_keeps_conform_to_the_contract() -> None:
    conform = document_validator("TroubleTicket_RES")
    for _, ticket in policy_history():
        conform({name: value for name, value in ticket.items() if name not in HIDDEN})
    late = policy_history()[-1][1]
    assert [(c["name"], c["state"], c["jeopardy"]) for c in late["slaClock"]] == [
        ("acknowledge", "met", "none"),
        ("resolve", "running", "breach"),
    ]
    assert policy_history()[1][1]["slaClock"][1]["state"] == "paused"
    assert [entry["trigger"] for entry in late["escalation"]] == [
        "manual",
        "rule:resolve:breach",
    ]
    assert late["priorityOverride"]["source"] == "client"


def test_policy_events_conform_to_their_schemas() -> None:
    seen: set[str] = set()
    for before, after in policy_history():
        shown = {name: value for name, value in after.items() if name not in HIDDEN}
        for raised in raised_by(TROUBLE_TICKET, before or None, shown):
            document = envelope(raised, event_id="e-1", now=START)
            errors = list(validator(raised.event_type).iter_errors(document))
            assert errors == [], raised.event_type
            seen.add(raised.event_type)
    assert {"TroubleTicketJeopardyAlertEvent", "TroubleTicketEscalationEvent"} <= seen


# -- recovery activities (eTOM 1.3.7.3 Coordinate Customer Problem) ---------------------------

ACTIVITY_TAG = "recoveryActivity (extension)"
TICKET_ACTIVITIES = "/troubleTicket/{id}/recoveryActivity"
TICKET_ACTIVITY = "/troubleTicket/{id}/recoveryActivity/{activityId}"
# (path, method) -> (operationId, the responses it declares).
ACTIVITY_OPERATIONS = {
    (TICKET_ACTIVITIES, "get"): (
        "listTroubleTicketRecoveryActivity",
        {"200", "400", "401", "403", "404", "405", "500", "501", "503"},
    ),
    (TICKET_ACTIVITIES, "post"): (
        "createTroubleTicketRecoveryActivity",
        {"201", "400", "401", "403", "404", "405", "409", "413", "415", "500", "503"},
    ),
    (TICKET_ACTIVITY, "get"): (
        "retrieveTroubleTicketRecoveryActivity",
        {"200", "304", "400", "401", "403", "404", "405", "500", "503"},
    ),
    (TICKET_ACTIVITY, "patch"): (
        "patchTroubleTicketRecoveryActivity",
        {"200", "400", "401", "403", "404", "405", "409", "412", "413", "415", "500", "503"},
    ),
    (TICKET_ACTIVITY, "delete"): (
        "deleteTroubleTicketRecoveryActivity",
        {"204", "400", "401", "403", "404", "405", "409", "412", "500", "503"},
    ),
    ("/recoveryActivity", "get"): (
        "listRecoveryActivity",
        {"200", "400", "401", "403", "404", "405", "500", "501", "503"},
    ),
    ("/recoveryActivity/{id}", "get"): (
        "retrieveRecoveryActivity",
        {"200", "304", "400", "401", "403", "404", "405", "500", "503"},
    ),
}
ACTIVITY_LISTS = ((TICKET_ACTIVITIES, "get"), ("/recoveryActivity", "get"))
ACTIVITY_READS = ((TICKET_ACTIVITY, "get"), ("/recoveryActivity/{id}", "get"))
ACTIVITY_STATES = ["planned", "inProgress", "held", "completed", "failed", "cancelled"]
# Activity attributes only the server sets.
ACTIVITY_SERVER_OWNED = (
    "stateChangeDate",
    "stateChangeHistory",
    "assignmentHistory",
    "troubleTicket",
    "creationDate",
    "lastUpdate",
    "beyondResolveDeadline",
)
WRITABLE_ACTIVITIES = ("RecoveryActivity_FVO", "RecoveryActivity_MVO")
PATCH_FORMATS = {
    "application/json": "RecoveryActivity_MVO",
    "application/merge-patch+json": "RecoveryActivity_MVO",
    "application/json-patch+json": "JsonPatchOperations",
    "application/json-patch-query+json": "JsonPatchOperations",
}


def component(reference: dict[str, Any]) -> dict[str, Any]:
    """The component a ``{"$ref": "#/components/<kind>/<name>"}`` names."""
    _, _, kind, name = reference["$ref"].split("/")
    return load_spec()["components"][kind][name]  # type: ignore[no-any-return]


def operation(path: str, method: str) -> dict[str, Any]:
    return load_spec()["paths"][path][method]  # type: ignore[no-any-return]


def examples(content: dict[str, Any]) -> list[Any]:
    """The values of the examples of one media type, through their ``$ref``s."""
    found = content["examples"].values()
    return [
        component(example)["value"] if "$ref" in example else example["value"] for example in found
    ]


@pytest.mark.parametrize(("path", "method"), ACTIVITY_OPERATIONS)
def test_activity_operations_are_marked_and_have_their_operation_ids(
    path: str, method: str
) -> None:
    found = operation(path, method)
    assert found["operationId"] == ACTIVITY_OPERATIONS[path, method][0]
    assert found["x-extension"] is True
    assert found["description"].startswith(EXTENSION)
    assert found["tags"] == [ACTIVITY_TAG]


@pytest.mark.parametrize(("path", "method"), ACTIVITY_OPERATIONS)
def test_activity_operations_declare_their_responses(path: str, method: str) -> None:
    responses = operation(path, method)["responses"]
    assert set(responses) == ACTIVITY_OPERATIONS[path, method][1]
    for code, response in responses.items():
        if code in {"304", "204"} or code.startswith("4") or code.startswith("5"):
            assert response == {"$ref": f"#/components/responses/{code}"}


def test_activity_paths_have_only_their_operations() -> None:
    paths = load_spec()["paths"]
    expected: dict[str, set[str]] = {}
    for path, method in ACTIVITY_OPERATIONS:
        expected.setdefault(path, set()).add(method)
    for path, methods in expected.items():
        assert {name for name in paths[path] if name in HTTP_METHODS} == methods


def test_the_activity_tag_is_declared_as_an_extension() -> None:
    (tag,) = [tag for tag in load_spec()["tags"] if tag["name"] == ACTIVITY_TAG]
    assert tag["description"].startswith(EXTENSION)
    assert "1.3.7.3" in tag["description"]


@pytest.mark.parametrize(("path", "method"), ACTIVITY_OPERATIONS)
def test_activity_path_parameters_are_required_strings(path: str, method: str) -> None:
    declared = [component(p) for p in operation(path, method)["parameters"]]
    in_path = {p["name"]: p for p in declared if p["in"] == "path"}
    assert set(in_path) == set(re.findall(r"\{(\w+)\}", path))
    for parameter in in_path.values():
        assert parameter["required"] is True
        assert parameter["schema"] == {"type": "string"}
        assert parameter["description"]
    if path.startswith("/troubleTicket/"):
        for parameter in in_path.values():
            assert parameter["x-extension"] is True
            assert parameter["description"].startswith(EXTENSION)


@pytest.mark.parametrize(("path", "method"), ACTIVITY_LISTS)
def test_activity_lists_take_the_ticket_list_parameters(path: str, method: str) -> None:
    tickets = operation("/troubleTicket", "get")
    declared = [p for p in operation(path, method)["parameters"] if component(p)["in"] != "path"]
    assert declared == tickets["parameters"]
    listed = operation(path, method)["responses"]["200"]
    assert listed == {"$ref": "#/components/responses/200RecoveryActivityArray"}
    response = component(listed)
    assert set(response["headers"]) == set(component(tickets["responses"]["200"])["headers"])
    assert set(response["headers"]) == {"X-Total-Count", "X-Result-Count"}
    content = response["content"]["application/json"]
    assert content["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/RecoveryActivity_RES"},
    }
    for page in examples(content):
        for activity in page:
            assert list(validator("RecoveryActivity_RES").iter_errors(activity)) == []


@pytest.mark.parametrize(("path", "method"), ACTIVITY_READS)
def test_reading_an_activity_answers_200_with_its_etag(path: str, method: str) -> None:
    responses = operation(path, method)["responses"]
    assert responses["200"] == {"$ref": "#/components/responses/200RecoveryActivity"}
    declared = [component(p) for p in operation(path, method)["parameters"]]
    assert [p["name"] for p in declared if p["in"] == "query"] == ["fields"]
    response = component(responses["200"])
    assert set(response["headers"]) == {"ETag"}
    content = response["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/RecoveryActivity_RES"}
    for activity in examples(content):
        assert list(validator("RecoveryActivity_RES").iter_errors(activity)) == []


def test_creating_an_activity_answers_201_with_location_and_etag() -> None:
    create = operation(TICKET_ACTIVITIES, "post")
    assert create["requestBody"] == {"$ref": "#/components/requestBodies/RecoveryActivity_FVO"}
    body = component(create["requestBody"])
    assert body["required"] is True
    assert body["description"].startswith(EXTENSION)
    assert list(body["content"]) == ["application/json"]
    content = body["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/RecoveryActivity_FVO"}
    (sent,) = examples(content)
    assert list(validator("RecoveryActivity_FVO").iter_errors(sent)) == []
    assert sent["activityType"] == "dispatchTechnician"
    assert sent["assignee"]["partyOrPartyRole"]["@type"] == "PartyRoleRef"
    assert create["responses"]["201"] == {"$ref": "#/components/responses/201RecoveryActivity"}
    created = component(create["responses"]["201"])
    assert set(created["headers"]) == {"ETag", "Location"}
    content = created["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/RecoveryActivity_RES"}
    (answer,) = examples(content)
    assert list(validator("RecoveryActivity_RES").iter_errors(answer)) == []
    assert {name: answer[name] for name in sent} == sent


def test_patching_an_activity_takes_the_four_patch_formats() -> None:
    patch = operation(TICKET_ACTIVITY, "patch")
    assert patch["requestBody"] == {"$ref": "#/components/requestBodies/RecoveryActivity_MVO"}
    body = component(patch["requestBody"])
    assert body["required"] is True
    assert body["description"].startswith(EXTENSION)
    assert {
        media: c["schema"]["$ref"].rsplit("/", 1)[1] for media, c in body["content"].items()
    } == (PATCH_FORMATS)
    for media_type, content in body["content"].items():
        (sent,) = examples(content)
        assert list(validator(PATCH_FORMATS[media_type]).iter_errors(sent)) == [], media_type
        # every request example has the answer it gets (``…_request`` → ``…_response``)
        (example,) = content["examples"].values()
        name = example["$ref"].rsplit("/", 1)[1].removesuffix("_request") + "_response"
        answer = load_spec()["components"]["examples"][name]["value"]
        assert list(validator("RecoveryActivity_RES").iter_errors(answer)) == [], name
    assert patch["responses"]["200"] == {"$ref": "#/components/responses/200RecoveryActivity"}


def test_deleting_an_activity_is_only_for_planned_ones() -> None:
    delete = operation(TICKET_ACTIVITY, "delete")
    assert "requestBody" not in delete
    assert "only a planned activity" in delete["description"].lower()
    assert "409" in delete["description"]


def test_the_activity_response_requires_id_and_href() -> None:
    schema = load_spec()["components"]["schemas"]["RecoveryActivity_RES"]
    assert schema["allOf"] == [{"$ref": "#/components/schemas/RecoveryActivity"}]
    assert schema["required"] == ["id", "href"]
    conform = validator("RecoveryActivity_RES")
    assert not conform.is_valid({"@type": "RecoveryActivity", "id": "41"})
    assert conform.is_valid({"@type": "RecoveryActivity", "id": "41", "href": "/x/41"})


def test_a_new_activity_needs_its_type_and_activity_type() -> None:
    conform = validator("RecoveryActivity_FVO")
    assert conform.is_valid({"@type": "RecoveryActivity", "activityType": "diagnose"})
    assert not conform.is_valid({"@type": "RecoveryActivity"})
    assert not conform.is_valid({"activityType": "diagnose"})
    changes = validator("RecoveryActivity_MVO")
    assert changes.is_valid({"@type": "RecoveryActivity"})
    assert not changes.is_valid({"state": "inProgress"})


@pytest.mark.parametrize("schema_name", ["RecoveryActivity", *WRITABLE_ACTIVITIES])
def test_activity_views_mirror_the_ticket_views(schema_name: str) -> None:
    schema = load_spec()["components"]["schemas"][schema_name]
    assert schema["allOf"][0] == {"$ref": "#/components/schemas/Entity"}
    assert schema["discriminator"] == {
        "propertyName": "@type",
        "mapping": {"RecoveryActivity": f"#/components/schemas/{schema_name}"},
    }


@pytest.mark.parametrize("name", ACTIVITY_SERVER_OWNED)
def test_server_owned_activity_attributes_are_read_only(name: str) -> None:
    assert properties("RecoveryActivity")[name]["readOnly"] is True
    for writable in WRITABLE_ACTIVITIES:
        assert name not in properties(writable)


def test_the_activity_histories_and_ticket_have_their_schemas() -> None:
    activity = properties("RecoveryActivity")
    assert activity["stateChangeHistory"]["items"] == {
        "$ref": "#/components/schemas/ActivityStateChange"
    }
    assert activity["assignmentHistory"]["items"] == {
        "$ref": "#/components/schemas/ActivityAssignment"
    }
    assert ref(activity["troubleTicket"]) == "#/components/schemas/TroubleTicketRef"
    assert activity["beyondResolveDeadline"]["type"] == "boolean"
    for name in ("stateChangeDate", "creationDate", "lastUpdate"):
        assert (activity[name]["type"], activity[name]["format"]) == ("string", "date-time")


def test_the_assignment_reason_is_writable_only() -> None:
    for writable in WRITABLE_ACTIVITIES:
        reason = properties(writable)["assignmentReason"]
        assert reason["type"] == "string"
        assert "not kept" in reason["description"]
    assert "assignmentReason" not in properties("RecoveryActivity")


@pytest.mark.parametrize(
    ("schema_name", "variant"),
    [("RecoveryActivity", ""), ("RecoveryActivity_FVO", "_FVO"), ("RecoveryActivity_MVO", "_MVO")],
)
def test_activity_views_refer_to_the_matching_official_views(
    schema_name: str, variant: str
) -> None:
    activity = properties(schema_name)
    schemas = "#/components/schemas/"
    assert ref(activity["assignee"]) == f"{schemas}RelatedPartyRefOrPartyRoleRef{variant}"
    assert activity["note"]["items"] == {"$ref": f"{schemas}Note{variant}"}
    assert activity["relatedEntity"]["items"] == {"$ref": f"{schemas}RelatedEntity{variant}"}
    assert activity["state"] == {"$ref": f"{schemas}ActivityStateType"}
    assert activity["dependsOn"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": activity["dependsOn"]["description"],
    }
    for name in ("plannedStartDate", "plannedEndDate", "actualStartDate", "actualEndDate"):
        assert (activity[name]["type"], activity[name]["format"]) == ("string", "date-time")
        assert "readOnly" not in activity[name]
    assert activity["plannedDuration"]["type"] == "string"
    assert "ISO 8601" in activity["plannedDuration"]["description"]
    assert activity["mandatory"]["type"] == "boolean"


@pytest.mark.parametrize("schema_name", ["RecoveryActivity", *WRITABLE_ACTIVITIES])
def test_activity_progress_is_a_whole_percentage(schema_name: str) -> None:
    progress = properties(schema_name)["progress"]
    assert progress["type"] == "integer"
    assert (progress["minimum"], progress["maximum"]) == (0, 100)
    assert "readOnly" not in progress
    assert not validator(schema_name).is_valid({"@type": "RecoveryActivity", "progress": 101})


def test_activity_states() -> None:
    states = load_spec()["components"]["schemas"]["ActivityStateType"]
    assert (states["type"], states["enum"]) == ("string", ACTIVITY_STATES)
    assert "stateChangeReason" in states["description"]
    assert properties("ActivityStateChange")["state"] == {
        "$ref": "#/components/schemas/ActivityStateType"
    }
    assert set(properties("ActivityStateChange")) == {
        "state",
        "stateChangeDate",
        "stateChangeReason",
    }


def test_assignment_entry_shape() -> None:
    entry = properties("ActivityAssignment")
    assert set(entry) == {"assignee", "previousAssignee", "date", "source", "reason", "actor"}
    assert entry["source"]["enum"] == ["client", "policy"]
    for name in ("assignee", "previousAssignee"):
        assert entry[name] == {"$ref": "#/components/schemas/RelatedPartyRefOrPartyRoleRef"}


def test_activity_summary_shape() -> None:
    rollup = properties("ActivitySummary")
    assert set(rollup) == {
        "total",
        "byState",
        "openMandatory",
        "late",
        "progress",
        "nextPlannedEnd",
        "blockingActivity",
    }
    assert list(rollup["byState"]["properties"]) == ACTIVITY_STATES
    for count in (rollup["total"], rollup["openMandatory"], rollup["late"]):
        assert count["type"] == "integer"
    assert all(c["type"] == "integer" for c in rollup["byState"]["properties"].values())
    assert (rollup["progress"]["type"], rollup["progress"]["maximum"]) == ("number", 100)
    assert rollup["nextPlannedEnd"]["format"] == "date-time"
    assert ref(rollup["blockingActivity"]) == "#/components/schemas/RecoveryActivityRef"


def test_the_activity_summary_is_a_read_only_extension_of_the_ticket() -> None:
    summary = properties("TroubleTicket")["activitySummary"]
    assert ref(summary) == "#/components/schemas/ActivitySummary"
    assert summary["readOnly"] is True
    assert summary["description"].startswith(EXTENSION)
    assert "409" in summary["description"]
    assert "statusChangeReason" in summary["description"]
    for writable in WRITABLE_TICKETS:
        assert "activitySummary" not in properties(writable)


def test_the_activity_reference_carries_its_state_and_planned_end() -> None:
    schema = load_spec()["components"]["schemas"]["RecoveryActivityRef"]
    assert schema["allOf"][0] == {"$ref": "#/components/schemas/EntityRef"}
    reference = properties("RecoveryActivityRef")
    assert reference["state"] == {"$ref": "#/components/schemas/ActivityStateType"}
    assert reference["plannedEndDate"]["format"] == "date-time"
    assert not validator("RecoveryActivityRef").is_valid({"@type": "RecoveryActivityRef"})


def test_a_late_activity_raises_a_jeopardy_alert_naming_it() -> None:
    alert = properties("JeopardyAlert")["recoveryActivity"]
    assert ref(alert) == "#/components/schemas/RecoveryActivityRef"
    assert "activityLate" in alert["description"]
    description = load_spec()["components"]["schemas"]["JeopardyAlert"]["description"]
    assert "`activity-{activityId}-late`" in description
    assert "activityLate" in description


@pytest.mark.parametrize(
    "schema_name",
    [
        "ActivityStateChange",
        "ActivityAssignment",
        "ActivitySummary",
        "RecoveryActivity",
        "RecoveryActivityRef",
    ],
)
def test_activity_entries_carry_their_own_type(schema_name: str) -> None:
    schema = load_spec()["components"]["schemas"][schema_name]
    assert schema["discriminator"]["mapping"] == {
        schema_name: f"#/components/schemas/{schema_name}"
    }
    assert not validator(schema_name).is_valid({})


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        ("RecoveryActivityCreateEvent", "RecoveryActivity"),
        ("RecoveryActivityAttributeValueChangeEvent", "RecoveryActivity"),
        ("RecoveryActivityStateChangeEvent", "RecoveryActivity"),
        ("RecoveryActivityDeleteEvent", "RecoveryActivityRef"),
    ],
)
def test_activity_events_are_modelled_like_the_ticket_events(event_type: str, payload: str) -> None:
    schemas = load_spec()["components"]["schemas"]
    event = schemas[event_type]
    assert event["allOf"][0] == {"$ref": "#/components/schemas/Event"}
    assert event["allOf"][1]["properties"]["event"] == {
        "$ref": f"#/components/schemas/{event_type}Payload"
    }
    assert event["discriminator"] == {
        "propertyName": "@type",
        "mapping": {event_type: f"#/components/schemas/{event_type}"},
    }
    assert schemas[f"{event_type}Payload"]["properties"] == {
        "recoveryActivity": {"$ref": f"#/components/schemas/{payload}"}
    }


# -- partners: trouble reports raised at partners' TMF621 APIs (eTOM 1.3.7.3) ------------------

PARTNER_TAG = "partner (extension)"
# (path, method) -> operationId
PARTNER_OPERATIONS = {
    ("/partner", "get"): "listPartner",
    ("/partner/{id}", "get"): "retrievePartner",
    ("/partner/{id}/delivery", "get"): "listPartnerDelivery",
    ("/partner/{id}/replay", "post"): "createPartnerReplay",
}
PARTNER_SCHEMAS = ("Partner", "PartnerReport")
REPORT_STATES = [
    "requested",
    "open",
    "cancelRequested",
    "cancelled",
    "closeRequested",
    "closed",
    "failed",
]
PARTNER_REQUESTS = (
    "PartnerTicketCreate",
    "PartnerTicketCancel",
    "PartnerTicketClose",
    "PartnerTicketNote",
    "PartnerTicketPoll",
)
# The operations a partner's system may call, restricted to its tickets.
PARTNER_SCOPED = {
    "listTroubleTicket",
    "createTroubleTicket",
    "retrieveTroubleTicket",
    "patchTroubleTicket",
    "deleteTroubleTicket",
    *(operation_id for operation_id, _ in ACTIVITY_OPERATIONS.values()),
}
PARTNER_HEADER = {"$ref": "#/components/parameters/X-TT-Partner"}


def all_operations() -> list[dict[str, Any]]:
    return [
        operation
        for path_item in load_spec()["paths"].values()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    ]


@pytest.mark.parametrize(("path", "method"), PARTNER_OPERATIONS)
def test_partner_operations_are_marked_and_have_their_operation_ids(path: str, method: str) -> None:
    found = operation(path, method)
    assert found["operationId"] == PARTNER_OPERATIONS[path, method]
    assert found["x-extension"] is True
    assert found["description"].startswith(EXTENSION)
    assert found["tags"] == [PARTNER_TAG]


def test_partner_paths_have_only_their_operations() -> None:
    paths = load_spec()["paths"]
    for path, method in PARTNER_OPERATIONS:
        assert [name for name in paths[path] if name in HTTP_METHODS] == [method]


def test_the_partner_tag_is_declared_as_an_extension() -> None:
    (tag,) = [tag for tag in load_spec()["tags"] if tag["name"] == PARTNER_TAG]
    assert tag["description"].startswith(EXTENSION)
    assert "1.3.7.3" in tag["description"]


@pytest.mark.parametrize("name", PARTNER_SCHEMAS)
def test_partner_schemas_are_marked_and_carry_their_own_type(name: str) -> None:
    schema = load_spec()["components"]["schemas"][name]
    assert schema["description"].startswith(EXTENSION)
    assert schema["discriminator"]["mapping"] == {name: f"#/components/schemas/{name}"}
    assert not validator(name).is_valid({})


def test_the_partners_are_listed_with_their_counts() -> None:
    listed = operation("/partner", "get")
    assert "parameters" not in listed
    assert set(listed["responses"]) == {"200", "400", "401", "403", "405", "500", "503"}
    response = component(listed["responses"]["200"])
    assert set(response["headers"]) == {"X-Total-Count", "X-Result-Count"}
    content = response["content"]["application/json"]
    assert content["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/Partner"}}
    for page in examples(content):
        for partner in page:
            assert list(validator("Partner").iter_errors(partner)) == []


def test_a_partner_is_retrieved_by_its_id() -> None:
    retrieved = operation("/partner/{id}", "get")
    assert retrieved["parameters"] == [{"$ref": "#/components/parameters/Id"}]
    assert set(retrieved["responses"]) == {"200", "400", "401", "403", "404", "405", "500", "503"}
    content = component(retrieved["responses"]["200"])["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/Partner"}
    for partner in examples(content):
        assert list(validator("Partner").iter_errors(partner)) == []


@pytest.mark.parametrize(("path", "method"), PARTNER_OPERATIONS)
def test_partner_operations_declare_their_errors_as_the_official_responses(
    path: str, method: str
) -> None:
    for code, response in operation(path, method)["responses"].items():
        if code.startswith(("4", "5")):
            assert response == {"$ref": f"#/components/responses/{code}"}


def test_the_requests_to_a_partner_are_listed_like_a_hubs_deliveries() -> None:
    hub = operation("/hub/{id}/delivery", "get")
    partner = operation("/partner/{id}/delivery", "get")
    assert partner["parameters"] == hub["parameters"]
    assert partner["responses"] == hub["responses"]
    assert partner["responses"]["200"] == {"$ref": "#/components/responses/200EventDeliveryArray"}
    for request_type in PARTNER_REQUESTS:
        assert request_type in partner["description"]
    assert "state=dead" in partner["description"]


def test_a_partner_replay_takes_the_hub_replay_components() -> None:
    hub = operation("/hub/{id}/replay", "post")
    partner = operation("/partner/{id}/replay", "post")
    assert partner["parameters"] == hub["parameters"]
    assert partner["requestBody"] == {"$ref": "#/components/requestBodies/EventReplay_FVO"}
    assert partner["responses"] == hub["responses"]
    assert partner["responses"]["201"] == {"$ref": "#/components/responses/201EventReplay"}
    assert "`since`" in partner["description"]
    assert "400" in partner["description"]


def test_a_partner_shows_no_secret() -> None:
    partner = properties("Partner")
    assert set(partner) == {
        "id",
        "href",
        "name",
        "baseUrl",
        "party",
        "subscribe",
        "hub",
        "registeredAt",
    }
    assert not [name for name in partner if "secret" in name.lower() or "token" in name.lower()]
    hub = partner["hub"]["items"]
    assert set(hub["properties"]) == {"id", "callback", "query"}
    assert "never shown" in load_spec()["components"]["schemas"]["Partner"]["description"]


def test_the_partner_shape() -> None:
    partner = properties("Partner")
    assert (partner["baseUrl"]["type"], partner["baseUrl"]["format"]) == ("string", "uri")
    assert ref(partner["party"]) == "#/components/schemas/PartyRef"
    assert "X-TT-Partner" in partner["party"]["description"]
    assert partner["subscribe"]["type"] == "boolean"
    assert partner["registeredAt"]["format"] == "date-time"


def test_partner_report_states() -> None:
    report = properties("PartnerReport")
    assert (report["state"]["type"], report["state"]["enum"]) == ("string", REPORT_STATES)
    for state in REPORT_STATES:
        assert f"`{state}`" in report["state"]["description"]
    assert report["acceptance"]["enum"] == ["pending"]


def test_partner_report_shape() -> None:
    schema = load_spec()["components"]["schemas"]["PartnerReport"]
    assert schema["allOf"][0] == {"$ref": "#/components/schemas/Extensible"}
    report = properties("PartnerReport")
    assert set(report) == {
        "partner",
        "state",
        "correlationId",
        "requestedAt",
        "partnerTicket",
        "lastHeardAt",
        "acceptance",
        "cancelReason",
        "etag",
        "syncedNotes",
    }
    assert set(report["partner"]["properties"]) == {"id", "name"}
    ticket, status = report["partnerTicket"]["allOf"]
    assert ticket == {"$ref": "#/components/schemas/TroubleTicketRef"}
    assert status["properties"]["status"] == {
        "$ref": "#/components/schemas/TroubleTicketStatusType"
    }
    assert status["properties"]["statusChangeDate"]["format"] == "date-time"
    for name in ("requestedAt", "lastHeardAt"):
        assert (report[name]["type"], report[name]["format"]) == ("string", "date-time")
    assert report["syncedNotes"]["items"] == {"type": "string"}
    assert "externalIdentifier" in report["correlationId"]["description"]


def test_a_report_as_the_server_keeps_it_conforms() -> None:
    report = {
        "@type": "PartnerReport",
        "partner": {"id": "fibreco", "name": "FibreCo Wholesale"},
        "state": "open",
        "correlationId": "3180/41",
        "requestedAt": "2024-05-02T08:00:00Z",
        "partnerTicket": {
            "@type": "TroubleTicketRef",
            "id": "FC-9912",
            "status": "resolved",
            "statusChangeDate": "2024-05-02T11:00:00Z",
            "statusChangeReason": "Fibre spliced",
        },
        "lastHeardAt": "2024-05-02T11:00:05Z",
        "acceptance": "pending",
        "syncedNotes": ["3f2a9c0d1e4b5a67"],
    }
    assert list(validator("PartnerReport").iter_errors(report)) == []
    assert not validator("PartnerReport").is_valid({**report, "state": "resolved"})
    activity = {
        "@type": "RecoveryActivity",
        "id": "41",
        "href": "/x/41",
        "activityType": "partnerRepair",
        "partnerReport": report,
        "externalIdentifier": [
            {
                "@type": "ExternalIdentifier",
                "owner": "fibreco",
                "externalIdentifierType": "troubleTicket",
                "id": "FC-9912",
            }
        ],
    }
    assert list(validator("RecoveryActivity_RES").iter_errors(activity)) == []


def test_the_partner_report_is_a_read_only_attribute_of_the_activity() -> None:
    attribute = properties("RecoveryActivity")["partnerReport"]
    assert ref(attribute) == "#/components/schemas/PartnerReport"
    assert attribute["readOnly"] is True
    for words in ("partnerRepair", "informationRequired", "JeopardyAlert", "acceptance"):
        assert words in attribute["description"]
    for writable in WRITABLE_ACTIVITIES:
        assert "partnerReport" not in properties(writable)


@pytest.mark.parametrize(
    ("schema_name", "variant"),
    [("RecoveryActivity", ""), ("RecoveryActivity_FVO", "_FVO"), ("RecoveryActivity_MVO", "_MVO")],
)
def test_activities_carry_external_identifiers(schema_name: str, variant: str) -> None:
    identifiers = properties(schema_name)["externalIdentifier"]
    assert identifiers["type"] == "array"
    assert identifiers["items"] == {"$ref": f"#/components/schemas/ExternalIdentifier{variant}"}
    assert "readOnly" not in identifiers
    assert "owner" in identifiers["description"]
    # the ticket view of the same kind uses the same official schema
    ticket = "TroubleTicket" + variant
    assert properties(ticket)["externalIdentifier"]["items"] == identifiers["items"]


def test_a_partners_question_raises_an_information_required_alert() -> None:
    description = load_spec()["components"]["schemas"]["JeopardyAlert"]["description"]
    assert "`informationRequired`" in description
    assert "`activity-{activityId}-information-{statusChangeDate}`" in description
    # the alerts described before stay described
    assert "`activity-{activityId}-late`" in description
    assert "`{clock}-{jeopardyType}`" in description
    assert "informationRequired" in properties("JeopardyAlert")["recoveryActivity"]["description"]


def test_partner_deliveries_are_described_on_the_delivery() -> None:
    schema = load_spec()["components"]["schemas"]["EventDelivery"]
    assert schema["description"].startswith(
        "Extension (not TMF621): One event sent to one subscription (hub)"
    )
    for request_type in PARTNER_REQUESTS:
        assert request_type in schema["description"]
    assert "partner:{partnerId}" in properties("EventDelivery")["hubId"]["description"]


# -- partners: the X-TT-Partner header ---------------------------------------------------------


def test_the_partner_header_is_an_optional_extension_parameter() -> None:
    parameter = load_spec()["components"]["parameters"]["X-TT-Partner"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == (
        "X-TT-Partner",
        "header",
        False,
    )
    assert parameter["schema"] == {"type": "string"}
    assert parameter["x-extension"] is True
    assert parameter["description"].startswith(EXTENSION)
    for words in ("TT_PARTNERS", "inboundHeader", "404", "403", "originator"):
        assert words in parameter["description"]


def test_the_partner_header_is_taken_by_exactly_the_ticket_and_activity_operations() -> None:
    taking = {
        found["operationId"]
        for found in all_operations()
        if PARTNER_HEADER in found.get("parameters", [])
    }
    assert taking == PARTNER_SCOPED
    assert len(taking) == 12


@pytest.mark.parametrize("operation_id", sorted(PARTNER_SCOPED))
def test_a_partners_request_may_answer_403_and_404(operation_id: str) -> None:
    (found,) = [op for op in all_operations() if op["operationId"] == operation_id]
    assert found["responses"]["403"] == {"$ref": "#/components/responses/403"}
    assert found["responses"]["404"] == {"$ref": "#/components/responses/404"}
    # the header comes after the operation's own parameters, so their order stays the official
    assert found["parameters"][-1] == PARTNER_HEADER
