"""TMF621 v4 and v5 shapes of the same ticket, hub and event: the mapping between them.

Tickets are stored in their v5 form; the v4 API root and v4 partners see and send the v4 form.
Pure functions, no I/O. What differs (docs/v4.md has the whole table):

* ``externalId`` (v4, one string) is the ``id`` of the first v5 ``externalIdentifier``;
* a v4 ``relatedParty`` is flat (``id``, ``href``, ``name``, ``@referredType``, ``role``), a v5
  one wraps the reference in ``partyOrPartyRole``; a v4 ``relatedEntity`` likewise wraps it in
  ``entity``. Their class, base class and schema are the wrapper's (v4 ``RelatedParty`` is v5
  ``RelatedPartyRefOrPartyRoleRef``; the base class is left implicit in the v4 form), and v4
  requires ``@referredType``: where v5 has none, the class the reference's ``@type`` names;
* v4 ``statusChange`` (``changeDate``, ``changeReason``, ``status``) is v5's
  ``statusChangeHistory`` (``statusChangeDate``, ``statusChangeReason``, ``status``);
* v5 requires ``@type`` on the ticket and every sub-object; what a v4 body leaves out gets the
  class TMF621 v5 names (``TroubleTicket``, ``Note``, ``ChannelRef`` …);
* hrefs of tickets name the root they are read through (``…/troubleTicket/v4/troubleTicket/…``).

What v4 cannot carry (``troubleTicketSpecification``, ``troubleTicketCharacteristic``, every
``externalIdentifier`` after the first, what a v5 sub-object has beyond its v4 shape, an item
lacking what the v4 schema requires — a related party without a reference, a related entity
without a role — and the server's extensions such as ``slaClock``) is not shown through v4, and
a v4 change keeps it: a v4 PATCH names whole arrays, each item it sends back as it read it keeps
its v5 original, and the items v4 does not show stay where they were.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from troubleticket.types import JSON

V4_ROOT = "/tmf-api/troubleTicket/v4"
V5_ROOT = "/tmf-api/troubleTicket/v5"

# The event types a v4 hub receives (TMF621 v4 has listeners for these alone).
EVENT_TYPES = frozenset(
    {
        "TroubleTicketCreateEvent",
        "TroubleTicketAttributeValueChangeEvent",
        "TroubleTicketStatusChangeEvent",
        "TroubleTicketDeleteEvent",
        "TroubleTicketResolvedEvent",
        "TroubleTicketInformationRequiredEvent",
    }
)

# TMF621 v4 TroubleTicket's attributes copied as they are (same name and value in v5).
_SAME = (
    "id",
    "href",
    "name",
    "description",
    "severity",
    "ticketType",
    "creationDate",
    "lastUpdate",
    "priority",
    "requestedResolutionDate",
    "expectedResolutionDate",
    "resolutionDate",
    "status",
    "statusChangeDate",
    "statusChangeReason",
    "@type",
    "@baseType",
    "@schemaLocation",
)
# Every attribute of the v4 TroubleTicket: the v4 form shows these alone.
V4_ATTRIBUTES = frozenset(
    {
        *_SAME,
        "externalId",
        "channel",
        "note",
        "attachment",
        "relatedParty",
        "relatedEntity",
        "statusChange",
        "troubleTicketRelationship",
    }
)
# Set by the server: a v4 create may carry them (its schema lists them), they are not taken.
SERVER_SET_ON_CREATE = ("id", "href", "creationDate", "lastUpdate", "statusChange")

_REF = ("id", "href", "name", "@referredType")
_EXTENSIBLE = ("@type", "@baseType", "@schemaLocation")
_NOTE = ("id", "author", "date", "text", *_EXTENSIBLE)
_CHANNEL = (*_REF, *_EXTENSIBLE)
_ATTACHMENT = (
    "id",
    "href",
    "attachmentType",
    "content",
    "description",
    "mimeType",
    "name",
    "url",
    "size",
    "validFor",
    "@referredType",
    *_EXTENSIBLE,
)
_ATTACHMENT_VALUE = ("attachmentType", "content", "mimeType", "size", "validFor")
_RELATIONSHIP = ("id", "href", "name", "relationshipType", *_EXTENSIBLE)
_EVENT_ENVELOPE = (
    "id",
    "href",
    "eventId",
    "eventTime",
    "eventType",
    "correlationId",
    "domain",
    "title",
    "description",
    "priority",
)


def _pick(source: Mapping[str, Any], names: Iterable[str]) -> JSON:
    return {name: source[name] for name in names if name in source}


def _typed(item: Mapping[str, Any], default: str) -> JSON:
    """``item`` with an ``@type``: its own, or ``default``."""
    typed = dict(item)
    if not isinstance(typed.get("@type"), str) or not typed["@type"]:
        typed["@type"] = default
    return typed


def base_of(href: Any) -> str | None:
    """The public base URL a ticket's href (at either root) starts with (``None``: not one)."""
    if isinstance(href, str):
        for root in (V5_ROOT, V4_ROOT):
            base, marker, _ = href.partition(f"{root}/troubleTicket/")
            if marker:
                return base
    return None


def _moved(href: Any, base: str | None, source: str, target: str) -> Any:
    if not isinstance(href, str) or base is None:
        return href  # another server's ticket (a partner's): its href is its own
    prefix = f"{base}{source}/troubleTicket/"
    if href.startswith(prefix):
        return f"{base}{target}/troubleTicket/{href[len(prefix) :]}"
    return href


def href_v4(href: Any, base: str | None = None) -> Any:
    """A ticket's href as read through the v4 root: of a ticket of this server (its public base
    URL ``base``); the hrefs of tickets elsewhere, or any when ``base`` is not known, are left as
    they are."""
    return _moved(href, base, V5_ROOT, V4_ROOT)


def href_v5(href: Any, base: str | None = None) -> Any:
    """A ticket's href at the v4 root as the v5 one (``base`` as for ``href_v4``)."""
    return _moved(href, base, V4_ROOT, V5_ROOT)


# -- sub-objects -------------------------------------------------------------------------------


# The v4 class of a related party is v5's RelatedPartyRefOrPartyRoleRef (a related entity is
# RelatedEntity at both): a v4 ``@type``/``@baseType`` naming it is the v5 class, and the
# default class is left implicit in the v4 form, as v4 bodies leave it.
_PARTY_CLASS = ("RelatedParty", "RelatedPartyRefOrPartyRoleRef")
_ENTITY_CLASS = ("RelatedEntity", "RelatedEntity")


def _class_v4(related: Mapping[str, Any], flat: JSON, names: tuple[str, str]) -> None:
    """The ``@type``, ``@baseType`` and ``@schemaLocation`` of a v5 related party (entity), on
    its v4 form ``flat``."""
    v4_class, v5_class = names
    for name in _EXTENSIBLE:
        value = related.get(name)
        if value is None or (name == "@type" and value == v5_class):
            continue
        flat[name] = v4_class if name == "@baseType" and value == v5_class else value


def _class_v5(flat: Mapping[str, Any], related: JSON, names: tuple[str, str]) -> None:
    v4_class, v5_class = names
    given = flat.get("@type")
    related["@type"] = given if isinstance(given, str) and given not in ("", v4_class) else v5_class
    if "@baseType" in flat:
        base = flat["@baseType"]
        related["@baseType"] = v5_class if base == v4_class else base
    if "@schemaLocation" in flat:
        related["@schemaLocation"] = flat["@schemaLocation"]


def _referred(ref: Mapping[str, Any], default: str) -> JSON:
    """A v5 reference's id, href, name and ``@referredType``: v4 requires the last; when the
    reference does not say it, the class its ``@type`` refers to (``PartyRef``: ``Party``)."""
    flat = _pick(ref, _REF)
    if "@referredType" not in flat:
        kind = ref.get("@type")
        referred = kind.removesuffix("Ref") if isinstance(kind, str) else ""
        flat["@referredType"] = referred or default
    return flat


def party_v4(related: Mapping[str, Any]) -> JSON:
    ref = related.get("partyOrPartyRole")
    flat = _referred(ref, "Party") if isinstance(ref, Mapping) else {}
    if "role" in related:
        flat["role"] = related["role"]
    _class_v4(related, flat, _PARTY_CLASS)
    return flat


def party_v5(flat: Mapping[str, Any]) -> JSON:
    related: JSON = {}
    _class_v5(flat, related, _PARTY_CLASS)
    if "role" in flat:
        related["role"] = flat["role"]
    related["partyOrPartyRole"] = {"@type": "PartyRef", **_pick(flat, _REF)}
    return related


def entity_v4(related: Mapping[str, Any]) -> JSON:
    ref = related.get("entity")
    flat = _referred(ref, "Entity") if isinstance(ref, Mapping) else {}
    if "role" in related:
        flat["role"] = related["role"]
    _class_v4(related, flat, _ENTITY_CLASS)
    return flat


def entity_v5(flat: Mapping[str, Any]) -> JSON:
    related: JSON = {}
    _class_v5(flat, related, _ENTITY_CLASS)
    if "role" in flat:
        related["role"] = flat["role"]
    related["entity"] = {"@type": "EntityRef", **_pick(flat, _REF)}
    return related


def status_change_v4(change: Mapping[str, Any]) -> JSON:
    """A status change; its class (``StatusChange`` at both) is left implicit, a subclass or a
    schema named."""
    flat: JSON = {}
    for v4_name, v5_name in _STATUS_CHANGE:
        if v5_name in change:
            flat[v4_name] = change[v5_name]
    for name in _EXTENSIBLE:
        if name in change and not (name == "@type" and change[name] == "StatusChange"):
            flat[name] = change[name]
    return flat


def status_change_v5(change: Mapping[str, Any]) -> JSON:
    entry = _typed(_pick(change, _EXTENSIBLE), "StatusChange")
    for v4_name, v5_name in _STATUS_CHANGE:
        if v4_name in change:
            entry[v5_name] = change[v4_name]
    return entry


_STATUS_CHANGE = (
    ("changeDate", "statusChangeDate"),
    ("changeReason", "statusChangeReason"),
    ("status", "status"),
)


def note_v4(note: Mapping[str, Any]) -> JSON:
    return _pick(note, _NOTE)


def note_v5(note: Mapping[str, Any]) -> JSON:
    return _typed(note, "Note")


def channel_v4(channel: Mapping[str, Any]) -> JSON:
    return _pick(channel, _CHANNEL)


def channel_v5(channel: Mapping[str, Any]) -> JSON:
    return _typed(channel, "ChannelRef")


def attachment_v4(attachment: Mapping[str, Any]) -> JSON:
    return _pick(attachment, _ATTACHMENT)


def attachment_v5(attachment: Mapping[str, Any]) -> JSON:
    """A v4 attachment (one flat shape for a reference and a value) as the v5 class it is: an
    ``Attachment`` when it carries a value (content, media type, size …), else a reference."""
    is_value = any(name in attachment for name in _ATTACHMENT_VALUE) or "id" not in attachment
    return _typed(attachment, "Attachment" if is_value else "AttachmentRef")


def relationship_v4(relationship: Mapping[str, Any], base: str | None = None) -> JSON:
    """A relationship; the href of a ticket of this server (``base``) names the v4 root."""
    flat = _pick(relationship, _RELATIONSHIP)
    if "href" in flat:
        flat["href"] = href_v4(flat["href"], base)
    return flat


def relationship_v5(relationship: Mapping[str, Any], base: str | None = None) -> JSON:
    typed = _typed(relationship, "TroubleTicketRelationship")
    if "href" in typed:
        typed["href"] = href_v5(typed["href"], base)
    return typed


# Array attributes: v4 name, v5 name, v5 → v4 item, v4 → v5 item.
_Convert = Callable[[Mapping[str, Any]], JSON]
_ARRAYS: tuple[tuple[str, str, _Convert, _Convert], ...] = (
    ("note", "note", note_v4, note_v5),
    ("attachment", "attachment", attachment_v4, attachment_v5),
    ("relatedParty", "relatedParty", party_v4, party_v5),
    ("relatedEntity", "relatedEntity", entity_v4, entity_v5),
    ("troubleTicketRelationship", "troubleTicketRelationship", relationship_v4, relationship_v5),
    ("statusChange", "statusChangeHistory", status_change_v4, status_change_v5),
)


def _arrays(base: str | None) -> tuple[tuple[str, str, _Convert, _Convert], ...]:
    """``_ARRAYS`` with the relationships' hrefs moved between the roots of ``base``."""
    if base is None:
        return _ARRAYS
    return tuple(
        (v4_name, v5_name, partial(relationship_v4, base=base), partial(relationship_v5, base=base))
        if v4_name == "troubleTicketRelationship"
        else (v4_name, v5_name, to_v4, to_v5)
        for v4_name, v5_name, to_v4, to_v5 in _ARRAYS
    )


# What the v4 schema of an array's items requires (v5 does not): a v5 item whose v4 form
# lacks it (a related party without a party reference, a related entity without a role) is
# one v4 cannot carry, so not shown, and kept by a v4 update of the array.
_REQUIRED_V4: dict[str, tuple[str, ...]] = {
    "relatedParty": ("id", "@referredType"),
    "relatedEntity": ("id", "@referredType", "role"),
}


def _items(value: Any, convert: Callable[[Mapping[str, Any]], JSON]) -> Any:
    if not isinstance(value, list):
        return value  # not the contract's shape: left for the validation to name
    return [convert(item) if isinstance(item, Mapping) else item for item in value]


def _shown_items(value: Any, convert: Callable[[Mapping[str, Any]], JSON], v4_name: str) -> Any:
    """A v5 array's items in the v4 form, without those v4 cannot carry."""
    if not isinstance(value, list):
        return value
    required = _REQUIRED_V4.get(v4_name, ())
    shown = []
    for item in value:
        if not isinstance(item, Mapping):
            shown.append(item)
            continue
        converted = convert(item)
        if all(name in converted for name in required):
            shown.append(converted)
    return shown


# -- tickets -----------------------------------------------------------------------------------


def ticket_v4(ticket: Mapping[str, Any]) -> JSON:
    """A v5 ticket (as the v5 API shows it) in the v4 form.

    The hrefs of this server's tickets (its own, its relationships') name the v4 root; which
    server that is, its href says.
    """
    base = base_of(ticket.get("href"))
    shown = _pick(ticket, _SAME)
    if "href" in shown:
        shown["href"] = href_v4(shown["href"], base)
    identifiers = ticket.get("externalIdentifier")
    if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], Mapping):
        if "id" in identifiers[0]:
            shown["externalId"] = identifiers[0]["id"]
    if isinstance(ticket.get("channel"), Mapping):
        shown["channel"] = channel_v4(ticket["channel"])
    for v4_name, v5_name, to_v4, _ in _arrays(base):
        if v5_name in ticket:
            shown[v4_name] = _shown_items(ticket[v5_name], to_v4, v4_name)
    return shown


def ticket_v5(ticket: Mapping[str, Any], *, base: str | None = None) -> JSON:
    """A v4 ticket (a partner's, or a v4 request body) in the v5 form.

    Attributes TMF621 v4 does not define are passed on as they are: the v5 rules judge them.
    ``base``: this server's public base URL; the hrefs of its tickets at the v4 root then name
    the v5 root, and others are left as they are (without it, every href: a partner's ticket).
    """
    converted: JSON = {
        name: value for name, value in ticket.items() if name not in _MAPPED_V4 | _MAPPED_V5
    }
    converted = _typed(converted, "TroubleTicket")
    if "href" in converted:
        converted["href"] = href_v5(converted["href"], base)
    if "externalId" in ticket and ticket["externalId"] is not None:
        converted["externalIdentifier"] = [_external_identifier(ticket["externalId"])]
    if "channel" in ticket:
        channel = ticket["channel"]
        converted["channel"] = channel_v5(channel) if isinstance(channel, Mapping) else channel
    for v4_name, v5_name, _, to_v5 in _arrays(base):
        if v4_name in ticket:
            converted[v5_name] = _items(ticket[v4_name], to_v5)
    return converted


_MAPPED_V4 = frozenset({"externalId", "channel", *(a[0] for a in _ARRAYS)})
_MAPPED_V5 = frozenset({"externalIdentifier", "statusChangeHistory"})


def _external_identifier(value: Any) -> JSON:
    return {"@type": "ExternalIdentifier", "id": value}


def create_v5(body: Mapping[str, Any], *, base: str | None = None) -> JSON:
    """A v4 create request (``TroubleTicket_Create``) as a v5 one (``TroubleTicket_FVO``): what
    the server sets (``creationDate``, ``lastUpdate``, ``statusChange``) is left out. ``base``:
    as for ``ticket_v5``."""
    taken = {name: value for name, value in body.items() if name not in SERVER_SET_ON_CREATE}
    return ticket_v5(taken, base=base)


def patch_v5(current: Mapping[str, Any], patch: Mapping[str, Any]) -> JSON:
    """A v4 update (``TroubleTicket_Update``: the attributes it names replace the current ones,
    ``null`` removes one) as a v5 JSON Merge Patch of the current ticket (v5, as shown).

    Each array item the v4 update sends as it reads it keeps its v5 original, with what v4
    does not show; the other items are converted. ``externalId`` replaces the first external
    identifier and keeps the others. The hrefs of this server's tickets (which server that is,
    the current ticket's href says) go back to the v5 root.
    """
    base = base_of(current.get("href"))
    arrays = {a[0]: (a[1], a[2], a[3]) for a in _arrays(base)}
    merge: JSON = {}
    for name, value in patch.items():
        if name == "externalId":
            merge["externalIdentifier"] = _external_identifiers(current, value)
        elif name == "channel" and isinstance(value, Mapping):
            before = current.get("channel")
            same = isinstance(before, Mapping) and channel_v4(before) == dict(value)
            if not same:
                merge["channel"] = channel_v5(value)
        elif name in arrays and isinstance(value, list):
            v5_name, to_v4, to_v5 = arrays[name]
            merge[v5_name] = keep_originals(
                value, current.get(v5_name), to_v4, to_v5, required=_REQUIRED_V4.get(name, ())
            )
        elif name in arrays and value is None:
            merge[arrays[name][0]] = None
        elif name == "href":
            merge[name] = href_v5(value, base)  # the href the ticket was read by at v4
        elif name not in _MAPPED_V5:
            merge[name] = value
    return merge


def _external_identifiers(current: Mapping[str, Any], value: Any) -> Any:
    kept = current.get("externalIdentifier")
    kept = list(kept) if isinstance(kept, list) else []
    if value is None:
        return kept[1:] or None
    first = kept[0] if kept and isinstance(kept[0], Mapping) else None
    if first is not None and first.get("id") == value:
        return kept
    return [_external_identifier(value), *kept[1:]]


def _key(item: Any) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def keep_originals(
    sent: list[Any],
    current: Any,
    to_v4: Callable[[Mapping[str, Any]], JSON],
    to_v5: Callable[[Mapping[str, Any]], JSON],
    *,
    required: tuple[str, ...] = (),
) -> list[Any]:
    """The v5 array a v4 array stands for: an item sent as the v4 form of a current item is
    that item, unchanged; any other is converted. A current item whose v4 form lacks one of
    ``required`` (v4 cannot show it) is kept where it was."""
    originals: dict[str, list[Any]] = {}
    hidden: list[tuple[int, Any]] = []
    for index, item in enumerate(current if isinstance(current, list) else []):
        if isinstance(item, Mapping):
            shown = to_v4(item)
            if all(name in shown for name in required):
                originals.setdefault(_key(shown), []).append(item)
            else:
                hidden.append((index, item))
    result = []
    for item in sent:
        same = originals.get(_key(item)) if isinstance(item, Mapping) else None
        if same:
            result.append(same.pop(0))
        else:
            result.append(to_v5(item) if isinstance(item, Mapping) else item)
    for index, item in hidden:
        result.insert(min(index, len(result)), item)
    return result


_WRAPPER = frozenset({"role", *_EXTENSIBLE})


def filter_name_v5(name: str) -> str:
    """A v4 attribute path (a filter's, or a sort's) as the v5 path it reads."""
    head, dot, rest = name.partition(".")
    attribute, _, suffix = rest.partition(".")
    if head == "externalId":
        return f"externalIdentifier.id{dot}{rest}"
    # a related party's (entity's) role and class are the wrapper's, its reference the rest
    if head == "relatedParty" and dot and attribute not in _WRAPPER:
        return f"relatedParty.partyOrPartyRole.{rest}"
    if head == "relatedEntity" and dot and attribute not in _WRAPPER:
        return f"relatedEntity.entity.{rest}"
    if head == "statusChange":
        renamed = dict(_STATUS_CHANGE).get(attribute, attribute)
        tail = f".{suffix}" if suffix else ""
        return f"statusChangeHistory.{renamed}{tail}" if dot else "statusChangeHistory"
    return name


# -- hubs and events ---------------------------------------------------------------------------


def hub_v4(hub: Mapping[str, Any]) -> JSON:
    """A hub as TMF621 v4 shows it (``EventSubscription``)."""
    return _pick(hub, ("id", "callback", "query"))


def event_v4(event: Mapping[str, Any]) -> JSON:
    """A v5 event (a ticket's) in the v4 envelope: ``timeOcurred`` as v4 spells it, the ticket
    in the v4 form (a deleted ticket: its reference's id and href)."""
    converted = _pick(event, _EVENT_ENVELOPE)
    if "timeOccurred" in event:
        converted["timeOcurred"] = event["timeOccurred"]
    payload = event.get("event")
    ticket = payload.get("troubleTicket") if isinstance(payload, Mapping) else None
    if isinstance(ticket, Mapping):
        if event.get("eventType") == "TroubleTicketDeleteEvent":
            shown = _pick(ticket, ("id", "href", "name"))
            if "href" in shown:
                shown["href"] = href_v4(shown["href"], base_of(shown["href"]))
        else:
            shown = ticket_v4(ticket)
        converted["event"] = {"troubleTicket": shown}
    return converted


def event_v5(event: Mapping[str, Any]) -> JSON:
    """A v4 event (a v4 partner's) in the v5 envelope, its ticket in the v5 form."""
    converted = {name: value for name, value in event.items() if name not in ("event",)}
    if "timeOcurred" in converted:
        converted.setdefault("timeOccurred", converted.pop("timeOcurred"))
    event_type = event.get("eventType")
    if isinstance(event_type, str) and "@type" not in converted:
        converted["@type"] = event_type
    payload = event.get("event")
    if isinstance(payload, Mapping):
        converted["event"] = dict(payload)
        ticket = payload.get("troubleTicket")
        if isinstance(ticket, Mapping):
            converted["event"]["troubleTicket"] = ticket_v5(ticket)
    elif "event" in event:
        converted["event"] = payload
    return converted


def select_v4(doc: Mapping[str, Any], fields: list[str] | None) -> JSON:
    """TMF630 attribute selection as TMF621 v4 clients expect it: the named first-level
    attributes and nothing else (v5 adds ``id``, ``href`` and ``@type`` to every selection)."""
    if fields is None:
        return dict(doc)
    wanted = {name.split(".", 1)[0] for name in fields}
    return {name: value for name, value in doc.items() if name in wanted}
