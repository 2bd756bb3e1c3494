//! Schema migrations: numbered `.sql` files in `migrations/`, embedded in the binary, applied
//! in order, once each, tracked by name in `schema_migrations`. Never edit an applied
//! migration; add the next number.
//!
//! The recorded names are the ones databases already carry (they predate the numbering), so an
//! existing database upgrades without re-running anything.

use rusqlite::Connection;

use crate::store::StoreError;

#[derive(Debug)]
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($name:literal, $file:literal) => {
        Migration {
            name: $name,
            sql: include_str!(concat!("migrations/", $file)),
        }
    };
}

/// Every migration in the order it is applied.
pub const ALL: &[Migration] = &[
    migration!("events_0001_initial", "0001_events_initial.sql"),
    migration!("events_0002_inbox", "0002_events_inbox.sql"),
    migration!(
        "events_0003_chat_event_list",
        "0003_events_chat_event_list.sql"
    ),
    migration!("chats_0001_conversations", "0004_chats_conversations.sql"),
    migration!("metrica_0001_uploads", "0005_metrica_uploads.sql"),
    migration!("chats_0002_webhook_intake", "0006_chats_webhook_intake.sql"),
    migration!("metrica_0002_later_facts", "0007_metrica_later_facts.sql"),
    migration!("privacy_0001_audit", "0008_privacy_audit.sql"),
    migration!("scheduled_0001_leases", "0009_scheduled_leases.sql"),
];

/// Every migration in the order it is applied.
pub fn all() -> Vec<&'static Migration> {
    ALL.iter().collect()
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
        let before: Vec<&'static Migration> = ALL.iter().take(2).collect();
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
