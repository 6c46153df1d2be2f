"""Trouble reports at partners: a recovery activity whose fix is a partner's (an extension).

eTOM 1.3.7.3 includes "generating respective trouble reports". A ``partnerRepair`` activity
assigned to a registered partner carries a ``partnerReport``: the ticket we raise at the
partner's TMF621 API, its state as we know it, and the partner ticket once it exists. This module
holds what happens to that block — pure functions of the ticket, like the rest of the aggregate:

* ``attach``: a partner repair assigned to a partner gets a report (``requested``);
* ``settle``: our side's changes become requests to the partner — an activity cancelled (by a
  coordinator or the ticket's cascade) asks the partner to cancel, our ticket closed accepts a
  resolved partner ticket (``close``), and our new notes are forwarded;
* ``commands``: the requests a change made, as internal events the outbox carries to the
  partner, in the same atomic write (so none is lost across a crash);
* ``mirror``: what the partner's ticket says becomes our activity's state — inProgress starts
  it, pending (information required) raises a JeopardyAlert on our ticket, resolved completes it
  awaiting our acceptance, cancelled or rejected fails it — and its notes are copied.

Report states (ours): requested → open → cancelRequested → cancelled, or → closeRequested →
closed; ``failed`` when the partner refused or ended the ticket itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from troubleticket.domain.activity import ActivityState, enter, is_open, party_id, state_of
from troubleticket.domain.documents import note_key, timestamp
from troubleticket.domain.events import Raised
from troubleticket.domain.partners import PartnerRegistry
from troubleticket.domain.sla import ALERTS
from troubleticket.types import JSON

REPORT = "partnerReport"
PARTNER_REPAIR = "partnerRepair"
ACTIVITIES = "recoveryActivity"

REQUESTED = "requested"
OPEN = "open"
CANCEL_REQUESTED = "cancelRequested"
CANCELLED = "cancelled"
CLOSE_REQUESTED = "closeRequested"
CLOSED = "closed"
FAILED = "failed"
LIVE = frozenset({REQUESTED, OPEN})
FINAL = frozenset({CANCELLED, CLOSED, FAILED})

# Internal event types: requests to a partner, carried by the outbox, never sent to hubs.
CREATE = "PartnerTicketCreate"
CANCEL = "PartnerTicketCancel"
CLOSE = "PartnerTicketClose"
NOTE = "PartnerTicketNote"
POLL = "PartnerTicketPoll"


def _activities(ticket: Mapping[str, Any]) -> list[JSON]:
    found = ticket.get(ACTIVITIES)
    return list(found) if isinstance(found, list) else []


def attach(partners: PartnerRegistry, ticket_id: str, activity: JSON, now: datetime) -> JSON:
    """The activity with a report, when it is an open partner repair assigned to a partner and
    has none yet."""
    repair = activity.get("activityType") == PARTNER_REPAIR
    if REPORT in activity or not repair or not is_open(activity):
        return activity
    partner = partners.by_party(party_id(activity.get("assignee")))
    if partner is None:
        return activity
    report: JSON = {
        "@type": "PartnerReport",
        "partner": {"id": partner.id, "name": partner.name},
        "state": REQUESTED,
        "correlationId": f"{ticket_id}/{activity['id']}",
        "requestedAt": timestamp(now),
        "syncedNotes": [],
    }
    return {**activity, REPORT: report}


def settle(before: JSON | None, after: JSON, now: datetime) -> JSON:
    """The ticket with our side's changes turned into requests to partners (see the module)."""
    closing = after.get("status") == "closed" and (before or {}).get("status") != "closed"
    changed = False
    activities = []
    for activity in _activities(after):
        report = activity.get(REPORT)
        if isinstance(report, Mapping):
            updated = dict(report)
            state = updated["state"]
            if state in LIVE and state_of(activity["state"]) is ActivityState.CANCELLED:
                updated["state"] = CANCEL_REQUESTED
                updated["cancelReason"] = activity.get("stateChangeReason")
            elif (
                closing
                and state == OPEN
                and (updated.get("partnerTicket") or {}).get("status") == "resolved"
            ):
                updated["state"] = CLOSE_REQUESTED
            if updated != report:
                activity = {**activity, REPORT: updated}
                changed = True
        activities.append(activity)
    return {**after, ACTIVITIES: activities} if changed else after


def commands(
    partners: PartnerRegistry, before: JSON | None, after: JSON | None
) -> list[tuple[str, Raised]]:
    """The requests to partners a change of a ticket makes: (partner id, internal event)."""
    old = {a["id"]: a for a in _activities(before or {})}
    found: list[tuple[str, Raised]] = []
    for activity in _activities(after or {}):
        report = activity.get(REPORT)
        if not isinstance(report, Mapping):
            continue
        partner_id = report["partner"]["id"]
        was = (old.get(activity["id"]) or {}).get(REPORT) or {}
        base = {
            "partner": partner_id,
            "troubleTicket": (after or {}).get("id"),
            "recoveryActivity": activity["id"],
            "correlationId": report["correlationId"],
        }
        state, previous = report["state"], was.get("state")
        if state == REQUESTED and previous is None:
            found.append((partner_id, Raised(CREATE, base)))
            found.append((partner_id, Raised(POLL, base)))
        if state == CANCEL_REQUESTED and previous != CANCEL_REQUESTED:
            reason = report.get("cancelReason")
            found.append((partner_id, Raised(CANCEL, {**base, "reason": reason})))
        if state == CLOSE_REQUESTED and previous != CLOSE_REQUESTED:
            found.append((partner_id, Raised(CLOSE, base)))
        partner = partners.get(partner_id)
        if partner is not None and partner.forward_notes and state == OPEN:
            # our notes added by this change; the partner's own, copied in, are synced already
            had = {note_key(n) for n in (old.get(activity["id"]) or {}).get("note", []) or []}
            synced = set(report.get("syncedNotes", []))
            new = [
                n
                for n in activity.get("note", []) or []
                if note_key(n) not in had and note_key(n) not in synced
            ]
            if new:
                found.append((partner_id, Raised(NOTE, {**base, "note": new})))
    return found


# -- what the partner says -------------------------------------------------------------------


def opened(
    ticket: JSON, activity_id: str, partner_ticket: JSON, sent_notes: list[JSON], now: datetime
) -> JSON:
    """The ticket once the partner has our report as ``partner_ticket``: its id on the activity
    (relatedEntity, externalIdentifier) and the report open — unless it was cancelled meanwhile,
    which then stays asked for. ``sent_notes``: the notes the report carried to the partner."""
    when = timestamp(now)
    activities = []
    for activity in _activities(ticket):
        report = activity.get(REPORT)
        if activity["id"] == activity_id and isinstance(report, Mapping):
            partner = report["partner"]
            ref: JSON = {"@type": "TroubleTicketRef", "id": partner_ticket["id"]}
            if "href" in partner_ticket:
                ref["href"] = partner_ticket["href"]
            updated = {
                **report,
                "partnerTicket": {**ref, **_status(partner_ticket)},
                "lastHeardAt": when,
                "syncedNotes": sorted(
                    {*report.get("syncedNotes", []), *(note_key(n) for n in sent_notes)}
                ),
            }
            if report["state"] == REQUESTED:
                updated["state"] = OPEN
            entity: JSON = {
                "@type": "RelatedEntity",
                "role": "partnerTroubleTicket",
                "entity": {**ref, "@type": "EntityRef", "@referredType": "TroubleTicket"},
            }
            identifier: JSON = {
                "@type": "ExternalIdentifier",
                "owner": partner["id"],
                "externalIdentifierType": "troubleTicket",
                "id": partner_ticket["id"],
            }
            activity = {
                **activity,
                REPORT: updated,
                "relatedEntity": [*_without_role(activity, "partnerTroubleTicket"), entity],
                "externalIdentifier": [
                    *(
                        i
                        for i in activity.get("externalIdentifier", []) or []
                        if i.get("owner") != partner["id"]
                    ),
                    identifier,
                ],
                "lastUpdate": when,
            }
        activities.append(activity)
    return {**ticket, ACTIVITIES: activities}


def _without_role(activity: JSON, role: str) -> list[JSON]:
    return [e for e in activity.get("relatedEntity", []) or [] if e.get("role") != role]


def _status(partner_ticket: Mapping[str, Any]) -> JSON:
    return {
        name: partner_ticket[name]
        for name in ("status", "statusChangeDate", "statusChangeReason")
        if name in partner_ticket
    }


def remember_etag(ticket: JSON, activity_id: str, etag: str) -> JSON:
    """The ticket with the partner ticket's entity tag on the report (a poll sends it back)."""
    activities = []
    for activity in _activities(ticket):
        report = activity.get(REPORT)
        if activity["id"] == activity_id and isinstance(report, Mapping):
            if report.get("etag") == etag:
                return ticket
            activity = {**activity, REPORT: {**report, "etag": etag}}
        activities.append(activity)
    return {**ticket, ACTIVITIES: activities}


def finished(ticket: JSON, activity_id: str, state: str, now: datetime) -> JSON:
    """The ticket with a report's cancel or close carried out (``state``: cancelled, closed)."""
    activities = []
    for activity in _activities(ticket):
        report = activity.get(REPORT)
        if activity["id"] == activity_id and isinstance(report, Mapping):
            activity = {
                **activity,
                REPORT: {**report, "state": state, "lastHeardAt": timestamp(now)},
            }
        activities.append(activity)
    return {**ticket, ACTIVITIES: activities}


def mirror(ticket: JSON, activity_id: str, partner_ticket: JSON, now: datetime) -> JSON:
    """The ticket with what the partner's ticket says applied to our activity (module docstring).

    Returns ``ticket`` itself when the partner ticket says nothing new (no write then:
    ``lastHeardAt`` is when the partner last said something new).
    """
    activity = next((a for a in _activities(ticket) if a["id"] == activity_id), None)
    if activity is None or not isinstance(activity.get(REPORT), Mapping):
        return ticket
    when = timestamp(now)
    report = dict(activity[REPORT])
    known = report.get("partnerTicket") or {}
    status = partner_ticket.get("status")
    updated = dict(activity)
    alerts: list[JSON] = []
    news = _status(partner_ticket)
    if any(known.get(k) != v for k, v in news.items()):
        report["partnerTicket"] = {**known, **news}
        state = state_of(updated["state"])
        reason = partner_ticket.get("statusChangeReason")
        partner_name = report["partner"]["name"]

        def said(what: str) -> str:
            return f"{what} by {partner_name}: {reason}" if reason else f"{what} by {partner_name}"

        if status == "inProgress" and state in (
            ActivityState.PLANNED,
            ActivityState.HELD,
        ):
            enter(updated, ActivityState.IN_PROGRESS, when, None, {})
        elif status == "pending":
            alerts.append(_information_required(activity, partner_ticket, partner_name, when))
        elif status == "held" and state is ActivityState.IN_PROGRESS:
            enter(updated, ActivityState.HELD, when, said("Held"), {})
        elif status in ("resolved", "closed") and state in (
            ActivityState.PLANNED,
            ActivityState.IN_PROGRESS,
            ActivityState.HELD,
        ):
            if state is not ActivityState.IN_PROGRESS:
                enter(updated, ActivityState.IN_PROGRESS, when, None, {})
            enter(updated, ActivityState.COMPLETED, when, said("Resolved"), {})
            report["acceptance"] = "pending"
        elif status in ("cancelled", "rejected") and state in (
            ActivityState.PLANNED,
            ActivityState.IN_PROGRESS,
            ActivityState.HELD,
        ):
            if state is not ActivityState.IN_PROGRESS:
                enter(updated, ActivityState.IN_PROGRESS, when, None, {})
            enter(updated, ActivityState.FAILED, when, said(status.capitalize()), {})
            report["state"] = FAILED if report["state"] in LIVE else report["state"]
        if status == "closed" and report["state"] in (OPEN, CLOSE_REQUESTED):
            report["state"] = CLOSED
        if status == "cancelled" and report["state"] == CANCEL_REQUESTED:
            report["state"] = CANCELLED
    # the partner's notes we have not got: neither copied before nor ours (forwarded to them)
    ours = list(updated.get("note", []) or [])
    known_notes = {*report.get("syncedNotes", []), *(note_key(n) for n in ours)}
    copied = [
        dict(note)
        for note in partner_ticket.get("note", []) or []
        if isinstance(note, Mapping) and note_key(note) not in known_notes
    ]
    if copied:
        updated["note"] = [*ours, *copied]
        report["syncedNotes"] = [*report.get("syncedNotes", []), *(note_key(n) for n in copied)]
    if report == activity[REPORT] and updated == activity and not alerts:
        return ticket
    report["lastHeardAt"] = when
    if updated != activity:
        updated["lastUpdate"] = when
    updated[REPORT] = report
    result = {
        **ticket,
        ACTIVITIES: [updated if a["id"] == activity_id else a for a in _activities(ticket)],
    }
    raised = {a.get("id") for a in ticket.get(ALERTS, [])}
    new_alerts = [a for a in alerts if a["id"] not in raised]
    if new_alerts:
        result[ALERTS] = [*ticket.get(ALERTS, []), *new_alerts]
    return result


def _information_required(
    activity: JSON, partner_ticket: Mapping[str, Any], partner_name: str, when: str
) -> JSON:
    asked = partner_ticket.get("statusChangeDate", when)
    question = partner_ticket.get("statusChangeReason") or "more information"
    name = activity.get("name") or activity["id"]
    return {
        "@type": "JeopardyAlert",
        "id": f"activity-{activity['id']}-information-{asked}",
        "alertDate": when,
        "name": f"{name}: {partner_name} needs information",
        "jeopardyType": "informationRequired",
        "exception": "partner ticket pending",
        "message": f"{partner_name} asks: {question}",
        "recoveryActivity": {"@type": "RecoveryActivityRef", "id": activity["id"]},
    }
