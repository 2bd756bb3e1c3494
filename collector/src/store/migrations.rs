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

pub const EVENTS: &[Migration] = &[Migration {
    name: "events_0001_initial",
    sql: r#"
CREATE TABLE events (
    event_id    TEXT PRIMARY KEY,
    site        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    ts          INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    body        TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX events_by_chat ON events(site, chat_id, ts);

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
    PRIMARY KEY (site, chat_id)
);
CREATE INDEX chats_by_last_seen ON chats(last_seen);
CREATE INDEX chats_by_prev ON chats(site, prev_chat_id) WHERE prev_chat_id IS NOT NULL;
CREATE INDEX chats_by_client_id ON chats(site, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE chat_identifiers (
    site       TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    field      TEXT NOT NULL,
    value      TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    first_ts   INTEGER NOT NULL,
    last_ts    INTEGER NOT NULL,
    events     INTEGER NOT NULL,
    PRIMARY KEY (site, chat_id, field, value)
) WITHOUT ROWID;

CREATE TABLE chat_pages (
    site     TEXT NOT NULL,
    chat_id  TEXT NOT NULL,
    url      TEXT NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts  INTEGER NOT NULL,
    events   INTEGER NOT NULL,
    PRIMARY KEY (site, chat_id, url)
) WITHOUT ROWID;

CREATE TABLE clicks (
    event_id    TEXT PRIMARY KEY,
    site        TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    messenger   TEXT NOT NULL,
    link_kind   TEXT NOT NULL,
    target      TEXT NOT NULL,
    page        TEXT,
    ts          INTEGER NOT NULL,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX clicks_by_chat ON clicks(site, chat_id, ts);
CREATE INDEX clicks_by_time ON clicks(site, messenger, received_at);

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
}];

/// Every migration in the order it is applied.
pub fn all() -> Vec<&'static Migration> {
    EVENTS.iter().chain(crate::chats::store::MIGRATIONS).chain(crate::metrica::store::MIGRATIONS).collect()
}

/// Applies the migrations not yet recorded, each in its own transaction.
pub fn apply(conn: &mut Connection, migrations: &[&'static Migration]) -> Result<usize, StoreError> {
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
            .map_err(|source| StoreError::Migration { name: m.name, source })?;
        tx.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES (?1, ?2)",
            rusqlite::params![m.name, crate::clock::now_ms()],
        )?;
        tx.commit()?;
        applied += 1;
    }
    Ok(applied)
}
