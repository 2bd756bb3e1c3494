//! Applying the schema steps of [`crate::store::migrations`] to SQLite: numbered `.sql` files
//! in `migrations/`, embedded in the binary, applied in order, once each, tracked by name in
//! `schema_migrations`.

use rusqlite::Connection;

pub use crate::store::migrations::{all, Step as Migration, STEPS as ALL};
use crate::store::StoreError;

/// Applies the migrations not yet recorded, each in its own transaction.
pub fn apply(
    conn: &mut Connection,
    migrations: &[&'static Migration],
) -> Result<usize, StoreError> {
    if let Some(name) = crate::store::migrations::duplicate(migrations) {
        return Err(StoreError::DuplicateMigration(name));
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
        tx.execute_batch(m.sqlite)
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
