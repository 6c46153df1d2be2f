"""Which TMF621 events a change of a resource raises, and the event documents themselves.

Pure functions of the resource before and after a change:

* create → ``…CreateEvent``;
* a status change → ``…StatusChangeEvent``; for tickets also ``TroubleTicketResolvedEvent`` on
  entering ``resolved`` and ``TroubleTicketInformationRequiredEvent`` on entering ``pending``;
* a change of any other attribute → ``…AttributeValueChangeEvent`` (a patch may raise both);
* delete → ``…DeleteEvent`` carrying a reference, not the resource.

Recovery activities (an extension) raise the same four kinds (``RecoveryActivity…Event``, status:
``state``); a ticket's rollup of them (``activitySummary``) changing is a change of the ticket.

Every event carries the resource as it is after the change (v5 envelope: ``@type``, ``eventId``,
``eventType``, ``eventTime``, ``timeOccurred``, ``correlationId``, ``domain``, ``title``,
``priority``, ``event``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from troubleticket.domain.documents import timestamp
from troubleticket.types import JSON

DOMAIN = "troubleTicket"


@dataclass(frozen=True, slots=True)
class ResourceKind:
    """What the events of one resource type are called and what they look at."""

    name: str  # the payload key and the listener path stem, e.g. "troubleTicket"
    cls: str  # the class name every event type starts with, e.g. "TroubleTicket"
    status: str  # the attribute whose change is a status change
    # Attributes the server keeps as a consequence of other changes; their changing alone is
    # not an attribute value change.
    bookkeeping: frozenset[str]
    # Attributes that travel with a status change (its reason, the date it set): part of that
    # change when the status changes, an attribute value change of their own when it does not.
    with_status: frozenset[str] = frozenset()
    # What the event of a status change is called after the class name.
    status_event: str = "StatusChangeEvent"


TROUBLE_TICKET = ResourceKind(
    "troubleTicket",
    "TroubleTicket",
    "status",
    frozenset(
        {
            "href",
            "lastUpdate",
            "statusChangeDate",
            "statusChangeHistory",
            # kept by the service policy; their changes have events of their own, or follow
            # from a change that has one
            "slaClock",
            "slaNextCheck",
            "expectedResolutionDate",
            "troubleTicketJeopardyAlert",
            "escalationLevel",
            "escalation",
            "priorityHistory",
            "priorityOverride",
        }
    ),
    frozenset({"statusChangeReason", "resolutionDate"}),
)
RECOVERY_ACTIVITY = ResourceKind(
    "recoveryActivity",
    "RecoveryActivity",
    "state",
    frozenset(
        {
            "href",
            "lastUpdate",
            "stateChangeDate",
            "stateChangeHistory",
            # follows from the ticket's deadline and the activity's plan
            "beyondResolveDeadline",
            # the partner's side: its effects are changes of the activity's own attributes
            "partnerReport",
        }
    ),
    frozenset({"stateChangeReason", "actualStartDate", "actualEndDate", "progress"}),
    "StateChangeEvent",
)
TROUBLE_TICKET_SPECIFICATION = ResourceKind(
    "troubleTicketSpecification",
    "TroubleTicketSpecification",
    "lifecycleStatus",
    frozenset({"href", "lastUpdate"}),
)


@dataclass(frozen=True, slots=True)
class Raised:
    """One event a change raises: its type and its ``event`` payload."""

    event_type: str
    payload: JSON


def raised_by(kind: ResourceKind, before: JSON | None, after: JSON | None) -> list[Raised]:
    """The events of a change from ``before`` to ``after`` (``None``: not there), in order."""
    if after is None:
        if before is None:
            return []
        return [Raised(f"{kind.cls}DeleteEvent", {kind.name: reference(kind, before)})]
    payload = {kind.name: after}
    if before is None:
        events = [Raised(f"{kind.cls}CreateEvent", payload)]
        if after.get(kind.status) is not None:
            events.extend(_entered(kind, after))
        return events + _policy_events(kind, {}, after)
    events = _policy_events(kind, before, after)
    status_changed = before.get(kind.status) != after.get(kind.status)
    if _changed_attributes(kind, before, after, status_changed=status_changed):
        events.append(Raised(f"{kind.cls}AttributeValueChangeEvent", payload))
    if status_changed:
        events.append(Raised(f"{kind.cls}{kind.status_event}", payload))
        events.extend(_entered(kind, after))
    return events


def _added(before: JSON, after: JSON, name: str) -> list[JSON]:
    """Entries of the list ``name`` that ``after`` has and ``before`` had not (by id)."""
    known = {entry.get("id") for entry in before.get(name, []) or []}
    return [entry for entry in after.get(name, []) or [] if entry.get("id") not in known]


def _policy_events(kind: ResourceKind, before: JSON, after: JSON) -> list[Raised]:
    """A ticket's jeopardy alerts and escalations: one event each, in the order they happened."""
    if kind is not TROUBLE_TICKET:
        return []
    events = [
        Raised("TroubleTicketJeopardyAlertEvent", {kind.name: after, "jeopardyAlert": alert})
        for alert in _added(before, after, "troubleTicketJeopardyAlert")
    ]
    events += [
        Raised("TroubleTicketEscalationEvent", {kind.name: after, "escalation": escalation})
        for escalation in _added(before, after, "escalation")
    ]
    return events


def _changed_attributes(
    kind: ResourceKind, before: JSON, after: JSON, *, status_changed: bool
) -> list[str]:
    ignored = kind.bookkeeping | {kind.status} | (kind.with_status if status_changed else set())
    names = (set(before) | set(after)) - ignored
    return sorted(name for name in names if before.get(name) != after.get(name))


def _entered(kind: ResourceKind, after: JSON) -> list[Raised]:
    """Events for the status a ticket has just entered (create or status change)."""
    if kind is not TROUBLE_TICKET:
        return []
    status = after.get("status")
    if status == "resolved":
        return [Raised("TroubleTicketResolvedEvent", {kind.name: after})]
    if status == "pending":
        return [
            Raised(
                "TroubleTicketInformationRequiredEvent",
                {kind.name: after, "informationRequired": information_required(after)},
            )
        ]
    return []


def information_required(ticket: JSON) -> JSON:
    """What the originator is asked for, as the JSON Patch that would supply it.

    The reason given for entering ``pending`` says what is missing; the answer is expected as a
    note on the ticket, so the patch adds one carrying the question.
    """
    question = ticket.get("statusChangeReason") or "More information is needed"
    return {
        "op": "add",
        "path": "/note/-",
        "value": {"@type": "Note", "text": f"Information required: {question}"},
    }


def reference(kind: ResourceKind, doc: JSON) -> JSON:
    """The ``…Ref`` of a resource, as delete events carry it."""
    ref: JSON = {"@type": f"{kind.cls}Ref", "id": doc["id"]}
    if "href" in doc:
        ref["href"] = doc["href"]
    if "name" in doc:
        ref["name"] = doc["name"]
    ref["@referredType"] = kind.cls
    return ref


def envelope(
    raised: Raised,
    *,
    event_id: str,
    now: datetime,
    correlation_id: str | None = None,
    priority: str | None = None,
) -> JSON:
    """The event document subscribers receive."""
    stamp = timestamp(now)
    doc: JSON = {
        "@type": raised.event_type,
        "@baseType": "Event",
        "eventId": event_id,
        "eventType": raised.event_type,
        "eventTime": stamp,
        "timeOccurred": stamp,
        "correlationId": correlation_id or event_id,
        "domain": DOMAIN,
        "title": raised.event_type,
        "event": raised.payload,
    }
    if priority is not None:
        doc["priority"] = priority
    return doc


def listener_name(event_type: str) -> str:
    """The listener path stem of an event type (``troubleTicketCreateEvent``)."""
    return event_type[:1].lower() + event_type[1:]
