"""The audit trail: who changed a ticket, with which authorization, and what they changed.

Every write a request makes to a ticket (creating it, patching it, any change of its recovery
activities) appends an ``AuditRecord`` to the ticket's trail, in the same write: the request's
actor (a token's subject, or the trusted gateway's ``X-TT-Actor``), the partner's party when the
request was restricted to one, the scope that let it in, the request id, and the names of the
attributes it changed (``recoveryActivity/{id}`` for an activity). Values are not copied: the
ticket's own histories and its events hold them. The server's own changes (SLA clocks,
jeopardy, escalation by policy, a partner's updates mirrored) are recorded where they happen,
in those histories, not here.

The trail is kept with the ticket but not shown in it (partners read tickets, and the trail
names the operator's people); operators read it at ``/troubleTicket/{id}/auditRecord``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, NotRequired, TypedDict

from troubleticket.context import Context
from troubleticket.domain.documents import timestamp
from troubleticket.types import JSON

AUDIT = "auditTrail"


def changed_attributes(
    before: JSON | None, after: JSON, *, ignore: Iterable[str] = (), itemized: str | None = None
) -> list[str]:
    """The attributes whose value differs between ``before`` and ``after`` (all of ``after``'s
    on a create), sorted; the items of the ``itemized`` list (by id) are named one by one."""
    old = before or {}
    skipped = {*ignore, AUDIT}
    changed = []
    for name in sorted((old.keys() | after.keys()) - skipped):
        if old.get(name) == after.get(name):
            continue
        if name == itemized:
            changed += [f"{name}/{item}" for item in _changed_items(old.get(name), after.get(name))]
        else:
            changed.append(name)
    return changed


def _changed_items(old: Any, new: Any) -> list[str]:
    was = {item["id"]: item for item in old or []}
    now = {item["id"]: item for item in new or []}
    return sorted(i for i in was.keys() | now.keys() if was.get(i) != now.get(i))


Action = Literal["create", "update", "delete"]

# One write a request made, as the trail keeps it (``AuditRecord`` in the contract).
AuditRecord = TypedDict(
    "AuditRecord",
    {
        "@type": Literal["AuditRecord"],
        "date": str,
        "action": Action,
        "actor": str | None,
        "requestId": str | None,
        "changedAttributes": list[str],
        "scope": NotRequired[str],
        "party": NotRequired[str],
    },
)


def audit_record(
    action: Action, changed: list[str], *, context: Context, now: datetime
) -> AuditRecord:
    """The record of one write (``action``: create, update or delete) a request made."""
    record: AuditRecord = {
        "@type": "AuditRecord",
        "date": timestamp(now),
        "action": action,
        "actor": context.actor,
        "requestId": context.request_id,
        "changedAttributes": changed,
    }
    if context.scope is not None:
        record["scope"] = context.scope
    if context.party_id is not None:
        record["party"] = context.party_id
    return record


def with_record(doc: JSON, record: AuditRecord) -> JSON:
    """``doc`` with ``record`` appended to its audit trail."""
    return {**doc, AUDIT: [*(doc.get(AUDIT) or []), record]}
