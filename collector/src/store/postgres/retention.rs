//! One bounded step of expiry on PostgreSQL: `store/sqlite/retention.rs` ported (the same
//! windows in ID order; `chats.id` stands in for SQLite's rowid).

use std::collections::HashSet;

use deadpool_postgres::Transaction;

use super::sql::{exec, rows};
use crate::privacy::key::PrivacyKey;
use crate::store::privacy::{ExpiryStep, ExpiryTarget, PhoneTable, Retention, RetentionPolicy};
use crate::store::StoreError;

/// Uploads not settled yet: what Metrica still needs is kept until it is.
const IN_FLIGHT_UPLOADS: &str =
    "SELECT id FROM metrica_uploads WHERE state IN ('pending', 'failed')
     OR (state = 'sent' AND coalesce(status, '') NOT IN ('PROCESSED', 'LINKAGE_FAILURE'))";

pub async fn step(
    tx: &Transaction<'_>,
    target: ExpiryTarget,
    policy: &RetentionPolicy,
    now: i64,
    after: i64,
    window: i64,
) -> Result<ExpiryStep, StoreError> {
    match target {
        ExpiryTarget::Events => arrivals(tx, "events", policy, now, after, window).await,
        ExpiryTarget::Clicks => arrivals(tx, "clicks", policy, now, after, window).await,
        ExpiryTarget::Chats => chats(tx, policy, now, after, window).await,
        ExpiryTarget::Conversations => conversations(tx, policy, now, after, window, false).await,
        ExpiryTarget::FirstText => conversations(tx, policy, now, after, window, true).await,
        ExpiryTarget::MetricaFiles => metrica_files(tx, policy, now, after, window).await,
        ExpiryTarget::Diagnostics => diagnostics(tx, &policy.default, now, window).await,
    }
}

fn next(seen: i64, window: i64, last: i64) -> Option<i64> {
    (seen >= window).then_some(last)
}

async fn arrivals(
    tx: &Transaction<'_>,
    table: &'static str,
    policy: &RetentionPolicy,
    now: i64,
    after: i64,
    window: i64,
) -> Result<ExpiryStep, StoreError> {
    let found: Vec<(i64, String, i64)> = rows(
        tx,
        &format!("SELECT id, site, received_at FROM {table} WHERE id > $1 ORDER BY id LIMIT $2"),
        &[&after, &window],
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    let expired: Vec<i64> = found
        .iter()
        .filter(|(_, site, received_at)| *received_at < now - policy.for_site(Some(site)).events_ms)
        .map(|r| r.0)
        .collect();
    let changed = exec(
        tx,
        &format!("DELETE FROM {table} WHERE id = ANY($1)"),
        &[&expired],
    )
    .await?;
    let youngest_cutoff = now - policy.shortest(|r| r.events_ms);
    let last = found.last().map_or(after, |r| r.0);
    let too_new = found.last().is_some_and(|r| r.2 >= youngest_cutoff);
    Ok(ExpiryStep {
        rows: changed,
        next: if too_new {
            None
        } else {
            next(found.len() as i64, window, last)
        },
    })
}

async fn in_flight_conversations(tx: &Transaction<'_>) -> Result<HashSet<i64>, StoreError> {
    Ok(rows(
        tx,
        &format!("SELECT conversation FROM metrica_sent WHERE upload IN ({IN_FLIGHT_UPLOADS})"),
        &[],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

async fn chats(
    tx: &Transaction<'_>,
    policy: &RetentionPolicy,
    now: i64,
    after: i64,
    window: i64,
) -> Result<ExpiryStep, StoreError> {
    let found: Vec<(i64, String, String, i64, i64)> = rows(
        tx,
        "SELECT id, site, chat_id, last_seen, first_seen FROM chats WHERE id > $1 ORDER BY id LIMIT $2",
        &[&after, &window],
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    .collect();
    let held: HashSet<String> = rows(
        tx,
        &format!(
            "SELECT c.chat_id FROM metrica_sent s JOIN conversations c ON c.id = s.conversation
             WHERE c.chat_id IS NOT NULL AND s.upload IN ({IN_FLIGHT_UPLOADS})"
        ),
        &[],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let expired: Vec<i64> = found
        .iter()
        .filter(|(_, site, chat_id, last_seen, _)| {
            *last_seen < now - policy.for_site(Some(site)).chats_ms && !held.contains(chat_id)
        })
        .map(|r| r.0)
        .collect();
    let changed = exec(tx, "DELETE FROM chats WHERE id = ANY($1)", &[&expired]).await?;
    let last = found.last().map_or(after, |r| r.0);
    // Rows are created in arrival order: past one first seen too recently to expire, every
    // later row is too (as SQLite's).
    let too_new = found
        .last()
        .is_some_and(|r| r.4 >= now - policy.shortest(|r| r.chats_ms));
    Ok(ExpiryStep {
        rows: changed,
        next: if too_new {
            None
        } else {
            next(found.len() as i64, window, last)
        },
    })
}

async fn conversations(
    tx: &Transaction<'_>,
    policy: &RetentionPolicy,
    now: i64,
    after: i64,
    window: i64,
    first_text_only: bool,
) -> Result<ExpiryStep, StoreError> {
    let found: Vec<(i64, Option<String>, i64, i64, bool)> = rows(
        tx,
        "SELECT id, site, created_at, updated_at, first_text IS NOT NULL FROM conversations
         WHERE id > $1 ORDER BY id LIMIT $2",
        &[&after, &window],
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    .collect();
    let changed = if first_text_only {
        let cleared: Vec<i64> = found
            .iter()
            .filter(|(_, site, created_at, _, has_text)| {
                *has_text && *created_at < now - policy.for_site(site.as_deref()).first_text_ms
            })
            .map(|r| r.0)
            .collect();
        exec(
            tx,
            "UPDATE conversations SET first_text = NULL WHERE id = ANY($1) AND first_text IS NOT NULL",
            &[&cleared],
        )
        .await?
    } else {
        let held = in_flight_conversations(tx).await?;
        let expired: Vec<i64> = found
            .iter()
            .filter(|(id, site, _, updated_at, _)| {
                *updated_at < now - policy.for_site(site.as_deref()).chats_ms && !held.contains(id)
            })
            .map(|r| r.0)
            .collect();
        for sql in [
            "DELETE FROM metrica_sent WHERE conversation = ANY($1)",
            "DELETE FROM metrica_facts_sent WHERE conversation = ANY($1)",
            "DELETE FROM answers WHERE conversation = ANY($1)",
        ] {
            exec(tx, sql, &[&expired]).await?;
        }
        exec(
            tx,
            "DELETE FROM conversations WHERE id = ANY($1)",
            &[&expired],
        )
        .await?
    };
    let last = found.last().map_or(after, |r| r.0);
    // Created in ID order: past one created too recently for either kind of expiry, every
    // later one is too (as SQLite's).
    let keep_ms = if first_text_only {
        policy.shortest(|r| r.first_text_ms)
    } else {
        policy.shortest(|r| r.chats_ms)
    };
    let too_new = found.last().is_some_and(|r| r.2 >= now - keep_ms);
    Ok(ExpiryStep {
        rows: changed,
        next: if too_new {
            None
        } else {
            next(found.len() as i64, window, last)
        },
    })
}

async fn metrica_files(
    tx: &Transaction<'_>,
    policy: &RetentionPolicy,
    now: i64,
    after: i64,
    window: i64,
) -> Result<ExpiryStep, StoreError> {
    let found: Vec<(i64, i64)> = rows(
        tx,
        &format!(
            "SELECT id, updated_at FROM metrica_uploads WHERE id > $1 AND csv <> ''
               AND id NOT IN ({IN_FLIGHT_UPLOADS}) ORDER BY id LIMIT $2"
        ),
        &[&after, &window],
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    let cleared: Vec<i64> = found
        .iter()
        .filter(|(_, updated_at)| *updated_at < now - policy.default.metrica_files_ms)
        .map(|r| r.0)
        .collect();
    let changed = exec(
        tx,
        "UPDATE metrica_uploads SET csv = '' WHERE id = ANY($1)",
        &[&cleared],
    )
    .await?;
    let last = found.last().map_or(after, |r| r.0);
    Ok(ExpiryStep {
        rows: changed,
        next: next(found.len() as i64, window, last),
    })
}

/// One step over the diagnosis-only tables ([`Retention::diagnostic_deletes`]).
async fn diagnostics(
    tx: &Transaction<'_>,
    r: &Retention,
    now: i64,
    window: i64,
) -> Result<ExpiryStep, StoreError> {
    let work = r.diagnostic_deletes(now, "$1", "$2");
    let mut changed = 0;
    let mut more = false;
    for (sql, cutoff) in &work {
        let n = exec(tx, sql, &[cutoff, &window]).await?;
        changed += n;
        more |= n as i64 >= window;
    }
    Ok(ExpiryStep {
        rows: changed,
        next: more.then_some(0),
    })
}

/// One step of hashing phones kept in clear from before phones were hashed (see SQLite's
/// `clear_phone_rows` and `hash_phones`): rows of `table` after `after` whose phone (or
/// WhatsApp user ID) starts with a digit, at most `window`, rewritten by the shared rule
/// [`crate::store::person::rehash_phones`].
pub async fn hash_phones_step(
    tx: &Transaction<'_>,
    key: &PrivacyKey,
    table: PhoneTable,
    after: i64,
    window: i64,
) -> Result<ExpiryStep, StoreError> {
    let (name, whatsapp_ids, user_key) = match table {
        PhoneTable::Conversations => ("conversations", true, "user_key"),
        PhoneTable::Answers => ("answers", true, "NULL::text"),
        PhoneTable::BotOpens => ("bot_opens", false, "NULL::text"),
    };
    let clear = if whatsapp_ids {
        "(phone ~ '^[0-9]' OR (platform = 'whatsapp' AND chat_user_id ~ '^[0-9]'))"
    } else {
        "phone ~ '^[0-9]'"
    };
    let found = rows(
        tx,
        &format!(
            "SELECT id, platform, chat_user_id, phone, {user_key} FROM {name}
             WHERE id > $1 AND {clear} ORDER BY id LIMIT $2 FOR UPDATE"
        ),
        &[&after, &window],
    )
    .await?;
    let Some(last) = found.last().map(|r| r.get::<_, i64>(0)) else {
        return Ok(ExpiryStep {
            rows: 0,
            next: None,
        });
    };
    let write = if table == PhoneTable::Conversations {
        format!("UPDATE {name} SET chat_user_id = $2, phone = $3, user_key = $4 WHERE id = $1")
    } else {
        format!("UPDATE {name} SET chat_user_id = $2, phone = $3 WHERE id = $1")
    };
    let mut changed = 0;
    for r in &found {
        let id: i64 = r.get(0);
        let platform: String = r.get(1);
        let Some((user_id, phone, person)) =
            crate::store::person::rehash_phones(key, &platform, r.get(2), r.get(3), r.get(4))
        else {
            continue;
        };
        changed += if table == PhoneTable::Conversations {
            exec(tx, &write, &[&id, &user_id, &phone, &person]).await?
        } else {
            exec(tx, &write, &[&id, &user_id, &phone]).await?
        };
    }
    Ok(ExpiryStep {
        rows: changed,
        next: (found.len() as i64 >= window).then_some(last),
    })
}
