"""Export and import of all stored documents as JSON Lines, to move data between stores.

The file, UTF-8, one compact JSON object a line::

    {"format": "troubleticket-export", "formatVersion": 1,
     "exportedAt": "2026-11-20T08:00:00.000Z",
     "collections": {"troubleTicket": 1234, "troubleTicketSpecification": 5}}
    {"collection": "troubleTicket", "version": 3, "document": {...}}
    ...
    {"end": true, "collections": {"troubleTicket": 1234, "troubleTicketSpecification": 5}}

* The header's counts are those seen when the export started; they size progress bars only,
  since a server writing during the export changes them before it ends.
* The end line counts the document lines actually written. It is the proof that the file is
  whole: an import without it, or with other counts than it read, fails (after importing what
  it read), because a file cut short at a line boundary is otherwise still valid JSON Lines.
* Documents are written exactly as the store holds them — key order, float vs integer, integers
  of any size, every character; no ``href``, which the service derives when it reads — and
  imported in file order, so the new store lists them in the same insertion order as the old.
* Each document keeps its stored version (``version``, 1 when a hand-made line has none), so
  the ETags clients hold still name the same states after a move: an ``If-Match`` from before
  it can neither match a different state nor lose an update.
* Each collection is read with the store's ``scan``: on SQLite one consistent snapshot per
  collection; on MongoDB a cursor, on which a document written while it runs may or may not
  appear. Stop writers for an exact copy.

Both directions stream, holding one page or one batch of documents at a time whatever the
size of the store. Only the store port is used, so any two adapters can be paired.

``format`` says how the file is written, ``export`` writes one, ``load`` reads one back.
"""

from __future__ import annotations

from troubleticket.transfer.export import export_store
from troubleticket.transfer.format import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_PAGE_SIZE,
    FORMAT,
    FORMAT_VERSION,
    Progress,
    TransferError,
)
from troubleticket.transfer.load import import_store

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_PAGE_SIZE",
    "FORMAT",
    "FORMAT_VERSION",
    "Progress",
    "TransferError",
    "export_store",
    "import_store",
]
