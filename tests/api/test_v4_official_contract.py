"""The v4 root against the TMF621 v4.0.0 contract it serves.

``openapi/official/`` holds the official v4.0.0 Swagger 2 file byte for byte; the served file is
its OpenAPI 3 conversion (``openapi/v4/``) with the edits of ``scripts/v4_contract_edits.py``, and
a test here checks both. schemathesis generates requests the served file declares valid (positive
data) for each of its operations, aimed at a ticket or a hub that exists, and sends them to the
app, which also holds a ticket made at the v5 root with what v4 cannot carry (so the lists and
the reads by id show the v4 form of v5 data). Each request must be accepted (or answered 404,
409 and the other statuses a valid request may get) unless it meets one of the ``NEEDS_MORE``
rules, which ask for more than a schema can say. Every answer must be the status, media type,
headers and body the contract declares for it, and none may be a 5xx.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.errors import FailureGroup

from tests.api.contract_rules import Rule, documented, unexplained
from tests.builders import API, a_full_ticket
from troubleticket.api.contract import V4_API_ROOT
from troubleticket.app import create_app
from troubleticket.config import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.testclient import TestClient

ROOT = Path(__file__).parents[2]
OFFICIAL = ROOT / "openapi" / "official" / "TMF621-TroubleTicket-v4.0.0.swagger.json"
OFFICIAL_SHA256 = "84c58dbfb6b9818684509ea1332fb76a0d28108cd56770da69bdb0a72827ffed"
CONVERTED = ROOT / "openapi" / "v4" / "TMF621-TroubleTicket-v4.0.0.converted.yaml"
SERVED = ROOT / "openapi" / "TMF621-TroubleTicket-v4.0.0.oas.yaml"
EDITS = ROOT / "scripts" / "v4_contract_edits.py"
TICKET = {"description": "No dial tone", "severity": "Minor", "ticketType": "incident"}


HEADING = "### What the v4 contract allows and the server refuses"
NEEDS_MORE = (
    Rule(
        "baseTypeRequired",
        "a subclass of",
        "a ticket's @type is TroubleTicket, or a subclass naming it as its @baseType",
    ),
    Rule(
        "statusChangeReasonRequired",
        "statusChangeReason",
        "cancelling or rejecting a ticket needs the reason why",
    ),
    Rule(
        "malformedBody",
        "beyond the signed 64-bit range",
        "the schemas bound no integer; both stores keep signed 64 bits",
    ),
    Rule(
        "invalidRequest",
        "This listener takes",
        "a v4 event's eventType is its class: an event whose eventType is another (an empty one "
        "included) was posted to the wrong listener",
    ),
    Rule("invalidRequest", "offset must be", "an offset counts from 0"),
    Rule("invalidRequest", "limit must be", "a page holds 0 to TT_MAX_PAGE_SIZE items"),
    Rule(
        "invalidRequest",
        "callback",
        "a hub's callback is an absolute http(s) URL the server can call",
    ),
    Rule(
        "invalidRequest",
        "secret must",
        "a hub's secret (an extension) is a Standard Webhooks secret: whsec_ and base64, or 24 "
        "to 64 bytes of text",
    ),
    Rule(
        "invalidRequest",
        "query is not a TMF630 filter",
        "a hub's query that compares (=, <, >) is a TMF630 filter over the event",
    ),
    Rule(
        "invalidRequest",
        "'id' is a required property - 'troubleTicketRelationship",
        "a relationship names the ticket it relates to by its id (TMF621 v5, the form tickets "
        "are kept in, requires it; v4 does not)",
    ),
)

# Statuses a request the contract accepts may still get: the resource is gone or changed, the
# caller may not, a lifecycle step is refused.
EXPECTED = ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "501"]
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": EXPECTED},
            "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "501"]},
        },
    }
)
CHECKS = [
    schemathesis.checks.positive_data_acceptance,
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]


def served() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SERVED.read_text(encoding="utf-8"))
    return loaded


def edits() -> ModuleType:
    """``scripts/v4_contract_edits.py``, loaded from its path (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("v4_contract_edits", EDITS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def made_at_v5() -> dict[str, Any]:
    """A v5 ticket with what v4 cannot carry or must derive: several external identifiers, a
    characteristic, a specification, a party role, a party without a reference, a party and an
    entity without @referredType."""
    ticket = a_full_ticket()
    ticket["externalIdentifier"].append({"@type": "ExternalIdentifier", "id": "SR-42"})
    ticket["relatedParty"] += [
        {"@type": "RelatedPartyRefOrPartyRoleRef", "role": "watcher"},
        {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "reporter",
            "partyOrPartyRole": {"@type": "PartyRef", "id": "77"},
        },
    ]
    ticket["relatedEntity"].append(
        {"@type": "RelatedEntity", "role": "site", "entity": {"@type": "EntityRef", "id": "s-1"}}
    )
    return ticket


APP = create_app(Settings(store="sqlite:///", dispatch="off"))
with APP.test_client() as _client:
    _made = _client.post(f"{API}/troubleTicket", json=made_at_v5())
    assert _made.status_code == 201, _made.text
    V5_TICKET: str = _made.json()["id"]
schema = schemathesis.openapi.from_dict(served(), config=CONFIG)
schema.app = APP


@pytest.fixture(scope="module")
def maker() -> Iterator[TestClient]:
    """A client of the app that makes what the cases are aimed at."""
    with APP.test_client() as client:
        yield client


def existing(case: Any, maker: TestClient) -> None:
    """Aim the case at a ticket or hub that exists: a read at the ticket made at v5, a change
    or a delete at one made for it."""
    if "id" not in (case.path_parameters or {}):
        return
    path = case.operation.path
    if path.startswith("/troubleTicket/") and case.method == "GET":
        case.path_parameters["id"] = V5_TICKET
        return
    if path.startswith("/troubleTicket/"):
        collection, body = "troubleTicket", TICKET
    else:
        collection, body = "hub", {"callback": "https://client.example/listener"}
    made = maker.post(f"{V4_API_ROOT}/{collection}", json=body)
    assert made.status_code == 201, made.text
    case.path_parameters["id"] = made.json()["id"]


@schema.parametrize()
@settings(max_examples=15, suppress_health_check=list(HealthCheck), deadline=None)
def test_what_the_v4_contract_allows_is_accepted_as_it_declares(
    case: schemathesis.Case[Any], maker: TestClient
) -> None:
    existing(case, maker)
    response = case.call()
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        problems = unexplained(group, response, NEEDS_MORE)
        assert not problems, "\n".join(problems)


def test_the_official_file_is_the_official_file() -> None:
    assert hashlib.sha256(OFFICIAL.read_bytes()).hexdigest() == OFFICIAL_SHA256


def test_the_served_file_is_the_converted_one_with_the_edits() -> None:
    converted = yaml.safe_load(CONVERTED.read_text(encoding="utf-8"))

    assert served() == edits().edited(converted)


def test_the_converted_file_has_every_operation_of_the_official_one() -> None:
    official = yaml.safe_load(OFFICIAL.read_text(encoding="utf-8"))  # JSON is YAML
    converted = yaml.safe_load(CONVERTED.read_text(encoding="utf-8"))

    def operations(contract: dict[str, Any]) -> set[tuple[str, str, str]]:
        return {
            (operation["operationId"], method, path)
            for path, item in contract["paths"].items()
            for method, operation in item.items()
            if isinstance(operation, dict) and "operationId" in operation
        }

    assert operations(converted) == operations(official) == operations(served())
    assert set(converted["components"]["schemas"]) == set(official["definitions"])


def test_every_rule_is_documented_with_the_contract() -> None:
    assert documented(HEADING) == {(rule.code, rule.says) for rule in NEEDS_MORE}
