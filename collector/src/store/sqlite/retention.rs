//! One bounded step of expiry on SQLite: at most `window` rows looked at, in row ID order,
//! inside one write job, so that ingest's group commits go on between steps. Row IDs grow with
//! arrival, so events, clicks and visits stop as soon as a step reaches rows too new to expire.
//!
//! Events, clicks and visits are deleted a window at a time: the window's last row ID is found,
//! then one `DELETE … WHERE id > after AND id <= last AND <older than the site's cut-off>` per
//! group of sites with the same retention ([`RetentionPolicy::cutoffs`]). Old rows are a prefix
//! in ID order, so such a statement walks the table's pages in order; deleting the same rows
//! one statement each cost a B-tree search per row and read every row into Rust first.

use std::collections::HashSet;
use std::time::Instant;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::privacy::key::PrivacyKey;
use crate::store::privacy::{
    held_chats, Cutoffs, ExpiryStep, ExpiryTarget, PhoneTable, Retention, RetentionPolicy,
    IN_FLIGHT_UPLOADS,
};
use crate::store::StoreError;

/// Runs one step and records how long its own work took (the writer's time, not the wait).
pub fn step(
    conn: &Connection,
    target: ExpiryTarget,
    policy: &RetentionPolicy,
    now: i64,
    after: i64,
    window: i64,
) -> Result<ExpiryStep, StoreError> {
    let started = Instant::now();
    let mut step = match target {
        ExpiryTarget::Events => arrivals(conn, "events", policy, now, after, window),
        ExpiryTarget::Clicks => arrivals(conn, "clicks", policy, now, after, window),
        ExpiryTarget::Chats => chats(conn, policy, now, after, window),
        ExpiryTarget::Conversations => conversations(conn, policy, now, after, window, false),
        ExpiryTarget::FirstText => conversations(conn, policy, now, after, window, true),
        ExpiryTarget::MetricaFiles => metrica_files(conn, policy, now, after, window),
        ExpiryTarget::Diagnostics => diagnostics(conn, &policy.default, now, window),
    }?;
    step.took = started.elapsed();
    Ok(step)
}

/// The window of at most `window` rows after `after` in `id` order: its last row's ID and
/// `time` column, and whether it is full. `None`: no rows left.
fn window_end(
    conn: &Connection,
    table: &str,
    id: &str,
    time: &str,
    after: i64,
    window: i64,
) -> Result<Option<(i64, i64, bool)>, StoreError> {
    let row = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?));
    let full: Option<(i64, i64)> = conn
        .prepare_cached(&format!(
            "SELECT {id}, {time} FROM {table} WHERE {id} > ?1 ORDER BY {id} LIMIT 1 OFFSET ?2"
        ))?
        .query_row(params![after, window - 1], row)
        .optional()?;
    if let Some((last, t)) = full {
        return Ok(Some((last, t, true)));
    }
    let rest: Option<(i64, i64)> = conn
        .prepare_cached(&format!(
            "SELECT {id}, {time} FROM {table} WHERE {id} > ?1 ORDER BY {id} DESC LIMIT 1"
        ))?
        .query_row([after], row)
        .optional()?;
    Ok(rest.map(|(last, t)| (last, t, false)))
}

/// Deletes the rows of `table` with `after < id ≤ last` whose `time` is before their site's
/// cut-off, and that satisfy `also` (SQL, may be empty): one statement per group of
/// `cutoffs`. Returns the rows deleted.
#[allow(clippy::too_many_arguments)]
fn delete_range(
    conn: &Connection,
    table: &str,
    id: &str,
    time: &str,
    also: &str,
    cutoffs: &Cutoffs,
    after: i64,
    last: i64,
) -> Result<u64, StoreError> {
    let mut changed = 0;
    for (site, cutoff) in &cutoffs.own {
        changed += conn
            .prepare_cached(&format!(
                "DELETE FROM {table} WHERE {id} > ?1 AND {id} <= ?2 AND site = ?3 AND {time} < ?4{also}"
            ))?
            .execute(params![after, last, site, cutoff])? as u64;
    }
    // Every other site: `site NOT IN (?3, ?4, …)`, one placeholder per site with its own.
    let own = cutoffs.own_sites();
    let others = if own.is_empty() {
        String::new()
    } else {
        let marks: Vec<String> = (0..own.len()).map(|i| format!("?{}", i + 3)).collect();
        format!(" AND site NOT IN ({})", marks.join(", "))
    };
    let sql = format!(
        "DELETE FROM {table} WHERE {id} > ?1 AND {id} <= ?2 AND {time} < ?{cut}{others}{also}",
        cut = own.len() + 3
    );
    let values: Vec<rusqlite::types::Value> = [after.into(), last.into()]
        .into_iter()
        .chain(own.into_iter().map(rusqlite::types::Value::from))
        .chain([cutoffs.default.into()])
        .collect();
    changed += conn
        .prepare_cached(&sql)?
        .execute(params_from_iter(values))? as u64;
    Ok(changed)
}

/// `events` or `clicks`: kept `events_ms` after they arrived.
fn arrivals(
    conn: &Connection,
    table: &'static str,
    policy: &RetentionPolicy,
    now: i64,
    after: i64,
    window: i64,
) -> Result<ExpiryStep, StoreError> {
    let Some((last, received_at, full)) =
        window_end(conn, table, "id", "received_at", after, window)?
    else {
        return Ok(ExpiryStep::new(0, None));
    };
    let cutoffs = policy.cutoffs(now, |r| r.events_ms);
    let changed = delete_range(conn, table, "id", "received_at", "", &cutoffs, after, last)?;
    let too_new = received_at >= now - policy.shortest(|r| r.events_ms);
    Ok(ExpiryStep::walked(changed, full, last, too_new))
}

fn in_flight_conversations(conn: &Connection) -> Result<HashSet<i64>, StoreError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT conversation FROM metrica_sent WHERE upload IN ({IN_FLIGHT_UPLOADS})"
    ))?;
    let rows = st.query_map([], |r| r.get::<_, i64>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Visits (`chats` rows): kept `chats_ms` after they were last seen, and while a conversation
/// of theirs waits to be settled in Metrica.
fn chats(
    conn: &Connection,
    policy: &RetentionPolicy,
    now: i64,
    after: i64,
    window: i64,
) -> Result<ExpiryStep, StoreError> {
    let Some((last, first_seen, full)) =
        window_end(conn, "chats", "rowid", "first_seen", after, window)?
    else {
        return Ok(ExpiryStep::new(0, None));
    };
    let held = held_chats();
    let cutoffs = policy.cutoffs(now, |r| r.chats_ms);
    let changed = delete_range(
        conn,
        "chats",
        "rowid",
        "last_seen",
        &held,
        &cutoffs,
        after,
        last,
    )?;
    // Rows are created in arrival order (see `ExpiryStep::walked`).
    let too_new = first_seen >= now - policy.shortest(|r| r.chats_ms);
    Ok(ExpiryStep::walked(changed, full, last, too_new))
}

/// Conversations: deleted `chats_ms` after their last message (with their Metrica ledger rows
/// and answers) unless an upload of theirs is not settled; or, for `first_text_only`, their
/// first message's text cleared `first_text_ms` after they started.
fn conversations(
    conn: &Connection,
    policy: &RetentionPolicy,
    now: i64,
    after: i64,
    window: i64,
    first_text_only: bool,
) -> Result<ExpiryStep, StoreError> {
    let rows: Vec<(i64, Option<String>, i64, i64, bool)> = {
        let mut st = conn.prepare_cached(
            "SELECT id, site, created_at, updated_at, first_text IS NOT NULL FROM conversations
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = st.query_map(params![after, window], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut changed = 0;
    if first_text_only {
        let mut clear = conn.prepare_cached(
            "UPDATE conversations SET first_text = NULL WHERE id = ?1 AND first_text IS NOT NULL",
        )?;
        for (id, site, created_at, _, has_text) in &rows {
            if *has_text && *created_at < now - policy.for_site(site.as_deref()).first_text_ms {
                changed += clear.execute([id])? as u64;
            }
        }
    } else {
        let held = in_flight_conversations(conn)?;
        let extra = [
            "DELETE FROM metrica_sent WHERE conversation = ?1",
            "DELETE FROM metrica_facts_sent WHERE conversation = ?1",
            "DELETE FROM answers WHERE conversation = ?1",
        ];
        let mut delete = conn.prepare_cached("DELETE FROM conversations WHERE id = ?1")?;
        for (id, site, _, updated_at, _) in &rows {
            if *updated_at < now - policy.for_site(site.as_deref()).chats_ms && !held.contains(id) {
                for sql in &extra {
                    conn.prepare_cached(sql)?.execute([id])?;
                }
                changed += delete.execute([id])? as u64;
            }
        }
    }
    let last = rows.last().map_or(after, |r| r.0);
    // Created in ID order: past one created too recently for either kind of expiry (a
    // conversation's last activity is never before its creation), every later one is too.
    let keep_ms = if first_text_only {
        policy.shortest(|r| r.first_text_ms)
    } else {
        policy.shortest(|r| r.chats_ms)
    };
    let too_new = rows.last().is_some_and(|r| r.2 >= now - keep_ms);
    Ok(ExpiryStep::walked(
        changed,
        rows.len() as i64 >= window,
        last,
        too_new,
    ))
}

/// The copy of a settled upload's file: emptied `metrica_files_ms` after its last change (the
/// ledger of what was sent stays with the conversations).
fn metrica_files(
    conn: &Connection,
    policy: &RetentionPolicy,
    now: i64,
    after: i64,
    window: i64,
) -> Result<ExpiryStep, StoreError> {
    let rows: Vec<(i64, i64)> = {
        let mut st = conn.prepare_cached(&format!(
            "SELECT id, updated_at FROM metrica_uploads WHERE id > ?1 AND csv <> ''
               AND id NOT IN ({IN_FLIGHT_UPLOADS}) ORDER BY id LIMIT ?2"
        ))?;
        let rows = st.query_map(params![after, window], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut clear = conn.prepare_cached("UPDATE metrica_uploads SET csv = '' WHERE id = ?1")?;
    let mut changed = 0;
    for (id, updated_at) in &rows {
        if *updated_at < now - policy.default.metrica_files_ms {
            changed += clear.execute([id])? as u64;
        }
    }
    let last = rows.last().map_or(after, |r| r.0);
    Ok(ExpiryStep::walked(
        changed,
        rows.len() as i64 >= window,
        last,
        false,
    ))
}

/// One step over the diagnosis-only tables ([`Retention::diagnostic_deletes`]).
fn diagnostics(
    conn: &Connection,
    r: &Retention,
    now: i64,
    window: i64,
) -> Result<ExpiryStep, StoreError> {
    let work = r.diagnostic_deletes(now, "?1", "?2");
    let mut changed = 0;
    let mut more = false;
    for (sql, cutoff) in &work {
        let n = conn.execute(sql, params![cutoff, window])? as i64;
        changed += n as u64;
        more |= n >= window;
    }
    Ok(ExpiryStep::new(changed, more.then_some(0)))
}

/// Rows of `table` after `after` that may hold a phone in clear (digits, where hashed ones start
/// with `ph:`), at most `window`, in row ID order. Meant for a read connection.
pub fn clear_phone_rows(
    conn: &Connection,
    table: PhoneTable,
    after: i64,
    window: i64,
) -> Result<Vec<i64>, StoreError> {
    let sql = match table {
        PhoneTable::Conversations => {
            "SELECT id FROM conversations WHERE id > ?1 AND (phone GLOB '[0-9]*'
               OR (platform = 'whatsapp' AND chat_user_id GLOB '[0-9]*')) ORDER BY id LIMIT ?2"
        }
        PhoneTable::Answers => {
            "SELECT id FROM answers WHERE id > ?1 AND (phone GLOB '[0-9]*'
               OR (platform = 'whatsapp' AND chat_user_id GLOB '[0-9]*')) ORDER BY id LIMIT ?2"
        }
        PhoneTable::BotOpens => {
            "SELECT id FROM bot_opens WHERE id > ?1 AND phone GLOB '[0-9]*' ORDER BY id LIMIT ?2"
        }
    };
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map(params![after, window], |r| r.get::<_, i64>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Hashes the phones of the rows `ids` of `table` the way new data is hashed before it is
/// stored (phone, a WhatsApp user ID that is the phone, the `phone:` person key). Returns the
/// rows changed.
pub fn hash_phones(
    conn: &Connection,
    key: &PrivacyKey,
    table: PhoneTable,
    ids: &[i64],
) -> Result<u64, StoreError> {
    let name = match table {
        PhoneTable::Conversations => "conversations",
        PhoneTable::Answers => "answers",
        PhoneTable::BotOpens => "bot_opens",
    };
    // Only conversations keep a person key.
    let user_key = if table == PhoneTable::Conversations {
        "user_key"
    } else {
        "NULL"
    };
    let mut read = conn.prepare_cached(&format!(
        "SELECT platform, chat_user_id, phone, {user_key} FROM {name} WHERE id = ?1"
    ))?;
    let mut write = conn.prepare_cached(&format!(
        "UPDATE {name} SET chat_user_id = ?2, phone = ?3{} WHERE id = ?1",
        if table == PhoneTable::Conversations {
            ", user_key = ?4"
        } else {
            ""
        }
    ))?;
    // The numbers' old copies are overwritten with zeros, not left in free space.
    conn.execute_batch("PRAGMA secure_delete = ON;")?;
    let result = hash_rows(ids, &mut read, &mut write, key, table);
    conn.execute_batch("PRAGMA secure_delete = FAST;")?;
    result
}

fn hash_rows(
    ids: &[i64],
    read: &mut rusqlite::CachedStatement<'_>,
    write: &mut rusqlite::CachedStatement<'_>,
    key: &PrivacyKey,
    table: PhoneTable,
) -> Result<u64, StoreError> {
    let mut changed = 0;
    for id in ids {
        let row = read
            .query_row([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .optional()?;
        // Deleted since it was found.
        let Some((platform, user_id, phone, person)) = row else {
            continue;
        };
        let Some((user_id, phone, person_hashed)) =
            crate::store::person::rehash_phones(key, &platform, user_id, phone, person)
        else {
            continue;
        };
        let n = if table == PhoneTable::Conversations {
            write.execute(params![id, user_id, phone, person_hashed])?
        } else {
            write.execute(params![id, user_id, phone])?
        };
        changed += n as u64;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::migrations;

    /// Behind busy ingest, new visits and conversations arrive faster than a walk of `window`
    /// rows a step can pass them: the walk must stop at the first rows too new to expire.
    #[test]
    fn walks_stop_at_rows_too_new_to_expire() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrations::apply(&mut conn, &migrations::all()).unwrap();
        let now = 1_800_000_000_000_i64;
        for i in 0..5 {
            conn.execute(
                "INSERT INTO chats (site, chat_id, first_seen, last_seen, first_ts, last_ts, ids_ts,
                                    events, clicks, collision) VALUES ('shop', ?1, ?2, ?2, ?2, ?2, ?2, 1, 0, 0)",
                params![format!("CT{i}"), now - 1000],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO conversations (platform, user_key, started_at, last_message_at, messages,
                                            method, source, created_at, updated_at)
                 VALUES ('telegram', ?1, ?2, ?2, 1, 'unmatched', 'webhook', ?2, ?2)",
                params![format!("id:{i}"), now - 1000],
            )
            .unwrap();
        }
        let policy = RetentionPolicy {
            default: Retention {
                events_ms: 10_000,
                chats_ms: 10_000,
                first_text_ms: 10_000,
                metrica_files_ms: 10_000,
                diagnostics_ms: 10_000,
            },
            sites: Default::default(),
        };
        for target in [
            ExpiryTarget::Chats,
            ExpiryTarget::Conversations,
            ExpiryTarget::FirstText,
        ] {
            let s = step(&conn, target, &policy, now, 0, 2).unwrap();
            assert_eq!((s.rows, s.next), (0, None), "{target:?}");
        }
        // Old rows are walked past, a full window at a time.
        conn.execute_batch(
            "UPDATE chats SET first_seen = 0, last_seen = 0; UPDATE conversations SET created_at = 0, updated_at = 0;",
        )
        .unwrap();
        let s = step(&conn, ExpiryTarget::Chats, &policy, now, 0, 2).unwrap();
        assert_eq!((s.rows, s.next), (2, Some(2)));
        let s = step(&conn, ExpiryTarget::Conversations, &policy, now, 0, 2).unwrap();
        assert_eq!((s.rows, s.next), (2, Some(2)));
    }
}
