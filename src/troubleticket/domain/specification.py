"""TroubleTicketSpecification rules: server-set attributes on create and patch.

``lifecycleStatus`` is a free string in TMF621 v5 ("such as inDesign, active, rejected, retired"),
so specifications have no transition table.
"""

from __future__ import annotations

from datetime import datetime

from troubleticket.domain.documents import DocumentRules, timestamp
from troubleticket.types import JSON

RULES = DocumentRules(
    resource_type="TroubleTicketSpecification",
    # TroubleTicketSpecification_FVO/_MVO have id and href (from Entity): the server assigns
    # them on create and keeps them (DocumentRules' defaults).
    server_owned=("creationDate", "lastUpdate"),
    not_removable=("@type", "name"),
)


def create_specification(body: JSON, *, resource_id: str, now: datetime) -> JSON:
    """Build a new specification from a create request (TroubleTicketSpecification_FVO).

    Raises:
        InvalidRequest: ``@type`` names another class that is not a subclass.
        ServerOwnedField: the request sets ``creationDate`` or ``lastUpdate``.
    """
    body = RULES.check_create(body)
    when = timestamp(now)
    return {"id": resource_id, **body, "creationDate": when, "lastUpdate": when}


def patch_specification(current: JSON, patch: JSON, *, now: datetime) -> JSON:
    """Apply a merge patch (RFC 7396); returns ``current`` itself when nothing changes.

    Raises:
        InvalidRequest: ``name`` or ``@type`` would be removed.
        Conflict: the patch changes the id or the class.
        ServerOwnedField: the patch changes ``creationDate`` or ``lastUpdate``.
    """
    merged = RULES.merge(current, patch)
    if merged == current:
        return current
    merged["lastUpdate"] = timestamp(now)
    return merged
