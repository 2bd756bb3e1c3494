//! The event schema: what the snippet sends and the collector stores. One definition for both.
//!
//! Wire format: a JSON object, or a JSON array of them (a batch), sent as `text/plain` so that
//! the browser makes no CORS preflight. Absent identifiers are omitted, never `null`.
//!
//! ```json
//! {"event_id":"0J5ZK7Q4R2M8X1C3V6B9N0D2F4","type":"click","chat_id":"CT8F2A9KQZ",
//!  "ts":1763700000000,"page":"https://shop.example/p/1","referrer":"https://yandex.ru/",
//!  "client_id":"1700000000123456789","yclid":"5123456789012345678",
//!  "utm":{"source":"yandex","medium":"cpc"},
//!  "messenger":"telegram","link_kind":"telegram_bot","target":"https://t.me/shop_bot?start=CT8F2A9KQZ"}
//! ```

use serde::{Deserialize, Serialize};

use crate::chat_id::{ChatId, ChatIdError};
use crate::identifiers::{IdentifierError, Identifiers};
use crate::links::{LinkKind, Messenger};

/// Largest body the snippet sends and the collector accepts (the keepalive / sendBeacon limit).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most events in one batch.
pub const MAX_BATCH: usize = 100;
pub const MAX_URL_LEN: usize = 2048;
pub const EVENT_ID_LEN: usize = 26;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A new chat ID was issued, with the identifiers known at that moment.
    #[default]
    Issue,
    /// The identifiers behind a chat ID changed (e.g. `_ym_uid` appeared late).
    Update,
    /// A messenger link was used.
    Click,
}

#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct Event {
    /// Unique per event, 26 Crockford base32 characters (the time in ms, then CSPRNG bits);
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

/// Earliest plausible `ts`: 2020-01-01T00:00:00Z (ms). Older means a broken clock or forgery.
pub const MIN_TS: u64 = 1_577_836_800_000;
/// Latest plausible `ts`: 2100-01-01T00:00:00Z (ms). The core has no clock, so "not in the
/// future" is the collector's check, not this one.
pub const MAX_TS: u64 = 4_102_444_800_000;
/// How far ahead of the receiving server's clock an event's `ts` may be and still be kept:
/// ordinary clock skew and the moments an event spends in flight.
pub const FUTURE_TOLERANCE_MS: u64 = 60_000;

/// The time an event is recorded at, given the server's clock `now_ms` when it arrived: its
/// own `ts`, unless that is more than [`FUTURE_TOLERANCE_MS`] ahead, when it is `now_ms`.
///
/// Nothing can have happened after it arrived, so a later `ts` is a wrong clock or a forgery.
/// Clamped rather than refused: a visitor whose clock runs fast still has the visit recorded
/// (at the time it reached the server), and a forged future `ts` can neither stay ahead of
/// real events (making later chats look ambiguous) nor outrank a later identifier update.
pub fn received_ts(ts: u64, now_ms: u64) -> u64 {
    if ts > now_ms.saturating_add(FUTURE_TOLERANCE_MS) {
        now_ms
    } else {
        ts
    }
}

/// Longest `target` (a tagged link) in a click event.
pub const MAX_TARGET_LEN: usize = crate::links::MAX_HREF_LEN;

/// The first rule an event breaks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EventError {
    EventId,
    ChatId(ChatIdError),
    Ts,
    Page,
    Referrer,
    Identifier(IdentifierError),
    PrevChatId,
    /// What is wrong with the click fields (or their presence on a non-click event).
    Click(&'static str),
}

impl core::fmt::Display for EventError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EventError::EventId => f.write_str("event_id must be 26 Crockford base32 characters"),
            EventError::ChatId(e) => write!(f, "invalid chat_id: {e}"),
            EventError::Ts => f.write_str("ts must be milliseconds between 2020 and 2100"),
            EventError::Page => {
                f.write_str("page must be an http(s) URL without fragment, at most 2048 characters")
            }
            EventError::Referrer => f.write_str(
                "referrer must be an http(s) URL without fragment, at most 2048 characters",
            ),
            EventError::Identifier(e) => e.fmt(f),
            EventError::PrevChatId => {
                f.write_str("prev_chat_id must be a valid chat ID, on issue events only")
            }
            EventError::Click(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for EventError {}

impl From<IdentifierError> for EventError {
    fn from(e: IdentifierError) -> Self {
        EventError::Identifier(e)
    }
}

/// A page or referrer URL as events carry it: `http(s)`, no fragment (it may hold tokens and
/// never matters for attribution), no whitespace or control characters, ≤ [`MAX_URL_LEN`].
pub fn is_clean_url(v: &str) -> bool {
    let lower_ok = crate::url::strip_prefix_ci(v, "https://")
        .or_else(|| crate::url::strip_prefix_ci(v, "http://"));
    matches!(lower_ok, Some(rest) if !rest.is_empty())
        && v.len() <= MAX_URL_LEN
        && !v
            .chars()
            .any(|c| c == '#' || c.is_whitespace() || c.is_control())
}

/// `location.href` / `document.referrer` → the value for `page` / `referrer`: fragment removed;
/// `None` when the result is not a clean URL (e.g. longer than [`MAX_URL_LEN`], `file:`, empty).
pub fn clean_url(v: &str) -> Option<String> {
    let v = crate::url::before_byte(v, b'#');
    if is_clean_url(v) {
        Some(v.to_owned())
    } else {
        None
    }
}

/// A new event ID: 26 Crockford base32 characters (130 bits): the event time in ms since the
/// epoch (48 bits, big-endian) followed by 82 of the caller's CSPRNG bits.
///
/// Time first so that IDs sort by creation time: the collector keeps a unique index on them,
/// and new keys landing at its right-hand edge touch a few pages per transaction instead of
/// one page per event (measured: about a fifth of the collector's cost of applying an event).
/// 82 random bits per millisecond keep IDs unique across every browser sending at once.
pub fn event_id(ms: u64, random: [u8; 11]) -> String {
    let mut bits = [0u8; 17];
    bits[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bits[6..].copy_from_slice(&random);
    encode_130(&bits)
}

/// The first 130 bits of `bits`, 5 at a time, most significant first.
fn encode_130(bits: &[u8; 17]) -> String {
    let mut out = String::with_capacity(EVENT_ID_LEN);
    for i in 0..EVENT_ID_LEN {
        let bit = i * 5;
        let (byte, shift) = (bit / 8, bit % 8);
        let hi = bits[byte] as u16;
        let lo = bits.get(byte + 1).copied().unwrap_or(0) as u16;
        let window = (hi << 8) | lo;
        let v = ((window >> (11 - shift)) & 31) as u8;
        out.push(crate::alphabet::char_of(v) as char);
    }
    out
}

fn is_event_id(v: &str) -> bool {
    v.len() == EVENT_ID_LEN && v.bytes().all(|c| crate::alphabet::value(c).is_some())
}

impl Event {
    /// Every rule of the wire format the collector enforces (the snippet only ever builds valid
    /// events; anything else is refused as a whole).
    pub fn validate(&self) -> Result<(), EventError> {
        if !is_event_id(&self.event_id) {
            return Err(EventError::EventId);
        }
        ChatId::parse(&self.chat_id).map_err(EventError::ChatId)?;
        if self.ts <= MIN_TS || self.ts >= MAX_TS {
            return Err(EventError::Ts);
        }
        if self.page.as_deref().is_some_and(|p| !is_clean_url(p)) {
            return Err(EventError::Page);
        }
        if self.referrer.as_deref().is_some_and(|p| !is_clean_url(p)) {
            return Err(EventError::Referrer);
        }
        self.ids.validate()?;
        match &self.prev_chat_id {
            Some(_) if self.kind != EventType::Issue => return Err(EventError::PrevChatId),
            Some(p) if ChatId::parse(p).is_err() => return Err(EventError::PrevChatId),
            _ => {}
        }
        if self.kind == EventType::Click {
            self.validate_click()
        } else if self.messenger.is_some() || self.link_kind.is_some() || self.target.is_some() {
            Err(EventError::Click(
                "messenger, link_kind and target belong to click events only",
            ))
        } else {
            Ok(())
        }
    }

    fn validate_click(&self) -> Result<(), EventError> {
        let messenger = self
            .messenger
            .as_deref()
            .ok_or(EventError::Click("click without messenger"))?;
        let messenger =
            Messenger::from_name(messenger).ok_or(EventError::Click("unknown messenger"))?;
        let kind = self
            .link_kind
            .as_deref()
            .ok_or(EventError::Click("click without link_kind"))?;
        let kind = LinkKind::from_name(kind).ok_or(EventError::Click("unknown link_kind"))?;
        if kind.messenger() != messenger {
            return Err(EventError::Click("link_kind does not belong to messenger"));
        }
        let target = self
            .target
            .as_deref()
            .ok_or(EventError::Click("click without target"))?;
        let scheme_ok = ["https:", "http:", "tg:", "viber:", "whatsapp:"]
            .iter()
            .any(|s| crate::url::strip_prefix_ci(target, s).is_some());
        if !scheme_ok
            || target.len() > MAX_TARGET_LEN
            || target.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(EventError::Click(
                "target must be a messenger link of at most 8192 characters",
            ));
        }
        Ok(())
    }
}
