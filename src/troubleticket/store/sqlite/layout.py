"""Where each collection lives in SQLite: its table, the attributes generated as indexed
columns, its indexes, and the side tables (a ticket's party ids, its recovery activities)."""

from __future__ import annotations

import sqlite3

from troubleticket.store.port import CHILDREN, Collection
from troubleticket.store.sqlite.query import Kind, Layout

# Indexed attributes of tickets: (path, column, kind). Each column is generated from the document
# and indexed together with seq, so a filtered page in insertion order reads the index only.
TICKET_COLUMNS = (
    (("status",), "status", Kind.TEXT),
    (("severity",), "severity", Kind.TEXT),
    (("priority",), "priority", Kind.TEXT),
    (("ticketType",), "ticket_type", Kind.TEXT),
    (("creationDate",), "creation_date", Kind.INSTANT),
    (("lastUpdate",), "last_update", Kind.INSTANT),
    # when the next SLA threshold of the ticket falls due (the monitor reads by it)
    (("slaNextCheck",), "sla_next_check", Kind.INSTANT),
    # the major incident a child ticket belongs to (its children are read by it)
    (("parentTicketId",), "parent_ticket_id", Kind.TEXT),
)

LAYOUTS = {
    Collection.TROUBLE_TICKET: Layout(
        table="trouble_ticket",
        columns={
            **{path: (column, kind) for path, column, kind in TICKET_COLUMNS},
            ("slaJeopardy",): ("sla_jeopardy", Kind.TEXT),
        },
        indexes=(
            *((column, "seq") for _path, column, _kind in TICKET_COLUMNS),
            # "the tickets in this status (and severity), newest first": what partners and
            # operators list most; both also count their matches from the index alone.
            ("status", "creation_date"),
            ("status", "severity", "creation_date"),
            # the open tickets by priority and jeopardy (the metrics), counted from the index
            ("status", "priority", "sla_jeopardy"),
        ),
        party_ids=("trouble_ticket_party", "party_id"),
    ),
    Collection.TROUBLE_TICKET_SPECIFICATION: Layout(table="trouble_ticket_specification"),
    Collection.HUB: Layout(table="hub"),
    Collection.EVENT: Layout(
        table="event",
        columns={
            ("state",): ("state", Kind.TEXT),
            ("recordedAt",): ("recorded_at", Kind.INSTANT),
        },
        # the events not yet fanned out, in order; the events since an instant (replay)
        indexes=(("state", "seq"), ("recorded_at", "seq")),
    ),
    Collection.DELIVERY: Layout(
        table="delivery",
        columns={
            ("state",): ("state", Kind.TEXT),
            ("nextAttemptAt",): ("next_attempt_at", Kind.INSTANT),
            ("leaseUntil",): ("lease_until", Kind.INSTANT),
            ("hubId",): ("hub_id", Kind.TEXT),
            ("resourceKey",): ("resource_key", Kind.TEXT),
            ("orderKey",): ("order_key", Kind.TEXT),
            ("createdAt",): ("created_at", Kind.INSTANT),
        },
        indexes=(
            # what is due: pending by next attempt, delivering by lease end
            ("state", "next_attempt_at"),
            ("state", "lease_until"),
            # what comes before a delivery for the same subscriber and resource
            ("hub_id", "resource_key", "order_key"),
            # a hub's deliveries, newest first
            ("hub_id", "created_at"),
        ),
    ),
    Collection.RECEIVED_EVENT: Layout(table="received_event"),
    Collection.PARTNER: Layout(table="partner"),
    Collection.LEASE: Layout(table="lease"),
    # A copy of each ticket's recovery activities, one row each, kept in the ticket's own
    # transaction (parent_seq: the ticket's row; deleted with it).
    Collection.RECOVERY_ACTIVITY: Layout(
        table="recovery_activity",
        columns={
            ("state",): ("state", Kind.TEXT),
            ("activityType",): ("activity_type", Kind.TEXT),
            ("plannedEndDate",): ("planned_end_date", Kind.INSTANT),
            ("troubleTicket", "id"): ("ticket_id", Kind.TEXT),
            ("assignee", "partyOrPartyRole", "id"): ("assignee_id", Kind.TEXT),
            # the partner's ticket of a trouble report: its events are found by it
            ("partnerReport", "partnerTicket", "id"): ("partner_ticket_id", Kind.TEXT),
        },
        indexes=(
            ("parent_seq",),
            ("state", "seq"),
            ("activity_type", "seq"),
            ("planned_end_date", "seq"),
            ("ticket_id", "seq"),
            ("assignee_id", "seq"),
            ("partner_ticket_id", "seq"),
        ),
    ),
}
TABLES = {collection: layout.table for collection, layout in LAYOUTS.items()}
# child collection -> (its table, the parent's table, the parent's attribute holding them)
CHILD_TABLES = {
    child: (TABLES[child], TABLES[parent], attribute)
    for child, (parent, attribute) in CHILDREN.items()
}


def create_tables(conn: sqlite3.Connection) -> None:
    """Create what is missing of every table, column and index (in the caller's transaction)."""
    for collection, layout in LAYOUTS.items():
        generated = [
            f"{column} GENERATED ALWAYS AS (json_extract(doc, '$.{'.'.join(path)}'))"
            for path, (column, _kind) in layout.columns.items()
        ]
        # STORED: a filter on one indexed column reads the others from the row, not by
        # parsing the document again.
        parent = ""
        if collection in CHILD_TABLES:
            parent = (
                ", parent_seq INTEGER NOT NULL REFERENCES "
                f"{CHILD_TABLES[collection][1]} (seq) ON DELETE CASCADE"
            )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {layout.table} ("
            "seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, "
            "version INTEGER NOT NULL, doc TEXT NOT NULL CHECK (json_valid(doc))"
            + parent
            + "".join(f", {column} STORED" for column in generated)
            + ")"
        )
        existing = {row[1] for row in conn.execute(f"PRAGMA table_xinfo({layout.table})")}
        for (column, _kind), definition in zip(layout.columns.values(), generated, strict=True):
            if column not in existing:
                # A database from before the column existed: SQLite can only add a
                # generated column as VIRTUAL.
                conn.execute(f"ALTER TABLE {layout.table} ADD COLUMN {definition} VIRTUAL")
        for index in layout.indexes:
            name = f"{layout.table}_by_{'_'.join(c for c in index if c != 'seq')}"
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON {layout.table} ({', '.join(index)})"
            )
