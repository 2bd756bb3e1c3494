//! Read-side SQL on PostgreSQL: one chat ID with everything known about it, and the recent
//! mappings list (`store/sqlite/queries.rs` ported; the history is derived from the events the
//! same way, by [`crate::store::sqlite::queries`]' shared functions).

use chattag_core::identifiers::{Identifiers, Utm};
use deadpool_postgres::Object;
use tokio_postgres::Row;

use crate::chats::matching::Method;
use crate::store::history::{
    clicks_from_bodies, history_from_bodies, MAX_CHAIN, MAX_CLICKS, MAX_EVENTS_READ,
};
use crate::store::model::{
    ChatRecord, Conflict, ConversationLink, MappingCursor, MappingPage, MappingQuery,
    MappingSummary,
};
use crate::store::StoreError;

const CHAT_COLUMNS: &str = "site, chat_id, first_seen, last_seen, first_ts, last_ts, client_id, yclid, user_id,
    purchase_id, gclid, fbclid, ga_client_id, utm, landing_page, referrer, prev_chat_id, events, clicks, collision, id";

struct ChatRow {
    summary: MappingSummary,
    first_ts: i64,
    last_ts: i64,
    landing_page: Option<String>,
    referrer: Option<String>,
    id: i64,
}

fn chat_row(r: &Row) -> ChatRow {
    let utm: Option<String> = r.get(13);
    ChatRow {
        summary: MappingSummary {
            site: r.get(0),
            chat_id: r.get(1),
            first_seen: r.get(2),
            last_seen: r.get(3),
            identifiers: Identifiers {
                client_id: r.get(6),
                yclid: r.get(7),
                user_id: r.get(8),
                purchase_id: r.get(9),
                gclid: r.get(10),
                fbclid: r.get(11),
                ga_client_id: r.get(12),
                // Written by the collector from a validated Utm; unreadable JSON reads as absent.
                utm: utm.and_then(|s| serde_json::from_str::<Utm>(&s).ok()),
            },
            prev_chat_id: r.get(16),
            events: r.get(17),
            clicks: r.get(18),
            collision: r.get::<_, i64>(19) != 0,
        },
        first_ts: r.get(4),
        last_ts: r.get(5),
        landing_page: r.get(14),
        referrer: r.get(15),
        id: r.get(20),
    }
}

pub async fn chat(
    c: &Object,
    site: Option<&str>,
    chat_id: &str,
) -> Result<Vec<ChatRecord>, StoreError> {
    let rows = match site {
        Some(site) => {
            let st = c
                .prepare_cached(&format!(
                    "SELECT {CHAT_COLUMNS} FROM chats WHERE site = $1 AND chat_id = $2"
                ))
                .await?;
            c.query(&st, &[&site, &chat_id]).await?
        }
        None => {
            let st = c
                .prepare_cached(&format!(
                    "SELECT {CHAT_COLUMNS} FROM chats WHERE chat_id = $1 ORDER BY site"
                ))
                .await?;
            c.query(&st, &[&chat_id]).await?
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.iter().map(chat_row) {
        out.push(full_record(c, row).await?);
    }
    Ok(out)
}

async fn full_record(c: &Object, row: ChatRow) -> Result<ChatRecord, StoreError> {
    let site = row.summary.site.clone();
    let id = row.summary.chat_id.clone();

    let bodies = |kind: Option<&'static str>, limit: i64| {
        let (site, id) = (site.clone(), id.clone());
        async move {
            let st = c
                .prepare_cached(
                    "SELECT body, received_at FROM events WHERE site = $1 AND chat_id = $2
                       AND ($3::text IS NULL OR kind = $3) ORDER BY ts, id LIMIT $4",
                )
                .await?;
            let rows = c.query(&st, &[&site, &id, &kind, &limit]).await?;
            Ok::<_, StoreError>(
                rows.iter()
                    .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
                    .collect::<Vec<_>>(),
            )
        }
    };
    let (identifier_history, pages) = history_from_bodies(bodies(None, MAX_EVENTS_READ).await?)?;
    let clicks = clicks_from_bodies(bodies(Some("click"), MAX_CLICKS).await?)?;

    let st = c
        .prepare_cached(
            "SELECT event_id, known_client_id, new_client_id, received_at FROM chat_conflicts
             WHERE site = $1 AND chat_id = $2 ORDER BY received_at",
        )
        .await?;
    let conflicts = c
        .query(&st, &[&site, &id])
        .await?
        .iter()
        .map(|r| Conflict {
            event_id: r.get(0),
            known_client_id: r.get(1),
            new_client_id: r.get(2),
            received_at: r.get(3),
        })
        .collect();

    let previous_chat_ids =
        previous_chain(c, &site, row.summary.prev_chat_id.as_deref(), &id).await?;
    let st = c
        .prepare_cached(
            "SELECT chat_id FROM chats WHERE site = $1 AND prev_chat_id = $2 ORDER BY first_seen LIMIT 50",
        )
        .await?;
    let next_chat_ids = c
        .query(&st, &[&site, &id])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();

    let st = c
        .prepare_cached(
            "SELECT platform, started_at, method, answered FROM conversations
             WHERE chat_id = $2 AND coalesce(site, $1) = $1 ORDER BY started_at, id LIMIT 100",
        )
        .await?;
    let conversations = c
        .query(&st, &[&site, &id])
        .await?
        .iter()
        .map(|r| {
            let method: String = r.get(2);
            ConversationLink {
                platform: r.get(0),
                started_at: r.get(1),
                probable: method == Method::ProbableClick.as_str(),
                method,
                answered: r.get::<_, i64>(3) != 0,
            }
        })
        .collect();

    let s = row.summary;
    Ok(ChatRecord {
        site: s.site,
        chat_id: s.chat_id,
        first_seen: s.first_seen,
        last_seen: s.last_seen,
        first_ts: row.first_ts,
        last_ts: row.last_ts,
        identifiers: s.identifiers,
        identifier_history,
        landing_page: row.landing_page,
        referrer: row.referrer,
        prev_chat_id: s.prev_chat_id,
        previous_chat_ids,
        next_chat_ids,
        pages,
        clicks,
        events: s.events,
        collision: s.collision,
        conflicts,
        conversations,
    })
}

/// Follows `prev_chat_id` from `start`, as SQLite's: stops at a cycle or after [`MAX_CHAIN`].
async fn previous_chain(
    c: &Object,
    site: &str,
    start: Option<&str>,
    own: &str,
) -> Result<Vec<String>, StoreError> {
    let st = c
        .prepare_cached("SELECT prev_chat_id FROM chats WHERE site = $1 AND chat_id = $2")
        .await?;
    let mut chain: Vec<String> = Vec::new();
    let mut next = start.map(str::to_owned);
    while let Some(id) = next.take() {
        if id == own || chain.contains(&id) || chain.len() >= MAX_CHAIN {
            break;
        }
        next = c
            .query_opt(&st, &[&site, &id])
            .await?
            .and_then(|r| r.get::<_, Option<String>>(0));
        chain.push(id);
    }
    Ok(chain)
}

pub async fn mappings(c: &Object, q: &MappingQuery) -> Result<MappingPage, StoreError> {
    let after = q.after.unwrap_or(MappingCursor {
        last_seen: i64::MAX,
        rowid: i64::MAX,
    });
    // The row comparison walks `chats_by_last_seen` (last_seen, id) backwards from the cursor.
    let st = c
        .prepare_cached(&format!(
            "SELECT {CHAT_COLUMNS} FROM chats
             WHERE ($1::text IS NULL OR site = $1) AND (last_seen, id) < ($2, $3)
             ORDER BY last_seen DESC, id DESC LIMIT $4"
        ))
        .await?;
    let rows: Vec<ChatRow> = c
        .query(
            &st,
            &[&q.site, &after.last_seen, &after.rowid, &i64::from(q.limit)],
        )
        .await?
        .iter()
        .map(chat_row)
        .collect();
    let next = match rows.last() {
        Some(row) if rows.len() == q.limit as usize => Some(MappingCursor {
            last_seen: row.summary.last_seen,
            rowid: row.id,
        }),
        _ => None,
    };
    Ok(MappingPage {
        mappings: rows.into_iter().map(|r| r.summary).collect(),
        next,
    })
}
