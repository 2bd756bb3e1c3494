ALTER TABLE conversations ADD COLUMN revenue_at BIGINT;

ALTER TABLE metrica_uploads ADD COLUMN kind TEXT NOT NULL DEFAULT 'chats';

CREATE TABLE metrica_facts_sent (
    counter      BIGINT NOT NULL,
    conversation BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    upload       BIGINT NOT NULL,
    date_time    BIGINT NOT NULL,
    target       TEXT NOT NULL,
    price        TEXT,
    currency     TEXT,
    PRIMARY KEY (counter, conversation, kind)
);
CREATE INDEX metrica_facts_sent_by_upload ON metrica_facts_sent(upload);

CREATE TABLE metrica_refused_columns (
    counter    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    upload     BIGINT NOT NULL,
    refused_at BIGINT NOT NULL,
    message    TEXT NOT NULL,
    PRIMARY KEY (counter, name)
);
