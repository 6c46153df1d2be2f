-- Side tables and indexes beside the collection tables, which SqliteStore creates from its
-- layouts (each: seq for a stable insertion order, id, version, the whole document as JSON, and
-- one generated, indexed column per attribute lists filter and sort on most).

-- relatedParty[].partyOrPartyRole.id of each ticket: an array, so it cannot be a generated column.
CREATE TABLE IF NOT EXISTS trouble_ticket_party (
    seq      INTEGER NOT NULL REFERENCES trouble_ticket (seq) ON DELETE CASCADE,
    party_id TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS trouble_ticket_party_by_id ON trouble_ticket_party (party_id, seq);
CREATE INDEX IF NOT EXISTS trouble_ticket_party_by_seq ON trouble_ticket_party (seq);

-- Counters kept in the same transaction as the writes that move them (a major incident's rollup
-- of its children): one row per (key, name); a row that comes back to zero is removed.
CREATE TABLE IF NOT EXISTS counter (
    key   TEXT    NOT NULL,
    name  TEXT    NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (key, name)
) WITHOUT ROWID;
