"""What a resource brings to the generic use cases (``services.resources``): its own rules as
pure functions from ``domain/`` (create, patch, tick), its contract check, the children it holds,
how a party's requests are restricted to it, and the requests its changes make elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from troubleticket.context import Context
from troubleticket.domain.events import Raised, ResourceKind
from troubleticket.store.port import Collection, CounterChange
from troubleticket.types import JSON


class CreateRule(Protocol):
    def __call__(
        self, body: JSON, *, resource_id: str, now: datetime, context: Context
    ) -> JSON: ...


class PatchRule(Protocol):
    def __call__(self, current: JSON, patch: JSON, *, now: datetime, context: Context) -> JSON: ...


class TickRule(Protocol):
    """What time alone changes in a resource (SLA clocks reaching a threshold)."""

    def __call__(self, current: JSON, *, now: datetime) -> JSON: ...


# Whether a stored version (or a child's entity tag) satisfies the client's If-Match condition.
VersionCondition = Callable[[int | str], bool]


# Checks a whole document against the resource's contract; raises InvalidRequest when it fails.
Validate = Callable[[JSON], None]


# The requests to other systems a change makes, as (target, internal event).
Requests = Callable[[JSON | None, JSON | None], list[tuple[str, Raised]]]


@dataclass(frozen=True, slots=True)
class Children:
    """Resources a document holds inside itself (a ticket's recovery activities): shown on their
    own, each with its own href and events, written in the parent's write."""

    attribute: str  # the parent's array holding them (hidden on the parent)
    collection: Collection  # how the store lists them (store.port.CHILDREN)
    kind: ResourceKind  # the events they raise
    validate: Validate  # checks one child document against the contract
    parent_ref: str  # the child's reference to its parent ({"id": …}), e.g. "troubleTicket"


@dataclass(frozen=True, slots=True)
class PartyScope:
    """How a resource is restricted to a party (a partner's requests see only its own): the path
    of its party ids (indexed), whether a document names the party, and how a party's create
    request is made to name it."""

    path: tuple[str, ...]
    owns: Callable[[JSON, str], bool]
    claim: Callable[[JSON, JSON], JSON]
    parties: Callable[[JSON], list[str]]  # the party ids a document names


@dataclass(frozen=True, slots=True)
class ResourceRules:
    """The pure, resource-specific part of the use cases."""

    create: CreateRule
    patch: PatchRule
    validate: Validate
    tick: TickRule | None = None
    # Attributes kept in the store for the server's own use, never shown.
    hidden: frozenset[str] = frozenset()
    children: Children | None = None
    # Requests to other systems a change makes (to a partner: domain.partner_report), as
    # (target, internal event); recorded in the change's write and sent by the dispatcher.
    requests: Requests | None = None
    # How a party's requests are restricted; without it a party may read but not write.
    party_scope: PartyScope | None = None
    # Whether each write a request makes is recorded in the resource's audit trail (hidden).
    audit: bool = False


# A change of a resource's stored document: its current document (``href`` included) in, the
# new one out — ``current`` itself when nothing changes.
Change = Callable[[JSON], JSON]


class Relations(Protocol):
    """How a resource's documents bear on each other beyond one document (a major incident and
    its child tickets: ``services.major_incidents``)."""

    def correlated(self, body: JSON) -> tuple[JSON, bool]:
        """A create request, possibly linked by the server; whether it was."""
        ...

    def checked(
        self, before: JSON | None, after: JSON, *, context: Context, correlated: bool
    ) -> JSON:
        """``after`` once the rules between documents hold (raises when they do not)."""
        ...

    def check_delete(self, current: JSON) -> None:
        """Refuse deleting a document others depend on (raises)."""
        ...

    def counters(self, before: JSON | None, after: JSON | None) -> list[CounterChange]:
        """The counters a change moves, in its own write."""
        ...

    def shown(self, doc: JSON) -> JSON:
        """A presented document with what is derived live from others."""
        ...
