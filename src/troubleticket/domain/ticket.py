"""TroubleTicket rules: what the server sets on create, and how a patch may change a ticket.

Functions here take the current instant as an argument and return new documents; they never
mutate their inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from troubleticket.domain import major_incident
from troubleticket.domain.audit import AUDIT
from troubleticket.domain.coordination import ACTIVITIES, SUMMARY
from troubleticket.domain.documents import DocumentRules, timestamp
from troubleticket.domain.errors import Forbidden, InvalidRequest
from troubleticket.domain.lifecycle import (
    CREATE_PATHS,
    INITIAL_STATUS,
    TicketStatus,
    check_transition,
)
from troubleticket.domain.sla import SERVER_OWNED
from troubleticket.types import JSON

RULES = DocumentRules(
    resource_type="TroubleTicket",
    # TMF621 v5 leaves these out of TroubleTicket_FVO or _MVO, or calls them "populated by the
    # server"; the service policy keeps its own (domain.sla).
    server_owned=(
        "creationDate",
        "lastUpdate",
        "statusChangeDate",
        "statusChangeHistory",
        *SERVER_OWNED,
        # the recovery activities (their own resource) and their rollup (domain.coordination)
        ACTIVITIES,
        SUMMARY,
        # who changed what (domain.audit)
        AUDIT,
        # a major incident's rollup and cascade, a child's parent (domain.major_incident)
        major_incident.SUMMARY,
        major_incident.CASCADE,
        *sorted(major_incident.HIDDEN),
    ),
    # TroubleTicket_FVO has these, but the server sets them: id and href name what the server
    # stored, statusChangeDate is when the server recorded the status.
    assigned=("id", "href", "statusChangeDate"),
    # TroubleTicket_MVO has these, but the server keeps them: href follows from the id, and the
    # history is the server's record of what happened.
    kept=("href", "statusChangeHistory"),
    # A ticket always has these; a merge patch may not set them to null.
    not_removable=("@type", "status", "description", "severity", "ticketType"),
)


def _status(value: Any) -> TicketStatus:
    try:
        return TicketStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in TicketStatus)
        raise InvalidRequest(f"Unknown status {value!r}; expected one of {allowed}") from None


def _status_change(status: TicketStatus, when: str, reason: str | None) -> JSON:
    entry: JSON = {"@type": "StatusChange", "status": status.value, "statusChangeDate": when}
    if reason is not None:
        entry["statusChangeReason"] = reason
    return entry


def create_ticket(body: JSON, *, resource_id: str, now: datetime) -> JSON:
    """Build a new ticket from a create request (TroubleTicket_FVO).

    Every ticket starts ``acknowledged``. A requested initial status is reached through the
    lifecycle's create path (``CREATE_PATHS``: resolved goes through inProgress); the history
    records every step, the request's ``statusChangeReason`` the last one.

    Raises:
        InvalidRequest: ``@type`` names another class that is not a subclass.
        ServerOwnedField: the request sets an attribute outside the create view.
        ReasonRequired: the requested status needs a ``statusChangeReason``.
    """
    body = RULES.check_create(body)
    when = timestamp(now)
    reason = body.get("statusChangeReason")
    requested = _status(body["status"]) if "status" in body else INITIAL_STATUS

    steps = (INITIAL_STATUS, *CREATE_PATHS[requested])
    for before, after in zip(steps, steps[1:], strict=False):
        check_transition(before, after, reason if after is requested else None)
    history = [
        _status_change(status, when, reason if status is requested else None) for status in steps
    ]
    ticket = {
        "id": resource_id,
        **body,
        "status": requested.value,
        "creationDate": when,
        "lastUpdate": when,
        "statusChangeDate": when,
        "statusChangeHistory": history,
    }
    if TicketStatus.RESOLVED in steps:
        ticket.setdefault("resolutionDate", when)
    return ticket


def patch_ticket(current: JSON, patch: JSON, *, now: datetime) -> JSON:
    """Apply a merge patch (RFC 7396) to a ticket under the lifecycle rules.

    Returns ``current`` itself when the patch changes nothing, so callers can skip the write.

    Raises:
        Conflict: the patch changes the ticket's id or class.
        ServerOwnedField: the patch changes an attribute only the server sets.
        InvalidRequest: the patch removes an attribute a ticket cannot lose.
        InvalidTransition: the status change is not in the lifecycle table.
        ReasonRequired: the new status needs a ``statusChangeReason`` in the same patch.
    """
    merged = RULES.merge(current, patch)

    old, new = _status(current["status"]), _status(merged["status"])
    when = timestamp(now)
    if new is not old:
        reason = patch.get("statusChangeReason")
        check_transition(old, new, reason)
        merged["statusChangeDate"] = when
        merged["statusChangeHistory"] = [
            *current.get("statusChangeHistory", []),
            _status_change(new, when, reason),
        ]
        if reason is None:
            # The previous reason explained the previous change, not this one.
            merged.pop("statusChangeReason", None)
        if "resolutionDate" not in patch:
            if new is TicketStatus.RESOLVED:
                merged["resolutionDate"] = when
            elif old is TicketStatus.RESOLVED and new is TicketStatus.IN_PROGRESS:
                # Re-opened: the fix was disputed, so the ticket is no longer resolved.
                merged.pop("resolutionDate", None)

    if merged == current:
        return current
    merged["lastUpdate"] = when
    return merged


# -- a partner's view: the tickets it is party to ----------------------------------------------

PARTY_PATH = ("relatedParty", "partyOrPartyRole", "id")
# The role a partner's party gets on a ticket it raises without naming itself.
ORIGINATOR = "originator"


def party_ids(ticket: Mapping[str, Any]) -> list[str]:
    """The ids of the ticket's related parties, each once, in order."""
    ids: dict[str, None] = {}
    for party in ticket.get("relatedParty", []) or []:
        ref = party.get("partyOrPartyRole") if isinstance(party, Mapping) else None
        if isinstance(ref, Mapping) and isinstance(ref.get("id"), str):
            ids[ref["id"]] = None
    return list(ids)


def is_party(ticket: Mapping[str, Any], party_id: str) -> bool:
    """Whether ``party_id`` is one of the ticket's related parties."""
    return party_id in party_ids(ticket)


def claimed(body: JSON, party: JSON) -> JSON:
    """A partner's create request with its own party among the related parties (as the
    ``originator``, unless the request names it already)."""
    if is_party(body, str(party["id"])):
        return body
    related = {
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "role": ORIGINATOR,
        "partyOrPartyRole": party,
    }
    return {**body, "relatedParty": [*(body.get("relatedParty") or []), related]}


# A partner's request that names, drops or assigns a party it may not.
PARTY_NOT_ALLOWED = "relatedPartyNotAllowed"


def check_parties_named(
    current: Mapping[str, Any] | None,
    requested: Any,
    *,
    party_id: str,
    may_name: frozenset[str],
) -> None:
    """What a partner's request (acting for ``party_id``) may do to a ticket's related parties
    (``requested``: the ``relatedParty`` it asks for; ``current``: the ticket, ``None`` on a
    create): name itself and the parties ``may_name`` lists (the operator's own), and keep
    every other party the ticket has. So it can neither put a ticket into another partner's
    view nor take one out of it, and it cannot give its own away.

    Raises:
        Forbidden: another party named, or a party other than the operator's removed.
    """
    before = set(party_ids(current or {}))
    after = set(party_ids({"relatedParty": requested}))
    named = sorted(after - before - may_name - {party_id})
    if named:
        raise Forbidden(
            f"A partner's request may name only its own party ({party_id})"
            f"{_and_the_operators(may_name)} as a related party, not {', '.join(named)}",
            code=PARTY_NOT_ALLOWED,
        )
    dropped = sorted(before - after - may_name)
    if dropped:
        raise Forbidden(
            f"A partner's request may not remove {', '.join(dropped)} from the related parties",
            code=PARTY_NOT_ALLOWED,
        )


def check_assignee_named(
    current: Any, requested: Any, *, party_id: str, may_name: frozenset[str]
) -> None:
    """The same rule for a recovery activity's assignee (``current``, ``requested``: the party
    ids assigned before and asked for, ``None`` for none): a partner assigns only itself or the
    operator's parties, and leaves another party's assignment alone.

    Raises:
        Forbidden: an assignment to, or from, another party.
    """
    allowed = may_name | {party_id}
    if requested is not None and requested != current and requested not in allowed:
        raise Forbidden(
            f"A partner's request may assign an activity only to its own party ({party_id})"
            f"{_and_the_operators(may_name)}, not {requested}",
            code=PARTY_NOT_ALLOWED,
        )
    if current is not None and requested != current and current not in allowed:
        raise Forbidden(
            f"A partner's request may not take an activity away from {current}",
            code=PARTY_NOT_ALLOWED,
        )


def _and_the_operators(may_name: frozenset[str]) -> str:
    return f" and the operator's ({', '.join(sorted(may_name))})" if may_name else ""
