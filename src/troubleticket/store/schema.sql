-- One table per TMF resource collection. The document is kept whole as JSON text; the columns
-- beside it exist for lookups and ordering. seq gives a stable insertion order for paging.
-- Indexed attribute columns are added by SqliteStore (generated from doc), so that a database
-- created before they existed gains them too.
CREATE TABLE IF NOT EXISTS trouble_ticket (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT    NOT NULL UNIQUE,
    version  INTEGER NOT NULL,
    doc      TEXT    NOT NULL CHECK (json_valid(doc))
);

CREATE TABLE IF NOT EXISTS trouble_ticket_specification (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT    NOT NULL UNIQUE,
    version  INTEGER NOT NULL,
    doc      TEXT    NOT NULL CHECK (json_valid(doc))
);

-- relatedParty[].partyOrPartyRole.id of each ticket: an array, so it cannot be a generated column.
CREATE TABLE IF NOT EXISTS trouble_ticket_party (
    seq      INTEGER NOT NULL REFERENCES trouble_ticket (seq) ON DELETE CASCADE,
    party_id TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS trouble_ticket_party_by_id ON trouble_ticket_party (party_id, seq);
CREATE INDEX IF NOT EXISTS trouble_ticket_party_by_seq ON trouble_ticket_party (seq);
