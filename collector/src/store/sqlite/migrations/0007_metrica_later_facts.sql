-- When the chat's revenue was last set: the DateTime of the offline conversion that carries it.
ALTER TABLE conversations ADD COLUMN revenue_at INTEGER;

-- What a file carries: `chats` (type=CHATS rows, ledger in metrica_sent) or `conversions`
-- (offline conversions on the counter's revenue goal, ledger in metrica_facts_sent).
ALTER TABLE metrica_uploads ADD COLUMN kind TEXT NOT NULL DEFAULT 'chats';

-- Facts sent after the chat row, one row per (counter, chat, kind), ever: Metrica documents no
-- update of a row already sent, so a fact goes out once.
CREATE TABLE metrica_facts_sent (
    counter      INTEGER NOT NULL,
    conversation INTEGER NOT NULL,
    kind         TEXT NOT NULL,       -- revenue
    upload       INTEGER NOT NULL,
    date_time    INTEGER NOT NULL,
    target       TEXT NOT NULL,
    price        TEXT,
    currency     TEXT,
    PRIMARY KEY (counter, conversation, kind)
) WITHOUT ROWID;
CREATE INDEX metrica_facts_sent_by_upload ON metrica_facts_sent(upload);

-- Columns Metrica refused for a counter: left out of its later files until the row is deleted.
CREATE TABLE metrica_refused_columns (
    counter    INTEGER NOT NULL,
    name       TEXT NOT NULL,
    upload     INTEGER NOT NULL,
    refused_at INTEGER NOT NULL,
    message    TEXT NOT NULL,
    PRIMARY KEY (counter, name)
) WITHOUT ROWID;
