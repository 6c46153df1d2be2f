"""The running app against its own contract: schemathesis generates requests for every operation.

All built-in checks run (response schema, status codes, headers, content types, positive and
negative data, Allow on 405, …) with the expectations in ``schemathesis.toml``. On top of them,
every error response must be a TMF Error, and a 501 may only mean "not offered".
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from troubleticket.api.contract import spec_file
from troubleticket.app import create_app
from troubleticket.config import Settings

CONFIG = schemathesis.config.SchemathesisConfig.from_path(
    Path(__file__).parents[2] / "schemathesis.toml"
)
CASES: list[str] = []


# An in-memory store: the generated requests need no file and leave nothing behind. No
# dispatcher: the generated hubs' callbacks are not to be called.
schema = schemathesis.openapi.from_asgi(
    "/tmf-api/troubleTicket/v5/openapi.json",
    create_app(Settings(store="sqlite:///", dispatch="off")),
    config=CONFIG,
)


@schema.parametrize()
@settings(max_examples=40, suppress_health_check=list(HealthCheck), deadline=None)
def test_every_operation_conforms_to_the_contract(case):  # type: ignore[no-untyped-def]
    response = case.call_and_validate()
    CASES.append(case.operation.label)
    if response.status_code >= 400:
        body = response.json()
        assert response.headers["content-type"] == ["application/json"]
        assert body["@type"] == "Error"
        assert body["status"] == str(response.status_code)
        assert body["code"] and body["reason"] and body["message"]
    if response.status_code == 501:
        assert response.json()["code"] == "notImplemented"


def test_the_contract_is_a_valid_openapi_document() -> None:
    spec_dict, base_uri = read_from_filename(str(spec_file()))
    validate(spec_dict, base_uri=base_uri)
