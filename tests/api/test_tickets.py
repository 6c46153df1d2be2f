"""The TroubleTicket resource over HTTP: the five operations, fields=, paging and the lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.assertions import BASE_URL, MERGE_PATCH, assert_tmf_error, created, patch, total
from tests.builders import (
    API,
    POLICY_ATTRIBUTES,
    TICKETS,
    a_full_ticket,
    a_ticket,
    without_policy,
)
from troubleticket.app import create_app
from troubleticket.config import Settings
from troubleticket.store.port import Store

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from tests.conftest import FrozenClock

NOW = "2026-11-20T08:00:00.000Z"  # the frozen clock's starting instant, as the server writes it
TICKET_HREF = f"{BASE_URL}{TICKETS}"
# What the server adds to a create request besides what the service policy sets (see
# ``policy_set``); everything else comes back exactly as sent.
SERVER_SET = {
    "id",
    "href",
    "status",
    "creationDate",
    "lastUpdate",
    "statusChangeDate",
    "statusChangeHistory",
}
TYPE = {"@type": "TroubleTicket"}


def url(ticket: dict[str, Any]) -> str:
    return f"{TICKETS}/{ticket['id']}"


def as_sent(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without what the server sets."""
    return {key: value for key, value in doc.items() if key not in SERVER_SET}


def running_clock(name: str, target_seconds: int, deadline: str) -> dict[str, Any]:
    """One SLA clock of a ticket created at NOW and not changed since."""
    return {
        "@type": "SlaClock",
        "name": name,
        "state": "running",
        "startedAt": NOW,
        "asOf": NOW,
        "elapsedSeconds": 0.0,
        "pausedSeconds": 0.0,
        "jeopardy": "none",
        "targetSeconds": target_seconds,
        "deadline": deadline,
    }


def policy_set(
    priority: str, acknowledge: tuple[int, str], resolve: tuple[int, str]
) -> dict[str, Any]:
    """What the service policy sets on a ticket created at NOW: the matrix's priority and its
    history, both clocks (each given as target seconds and deadline), the expected resolution
    date (the resolve clock's deadline) and escalation level 0."""
    return {
        "priority": priority,
        "priorityHistory": [
            {"@type": "PriorityChange", "priority": priority, "date": NOW, "source": "matrix"}
        ],
        "slaClock": [
            running_clock("acknowledge", *acknowledge),
            running_clock("resolve", *resolve),
        ],
        "expectedResolutionDate": resolve[1],
        "escalationLevel": 0,
    }


# a_ticket(): severity Minor (impact row 2), no urgency (default column 2) -> Low; the default
# policy's Low targets are 8 h to acknowledge and 72 h to resolve.
MINOR_TICKET_POLICY = policy_set(
    "Low", (8 * 3600, "2026-11-20T16:00:00.000Z"), (72 * 3600, "2026-11-23T08:00:00.000Z")
)
# a_full_ticket(): severity Major (row 1), urgency High (column 1) -> High; 1 h and 8 h.
FULL_TICKET_POLICY = policy_set(
    "High", (3600, "2026-11-20T09:00:00.000Z"), (8 * 3600, "2026-11-20T16:00:00.000Z")
)


def change(status: str, when: str, reason: str | None = None) -> dict[str, Any]:
    """One statusChangeHistory entry."""
    entry = {"@type": "StatusChange", "status": status, "statusChangeDate": when}
    if reason is not None:
        entry["statusChangeReason"] = reason
    return entry


def in_progress(client: TestClient) -> dict[str, Any]:
    """A new ticket moved to inProgress."""
    ticket = created(client, TICKETS, a_ticket())
    response = patch(client, url(ticket), {**TYPE, "status": "inProgress"})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


class TestCreatingATicket:
    def test_a_created_ticket_answers_201_with_a_location_equal_to_its_href(
        self, client: TestClient
    ) -> None:
        response = client.post(TICKETS, json=a_ticket())

        assert response.status_code == 201, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["href"] == f"{TICKET_HREF}/{body['id']}"
        assert response.headers["Location"] == body["href"]

    def test_the_server_sets_identity_timestamps_the_initial_status_and_its_history(
        self, client: TestClient
    ) -> None:
        response = client.post(TICKETS, json=a_ticket())

        body = response.json()
        assert body == {
            "id": body["id"],
            "href": f"{TICKET_HREF}/{body['id']}",
            **a_ticket(),
            "status": "acknowledged",
            "creationDate": NOW,
            "lastUpdate": NOW,
            "statusChangeDate": NOW,
            "statusChangeHistory": [change("acknowledged", NOW)],
            **MINOR_TICKET_POLICY,
        }
        assert body["id"]

    def test_each_created_ticket_gets_its_own_id(self, client: TestClient) -> None:
        ids = {created(client, TICKETS, a_ticket())["id"] for _ in range(3)}

        assert len(ids) == 3

    def test_a_full_ticket_comes_back_exactly_as_sent_from_create_retrieve_and_list(
        self, client: TestClient
    ) -> None:
        sent = a_full_ticket()

        on_create = created(client, TICKETS, sent)
        on_retrieve = client.get(url(on_create)).json()
        listed = client.get(TICKETS).json()

        expected = {
            "id": on_create["id"],
            "href": f"{TICKET_HREF}/{on_create['id']}",
            **sent,
            "status": "acknowledged",
            "creationDate": NOW,
            "lastUpdate": NOW,
            "statusChangeDate": NOW,
            "statusChangeHistory": [change("acknowledged", NOW)],
            **FULL_TICKET_POLICY,
        }
        # The priority sent is the one the matrix gives: it is kept, and is no override.
        assert sent["priority"] == expected["priority"]
        assert on_create == expected
        assert on_retrieve == expected
        assert listed == [expected]

    def test_a_ticket_of_another_type_is_refused_and_not_stored(self, client: TestClient) -> None:
        response = client.post(TICKETS, json=a_ticket(**{"@type": "TroubleTicketSpecification"}))

        assert_tmf_error(response, 400, "baseTypeRequired", mentions=("@baseType", "TroubleTicket"))
        assert total(client, TICKETS) == 0

    def test_a_subclass_naming_its_base_type_is_created_and_keeps_its_class(
        self, client: TestClient
    ) -> None:
        subclass = {
            "@type": "FibreTroubleTicket",
            "@baseType": "TroubleTicket",
            "@schemaLocation": "https://schemas.example.com/FibreTroubleTicket.json",
            "fibreSegment": "OLT-7/PON-3",
        }
        ticket = created(client, TICKETS, a_ticket(**subclass))

        assert {key: ticket[key] for key in subclass} == subclass
        assert client.get(url(ticket)).json() == ticket


class TestRetrievingATicket:
    def test_a_ticket_is_retrieved_by_id_as_it_was_created(self, client: TestClient) -> None:
        ticket = created(client, TICKETS, a_ticket(name="Line down"))

        response = client.get(url(ticket))

        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == ticket

    def test_an_unknown_id_is_not_found(self, client: TestClient) -> None:
        response = client.get(f"{TICKETS}/no-such-ticket")

        assert_tmf_error(response, 404, "notFound", mentions=("no-such-ticket",))


@pytest.fixture
def five_tickets(client: TestClient) -> list[dict[str, Any]]:
    return [created(client, TICKETS, a_ticket(name=f"Ticket {n}")) for n in range(1, 6)]


class TestListingTickets:
    def test_an_empty_collection_is_an_empty_page_with_zero_counts(
        self, client: TestClient
    ) -> None:
        response = client.get(TICKETS)

        assert response.status_code == 200
        assert response.json() == []
        assert response.headers["X-Total-Count"] == "0"
        assert response.headers["X-Result-Count"] == "0"

    def test_the_list_holds_every_ticket_in_creation_order_with_counts(
        self, client: TestClient, five_tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(TICKETS)

        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == five_tickets
        assert response.headers["X-Total-Count"] == "5"
        assert response.headers["X-Result-Count"] == "5"

    def test_offset_and_limit_select_a_page_in_creation_order(
        self, client: TestClient, five_tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(TICKETS, params={"offset": 1, "limit": 2})

        assert response.status_code == 200
        assert response.json() == five_tickets[1:3]
        assert response.headers["X-Total-Count"] == "5"
        assert response.headers["X-Result-Count"] == "2"

    def test_the_last_page_may_be_short(
        self, client: TestClient, five_tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(TICKETS, params={"offset": 4, "limit": 2})

        assert response.json() == five_tickets[4:]
        assert response.headers["X-Total-Count"] == "5"
        assert response.headers["X-Result-Count"] == "1"

    def test_limit_zero_returns_no_items_but_the_total(
        self, client: TestClient, five_tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(TICKETS, params={"limit": 0})

        assert response.status_code == 200
        assert response.json() == []
        assert response.headers["X-Total-Count"] == "5"
        assert response.headers["X-Result-Count"] == "0"

    def test_an_offset_beyond_the_end_returns_an_empty_page_and_the_total(
        self, client: TestClient, five_tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(TICKETS, params={"offset": 10})

        assert response.status_code == 200
        assert response.json() == []
        assert response.headers["X-Total-Count"] == "5"
        assert response.headers["X-Result-Count"] == "0"

    def test_the_largest_allowed_limit_is_accepted(
        self, client: TestClient, five_tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(TICKETS, params={"limit": 1000})

        assert response.status_code == 200
        assert response.json() == five_tickets

    def test_a_limit_over_the_maximum_is_refused(self, client: TestClient) -> None:
        response = client.get(TICKETS, params={"limit": 1001})

        assert_tmf_error(response, 400, "invalidRequest", mentions=("limit", "1000", "1001"))

    def test_a_negative_offset_is_refused(self, client: TestClient) -> None:
        response = client.get(TICKETS, params={"offset": -1})

        assert_tmf_error(response, 400, "invalidRequest", mentions=("offset", "-1"))

    def test_a_negative_limit_is_refused(self, client: TestClient) -> None:
        response = client.get(TICKETS, params={"limit": -1})

        assert_tmf_error(response, 400, "invalidRequest", mentions=("limit",))

    def test_a_limit_that_is_not_a_number_is_refused(self, client: TestClient) -> None:
        response = client.get(TICKETS, params={"limit": "ten"})

        assert_tmf_error(response, 400, "invalidRequest", mentions=("ten",))


class TestTheDefaultPageSize:
    @pytest.fixture
    def small_pages(self, settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
        app = create_app(replace(settings, default_page_size=2), clock=clock)
        with app.test_client() as test_client:
            yield test_client

    def test_a_list_without_limit_returns_the_configured_default_page(
        self, small_pages: TestClient
    ) -> None:
        tickets = [created(small_pages, TICKETS, a_ticket(name=f"T{n}")) for n in range(3)]

        response = small_pages.get(TICKETS)

        assert response.json() == tickets[:2]
        assert response.headers["X-Total-Count"] == "3"
        assert response.headers["X-Result-Count"] == "2"


class TestFieldSelection:
    def test_retrieve_returns_the_selected_attributes_plus_id_href_and_type(
        self, client: TestClient
    ) -> None:
        ticket = created(client, TICKETS, a_full_ticket())

        response = client.get(url(ticket), params={"fields": "severity,status"})

        assert response.status_code == 200
        assert response.json() == {
            "id": ticket["id"],
            "href": ticket["href"],
            "@type": "TroubleTicket",
            "severity": "Major",
            "status": "acknowledged",
        }

    def test_list_applies_the_selection_to_every_item(
        self, client: TestClient, five_tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(TICKETS, params={"fields": "name"})

        assert response.status_code == 200
        assert response.json() == [
            {"id": t["id"], "href": t["href"], "@type": "TroubleTicket", "name": t["name"]}
            for t in five_tickets
        ]
        assert response.headers["X-Total-Count"] == "5"

    def test_create_returns_the_selection_but_stores_the_whole_ticket(
        self, client: TestClient
    ) -> None:
        response = client.post(TICKETS, json=a_full_ticket(), params={"fields": "priority"})

        assert response.status_code == 201, response.text
        body = response.json()
        assert body == {
            "id": body["id"],
            "href": body["href"],
            "@type": "TroubleTicket",
            "priority": "High",
        }
        assert response.headers["Location"] == body["href"]
        whole = client.get(url(body)).json()
        assert without_policy(as_sent(whole)) == without_policy(a_full_ticket())
        assert {key: whole[key] for key in FULL_TICKET_POLICY} == FULL_TICKET_POLICY

    def test_patch_returns_the_selection_of_the_patched_ticket(self, client: TestClient) -> None:
        ticket = created(client, TICKETS, a_full_ticket())

        response = patch(
            client, url(ticket), {**TYPE, "severity": "Critical"}, params={"fields": "severity"}
        )

        assert response.status_code == 200, response.text
        assert response.json() == {
            "id": ticket["id"],
            "href": ticket["href"],
            "@type": "TroubleTicket",
            "severity": "Critical",
        }
        assert client.get(url(ticket)).json()["name"] == "Broadband down"

    def test_fields_none_keeps_exactly_id_href_and_type(self, client: TestClient) -> None:
        ticket = created(client, TICKETS, a_full_ticket())

        response = client.get(url(ticket), params={"fields": "none"})

        assert response.json() == {
            "id": ticket["id"],
            "href": ticket["href"],
            "@type": "TroubleTicket",
        }

    def test_fields_none_on_a_list_keeps_exactly_id_href_and_type(
        self, client: TestClient, five_tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(TICKETS, params={"fields": "none"})

        assert response.json() == [
            {"id": t["id"], "href": t["href"], "@type": "TroubleTicket"} for t in five_tickets
        ]

    def test_an_empty_fields_parameter_returns_the_whole_ticket(self, client: TestClient) -> None:
        ticket = created(client, TICKETS, a_full_ticket())

        response = client.get(f"{url(ticket)}?fields=")

        assert response.status_code == 200
        assert response.json() == ticket

    def test_a_nested_name_selects_its_whole_first_level_attribute(
        self, client: TestClient
    ) -> None:
        ticket = created(client, TICKETS, a_full_ticket())

        response = client.get(url(ticket), params={"fields": "relatedParty.role"})

        assert response.json() == {
            "id": ticket["id"],
            "href": ticket["href"],
            "@type": "TroubleTicket",
            "relatedParty": a_full_ticket()["relatedParty"],
        }

    def test_an_unknown_attribute_selects_nothing_beyond_id_href_and_type(
        self, client: TestClient
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())

        response = client.get(url(ticket), params={"fields": "noSuchAttribute"})

        assert response.json() == {
            "id": ticket["id"],
            "href": ticket["href"],
            "@type": "TroubleTicket",
        }


class TestTrailingSlashes:
    def test_the_collection_with_a_trailing_slash_is_listed_directly(
        self, client: TestClient, five_tickets: list[dict[str, Any]]
    ) -> None:
        response = client.get(f"{TICKETS}/", follow_redirects=False)

        assert not response.is_redirect, (response.status_code, response.headers)
        assert response.status_code == 200
        assert response.json() == five_tickets
        assert response.headers["X-Total-Count"] == "5"

    def test_a_ticket_with_a_trailing_slash_is_retrieved_directly(self, client: TestClient) -> None:
        ticket = created(client, TICKETS, a_ticket())

        response = client.get(f"{url(ticket)}/", follow_redirects=False)

        assert not response.is_redirect, (response.status_code, response.headers)
        assert response.status_code == 200
        assert response.json() == ticket


class TestDeletingATicket:
    def test_delete_answers_204_with_an_empty_body(self, client: TestClient) -> None:
        ticket = created(client, TICKETS, a_ticket())

        response = client.delete(url(ticket))

        assert response.status_code == 204
        assert response.content == b""

    def test_a_deleted_ticket_is_gone(self, client: TestClient) -> None:
        ticket = created(client, TICKETS, a_ticket())
        other = created(client, TICKETS, a_ticket(name="Keep me"))

        client.delete(url(ticket))

        assert_tmf_error(client.get(url(ticket)), 404, "notFound", mentions=(ticket["id"],))
        assert client.get(TICKETS).json() == [other]

    def test_deleting_twice_is_not_found_the_second_time(self, client: TestClient) -> None:
        ticket = created(client, TICKETS, a_ticket())
        client.delete(url(ticket))

        response = client.delete(url(ticket))

        assert_tmf_error(response, 404, "notFound", mentions=(ticket["id"],))

    def test_deleting_an_unknown_id_is_not_found(self, client: TestClient) -> None:
        assert_tmf_error(client.delete(f"{TICKETS}/nope"), 404, "notFound", mentions=("nope",))


class TestPatchingATicket:
    @pytest.mark.parametrize("media_type", [MERGE_PATCH, "application/json"])
    def test_a_merge_patch_is_accepted_under_either_json_media_type(
        self, client: TestClient, clock: FrozenClock, media_type: str
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())
        clock.advance(seconds=30)

        response = patch(
            client,
            url(ticket),
            {**TYPE, "severity": "Critical", "name": "Outage"},
            media_type=media_type,
        )

        assert response.status_code == 200, response.text
        expected = {
            **ticket,
            "severity": "Critical",
            "name": "Outage",
            "lastUpdate": "2026-11-20T08:00:30.000Z",
        }
        body = response.json()
        assert without_policy(body) == without_policy(expected)
        # Severity Critical, no urgency: priority High, whose resolve target is 8 h from creation.
        assert body["priority"] == "High"
        assert body["expectedResolutionDate"] == "2026-11-20T16:00:00.000Z"
        assert client.get(url(ticket)).json() == body

    def test_null_removes_an_attribute(self, client: TestClient) -> None:
        ticket = created(client, TICKETS, a_full_ticket())

        response = patch(
            client, url(ticket), {**TYPE, "requestedResolutionDate": None, "channel": None}
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert "requestedResolutionDate" not in body
        assert "channel" not in body
        assert client.get(url(ticket)).json() == body
        assert without_policy(as_sent(body)) == {
            k: v
            for k, v in without_policy(a_full_ticket()).items()
            if k not in ("requestedResolutionDate", "channel")
        }

    def test_a_nested_object_is_merged_member_by_member(self, client: TestClient) -> None:
        ticket = created(client, TICKETS, a_full_ticket())

        response = patch(
            client,
            url(ticket),
            {
                **TYPE,
                "channel": {
                    "@type": "ChannelRef",
                    "name": None,
                    "href": "https://channels.example.com/8774",
                },
            },
        )

        assert response.status_code == 200, response.text
        assert response.json()["channel"] == {
            "@type": "ChannelRef",
            "id": "8774",
            "href": "https://channels.example.com/8774",
        }
        assert client.get(url(ticket)).json()["channel"] == response.json()["channel"]

    def test_an_array_is_replaced_whole(self, client: TestClient) -> None:
        ticket = created(client, TICKETS, a_full_ticket())
        note = {"@type": "Note", "text": "Engineer on site"}

        response = patch(client, url(ticket), {**TYPE, "note": [note]})

        assert response.status_code == 200, response.text
        assert response.json()["note"] == [note]

    def test_a_patch_that_changes_nothing_keeps_last_update(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())
        clock.advance(minutes=5)

        response = patch(client, url(ticket), {**TYPE, "severity": "Minor"})

        assert response.status_code == 200, response.text
        assert response.json() == ticket
        assert client.get(url(ticket)).json() == ticket

    def test_patching_an_unknown_id_is_not_found(self, client: TestClient) -> None:
        response = patch(client, f"{TICKETS}/nope", {**TYPE, "name": "x"})

        assert_tmf_error(response, 404, "notFound", mentions=("nope",))
        assert total(client, TICKETS) == 0

    def test_a_patch_of_another_type_is_refused_and_changes_nothing(
        self, client: TestClient
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())

        response = patch(client, url(ticket), {"@type": "Foo", "name": "x"})

        assert_tmf_error(response, 409, "classChange", mentions=("TroubleTicket", "Foo"))
        assert client.get(url(ticket)).json() == ticket

    def test_a_sub_object_without_its_type_is_refused_and_changes_nothing(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        ticket = created(client, TICKETS, a_full_ticket())
        clock.advance(minutes=1)

        response = patch(client, url(ticket), {**TYPE, "note": [{"text": "x"}]})

        assert_tmf_error(response, 400, "invalidRequest", mentions=("@type", "note"))
        assert client.get(url(ticket)).json() == ticket

    def test_a_patch_leaving_an_invalid_ticket_is_refused_and_changes_nothing(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        ticket = created(client, TICKETS, a_full_ticket())
        clock.advance(minutes=1)

        # Valid as a patch, but the ChannelRef it leaves behind has no id.
        response = patch(
            client, url(ticket), {**TYPE, "channel": {"@type": "ChannelRef", "id": None}}
        )

        assert_tmf_error(response, 400, "invalidRequest", mentions=("channel", "id"))
        assert client.get(url(ticket)).json() == ticket

    @pytest.mark.parametrize(
        "attribute", ["description", "severity", "ticketType", "status", "@type"]
    )
    def test_a_required_attribute_cannot_be_removed(
        self, client: TestClient, attribute: str
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())
        body = {**TYPE, attribute: None} if attribute != "@type" else {"@type": None}

        response = patch(client, url(ticket), body)

        assert_tmf_error(response, 400, "invalidRequest", mentions=(attribute,))
        assert client.get(url(ticket)).json() == ticket


class TestTheLifecycleOverHttp:
    def test_a_ticket_walks_from_acknowledged_to_closed_recording_every_step(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())
        steps = [
            ("inProgress", "Engineer assigned", "2026-11-20T08:01:00.000Z"),
            ("resolved", "Line card replaced", "2026-11-20T08:02:00.000Z"),
            ("closed", "Customer confirmed the fix", "2026-11-20T08:03:00.000Z"),
        ]
        history = [change("acknowledged", NOW)]

        for status, reason, when in steps:
            clock.advance(minutes=1)
            response = patch(
                client, url(ticket), {**TYPE, "status": status, "statusChangeReason": reason}
            )

            assert response.status_code == 200, response.text
            history.append(change(status, when, reason))
            body = response.json()
            assert body["status"] == status
            assert body["statusChangeHistory"] == history
            assert body["statusChangeDate"] == when
            assert body["lastUpdate"] == when
            assert body["statusChangeReason"] == reason
            if status == "resolved":
                assert body["resolutionDate"] == when
            assert client.get(url(ticket)).json() == body

        final = client.get(url(ticket)).json()
        assert final["creationDate"] == NOW
        assert final["resolutionDate"] == "2026-11-20T08:02:00.000Z"
        assert len(final["statusChangeHistory"]) == 4

    def test_an_illegal_transition_is_a_409_naming_both_statuses_and_changes_nothing(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        ticket = in_progress(client)
        clock.advance(minutes=10)

        response = patch(client, url(ticket), {**TYPE, "status": "closed", "name": "Done"})

        body = assert_tmf_error(response, 409, "invalidStatusTransition")
        assert "'inProgress'" in body["message"]
        assert "'closed'" in body["message"]
        after = client.get(url(ticket)).json()
        assert after == ticket
        assert after["status"] == "inProgress"
        assert after["lastUpdate"] == ticket["lastUpdate"]
        assert len(after["statusChangeHistory"]) == 2

    def test_a_final_status_has_no_way_out(self, client: TestClient) -> None:
        ticket = created(client, TICKETS, a_ticket())
        cancelled = patch(
            client, url(ticket), {**TYPE, "status": "cancelled", "statusChangeReason": "Duplicate"}
        )
        assert cancelled.status_code == 200, cancelled.text

        response = patch(client, url(ticket), {**TYPE, "status": "inProgress"})

        assert_tmf_error(
            response, 409, "invalidStatusTransition", mentions=("'cancelled'", "'inProgress'")
        )
        assert client.get(url(ticket)).json() == cancelled.json()

    @pytest.mark.parametrize("status", ["cancelled", "rejected"])
    @pytest.mark.parametrize("reason", [None, "", "   "], ids=["missing", "empty", "blank"])
    def test_cancelling_or_rejecting_without_a_reason_is_refused_and_changes_nothing(
        self, client: TestClient, clock: FrozenClock, status: str, reason: str | None
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())
        clock.advance(minutes=1)
        body = {**TYPE, "status": status}
        if reason is not None:
            body["statusChangeReason"] = reason

        response = patch(client, url(ticket), body)

        assert_tmf_error(
            response, 400, "statusChangeReasonRequired", mentions=(status, "statusChangeReason")
        )
        assert client.get(url(ticket)).json() == ticket

    @pytest.mark.parametrize("status", ["cancelled", "rejected"])
    def test_cancelling_or_rejecting_with_a_reason_records_it(
        self, client: TestClient, clock: FrozenClock, status: str
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())
        clock.advance(minutes=1)

        response = patch(
            client,
            url(ticket),
            {**TYPE, "status": status, "statusChangeReason": "Duplicate of TT-1"},
        )

        assert response.status_code == 200, response.text
        assert response.json()["statusChangeHistory"] == [
            change("acknowledged", NOW),
            change(status, "2026-11-20T08:01:00.000Z", "Duplicate of TT-1"),
        ]

    def test_reopening_a_resolved_ticket_clears_its_resolution_date(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        ticket = in_progress(client)
        resolved = patch(client, url(ticket), {**TYPE, "status": "resolved"})
        assert resolved.json()["resolutionDate"] == NOW
        clock.advance(minutes=1)

        response = patch(
            client,
            url(ticket),
            {**TYPE, "status": "inProgress", "statusChangeReason": "Still down"},
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert "resolutionDate" not in body
        assert [entry["status"] for entry in body["statusChangeHistory"]] == [
            "acknowledged",
            "inProgress",
            "resolved",
            "inProgress",
        ]

    def test_creating_in_progress_records_acknowledged_then_in_progress(
        self, client: TestClient
    ) -> None:
        response = client.post(
            TICKETS, json=a_ticket(status="inProgress", statusChangeReason="Triaged at intake")
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "inProgress"
        assert body["statusChangeHistory"] == [
            change("acknowledged", NOW),
            change("inProgress", NOW, "Triaged at intake"),
        ]
        assert client.get(url(body)).json() == body

    def test_a_ticket_solved_at_first_contact_is_created_closed_through_the_work(
        self, client: TestClient
    ) -> None:
        ticket = created(client, TICKETS, a_ticket(status="closed"))

        assert ticket["status"] == "closed"
        assert ticket["resolutionDate"] == NOW
        assert ticket["statusChangeHistory"] == [
            change(status, NOW) for status in ("acknowledged", "inProgress", "resolved", "closed")
        ]
        # every SLA clock stops at once, met
        assert {clock["state"] for clock in ticket["slaClock"]} == {"met"}

    def test_creating_cancelled_without_a_reason_is_refused_and_stores_nothing(
        self, client: TestClient
    ) -> None:
        response = client.post(TICKETS, json=a_ticket(status="cancelled"))

        assert_tmf_error(response, 400, "statusChangeReasonRequired", mentions=("cancelled",))
        assert total(client, TICKETS) == 0

    def test_an_unknown_status_is_refused(self, client: TestClient) -> None:
        response = client.post(TICKETS, json=a_ticket(status="sleeping"))

        assert_tmf_error(response, 400, "invalidRequest", mentions=("sleeping", "status"))
        assert total(client, TICKETS) == 0


SERVER_OWNED_ON_CREATE = {
    "id": "my-own-id",
    "href": "https://elsewhere.example/troubleTicket/1",
    "creationDate": "2020-01-01T00:00:00.000Z",
    "lastUpdate": "2020-01-01T00:00:00.000Z",
    "statusChangeDate": "2020-01-01T00:00:00.000Z",
    "statusChangeHistory": [change("acknowledged", "2020-01-01T00:00:00.000Z")],
}
# TroubleTicket_FVO has these; the server's values replace the client's.
ASSIGNED_ON_CREATE = ("href", "id", "statusChangeDate")
# TroubleTicket_MVO has these; the server keeps its own.
KEPT_ON_PATCH = ("href", "statusChangeHistory")


class TestServerOwnedAttributes:
    @pytest.mark.parametrize(
        "attribute", sorted(set(SERVER_OWNED_ON_CREATE) - set(ASSIGNED_ON_CREATE))
    )
    def test_a_create_request_setting_one_outside_the_create_view_is_refused(
        self, client: TestClient, attribute: str
    ) -> None:
        body = a_ticket(**{attribute: SERVER_OWNED_ON_CREATE[attribute]})

        response = client.post(TICKETS, json=body)

        assert_tmf_error(response, 400, "serverOwnedField", mentions=(attribute,))
        assert total(client, TICKETS) == 0

    def test_those_of_the_create_view_are_accepted_and_replaced_by_the_servers(
        self, client: TestClient
    ) -> None:
        sent = {name: SERVER_OWNED_ON_CREATE[name] for name in ASSIGNED_ON_CREATE}

        ticket = created(client, TICKETS, a_ticket(**sent))

        assert ticket["id"] != sent["id"]
        assert ticket["href"] == f"{TICKET_HREF}/{ticket['id']}"
        assert ticket["statusChangeDate"] == NOW
        assert client.get(url(ticket)).json() == ticket

    @pytest.mark.parametrize(
        "attribute",
        sorted(set(SERVER_OWNED_ON_CREATE) - set(KEPT_ON_PATCH) - {"id"}),
    )
    def test_a_patch_changing_one_outside_the_patch_view_is_refused(
        self, client: TestClient, clock: FrozenClock, attribute: str
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())
        clock.advance(minutes=1)

        response = patch(
            client, url(ticket), {**TYPE, "name": "x", attribute: SERVER_OWNED_ON_CREATE[attribute]}
        )

        assert_tmf_error(response, 400, "serverOwnedField", mentions=(attribute,))
        assert client.get(url(ticket)).json() == ticket

    def test_those_the_server_keeps_are_ignored_by_a_patch(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())
        clock.advance(minutes=1)
        kept = {name: SERVER_OWNED_ON_CREATE[name] for name in KEPT_ON_PATCH}

        response = patch(client, url(ticket), {**TYPE, "name": "Renamed", **kept})

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["name"] == "Renamed"
        assert {name: body[name] for name in KEPT_ON_PATCH} == {
            name: ticket[name] for name in KEPT_ON_PATCH
        }

    def test_a_patch_changing_the_id_is_a_conflict_and_changes_nothing(
        self, client: TestClient
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())

        response = patch(client, url(ticket), {**TYPE, "id": "another"})

        assert_tmf_error(response, 409, "identityChange", mentions=("id",))
        assert client.get(url(ticket)).json() == ticket

    def test_a_patch_echoing_their_current_values_is_accepted(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())
        clock.advance(minutes=1)
        # Those of the lifecycle, and those of the service policy, as a client read them.
        echoed = {
            key: ticket[key]
            for key in (*SERVER_OWNED_ON_CREATE, *POLICY_ATTRIBUTES)
            if key in ticket
        }
        assert {"priority", "priorityHistory", "slaClock", "escalationLevel"} <= echoed.keys()

        response = patch(client, url(ticket), {**TYPE, **echoed, "name": "Renamed"})

        assert response.status_code == 200, response.text
        # The policy's attributes stay the server's: the same priority, history and level, and
        # the clocks accounted up to the patch.
        assert response.json() == {
            **ticket,
            "name": "Renamed",
            "lastUpdate": "2026-11-20T08:01:00.000Z",
            "slaClock": [
                {**running, "asOf": "2026-11-20T08:01:00.000Z", "elapsedSeconds": 60.0}
                for running in ticket["slaClock"]
            ],
        }


class TestThePublicBaseUrl:
    def test_href_and_location_follow_the_configured_base_url(
        self, client: TestClient, settings: Settings, clock: FrozenClock, store: Store
    ) -> None:
        ticket = created(client, TICKETS, a_ticket())
        other = create_app(
            Settings(store=settings.store, base_url="https://other.example/x"),
            store=store,
            clock=clock,
        )

        with other.test_client() as other_client:
            retrieved = other_client.get(url(ticket)).json()
            listed = other_client.get(TICKETS).json()
            response = other_client.post(TICKETS, json=a_ticket())

        href = f"https://other.example/x{API}/troubleTicket/{ticket['id']}"
        assert retrieved == {**ticket, "href": href}
        assert listed == [retrieved]
        new_href = f"https://other.example/x{API}/troubleTicket/{response.json()['id']}"
        assert response.json()["href"] == new_href
        assert response.headers["Location"] == new_href
