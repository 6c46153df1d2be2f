"""TroubleTicketSpecification rules: server-set attributes on create and patch.

``lifecycleStatus`` is a free string in TMF621 v5 ("such as inDesign, active, rejected, retired"),
so specifications have no transition table.
"""

from __future__ import annotations

from datetime import datetime

from troubleticket.domain.documents import (
    merge_patch,
    reject_removal,
    reject_server_owned,
    require_type,
    reject_server_owned_changes,
    timestamp,
    without,
)
from troubleticket.types import JSON

RESOURCE_TYPE = "TroubleTicketSpecification"
SERVER_OWNED = ("id", "href", "creationDate", "lastUpdate")
NOT_REMOVABLE = ("@type", "name")


def create_specification(body: JSON, *, spec_id: str, now: datetime) -> JSON:
    """Build a new specification from a create request (TroubleTicketSpecification_FVO).

    Raises:
        InvalidRequest: ``@type`` names another resource type.
        ServerOwnedField: the request sets an attribute only the server sets.
    """
    require_type(body, RESOURCE_TYPE)
    reject_server_owned(body, SERVER_OWNED)
    when = timestamp(now)
    return {"id": spec_id, **body, "creationDate": when, "lastUpdate": when}


def patch_specification(current: JSON, patch: JSON, *, now: datetime) -> JSON:
    """Apply a merge patch (RFC 7396); returns ``current`` itself when nothing changes.

    Raises:
        InvalidRequest: ``@type`` names another resource type.
        ServerOwnedField: the patch changes an attribute only the server sets.
        InvalidRequest: the patch removes an attribute a specification cannot lose.
    """
    require_type(patch, RESOURCE_TYPE)
    reject_server_owned_changes(current, patch, SERVER_OWNED)
    reject_removal(patch, NOT_REMOVABLE)
    merged: JSON = merge_patch(current, without(patch, SERVER_OWNED))
    if merged == current:
        return current
    merged["lastUpdate"] = timestamp(now)
    return merged
