//! Read-side SQL: one chat ID with everything known about it, and the recent mappings list.

use chattag_core::identifiers::{Identifiers, Utm};
use rusqlite::{params, Connection, Row};

use crate::chats::matching::Method;
use crate::store::model::{
    ChatRecord, Click, Conflict, ConversationLink, IdentifierValue, MappingCursor, MappingPage,
    MappingQuery, MappingSummary, PageVisit,
};
use crate::store::StoreError;

use crate::store::history::{
    clicks_from_bodies, history_from_bodies, MAX_CHAIN, MAX_CLICKS, MAX_EVENTS_READ,
};

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

pub fn chat(
    conn: &Connection,
    site: Option<&str>,
    chat_id: &str,
) -> Result<Vec<ChatRecord>, StoreError> {
    let rows: Vec<ChatRow> = match site {
        Some(site) => conn
            .prepare_cached(&format!(
                "SELECT {CHAT_COLUMNS} FROM chats WHERE site = ?1 AND chat_id = ?2"
            ))?
            .query_map(params![site, chat_id], chat_row)?
            .collect::<Result<_, _>>()?,
        None => conn
            .prepare_cached(&format!(
                "SELECT {CHAT_COLUMNS} FROM chats WHERE chat_id = ?1 ORDER BY site"
            ))?
            .query_map(params![chat_id], chat_row)?
            .collect::<Result<_, _>>()?,
    };
    rows.into_iter().map(|row| full_record(conn, row)).collect()
}

fn full_record(conn: &Connection, row: ChatRow) -> Result<ChatRecord, StoreError> {
    let site = row.summary.site.clone();
    let id = row.summary.chat_id.clone();

    let (identifier_history, pages) = history_from_events(conn, &site, &id)?;

    let clicks = clicks_from_events(conn, &site, &id)?;

    let conflicts = conn
        .prepare_cached(
            "SELECT event_id, known_client_id, new_client_id, received_at FROM chat_conflicts
             WHERE site = ?1 AND chat_id = ?2 ORDER BY received_at",
        )?
        .query_map(params![site, id], |r| {
            Ok(Conflict {
                event_id: r.get(0)?,
                known_client_id: r.get(1)?,
                new_client_id: r.get(2)?,
                received_at: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;

    let previous_chat_ids = previous_chain(conn, &site, row.summary.prev_chat_id.as_deref(), &id)?;
    let next_chat_ids = conn
        .prepare_cached("SELECT chat_id FROM chats WHERE site = ?1 AND prev_chat_id = ?2 ORDER BY first_seen LIMIT 50")?
        .query_map(params![site, id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;

    let conversations = conn
        .prepare_cached(
            "SELECT platform, started_at, method, answered FROM conversations
             WHERE chat_id = ?2 AND coalesce(site, ?1) = ?1 ORDER BY started_at, id LIMIT 100",
        )?
        .query_map(params![site, id], |r| {
            let method: String = r.get(2)?;
            Ok(ConversationLink {
                platform: r.get(0)?,
                started_at: r.get(1)?,
                probable: method == Method::ProbableClick.as_str(),
                method,
                answered: r.get::<_, i64>(3)? != 0,
            })
        })?
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
        conversations,
    })
}

/// The row IDs of one chat's events, listed in its `chats` row: no per-chat index is written
/// at ingest (see migration `events_0003_chat_event_list`).
const CHAT_EVENTS: &str = "SELECT value FROM json_each((SELECT '[' || event_rowids || ']' FROM chats WHERE site = ?1 AND chat_id = ?2))";

/// The clicks of one chat, from its stored `click` events, so the `clicks` table needs no
/// per-chat index of its own.
fn clicks_from_events(
    conn: &Connection,
    site: &str,
    chat_id: &str,
) -> Result<Vec<Click>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT body, received_at FROM events WHERE id IN ({CHAT_EVENTS}) AND kind = 'click'
         ORDER BY ts, id LIMIT ?3"
    ))?;
    let rows = stmt
        .query_map(params![site, chat_id, MAX_CLICKS], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    clicks_from_bodies(rows)
}

/// The identifier values and pages of one chat, from its stored events (the source of truth;
/// see `ingest.rs` for why these are not kept as tables).
fn history_from_events(
    conn: &Connection,
    site: &str,
    chat_id: &str,
) -> Result<(Vec<IdentifierValue>, Vec<PageVisit>), StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT body, received_at FROM events WHERE id IN ({CHAT_EVENTS}) ORDER BY ts, id LIMIT ?3"
    ))?;
    let rows = stmt
        .query_map(params![site, chat_id, MAX_EVENTS_READ], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    history_from_bodies(rows)
}

/// Follows `prev_chat_id` from `start`; stops at a cycle (IDs come from visitors' browsers, so
/// a forged loop is possible) or after [`MAX_CHAIN`] steps. The previous ID itself is listed
/// even if the collector never received an event for it.
fn previous_chain(
    conn: &Connection,
    site: &str,
    start: Option<&str>,
    own: &str,
) -> Result<Vec<String>, StoreError> {
    let mut chain: Vec<String> = Vec::new();
    let mut next = start.map(str::to_owned);
    while let Some(id) = next.take() {
        if id == own || chain.contains(&id) || chain.len() >= MAX_CHAIN {
            break;
        }
        next = conn
            .prepare_cached("SELECT prev_chat_id FROM chats WHERE site = ?1 AND chat_id = ?2")?
            .query_row(params![site, id], |r| r.get::<_, Option<String>>(0))
            .or_else(|e| {
                if e == rusqlite::Error::QueryReturnedNoRows {
                    Ok(None)
                } else {
                    Err(e)
                }
            })?;
        chain.push(id);
    }
    Ok(chain)
}

pub fn mappings(conn: &Connection, q: &MappingQuery) -> Result<MappingPage, StoreError> {
    let after = q.after.unwrap_or(MappingCursor {
        last_seen: i64::MAX,
        rowid: i64::MAX,
    });
    // The row-value comparison walks `chats_by_last_seen` (last_seen, rowid) backwards from the
    // cursor, so a page costs its own rows, not the rows before it.
    let rows: Vec<(ChatRow, i64)> = conn
        .prepare_cached(&format!(
            "SELECT {CHAT_COLUMNS}, rowid FROM chats
             WHERE (?1 IS NULL OR site = ?1) AND (last_seen, rowid) < (?2, ?3)
             ORDER BY last_seen DESC, rowid DESC LIMIT ?4"
        ))?
        .query_map(
            params![q.site, after.last_seen, after.rowid, i64::from(q.limit)],
            |r| Ok((chat_row(r)?, r.get(20)?)),
        )?
        .collect::<Result<_, _>>()?;
    let next = match rows.last() {
        Some((row, rowid)) if rows.len() == q.limit as usize => Some(MappingCursor {
            last_seen: row.summary.last_seen,
            rowid: *rowid,
        }),
        _ => None,
    };
    Ok(MappingPage {
        mappings: rows.into_iter().map(|(r, _)| r.summary).collect(),
        next,
    })
}
