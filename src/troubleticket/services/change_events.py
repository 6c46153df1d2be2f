"""The events of one change of a resource, as outbox records written in the change's own
transaction: the resource's, its children's (a ticket's recovery activities), ordered together,
and the requests the change makes to other systems (a partner)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from troubleticket.domain.events import Raised, ResourceKind, raised_by
from troubleticket.notify.outbox import event_records, resource_key
from troubleticket.services.rules import ResourceRules
from troubleticket.store.port import Collection
from troubleticket.types import JSON, Clock, IdFactory


@dataclass(frozen=True)
class ChangeEvents:
    """The events of changes to one collection; ``present`` and ``present_child`` show a
    stored document as clients see it (the events carry what they would read)."""

    collection: Collection
    kind: ResourceKind | None  # none: the resource raises no events
    rules: ResourceRules
    clock: Clock
    new_event_id: IdFactory
    present: Callable[[JSON], JSON]
    present_child: Callable[[JSON], JSON]

    def records(
        self,
        before: JSON | None,
        after: JSON | None,
        version: int,
        *,
        children_first: bool = False,
    ) -> list[JSON]:
        """The outbox records of a change that writes ``version`` (stored documents): the
        resource's own events and its children's, ordered together; a child's first when the
        change was asked of the child."""
        if self.kind is None:
            return []
        current = after if after is not None else before
        assert current is not None
        shown_before = self.present(before) if before is not None else None
        shown_after = self.present(after) if after is not None else None
        priority = current.get("priority")
        scope = self.rules.party_scope
        common = {
            "parties": scope.parties(current) if scope is not None else None,
            "version": version,
            "now": self.clock(),
            "new_id": self.new_event_id,
            "priority": priority if isinstance(priority, str) else None,
            "ordered_with": resource_key(self.collection, current["id"]),
        }
        own = (self.collection, current["id"], raised_by(self.kind, shown_before, shown_after))
        batches = self._children(before, after)
        batches = [*batches, own] if children_first else [own, *batches]
        records: list[JSON] = []
        for collection, resource_id, raised in batches:
            records += event_records(
                raised,
                collection=collection,
                resource_id=resource_id,
                first_index=len(records),
                **common,  # type: ignore[arg-type]
            )
        if self.rules.requests is not None:
            for target, request in self.rules.requests(before, after):
                records += event_records(
                    [request],
                    collection=self.collection,
                    resource_id=current["id"],
                    first_index=len(records),
                    target=target,
                    **common,  # type: ignore[arg-type]
                )
        return records

    def _children(
        self, before: JSON | None, after: JSON | None
    ) -> list[tuple[Collection, str, list[Raised]]]:
        children = self.rules.children
        if children is None:
            return []
        old = {c["id"]: c for c in (before or {}).get(children.attribute) or []}
        new = {c["id"]: c for c in (after or {}).get(children.attribute) or []}
        batches = []
        for child_id in [*old.keys() - new.keys(), *new]:
            was, now = old.get(child_id), new.get(child_id)
            if was == now:
                continue
            raised = raised_by(
                children.kind,
                self.present_child(was) if was is not None else None,
                self.present_child(now) if now is not None else None,
            )
            if raised:
                batches.append((children.collection, child_id, raised))
        return batches
