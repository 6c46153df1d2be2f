"""The trouble ticket lifecycle: the transition table as data, and the one function that applies it.

Meanings follow the TMF621 state descriptions: ``pending`` waits on the originator, ``held`` waits
on an internal party, ``resolved`` waits for the originator to accept (``closed``) or dispute
(back to ``inProgress``) the fix. ``cancelled`` and ``closed`` are final.
"""

from __future__ import annotations

from enum import StrEnum

from troubleticket.domain.errors import InvalidTransition, ReasonRequired


class TicketStatus(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "inProgress"
    PENDING = "pending"
    HELD = "held"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    CLOSED = "closed"


INITIAL_STATUS = TicketStatus.ACKNOWLEDGED

S = TicketStatus
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    S.ACKNOWLEDGED: frozenset({S.IN_PROGRESS, S.PENDING, S.HELD, S.REJECTED, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.PENDING, S.HELD, S.RESOLVED, S.CANCELLED}),
    S.PENDING: frozenset({S.IN_PROGRESS, S.CANCELLED}),
    S.HELD: frozenset({S.IN_PROGRESS, S.CANCELLED}),
    # TMF621: the originator accepts the fix (closed) or disputes it (back to work).
    S.RESOLVED: frozenset({S.CLOSED, S.IN_PROGRESS}),
    S.REJECTED: frozenset({S.CLOSED}),
    S.CANCELLED: frozenset(),
    S.CLOSED: frozenset(),
}
del S

# How a ticket created in a status other than the initial one gets there: the steps after
# ``acknowledged``. A problem solved at first contact is reported resolved or closed at once;
# the path goes through the work, never through a status that needs its own explanation.
CREATE_PATHS: dict[TicketStatus, tuple[TicketStatus, ...]] = {
    TicketStatus.ACKNOWLEDGED: (),
    TicketStatus.IN_PROGRESS: (TicketStatus.IN_PROGRESS,),
    TicketStatus.PENDING: (TicketStatus.PENDING,),
    TicketStatus.HELD: (TicketStatus.HELD,),
    TicketStatus.RESOLVED: (TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED),
    TicketStatus.CLOSED: (TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, TicketStatus.CLOSED),
    TicketStatus.REJECTED: (TicketStatus.REJECTED,),
    TicketStatus.CANCELLED: (TicketStatus.CANCELLED,),
}

# Entering these statuses must be explained to the originator.
REASON_REQUIRED: frozenset[TicketStatus] = frozenset(
    {TicketStatus.CANCELLED, TicketStatus.REJECTED}
)


def allowed_from(status: TicketStatus) -> list[str]:
    """The statuses reachable from ``status`` in one step, in table order of the enum."""
    return [s.value for s in TicketStatus if s in TRANSITIONS[status]]


def is_final(status: TicketStatus) -> bool:
    """True when no transition leaves ``status``."""
    return not TRANSITIONS[status]


def check_transition(
    from_status: TicketStatus, to_status: TicketStatus, reason: str | None
) -> None:
    """Accept one lifecycle step or explain why it is refused.

    Raises:
        InvalidTransition: the table has no ``from_status -> to_status`` edge.
        ReasonRequired: the target needs a non-blank ``reason``.
    """
    if to_status not in TRANSITIONS[from_status]:
        raise InvalidTransition(from_status.value, to_status.value, allowed_from(from_status))
    if to_status in REASON_REQUIRED and not (reason and reason.strip()):
        raise ReasonRequired(to_status.value)
