//! The read API's statements and its `ChatRecord` assembly, written once for both backends
//! (rendered by [`Dialect`], rows read through [`Columns`]). What differs for real stays in the
//! backends: how one chat's events are found (SQLite keeps their row IDs in the `chats` row,
//! PostgreSQL has an index) and the `chats` table's row key ([`chats_row_key`]).

use chattag_core::identifiers::{Identifiers, Utm};

use crate::chats::matching::Method;
use crate::store::columns::Columns;
use crate::store::dialect::Dialect;
use crate::store::history::MAX_CHAIN;
use crate::store::model::{
    ChatRecord, Click, Conflict, ConversationLink, IdentifierValue, MappingCursor, MappingPage,
    MappingSummary, PageVisit,
};

/// The columns [`chat_row`] reads, in its order.
const CHAT_COLUMNS: &str = "site, chat_id, first_seen, last_seen, first_ts, last_ts, client_id, yclid, user_id,
    purchase_id, gclid, fbclid, ga_client_id, utm, landing_page, referrer, prev_chat_id, events, clicks, collision";

/// The `chats` row of (`$1` site, `$2` chat ID).
pub fn chat_at_site(d: Dialect) -> String {
    d.render(&format!(
        "SELECT {CHAT_COLUMNS} FROM chats WHERE site = $1 AND chat_id = $2"
    ))
}

/// The `chats` rows of chat ID `$1` on every site.
pub fn chat_on_every_site(d: Dialect) -> String {
    d.render(&format!(
        "SELECT {CHAT_COLUMNS} FROM chats WHERE chat_id = $1 ORDER BY site"
    ))
}

/// The key that orders `chats` rows for the mappings cursor: SQLite's rowid, PostgreSQL's
/// `id` column (the migrations of each engine).
pub fn chats_row_key(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "rowid",
        Dialect::Postgres => "id",
    }
}

/// One page of mappings (`$1` site or all, newest first from the cursor (`$2` last seen, `$3`
/// row key), `$4` rows): [`chat_row`]'s columns, then the row key. The row comparison walks
/// `chats_by_last_seen` (last_seen, key) backwards from the cursor, so a page costs its own
/// rows, not the rows before it.
pub fn mappings_page(d: Dialect) -> String {
    let key = chats_row_key(d);
    d.render(&format!(
        "SELECT {CHAT_COLUMNS}, {key} FROM chats
         WHERE ($1::text IS NULL OR site = $1) AND (last_seen, {key}) < ($2, $3)
         ORDER BY last_seen DESC, {key} DESC LIMIT $4"
    ))
}

/// The ClientID conflicts of (`$1` site, `$2` chat ID). Columns: see [`conflict`].
pub fn conflicts(d: Dialect) -> String {
    d.render(
        "SELECT event_id, known_client_id, new_client_id, received_at FROM chat_conflicts
         WHERE site = $1 AND chat_id = $2 ORDER BY received_at",
    )
}

/// The `prev_chat_id` of (`$1` site, `$2` chat ID).
pub fn previous_chat_id(d: Dialect) -> String {
    d.render("SELECT prev_chat_id FROM chats WHERE site = $1 AND chat_id = $2")
}

/// IDs on site `$1` that replaced chat ID `$2`.
pub fn next_chat_ids(d: Dialect) -> String {
    d.render(
        "SELECT chat_id FROM chats WHERE site = $1 AND prev_chat_id = $2 ORDER BY first_seen LIMIT 50",
    )
}

/// The conversations carrying chat ID `$2` on site `$1` (or on no site yet). Columns: see
/// [`conversation_link`].
pub fn conversation_links(d: Dialect) -> String {
    d.render(
        "SELECT platform, started_at, method, answered FROM conversations
         WHERE chat_id = $2 AND coalesce(site, $1) = $1 ORDER BY started_at, id LIMIT 100",
    )
}

/// One `chats` row, before the rest of its record is read.
pub struct ChatRow {
    pub summary: MappingSummary,
    first_ts: i64,
    last_ts: i64,
    landing_page: Option<String>,
    referrer: Option<String>,
}

pub fn chat_row<R: Columns>(r: &R) -> Result<ChatRow, R::Error> {
    let utm = r.opt_text(13)?;
    Ok(ChatRow {
        summary: MappingSummary {
            site: r.text(0)?,
            chat_id: r.text(1)?,
            first_seen: r.int(2)?,
            last_seen: r.int(3)?,
            identifiers: Identifiers {
                client_id: r.opt_text(6)?,
                yclid: r.opt_text(7)?,
                user_id: r.opt_text(8)?,
                purchase_id: r.opt_text(9)?,
                gclid: r.opt_text(10)?,
                fbclid: r.opt_text(11)?,
                ga_client_id: r.opt_text(12)?,
                // Written by the collector from a validated Utm; unreadable JSON reads as absent.
                utm: utm.and_then(|s| serde_json::from_str::<Utm>(&s).ok()),
            },
            prev_chat_id: r.opt_text(16)?,
            events: r.int(17)?,
            clicks: r.int(18)?,
            collision: r.int(19)? != 0,
        },
        first_ts: r.int(4)?,
        last_ts: r.int(5)?,
        landing_page: r.opt_text(14)?,
        referrer: r.opt_text(15)?,
    })
}

/// A row of [`mappings_page`]: the chat and its row key (column 20).
pub fn mapping_row<R: Columns>(r: &R) -> Result<(ChatRow, i64), R::Error> {
    Ok((chat_row(r)?, r.int(20)?))
}

/// A page of [`mapping_row`]s; a full page has a cursor to the next.
pub fn mapping_page(rows: Vec<(ChatRow, i64)>, limit: u32) -> MappingPage {
    let next = match rows.last() {
        Some((row, rowid)) if rows.len() == limit as usize => Some(MappingCursor {
            last_seen: row.summary.last_seen,
            rowid: *rowid,
        }),
        _ => None,
    };
    MappingPage {
        mappings: rows.into_iter().map(|(r, _)| r.summary).collect(),
        next,
    }
}

pub fn conflict<R: Columns>(r: &R) -> Result<Conflict, R::Error> {
    Ok(Conflict {
        event_id: r.text(0)?,
        known_client_id: r.text(1)?,
        new_client_id: r.text(2)?,
        received_at: r.int(3)?,
    })
}

pub fn conversation_link<R: Columns>(r: &R) -> Result<ConversationLink, R::Error> {
    let method = r.text(2)?;
    Ok(ConversationLink {
        platform: r.text(0)?,
        started_at: r.int(1)?,
        probable: method == Method::ProbableClick.as_str(),
        method,
        answered: r.int(3)? != 0,
    })
}

/// Whether following `prev_chat_id` stops before `id`: back at the chat itself, a cycle (IDs
/// come from visitors' browsers, so a forged loop is possible), or [`MAX_CHAIN`] steps. The
/// previous ID itself is listed even if the collector never received an event for it.
pub fn chain_ends(chain: &[String], id: &str, own: &str) -> bool {
    id == own || chain.iter().any(|c| c == id) || chain.len() >= MAX_CHAIN
}

/// What a record holds beside its `chats` row.
pub struct Related {
    pub identifier_history: Vec<IdentifierValue>,
    pub pages: Vec<PageVisit>,
    pub clicks: Vec<Click>,
    pub conflicts: Vec<Conflict>,
    pub previous_chat_ids: Vec<String>,
    pub next_chat_ids: Vec<String>,
    pub conversations: Vec<ConversationLink>,
}

impl ChatRow {
    pub fn record(self, related: Related) -> ChatRecord {
        let s = self.summary;
        ChatRecord {
            site: s.site,
            chat_id: s.chat_id,
            first_seen: s.first_seen,
            last_seen: s.last_seen,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            identifiers: s.identifiers,
            identifier_history: related.identifier_history,
            landing_page: self.landing_page,
            referrer: self.referrer,
            prev_chat_id: s.prev_chat_id,
            previous_chat_ids: related.previous_chat_ids,
            next_chat_ids: related.next_chat_ids,
            pages: related.pages,
            clicks: related.clicks,
            events: s.events,
            collision: s.collision,
            conflicts: related.conflicts,
            conversations: related.conversations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    const COLUMNS: &str = "site, chat_id, first_seen, last_seen, first_ts, last_ts, client_id, yclid, user_id, purchase_id, gclid, fbclid, ga_client_id, utm, landing_page, referrer, prev_chat_id, events, clicks, collision";

    #[test]
    fn mappings_page_per_engine() {
        assert_eq!(
            flat(&mappings_page(Dialect::Postgres)),
            format!("SELECT {COLUMNS}, id FROM chats WHERE ($1::text IS NULL OR site = $1) AND (last_seen, id) < ($2, $3) ORDER BY last_seen DESC, id DESC LIMIT $4")
        );
        assert_eq!(
            flat(&mappings_page(Dialect::Sqlite)),
            format!("SELECT {COLUMNS}, rowid FROM chats WHERE (?1 IS NULL OR site = ?1) AND (last_seen, rowid) < (?2, ?3) ORDER BY last_seen DESC, rowid DESC LIMIT ?4")
        );
    }

    #[test]
    fn record_lookups_per_engine() {
        assert_eq!(
            flat(&conversation_links(Dialect::Postgres)),
            "SELECT platform, started_at, method, answered FROM conversations WHERE chat_id = $2 AND coalesce(site, $1) = $1 ORDER BY started_at, id LIMIT 100"
        );
        assert_eq!(
            flat(&conversation_links(Dialect::Sqlite)),
            "SELECT platform, started_at, method, answered FROM conversations WHERE chat_id = ?2 AND coalesce(site, ?1) = ?1 ORDER BY started_at, id LIMIT 100"
        );
        assert_eq!(
            flat(&chat_at_site(Dialect::Sqlite)),
            format!("SELECT {COLUMNS} FROM chats WHERE site = ?1 AND chat_id = ?2")
        );
        assert_eq!(
            flat(&chat_on_every_site(Dialect::Postgres)),
            format!("SELECT {COLUMNS} FROM chats WHERE chat_id = $1 ORDER BY site")
        );
    }

    #[test]
    fn chain_stops_at_itself_a_cycle_or_the_limit() {
        let chain = vec!["A".to_string(), "B".to_string()];
        assert!(chain_ends(&chain, "OWN", "OWN"));
        assert!(chain_ends(&chain, "A", "OWN"));
        assert!(!chain_ends(&chain, "C", "OWN"));
        let long = vec![String::new(); MAX_CHAIN];
        assert!(chain_ends(&long, "C", "OWN"));
    }
}
