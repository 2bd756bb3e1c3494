//! What the read API returns; serialised as JSON as is.

use chattag_core::identifiers::Identifiers;
use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngestOutcome {
    pub accepted: usize,
    pub duplicates: usize,
}

/// Everything known about one (site, chat ID).
#[derive(Clone, Debug, Serialize)]
pub struct ChatRecord {
    pub site: String,
    pub chat_id: String,
    /// Server clock, ms since the epoch: when the collector first / last received an event.
    pub first_seen: i64,
    pub last_seen: i64,
    /// Visitor clock (the events' `ts`), ms since the epoch.
    pub first_ts: i64,
    pub last_ts: i64,
    /// The most recent value of each identifier (by visitor clock).
    pub identifiers: Identifiers,
    /// Every value each identifier has had, with when it was first and last reported.
    pub identifier_history: Vec<IdentifierValue>,
    pub landing_page: Option<String>,
    pub referrer: Option<String>,
    /// The ID this one replaced (a new ad click issues a new ID).
    pub prev_chat_id: Option<String>,
    /// Older IDs of the same visitor, newest first (following `prev_chat_id`).
    pub previous_chat_ids: Vec<String>,
    /// IDs that replaced this one.
    pub next_chat_ids: Vec<String>,
    pub pages: Vec<PageVisit>,
    pub clicks: Vec<Click>,
    pub events: i64,
    /// True when an `issue` for this ID arrived with a different ClientID than the one known:
    /// two visitors may share the ID, so attribution for it is doubtful.
    pub collision: bool,
    pub conflicts: Vec<Conflict>,
    /// Messenger chats tied to this ID, oldest first (at most 100).
    pub conversations: Vec<ConversationLink>,
}

/// A chat tied to a chat ID, and how surely.
#[derive(Clone, Debug, Serialize)]
pub struct ConversationLink {
    pub platform: String,
    /// ms since the epoch.
    pub started_at: i64,
    /// `exact-link` | `exact-text` | `probable-click`.
    pub method: String,
    /// Tied by click timing only, without the code: a guess, not sent to Metrica unless the
    /// counter's `send_probable` is set (docs/probable-matching.md).
    pub probable: bool,
    pub answered: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct IdentifierValue {
    pub field: String,
    pub value: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub first_ts: i64,
    pub last_ts: i64,
    pub events: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct PageVisit {
    pub url: String,
    pub first_ts: i64,
    pub last_ts: i64,
    pub events: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Click {
    pub event_id: String,
    pub messenger: String,
    pub link_kind: String,
    pub target: String,
    pub page: Option<String>,
    pub ts: i64,
    pub received_at: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Conflict {
    pub event_id: String,
    pub known_client_id: String,
    pub new_client_id: String,
    pub received_at: i64,
}

/// One row of `GET /v1/mappings`.
#[derive(Clone, Debug, Serialize)]
pub struct MappingSummary {
    pub site: String,
    pub chat_id: String,
    pub identifiers: Identifiers,
    pub prev_chat_id: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub events: i64,
    pub clicks: i64,
    pub collision: bool,
}

#[derive(Clone, Debug, Default)]
pub struct MappingQuery {
    pub site: Option<String>,
    pub limit: u32,
    /// Only chats after this position in the newest-first order: paging.
    pub after: Option<MappingCursor>,
}

/// A position in the newest-first mappings order. `last_seen` alone is not one: a batch stores
/// all its chats with the same millisecond, and paging by time alone skipped the rest of such a
/// tie at a page boundary. The rowid breaks the tie (the chat upsert keeps a row's rowid).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MappingCursor {
    pub last_seen: i64,
    pub rowid: i64,
}

impl MappingCursor {
    /// The position just past every chat last seen at `ms` or later: the documented
    /// `before=<ms>` parameter (rowids are positive, so no row is at or below `i64::MIN`).
    pub fn before_ms(ms: i64) -> MappingCursor {
        MappingCursor {
            last_seen: ms,
            rowid: i64::MIN,
        }
    }

    /// The `cursor` value handed to clients; opaque to them, only [`MappingCursor::decode`]
    /// reads it.
    pub fn encode(self) -> String {
        format!("{}.{}", self.last_seen, self.rowid)
    }

    pub fn decode(text: &str) -> Option<MappingCursor> {
        let (last_seen, rowid) = text.split_once('.')?;
        Some(MappingCursor {
            last_seen: last_seen.parse().ok()?,
            rowid: rowid.parse().ok()?,
        })
    }
}

/// One page of `GET /v1/mappings`.
#[derive(Clone, Debug, Default)]
pub struct MappingPage {
    pub mappings: Vec<MappingSummary>,
    /// Where the next page starts; `None` when this page was not full (no more rows).
    pub next: Option<MappingCursor>,
}
