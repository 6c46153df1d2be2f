from __future__ import annotations

import pytest

from troubleticket.api.conditional import etag, if_match, none_match
from troubleticket.domain.errors import InvalidRequest


def test_the_etag_is_the_quoted_version() -> None:
    assert etag(12) == '"12"'


class TestIfMatch:
    def test_no_header_means_no_condition(self) -> None:
        assert if_match(None) is None

    @pytest.mark.parametrize(
        ("header", "version", "matches"),
        [
            ('"3"', 3, True),
            ('"3"', 4, False),
            ('"1", "3"', 3, True),
            ('"1","3"', 2, False),
            ("*", 99, True),
            ('W/"3"', 3, False),
            ('W/"3", "3"', 3, True),
        ],
    )
    def test_strong_comparison_against_the_listed_tags(
        self, header: str, version: int, matches: bool
    ) -> None:
        condition = if_match(header)
        assert condition is not None
        assert condition(version) is matches

    @pytest.mark.parametrize("header", ["3", '"3', '"3" junk', ",", ""])
    def test_a_malformed_header_is_an_invalid_request(self, header: str) -> None:
        with pytest.raises(InvalidRequest):
            if_match(header)


class TestIfNoneMatch:
    @pytest.mark.parametrize(
        ("header", "version", "matches"),
        [(None, 1, False), ('"1"', 1, True), ('W/"1"', 1, True), ('"2"', 1, False), ("*", 5, True)],
    )
    def test_weak_comparison_against_the_listed_tags(
        self, header: str | None, version: int, matches: bool
    ) -> None:
        assert none_match(header, version) is matches
