//! Read-side SQL: one chat ID with everything known about it, and the recent mappings list.

use chattag_core::identifiers::{Identifiers, Utm};
use rusqlite::{params, Connection, Row};

use super::model::{ChatRecord, Click, Conflict, IdentifierValue, MappingQuery, MappingSummary, PageVisit};
use super::StoreError;

/// How far `previous_chat_ids` follows `prev_chat_id` links: a visitor gets a new ID per ad
/// click, so a long chain is possible but unbounded walks are not.
const MAX_CHAIN: usize = 50;
/// Per-record caps so that one busy chat ID cannot produce a huge response.
const MAX_PAGES: i64 = 200;
const MAX_CLICKS: i64 = 200;

const CHAT_COLUMNS: &str = "site, chat_id, first_seen, last_seen, first_ts, last_ts, client_id, yclid, user_id,
    purchase_id, gclid, fbclid, ga_client_id, utm, landing_page, referrer, prev_chat_id, events, clicks, collision";

struct ChatRow {
    summary: MappingSummary,
    first_ts: i64,
    last_ts: i64,
    landing_page: Option<String>,
    referrer: Option<String>,
}

fn chat_row(r: &Row<'_>) -> rusqlite::Result<ChatRow> {
    let utm: Option<String> = r.get(13)?;
    Ok(ChatRow {
        summary: MappingSummary {
            site: r.get(0)?,
            chat_id: r.get(1)?,
            first_seen: r.get(2)?,
            last_seen: r.get(3)?,
            identifiers: Identifiers {
                client_id: r.get(6)?,
                yclid: r.get(7)?,
                user_id: r.get(8)?,
                purchase_id: r.get(9)?,
                gclid: r.get(10)?,
                fbclid: r.get(11)?,
                ga_client_id: r.get(12)?,
                // Written by the collector from a validated Utm; unreadable JSON reads as absent.
                utm: utm.and_then(|s| serde_json::from_str::<Utm>(&s).ok()),
            },
            prev_chat_id: r.get(16)?,
            events: r.get(17)?,
            clicks: r.get(18)?,
            collision: r.get::<_, i64>(19)? != 0,
        },
        first_ts: r.get(4)?,
        last_ts: r.get(5)?,
        landing_page: r.get(14)?,
        referrer: r.get(15)?,
    })
}

pub fn chat(conn: &Connection, site: Option<&str>, chat_id: &str) -> Result<Vec<ChatRecord>, StoreError> {
    let rows: Vec<ChatRow> = match site {
        Some(site) => conn
            .prepare_cached(&format!("SELECT {CHAT_COLUMNS} FROM chats WHERE site = ?1 AND chat_id = ?2"))?
            .query_map(params![site, chat_id], chat_row)?
            .collect::<Result<_, _>>()?,
        None => conn
            .prepare_cached(&format!("SELECT {CHAT_COLUMNS} FROM chats WHERE chat_id = ?1 ORDER BY site"))?
            .query_map(params![chat_id], chat_row)?
            .collect::<Result<_, _>>()?,
    };
    rows.into_iter().map(|row| full_record(conn, row)).collect()
}

fn full_record(conn: &Connection, row: ChatRow) -> Result<ChatRecord, StoreError> {
    let site = row.summary.site.clone();
    let id = row.summary.chat_id.clone();

    let identifier_history = conn
        .prepare_cached(
            "SELECT field, value, first_seen, last_seen, first_ts, last_ts, events FROM chat_identifiers
             WHERE site = ?1 AND chat_id = ?2 ORDER BY field, first_ts",
        )?
        .query_map(params![site, id], |r| {
            Ok(IdentifierValue {
                field: r.get(0)?,
                value: r.get(1)?,
                first_seen: r.get(2)?,
                last_seen: r.get(3)?,
                first_ts: r.get(4)?,
                last_ts: r.get(5)?,
                events: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;

    let pages = conn
        .prepare_cached(
            "SELECT url, first_ts, last_ts, events FROM chat_pages WHERE site = ?1 AND chat_id = ?2
             ORDER BY first_ts LIMIT ?3",
        )?
        .query_map(params![site, id, MAX_PAGES], |r| {
            Ok(PageVisit { url: r.get(0)?, first_ts: r.get(1)?, last_ts: r.get(2)?, events: r.get(3)? })
        })?
        .collect::<Result<_, _>>()?;

    let clicks = conn
        .prepare_cached(
            "SELECT event_id, messenger, link_kind, target, page, ts, received_at FROM clicks
             WHERE site = ?1 AND chat_id = ?2 ORDER BY ts LIMIT ?3",
        )?
        .query_map(params![site, id, MAX_CLICKS], |r| {
            Ok(Click {
                event_id: r.get(0)?,
                messenger: r.get(1)?,
                link_kind: r.get(2)?,
                target: r.get(3)?,
                page: r.get(4)?,
                ts: r.get(5)?,
                received_at: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;

    let conflicts = conn
        .prepare_cached(
            "SELECT event_id, known_client_id, new_client_id, received_at FROM chat_conflicts
             WHERE site = ?1 AND chat_id = ?2 ORDER BY received_at",
        )?
        .query_map(params![site, id], |r| {
            Ok(Conflict { event_id: r.get(0)?, known_client_id: r.get(1)?, new_client_id: r.get(2)?, received_at: r.get(3)? })
        })?
        .collect::<Result<_, _>>()?;

    let previous_chat_ids = previous_chain(conn, &site, row.summary.prev_chat_id.as_deref(), &id)?;
    let next_chat_ids = conn
        .prepare_cached("SELECT chat_id FROM chats WHERE site = ?1 AND prev_chat_id = ?2 ORDER BY first_seen LIMIT 50")?
        .query_map(params![site, id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;

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
    })
}

/// Follows `prev_chat_id` from `start`; stops at a cycle (IDs come from visitors' browsers, so
/// a forged loop is possible) or after [`MAX_CHAIN`] steps. The previous ID itself is listed
/// even if the collector never received an event for it.
fn previous_chain(conn: &Connection, site: &str, start: Option<&str>, own: &str) -> Result<Vec<String>, StoreError> {
    let mut chain: Vec<String> = Vec::new();
    let mut next = start.map(str::to_owned);
    while let Some(id) = next.take() {
        if id == own || chain.contains(&id) || chain.len() >= MAX_CHAIN {
            break;
        }
        next = conn
            .prepare_cached("SELECT prev_chat_id FROM chats WHERE site = ?1 AND chat_id = ?2")?
            .query_row(params![site, id], |r| r.get::<_, Option<String>>(0))
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
        chain.push(id);
    }
    Ok(chain)
}

pub fn mappings(conn: &Connection, q: &MappingQuery) -> Result<Vec<MappingSummary>, StoreError> {
    let before = q.before.unwrap_or(i64::MAX);
    let limit = i64::from(q.limit);
    let rows: Vec<ChatRow> = match &q.site {
        Some(site) => conn
            .prepare_cached(&format!(
                "SELECT {CHAT_COLUMNS} FROM chats WHERE site = ?1 AND last_seen < ?2 ORDER BY last_seen DESC LIMIT ?3"
            ))?
            .query_map(params![site, before, limit], chat_row)?
            .collect::<Result<_, _>>()?,
        None => conn
            .prepare_cached(&format!("SELECT {CHAT_COLUMNS} FROM chats WHERE last_seen < ?1 ORDER BY last_seen DESC LIMIT ?2"))?
            .query_map(params![before, limit], chat_row)?
            .collect::<Result<_, _>>()?,
    };
    Ok(rows.into_iter().map(|r| r.summary).collect())
}
