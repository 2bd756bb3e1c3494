//! The event schema: what the snippet sends and the collector stores. One definition for both.
//!
//! Wire format: a JSON object, or a JSON array of them (a batch), sent as `text/plain` so that
//! the browser makes no CORS preflight. Absent identifiers are omitted, never `null`.
//!
//! ```json
//! {"event_id":"0J5ZK7Q4R2M8X1C3V6B9N0D2F4","type":"click","chat_id":"CT8F2A9KQ3",
//!  "ts":1763700000000,"page":"https://shop.example/p/1","referrer":"https://yandex.ru/",
//!  "client_id":"1700000000123456789","yclid":"5123456789012345678",
//!  "utm":{"source":"yandex","medium":"cpc"},
//!  "messenger":"telegram","link_kind":"telegram_bot","target":"https://t.me/shop_bot?start=CT8F2A9KQ3"}
//! ```

use serde::{Deserialize, Serialize};

use crate::identifiers::Identifiers;

/// Largest body the snippet sends and the collector accepts (the keepalive / sendBeacon limit).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most events in one batch.
pub const MAX_BATCH: usize = 100;
pub const MAX_URL_LEN: usize = 2048;
pub const EVENT_ID_LEN: usize = 26;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A new chat ID was issued, with the identifiers known at that moment.
    Issue,
    /// The identifiers behind a chat ID changed (e.g. `_ym_uid` appeared late).
    Update,
    /// A messenger link was used.
    Click,
}

#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct Event {
    /// Unique per event, 26 Crockford base32 characters (130 bits from a CSPRNG);
    /// resends carry the same value and the collector stores the event once.
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub chat_id: String,
    /// Milliseconds since the Unix epoch, from the visitor's clock.
    pub ts: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(flatten)]
    pub ids: Identifiers,
    /// `issue` only: the visitor's previous chat ID when a new ad click renewed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_chat_id: Option<String>,
    /// `click` only: `whatsapp` | `telegram` | `viber` | `max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messenger: Option<String>,
    /// `click` only: a [`crate::links::LinkKind`] name, e.g. `telegram_bot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_kind: Option<String>,
    /// `click` only: the tagged URL that was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl Default for EventType {
    fn default() -> Self {
        EventType::Issue
    }
}
