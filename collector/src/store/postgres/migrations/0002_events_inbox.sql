-- PostgreSQL has no inbox (ingest is answered after COMMIT); the tables are kept so that both
-- engines have the same schema for the copy command and the privacy queries.
CREATE TABLE ingest_state (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    applied_seq BIGINT NOT NULL
);
INSERT INTO ingest_state (id, applied_seq) VALUES (1, 0);

CREATE TABLE inbox_rejects (
    seq         BIGINT PRIMARY KEY,
    site        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    bodies      TEXT NOT NULL,
    error       TEXT NOT NULL,
    rejected_at BIGINT NOT NULL
);
