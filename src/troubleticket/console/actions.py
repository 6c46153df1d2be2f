"""The console's actions: what each form sends, as the request the API would be sent.

Each action is the API operation it stands for (``operation``: its scope is the one the caller
needs) with the body a client would send it, in a PATCH format TMF621 declares; ``pages`` hands
that body to the same service call the API's handler makes, so the same rules run and the same
events are recorded. Nothing here reads or writes: a form's fields in, a request out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from troubleticket.domain.documents import timestamp
from troubleticket.domain.errors import InvalidRequest
from troubleticket.domain.sla import MAX_LEVEL
from troubleticket.services.patch_formats import JSON_PATCH, MERGE_PATCH
from troubleticket.store.query import instant
from troubleticket.types import JSON

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"

# The most fields one form may post (the largest, planning an activity, has a dozen and a
# checkbox per activity it may depend on).
MAX_FIELDS = 1100

# The longest text a field takes (a note may be long; names and reasons are short).
NOTE_CHARS = 20_000
LINE_CHARS = 1000


class Form:
    """A posted form's fields (``application/x-www-form-urlencoded``)."""

    def __init__(self, fields: Mapping[str, Sequence[str]]) -> None:
        self._fields = fields

    @classmethod
    def parse(cls, body: bytes) -> Form:
        """Raises: InvalidRequest: not UTF-8, or too many fields."""
        try:
            text = body.decode("utf-8")
            return cls(parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidRequest(f"The form cannot be read: {exc}") from None

    def get(self, name: str) -> str | None:
        values = self._fields.get(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return list(self._fields.get(name) or [])

    def text(
        self, name: str, label: str, *, required: bool = False, limit: int = LINE_CHARS
    ) -> str:
        """The field's text, stripped ("" when absent and not required).

        Raises:
            InvalidRequest: a required field is blank, or the text is too long.
        """
        value = (self.get(name) or "").strip()
        if required and not value:
            raise InvalidRequest(f"{label} is required")
        if len(value) > limit:
            raise InvalidRequest(f"{label} is longer than {limit} characters")
        return value


@dataclass(frozen=True, slots=True)
class TicketPatch:
    """A patch of the ticket: ``patchTroubleTicket`` with ``body`` in ``media_type``."""

    body: Any
    media_type: str = MERGE_PATCH
    operation: str = "patchTroubleTicket"


def add_note(form: Form, ticket: Mapping[str, Any], *, author: str, now: datetime) -> TicketPatch:
    """A note appended to the ticket's notes (a JSON Patch ``add``: a note another writer adds
    meanwhile is kept)."""
    note: JSON = {
        "@type": "Note",
        "author": author,
        "date": timestamp(now),
        "text": form.text("text", "The note", required=True, limit=NOTE_CHARS),
    }
    if ticket.get("note"):
        return TicketPatch([{"op": "add", "path": "/note/-", "value": note}], JSON_PATCH)
    return TicketPatch([{"op": "add", "path": "/note", "value": [note]}], JSON_PATCH)


def move_status(form: Form) -> TicketPatch:
    body: JSON = {
        "@type": "TroubleTicket",
        "status": form.text("status", "The status", required=True),
    }
    reason = form.text("reason", "The reason")
    if reason:
        body["statusChangeReason"] = reason
    return TicketPatch(body)


def escalate(form: Form) -> TicketPatch:
    raw = form.text("level", "The level", required=True)
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_LEVEL:
        raise InvalidRequest(f"The level must be a whole number from 0 to {MAX_LEVEL}")
    return TicketPatch(
        {
            "@type": "TroubleTicket",
            "escalationLevel": int(raw),
            "escalationReason": form.text("reason", "The reason", required=True),
        }
    )


def cancel(form: Form) -> TicketPatch:
    return TicketPatch(
        {
            "@type": "TroubleTicket",
            "status": "cancelled",
            "statusChangeReason": form.text("reason", "The reason", required=True),
        }
    )


def _date_time(form: Form, name: str, label: str) -> str | None:
    """A ``datetime-local`` field (read as UTC) as a date-time, or ``None`` when blank."""
    raw = form.text(name, label)
    if not raw:
        return None
    moment = instant(raw)
    if moment is None:
        raise InvalidRequest(f"{label} is not a date and time: {raw!r}")
    return timestamp(moment)


def plan_activity(form: Form, known: Sequence[str]) -> JSON:
    """The create request of ``createTroubleTicketRecoveryActivity`` (``known``: the ids of the
    ticket's activities, which ``dependsOn`` may name)."""
    body: JSON = {
        "@type": "RecoveryActivity",
        "name": form.text("name", "The name", required=True),
        # the create request must name it (RecoveryActivity_FVO)
        "activityType": form.text("activityType", "The type", required=True),
    }
    start = _date_time(form, "plannedStartDate", "The planned start")
    end = _date_time(form, "plannedEndDate", "The planned end")
    if start is not None:
        body["plannedStartDate"] = start
    if end is not None:
        body["plannedEndDate"] = end
    depends = list(dict.fromkeys(value for value in form.all("dependsOn") if value))
    unknown = [value for value in depends if value not in known]
    if unknown:
        raise InvalidRequest(f"dependsOn names no activity of this ticket: {', '.join(unknown)}")
    if depends:
        body["dependsOn"] = depends
    body["mandatory"] = form.get("mandatory") in ("on", "true", "1")
    return body


# The states an activity's form may move it to (the step the page offers).
ACTIVITY_STEPS = ("inProgress", "completed")


def activity_state(form: Form) -> JSON:
    """The merge patch of ``patchTroubleTicketRecoveryActivity`` moving an activity on."""
    state = form.text("state", "The state", required=True)
    if state not in ACTIVITY_STEPS:
        raise InvalidRequest(f"The console starts or completes an activity, not {state!r}")
    return {"@type": "RecoveryActivity", "state": state}
