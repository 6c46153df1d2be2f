"""Major incidents: one fault, many customer tickets, coordinated as one.

A ticket whose ``ticketType`` is ``majorIncident`` is a parent. A customer's ticket becomes its
child through TMF621's own ``troubleTicketRelationship``: one entry with ``relationshipType``
``isChildOf`` naming the parent's id. One level only: a major incident is never a child, so a
link can make no cycle and no grandchild (a fault under a fault is one fault; a bigger one is
declared as such and the children moved to it).

The parent never holds its children (there may be tens of thousands): each child write moves
counters under the parent's key in the same atomic write (``counter_changes``), and the parent
shows them as ``childSummary``. The children are the tickets whose relationship names the parent,
listed with an ordinary query; the child carries the parent's id in a hidden, indexed attribute
(``PARENT``) so that the server finds them without reading every ticket.

A parent moving to resolved, closed or cancelled starts a ``cascade``: each open child is moved
to the same status with the parent's reason, in batches, by a background runner (the record here
says what to do; ``services.major_incidents`` does it). Correlation on intake attaches a new
ticket to an open major incident that a policy rule matches (``correlate``).

Everything here is pure: the parent, when one is involved, is given.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from troubleticket.domain.documents import note_key, timestamp
from troubleticket.domain.errors import Conflict, InvalidRequest
from troubleticket.domain.lifecycle import TRANSITIONS, TicketStatus
from troubleticket.types import JSON

MAJOR_INCIDENT = "majorIncident"
CHILD_OF = "isChildOf"
RELATIONSHIPS = "troubleTicketRelationship"
PARENT = "parentTicketId"  # hidden: the id of the parent of a linked child
SUMMARY = "childSummary"
CASCADE = "cascade"
REFUSED = "cascadeRefused"  # hidden on a child the rules did not let a cascade move: its id
CASCADE_BY = "cascadeBy"  # hidden: who changed the parent, in which request (children's audit)
# A note on a major incident with this set to true is for its children: each open child gets a
# copy. Hidden on the parent, the notes still being copied: [{"note": key, "after": cursor}].
FOR_CHILDREN = "forChildren"
NOTE_CASCADES = "noteCascades"
# What the server keeps for itself on parents and children, never shown.
HIDDEN = frozenset({PARENT, REFUSED, CASCADE_BY, NOTE_CASCADES})
# What one cascade did so far is counted (with the rollup) under the parent's key.
CASCADED = "cascaded"

OPEN = frozenset(
    {TicketStatus.ACKNOWLEDGED, TicketStatus.IN_PROGRESS, TicketStatus.PENDING, TicketStatus.HELD}
)
CASCADING = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.CANCELLED})
# What a cascade may take a child through on its way (the work, not a refusal of it).
_THROUGH = OPEN | {TicketStatus.RESOLVED}


@dataclass(frozen=True, slots=True)
class CorrelationRule:
    """Attach a new ticket to an open major incident that shares with it one of: a related
    entity (same ``entity.id``, and one of ``referred_types`` when given), a characteristic
    value (by name)."""

    name: str
    related_entity: bool = False
    referred_types: frozenset[str] = frozenset()
    characteristics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MajorIncidentPolicy:
    """``child_clocks``: ``run`` (the default: a customer's SLA is owed whatever caused the
    fault, and a pause would hide the breaches an operator has to answer for) or ``pause``
    (while the ticket is linked to a major incident, as some contracts exempt declared major
    incidents; detaching it, or the cascade moving it on, ends the pause).
    ``rollup_interval``: seconds between two announcements of a parent's rollup (its
    ``childSummary`` change event), however many children changed. ``cascade_batch``: children
    moved per transaction."""

    correlation: tuple[CorrelationRule, ...] = ()
    child_clocks: str = "run"
    rollup_interval: float = 5.0
    cascade_batch: int = 200


NO_CORRELATION = MajorIncidentPolicy()


def is_major(ticket: Mapping[str, Any]) -> bool:
    return ticket.get("ticketType") == MAJOR_INCIDENT


def is_open(ticket: Mapping[str, Any]) -> bool:
    return ticket.get("status") in OPEN


def _links(ticket: Mapping[str, Any]) -> list[JSON]:
    relationships = ticket.get(RELATIONSHIPS)
    if not isinstance(relationships, list):
        return []
    return [
        r for r in relationships if isinstance(r, dict) and r.get("relationshipType") == CHILD_OF
    ]


def parent_named(ticket: Mapping[str, Any]) -> str | None:
    """The id of the major incident the ticket's relationships name as its parent."""
    links = _links(ticket)
    return str(links[0].get("id")) if links else None


def link_changed(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> bool:
    """Whether the change makes or changes a link, or makes a linked ticket a major incident
    (which the link rules then refuse)."""
    became_major = is_major(after) and not (before is not None and is_major(before))
    return _links(before or {}) != _links(after) or (became_major and bool(_links(after)))


def check_link(ticket: Mapping[str, Any], parent: Mapping[str, Any] | None) -> None:
    """Refuse a link (just made or changed) the rules forbid; ``parent`` is the ticket the
    link names (``None``: there is none the caller may see).

    Raises:
        InvalidRequest: two parents, itself, a major incident as a child, no such parent, or a
            parent that is not a major incident.
        Conflict: the parent is no longer open (its fix is done; link to an open one).
    """
    links = _links(ticket)
    if not links:
        return
    if len(links) > 1:
        raise InvalidRequest(
            f"A ticket is the child ({CHILD_OF}) of one major incident at most; "
            f"{len(links)} are named",
            code="invalidRelationship",
        )
    parent_id = links[0].get("id")
    if not isinstance(parent_id, str) or not parent_id:
        raise InvalidRequest(
            f"A {CHILD_OF} relationship names its parent by id", code="invalidRelationship"
        )
    if parent_id == ticket.get("id"):
        raise InvalidRequest("A ticket cannot be the child of itself", code="invalidRelationship")
    if is_major(ticket):
        raise InvalidRequest(
            "A major incident cannot be the child of another: a fault under a fault is one "
            "fault (move the children to the larger one instead)",
            code="invalidRelationship",
        )
    if parent is None:
        raise InvalidRequest(
            f"{CHILD_OF} names {parent_id!r}, and there is no such trouble ticket",
            code="invalidRelationship",
        )
    if not is_major(parent):
        raise InvalidRequest(
            f"{CHILD_OF} names {parent_id!r}, which is not a major incident "
            f"(ticketType {MAJOR_INCIDENT!r})",
            code="invalidRelationship",
        )
    if not is_open(parent):
        raise Conflict(
            f"Major incident {parent_id!r} is {parent.get('status')}: a ticket is linked only "
            "to an open one",
            code="parentNotOpen",
        )


def check_deletable(ticket: Mapping[str, Any], children: int) -> None:
    """A major incident with children is not deleted (its children would name nothing).

    Raises:
        Conflict: children are linked.
    """
    if is_major(ticket) and children:
        raise Conflict(
            f"Major incident {ticket.get('id')!r} has {children} child ticket(s): detach them "
            "before deleting it",
            code="majorIncidentHasChildren",
        )


def check_still_major(before: Mapping[str, Any], after: Mapping[str, Any], children: int) -> None:
    """A major incident with children stays one (its children would be orphaned).

    Raises:
        Conflict: the ticket type changes while children are linked.
    """
    if is_major(before) and not is_major(after) and children:
        raise Conflict(
            f"Major incident {before.get('id')!r} has {children} child ticket(s): detach them "
            "before changing its ticketType",
            code="majorIncidentHasChildren",
        )


def settle(ticket: JSON) -> JSON:
    """The ticket with its hidden parent id in line with its relationships."""
    parent = parent_named(ticket)
    if parent == ticket.get(PARENT):
        return ticket
    settled = dict(ticket)
    if parent is None:
        settled.pop(PARENT, None)
    else:
        settled[PARENT] = parent
    return settled


def link(ticket: JSON, parent: Mapping[str, Any], href: str) -> JSON:
    """A create request (or ticket) linked to ``parent``: what correlation adds."""
    relationship: JSON = {
        "@type": "TroubleTicketRelationship",
        "id": parent["id"],
        "href": href,
        "relationshipType": CHILD_OF,
    }
    relationships = ticket.get(RELATIONSHIPS)
    existing = relationships if isinstance(relationships, list) else []
    return {**ticket, RELATIONSHIPS: [*existing, relationship]}


# -- the rollup ---------------------------------------------------------------------------------


def rollup_key(parent_id: str) -> str:
    return f"majorIncident:{parent_id}"


def customers_key(parent_id: str) -> str:
    """Counters of open children per customer: how many customers are still affected."""
    return f"majorIncident:{parent_id}:customers"


def customers(ticket: Mapping[str, Any]) -> set[str]:
    """The ids of the ticket's related parties in the role ``customer`` (any case)."""
    found: set[str] = set()
    parties = ticket.get("relatedParty")
    for party in parties if isinstance(parties, list) else []:
        if not isinstance(party, dict) or str(party.get("role", "")).lower() != "customer":
            continue
        ref = party.get("partyOrPartyRole")
        if isinstance(ref, dict) and isinstance(ref.get("id"), str | int):
            found.add(str(ref["id"]))
    return found


def _contribution(ticket: Mapping[str, Any] | None) -> dict[tuple[str, str], int]:
    parent = None if ticket is None else ticket.get(PARENT)
    if not isinstance(parent, str):
        return {}
    assert ticket is not None
    key = rollup_key(parent)
    counts = {(key, "total"): 1, (key, f"status:{ticket.get('status')}"): 1}
    if is_open(ticket):
        counts[(key, "open")] = 1
        for customer in customers(ticket):
            counts[(customers_key(parent), customer)] = 1
    return counts


def counter_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> list[tuple[str, str, int]]:
    """What a change of one ticket moves in its parent's rollup: (key, name, delta)."""
    old, new = _contribution(before), _contribution(after)
    return [
        (key, name, delta)
        for key, name in sorted(old.keys() | new.keys())
        if (delta := new.get((key, name), 0) - old.get((key, name), 0))
    ]


def child_summary(counts: Mapping[str, int], affected_customers: int) -> JSON:
    """The parent's ``childSummary`` from its counters."""
    by_status = {
        status.value: counts.get(f"status:{status.value}", 0)
        for status in TicketStatus
        if counts.get(f"status:{status.value}", 0)
    }
    return {
        "@type": "ChildSummary",
        "total": counts.get("total", 0),
        "open": counts.get("open", 0),
        "byStatus": by_status,
        "affectedCustomers": affected_customers,
    }


# -- correlation --------------------------------------------------------------------------------


def _entities(ticket: Mapping[str, Any], types: frozenset[str]) -> set[str]:
    found: set[str] = set()
    related = ticket.get("relatedEntity")
    for item in related if isinstance(related, list) else []:
        entity = item.get("entity") if isinstance(item, dict) else None
        if not isinstance(entity, dict) or not isinstance(entity.get("id"), str):
            continue
        if types and entity.get("@referredType") not in types:
            continue
        found.add(entity["id"])
    return found


def _characteristic(ticket: Mapping[str, Any], name: str) -> Any:
    items = ticket.get("troubleTicketCharacteristic")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("name") == name and "value" in item:
            return item["value"]
    return None


def matches(rule: CorrelationRule, ticket: Mapping[str, Any], parent: Mapping[str, Any]) -> bool:
    if rule.related_entity and _entities(ticket, rule.referred_types) & _entities(
        parent, rule.referred_types
    ):
        return True
    for name in rule.characteristics:
        value = _characteristic(ticket, name)
        if value is not None and value == _characteristic(parent, name):
            return True
    return False


def correlate(
    policy: MajorIncidentPolicy, ticket: JSON, candidates: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The open major incident a new ticket belongs to, by the first rule that matches one
    (among several, the one declared first); ``None`` for a ticket that names a parent itself,
    is a major incident, or matches none."""
    if is_major(ticket) or _links(ticket) or not policy.correlation:
        return None
    ordered = sorted(
        (c for c in candidates if is_open(c)),
        key=lambda c: (str(c.get("creationDate", "")), str(c.get("id"))),
    )
    for rule in policy.correlation:
        for parent in ordered:
            if matches(rule, ticket, parent):
                return parent
    return None


# -- the cascade --------------------------------------------------------------------------------


def cascade_started(
    before: Mapping[str, Any],
    after: JSON,
    now: datetime,
    *,
    counts: Mapping[str, int],
    by: Mapping[str, str],
) -> JSON:
    """The parent with a cascade record when this change moves a major incident to resolved,
    closed or cancelled (its open children follow), or with its running cascade stopped when
    the change takes it back to an open status; the parent unchanged otherwise. ``counts``:
    the parent's counters (its rollup and what its cascades did); ``by``: who asked, in which
    request (kept hidden, for the children's audit records)."""
    status = after.get("status")
    if not is_major(after) or status == before.get("status"):
        return after
    if status not in CASCADING:
        if running(after):  # reopened: what is left of the cascade is not done
            cascade = after[CASCADE]
            stopped = {**cascade, **_progress(cascade, counts), "state": "stopped"}
            return {**after, CASCADE: {**stopped, "endDate": timestamp(now)}}
        return after
    open_children = counts.get("open", 0)
    record: JSON = {
        "@type": "ChildCascade",
        "id": f"{status}-{timestamp(now)}",
        "state": "running" if open_children else "completed",
        "status": status,
        "startDate": timestamp(now),
        "total": open_children,
    }
    if isinstance(after.get("statusChangeReason"), str):
        record["reason"] = after["statusChangeReason"]
    if not open_children:
        record |= {"done": 0, "refused": 0, "endDate": timestamp(now)}
    return {**after, CASCADE: record, CASCADE_BY: dict(by)}


def _progress(cascade: Mapping[str, Any], counts: Mapping[str, int]) -> dict[str, int]:
    return {
        "done": counts.get(cascaded_counter(cascade), 0),
        "refused": counts.get(refused_counter(cascade), 0),
    }


def shown_cascade(cascade: Mapping[str, Any], counts: Mapping[str, int]) -> JSON:
    """A running cascade with its progress so far (any other as it was recorded)."""
    if cascade.get("state") != "running":
        return dict(cascade)
    return {**cascade, **_progress(cascade, counts)}


def cascaded_counter(cascade: Mapping[str, Any]) -> str:
    """The counter (under the parent's rollup key) of the children one cascade moved."""
    return f"{CASCADED}:{cascade['id']}"


def path_to(start: str, target: str) -> list[str]:
    """The statuses a child passes through to reach ``target`` from ``start`` by the lifecycle:
    the shortest way through the work (open statuses and ``resolved``), never by way of a
    rejection or a cancellation; empty when it is there, or cannot get there."""
    try:
        origin, goal = TicketStatus(start), TicketStatus(target)
    except ValueError:
        return []
    previous: dict[TicketStatus, TicketStatus | None] = {origin: None}
    queue = deque([origin])
    while queue:
        status = queue.popleft()
        if status == goal:
            break
        for following in sorted(TRANSITIONS[status]):
            if following != goal and following not in _THROUGH:
                continue
            if following not in previous:
                previous[following] = status
                queue.append(following)
    if goal not in previous or goal == origin:
        return []
    path: list[str] = []
    walked: TicketStatus | None = goal
    while walked is not None and walked != origin:
        path.append(walked.value)
        walked = previous[walked]
    return path[::-1]


def cascade_steps(
    child: Mapping[str, Any], cascade: Mapping[str, Any], parent_id: str
) -> list[JSON]:
    """The patches that take an open child where the parent went, each with the parent's
    reason (the lifecycle's way: an acknowledged child is put in progress, then resolved)."""
    reason = cascade.get("reason")
    said = f"major incident {parent_id} {cascade['status']}"
    text = f"{reason} ({said})" if isinstance(reason, str) and reason else said.capitalize()
    return [
        {"status": status, "statusChangeReason": text}
        for status in path_to(str(child.get("status")), str(cascade["status"]))
    ]


def refused_counter(cascade: Mapping[str, Any]) -> str:
    """The counter of the children the rules did not let one cascade move."""
    return f"refused:{cascade['id']}"


def note_name(note: Mapping[str, Any]) -> str:
    """What names a note: its id, else its author, date and text."""
    if isinstance(note.get("id"), str) and note["id"]:
        return str(note["id"])
    return note_key(note)


def _notes(ticket: Mapping[str, Any]) -> list[JSON]:
    notes = ticket.get("note")
    return [n for n in notes if isinstance(n, dict)] if isinstance(notes, list) else []


def notes_started(before: Mapping[str, Any], after: JSON) -> JSON:
    """The parent with a note cascade for each note this change adds flagged ``forChildren``."""
    if not is_major(after):
        return after
    had = {note_name(n) for n in _notes(before)}
    flagged = [
        note_name(n)
        for n in _notes(after)
        if n.get(FOR_CHILDREN) is True and note_name(n) not in had
    ]
    if not flagged:
        return after
    pending = after.get(NOTE_CASCADES)
    pending = list(pending) if isinstance(pending, list) else []
    return {**after, NOTE_CASCADES: [*pending, *({"note": key} for key in flagged)]}


def parent_note(parent: Mapping[str, Any], key: str) -> JSON | None:
    return next((n for n in _notes(parent) if note_name(n) == key), None)


def with_parent_note(child: JSON, parent_id: str, note: Mapping[str, Any]) -> JSON:
    """The child with its copy of the parent's note (the child itself when it has it): the
    author, date and text, under an id naming the parent and the note."""
    copy_id = f"majorIncident-{parent_id}-{note_name(note)}"
    if any(n.get("id") == copy_id for n in _notes(child)):
        return child
    copied: JSON = {"@type": "Note", "id": copy_id}
    for name in ("author", "date", "text"):
        if name in note:
            copied[name] = note[name]
    return {**child, "note": [*_notes(child), copied]}


def cascade_finished(parent: JSON, counts: Mapping[str, int], now: datetime) -> JSON:
    """The parent with its cascade completed: how many children it moved, and refused."""
    cascade = parent[CASCADE]
    record = {**cascade, **_progress(cascade, counts), "state": "completed"}
    return {**parent, CASCADE: {**record, "endDate": timestamp(now)}}


def running(parent: Mapping[str, Any]) -> bool:
    cascade = parent.get(CASCADE)
    return isinstance(cascade, dict) and cascade.get("state") == "running"
