//! One bounded step of expiry on PostgreSQL: `store/sqlite/retention.rs` ported (the same
//! windows in ID order, events, clicks and visits deleted a window at a time with one statement
//! per group of sites; `chats.id` stands in for SQLite's rowid).

use std::collections::HashSet;
use std::time::Instant;

use deadpool_postgres::Transaction;

use super::sql::{exec, opt, rows};
use crate::privacy::key::PrivacyKey;
use crate::store::privacy::{
    held_chats, Cutoffs, ExpiryStep, ExpiryTarget, PhoneTable, Retention, RetentionPolicy,
    IN_FLIGHT_UPLOADS,
};
use crate::store::StoreError;

/// Runs one step and records how long its statements took.
pub async fn step(
    tx: &Transaction<'_>,
    target: ExpiryTarget,
    policy: &RetentionPolicy,
    now: i64,
    after: i64,
    window: i64,
) -> Result<ExpiryStep, StoreError> {
    let started = Instant::now();
    let mut step = match target {
        ExpiryTarget::Events => arrivals(tx, "events", policy, now, after, window).await,
        ExpiryTarget::Clicks => arrivals(tx, "clicks", policy, now, after, window).await,
        ExpiryTarget::Chats => chats(tx, policy, now, after, window).await,
        ExpiryTarget::Conversations => conversations(tx, policy, now, after, window, false).await,
        ExpiryTarget::FirstText => conversations(tx, policy, now, after, window, true).await,
        ExpiryTarget::MetricaFiles => metrica_files(tx, policy, now, after, window).await,
        ExpiryTarget::Diagnostics => diagnostics(tx, &policy.default, now, window).await,
    }?;
    step.took = started.elapsed();
    Ok(step)
}

/// The window of at most `window` rows after `after` in ID order: its last row's ID and `time`
/// column, and whether it is full. `None`: no rows left.
async fn window_end(
    tx: &Transaction<'_>,
    table: &str,
    time: &str,
    after: i64,
    window: i64,
) -> Result<Option<(i64, i64, bool)>, StoreError> {
    let offset = window - 1;
    if let Some(r) = opt(
        tx,
        &format!("SELECT id, {time} FROM {table} WHERE id > $1 ORDER BY id OFFSET $2 LIMIT 1"),
        &[&after, &offset],
    )
    .await?
    {
        return Ok(Some((r.get(0), r.get(1), true)));
    }
    Ok(opt(
        tx,
        &format!("SELECT id, {time} FROM {table} WHERE id > $1 ORDER BY id DESC LIMIT 1"),
        &[&after],
    )
    .await?
    .map(|r| (r.get(0), r.get(1), false)))
}

/// Deletes the rows of `table` with `after < id ≤ last` whose `time` is before their site's
/// cut-off and that satisfy `also` (SQL, may be empty): one statement per group of `cutoffs`.
#[allow(clippy::too_many_arguments)]
async fn delete_range(
    tx: &Transaction<'_>,
    table: &str,
    time: &str,
    also: &str,
    cutoffs: &Cutoffs,
    after: i64,
    last: i64,
) -> Result<u64, StoreError> {
    let mut changed = 0;
    for (site, cutoff) in &cutoffs.own {
        changed += exec(
            tx,
            &format!(
                "DELETE FROM {table} WHERE id > $1 AND id <= $2 AND site = $3 AND {time} < $4{also}"
            ),
            &[&after, &last, site, cutoff],
        )
        .await?;
    }
    let own = cutoffs.own_sites();
    changed += exec(
        tx,
        &format!(
            "DELETE FROM {table} WHERE id > $1 AND id <= $2 AND {time} < $3 AND site <> ALL($4){also}"
        ),
        &[&after, &last, &cutoffs.default, &own],
    )
    .await?;
    Ok(changed)
}

async fn arrivals(
    tx: &Transaction<'_>,
    table: &'static str,
    policy: &RetentionPolicy,
    now: i64,
    after: i64,
    window: i64,
) -> Result<ExpiryStep, StoreError> {
    let Some((last, received_at, full)) =
        window_end(tx, table, "received_at", after, window).await?
    else {
        return Ok(ExpiryStep::new(0, None));
    };
    let cutoffs = policy.cutoffs(now, |r| r.events_ms);
    let changed = delete_range(tx, table, "received_at", "", &cutoffs, after, last).await?;
    let too_new = received_at >= now - policy.shortest(|r| r.events_ms);
    Ok(ExpiryStep::walked(changed, full, last, too_new))
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
    let Some((last, first_seen, full)) =
        window_end(tx, "chats", "first_seen", after, window).await?
    else {
        return Ok(ExpiryStep::new(0, None));
    };
    let held = held_chats();
    let cutoffs = policy.cutoffs(now, |r| r.chats_ms);
    let changed = delete_range(tx, "chats", "last_seen", &held, &cutoffs, after, last).await?;
    // Rows are created in arrival order (see `ExpiryStep::walked`).
    let too_new = first_seen >= now - policy.shortest(|r| r.chats_ms);
    Ok(ExpiryStep::walked(changed, full, last, too_new))
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
    Ok(ExpiryStep::walked(
        changed,
        found.len() as i64 >= window,
        last,
        too_new,
    ))
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
    Ok(ExpiryStep::walked(
        changed,
        found.len() as i64 >= window,
        last,
        false,
    ))
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
    Ok(ExpiryStep::new(changed, more.then_some(0)))
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
        return Ok(ExpiryStep::new(0, None));
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
    Ok(ExpiryStep::walked(
        changed,
        found.len() as i64 >= window,
        last,
        false,
    ))
}
