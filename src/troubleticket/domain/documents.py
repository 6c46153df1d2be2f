"""Rules every TMF resource document follows, whatever its type.

A document is the JSON object exchanged with clients. The server owns some of its attributes
(``id``, ``href``, timestamps): clients may echo them back unchanged, never change them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from troubleticket.domain.errors import Conflict, InvalidRequest, ServerOwnedField
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


def check_type(body: Mapping[str, Any], expected: str, current: str | None = None) -> None:
    """Refuse a document whose ``@type`` is neither the resource's class nor a subclass of it.

    TMF polymorphism (TMF630 Part 2): ``@type`` names the class of the document; a subclass
    names its base in ``@baseType`` (and where its schema is in ``@schemaLocation``). On a patch
    (``current`` given: the resource's own ``@type``) the class of the resource or the base
    class may be named; the resource keeps its class either way.

    Raises:
        InvalidRequest: a create request names another class without ``@baseType`` naming
            ``expected`` (code ``baseTypeRequired``).
        Conflict: a patch names a class other than the resource's own or its base class.
    """
    given = body.get("@type")
    if given is None or given == expected:
        return
    if current is not None:
        if given != current:
            raise Conflict(
                f"This {expected} is of class {current!r}; a patch cannot make it a {given!r}",
                code="classChange",
            )
        return
    if body.get("@baseType") != expected:
        raise InvalidRequest(
            f"@type {given!r} is not {expected!r}: a subclass of {expected} says so with "
            f'"@baseType": {expected!r}',
            code="baseTypeRequired",
        )


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
    """What every resource type declares about the attributes of its documents.

    * ``server_owned``: attributes only the server sets. Where the contract leaves one out of
      its create view (``_FVO``) a create request may not carry it (400); where it leaves one
      out of its patch view (``_MVO``) a patch may only repeat its current value (400).
    * ``assigned``: attributes the contract lets a client send on create although the server
      sets them (``id``, ``href`` …): the server's value replaces the client's.
    * ``kept``: attributes the contract lets a client send in a patch although the server keeps
      them (``href``, ``statusChangeHistory`` …): what a patch says of them is ignored.
    * ``immutable``: attributes a patch may repeat but never change (``id``): the identity of
      the resource (409).
    * ``not_removable``: attributes a document of that type cannot lose.
    """

    resource_type: str
    server_owned: tuple[str, ...]
    not_removable: tuple[str, ...]
    assigned: tuple[str, ...] = ("id", "href")
    kept: tuple[str, ...] = ("href",)
    immutable: tuple[str, ...] = ("id",)

    def check_create(self, body: Mapping[str, Any]) -> JSON:
        """The create request without what the server assigns, once checked.

        Raises:
            InvalidRequest: ``@type`` names another class that is not a subclass.
            ServerOwnedField: the request sets an attribute outside the contract's create view
                that only the server sets.
        """
        check_type(body, self.resource_type)
        reject_server_owned(body, [n for n in self.server_owned if n not in self.assigned])
        return without(body, self.assigned)

    def merge(self, current: JSON, patch: JSON) -> JSON:
        """The document after a merge patch that respects the type's rules.

        Raises:
            InvalidRequest: an attribute that cannot be removed is set to ``null``.
            Conflict: the patch changes the resource's id or class.
            ServerOwnedField: the patch changes an attribute only the server sets.
        """
        own_type = current.get("@type", self.resource_type)
        check_type(patch, self.resource_type, own_type)
        changed = [
            name for name in self.immutable if name in patch and patch[name] != current.get(name)
        ]
        if changed:
            raise Conflict(
                f"{', '.join(changed)} identifies the {self.resource_type} and cannot change",
                code="identityChange",
            )
        owned = [name for name in self.server_owned if name not in self.kept]
        reject_server_owned_changes(current, patch, owned)
        reject_removal(patch, self.not_removable)
        ignored = {*self.server_owned, *self.kept, *self.immutable, "@type"}
        merged: JSON = merge_patch(current, without(patch, ignored))
        return merged


def note_key(note: Mapping[str, Any]) -> str:
    """What tells one note from another wherever it is copied: its author, date and text."""
    text = "|".join(str(note.get(name, "")) for name in ("author", "date", "text"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
