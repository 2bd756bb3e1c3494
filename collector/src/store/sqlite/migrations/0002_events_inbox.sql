-- How far the inbox (the append-only log ingest answers from) has been applied to the tables
-- above; moved in the same transaction as the rows it covers.
CREATE TABLE ingest_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    applied_seq INTEGER NOT NULL
);
INSERT INTO ingest_state (id, applied_seq) VALUES (1, 0);

-- Acknowledged requests that could not be applied (never expected: they were validated before
-- the answer), kept whole instead of lost or blocking the rest.
CREATE TABLE inbox_rejects (
    seq         INTEGER PRIMARY KEY,
    site        TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    bodies      TEXT NOT NULL,
    error       TEXT NOT NULL,
    rejected_at INTEGER NOT NULL
);
