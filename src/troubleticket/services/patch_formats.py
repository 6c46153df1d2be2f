"""Turn every PATCH format TMF621 declares into the one merge patch the domain understands.

The domain speaks RFC 7396 merge patch only: that is where the server-owned attributes, the
lifecycle table and the status change reasons are enforced. TMF621 also declares RFC 6902 JSON
Patch (``application/json-patch+json``) and TMF630's JSON Patch Query
(``application/json-patch-query+json``). This module applies such a patch to a copy of the
current document and hands back the merge patch between the two, so every rule applies to
every format and no rule has to be written twice.

The RFC 6902 semantics (``test``, ``move``, ``copy``, pointer escaping) come from ``jsonpatch``;
what is added here is TMF's: one tolerated quirk of its examples, the query paths, and errors in
the domain's own terms, naming the failing operation by its index in the request body.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonpatch
from jsonpointer import JsonPointer, JsonPointerException

from troubleticket.domain.documents import merge_diff, merge_patch
from troubleticket.domain.errors import InvalidRequest, NotSupported, PatchTestFailed
from troubleticket.services.limits import Limits, PatchBudget
from troubleticket.types import JSON

JSON_PATCH = "application/json-patch+json"
JSON_PATCH_QUERY = "application/json-patch-query+json"
MERGE_PATCH = "application/merge-patch+json"
MERGE_PATCH_TYPES = frozenset({"application/json", MERGE_PATCH})

# Which members each RFC 6902 operation needs besides "op" and "path" (RFC 6902 §4).
_OPERATIONS: dict[str, tuple[str, ...]] = {
    "add": ("value",),
    "remove": (),
    "replace": ("value",),
    "move": ("from",),
    "copy": ("from",),
    "test": ("value",),
}

# A TMF630 condition: an attribute name (no operator characters), "=", the value as text.
_CONDITION = re.compile(r"([^=!<>&()\[\]\s]+)=(.*)", re.DOTALL)

_ABSENT = object()


def as_merge_patch(current: JSON, body: Any, media_type: str, *, limits: Limits) -> JSON:
    """The merge patch that does to ``current`` what ``body``, sent as ``media_type``, asks for.

    A merge patch is returned as it is. A JSON Patch is applied, all or nothing, to a copy of
    ``current`` (which is never modified) and the difference is returned. A JSON Patch Query
    is the same after each query path has been expanded into plain paths, against the document
    as the operations before it left it. Operations are named by their index in ``body``,
    counting from 0. ``limits`` are checked as each operation is applied: the first that makes
    the document or one of its arrays too large stops the patch.

    Raises:
        NotSupported: ``media_type`` is none of the PATCH formats TMF621 declares, or a query
            path uses a syntax other than ``attribute=value`` conditions joined by ``&``.
        InvalidRequest: a merge patch is not an object; a JSON Patch is not an array of
            objects, or one of its operations is malformed or cannot be applied; the patched
            document is not an object or has an attribute set to ``null``.
        PatchTestFailed: a ``test`` operation found another value.
        LimitExceeded: more operations than one patch may have, or one that makes the document
            or an array of it larger than the limits.
    """
    media_type = media_type.split(";", 1)[0].strip().lower()
    if media_type in MERGE_PATCH_TYPES:
        if not isinstance(body, dict):
            raise InvalidRequest("A merge patch must be a JSON object")
        return body
    if media_type not in (JSON_PATCH, JSON_PATCH_QUERY):
        raise NotSupported(f"PATCH with {media_type} is not supported")
    if not isinstance(body, list):
        raise InvalidRequest(f"A {media_type} body must be a JSON array of operations")

    limits.check_operations(len(body))
    doc: Any = copy.deepcopy(current)
    budget = PatchBudget(doc, limits)
    for index, raw in enumerate(body):
        operation = _checked(index, raw)
        if media_type == JSON_PATCH_QUERY:
            plain_operations = _expand_query(index, operation, doc)
        else:
            plain_operations = [operation]
        for plain in plain_operations:
            doc = _apply(index, operation, _tmf_lenient(plain, doc), doc, budget)

    if not isinstance(doc, dict):
        raise InvalidRequest("The patched document must be a JSON object")
    return merge_diff(current, doc)


def _label(index: int, operation: JSON) -> str:
    return f"operation {index} ({operation['op']} {json.dumps(operation['path'])})"


def _checked(index: int, raw: Any) -> JSON:
    """``raw`` if it is a well-formed RFC 6902 operation, before any of it is applied."""
    if not isinstance(raw, dict):
        raise InvalidRequest(f"operation {index} must be a JSON object")
    op = raw.get("op")
    if not isinstance(op, str) or op not in _OPERATIONS:
        known = ", ".join(_OPERATIONS)
        raise InvalidRequest(f"operation {index}: op must be one of {known}, not {op!r}")
    if not isinstance(raw.get("path"), str):
        raise InvalidRequest(f"operation {index} ({op}): path must be a string")
    for member in _OPERATIONS[op]:
        if member not in raw:
            raise InvalidRequest(f"{_label(index, raw)}: {member!r} is missing")
    if "from" in _OPERATIONS[op] and not isinstance(raw["from"], str):
        raise InvalidRequest(f"{_label(index, raw)}: 'from' must be a string")
    return raw


def _pointer(label: str, text: str) -> JsonPointer:
    try:
        return JsonPointer(text)
    except JsonPointerException as exc:
        raise InvalidRequest(f"{label}: {json.dumps(text)} is not a JSON Pointer ({exc})") from None


def _exists(label: str, path: str, doc: Any) -> bool:
    return _pointer(label, path).resolve(doc, _ABSENT) is not _ABSENT


def _tmf_append(operation: JSON, doc: Any) -> JSON:
    """Read an ``add`` of a single value onto an existing array as an append to that array.

    TMF621's own JSON Patch example (TroubleTicket_partialupdate_example_application_json_patch)
    adds a note with ``{"op": "add", "path": "/note", "value": {"@type": "Note", ...}}`` while
    ``note`` is an array of notes. RFC 6902 would replace the whole array with that one object,
    a document no TMF schema accepts, so the operation is read as the append (``/note/-``) the
    example means. Only an object member holding an array is treated so: an ``add`` into an
    array element (``/a/0``) keeps its RFC meaning, and so does an ``add`` of an array value or
    of a member that does not exist yet.
    """
    if operation["op"] != "add" or isinstance(operation["value"], list):
        return operation
    try:
        parent, last = JsonPointer(operation["path"]).to_last(doc)
    except JsonPointerException:
        return operation  # let jsonpatch report the bad path
    if isinstance(parent, dict) and isinstance(last, str) and isinstance(parent.get(last), list):
        return {**operation, "path": f"{operation['path']}/-"}
    return operation


def _tmf_lenient(operation: JSON, doc: Any) -> JSON:
    """The operation as TMF621's own examples mean it (``_tmf_append``, ``_replace_sets``)."""
    return _replace_sets(_tmf_append(operation, doc), doc)


def _replace_sets(operation: JSON, doc: Any) -> JSON:
    """Read a ``replace`` of an object member that is not there as an ``add``: it sets the
    member, as a merge patch would.

    RFC 6902 wants the target of a replace to exist. TMF621's own examples do not: the JSON
    Patch example for TroubleTicketSpecification replaces ``/lifecycleStatus``, which its own
    create example does not set, and the JSON Patch Query example replaces ``/sererity``. Each
    still says which value to set where. A replace inside an array, or under a member that is
    not there, keeps its RFC meaning (and fails).
    """
    if operation["op"] != "replace":
        return operation
    try:
        parent, last = JsonPointer(operation["path"]).to_last(doc)
    except JsonPointerException:
        return operation  # let the operation report the bad path
    if isinstance(parent, dict) and isinstance(last, str) and last not in parent:
        return {**operation, "op": "add"}
    return operation


def _apply(index: int, original: JSON, operation: JSON, doc: Any, budget: PatchBudget) -> Any:
    """``doc`` after one plain operation; ``doc`` is this module's own copy and may change.

    ``original`` is the operation as the client wrote it, to name it in errors; ``budget``
    accounts for what the operation adds.
    """
    label = _label(index, original)
    op = operation["op"]
    # Locations that must exist are checked first, so the message does not depend on the
    # wording of the library's exceptions (which can include the whole document).
    _pointer(label, operation["path"])
    if op in ("remove", "replace") and not _exists(label, operation["path"], doc):
        raise InvalidRequest(f"{label}: {json.dumps(operation['path'])} does not exist")
    if op in ("move", "copy") and not _exists(label, operation["from"], doc):
        raise InvalidRequest(f"{label}: from {json.dumps(operation['from'])} does not exist")
    added, array = _growth(operation, doc)
    was = len(array) if array is not None else 0
    try:
        doc = jsonpatch.JsonPatch([operation]).apply(doc, in_place=True)
    except jsonpatch.JsonPatchTestFailed:
        expected = json.dumps(operation["value"])
        raise PatchTestFailed(
            f"{label}: the value at {json.dumps(operation['path'])} is not {expected}"
        ) from None
    except (jsonpatch.JsonPatchException, JsonPointerException) as exc:
        raise InvalidRequest(f"{label}: {_brief(exc)}") from None
    where = operation["path"].rsplit("/", 1)[0] or "/"
    budget.spend(doc, added, where, array, was)
    return doc


def _growth(operation: JSON, doc: Any) -> tuple[int, list[Any] | None]:
    """What an operation may add to ``doc``: at most how many bytes, and the array it puts an
    item into (``None``: none)."""
    op = operation["op"]
    if op in ("remove", "test"):
        return 0, None
    try:
        parent, _ = JsonPointer(operation["path"]).to_last(doc)
    except JsonPointerException:
        parent = None  # the operation reports the bad path
    array = parent if isinstance(parent, list) else None
    if op == "move":
        return 0, array
    if op == "copy":
        value = JsonPointer(operation["from"]).resolve(doc, None)
    else:
        value = operation["value"]
    return PatchBudget.adding(value, operation["path"]), array


def _brief(exc: Exception) -> str:
    """The library's message without the document it may quote."""
    message = str(exc)
    cut = message.find("' not found in ")
    if cut >= 0:
        message = message[: cut + len("' not found")]
    return message if len(message) <= 200 else f"{message[:200]}..."


# TMF630 Part 5, JSON Patch Query: "/note?id=77456" selects the elements of the note array whose
# id is 77456, "/note/text?id=77456" the text of each of them.


def _expand_query(index: int, operation: JSON, doc: Any) -> list[JSON]:
    """The plain RFC 6902 operations a JSON Patch Query operation stands for in ``doc``.

    Raises:
        NotSupported: the path or ``from`` uses a query syntax this server does not offer.
        InvalidRequest: the path does not lead to an array, or no element matches.
    """
    path: str = operation["path"]
    label = _label(index, operation)
    if "[?(" in path or path.startswith("$"):
        raise NotSupported(
            f"{label}: JSONPath expressions are not supported; "
            "select array elements with /array?attribute=value"
        )
    if operation["op"] in ("move", "copy") and "?" in operation["from"]:
        raise NotSupported(f"{label}: a query in 'from' is not supported")
    if "?" not in path:
        return [operation]

    pointer, query = path.split("?", 1)
    parts = _pointer(label, pointer).parts
    array_parts, sub_parts, elements = _find_array(label, parts, doc)
    conditions = _conditions(label, query, array_parts[-1])

    selected = [i for i, element in enumerate(elements) if _matches(element, conditions)]
    if not selected:
        name = "/".join(array_parts)
        raise InvalidRequest(f"{label}: no element of {name} matches {query}")
    # Descending: changing an element never shifts the ones before it, so every expanded path
    # stays valid whatever the operation does to the array (removes, inserts, moves).
    return [
        {
            **_merging_into(operation, elements[i], whole=not sub_parts),
            "path": JsonPointer.from_parts([*array_parts, i, *sub_parts]).path,
        }
        for i in reversed(selected)
    ]


def _merging_into(operation: JSON, element: Any, *, whole: bool) -> JSON:
    """A ``replace`` of whole elements selected by a query, with an object value, merges that
    value into each element (RFC 7396: members given are set, ``null`` ones removed).

    That is what TMF621's own examples show: ``/note?id=77456`` replaced by ``{"author",
    "text"}`` answers the note with its id, date and ``@type`` kept, and
    ``/specCharacteristic?id=5`` replaced by ``{"configurable": false}`` answers the
    characteristic with every other attribute kept. A replace at a sub-path
    (``/note/text?id=2``) or with another kind of value keeps its RFC 6902 meaning.
    """
    value = operation.get("value")
    if operation["op"] != "replace" or not whole:
        return operation
    if not isinstance(value, dict) or not isinstance(element, dict):
        return operation
    return {**operation, "value": merge_patch(element, value)}


def _find_array(label: str, parts: list[str], doc: Any) -> tuple[list[str], list[str], list[Any]]:
    """Split the pointer into the first array it reaches through objects and the rest."""
    node = doc
    for depth, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            missing = JsonPointer.from_parts(parts[: depth + 1]).path
            raise InvalidRequest(f"{label}: {json.dumps(missing)} does not exist")
        node = node[part]
        if isinstance(node, list):
            return parts[: depth + 1], parts[depth + 1 :], node
    raise InvalidRequest(f"{label}: a query path must lead to an array")


def _conditions(label: str, query: str, array_name: str) -> list[tuple[list[str], str]]:
    """Each ``attribute=value`` of the query as (attribute path, value)."""
    conditions: list[tuple[list[str], str]] = []
    for condition in query.split("&"):
        match = _CONDITION.fullmatch(condition)
        if match is None or match.group(2).startswith("="):
            raise NotSupported(
                f"{label}: only attribute=value conditions joined by & are supported, "
                f"not {condition!r}"
            )
        attribute, value = match.groups()
        # TMF630 may prefix the attribute with the array's own name: orderItem.product.id.
        attribute = attribute.removeprefix(f"{array_name}.")
        names = attribute.split(".")
        if "" in names:
            raise NotSupported(f"{label}: {condition!r} is not an attribute=value condition")
        conditions.append((names, value))
    return conditions


def _matches(element: Any, conditions: list[tuple[list[str], str]]) -> bool:
    return all(_as_text(_attribute(element, names)) == value for names, value in conditions)


def _attribute(element: Any, names: list[str]) -> Any:
    node = element
    for name in names:
        if not isinstance(node, dict) or name not in node:
            return _ABSENT
        node = node[name]
    return node


def _as_text(value: Any) -> str | None:
    """A scalar as a query writes it: ``77456`` for both ``"77456"`` and ``77456``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)  # JSON spelling: true, not Python's True
    return None
