"""The exception hierarchy of the trouble ticket domain.

::

    TroubleTicketError
     +-- NotFound                 a resource with that id does not exist
     +-- InvalidRequest           the request breaks a business rule beyond the schema
     |    +-- ServerOwnedField    a client tried to write an attribute only the server sets
     |    +-- ReasonRequired      the target status needs a statusChangeReason
     +-- InvalidTransition        the lifecycle table forbids from_status -> to_status
     +-- Conflict                 the resource kept changing under a write; nothing was written
     +-- PreconditionFailed       the resource is not at a version the client's If-Match names
     +-- Unauthorized             the request does not prove who sent it (a bad signature)
     +-- Forbidden                the policy requires a role the request does not have
     +-- NotSupported             a declared feature this server does not offer
     +-- PatchTestFailed          a JSON Patch ``test`` operation did not hold

``api/errors.py`` maps each class to an HTTP status; every class carries a stable ``code`` that
clients can branch on.
"""

from __future__ import annotations


class TroubleTicketError(Exception):
    """Base class: ``code`` is the machine-readable TMF Error code."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        """``code``: a more precise code than the class's own, for one rule."""
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(TroubleTicketError):
    code = "notFound"

    def __init__(self, kind: str, resource_id: str) -> None:
        super().__init__(f"No {kind} with id {resource_id!r}")
        self.kind = kind
        self.resource_id = resource_id


class InvalidRequest(TroubleTicketError):
    code = "invalidRequest"


class ServerOwnedField(InvalidRequest):
    code = "serverOwnedField"

    def __init__(self, fields: list[str]) -> None:
        names = ", ".join(fields)
        super().__init__(f"Attribute(s) set by the server and not writable by clients: {names}")
        self.fields = fields


class ReasonRequired(InvalidRequest):
    code = "statusChangeReasonRequired"

    def __init__(self, status: str, *, attribute: str = "status") -> None:
        """``attribute``: the lifecycle attribute (``status``; ``state`` for activities)."""
        super().__init__(
            f"Changing the {attribute} to {status!r} requires a {attribute}ChangeReason",
            code=f"{attribute}ChangeReasonRequired",
        )
        self.status = status


class InvalidTransition(TroubleTicketError):
    code = "invalidStatusTransition"

    def __init__(
        self,
        from_status: str,
        to_status: str,
        allowed: list[str],
        *,
        kind: str = "trouble ticket",
        attribute: str = "status",
    ) -> None:
        """``kind`` and ``attribute`` name what has the lifecycle (a recovery activity's state)."""
        options = ", ".join(allowed) if allowed else f"none, it is a final {attribute}"
        super().__init__(
            f"A {kind} cannot go from {attribute} {from_status!r} to {to_status!r} "
            f"(allowed from {from_status!r}: {options})",
            code=f"invalid{attribute[:1].upper()}{attribute[1:]}Transition",
        )
        self.from_status = from_status
        self.to_status = to_status
        self.allowed = allowed


class Conflict(TroubleTicketError):
    code = "conflict"


class PreconditionFailed(TroubleTicketError):
    code = "preconditionFailed"


class Unauthorized(TroubleTicketError):
    code = "unauthorized"


class Forbidden(TroubleTicketError):
    code = "forbidden"


class NotSupported(TroubleTicketError):
    code = "notImplemented"


class PatchTestFailed(TroubleTicketError):
    """A JSON Patch (RFC 6902) ``test`` operation found another value; nothing was changed."""

    code = "patchTestFailed"


class LimitExceeded(TroubleTicketError):
    """A write would produce more than the server keeps in one resource (its size, an array's
    items) or a request asks for more work than one request may (a patch's operations);
    nothing was changed. The code names the limit."""

    code = "limitExceeded"
