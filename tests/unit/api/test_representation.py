"""TMF630 attribute selection (fields=) and offset/limit paging."""

from __future__ import annotations

import dataclasses

import pytest

from troubleticket.api.representation import Paging, paging, parse_fields, select
from troubleticket.domain.errors import InvalidRequest

TICKET = {
    "id": "TT-1",
    "href": "http://localhost:8080/tmf-api/troubleTicket/v5/troubleTicket/TT-1",
    "@type": "TroubleTicket",
    "name": "Broadband down",
    "status": "inProgress",
    "severity": "Major",
    "relatedParty": [{"@type": "RelatedPartyRefOrPartyRoleRef", "role": "customer"}],
}


class TestParseFields:
    def test_no_fields_parameter_means_the_whole_resource(self) -> None:
        assert parse_fields(None) is None

    def test_names_are_split_on_commas_and_trimmed(self) -> None:
        assert parse_fields("name, status ,severity") == frozenset({"name", "status", "severity"})

    def test_none_selects_nothing_beyond_the_kept_attributes(self) -> None:
        assert parse_fields("none") == frozenset()

    def test_a_dotted_name_selects_its_first_level_attribute(self) -> None:
        assert parse_fields("relatedParty.role,note.text.x") == frozenset({"relatedParty", "note"})

    def test_empty_items_between_commas_are_ignored(self) -> None:
        assert parse_fields("name,,status,") == frozenset({"name", "status"})

    @pytest.mark.parametrize("raw", ["", "   ", ",", " , ,"])
    def test_a_blank_selection_means_the_whole_resource(self, raw: str) -> None:
        assert parse_fields(raw) is None


class TestSelect:
    def test_no_selection_returns_the_document_itself(self) -> None:
        assert select(TICKET, None) is TICKET

    def test_fields_none_keeps_only_id_href_and_type(self) -> None:
        assert select(TICKET, parse_fields("none")) == {
            "id": "TT-1",
            "href": TICKET["href"],
            "@type": "TroubleTicket",
        }

    def test_selected_attributes_come_with_id_href_and_type_in_stored_order(self) -> None:
        selected = select(TICKET, parse_fields("status,name"))
        assert list(selected) == ["id", "href", "@type", "name", "status"]
        assert selected["status"] == "inProgress"

    def test_unknown_names_are_ignored(self) -> None:
        assert select(TICKET, parse_fields("status,noSuchAttribute")) == {
            "id": "TT-1",
            "href": TICKET["href"],
            "@type": "TroubleTicket",
            "status": "inProgress",
        }

    def test_a_dotted_name_returns_the_whole_first_level_attribute(self) -> None:
        selected = select(TICKET, parse_fields("relatedParty.role"))
        assert selected["relatedParty"] == TICKET["relatedParty"]
        assert "status" not in selected


class TestPaging:
    def test_missing_values_default_to_offset_zero_and_the_default_limit(self) -> None:
        assert paging(None, None, default_limit=100, max_limit=1000) == Paging(0, 100)

    def test_given_values_are_kept(self) -> None:
        assert paging(40, 20, default_limit=100, max_limit=1000) == Paging(40, 20)

    @pytest.mark.parametrize("limit", [0, 1000])
    def test_limit_bounds_are_inclusive(self, limit: int) -> None:
        assert paging(0, limit, default_limit=100, max_limit=1000).limit == limit

    def test_a_negative_offset_is_an_invalid_request(self) -> None:
        with pytest.raises(InvalidRequest, match="offset must be 0 or more, not -1"):
            paging(-1, None, default_limit=100, max_limit=1000)

    @pytest.mark.parametrize("limit", [-1, 1001])
    def test_a_limit_out_of_range_is_an_invalid_request(self, limit: int) -> None:
        with pytest.raises(InvalidRequest, match=f"between 0 and 1000, not {limit}"):
            paging(0, limit, default_limit=100, max_limit=1000)

    def test_paging_is_immutable(self) -> None:
        page = Paging(0, 10)
        with pytest.raises(dataclasses.FrozenInstanceError):
            page.limit = 20  # type: ignore[misc]
