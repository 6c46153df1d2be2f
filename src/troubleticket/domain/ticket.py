"""TroubleTicket rules: what the server sets on create, and how a patch may change a ticket.

Functions here take the current instant as an argument and return new documents; they never
mutate their inputs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from troubleticket.domain.documents import DocumentRules, timestamp
from troubleticket.domain.errors import InvalidRequest
from troubleticket.domain.lifecycle import INITIAL_STATUS, TicketStatus, check_transition
from troubleticket.domain.sla import SERVER_OWNED
from troubleticket.types import JSON

RULES = DocumentRules(
    resource_type="TroubleTicket",
    # TMF621 v5 leaves these out of TroubleTicket_FVO/_MVO or calls them "populated by the server".
    server_owned=(
        "id",
        "href",
        "creationDate",
        "lastUpdate",
        "statusChangeDate",
        "statusChangeHistory",
        # kept by the service policy (domain.sla)
        *SERVER_OWNED,
    ),
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

    Every ticket starts ``acknowledged``. A requested initial status is honoured when the lifecycle
    allows it from ``acknowledged``; the history then records both steps.

    Raises:
        InvalidRequest: ``@type`` names another resource type.
        ServerOwnedField: the request sets an attribute only the server sets.
        InvalidTransition: the requested status is not reachable from ``acknowledged``.
        ReasonRequired: the requested status needs a ``statusChangeReason``.
    """
    RULES.check_create(body)
    when = timestamp(now)
    reason = body.get("statusChangeReason")
    requested = _status(body["status"]) if "status" in body else INITIAL_STATUS

    history = [
        _status_change(INITIAL_STATUS, when, reason if requested is INITIAL_STATUS else None)
    ]
    if requested is not INITIAL_STATUS:
        check_transition(INITIAL_STATUS, requested, reason)
        history.append(_status_change(requested, when, reason))

    return {
        "id": resource_id,
        **body,
        "status": requested.value,
        "creationDate": when,
        "lastUpdate": when,
        "statusChangeDate": when,
        "statusChangeHistory": history,
    }


def patch_ticket(current: JSON, patch: JSON, *, now: datetime) -> JSON:
    """Apply a merge patch (RFC 7396) to a ticket under the lifecycle rules.

    Returns ``current`` itself when the patch changes nothing, so callers can skip the write.

    Raises:
        InvalidRequest: ``@type`` names another resource type.
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
