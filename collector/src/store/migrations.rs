//! Schema migrations: an ordered list, applied once each, tracked by name in
//! `schema_migrations`. Never edit an applied migration; append a new one.
//!
//! Extension point: another module keeps its own `pub const MIGRATIONS: &[Migration]` and
//! appends it in [`all`]. Names must be unique across modules (prefix them with the module).

use rusqlite::Connection;

use super::StoreError;

#[derive(Debug)]
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

pub const EVENTS: &[Migration] = &[
    Migration {
        name: "events_0001_initial",
        sql: r#"
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
"#,
    },
    Migration {
        name: "events_0002_inbox",
        sql: r#"
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
"#,
    },
    Migration {
        name: "events_0003_chat_event_list",
        sql: r#"
-- A chat's events are found through the list of their row IDs kept in its `chats` row (the
-- first 1,000), not through an index on (site, chat_id): that index took a random-key page
-- write per event, and the `chats` row is written anyway.
ALTER TABLE chats ADD COLUMN event_rowids TEXT NOT NULL DEFAULT '';
UPDATE chats SET event_rowids = coalesce((
    SELECT group_concat(id) FROM (
        SELECT e.id FROM events e WHERE e.site = chats.site AND e.chat_id = chats.chat_id
        ORDER BY e.id LIMIT 1000)), '');
DROP INDEX events_by_chat;
"#,
    },
];

/// Every migration in the order it is applied.
pub fn all() -> Vec<&'static Migration> {
    EVENTS
        .iter()
        .chain(crate::chats::store::MIGRATIONS)
        .chain(crate::metrica::store::MIGRATIONS)
        .collect()
}

/// Applies the migrations not yet recorded, each in its own transaction.
pub fn apply(
    conn: &mut Connection,
    migrations: &[&'static Migration],
) -> Result<usize, StoreError> {
    let mut seen = std::collections::HashSet::new();
    for m in migrations {
        if !seen.insert(m.name) {
            return Err(StoreError::DuplicateMigration(m.name));
        }
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             name TEXT PRIMARY KEY,
             applied_at INTEGER NOT NULL
         )",
    )?;
    let mut applied = 0;
    for m in migrations {
        let done: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE name = ?1)",
            [m.name],
            |r| r.get(0),
        )?;
        if done {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)
            .map_err(|source| StoreError::Migration {
                name: m.name,
                source,
            })?;
        tx.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES (?1, ?2)",
            rusqlite::params![m.name, crate::clock::now_ms()],
        )?;
        tx.commit()?;
        applied += 1;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database from before `events_0003_chat_event_list` gets each chat's event list from
    /// its stored events (only its own site's, in insert order), and loses the index.
    #[test]
    fn chat_event_lists_are_backfilled_from_stored_events() {
        let mut conn = Connection::open_in_memory().unwrap();
        let before: Vec<&'static Migration> = EVENTS.iter().take(2).collect();
        apply(&mut conn, &before).unwrap();
        conn.execute_batch(
            "INSERT INTO events (event_id, site, kind, chat_id, ts, received_at, body) VALUES
               ('e1', 'shop', 'issue', 'CTA', 1, 1, '{}'),
               ('e2', 'other', 'issue', 'CTA', 2, 2, '{}'),
               ('e3', 'shop', 'click', 'CTA', 3, 3, '{}'),
               ('e4', 'shop', 'issue', 'CTB', 4, 4, '{}');
             INSERT INTO chats (site, chat_id, first_seen, last_seen, first_ts, last_ts, ids_ts,
                                events, clicks, collision) VALUES
               ('shop', 'CTA', 1, 3, 1, 3, 1, 2, 1, 0),
               ('other', 'CTA', 2, 2, 2, 2, 2, 1, 0, 0),
               ('shop', 'CTB', 4, 4, 4, 4, 4, 1, 0, 0),
               ('shop', 'CTC', 5, 5, 5, 5, 5, 0, 0, 0);",
        )
        .unwrap();
        apply(&mut conn, &all()).unwrap();
        let list = |site: &str, chat: &str| -> String {
            conn.query_row(
                "SELECT event_rowids FROM chats WHERE site = ?1 AND chat_id = ?2",
                [site, chat],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(list("shop", "CTA"), "1,3");
        assert_eq!(list("other", "CTA"), "2");
        assert_eq!(list("shop", "CTB"), "4");
        assert_eq!(
            list("shop", "CTC"),
            "",
            "a chat without events gets an empty list"
        );
        let index: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'events_by_chat'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(index, 0);
    }
}
