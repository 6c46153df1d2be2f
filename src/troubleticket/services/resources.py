"""ResourceService: create, read, list, patch and delete one kind of TMF resource.

The resource's own rules (what the server sets, how a patch may change it) come in as two pure
functions from ``domain/``; this module adds identity, time, persistence and the retry loop that
makes a read-modify-write safe against concurrent writers.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from troubleticket.context import Context
from troubleticket.domain.audit import (
    AUDIT,
    Action,
    AuditRecord,
    changed_attributes,
    with_record,
)
from troubleticket.domain.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from troubleticket.domain.events import ResourceKind
from troubleticket.services.audit_log import log_audit, request_record
from troubleticket.services.change_events import ChangeEvents
from troubleticket.services.limits import Limits, check_document
from troubleticket.services.patch_formats import MERGE_PATCH, as_merge_patch
from troubleticket.services.rules import Change, Relations, ResourceRules, VersionCondition
from troubleticket.store.port import (
    Collection,
    CounterChange,
    DuplicateId,
    ListQuery,
    Page,
    Store,
    Stored,
    Write,
)
from troubleticket.store.query import AnyOf, Comparison, Filter, Op
from troubleticket.types import JSON, Clock, IdFactory

logger = logging.getLogger(__name__)


# One document's change in a batch: the stored document in, the new one and the counters it
# moves beyond its own out (the document itself when nothing changes).
BatchChange = Callable[[JSON], tuple[JSON, list[CounterChange]]]

# A compare-and-set loses only to a write that landed in between; after this many losses in a
# row something is badly contended and the client is better told than kept waiting.
MAX_WRITE_ATTEMPTS = 50


class ResourceService:
    """The use cases of one resource collection."""

    def __init__(
        self,
        collection: Collection,
        *,
        store: Store,
        rules: ResourceRules,
        clock: Clock,
        new_id: IdFactory,
        base_url: str,
        limits: Limits,
        kind: ResourceKind | None = None,
        new_event_id: IdFactory | None = None,
        on_commit: Callable[[], None] | None = None,
        on_events: Callable[[list[JSON]], None] | None = None,
        relations: Relations | None = None,
    ) -> None:
        """``kind``: the events this resource raises (none without); ``on_commit`` is told
        after every write that recorded events (to wake a dispatcher in this process), and
        ``on_events`` what they were (to count them); ``relations``: how its documents bear on
        each other (tickets: major incidents)."""
        self.collection = collection
        self.limits = limits
        self._store = store
        self._rules = rules
        self._clock = clock
        self._new_id = new_id
        self._kind = kind
        self._new_event_id = new_event_id or new_id
        self._on_commit = on_commit
        self._on_events = on_events
        self.relations = relations
        self._change_events = ChangeEvents(
            collection,
            kind,
            rules,
            clock=clock,
            new_event_id=self._new_event_id,
            present=self._present,
            present_child=self.present_child,
        )
        self._collection_url = f"{base_url}/tmf-api/troubleTicket/v5/{collection.value}"
        # reads by id answer in microseconds: callers need not hand them to a worker thread
        self.inline_reads: bool = getattr(store, "inline_reads", False)

    def href(self, resource_id: str) -> str:
        return f"{self._collection_url}/{resource_id}"

    def _present(self, doc: JSON) -> JSON:
        # href is derived, not stored, so it follows the public base URL if that ever changes.
        shown = {"id": doc["id"], "href": self.href(doc["id"]), **doc}
        for name in self._rules.hidden & shown.keys():
            del shown[name]
        return shown

    def present_child(self, child: JSON) -> JSON:
        """A child (an activity) as clients see it: its href under its parent's."""
        children = self._rules.children
        assert children is not None
        ref = child[children.parent_ref]
        parent_href = self.href(ref["id"])
        shown = {"id": child["id"], "href": f"{parent_href}/{children.attribute}/{child['id']}"}
        shown.update(child)
        shown[children.parent_ref] = {**ref, "href": parent_href}
        return shown

    def _internal(self, stored: Stored) -> JSON:
        """The stored document with its href: what the rules see (hidden attributes included)."""
        return {**stored.doc, "href": self.href(stored.doc["id"])}

    @staticmethod
    def _to_store(doc: JSON) -> JSON:
        return {key: value for key, value in doc.items() if key != "href"}

    def _committed(self, events: list[JSON]) -> None:
        if events and self._on_commit is not None:
            self._on_commit()
        if events and self._on_events is not None:
            self._on_events(events)

    def _stored(self, stored: Stored) -> Stored:
        return Stored(self._shown(self._present(stored.doc)), stored.version)

    def _shown(self, presented: JSON) -> JSON:
        """What a client reads: the presented document with what is derived live."""
        return presented if self.relations is None else self.relations.shown(presented)

    def create(self, body: JSON, *, context: Context) -> Stored:
        """Create a resource from a create request; return it with its version.

        Raises:
            TroubleTicketError: the request breaks a rule of the resource.
        """
        self._writable(context)
        if context.party is not None and self._rules.party_scope is not None:
            body = self._rules.party_scope.claim(body, context.party)
        correlated = False
        if self.relations is not None:
            body, correlated = self.relations.correlated(body)
        while True:
            resource_id = self._new_id()
            doc = self._rules.create(
                body, resource_id=resource_id, now=self._clock(), context=context
            )
            doc = {"id": doc["id"], "href": self.href(doc["id"]), **doc}
            if self.relations is not None:
                doc = self.relations.checked(None, doc, context=context, correlated=correlated)
            record = self._audit_record("create", None, doc, context)
            doc = self._audited(doc, record)
            check_document(doc, None, self.limits, ignore=(AUDIT,))
            self._validate(doc)
            shown = self._present(doc)
            events = self._change_events.records(None, doc, 1)
            try:
                inserted = self._insert(doc, events, self._counters(None, doc))
            except DuplicateId:
                logger.warning("generated id %s was taken; drawing another", resource_id)
                continue
            self._committed(events)
            self._log_audit(doc["id"], record)
            return Stored(self._shown(shown), inserted.version)

    def _counters(self, before: JSON | None, after: JSON | None) -> builtins.list[CounterChange]:
        return [] if self.relations is None else self.relations.counters(before, after)

    def _insert(
        self, doc: JSON, events: builtins.list[JSON], counters: builtins.list[CounterChange]
    ) -> Stored:
        if not counters:
            return self._store.insert(self.collection, self._to_store(doc), events=events)
        (inserted,) = self._store.write(
            self.collection, [Write(self._to_store(doc), None, events, counters)]
        )
        assert inserted is not None  # an insert is written or raises
        return inserted

    def get(self, resource_id: str, *, context: Context) -> Stored:
        """Return one resource with its version.

        Raises:
            NotFound: there is no resource with that id (that the context's party may see).
        """
        return self._stored(self._read(resource_id, context=context))

    def read(self, resource_id: str, *, context: Context) -> Stored:
        """The stored document (hidden attributes and children included, href added).

        Raises:
            NotFound: there is no resource with that id (that the context's party may see).
        """
        stored = self._read(resource_id, context=context)
        return Stored(self._internal(stored), stored.version)

    def _writable(self, context: Context) -> None:
        if context.party is not None and self._rules.party_scope is None:
            raise Forbidden(f"A partner's request does not change {self.collection.value}")

    def _read(
        self,
        resource_id: str,
        if_match: VersionCondition | None = None,
        *,
        context: Context,
    ) -> Stored:
        stored = self._store.get(self.collection, resource_id)
        scope = self._rules.party_scope
        party = context.party_id
        if stored is not None and party is not None and scope is not None:
            if not scope.owns(stored.doc, party):
                stored = None  # not its ticket: as if there were none (404, not 403)
        if stored is None:
            raise NotFound(self.collection.value, resource_id)
        if if_match is not None and not if_match(stored.version):
            raise PreconditionFailed(
                f"{self.collection.value} {resource_id} is at version {stored.version}, "
                "which the If-Match condition does not name"
            )
        return stored

    def list(self, query: ListQuery, *, context: Context) -> Page:
        """One page of the resources ``query`` selects (of those the context's party may see),
        with the total count of its matches.

        Raises:
            InvalidRequest: a cursor that was not issued for this sort order.
        """
        scope = self._rules.party_scope
        if context.party_id is not None and scope is not None:
            own = AnyOf((Comparison(scope.path, Op.EQ, context.party_id),))
            query = replace(query, where=Filter((own, *query.where.groups)))
        page = self._store.list(self.collection, query)
        return replace(page, items=[self._shown(self._present(doc)) for doc in page.items])

    def patch(
        self,
        resource_id: str,
        patch: Any,
        *,
        media_type: str = MERGE_PATCH,
        if_match: VersionCondition | None = None,
        context: Context,
    ) -> Stored:
        """Apply a patch in any TMF621 PATCH format; return the resource after it, with its version.

        The patch is translated and the rules run against the version just read, and the write
        succeeds only if nobody wrote in between; otherwise all of it is redone on the newer
        version, so concurrent patches are serialised rather than lost (a JSON Patch ``test``
        or query path is always evaluated against what is then written over). With
        ``if_match`` the client named the version(s) it edits: a newer one fails the
        precondition instead of being patched.

        Raises:
            NotFound: there is no resource with that id.
            PreconditionFailed: the current version does not satisfy ``if_match``.
            PatchTestFailed: a JSON Patch ``test`` operation did not hold.
            NotSupported: ``media_type`` is not a PATCH format TMF621 declares.
            TroubleTicketError: the patch breaks a rule of the resource.
            Conflict: the resource kept changing under the patch.
        """

        def change(current: JSON) -> JSON:
            merge = as_merge_patch(self._present(current), patch, media_type, limits=self.limits)
            return self._rules.patch(current, merge, now=self._clock(), context=context)

        return self._stored(self.update(resource_id, change, if_match=if_match, context=context))

    def update(
        self,
        resource_id: str,
        change: Change,
        *,
        if_match: VersionCondition | None = None,
        children_first: bool = False,
        context: Context,
    ) -> Stored:
        """Apply ``change`` to the stored document (hidden attributes and children included)
        and write the result with the events of the change; returns the stored document
        (unpresented) with its version.

        The change runs against the version just read and the write succeeds only if nobody
        wrote in between; otherwise it is redone on the newer version.

        Raises:
            NotFound: there is no resource with that id.
            PreconditionFailed: the current version does not satisfy ``if_match``.
            TroubleTicketError: ``change`` refuses.
            Conflict: the resource kept changing under the change.
        """
        self._writable(context)
        for _ in range(MAX_WRITE_ATTEMPTS):
            stored = self._read(resource_id, if_match, context=context)
            current = self._internal(stored)
            updated = change(current)
            if updated is current:
                return Stored(current, stored.version)
            if self.relations is not None:
                updated = self.relations.checked(
                    current, updated, context=context, correlated=False
                )
            record = self._audit_record("update", current, updated, context)
            updated = self._audited(updated, record)
            check_document(updated, current, self.limits, ignore=(AUDIT,))
            written = self._write(stored, current, updated, children_first=children_first)
            if written:
                self._log_audit(resource_id, record)
                return written
        raise Conflict(f"{self.collection.value} {resource_id} kept changing; try again")

    def update_batch(
        self, changes: Sequence[tuple[str, BatchChange]], *, context: Context
    ) -> builtins.list[str]:
        """Apply each change to its document and write them all in one atomic write, each
        with its events, audit record and counters as if written alone; returns the ids
        written.

        A document that changed since it was read here is left out, as is one that is gone or
        that its change leaves as it is: the caller finds it again and decides (a background
        pass working through many documents, which no client waits on).
        """
        self._writable(context)
        pending: builtins.list[tuple[str, AuditRecord | None, builtins.list[JSON]]] = []
        writes: builtins.list[Write] = []
        for resource_id, change in changes:
            stored = self._store.get(self.collection, resource_id)
            if stored is None:
                continue
            current = self._internal(stored)
            updated, extra = change(current)
            if updated is current:
                continue
            if self.relations is not None:
                updated = self.relations.checked(
                    current, updated, context=context, correlated=False
                )
            record = self._audit_record("update", current, updated, context)
            updated = self._audited(updated, record)
            check_document(updated, current, self.limits, ignore=(AUDIT,))
            self._validate(updated, current)
            events = self._change_events.records(current, updated, stored.version + 1)
            counters = [*self._counters(current, updated), *extra]
            writes.append(Write(self._to_store(updated), stored.version, events, counters))
            pending.append((resource_id, record, events))
        if not writes:
            return []
        results = self._store.write(self.collection, writes)
        done: builtins.list[str] = []
        for (resource_id, record, events), result in zip(pending, results, strict=True):
            if result is not None:
                self._committed(events)
                self._log_audit(resource_id, record)
                done.append(resource_id)
        return done

    def _write(
        self, stored: Stored, current: JSON, updated: JSON, *, children_first: bool = False
    ) -> Stored | None:
        """Replace ``stored`` by ``updated`` (stored documents, href included) with the events of
        the change; ``None`` if it lost the compare-and-set."""
        self._validate(updated, current)
        events = self._change_events.records(
            current, updated, stored.version + 1, children_first=children_first
        )
        counters = self._counters(current, updated)
        if counters:
            (written,) = self._store.write(
                self.collection,
                [Write(self._to_store(updated), stored.version, events, counters)],
            )
        else:
            written = self._store.replace(
                self.collection,
                self._to_store(updated),
                expected_version=stored.version,
                events=events,
            )
        if written is None:
            return None
        self._committed(events)
        return Stored(updated, written.version)

    # -- audit -------------------------------------------------------------------------------

    def _audit_record(
        self, action: Action, before: JSON | None, after: JSON | None, context: Context
    ) -> AuditRecord | None:
        """The audit record of a write a request makes (None: no request, or no change).

        The href, the date of the write and hidden bookkeeping are no change of their own; each
        child changed is named (``recoveryActivity/{id}``).
        """
        if context.request_id is None:
            return None  # the server's own change
        changed: list[str] = []
        if after is not None:
            children = self._rules.children
            itemized = children.attribute if children is not None else None
            ignore = {"href", "lastUpdate", *self._rules.hidden} - {itemized}
            changed = changed_attributes(before, after, ignore=ignore, itemized=itemized)
            if before is not None and not changed:
                return None
        return request_record(action, changed, context=context, now=self._clock())

    def _audited(self, doc: JSON, record: AuditRecord | None) -> JSON:
        """``doc`` with ``record`` in its trail, when this resource keeps one."""
        return with_record(doc, record) if record is not None and self._rules.audit else doc

    def _log_audit(self, resource_id: str, record: AuditRecord | None) -> None:
        log_audit(f"{self.collection.value}/{resource_id}", record)

    def get_audit(self, resource_id: str, *, context: Context) -> Sequence[JSON]:
        """The audit trail of one resource, oldest first.

        Raises:
            Forbidden: a partner's request (the trail is the operator's).
            NotFound: there is no resource with that id.
        """
        if context.party is not None:
            raise Forbidden("The audit trail is the operator's; a partner may not read it")
        stored = self._read(resource_id, context=context)
        return list(stored.doc.get(AUDIT) or [])

    def _validate(self, doc: JSON, before: JSON | None = None) -> None:
        """Check what a write produces against the contract: a new document and each of its
        children whole; a changed one, its attributes that change and each child that changes.

        What a change leaves as it was passed this check when it was written, and the checks
        of a resource's attributes do not depend on each other (the contract's schemas are
        objects of independent properties, whose required ones are scalars, kept here), so the
        result is the same as checking the whole document; the unchanged arrays (notes,
        parties, entities, a long history) are what the whole check spent its time on.
        """
        self._rules.validate(doc if before is None else _changed_part(doc, before))
        children = self._rules.children
        if children is not None:
            had = (
                {} if before is None else {c["id"]: c for c in before.get(children.attribute) or []}
            )
            for child in doc.get(children.attribute) or []:
                if had.get(child["id"]) != child:
                    children.validate(self.present_child(child))

    def refresh(self, resource_id: str) -> bool:
        """Apply what time alone changes (the tick rule) to one resource; whether it changed.

        Several processes may refresh the same resource at once: the compare-and-set lets one
        write, and the others find the change already made.
        """
        tick = self._rules.tick
        if tick is None:
            return False
        for _ in range(MAX_WRITE_ATTEMPTS):
            stored = self._store.get(self.collection, resource_id)
            if stored is None:
                return False
            current = self._internal(stored)
            updated = tick(current, now=self._clock())
            if updated == current:
                return False
            if self._write(stored, current, updated):
                return True
        raise Conflict(f"{self.collection.value} {resource_id} kept changing; try again")

    def delete(
        self,
        resource_id: str,
        *,
        if_match: VersionCondition | None = None,
        context: Context,
    ) -> None:
        """Delete a resource, if its version satisfies ``if_match`` when one is given.

        Raises:
            NotFound: there is no resource with that id.
            PreconditionFailed: the current version does not satisfy ``if_match``.
        """
        self._writable(context)
        for _ in range(MAX_WRITE_ATTEMPTS):
            # Compare-and-set on the version read, so the delete event names what was deleted;
            # a change in between is read again (and checked against if_match again).
            stored = self._read(resource_id, if_match, context=context)
            current = self._internal(stored)
            if self.relations is not None:
                self.relations.check_delete(current)
            events = self._change_events.records(current, None, stored.version + 1)
            if self._deleted(current, stored.version, events):
                self._committed(events)
                self._log_audit(resource_id, self._audit_record("delete", None, None, context))
                return
        raise Conflict(f"{self.collection.value} {resource_id} kept changing; try again")

    def _deleted(self, current: JSON, version: int, events: builtins.list[JSON]) -> bool:
        counters = self._counters(current, None)
        if not counters:
            return self._store.delete(
                self.collection, current["id"], expected_version=version, events=events
            )
        (gone,) = self._store.write(
            self.collection,
            [Write({"id": current["id"]}, version, events, counters, delete=True)],
        )
        return gone is not None


def _changed_part(doc: JSON, before: JSON) -> JSON:
    """``doc``'s scalar attributes, and the others where they differ from ``before``."""
    return {
        name: value
        for name, value in doc.items()
        if not isinstance(value, dict | list) or before.get(name) != value
    }
