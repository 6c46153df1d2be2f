"""Conditional requests (RFC 9110 §13): ETag on every single-resource response, If-Match on
PATCH and DELETE, If-None-Match on GET.

The entity tag is the resource's stored version, quoted: ``"7"``. It changes with every write and
never repeats for a resource, so a client that sends ``If-Match: "7"`` edits exactly what it read.
A recovery activity, written as part of its ticket, is tagged by a digest of its content instead
(``services.activities.entity_tag``): it changes when the activity does, not when the ticket does.
"""

from __future__ import annotations

import re

from troubleticket.domain.errors import InvalidRequest
from troubleticket.services.rules import VersionCondition

# One entity tag in a list: optional weakness prefix, then an opaque quoted string.
_ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')


def etag(version: int | str) -> str:
    return f'"{version}"'


def _parse(header: str) -> tuple[bool, list[tuple[bool, str]]]:
    """``(is_star, [(weak, opaque), ...])`` for an If-Match / If-None-Match value.

    Raises:
        InvalidRequest: the value is neither ``*`` nor a list of entity tags.
    """
    if header.strip() == "*":
        return True, []
    tags: list[tuple[bool, str]] = []
    position = 0
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if match is None or match.end() == position:
            raise InvalidRequest(f"{header!r} is not '*' or a list of entity tags such as \"3\"")
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    if not tags:
        raise InvalidRequest("An empty entity tag list matches nothing")
    return False, tags


def if_match(header: str | None) -> VersionCondition | None:
    """The versions an If-Match header accepts; ``None`` when there is no header.

    If-Match compares strongly (RFC 9110 §13.1.1), so a weak tag never matches.

    Raises:
        InvalidRequest: the header is malformed.
    """
    if header is None:
        return None
    star, tags = _parse(header)
    if star:
        return lambda _version: True
    accepted = frozenset(opaque for weak, opaque in tags if not weak)
    return lambda version: str(version) in accepted


def none_match(header: str | None, version: int | str) -> bool:
    """True when an If-None-Match header names the current version (weak comparison) or is ``*``.

    Raises:
        InvalidRequest: the header is malformed.
    """
    if header is None:
        return False
    star, tags = _parse(header)
    return star or any(opaque == str(version) for _weak, opaque in tags)
