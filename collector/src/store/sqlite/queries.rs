//! Read-side SQL: one chat ID with everything known about it, and the recent mappings list.
//! The statements and the record's assembly are shared ([`crate::store::read_sql`]); how one
//! chat's events are found is SQLite's own ([`CHAT_EVENTS`]).

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::store::columns::Columns;
use crate::store::dialect::Dialect::Sqlite;
use crate::store::history::{clicks_from_bodies, history_from_bodies, MAX_CLICKS, MAX_EVENTS_READ};
use crate::store::model::{ChatRecord, MappingCursor, MappingPage, MappingQuery};
use crate::store::read_sql::{self as sql, ChatRow, Related};
use crate::store::StoreError;

impl Columns for Row<'_> {
    type Error = rusqlite::Error;
    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }
    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }
    fn flag(&self, i: usize) -> rusqlite::Result<bool> {
        self.get(i)
    }
}

pub fn chat(
    conn: &Connection,
    site: Option<&str>,
    chat_id: &str,
) -> Result<Vec<ChatRecord>, StoreError> {
    let rows: Vec<ChatRow> = match site {
        Some(site) => conn
            .prepare_cached(&sql::chat_at_site(Sqlite))?
            .query_map(params![site, chat_id], |r| sql::chat_row(r))?
            .collect::<Result<_, _>>()?,
        None => conn
            .prepare_cached(&sql::chat_on_every_site(Sqlite))?
            .query_map(params![chat_id], |r| sql::chat_row(r))?
            .collect::<Result<_, _>>()?,
    };
    rows.into_iter().map(|row| full_record(conn, row)).collect()
}

fn full_record(conn: &Connection, row: ChatRow) -> Result<ChatRecord, StoreError> {
    let site = row.summary.site.clone();
    let id = row.summary.chat_id.clone();
    let (identifier_history, pages) =
        history_from_bodies(event_bodies(conn, &site, &id, None, MAX_EVENTS_READ)?)?;
    let related = Related {
        identifier_history,
        pages,
        clicks: clicks_from_bodies(event_bodies(conn, &site, &id, Some("click"), MAX_CLICKS)?)?,
        conflicts: conn
            .prepare_cached(&sql::conflicts(Sqlite))?
            .query_map(params![site, id], |r| sql::conflict(r))?
            .collect::<Result<_, _>>()?,
        previous_chat_ids: previous_chain(conn, &site, row.summary.prev_chat_id.as_deref(), &id)?,
        next_chat_ids: conn
            .prepare_cached(&sql::next_chat_ids(Sqlite))?
            .query_map(params![site, id], |r| r.get(0))?
            .collect::<Result<_, _>>()?,
        conversations: conn
            .prepare_cached(&sql::conversation_links(Sqlite))?
            .query_map(params![site, id], |r| sql::conversation_link(r))?
            .collect::<Result<_, _>>()?,
    };
    Ok(row.record(related))
}

/// The row IDs of one chat's events, listed in its `chats` row: no per-chat index is written
/// at ingest (see migration `events_0003_chat_event_list`).
const CHAT_EVENTS: &str = "SELECT value FROM json_each((SELECT '[' || event_rowids || ']' FROM chats WHERE site = ?1 AND chat_id = ?2))";

/// The bodies (and receipt times) of one chat's stored events, of `kind` only when given, in
/// visitor-clock order: the source of its history and its clicks (see `ingest.rs` for why
/// these are not kept as tables, and why `clicks` needs no per-chat index of its own).
fn event_bodies(
    conn: &Connection,
    site: &str,
    chat_id: &str,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT body, received_at FROM events WHERE id IN ({CHAT_EVENTS})
           AND (?4 IS NULL OR kind = ?4) ORDER BY ts, id LIMIT ?3"
    ))?;
    let rows = stmt
        .query_map(params![site, chat_id, limit, kind], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Follows `prev_chat_id` from `start` until [`sql::chain_ends`].
fn previous_chain(
    conn: &Connection,
    site: &str,
    start: Option<&str>,
    own: &str,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(&sql::previous_chat_id(Sqlite))?;
    let mut chain: Vec<String> = Vec::new();
    let mut next = start.map(str::to_owned);
    while let Some(id) = next.take() {
        if sql::chain_ends(&chain, &id, own) {
            break;
        }
        next = stmt
            .query_row(params![site, id], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten();
        chain.push(id);
    }
    Ok(chain)
}

pub fn mappings(conn: &Connection, q: &MappingQuery) -> Result<MappingPage, StoreError> {
    let after = q.after.unwrap_or(MappingCursor {
        last_seen: i64::MAX,
        rowid: i64::MAX,
    });
    let rows = conn
        .prepare_cached(&sql::mappings_page(Sqlite))?
        .query_map(
            params![q.site, after.last_seen, after.rowid, i64::from(q.limit)],
            |r| sql::mapping_row(r),
        )?
        .collect::<Result<_, _>>()?;
    Ok(sql::mapping_page(rows, q.limit))
}
