CREATE TABLE metrica_uploads (
    id              INTEGER PRIMARY KEY,
    counter         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    rows            INTEGER NOT NULL,
    state           TEXT NOT NULL,      -- pending | sent | failed | abandoned
    attempts        INTEGER NOT NULL DEFAULT 0,
    forced          INTEGER NOT NULL DEFAULT 0,
    metrica_id      INTEGER,
    status          TEXT,               -- Metrica's: UPLOADED … PROCESSED | LINKAGE_FAILURE
    source_quantity INTEGER,
    line_quantity   INTEGER,
    error           TEXT,
    csv             TEXT NOT NULL
);
CREATE INDEX metrica_uploads_by_counter ON metrica_uploads(counter, state);

CREATE TABLE metrica_sent (
    counter      INTEGER NOT NULL,
    conversation INTEGER NOT NULL,
    upload       INTEGER NOT NULL,
    date_time    INTEGER NOT NULL,
    client_id    TEXT,
    user_id      TEXT,
    yclid        TEXT,
    purchase_id  TEXT,
    PRIMARY KEY (counter, conversation)
) WITHOUT ROWID;
CREATE INDEX metrica_sent_by_upload ON metrica_sent(upload);
