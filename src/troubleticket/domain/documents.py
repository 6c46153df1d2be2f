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


def merge_diff(source: JSON, target: JSON) -> JSON:
    """The RFC 7396 merge patch that turns ``source`` into ``target``.

    Members ``target`` lacks become ``null``, objects on both sides are diffed member by member,
    any other changed value (arrays included) is replaced whole, and unchanged members are left
    out, so ``merge_patch(source, merge_diff(source, target)) == target``. Neither argument is
    modified; the patch may share values with ``target``.

    Raises:
        InvalidRequest: ``target`` has a ``null`` object member (at any depth not inside an
            array): a merge patch reads ``null`` as "remove", so it cannot set one, and no TMF
            schema allows one. Inside arrays ``null`` is kept, as arrays are replaced whole.
    """
    _reject_null_members(target, "")
    return _object_diff(source, target)


def _object_diff(source: Mapping[str, Any], target: Mapping[str, Any]) -> JSON:
    patch: JSON = {}
    for key, new in target.items():
        if key in source and _same_json(source[key], new):
            continue
        old = source.get(key)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            patch[key] = _object_diff(old, new)
        else:
            patch[key] = new
    patch.update((key, None) for key in source if key not in target)
    return patch


def _same_json(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: unlike Python's ``==``, ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same_json(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _reject_null_members(value: Any, pointer: str) -> None:
    if not isinstance(value, Mapping):
        return
    for key, member in value.items():
        # RFC 6901 escaping, so the message names the member as a JSON Pointer.
        path = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
        if member is None:
            raise InvalidRequest(f"{path} would be null: attributes cannot be set to null")
        _reject_null_members(member, path)


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
