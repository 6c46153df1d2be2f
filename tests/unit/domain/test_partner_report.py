"""Trouble reports at partners: the ``partnerReport`` of a partner repair, as pure functions.

Tickets are made through ManagedTicket under the default policy at T0 (2026-11-20T08:00Z),
straight into inProgress, with the registry below: FibreCo gets our notes, QuietCo does not.
Every call of a ``partner_report`` function goes through ``pure``, which checks that it left
each of its arguments as it found them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from troubleticket.context import NO_CONTEXT
from troubleticket.domain import partner_report as pr
from troubleticket.domain.documents import note_key, timestamp
from troubleticket.domain.events import Raised
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.partners import NO_PARTNERS, parse_partners
from troubleticket.domain.policy import DEFAULT_POLICY
from troubleticket.types import JSON

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
FIBRECO = {"@type": "PartyRef", "@referredType": "Organization", "id": "org-fibreco"}
QUIETCO = {"@type": "PartyRef", "id": "org-quiet"}
REGISTRY = parse_partners(
    {
        "self": {"id": "operator-1"},
        "partners": {
            "fibreco": {"name": "FibreCo", "baseUrl": "https://fibreco.example", "party": FIBRECO},
            "quietco": {
                "name": "QuietCo",
                "baseUrl": "https://quiet.example",
                "party": QUIETCO,
                "forwardNotes": False,
            },
        },
    }
)
MANAGED = ManagedTicket(DEFAULT_POLICY, REGISTRY)
PARTNER_TICKET = {"@type": "TroubleTicketRef", "id": "P-9", "href": "https://fibreco.example/P-9"}
OUR_NOTE = {"@type": "Note", "author": "noc", "date": "2026-11-20T09:00:00.000Z", "text": "Gate 4"}
THEIR_NOTE = {"@type": "Note", "author": "fibreco", "date": "2026-11-20T09:30:00Z", "text": "On it"}


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def z(hours: float) -> str:
    return timestamp(at(hours))


def pure(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, asserting that it changed none of its arguments."""
    before = copy.deepcopy(args)
    result = function(*args)
    assert args == before, f"{function.__name__} changed its input"
    return result


def assignee(party: JSON) -> JSON:
    return {"@type": "RelatedPartyRefOrPartyRoleRef", "role": "partner", "partyOrPartyRole": party}


def ticket(ticket_id: str = "TT-1") -> JSON:
    body = {
        "@type": "TroubleTicket",
        "description": "No sync on the FTTH line",
        "severity": "Major",
        "ticketType": "incident",
        "status": "inProgress",
    }
    return MANAGED.create(body, resource_id=ticket_id, now=T0, context=NO_CONTEXT)


def repair(tt: JSON, activity_id: str = "a1", party: JSON | None = FIBRECO, **fields: Any) -> JSON:
    """``tt`` with a partner repair assigned to ``party`` (unassigned: ``None``), added at T0."""
    body = {"activityType": "partnerRepair", "name": "Repair the line", **fields}
    if party is not None:
        body["assignee"] = assignee(party)
    return MANAGED.add_activity(tt, body, activity_id=activity_id, now=T0, context=NO_CONTEXT)


def change(tt: JSON, activity_id: str, patch: JSON, hours: float) -> JSON:
    return MANAGED.change_activity(tt, activity_id, patch, now=at(hours), context=NO_CONTEXT)


def act(tt: JSON, activity_id: str = "a1") -> JSON:
    return next(a for a in tt["recoveryActivity"] if a["id"] == activity_id)


def report(tt: JSON, activity_id: str = "a1") -> JSON:
    return act(tt, activity_id)["partnerReport"]  # type: ignore[no-any-return]


def with_report(tt: JSON, activity_id: str = "a1", **fields: Any) -> JSON:
    """A copy of ``tt`` whose report of ``activity_id`` has ``fields`` on top."""
    tt = copy.deepcopy(tt)
    act(tt, activity_id)["partnerReport"].update(fields)
    return tt


def with_activity(tt: JSON, activity_id: str = "a1", **fields: Any) -> JSON:
    """A copy of ``tt`` whose activity ``activity_id`` has ``fields`` on top."""
    tt = copy.deepcopy(tt)
    act(tt, activity_id).update(fields)
    return tt


def partner_ticket(status: str, hours: float, reason: str | None = None, **fields: Any) -> JSON:
    """The partner's ticket P-9 as it reads: in ``status`` since ``hours`` after T0."""
    found: JSON = {**PARTNER_TICKET, "status": status, "statusChangeDate": z(hours), **fields}
    if reason is not None:
        found["statusChangeReason"] = reason
    return found


def opened(tt: JSON, activity_id: str = "a1", hours: float = 0.1) -> JSON:
    """``tt`` once FibreCo has the report of ``activity_id`` as P-9 (acknowledged)."""
    changed = pr.opened(tt, activity_id, partner_ticket("acknowledged", hours), [], at(hours))
    return MANAGED.from_partner(tt, changed, now=at(hours))


def mirror(tt: JSON, said: JSON, hours: float, activity_id: str = "a1") -> JSON:
    return pure(pr.mirror, tt, activity_id, said, at(hours))  # type: ignore[no-any-return]


def started(hours: float = 0.5) -> JSON:
    """TT-1 with a1 at FibreCo (P-9), which FibreCo has in progress: a1 is inProgress."""
    return mirror(opened(repair(ticket())), partner_ticket("inProgress", hours), hours)


def states(tt: JSON, activity_id: str = "a1") -> list[str]:
    return [entry["state"] for entry in act(tt, activity_id)["stateChangeHistory"]]


def base(activity_id: str = "a1", ticket_id: str = "TT-1", partner: str = "fibreco") -> JSON:
    return {
        "partner": partner,
        "troubleTicket": ticket_id,
        "recoveryActivity": activity_id,
        "correlationId": f"{ticket_id}/{activity_id}",
    }


def commands(before: JSON | None, after: JSON | None, registry: Any = REGISTRY) -> Any:
    return pure(pr.commands, registry, before, after)


# -- attach ----------------------------------------------------------------------------------


def activity(state: str = "planned", party: JSON | None = FIBRECO, **fields: Any) -> JSON:
    made: JSON = {
        "id": "a7",
        "@type": "RecoveryActivity",
        "activityType": "partnerRepair",
        "state": state,
        **fields,
    }
    if party is not None:
        made["assignee"] = assignee(party)
    return made


class TestAttach:
    @pytest.mark.parametrize("state", ["planned", "inProgress", "held"])
    def test_an_open_partner_repair_assigned_to_a_partner_gets_a_requested_report(
        self, state: str
    ) -> None:
        given = activity(state)
        attached = pure(pr.attach, REGISTRY, "TT-4", given, at(2))
        assert attached == {
            **given,
            "partnerReport": {
                "@type": "PartnerReport",
                "partner": {"id": "fibreco", "name": "FibreCo"},
                "state": "requested",
                "correlationId": "TT-4/a7",
                "requestedAt": "2026-11-20T10:00:00.000Z",
                "syncedNotes": [],
            },
        }

    def test_the_report_names_the_partner_the_assignee_stands_for(self) -> None:
        attached = pure(pr.attach, REGISTRY, "TT-4", activity(party=QUIETCO), at(2))
        assert attached["partnerReport"]["partner"] == {"id": "quietco", "name": "QuietCo"}

    @pytest.mark.parametrize(
        "given",
        [
            activity("completed"),
            activity("failed"),
            activity("cancelled", stateChangeReason="not needed"),
            activity(activityType="fieldRepair"),
            activity(party={"@type": "PartyRef", "id": "org-somebody-else"}),
            activity(party=None),
            activity(party=None, assignee={"role": "partner", "partyOrPartyRole": "org-fibreco"}),
            # the partner's own id is not its party's
            activity(party={"@type": "PartyRef", "id": "fibreco"}),
        ],
        ids=[
            "completed",
            "failed",
            "cancelled",
            "not a partner repair",
            "not a partner",
            "unassigned",
            "malformed assignee",
            "partner id as party",
        ],
    )
    def test_anything_else_is_left_as_it_is(self, given: JSON) -> None:
        assert pure(pr.attach, REGISTRY, "TT-4", given, at(2)) is given

    def test_an_activity_with_a_report_keeps_it(self) -> None:
        first = pr.attach(REGISTRY, "TT-4", activity(), at(2))
        # now assigned to QuietCo: the report stays FibreCo's
        reassigned = {**first, "assignee": assignee(QUIETCO)}
        assert pure(pr.attach, REGISTRY, "TT-4", reassigned, at(3)) is reassigned
        assert pure(pr.attach, REGISTRY, "TT-4", first, at(3)) is first

    def test_no_partner_is_registered_so_no_report(self) -> None:
        given = activity()
        assert pure(pr.attach, NO_PARTNERS, "TT-4", given, at(2)) is given

    def test_an_added_partner_repair_gets_its_report_from_the_aggregate(self) -> None:
        tt = repair(ticket(), "a1")
        assert report(tt) == {
            "@type": "PartnerReport",
            "partner": {"id": "fibreco", "name": "FibreCo"},
            "state": "requested",
            "correlationId": "TT-1/a1",
            "requestedAt": "2026-11-20T08:00:00.000Z",
            "syncedNotes": [],
        }

    def test_a_partner_repair_assigned_later_gets_its_report_then(self) -> None:
        tt = repair(ticket(), "a1", party=None)
        assert "partnerReport" not in act(tt)
        tt = change(tt, "a1", {"assignee": assignee(FIBRECO)}, hours=1.5)
        assert report(tt)["requestedAt"] == "2026-11-20T09:30:00.000Z"
        assert report(tt)["state"] == "requested"


# -- settle: our side's changes become requests ------------------------------------------------


class TestSettle:
    @pytest.mark.parametrize("live", ["requested", "open"])
    def test_an_activity_cancelled_while_its_report_is_live_asks_the_partner_to_cancel(
        self, live: str
    ) -> None:
        before = with_report(repair(ticket()), state=live)
        after = with_activity(before, state="cancelled", stateChangeReason="Fixed by our crew")
        settled = pure(pr.settle, before, after, at(1))
        assert report(settled) == {
            **report(after),
            "state": "cancelRequested",
            "cancelReason": "Fixed by our crew",
        }
        assert {k: v for k, v in settled.items() if k != "recoveryActivity"} == {
            k: v for k, v in after.items() if k != "recoveryActivity"
        }

    def test_a_coordinator_cancelling_the_activity_asks_through_the_aggregate(self) -> None:
        tt = opened(repair(ticket()))
        cancelled = change(tt, "a1", {"state": "cancelled", "stateChangeReason": "Wrong line"}, 1)
        assert act(cancelled)["state"] == "cancelled"
        assert report(cancelled)["state"] == "cancelRequested"
        assert report(cancelled)["cancelReason"] == "Wrong line"

    def test_the_tickets_cancellation_cascades_to_a_cancel_request(self) -> None:
        tt = opened(repair(ticket()))
        patch = {"status": "cancelled", "statusChangeReason": "Customer withdrew"}
        cancelled = MANAGED.patch(tt, patch, now=at(1), context=NO_CONTEXT)
        assert report(cancelled)["state"] == "cancelRequested"
        assert report(cancelled)["cancelReason"] == "Customer withdrew"

    @pytest.mark.parametrize(
        "state", ["cancelRequested", "cancelled", "closeRequested", "closed", "failed"]
    )
    def test_a_report_no_longer_live_asks_nothing_when_its_activity_is_cancelled(
        self, state: str
    ) -> None:
        before = with_report(repair(ticket()), state=state)
        after = with_activity(before, state="cancelled", stateChangeReason="late")
        assert pure(pr.settle, before, after, at(1)) is after

    def test_an_open_activity_with_a_live_report_asks_nothing(self) -> None:
        before = opened(repair(ticket()))
        after = with_activity(before, name="Repair the drop cable")
        assert pure(pr.settle, before, after, at(1)) is after

    def test_our_ticket_closed_accepts_a_resolved_partner_ticket(self) -> None:
        before = mirror(started(), partner_ticket("resolved", 2, "Spliced"), 2)
        before = {**before, "status": "resolved"}
        after = {**before, "status": "closed"}
        settled = pure(pr.settle, before, after, at(3))
        assert report(settled) == {**report(after), "state": "closeRequested"}

    def test_closing_through_the_aggregate_asks_the_partner_to_close(self) -> None:
        working = started()
        resolved = mirror(working, partner_ticket("resolved", 2, "Spliced"), 2)
        tt = MANAGED.from_partner(working, resolved, now=at(2))
        tt = MANAGED.patch(tt, {"status": "resolved"}, now=at(3), context=NO_CONTEXT)
        assert report(tt)["state"] == "open"
        tt = MANAGED.patch(tt, {"status": "closed"}, now=at(4), context=NO_CONTEXT)
        assert report(tt)["state"] == "closeRequested"

    @pytest.mark.parametrize(
        ("before_status", "partner_status", "state"),
        [
            ("closed", "resolved", "open"),  # closed before: not entering closed now
            ("resolved", "inProgress", "open"),  # the partner has not resolved it
            ("resolved", "closed", "open"),
            ("resolved", "resolved", "requested"),  # the report is not open
            ("resolved", "resolved", "cancelRequested"),
        ],
    )
    def test_closing_asks_nothing_unless_the_report_is_open_and_the_partner_resolved(
        self, before_status: str, partner_status: str, state: str
    ) -> None:
        known = {**PARTNER_TICKET, "status": partner_status}
        tt = with_report(opened(repair(ticket())), state=state, partnerTicket=known)
        before, after = {**tt, "status": before_status}, {**tt, "status": "closed"}
        assert pure(pr.settle, before, after, at(3)) is after

    def test_a_new_ticket_and_one_without_activities_are_left_as_they_are(self) -> None:
        tt = ticket()
        assert pure(pr.settle, None, tt, at(0)) is tt
        closed = {**tt, "status": "closed"}
        assert pure(pr.settle, tt, closed, at(0)) is closed
        activity_less = {"id": "TT-3", "status": "closed", "recoveryActivity": None}
        assert pure(pr.settle, None, activity_less, at(0)) is activity_less

    def test_only_the_cancelled_activitys_report_changes(self) -> None:
        tt = repair(repair(ticket(), "a1"), "a2")
        after = with_activity(tt, "a2", state="cancelled", stateChangeReason="duplicate")
        settled = pure(pr.settle, tt, after, at(1))
        assert report(settled, "a1")["state"] == "requested"
        assert report(settled, "a2")["state"] == "cancelRequested"
        assert act(settled, "a1") is act(after, "a1")


# -- commands: the requests a change makes ----------------------------------------------------


class TestCommands:
    def test_a_new_report_asks_to_create_the_partner_ticket_and_to_poll_it(self) -> None:
        before = ticket()
        after = repair(before)
        assert commands(before, after) == [
            ("fibreco", Raised(pr.CREATE, base())),
            ("fibreco", Raised(pr.POLL, base())),
        ]
        assert commands(None, after) == commands(before, after)

    def test_an_unchanged_report_asks_nothing(self) -> None:
        tt = repair(ticket())
        assert commands(tt, with_activity(tt, name="Swap the ONT")) == []
        assert commands(tt, tt) == []
        assert commands(tt, None) == []
        assert commands(None, None) == []

    def test_a_requested_report_that_opens_asks_nothing(self) -> None:
        tt = repair(ticket())
        assert commands(tt, opened(tt)) == []

    def test_entering_cancel_requested_asks_once_with_the_reason(self) -> None:
        tt = opened(repair(ticket()))
        cancelled = change(tt, "a1", {"state": "cancelled", "stateChangeReason": "Wrong line"}, 1)
        assert commands(tt, cancelled) == [
            ("fibreco", Raised(pr.CANCEL, {**base(), "reason": "Wrong line"}))
        ]
        assert commands(cancelled, with_activity(cancelled, name="x")) == []

    def test_a_report_cancelled_before_it_was_made_asks_only_to_cancel(self) -> None:
        tt = ticket()
        added = repair(tt)
        cancelled = change(added, "a1", {"state": "cancelled", "stateChangeReason": "oops"}, 1)
        assert [raised.event_type for _, raised in commands(added, cancelled)] == [pr.CANCEL]
        # seen in one step (added and cancelled), there is nothing to create any more
        assert [raised.event_type for _, raised in commands(tt, cancelled)] == [pr.CANCEL]

    def test_entering_close_requested_asks_once(self) -> None:
        tt = with_report(opened(repair(ticket())), partnerTicket={**PARTNER_TICKET})
        closing = with_report(tt, state="closeRequested")
        assert commands(tt, closing) == [("fibreco", Raised(pr.CLOSE, base()))]
        assert commands(closing, with_activity(closing, name="x")) == []

    def test_our_note_on_an_open_report_is_forwarded(self) -> None:
        tt = opened(repair(ticket()))
        noted = change(tt, "a1", {"note": [OUR_NOTE]}, 1)
        assert commands(tt, noted) == [("fibreco", Raised(pr.NOTE, {**base(), "note": [OUR_NOTE]}))]

    def test_only_the_notes_added_by_the_change_are_forwarded(self) -> None:
        tt = change(opened(repair(ticket())), "a1", {"note": [OUR_NOTE]}, 1)
        second = {**OUR_NOTE, "date": "2026-11-20T10:00:00.000Z", "text": "Key at reception"}
        noted = change(tt, "a1", {"note": [OUR_NOTE, second]}, 2)
        assert commands(tt, noted) == [("fibreco", Raised(pr.NOTE, {**base(), "note": [second]}))]

    def test_the_partners_notes_copied_in_are_not_sent_back(self) -> None:
        tt = started()
        copied = mirror(tt, partner_ticket("inProgress", 0.5, note=[THEIR_NOTE]), 1)
        assert act(copied)["note"] == [THEIR_NOTE]
        assert commands(tt, copied) == []
        # nor when it comes with a note of ours
        both = {**copied, "recoveryActivity": [{**act(copied), "note": [THEIR_NOTE, OUR_NOTE]}]}
        assert commands(tt, both) == [("fibreco", Raised(pr.NOTE, {**base(), "note": [OUR_NOTE]}))]

    def test_a_partner_that_takes_no_notes_is_sent_none(self) -> None:
        tt = opened(repair(ticket(), party=QUIETCO))
        noted = change(tt, "a1", {"note": [OUR_NOTE]}, 1)
        assert report(noted)["state"] == "open"
        assert commands(tt, noted) == []

    def test_a_partner_no_longer_registered_is_sent_no_notes(self) -> None:
        tt = opened(repair(ticket()))
        noted = change(tt, "a1", {"note": [OUR_NOTE]}, 1)
        assert commands(tt, noted, NO_PARTNERS) == []

    @pytest.mark.parametrize("state", ["requested", "cancelRequested", "closed", "failed"])
    def test_notes_go_only_to_an_open_report(self, state: str) -> None:
        tt = with_report(opened(repair(ticket())), state=state)
        noted = with_activity(tt, note=[OUR_NOTE])
        assert [r.event_type for _, r in commands(tt, noted)] == []

    def test_each_activity_asks_for_itself_in_order(self) -> None:
        tt = opened(repair(ticket(), "a1"), "a1")
        after = repair(tt, "a2", party=QUIETCO)
        after = change(after, "a1", {"note": [OUR_NOTE]}, 1)
        assert commands(tt, after) == [
            ("fibreco", Raised(pr.NOTE, {**base("a1"), "note": [OUR_NOTE]})),
            ("quietco", Raised(pr.CREATE, base("a2", partner="quietco"))),
            ("quietco", Raised(pr.POLL, base("a2", partner="quietco"))),
        ]

    def test_an_activity_without_a_report_asks_nothing(self) -> None:
        tt = ticket()
        after = MANAGED.add_activity(
            tt, {"activityType": "fieldRepair"}, activity_id="a1", now=T0, context=NO_CONTEXT
        )
        assert commands(tt, after) == []


# -- what the partner says ---------------------------------------------------------------------


class TestOpened:
    def test_the_partner_ticket_goes_on_the_activity_and_the_report_opens(self) -> None:
        tt = repair(ticket())
        said = partner_ticket("acknowledged", 0.2, "Received")
        done = pure(pr.opened, tt, "a1", said, [], at(0.25))
        assert report(done) == {
            **report(tt),
            "state": "open",
            "partnerTicket": {
                **PARTNER_TICKET,
                "status": "acknowledged",
                "statusChangeDate": "2026-11-20T08:12:00.000Z",
                "statusChangeReason": "Received",
            },
            "lastHeardAt": "2026-11-20T08:15:00.000Z",
            "syncedNotes": [],
        }
        assert act(done)["relatedEntity"] == [
            {
                "@type": "RelatedEntity",
                "role": "partnerTroubleTicket",
                "entity": {
                    "@type": "EntityRef",
                    "@referredType": "TroubleTicket",
                    "id": "P-9",
                    "href": "https://fibreco.example/P-9",
                },
            }
        ]
        assert act(done)["externalIdentifier"] == [
            {
                "@type": "ExternalIdentifier",
                "owner": "fibreco",
                "externalIdentifierType": "troubleTicket",
                "id": "P-9",
            }
        ]
        assert act(done)["lastUpdate"] == "2026-11-20T08:15:00.000Z"
        # opening records the partner's status; it does not move the activity
        assert act(done)["state"] == "planned"

    def test_a_partner_ticket_without_href_is_referred_to_by_id(self) -> None:
        done = pure(pr.opened, repair(ticket()), "a1", {"id": "P-9"}, [], at(1))
        assert report(done)["partnerTicket"] == {"@type": "TroubleTicketRef", "id": "P-9"}
        assert act(done)["relatedEntity"][0]["entity"] == {
            "@type": "EntityRef",
            "@referredType": "TroubleTicket",
            "id": "P-9",
        }

    @pytest.mark.parametrize("state", ["cancelRequested", "cancelled", "failed"])
    def test_a_report_no_longer_requested_keeps_its_state(self, state: str) -> None:
        tt = with_report(repair(ticket()), state=state)
        done = pure(pr.opened, tt, "a1", partner_ticket("acknowledged", 1), [], at(1))
        assert report(done)["state"] == state
        assert report(done)["partnerTicket"]["id"] == "P-9"

    def test_the_notes_the_report_carried_count_as_synced(self) -> None:
        tt = with_report(repair(ticket()), syncedNotes=["ffff000011112222"])
        done = pure(pr.opened, tt, "a1", {"id": "P-9"}, [OUR_NOTE, THEIR_NOTE], at(1))
        keys = {note_key(OUR_NOTE), note_key(THEIR_NOTE), "ffff000011112222"}
        assert report(done)["syncedNotes"] == sorted(keys)

    def test_other_references_stay_and_the_partner_ticket_is_named_once(self) -> None:
        other_entity = {"@type": "RelatedEntity", "role": "affected", "entity": {"id": "SVC-1"}}
        other_id = {"@type": "ExternalIdentifier", "owner": "crm", "id": "C-1"}
        tt = with_activity(
            repair(ticket()), relatedEntity=[other_entity], externalIdentifier=[other_id]
        )
        once = pure(pr.opened, tt, "a1", {"id": "P-8"}, [], at(1))
        twice = pure(pr.opened, once, "a1", {"id": "P-9"}, [], at(2))
        assert [e["role"] for e in act(twice)["relatedEntity"]] == [
            "affected",
            "partnerTroubleTicket",
        ]
        assert act(twice)["relatedEntity"][1]["entity"]["id"] == "P-9"
        assert [(i["owner"], i["id"]) for i in act(twice)["externalIdentifier"]] == [
            ("crm", "C-1"),
            ("fibreco", "P-9"),
        ]

    def test_the_other_activities_are_untouched(self) -> None:
        tt = repair(repair(ticket(), "a1"), "a2")
        done = pure(pr.opened, tt, "a2", {"id": "P-9"}, [], at(1))
        assert act(done, "a1") == act(tt, "a1")
        assert report(done, "a2")["state"] == "open"


class TestFinishedAndEtag:
    @pytest.mark.parametrize("state", ["cancelled", "closed"])
    def test_a_carried_out_request_ends_the_report(self, state: str) -> None:
        tt = repair(repair(ticket(), "a1"), "a2")
        done = pure(pr.finished, tt, "a2", state, at(3))
        assert report(done, "a2") == {
            **report(tt, "a2"),
            "state": state,
            "lastHeardAt": "2026-11-20T11:00:00.000Z",
        }
        assert act(done, "a1") == act(tt, "a1")

    def test_the_partner_tickets_entity_tag_is_remembered(self) -> None:
        tt = opened(repair(ticket()))
        tagged = pure(pr.remember_etag, tt, "a1", 'W/"3"')
        assert report(tagged) == {**report(tt), "etag": 'W/"3"'}
        assert pure(pr.remember_etag, tagged, "a1", 'W/"3"') is tagged
        assert report(pure(pr.remember_etag, tagged, "a1", 'W/"4"'))["etag"] == 'W/"4"'


class TestMirror:
    def test_the_partner_working_on_it_starts_a_planned_activity(self) -> None:
        tt = opened(repair(ticket()), hours=0.1)
        said = partner_ticket("inProgress", 0.4, "Engineer dispatched")
        mirrored = mirror(tt, said, 0.5)
        assert act(mirrored)["state"] == "inProgress"
        assert act(mirrored)["actualStartDate"] == "2026-11-20T08:30:00.000Z"
        assert act(mirrored)["lastUpdate"] == "2026-11-20T08:30:00.000Z"
        assert "stateChangeReason" not in act(mirrored)
        assert states(mirrored) == ["planned", "inProgress"]
        assert report(mirrored)["partnerTicket"] == {
            **PARTNER_TICKET,
            "status": "inProgress",
            "statusChangeDate": z(0.4),
            "statusChangeReason": "Engineer dispatched",
        }
        assert report(mirrored)["lastHeardAt"] == "2026-11-20T08:30:00.000Z"
        assert report(mirrored)["state"] == "open"

    def test_the_partner_acknowledging_it_only_records_the_status(self) -> None:
        # the module docstring and the README: inProgress starts it (not acknowledged)
        tt = repair(ticket())
        mirrored = mirror(tt, partner_ticket("acknowledged", 0.4, "Received"), 0.5)
        assert states(mirrored) == ["planned"]
        assert report(mirrored)["partnerTicket"]["status"] == "acknowledged"
        assert report(mirrored)["partnerTicket"]["statusChangeReason"] == "Received"

    def test_the_partner_working_on_it_again_resumes_a_held_activity(self) -> None:
        held = mirror(started(), partner_ticket("held", 1, "Access refused"), 1)
        assert act(held)["state"] == "held"
        resumed = mirror(held, partner_ticket("inProgress", 2), 2)
        assert states(resumed) == ["planned", "inProgress", "held", "inProgress"]

    def test_the_partner_holding_it_holds_an_activity_in_progress(self) -> None:
        held = mirror(started(), partner_ticket("held", 1, "Access refused"), 1)
        assert act(held)["state"] == "held"
        assert act(held)["stateChangeReason"] == "Held by FibreCo: Access refused"

    def test_the_partner_holding_it_leaves_a_planned_activity_planned(self) -> None:
        tt = opened(repair(ticket()))
        held = mirror(tt, partner_ticket("held", 1, "Waiting for parts"), 1)
        assert act(held)["state"] == "planned"
        assert report(held)["partnerTicket"]["status"] == "held"

    @pytest.mark.parametrize("status", ["held", "resolved", "cancelled"])
    def test_a_partner_status_without_a_reason_says_none_is_given(self, status: str) -> None:
        mirrored = mirror(started(), partner_ticket(status, 1), 1)
        assert act(mirrored)["state"] != "inProgress"  # the status did apply
        assert "None" not in act(mirrored)["stateChangeReason"]

    def test_the_partner_asking_for_information_raises_a_jeopardy_alert(self) -> None:
        tt = started()
        asked = mirror(tt, partner_ticket("pending", 1, "Which port is it on?"), 1.5)
        assert asked["troubleTicketJeopardyAlert"][
            len(tt.get("troubleTicketJeopardyAlert", [])) :
        ] == [
            {
                "@type": "JeopardyAlert",
                "id": "activity-a1-information-2026-11-20T09:00:00.000Z",
                "alertDate": "2026-11-20T09:30:00.000Z",
                "name": "Repair the line: FibreCo needs information",
                "jeopardyType": "informationRequired",
                "exception": "partner ticket pending",
                "message": "FibreCo asks: Which port is it on?",
                "recoveryActivity": {"@type": "RecoveryActivityRef", "id": "a1"},
            }
        ]
        assert act(asked)["state"] == "inProgress"
        assert report(asked)["partnerTicket"]["status"] == "pending"

    def test_an_alert_is_raised_once_for_each_time_the_partner_asks(self) -> None:
        tt = started()
        first = mirror(tt, partner_ticket("pending", 1, "Which port?"), 1.5)
        # the same question said again, or said otherwise at the same instant: no second alert
        again = mirror(first, partner_ticket("pending", 1, "Which port is it, please?"), 2)
        assert again["troubleTicketJeopardyAlert"] == first["troubleTicketJeopardyAlert"]
        # answered, then asked again later: a second alert
        answered = mirror(again, partner_ticket("inProgress", 3), 3)
        asked = mirror(answered, partner_ticket("pending", 4, "Which floor?"), 4)
        ours = [
            a
            for a in asked["troubleTicketJeopardyAlert"]
            if a["jeopardyType"] == "informationRequired"
        ]
        assert [a["id"] for a in ours] == [
            "activity-a1-information-2026-11-20T09:00:00.000Z",
            "activity-a1-information-2026-11-20T12:00:00.000Z",
        ]
        assert ours[1]["message"] == "FibreCo asks: Which floor?"

    def test_a_question_without_words_asks_for_more_information(self) -> None:
        tt = copy.deepcopy(started())
        del act(tt)["name"]
        asked = mirror(tt, {**PARTNER_TICKET, "status": "pending"}, 2)
        [alert] = [
            a
            for a in asked["troubleTicketJeopardyAlert"]
            if a["jeopardyType"] == "informationRequired"
        ]
        assert alert["message"] == "FibreCo asks: more information"
        assert alert["name"] == "a1: FibreCo needs information"
        # without the partner's statusChangeDate, the instant it was heard names it
        assert alert["id"] == "activity-a1-information-2026-11-20T10:00:00.000Z"

    @pytest.mark.parametrize(
        ("path", "through"),
        [
            ([], ["planned", "inProgress", "completed"]),
            (["inProgress"], ["planned", "inProgress", "completed"]),
            (["inProgress", "held"], ["planned", "inProgress", "held", "inProgress", "completed"]),
        ],
    )
    def test_the_partner_resolving_it_completes_the_activity_awaiting_acceptance(
        self, path: list[str], through: list[str]
    ) -> None:
        tt = opened(repair(ticket()))
        for hours, state in enumerate(path, start=1):
            tt = change(tt, "a1", {"state": state}, hours)
        resolved = mirror(tt, partner_ticket("resolved", 5, "Fibre spliced"), 6)
        done = act(resolved)
        assert states(resolved) == through
        assert done["state"] == "completed"
        assert done["stateChangeReason"] == "Resolved by FibreCo: Fibre spliced"
        assert done["actualEndDate"] == done["stateChangeDate"] == "2026-11-20T14:00:00.000Z"
        assert done["progress"] == 100
        assert report(resolved)["acceptance"] == "pending"
        assert report(resolved)["state"] == "open"

    def test_the_partner_closing_it_completes_the_activity_and_closes_the_report(self) -> None:
        closed = mirror(started(), partner_ticket("closed", 5, "Done"), 6)
        assert act(closed)["state"] == "completed"
        assert report(closed)["acceptance"] == "pending"
        assert report(closed)["state"] == "closed"

    def test_the_partner_closing_it_after_our_acceptance_closes_the_report(self) -> None:
        resolved = mirror(started(), partner_ticket("resolved", 5, "Done"), 5)
        asked = with_report(resolved, state="closeRequested")
        closed = mirror(asked, partner_ticket("closed", 7, "Accepted"), 7)
        assert report(closed)["state"] == "closed"
        assert states(closed) == states(resolved)  # completed already

    @pytest.mark.parametrize(
        ("status", "said"),
        [
            ("cancelled", "Cancelled by FibreCo: Duplicate"),
            ("rejected", "Rejected by FibreCo: Duplicate"),
        ],
    )
    @pytest.mark.parametrize("path", [[], ["inProgress"], ["inProgress", "held"]])
    def test_the_partner_ending_it_fails_the_activity_and_the_report(
        self, status: str, said: str, path: list[str]
    ) -> None:
        tt = opened(repair(ticket()))
        for hours, state in enumerate(path, start=1):
            tt = change(tt, "a1", {"state": state}, hours)
        ended = mirror(tt, partner_ticket(status, 5, "Duplicate"), 6)
        assert act(ended)["state"] == "failed"
        assert states(ended)[-2:] == ["inProgress", "failed"]
        assert act(ended)["stateChangeReason"] == said
        assert act(ended)["actualEndDate"] == "2026-11-20T14:00:00.000Z"
        assert report(ended)["state"] == "failed"
        assert "acceptance" not in report(ended)

    def test_the_partner_cancelling_as_we_asked_cancels_the_report(self) -> None:
        tt = opened(repair(ticket()))
        tt = change(tt, "a1", {"state": "cancelled", "stateChangeReason": "Wrong line"}, 1)
        assert report(tt)["state"] == "cancelRequested"
        cancelled = mirror(tt, partner_ticket("cancelled", 2, "Wrong line"), 2)
        assert report(cancelled)["state"] == "cancelled"
        assert act(cancelled)["state"] == "cancelled"  # ours: not failed
        assert act(cancelled)["stateChangeReason"] == "Wrong line"

    def test_the_partners_notes_are_copied_once(self) -> None:
        tt = started()
        second = {**THEIR_NOTE, "date": "2026-11-20T10:00:00Z", "text": "Cable cut at pole 12"}
        once = mirror(tt, partner_ticket("inProgress", 0.5, note=[THEIR_NOTE]), 1)
        assert act(once)["note"] == [THEIR_NOTE]
        assert report(once)["syncedNotes"] == [note_key(THEIR_NOTE)]
        assert act(once)["lastUpdate"] == "2026-11-20T09:00:00.000Z"
        twice = mirror(once, partner_ticket("inProgress", 0.5, note=[THEIR_NOTE, second]), 2)
        assert act(twice)["note"] == [THEIR_NOTE, second]
        assert report(twice)["syncedNotes"] == [note_key(THEIR_NOTE), note_key(second)]

    def test_a_copied_note_removed_on_our_side_is_not_copied_again(self) -> None:
        once = mirror(started(), partner_ticket("inProgress", 0.5, note=[THEIR_NOTE]), 1)
        removed = with_activity(once, note=[])
        again = mirror(removed, partner_ticket("inProgress", 0.5, note=[THEIR_NOTE]), 1)
        assert act(again)["note"] == []

    def test_our_own_notes_coming_back_are_not_copied(self) -> None:
        tt = change(started(), "a1", {"note": [OUR_NOTE]}, 1)
        back = mirror(tt, partner_ticket("inProgress", 0.5, note=[OUR_NOTE, THEIR_NOTE]), 2)
        assert act(back)["note"] == [OUR_NOTE, THEIR_NOTE]
        assert report(back)["syncedNotes"] == [note_key(THEIR_NOTE)]

    def test_a_note_is_told_apart_by_its_author_date_and_text(self) -> None:
        assert note_key(OUR_NOTE) == note_key({**OUR_NOTE, "@type": "Other", "id": "n1"})
        for name in ("author", "date", "text"):
            assert note_key(OUR_NOTE) != note_key({**OUR_NOTE, name: "other"})
        assert len(note_key(OUR_NOTE)) == 16

    def test_a_partner_ticket_saying_nothing_new_at_the_same_instant_is_the_same_ticket(
        self,
    ) -> None:
        tt = mirror(started(), partner_ticket("inProgress", 0.5, note=[THEIR_NOTE]), 1)
        same = partner_ticket("inProgress", 0.5, note=[THEIR_NOTE])
        assert mirror(tt, same, 1) is tt

    def test_a_partner_ticket_saying_nothing_new_later_is_the_same_ticket(self) -> None:
        tt = mirror(started(), partner_ticket("inProgress", 0.5, note=[THEIR_NOTE]), 1)
        assert mirror(tt, partner_ticket("inProgress", 0.5, note=[THEIR_NOTE]), 2) is tt

    @pytest.mark.parametrize("activity_id", ["a2", "no-such-activity"])
    def test_an_activity_without_a_report_or_none_at_all_is_left_alone(
        self, activity_id: str
    ) -> None:
        tt = MANAGED.add_activity(
            started(), {"activityType": "fieldRepair"}, activity_id="a2", now=T0, context=NO_CONTEXT
        )
        assert mirror(tt, partner_ticket("resolved", 1, "Done"), 1, activity_id) is tt

    def test_the_other_activities_are_untouched(self) -> None:
        tt = opened(repair(repair(ticket(), "a1"), "a2"), "a2")
        resolved = mirror(tt, partner_ticket("resolved", 1, "Done"), 1, "a2")
        assert act(resolved, "a1") == act(tt, "a1")
        assert act(resolved, "a2")["state"] == "completed"

    def test_what_the_partner_sends_is_left_as_it_was(self) -> None:
        said = partner_ticket("pending", 1, "Which port?", note=[dict(THEIR_NOTE)])
        kept = copy.deepcopy(said)
        mirrored = mirror(started(), said, 1)
        act(mirrored)["note"][0]["text"] = "changed on our side"
        assert said == kept
