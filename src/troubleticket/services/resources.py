"""ResourceService: create, read, list, patch and delete one kind of TMF resource.

The resource's own rules (what the server sets, how a patch may change it) come in as two pure
functions from ``domain/``; this module adds identity, time, persistence and the retry loop that
makes a read-modify-write safe against concurrent writers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from troubleticket.domain.errors import Conflict, NotFound
from troubleticket.store.port import Collection, DuplicateId, Page, Store
from troubleticket.types import JSON, Clock, IdFactory

logger = logging.getLogger(__name__)


class CreateRule(Protocol):
    def __call__(self, body: JSON, *, resource_id: str, now: datetime) -> JSON: ...


class PatchRule(Protocol):
    def __call__(self, current: JSON, patch: JSON, *, now: datetime) -> JSON: ...


# Checks a whole document against the resource's contract; raises InvalidRequest when it fails.
Validate = Callable[[JSON], None]

# A compare-and-set loses only to a write that landed in between; after this many losses in a
# row something is badly contended and the client is better told than kept waiting.
MAX_WRITE_ATTEMPTS = 50


@dataclass(frozen=True, slots=True)
class ResourceRules:
    """The pure, resource-specific part of the use cases."""

    create: CreateRule
    patch: PatchRule
    validate: Validate


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
    ) -> None:
        self.collection = collection
        self._store = store
        self._rules = rules
        self._clock = clock
        self._new_id = new_id
        self._collection_url = f"{base_url}/tmf-api/troubleTicket/v5/{collection.value}"

    def href(self, resource_id: str) -> str:
        return f"{self._collection_url}/{resource_id}"

    def _present(self, doc: JSON) -> JSON:
        # href is derived, not stored, so it follows the public base URL if that ever changes.
        return {"id": doc["id"], "href": self.href(doc["id"]), **doc}

    @staticmethod
    def _to_store(doc: JSON) -> JSON:
        return {key: value for key, value in doc.items() if key != "href"}

    def create(self, body: JSON) -> JSON:
        """Create a resource from a create request and return it as stored.

        Raises:
            TroubleTicketError: the request breaks a rule of the resource.
        """
        while True:
            resource_id = self._new_id()
            doc = self._present(
                self._rules.create(body, resource_id=resource_id, now=self._clock())
            )
            self._rules.validate(doc)
            try:
                self._store.insert(self.collection, self._to_store(doc))
            except DuplicateId:
                logger.warning("generated id %s was taken; drawing another", resource_id)
                continue
            return doc

    def get(self, resource_id: str) -> JSON:
        """Return one resource.

        Raises:
            NotFound: there is no resource with that id.
        """
        stored = self._store.get(self.collection, resource_id)
        if stored is None:
            raise NotFound(self.collection.value, resource_id)
        return self._present(stored.doc)

    def list(self, *, offset: int, limit: int) -> Page:
        """Return one page of resources in creation order, with the total count."""
        page = self._store.list(self.collection, offset=offset, limit=limit)
        return Page([self._present(doc) for doc in page.items], page.total)

    def patch(self, resource_id: str, patch: JSON) -> JSON:
        """Apply a merge patch and return the resource after it.

        The rules run against the version just read and the write succeeds only if nobody wrote
        in between; otherwise the patch is re-applied to the newer version, so concurrent
        patches are serialised rather than lost.

        Raises:
            NotFound: there is no resource with that id.
            TroubleTicketError: the patch breaks a rule of the resource.
            Conflict: the resource kept changing under the patch.
        """
        for _ in range(MAX_WRITE_ATTEMPTS):
            stored = self._store.get(self.collection, resource_id)
            if stored is None:
                raise NotFound(self.collection.value, resource_id)
            current = self._present(stored.doc)
            updated = self._rules.patch(current, patch, now=self._clock())
            if updated is current:
                return current
            self._rules.validate(updated)
            if self._store.replace(
                self.collection, self._to_store(updated), expected_version=stored.version
            ):
                return updated
        raise Conflict(f"{self.collection.value} {resource_id} kept changing; try again")

    def delete(self, resource_id: str) -> None:
        """Delete a resource.

        Raises:
            NotFound: there is no resource with that id.
        """
        if not self._store.delete(self.collection, resource_id):
            raise NotFound(self.collection.value, resource_id)
