-- The source of truth: every event once. Append-only rowid storage keeps inserts sequential;
-- the per-chat identifier history and pages are derived from it at read time.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    site        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    ts          INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX events_by_chat ON events(site, chat_id);

-- One row per (site, chat ID): the summary the read API lists and matching joins on.
CREATE TABLE chats (
    site         TEXT NOT NULL,
    chat_id      TEXT NOT NULL,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    first_ts     INTEGER NOT NULL,
    last_ts      INTEGER NOT NULL,
    ids_ts       INTEGER NOT NULL,
    client_id    TEXT,
    yclid        TEXT,
    user_id      TEXT,
    purchase_id  TEXT,
    gclid        TEXT,
    fbclid       TEXT,
    ga_client_id TEXT,
    utm          TEXT,
    landing_page TEXT,
    referrer     TEXT,
    prev_chat_id TEXT,
    events       INTEGER NOT NULL,
    clicks       INTEGER NOT NULL,
    collision    INTEGER NOT NULL,
    -- chat_id first: messenger-side lookups know the chat ID but not the site, and this key
    -- serves them without a second random-key index written on every new chat.
    PRIMARY KEY (chat_id, site)
);
CREATE INDEX chats_by_last_seen ON chats(last_seen);
CREATE INDEX chats_by_prev ON chats(site, prev_chat_id) WHERE prev_chat_id IS NOT NULL;

-- event_id is unique through `events` (a click row is written only for a newly stored event),
-- so no second random-key index here.
CREATE TABLE clicks (
    id          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL,
    site        TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    messenger   TEXT NOT NULL,
    link_kind   TEXT NOT NULL,
    target      TEXT NOT NULL,
    page        TEXT,
    ts          INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);
-- No per-chat index: a chat's clicks are read from its events (`events_by_chat`).
-- Probable-click matching looks up clicks on one messenger in a time window.
CREATE INDEX clicks_by_time ON clicks(messenger, ts);

CREATE TABLE chat_conflicts (
    event_id         TEXT PRIMARY KEY,
    site             TEXT NOT NULL,
    chat_id          TEXT NOT NULL,
    known_client_id  TEXT NOT NULL,
    new_client_id    TEXT NOT NULL,
    received_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX chat_conflicts_by_chat ON chat_conflicts(site, chat_id);
