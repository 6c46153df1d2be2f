"""Rules every TMF resource document follows, whatever its type.

A document is the JSON object exchanged with clients. The server owns some of its attributes
(``id``, ``href``, timestamps): clients may echo them back unchanged, never change them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from troubleticket.domain.errors import InvalidRequest, ServerOwnedField
from troubleticket.types import JSON


def timestamp(now: datetime) -> str:
    """Render an instant the way every date-time leaves this server: UTC, milliseconds, ``Z``."""
    if now.tzinfo is None:
        raise ValueError("timestamps need a timezone-aware datetime")
    return now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7396 JSON Merge Patch and return the result; neither argument is modified.

    Objects merge key by key, ``null`` removes a key, anything else (arrays included) replaces.
    """
    # RFC 7396 §2 gives the whole algorithm in ten lines; a dependency would add nothing to it.
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def require_type(body: Mapping[str, Any], expected: str) -> None:
    """Refuse a document whose ``@type`` is not the resource's own type.

    TMF621 maps only its own class name for the resource's ``@type`` discriminator; a document
    of another type would be read back as a type clients cannot resolve.

    Raises:
        InvalidRequest: ``@type`` is given and is not ``expected`` (removing it is
            ``reject_removal``'s concern).
    """
    if body.get("@type") not in (None, expected):
        raise InvalidRequest(f"@type must be {expected!r}, not {body['@type']!r}")


def reject_server_owned(body: Mapping[str, Any], owned: Iterable[str]) -> None:
    """Refuse a create request that sets attributes only the server may set.

    Raises:
        ServerOwnedField: ``body`` carries one of ``owned``.
    """
    present = [name for name in owned if name in body]
    if present:
        raise ServerOwnedField(present)


def reject_server_owned_changes(
    current: Mapping[str, Any], patch: Mapping[str, Any], owned: Iterable[str]
) -> None:
    """Refuse a patch that would change a server-owned attribute; echoing the value is allowed.

    Raises:
        ServerOwnedField: ``patch`` gives one of ``owned`` a value other than the current one.
    """
    changed = [name for name in owned if name in patch and patch[name] != current.get(name)]
    if changed:
        raise ServerOwnedField(changed)


def reject_removal(patch: Mapping[str, Any], kept: Iterable[str]) -> None:
    """Refuse a merge patch that removes (sets to ``null``) an attribute the resource cannot lose.

    Raises:
        InvalidRequest: ``patch`` sets one of ``kept`` to ``null``.
    """
    removed = [name for name in kept if name in patch and patch[name] is None]
    if removed:
        raise InvalidRequest(f"Attribute(s) cannot be removed: {', '.join(removed)}")


def without(doc: Mapping[str, Any], names: Iterable[str]) -> JSON:
    """A shallow copy of ``doc`` without the given top-level attributes."""
    drop = set(names)
    return {key: value for key, value in doc.items() if key not in drop}


@dataclass(frozen=True, slots=True)
class DocumentRules:
    """What every resource type declares: its class name, the attributes the server owns, and
    the attributes a document of that type cannot lose."""

    resource_type: str
    server_owned: tuple[str, ...]
    not_removable: tuple[str, ...]

    def check_create(self, body: Mapping[str, Any]) -> None:
        """Refuse a create request of another type or setting server-owned attributes.

        Raises:
            InvalidRequest: ``@type`` names another resource type.
            ServerOwnedField: the request sets an attribute only the server sets.
        """
        require_type(body, self.resource_type)
        reject_server_owned(body, self.server_owned)

    def merge(self, current: JSON, patch: JSON) -> JSON:
        """The document after a merge patch that respects the type's rules.

        Raises:
            InvalidRequest: ``@type`` names another type, or an attribute that cannot be
                removed is set to ``null``.
            ServerOwnedField: the patch changes an attribute only the server sets.
        """
        require_type(patch, self.resource_type)
        reject_server_owned_changes(current, patch, self.server_owned)
        reject_removal(patch, self.not_removable)
        merged: JSON = merge_patch(current, without(patch, self.server_owned))
        return merged
