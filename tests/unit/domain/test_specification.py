"""TroubleTicketSpecification rules: server-set attributes on create and patch."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from troubleticket.domain.errors import Conflict, InvalidRequest, ServerOwnedField
from troubleticket.domain.specification import create_specification, patch_specification

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
T_NOW = "2026-11-20T08:00:00.000Z"
LATER = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
T_LATER = "2026-11-21T12:00:00.000Z"

# Outside TroubleTicketSpecification_FVO/_MVO and set by the server.
SERVER_OWNED = ["creationDate", "lastUpdate"]


def spec_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@type": "TroubleTicketSpecification",
        "name": "Broadband fault",
        "description": "Fault on a fixed broadband access",
        "lifecycleStatus": "inDesign",
        "specCharacteristic": [{"@type": "CharacteristicSpecification", "name": "lineId"}],
    }
    body.update(overrides)
    return body


def stored_spec(**overrides: Any) -> dict[str, Any]:
    doc = {
        "id": "SP-1",
        "href": "http://localhost:8080/tmf-api/troubleTicket/v5/troubleTicketSpecification/SP-1",
        **spec_request(),
        "creationDate": T_NOW,
        "lastUpdate": T_NOW,
    }
    doc.update(overrides)
    return doc


class TestCreateSpecification:
    def test_the_server_sets_id_and_both_dates_and_keeps_the_request(self) -> None:
        body = spec_request()

        spec = create_specification(body, resource_id="SP-1", now=NOW)

        assert spec == {"id": "SP-1", **body, "creationDate": T_NOW, "lastUpdate": T_NOW}

    def test_specifications_get_no_ticket_lifecycle_attributes(self) -> None:
        spec = create_specification(spec_request(), resource_id="SP-1", now=NOW)
        assert "status" not in spec
        assert "statusChangeHistory" not in spec

    @pytest.mark.parametrize("name", SERVER_OWNED)
    def test_a_server_owned_attribute_in_the_request_is_refused_by_name(self, name: str) -> None:
        with pytest.raises(ServerOwnedField) as caught:
            create_specification(spec_request(**{name: "client"}), resource_id="SP-1", now=NOW)
        assert caught.value.fields == [name]

    def test_an_id_and_href_in_the_request_are_replaced_by_the_servers(self) -> None:
        # TroubleTicketSpecification_FVO has both (from Entity); the server assigns identity.
        body = spec_request(id="mine", href="https://elsewhere.example/spec/mine")
        spec = create_specification(body, resource_id="SP-1", now=NOW)
        assert spec["id"] == "SP-1"
        assert "href" not in spec  # the service derives it from the id

    def test_a_subclass_names_its_base_type(self) -> None:
        body = spec_request(**{"@type": "FaultSpecification"})
        with pytest.raises(InvalidRequest, match="@baseType") as caught:
            create_specification(body, resource_id="SP-1", now=NOW)
        assert caught.value.code == "baseTypeRequired"
        body["@baseType"] = "TroubleTicketSpecification"
        spec = create_specification(body, resource_id="SP-1", now=NOW)
        assert spec["@type"] == "FaultSpecification"

    def test_the_request_is_not_mutated(self) -> None:
        body = spec_request()
        before = copy.deepcopy(body)
        create_specification(body, resource_id="SP-1", now=NOW)
        assert body == before


class TestPatchSpecification:
    def test_a_change_is_merged_and_bumps_last_update_only(self) -> None:
        current = stored_spec()

        patched = patch_specification(current, {"lifecycleStatus": "active"}, now=LATER)

        assert patched == {**current, "lifecycleStatus": "active", "lastUpdate": T_LATER}
        assert current["lastUpdate"] == T_NOW

    @pytest.mark.parametrize("value", ["retired", "anything the catalogue uses"])
    def test_lifecycle_status_is_a_free_string(self, value: str) -> None:
        patched = patch_specification(stored_spec(), {"lifecycleStatus": value}, now=LATER)
        assert patched["lifecycleStatus"] == value

    def test_null_removes_an_optional_attribute(self) -> None:
        patched = patch_specification(stored_spec(), {"description": None}, now=LATER)
        assert "description" not in patched

    @pytest.mark.parametrize("name", ["name", "@type"])
    def test_name_and_type_cannot_be_removed(self, name: str) -> None:
        with pytest.raises(InvalidRequest, match=f"cannot be removed: {name}"):
            patch_specification(stored_spec(), {name: None}, now=LATER)

    def test_echoing_server_owned_values_is_accepted(self) -> None:
        current = stored_spec()
        patch = {name: current[name] for name in SERVER_OWNED} | {"name": "Renamed"}

        patched = patch_specification(current, patch, now=LATER)

        assert patched["name"] == "Renamed"
        assert patched["id"] == "SP-1"
        assert patched["creationDate"] == T_NOW

    @pytest.mark.parametrize("name", SERVER_OWNED)
    def test_changing_a_server_owned_attribute_is_refused(self, name: str) -> None:
        with pytest.raises(ServerOwnedField) as caught:
            patch_specification(stored_spec(), {name: "changed"}, now=LATER)
        assert caught.value.fields == [name]

    def test_changing_the_id_is_a_conflict(self) -> None:
        with pytest.raises(Conflict, match="id identifies") as caught:
            patch_specification(stored_spec(), {"id": "SP-2"}, now=LATER)
        assert caught.value.code == "identityChange"

    def test_another_href_is_ignored(self) -> None:
        current = stored_spec()
        patched = patch_specification(current, {"href": "https://elsewhere/x"}, now=LATER)
        assert patched is current

    def test_a_patch_keeps_the_class_of_a_subclass(self) -> None:
        current = stored_spec(**{"@type": "FaultSpecification"})
        patch = {"@type": "TroubleTicketSpecification", "name": "Renamed"}
        patched = patch_specification(current, patch, now=LATER)
        assert (patched["@type"], patched["name"]) == ("FaultSpecification", "Renamed")
        with pytest.raises(Conflict) as caught:
            patch_specification(current, {"@type": "OtherSpecification"}, now=LATER)
        assert caught.value.code == "classChange"

    @pytest.mark.parametrize(
        "patch",
        [
            pytest.param({}, id="empty"),
            pytest.param({"name": "Broadband fault"}, id="same-value"),
            pytest.param({"lastUpdate": T_NOW}, id="echoed-server-value"),
        ],
    )
    def test_a_patch_that_changes_nothing_returns_the_same_object(
        self, patch: dict[str, Any]
    ) -> None:
        current = stored_spec()
        patched = patch_specification(current, patch, now=LATER)
        assert patched is current
        assert patched["lastUpdate"] == T_NOW

    def test_the_input_is_not_mutated(self) -> None:
        current = stored_spec()
        before = copy.deepcopy(current)
        patch_specification(current, {"specCharacteristic": None, "name": "x"}, now=LATER)
        assert current == before
