"""The server against the official TMF621 v5.0.1 contract, not the one it serves.

``openapi/official/`` holds the official file byte for byte. schemathesis generates requests that
file declares valid (positive data) for each of its operations, aimed at a ticket or a
specification that exists, and sends them to the app: each must be accepted (or answered 404,
409 and the other statuses a valid request may get) unless it meets one of the ``NEEDS_MORE``
rules, which ask for more than a schema can say. Each rule is listed, with its reason, in
``openapi/README.md`` ("What the official contract allows and the server refuses"), and a test
here checks that the two lists agree. No answer may be a 5xx.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.errors import FailureGroup

from tests.api.contract_rules import Rule, documented, unexplained
from tests.builders import a_specification, a_ticket
from troubleticket.app import create_app
from troubleticket.config import Settings

ROOT = Path(__file__).parents[2]
OFFICIAL = ROOT / "openapi" / "official" / "TMF621-Trouble_Ticket-v5.0.1.oas.yaml"
OFFICIAL_SHA256 = "dd3d242c643d132833c9a883c562bb56401ad3ef9e79c942a1f987e950be5017"
API = "/tmf-api/troubleTicket/v5"


HEADING = "## What the official contract allows and the server refuses"
NEEDS_MORE = (
    Rule(
        "baseTypeRequired",
        "a subclass of",
        "a resource's @type is its class, or a subclass naming the class as its @baseType",
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
        "an event posted to the listener of another class (by @type, or @baseType)",
    ),
    Rule(
        "invalidRequest",
        "Send either after or before",
        "paging forwards and backwards from two cursors at once has no meaning",
    ),
    Rule(
        "invalidRequest",
        "Page either by offset or by cursor",
        "an offset counts from the start, a cursor from a position: one or the other",
    ),
    Rule(
        "invalidRequest",
        "The paging cursor",
        "a cursor must be one the server issued, for the same sort",
    ),
    Rule("invalidRequest", "offset must be", "an offset counts from 0"),
    Rule("invalidRequest", "limit must be", "a page holds 0 to TT_MAX_PAGE_SIZE items"),
    Rule(
        "invalidRequest",
        "sort",
        "sort names attributes (TMF630: -name, a.b, comma-separated, at most 10)",
    ),
    Rule("invalidRequest", "JSONPath", "filter is a TMF630 JSONPath: path[?(predicate)]"),
    Rule(
        "invalidRequest",
        "fields",
        "fields names attributes (TMF630: comma-separated, dotted)",
    ),
    Rule(
        "invalidRequest",
        "operation ",
        "a JSON Patch operation is what RFC 6902 says (the official schema requires only op and "
        "path): add, replace and test carry a value, move and copy a from, paths are JSON "
        "Pointers, and what remove, replace, test, move and copy name exists; a JSON Patch "
        "Query path leads to an array that exists",
    ),
    Rule(
        "invalidRequest",
        "The patched document must be a JSON object",
        "a patch leaves a resource, which is an object",
    ),
    Rule(
        "invalidRequest",
        "would become invalid",
        "the document a patch produces must be a valid resource (TroubleTicket_RES, "
        "TroubleTicketSpecification_RES)",
    ),
    Rule(
        "invalidRequest",
        "callback",
        "a hub's callback is an absolute http(s) URL the server can call",
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
CHECKS = [schemathesis.checks.positive_data_acceptance, schemathesis.checks.not_a_server_error]


def official() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(OFFICIAL.read_text(encoding="utf-8"))
    return loaded


APP = create_app(Settings(store="sqlite:///", dispatch="off"))
schema = schemathesis.openapi.from_dict(official(), config=CONFIG)
schema.app = APP


def existing(case: Any) -> None:
    """Aim the case at a ticket or specification that exists, made for it."""
    if "id" not in (case.path_parameters or {}):
        return
    path = case.operation.path
    if path.startswith("/troubleTicketSpecification/"):
        collection, body = "troubleTicketSpecification", a_specification()
    elif path.startswith("/troubleTicket/"):
        collection, body = "troubleTicket", a_ticket()
    else:
        return
    with APP.test_client() as client:
        made = client.post(f"{API}/{collection}", json=body)
    assert made.status_code == 201, made.text
    case.path_parameters["id"] = made.json()["id"]


@schema.parametrize()
@settings(max_examples=15, suppress_health_check=list(HealthCheck), deadline=None)
def test_what_the_official_contract_allows_is_accepted(case: schemathesis.Case[Any]) -> None:
    existing(case)
    response = case.call()
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        problems = unexplained(group, response, NEEDS_MORE)
        assert not problems, "\n".join(problems)


def test_the_official_file_is_the_official_file() -> None:
    assert hashlib.sha256(OFFICIAL.read_bytes()).hexdigest() == OFFICIAL_SHA256


def test_every_rule_is_documented_with_the_contract() -> None:
    assert documented(HEADING) == {(rule.code, rule.says) for rule in NEEDS_MORE}
