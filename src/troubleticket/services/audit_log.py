"""The audit log: one JSON line for every write a request makes, deletions included, on the
``troubleticket.audit`` logger (a ticket also keeps its records in its own trail, which goes
when the ticket is deleted; the log line stays)."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from troubleticket.context import Context
from troubleticket.domain.audit import Action, AuditRecord, audit_record

audit_logger = logging.getLogger("troubleticket.audit")


def log_audit(resource: str, record: AuditRecord | None) -> None:
    """The line of one write to ``resource`` (``troubleTicket/{id}``, ``hub/{id}``)."""
    if record is not None:
        audit_logger.info("%s", json.dumps({"resource": resource, **record}))


def request_record(
    action: Action, changed: list[str], *, context: Context, now: datetime
) -> AuditRecord | None:
    """The record of a write a request made (``None``: the server's own write)."""
    if context.request_id is None:
        return None
    return audit_record(action, changed, context=context, now=now)
