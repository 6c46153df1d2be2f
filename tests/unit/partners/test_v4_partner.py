"""A partner that speaks TMF621 v4 (``api: v4``): the same reports, in the v4 form.

The fake partner here is a v4 one (``running(api="v4")``): its root is ``…/troubleTicket/v4``,
it finds tickets by ``externalId`` and takes ``TroubleTicket_Update`` bodies. Each test looks at
what the partner was sent, in the v4 form, and at our activity's report, in the v5 form.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LOCAL_NETWORKS
from tests.unit.partners.conftest import (
    BASE_URL,
    PARTNER_PARTY,
    SECRET,
    TICKET,
    Operator,
    a_note,
    opened,
    partners_file,
)
from tests.unit.partners.partner_server import FakePartner, running
from troubleticket.admin.config_check import PROBLEM, check_config
from troubleticket.bootstrap import runtime
from troubleticket.config import ConfigError, Settings
from troubleticket.domain import partner_report, v4
from troubleticket.domain.partner_report import CANCEL, CLOSE, CREATE, NOTE, POLL
from troubleticket.domain.partners import PartnersError, parse_partners
from troubleticket.domain.signing import headers as signed
from troubleticket.notify.delivery import Outcome
from troubleticket.partners.dialect import V4, V5, dialect_of
from troubleticket.store.port import Collection, Store

SEARCH = "GET /troubleTicket?externalId=tt-1%2Fra-1&limit=1"
POLLED = 30.0
JSON_BODY = "application/json"
V4_LISTENERS = f"{BASE_URL}/tmf-api/troubleTicket/v4/listener"


@pytest.fixture
def partner() -> Iterator[FakePartner]:
    """FibreCo speaking TMF621 v4 (overrides the v5 partner of conftest)."""
    with running(api="v4") as fake:
        yield fake


@pytest.fixture
def operator(operator_with: Callable[..., Operator]) -> Operator:
    """Our side with FibreCo registered as a v4 partner: subscribed, its events signed."""
    return operator_with(api="v4")


@pytest.fixture
def polling(operator_with: Callable[..., Operator]) -> Operator:
    """Our side with the v4 FibreCo sending no events: its reports are polled when due."""
    return operator_with(api="v4", events={"subscribe": False})


def patches(operator: Operator) -> list[Any]:
    return [s for s in operator.partner.seen if s.method == "PATCH"]


class TestCreate:
    def test_the_partner_gets_a_v4_ticket_found_by_external_id_and_the_report_opens(
        self, operator: Operator
    ) -> None:
        assert dialect_of(operator.run.partners.partners["fibreco"]) is V4
        report = operator.report(description="The splitter at the cabinet is broken")

        assert operator.perform(CREATE, report) == Outcome(201)

        assert operator.partner.requests() == [SEARCH, "POST /troubleTicket"]
        created = operator.partner.seen[1].body
        assert created == {
            "@type": "TroubleTicket",
            "name": "Replace the splitter",
            "description": "The splitter at the cabinet is broken",
            "severity": "Major",
            "ticketType": "incident",
            "externalId": "tt-1/ra-1",
            "relatedParty": [
                {"id": "org-operator", "role": "originator", "@referredType": "Party"}
            ],
        }
        activity = operator.activity(report)
        found = activity["partnerReport"]
        assert found["state"] == partner_report.OPEN
        theirs = f"{operator.partner.base_url}/troubleTicket/FC-1"
        assert found["partnerTicket"] == {
            "@type": "TroubleTicketRef",
            "id": "FC-1",
            "href": theirs,  # the partner's own v4 link, as it gave it
            "status": "acknowledged",
        }
        (entity,) = activity["relatedEntity"]
        assert (entity["role"], entity["entity"]["id"], entity["entity"]["href"]) == (
            "partnerTroubleTicket",
            "FC-1",
            theirs,
        )
        (identifier,) = activity["externalIdentifier"]
        assert (identifier["owner"], identifier["id"]) == ("fibreco", "FC-1")

    def test_a_ticket_made_before_its_answer_was_lost_is_adopted_not_made_twice(
        self, operator: Operator
    ) -> None:
        report = operator.report()
        operator.partner.lose_answer("POST /troubleTicket")

        lost = operator.perform(CREATE, report)
        assert lost.status == 504 and not lost.delivered
        assert operator.state(report) == partner_report.REQUESTED
        operator.partner.clear()

        assert operator.perform(CREATE, report) == Outcome(200)

        assert operator.partner.requests() == [SEARCH]  # found by externalId: nothing made
        assert list(operator.partner.tickets) == ["FC-1"]
        assert operator.state(report) == partner_report.OPEN
        assert operator.activity(report)["partnerReport"]["partnerTicket"]["id"] == "FC-1"

    def test_the_service_the_planned_end_and_the_notes_go_in_the_v4_form(
        self, operator: Operator
    ) -> None:
        service = {
            "@type": "RelatedEntity",
            "role": "affectedService",
            "entity": {"@type": "EntityRef", "id": "dsl-4711", "@referredType": "Service"},
        }
        report = operator.report(
            {**TICKET, "relatedEntity": [service]},
            plannedStartDate="2026-11-20T09:00:00.000Z",
            plannedEndDate="2026-11-20T17:00:00.000Z",
            note=[a_note("Ring the bell twice", forChildren=False)],
        )

        assert operator.perform(CREATE, report) == Outcome(201)

        theirs = operator.partner.tickets["FC-1"]
        assert theirs["relatedEntity"] == [
            {"id": "dsl-4711", "@referredType": "Service", "role": "affectedService"}
        ]
        assert theirs["requestedResolutionDate"] == "2026-11-20T17:00:00.000Z"
        assert theirs["note"] == [
            {
                "@type": "Note",
                "author": "desk",
                "date": "2026-11-20T08:30:00Z",
                "text": "Ring the bell twice",
            }
        ]
        # the notes sent with the report are known as sent: not forwarded again
        assert operator.activity(report)["partnerReport"]["syncedNotes"] != []

    def test_a_refused_create_fails_the_attempt_and_the_report_waits_for_the_next(
        self, operator: Operator
    ) -> None:
        report = operator.report()
        operator.partner.fail("POST /troubleTicket", 400)

        refused = operator.perform(CREATE, report)

        assert refused.status == 400
        assert operator.state(report) == partner_report.REQUESTED
        assert operator.perform(CREATE, report) == Outcome(201)


class TestCancel:
    def test_a_cancelled_activity_cancels_the_partner_ticket_by_a_v4_update(
        self, operator: Operator
    ) -> None:
        report = opened(operator)
        operator.change(report, state="cancelled", stateChangeReason="Fixed it ourselves")

        assert operator.perform(CANCEL, report) == Outcome(200)

        (patch,) = operator.partner.seen
        assert str(patch) == "PATCH /troubleTicket/FC-1"
        assert patch.headers["content-type"] == JSON_BODY
        assert patch.body == {"status": "cancelled", "statusChangeReason": "Fixed it ourselves"}
        assert operator.partner.tickets["FC-1"]["status"] == "cancelled"
        assert operator.state(report) == partner_report.CANCELLED

    def test_a_cancel_the_partner_refuses_ends_the_report_as_their_ticket_is(
        self, operator: Operator
    ) -> None:
        report = opened(operator)
        operator.partner.work("FC-1", status="resolved")
        operator.change(report, state="cancelled", stateChangeReason="Fixed it ourselves")

        assert operator.perform(CANCEL, report) == Outcome(200)

        assert operator.partner.requests() == [
            "PATCH /troubleTicket/FC-1",  # refused: 409
            "GET /troubleTicket/FC-1",
        ]
        found = operator.activity(report)["partnerReport"]
        assert (found["state"], found["partnerTicket"]["status"]) == ("failed", "resolved")


class TestClose:
    def test_closing_our_ticket_closes_the_partner_ticket_it_resolved(
        self, polling: Operator
    ) -> None:
        report = opened(polling)
        polling.partner.work("FC-1", status="resolved", statusChangeReason="New splitter")
        assert polling.perform(POLL, report) == Outcome(200, again_after=POLLED)
        polling.change_ticket(report, status="resolved")
        polling.change_ticket(report, status="closed")
        polling.partner.clear()

        assert polling.perform(CLOSE, report) == Outcome(200)

        patch, read = polling.partner.seen
        assert (str(patch), str(read)) == ("PATCH /troubleTicket/FC-1", "GET /troubleTicket/FC-1")
        assert patch.headers["content-type"] == JSON_BODY
        assert patch.body == {"status": "closed", "statusChangeReason": "Resolution accepted"}
        found = polling.activity(report)["partnerReport"]
        assert (found["state"], found["partnerTicket"]["status"]) == ("closed", "closed")


class TestNotes:
    def test_our_notes_are_added_to_the_partners_by_replacing_the_whole_array(
        self, operator: Operator
    ) -> None:
        report = opened(operator)
        theirs = {"author": "FibreCo NOC", "date": "2026-11-20T08:10:00Z", "text": "On it"}
        operator.partner.work("FC-1", note=[theirs])
        first = a_note("Ring the bell twice", forChildren=False)
        second = a_note("The key is at no. 3", minute=40)

        operator.change(report, note=[first])
        assert operator.perform(NOTE, report) == Outcome(200)
        operator.change(report, note=[first, second])
        assert operator.perform(NOTE, report) == Outcome(200)

        assert operator.partner.requests() == [
            "GET /troubleTicket/FC-1",
            "PATCH /troubleTicket/FC-1",
            "GET /troubleTicket/FC-1",
            "PATCH /troubleTicket/FC-1",
        ]
        one, two = patches(operator)
        assert [p.headers["content-type"] for p in (one, two)] == [JSON_BODY] * 2
        # the version read is the one changed: a note of theirs added meanwhile is not lost
        assert [p.headers["if-match"] for p in (one, two)] == ['"FC-1-2"', '"FC-1-3"']
        first_v4 = {k: v for k, v in first.items() if k != "forChildren"}
        assert one.body == {"note": [theirs, first_v4]}
        assert two.body == {"note": [theirs, first_v4, second]}
        assert operator.partner.tickets["FC-1"]["note"] == [theirs, first_v4, second]

    def test_a_retry_after_a_lost_answer_adds_nothing_twice(self, operator: Operator) -> None:
        report = opened(operator)
        note = a_note("Ring the bell twice")
        operator.change(report, note=[note])
        operator.partner.lose_answer("PATCH /troubleTicket/FC-1")

        lost = operator.perform(NOTE, report)
        assert (lost.status, lost.error) == (504, "adding notes answered 504")
        operator.partner.clear()

        assert operator.perform(NOTE, report) == Outcome(200)

        assert operator.partner.requests() == ["GET /troubleTicket/FC-1"]  # it has the note
        assert operator.partner.tickets["FC-1"]["note"] == [note]

    def test_a_ticket_changed_between_the_read_and_the_update_fails_the_attempt(
        self, operator: Operator
    ) -> None:
        report = opened(operator)
        operator.change(report, note=[a_note("Ring the bell twice")])
        operator.partner.fail("PATCH /troubleTicket/FC-1", 412)

        failed = operator.perform(NOTE, report)

        assert (failed.status, failed.error) == (412, "adding notes answered 412")
        assert operator.perform(NOTE, report) == Outcome(200)  # read again, then written


class TestPoll:
    def test_the_v4_ticket_is_mirrored_in_the_v5_form_and_polled_with_its_tag(
        self, polling: Operator
    ) -> None:
        report = opened(polling)
        theirs = {"author": "FibreCo NOC", "date": "2026-11-20T08:50:00Z", "text": "On site"}
        polling.partner.work("FC-1", status="inProgress", note=[theirs])

        assert polling.perform(POLL, report) == Outcome(200, again_after=POLLED)
        assert polling.perform(POLL, report) == Outcome(304, again_after=POLLED)

        first, second = polling.partner.seen
        assert "if-none-match" not in first.headers
        assert second.headers["if-none-match"] == '"FC-1-2"'
        activity = polling.activity(report)
        assert activity["state"] == "inProgress"
        assert activity["partnerReport"]["partnerTicket"]["status"] == "inProgress"
        assert activity["partnerReport"]["etag"] == '"FC-1-2"'
        assert activity["note"] == [{"@type": "Note", **theirs}]

    def test_a_question_of_the_partner_raises_a_jeopardy_alert(self, polling: Operator) -> None:
        report = opened(polling)
        polling.partner.work("FC-1", status="pending", statusChangeReason="Which ONT serial?")

        polling.perform(POLL, report)

        (alert,) = polling.ticket(report)["troubleTicketJeopardyAlert"]
        assert alert["message"] == "FibreCo asks: Which ONT serial?"


class TestEvents:
    def test_a_signed_v4_event_is_mirrored_once_converted(self, operator: Operator) -> None:
        """What the v4 listener does: the event converted, the signature over the v4 bytes."""
        report = opened(operator)
        event = {
            "eventId": "fc-1-resolved",
            "eventType": "TroubleTicketStatusChangeEvent",
            "eventTime": "2026-11-20T09:00:00Z",
            "timeOcurred": "2026-11-20T09:00:00Z",
            "event": {
                "troubleTicket": {
                    "id": "FC-1",
                    "href": f"{operator.partner.base_url}/troubleTicket/FC-1",
                    "status": "resolved",
                    "statusChangeReason": "New splitter",
                    "statusChange": [{"status": "resolved", "changeDate": "2026-11-20T09:00:00Z"}],
                }
            },
        }
        raw = json.dumps(event).encode()
        stamp = int(operator.clock().timestamp())
        headers = {"content-type": JSON_BODY, **signed(SECRET, "m-1", stamp, raw)}
        assert operator.run.inbox is not None

        assert operator.run.listeners.receive(
            "TroubleTicketStatusChangeEvent", v4.event_v5(event), raw=raw, headers=headers
        )

        activity = operator.activity(report)
        assert activity["state"] == "completed"
        assert activity["stateChangeReason"] == "Resolved by FibreCo: New splitter"


class TestLinks:
    def test_one_hub_per_event_type_points_at_our_v4_listeners(self, operator: Operator) -> None:
        assert operator.run.links is not None

        assert operator.run.links.run_once() == 1

        assert operator.partner.requests() == ["POST /hub", "POST /hub"]
        assert [s.body for s in operator.partner.seen] == [
            {
                "callback": f"{V4_LISTENERS}/troubleTicketStatusChangeEvent",
                "query": "eventType=TroubleTicketStatusChangeEvent",
                "secret": SECRET,
            },
            {
                "callback": f"{V4_LISTENERS}/troubleTicketAttributeValueChangeEvent",
                "query": "eventType=TroubleTicketAttributeValueChangeEvent",
                "secret": SECRET,
            },
        ]
        kept = operator.store.get(Collection.PARTNER, "fibreco")
        assert kept is not None
        assert [(h["id"], h["callback"]) for h in kept.doc["hub"]] == [
            ("hub-1", f"{V4_LISTENERS}/troubleTicketStatusChangeEvent"),
            ("hub-2", f"{V4_LISTENERS}/troubleTicketAttributeValueChangeEvent"),
        ]

    def test_a_partner_given_no_secret_is_given_none(
        self, operator_with: Callable[..., Operator]
    ) -> None:
        operator = operator_with(api="v4", events={"subscribe": True})
        assert operator.run.links is not None

        operator.run.links.run_once()

        assert all("secret" not in s.body for s in operator.partner.seen)


def registry(**fibreco: Any) -> dict[str, Any]:
    spec = {
        "baseUrl": "https://fibreco.example/tmf-api/troubleTicket/v4",
        "party": PARTNER_PARTY,
        **fibreco,
    }
    return {"partners": {"fibreco": spec}}


class TestRegistry:
    def test_a_partner_speaks_v5_unless_marked_v4(self) -> None:
        assert parse_partners(registry()).partners["fibreco"].api == "v5"
        assert parse_partners(registry(api="v5")).partners["fibreco"].api == "v5"
        marked = parse_partners(registry(api="v4")).partners["fibreco"]
        assert marked.api == "v4"
        assert dialect_of(marked) is V4
        assert dialect_of(parse_partners(registry()).partners["fibreco"]) is V5

    @pytest.mark.parametrize("value", ["v3", "V4", 4, None, ""])
    def test_another_version_is_refused_naming_the_key(self, value: Any) -> None:
        with pytest.raises(PartnersError) as refused:
            parse_partners(registry(api=value))

        (problem,) = refused.value.problems
        assert problem.startswith("partners.fibreco.api: ")
        assert "(v5 or v4)" in problem

    def test_a_v4_partner_appending_the_listener_path_is_refused(self) -> None:
        events = {"subscribe": True, "appendEventListenerPath": True}

        with pytest.raises(PartnersError) as refused:
            parse_partners(registry(api="v4", events=events))

        (problem,) = refused.value.problems
        assert problem.startswith("partners.fibreco.events.appendEventListenerPath: ")
        assert "TMF621 v4 hubs have no appendEventListenerPath" in problem
        not_appending = {"subscribe": True, "appendEventListenerPath": False}
        assert parse_partners(registry(api="v4", events=not_appending)).partners["fibreco"]


class TestStart:
    def settings(self, tmp_path: Path, partner: FakePartner, **fibreco: Any) -> Settings:
        return Settings(
            store="unused",
            base_url=BASE_URL,
            dispatch="off",
            partners=str(partners_file(tmp_path, partner, **fibreco)),
            egress_allow=LOCAL_NETWORKS,
            v4=False,
        )

    def test_a_v4_partner_sending_events_stops_the_start_with_the_v4_root_off(
        self, store: Store, tmp_path: Path, partner: FakePartner
    ) -> None:
        settings = self.settings(tmp_path, partner, api="v4")

        with pytest.raises(ConfigError) as refused:
            runtime(settings, store, environ={"FIBRECO_HUB_SECRET": SECRET})

        message = str(refused.value)
        assert "partners.fibreco: speaks TMF621 v4" in message
        assert "TT_V4" in message

    def test_a_v4_partner_polled_needs_no_v4_root(
        self, store: Store, tmp_path: Path, partner: FakePartner
    ) -> None:
        settings = self.settings(tmp_path, partner, api="v4", events={"subscribe": False})

        run = runtime(settings, store, environ={})

        assert run.partners.partners["fibreco"].api == "v4"

    def test_the_config_check_names_the_partner(self, tmp_path: Path, partner: FakePartner) -> None:
        path = partners_file(tmp_path, partner, api="v4")
        environ = {
            "TT_PARTNERS": str(path),
            "TT_V4": "off",
            "TT_EGRESS_ALLOW": "127.0.0.0/8",
            "FIBRECO_HUB_SECRET": SECRET,
        }

        findings = check_config({}, environ)

        (problem,) = [f for f in findings if f.section == "partners"]
        assert problem.outcome == PROBLEM
        assert "partners.fibreco: speaks TMF621 v4" in problem.text
