"""TMF630 attribute selection (``fields=``), paging parameters and RFC 8288 Link headers."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_plus

from troubleticket.domain.errors import InvalidRequest
from troubleticket.store.jsonpath import parse_jsonpath_filter
from troubleticket.store.port import ListQuery, Page
from troubleticket.store.query import Filter, parse_filter, parse_sort
from troubleticket.types import JSON

# TMF630 keeps id and href in every selection; TMF621 v5 requires @type on every resource
# representation (TroubleTicket_RES), so it is kept too, fields=none included.
ALWAYS_KEPT = ("id", "href", "@type")
MAX_OFFSET = 2**53


def parse_fields(raw: str | None) -> frozenset[str] | None:
    """The first-level attributes asked for, or ``None`` for the whole resource.

    ``fields=none`` selects nothing beyond the attributes that are always kept. A dotted name
    (``relatedParty.role``) selects its whole first-level attribute. An empty ``fields=`` names
    nothing and so selects nothing: the whole resource is returned, as without the parameter.
    """
    if raw is None:
        return None
    names = {part.strip().split(".", 1)[0] for part in raw.split(",")}
    names.discard("")
    if not names:
        return None
    if names == {"none"}:
        return frozenset()
    return frozenset(names)


def select(doc: JSON, fields: frozenset[str] | None) -> JSON:
    """The document reduced to the selected first-level attributes, in their stored order."""
    if fields is None:
        return doc
    return {key: value for key, value in doc.items() if key in fields or key in ALWAYS_KEPT}


@dataclass(frozen=True, slots=True)
class Paging:
    offset: int
    limit: int


def paging(offset: int | None, limit: int | None, *, default_limit: int, max_limit: int) -> Paging:
    """Validate ``offset``/``limit``; a missing offset is 0 and a missing limit the default page.

    Raises:
        InvalidRequest: a negative offset, or a limit outside 0..max_limit.
    """
    offset = 0 if offset is None else offset
    limit = default_limit if limit is None else limit
    if offset < 0:
        raise InvalidRequest(f"offset must be 0 or more, not {offset}")
    # Beyond any count a store can hold the page is empty whatever the offset; the stores take
    # 64-bit offsets only.
    offset = min(offset, MAX_OFFSET)
    if not 0 <= limit <= max_limit:
        raise InvalidRequest(f"limit must be between 0 and {max_limit}, not {limit}")
    return Paging(offset, limit)


def list_query(
    raw_query: str,
    *,
    sort: str | None,
    jsonpath: str | None,
    offset: int | None,
    limit: int | None,
    after: str | None,
    before: str | None,
    default_limit: int,
    max_limit: int,
) -> ListQuery:
    """The listing a request asks for: attribute filters and JSONPath together, sort, page.

    Raises:
        InvalidRequest: malformed filters or sort, bad paging values, both cursors, or a cursor
            together with an offset.
        NotSupported: a JSONPath form the server does not offer.
    """
    # An empty cursor asks for nothing, like an absent one.
    after, before = after or None, before or None
    if after and before:
        raise InvalidRequest("Send either after or before, not both")
    if (after or before) and offset:
        raise InvalidRequest("Page either by offset or by cursor (after/before), not both")
    page = paging(offset, limit, default_limit=default_limit, max_limit=max_limit)
    where = parse_filter(raw_query)
    if jsonpath:
        # A resource must satisfy both the attribute filters and the JSONPath predicate.
        where = Filter(where.groups + parse_jsonpath_filter(jsonpath).groups)
    return ListQuery(
        where=where,
        sort=parse_sort(sort),
        offset=page.offset,
        limit=page.limit,
        after=after,
        before=before,
    )


def page_links(
    url: str, raw_query: str, query: ListQuery, page: Page, *, by_offset: bool
) -> str | None:
    """The Link header: by offset when the client paged by offset, else by cursor."""
    if by_offset:
        return offset_links(url, raw_query, Paging(query.offset, query.limit), page.counted)
    return cursor_links(url, raw_query, query.limit, page)


def _query_without(raw_query: str, names: tuple[str, ...]) -> list[str]:
    # The other terms are kept exactly as the client sent them: TMF630 filters can carry encoded
    # operators that decoding and re-encoding would change.
    return [
        term
        for term in raw_query.split("&")
        if term and unquote_plus(term.split("=", 1)[0]) not in names
    ]


def _links(links: list[tuple[str, str]]) -> str:
    return ", ".join(f'<{target}>; rel="{rel}"' for target, rel in links)


def offset_links(url: str, raw_query: str, page: Paging, total: int) -> str | None:
    """RFC 8288 links to the first, previous, next and last pages by offset."""
    if page.limit == 0:
        return None
    kept = _query_without(raw_query, ("offset", "limit"))

    def at(offset: int) -> str:
        return f"{url}?{'&'.join([*kept, f'offset={offset}', f'limit={page.limit}'])}"

    last = max(0, (total - 1) // page.limit * page.limit)
    links = [(at(0), "first")]
    if page.offset > 0:
        links.append((at(max(0, page.offset - page.limit)), "prev"))
    if page.offset + page.limit < total:
        links.append((at(page.offset + page.limit), "next"))
    links.append((at(last), "last"))
    return _links(links)


def cursor_links(url: str, raw_query: str, limit: int, page: Page) -> str | None:
    """RFC 8288 links to the first page and, by cursor, to the pages before and after this one.

    Cursor pages stay put when tickets are created meanwhile, which offsets do not.
    """
    if limit == 0:
        return None
    kept = _query_without(raw_query, ("offset", "limit", "after", "before"))

    def at(*extra: str) -> str:
        return f"{url}?{'&'.join([*kept, *extra, f'limit={limit}'])}"

    links = [(at(), "first")]
    if page.prev_cursor:
        links.append((at(f"before={page.prev_cursor}"), "prev"))
    if page.next_cursor:
        links.append((at(f"after={page.next_cursor}"), "next"))
    return _links(links)
