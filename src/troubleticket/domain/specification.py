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
    server_owned=("id", "href", "creationDate", "lastUpdate"),
    not_removable=("@type", "name"),
)


def create_specification(body: JSON, *, resource_id: str, now: datetime) -> JSON:
    """Build a new specification from a create request (TroubleTicketSpecification_FVO).

    Raises:
        InvalidRequest: ``@type`` names another resource type.
        ServerOwnedField: the request sets an attribute only the server sets.
    """
    RULES.check_create(body)
    when = timestamp(now)
    return {"id": resource_id, **body, "creationDate": when, "lastUpdate": when}


def patch_specification(current: JSON, patch: JSON, *, now: datetime) -> JSON:
    """Apply a merge patch (RFC 7396); returns ``current`` itself when nothing changes.

    Raises:
        InvalidRequest: ``@type`` names another type, or ``name``/``@type`` would be removed.
        ServerOwnedField: the patch changes an attribute only the server sets.
    """
    merged = RULES.merge(current, patch)
    if merged == current:
        return current
    merged["lastUpdate"] = timestamp(now)
    return merged
