"""TMF630 list queries over HTTP: attribute filters, sorting, paging links, hostile input."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.assertions import assert_tmf_error
from tests.builders import TICKETS, a_ticket

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from tests.conftest import FrozenClock


@pytest.fixture
def tickets(client: TestClient, clock: FrozenClock) -> list[dict[str, Any]]:
    """Six tickets, one hour apart, customers 42 and 43 alternating."""
    created = []
    for n, severity in enumerate(["Critical", "Minor", "Major", "Critical", "Minor", "Major"]):
        body = a_ticket(
            name=f"ticket {n}",
            severity=severity,
            relatedParty=[
                {
                    "@type": "RelatedPartyRefOrPartyRoleRef",
                    "role": "customer",
                    "partyOrPartyRole": {"@type": "PartyRef", "id": "42" if n % 2 == 0 else "43"},
                }
            ],
        )
        response = client.post(TICKETS, json=body)
        assert response.status_code == 201
        created.append(response.json())
        clock.advance(hours=1)
    return created


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [doc["name"] for doc in response.json()]


def test_tickets_of_a_customer_by_severity_since_a_time_newest_first(
    client: TestClient, tickets: list[dict[str, Any]]
) -> None:
    response = client.get(
        f"{TICKETS}?severity=Major,Minor&relatedParty.partyOrPartyRole.id=42"
        "&creationDate.gte=2026-11-20T09:00:00Z&sort=-creationDate&limit=50"
    )

    assert names(response) == ["ticket 4", "ticket 2"]
    assert response.headers["X-Total-Count"] == "2"
    assert response.headers["X-Result-Count"] == "2"


def test_url_encoded_operators_filter_like_their_suffix_forms(
    client: TestClient, tickets: list[dict[str, Any]]
) -> None:
    encoded = client.get(
        f"{TICKETS}?creationDate%3E%3D2026-11-20T10:00:00Z&creationDate%3C2026-11-20T12:00:00Z"
    )
    suffixed = client.get(
        f"{TICKETS}?creationDate.gte=2026-11-20T10:00:00Z&creationDate.lt=2026-11-20T12:00:00Z"
    )
    assert names(encoded) == names(suffixed) == ["ticket 2", "ticket 3"]


def test_sort_is_stable_across_pages(client: TestClient, tickets: list[dict[str, Any]]) -> None:
    pages = [
        names(client.get(f"{TICKETS}?sort=severity&offset={offset}&limit=2"))
        for offset in (0, 2, 4)
    ]
    # Equal severities are ordered by id, so the pages neither repeat nor skip a ticket.
    expected = [t["name"] for t in sorted(tickets, key=lambda t: (t["severity"], t["id"]))]
    assert pages == [expected[0:2], expected[2:4], expected[4:6]]


def test_a_page_links_to_first_prev_next_and_last_keeping_the_query(
    client: TestClient, tickets: list[dict[str, Any]]
) -> None:
    response = client.get(
        f"{TICKETS}?status=acknowledged&creationDate%3E2026-01-01&offset=2&limit=2"
    )

    links = dict(
        (rel, target)
        for target, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"])
    )
    base = f"https://tt.example.com{TICKETS}?status=acknowledged&creationDate%3E2026-01-01"
    assert links == {
        "first": f"{base}&offset=0&limit=2",
        "prev": f"{base}&offset=0&limit=2",
        "next": f"{base}&offset=4&limit=2",
        "last": f"{base}&offset=4&limit=2",
    }


def test_the_first_page_has_no_prev_and_the_last_no_next(
    client: TestClient, tickets: list[dict[str, Any]]
) -> None:
    first = client.get(f"{TICKETS}?limit=4").headers["Link"]
    last = client.get(f"{TICKETS}?offset=4&limit=4").headers["Link"]
    assert 'rel="prev"' not in first and 'rel="next"' in first
    assert 'rel="next"' not in last and 'rel="prev"' in last


@pytest.mark.parametrize(
    "query",
    [
        "$where=1",
        "status[$ne]=x",
        "name'--=x",
        "status",
        "severity.regex=(",
        "a..b=1",
    ],
)
def test_a_hostile_or_malformed_filter_is_a_400_never_unfiltered_data(
    client: TestClient, tickets: list[dict[str, Any]], query: str
) -> None:
    assert_tmf_error(client.get(f"{TICKETS}?{query}"), 400, "invalidRequest")


def test_a_pathological_regex_answers_promptly(
    client: TestClient, tickets: list[dict[str, Any]]
) -> None:
    client.patch(
        f"{TICKETS}/{tickets[0]['id']}",
        json={"@type": "TroubleTicket", "description": "a" * 20000 + "b"},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    response = client.get(f"{TICKETS}?description.regex=(a%2B)%2B$")
    assert names(response) == []


def test_an_unknown_sort_attribute_sorts_nothing_but_still_pages_by_id(
    client: TestClient, tickets: list[dict[str, Any]]
) -> None:
    expected = [t["name"] for t in sorted(tickets, key=lambda t: t["id"])]
    assert names(client.get(f"{TICKETS}?sort=noSuchAttribute")) == expected


def test_a_malformed_sort_is_a_400(client: TestClient) -> None:
    assert_tmf_error(client.get(f"{TICKETS}?sort=-"), 400, "invalidRequest")


def test_an_offset_beyond_any_store_is_an_empty_page_with_the_true_total(
    client: TestClient, tickets: list[dict[str, Any]]
) -> None:
    response = client.get(TICKETS, params={"offset": 10**20, "limit": 5})

    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["X-Total-Count"] == str(len(tickets))


def link(response: Any, rel: str) -> str | None:
    for match in re.finditer(r'<([^>]+)>; rel="(\w+)"', response.headers.get("Link", "")):
        if match[2] == rel:
            return match[1].removeprefix("https://tt.example.com")
    return None


class TestCursorPaging:
    def test_following_next_links_visits_every_ticket_once_in_order(
        self, client: TestClient, tickets: list[dict[str, Any]]
    ) -> None:
        seen: list[str] = []
        url: str | None = f"{TICKETS}?sort=-creationDate&limit=4"
        while url:
            response = client.get(url)
            seen += names(response)
            url = link(response, "next")
        assert seen == [f"ticket {n}" for n in range(5, -1, -1)]

    def test_a_cursor_page_stays_put_when_tickets_are_created_meanwhile(
        self, client: TestClient, tickets: list[dict[str, Any]]
    ) -> None:
        first = client.get(f"{TICKETS}?limit=3")
        assert names(first) == ["ticket 0", "ticket 1", "ticket 2"]
        client.post(TICKETS, json=a_ticket(name="newcomer"))

        following = client.get(link(first, "next") or "")
        assert names(following) == ["ticket 3", "ticket 4", "ticket 5"]
        assert names(client.get(link(following, "next") or "")) == ["newcomer"]

    def test_the_prev_link_walks_back(
        self, client: TestClient, tickets: list[dict[str, Any]]
    ) -> None:
        first = client.get(f"{TICKETS}?sort=severity,name&limit=2")
        second = client.get(link(first, "next") or "")
        back = client.get(link(second, "prev") or "")
        assert names(back) == names(first)
        assert link(back, "prev") is None

    def test_a_cursor_keeps_the_filter_and_the_total(
        self, client: TestClient, tickets: list[dict[str, Any]]
    ) -> None:
        first = client.get(f"{TICKETS}?severity=Critical,Minor&limit=2")
        second = client.get(link(first, "next") or "")
        assert names(first) + names(second) == ["ticket 0", "ticket 1", "ticket 3", "ticket 4"]
        assert second.headers["X-Total-Count"] == "4"

    @pytest.mark.parametrize(
        "query", ["after=garbage", "before=%21%21", "after=abc&before=abc", "after=abc&offset=2"]
    )
    def test_a_cursor_that_is_not_ours_or_mixed_paging_is_a_400(
        self, client: TestClient, tickets: list[dict[str, Any]], query: str
    ) -> None:
        assert_tmf_error(client.get(f"{TICKETS}?{query}"), 400, "invalidRequest")

    def test_a_cursor_of_another_sort_order_is_a_400(
        self, client: TestClient, tickets: list[dict[str, Any]]
    ) -> None:
        cursor_link = link(client.get(f"{TICKETS}?sort=name&limit=2"), "next") or ""
        cursor = cursor_link.split("after=")[1].split("&")[0]
        response = client.get(f"{TICKETS}?sort=-name&after={cursor}")
        assert_tmf_error(response, 400, "invalidRequest", mentions=("sort order",))


class TestJsonPathFilter:
    def test_a_jsonpath_filter_selects_tickets_with_a_matching_element(
        self, client: TestClient, tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(
            f"{TICKETS}",
            params={"filter": "relatedParty[?(@.partyOrPartyRole.id=='43')]", "sort": "name"},
        )
        assert names(response) == ["ticket 1", "ticket 3", "ticket 5"]

    def test_a_jsonpath_filter_combines_with_attribute_filters(
        self, client: TestClient, tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(
            f"{TICKETS}",
            params={
                "filter": "$[?(@.severity=='Minor' || @.severity=='Major')]",
                "name": "ticket 2",
            },
        )
        assert names(response) == ["ticket 2"]

    def test_an_unsupported_jsonpath_is_a_501(
        self, client: TestClient, tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(f"{TICKETS}", params={"filter": "$..author"})
        assert_tmf_error(response, 501, "notImplemented")

    def test_a_malformed_jsonpath_is_a_400(
        self, client: TestClient, tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(f"{TICKETS}", params={"filter": "note[?(@.author=='x')"})
        assert_tmf_error(response, 400, "invalidRequest")
