CREATE TABLE conversations (
    id              INTEGER PRIMARY KEY,
    platform        TEXT NOT NULL,
    user_key        TEXT NOT NULL,
    chat_user_id    TEXT,
    username        TEXT,
    phone           TEXT,
    display_name    TEXT,
    account         TEXT,
    started_at      INTEGER NOT NULL,
    last_message_at INTEGER NOT NULL,
    messages        INTEGER NOT NULL,
    first_text      TEXT,
    start_param     TEXT,
    chat_id         TEXT,
    site            TEXT,
    method          TEXT NOT NULL,
    reason          TEXT,
    answered        INTEGER NOT NULL DEFAULT 0,
    answered_at     INTEGER,
    tag             TEXT,
    revenue         TEXT,
    currency        TEXT,
    page_url        TEXT,
    chat_url        TEXT,
    ad_click_id     TEXT,
    source          TEXT NOT NULL,
    external_id     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX conversations_by_external ON conversations(platform, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX conversations_by_user ON conversations(platform, user_key, last_message_at);
CREATE INDEX conversations_by_start ON conversations(started_at);
CREATE INDEX conversations_by_chat_id ON conversations(chat_id) WHERE chat_id IS NOT NULL;

CREATE TABLE inbound_seen (
    platform    TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (platform, message_id)
) WITHOUT ROWID;

-- A messenger does not know the site, so conversations look chat IDs up without one; the event
-- side's `chats` primary key is (chat_id, site), which serves that lookup, so no index of its
-- own here (one fewer random-key B-tree written per new chat ID). Clicks by messenger and time
-- use the event side's own `clicks_by_time`.
