-- One table per TMF resource collection. The document is kept whole as JSON text; the columns
-- beside it exist for lookups and ordering. seq gives a stable insertion order for paging.
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
