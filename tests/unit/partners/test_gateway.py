"""PartnerGateway: the requests our ticket changes make to a partner, carried out in process.

Each test makes a partner repair (its report ``requested``), has the gateway carry out the
requests the changes recorded, and looks at both sides: the partner's tickets and what it was
sent, and our activity's report.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from tests.unit.partners.conftest import OPERATOR_PARTY, TICKET, Operator, Report, a_note, opened
from troubleticket.context import NO_CONTEXT
from troubleticket.domain import partner_report
from troubleticket.domain.partner_report import CANCEL, CLOSE, CREATE, NOTE, POLL
from troubleticket.notify.delivery import Outcome

SEARCH = "GET /troubleTicket?externalIdentifier.id=tt-1%2Fra-1&limit=1"
POLLED = 30.0  # the registry's poll interval: a poll is due again this much later


def cancelled(operator: Operator, report: Report) -> None:
    operator.change(report, state="cancelled", stateChangeReason="Fixed it ourselves")


@pytest.fixture
def polling(operator_with: Callable[..., Operator]) -> Operator:
    """Our side with FibreCo sending no events: its reports are polled whenever due."""
    return operator_with(events={"subscribe": False})


class TestCreate:
    def test_the_partner_gets_a_ticket_naming_our_report_and_the_report_opens(
        self, operator: Operator
    ) -> None:
        report = operator.report(description="The splitter at the cabinet is broken")

        assert operator.perform(CREATE, report) == Outcome(201)

        assert operator.partner.requests() == [SEARCH, "POST /troubleTicket"]
        theirs = operator.partner.tickets["FC-1"]
        assert theirs["externalIdentifier"] == [
            {
                "@type": "ExternalIdentifier",
                "owner": "operator-1",
                "externalIdentifierType": "troubleTicket",
                "id": "tt-1/ra-1",
            }
        ]
        assert theirs["relatedParty"] == [
            {"@type": "RelatedPartyRefOrPartyRoleRef", **OPERATOR_PARTY}
        ]
        assert theirs["name"] == "Replace the splitter"
        assert theirs["description"] == "The splitter at the cabinet is broken"
        assert (theirs["severity"], theirs["ticketType"]) == ("Major", "incident")
        activity = operator.activity(report)
        assert activity["partnerReport"]["state"] == partner_report.OPEN
        assert activity["partnerReport"]["partnerTicket"]["id"] == "FC-1"
        assert activity["partnerReport"]["partnerTicket"]["status"] == "acknowledged"
        (entity,) = activity["relatedEntity"]
        assert (entity["role"], entity["entity"]["id"]) == ("partnerTroubleTicket", "FC-1")
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

        assert operator.partner.requests() == [SEARCH]  # found: nothing made
        assert list(operator.partner.tickets) == ["FC-1"]
        assert operator.state(report) == partner_report.OPEN
        assert operator.activity(report)["partnerReport"]["partnerTicket"]["id"] == "FC-1"

    def test_a_report_made_before_or_cancelled_before_is_not_made_again(
        self, operator: Operator
    ) -> None:
        made = opened(operator)
        withdrawn = operator.report()
        cancelled(operator, withdrawn)

        assert operator.perform(CREATE, made) == Outcome(200)
        assert operator.perform(CREATE, withdrawn) == Outcome(200)

        assert operator.partner.requests() == []
        assert list(operator.partner.tickets) == ["FC-1"]

    def test_a_refused_create_fails_the_attempt_and_the_report_waits_for_the_next(
        self, operator: Operator
    ) -> None:
        report = operator.report()
        operator.partner.fail("POST /troubleTicket", 422)

        refused = operator.perform(CREATE, report)

        assert refused.status == 422
        assert refused.error is not None and "POST /troubleTicket answered 422" in refused.error
        assert operator.state(report) == partner_report.REQUESTED
        assert operator.partner.tickets == {}
        assert operator.perform(CREATE, report) == Outcome(201)

    def test_the_affected_service_and_the_planned_end_go_with_the_report(
        self, operator: Operator
    ) -> None:
        service = {
            "@type": "RelatedEntity",
            "role": "affectedService",
            "entity": {"@type": "EntityRef", "id": "dsl-4711", "@referredType": "Service"},
        }
        site = {
            "@type": "RelatedEntity",
            "role": "site",
            "entity": {"@type": "EntityRef", "id": "cab-12", "@referredType": "GeographicSite"},
        }
        report = operator.report(
            {**TICKET, "relatedEntity": [site, service]},
            plannedStartDate="2026-11-20T09:00:00.000Z",
            plannedEndDate="2026-11-20T17:00:00.000Z",
        )

        operator.perform(CREATE, report)

        theirs = operator.partner.tickets["FC-1"]
        assert theirs["relatedEntity"] == [service]  # the service, not our site
        assert theirs["requestedResolutionDate"] == "2026-11-20T17:00:00.000Z"

    def test_the_notes_of_the_activity_go_with_the_report(self, operator: Operator) -> None:
        report = operator.report(note=[a_note("Ring the bell twice")])

        operator.perform(CREATE, report)

        assert operator.partner.tickets["FC-1"]["note"] == [a_note("Ring the bell twice")]

    def test_the_request_of_a_deleted_ticket_is_done_with(self, operator: Operator) -> None:
        report = operator.report()
        operator.run.tickets.delete(report.ticket_id, context=NO_CONTEXT)

        assert operator.perform(CREATE, report) == Outcome(200)
        assert operator.partner.requests() == []

    def test_a_request_to_a_partner_not_configured_fails(self, operator: Operator) -> None:
        report = operator.report()
        (event,) = operator.requests(CREATE, report)
        elsewhere = copy.deepcopy(event)
        elsewhere["body"]["event"]["partner"] = "nobody"

        outcome = operator.gateway({}, elsewhere)

        assert outcome == Outcome(None, "partner 'nobody' is not configured")
        assert operator.partner.requests() == []


class TestCancel:
    def test_a_cancelled_activity_cancels_the_partner_ticket_giving_our_reason(
        self, operator: Operator
    ) -> None:
        report = opened(operator)
        cancelled(operator, report)
        assert operator.state(report) == partner_report.CANCEL_REQUESTED

        assert operator.perform(CANCEL, report) == Outcome(200)

        (patch,) = operator.partner.seen
        assert str(patch) == "PATCH /troubleTicket/FC-1"
        assert patch.headers["content-type"] == "application/merge-patch+json"
        assert patch.body == {
            "@type": "TroubleTicket",
            "status": "cancelled",
            "statusChangeReason": "Fixed it ourselves",
        }
        assert operator.partner.tickets["FC-1"]["status"] == "cancelled"
        assert operator.state(report) == partner_report.CANCELLED

    def test_a_report_not_made_yet_is_cancelled_without_asking_the_partner(
        self, operator: Operator
    ) -> None:
        report = operator.report()
        cancelled(operator, report)

        assert operator.perform(CANCEL, report) == Outcome(200)

        assert operator.partner.requests() == []
        assert operator.state(report) == partner_report.CANCELLED

    @pytest.mark.parametrize(
        ("theirs", "ends"),
        [
            ("resolved", partner_report.FAILED),
            ("closed", partner_report.CLOSED),
            ("cancelled", partner_report.CANCELLED),
        ],
    )
    def test_a_cancel_the_partner_refuses_ends_the_report_as_their_ticket_is(
        self, operator: Operator, theirs: str, ends: str
    ) -> None:
        report = opened(operator)
        operator.partner.work("FC-1", status=theirs)
        cancelled(operator, report)

        assert operator.perform(CANCEL, report) == Outcome(200)

        assert operator.partner.requests() == [
            "PATCH /troubleTicket/FC-1",  # refused: 409
            "GET /troubleTicket/FC-1",
        ]
        found = operator.activity(report)["partnerReport"]
        assert (found["state"], found["partnerTicket"]["status"]) == (ends, theirs)

    def test_a_cancel_that_fails_is_asked_again_on_the_next_attempt(
        self, operator: Operator
    ) -> None:
        report = opened(operator)
        cancelled(operator, report)
        operator.partner.fail("PATCH /troubleTicket/FC-1", 503)

        failed = operator.perform(CANCEL, report)

        assert (failed.status, failed.error) == (503, "cancelling answered 503")
        assert operator.state(report) == partner_report.CANCEL_REQUESTED
        assert operator.perform(CANCEL, report) == Outcome(200)
        assert operator.state(report) == partner_report.CANCELLED


class TestClose:
    def test_closing_our_ticket_closes_the_partner_ticket_it_resolved(
        self, polling: Operator
    ) -> None:
        report = opened(polling)
        polling.partner.work("FC-1", status="resolved", statusChangeReason="New splitter")
        assert polling.perform(POLL, report) == Outcome(200, again_after=POLLED)
        polling.change_ticket(report, status="resolved")
        polling.change_ticket(report, status="closed")
        assert polling.state(report) == partner_report.CLOSE_REQUESTED
        polling.partner.clear()

        assert polling.perform(CLOSE, report) == Outcome(200)

        patch, read = polling.partner.seen
        assert (str(patch), str(read)) == ("PATCH /troubleTicket/FC-1", "GET /troubleTicket/FC-1")
        assert patch.body == {
            "@type": "TroubleTicket",
            "status": "closed",
            "statusChangeReason": "Resolution accepted",
        }
        assert polling.partner.tickets["FC-1"]["status"] == "closed"
        found = polling.activity(report)["partnerReport"]
        assert (found["state"], found["partnerTicket"]["status"]) == ("closed", "closed")

    def test_a_close_that_fails_is_asked_again_on_the_next_attempt(self, polling: Operator) -> None:
        report = opened(polling)
        polling.partner.work("FC-1", status="resolved")
        polling.perform(POLL, report)
        polling.change_ticket(report, status="resolved")
        polling.change_ticket(report, status="closed")
        polling.partner.fail("PATCH /troubleTicket/FC-1", 500)

        failed = polling.perform(CLOSE, report)

        assert (failed.status, failed.error) == (500, "closing answered 500")
        assert polling.state(report) == partner_report.CLOSE_REQUESTED


class TestNotes:
    def test_our_notes_on_an_open_report_are_added_to_the_partner_ticket(
        self, operator: Operator
    ) -> None:
        report = opened(operator)
        first, second = a_note("Ring the bell twice"), a_note("The key is at no. 3", minute=40)

        operator.change(report, note=[first])
        assert operator.perform(NOTE, report) == Outcome(200)
        operator.change(report, note=[first, second])
        assert operator.perform(NOTE, report) == Outcome(200)

        patches = [s for s in operator.partner.seen if s.method == "PATCH"]
        assert [p.headers["content-type"] for p in patches] == ["application/json-patch+json"] * 2
        assert [p.body for p in patches] == [
            [{"op": "add", "path": "/note", "value": [first]}],  # the partner ticket had none
            [{"op": "add", "path": "/note/-", "value": second}],
        ]
        assert operator.partner.tickets["FC-1"]["note"] == [first, second]

    def test_the_notes_sent_with_the_report_are_not_sent_again(self, operator: Operator) -> None:
        sent = a_note("Ring the bell twice")
        report = opened(operator, note=[sent])
        later = a_note("The key is at no. 3", minute=40)

        operator.change(report, note=[sent, later])

        (request,) = operator.requests(NOTE, report)
        assert request["body"]["event"]["note"] == [later]
        assert operator.perform(NOTE, report) == Outcome(200)
        assert operator.partner.tickets["FC-1"]["note"] == [sent, later]

    def test_a_partner_that_takes_no_notes_gets_none(
        self, operator_with: Callable[..., Operator]
    ) -> None:
        operator = operator_with(forwardNotes=False)
        report = opened(operator)

        operator.change(report, note=[a_note("Ring the bell twice")])

        assert operator.requests(NOTE, report) == []

    def test_a_note_the_partner_refuses_fails_the_attempt(self, operator: Operator) -> None:
        report = opened(operator)
        operator.change(report, note=[a_note("Ring the bell twice")])
        operator.partner.fail("PATCH /troubleTicket/FC-1", 400)

        failed = operator.perform(NOTE, report)

        assert (failed.status, failed.error) == (400, "adding notes answered 400")


class TestPoll:
    def test_the_partner_ticket_is_mirrored_onto_the_activity(self, polling: Operator) -> None:
        report = opened(polling)
        polling.partner.work("FC-1", status="inProgress")

        assert polling.perform(POLL, report) == Outcome(200, again_after=POLLED)

        assert polling.partner.requests() == ["GET /troubleTicket/FC-1"]
        activity = polling.activity(report)
        assert activity["state"] == "inProgress"
        assert activity["partnerReport"]["partnerTicket"]["status"] == "inProgress"
        assert activity["partnerReport"]["etag"] == 'W/"FC-1-2"'

    def test_an_unchanged_partner_ticket_is_not_sent_again(self, polling: Operator) -> None:
        report = opened(polling)
        polling.perform(POLL, report)
        before = polling.activity(report)

        assert polling.perform(POLL, report) == Outcome(304, again_after=POLLED)

        assert polling.partner.seen[-1].headers["if-none-match"] == 'W/"FC-1-1"'
        assert polling.activity(report) == before

    def test_a_question_of_the_partner_raises_a_jeopardy_alert_on_our_ticket(
        self, polling: Operator
    ) -> None:
        report = opened(polling)
        polling.partner.work("FC-1", status="pending", statusChangeReason="Which ONT serial?")

        polling.perform(POLL, report)

        (alert,) = polling.ticket(report)["troubleTicketJeopardyAlert"]
        assert alert["jeopardyType"] == "informationRequired"
        assert alert["message"] == "FibreCo asks: Which ONT serial?"
        assert alert["recoveryActivity"]["id"] == report.activity_id

    def test_a_resolution_completes_the_activity_awaiting_our_acceptance(
        self, polling: Operator
    ) -> None:
        report = opened(polling)
        polling.partner.work("FC-1", status="resolved", statusChangeReason="New splitter")

        polling.perform(POLL, report)

        activity = polling.activity(report)
        assert activity["state"] == "completed"
        assert activity["stateChangeReason"] == "Resolved by FibreCo: New splitter"
        assert activity["partnerReport"]["acceptance"] == "pending"
        assert activity["partnerReport"]["state"] == partner_report.OPEN

    def test_a_partner_ticket_cancelled_there_fails_the_activity_and_ends_the_report(
        self, polling: Operator
    ) -> None:
        report = opened(polling)
        polling.partner.work("FC-1", status="cancelled", statusChangeReason="Not our line")

        polling.perform(POLL, report)

        activity = polling.activity(report)
        assert activity["state"] == "failed"
        assert activity["partnerReport"]["state"] == partner_report.FAILED
        assert polling.perform(POLL, report) == Outcome(200)  # ended: polled no more
        assert polling.partner.requests() == ["GET /troubleTicket/FC-1"]

    def test_the_partners_notes_are_copied_once(self, polling: Operator) -> None:
        report = opened(polling)
        theirs = a_note("Engineer on site at 14:00", minute=50)
        polling.partner.work("FC-1", note=[theirs])

        polling.perform(POLL, report)
        polling.partner.work("FC-1", statusChangeReason="touched")
        polling.perform(POLL, report)

        assert polling.activity(report)["note"] == [theirs]

    def test_a_subscribed_report_is_polled_only_once_the_partner_has_been_quiet(
        self, operator: Operator
    ) -> None:
        report = opened(operator)  # heard from at its creation; events may follow

        assert operator.perform(POLL, report) == Outcome(200, again_after=POLLED)
        assert operator.partner.requests() == []

        operator.clock.advance(minutes=5, seconds=1)  # the registry's poll.after: 5m
        assert operator.perform(POLL, report) == Outcome(200, again_after=POLLED)
        assert operator.partner.requests() == ["GET /troubleTicket/FC-1"]

    def test_a_report_not_made_yet_is_polled_later(self, polling: Operator) -> None:
        report = polling.report()

        assert polling.perform(POLL, report) == Outcome(200, again_after=POLLED)
        assert polling.partner.requests() == []

    def test_a_failed_poll_is_a_failed_attempt_that_comes_again(self, polling: Operator) -> None:
        report = opened(polling)
        polling.partner.fail("GET /troubleTicket/FC-1", 500)

        failed = polling.perform(POLL, report)

        assert (failed.status, failed.error, failed.again_after) == (
            500,
            "polling answered 500",
            None,
        )
        assert polling.perform(POLL, report) == Outcome(200, again_after=POLLED)
