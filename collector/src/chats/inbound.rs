//! What a messenger (or a CRM) tells the collector about a chat, in one shape for all sources.
//! Each webhook parser turns its platform's payload into a list of [`Inbound`] facts; matching
//! and storage never see platform-specific JSON.

use std::fmt;

/// A chat platform name: lowercase `[a-z0-9_]`, 1–32 characters. The four messengers the
/// snippet tags have constants; the generic intake accepts any other name (a CRM's own chat,
/// VK, Instagram…) so that such chats still appear in reports.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Platform(String);

impl Platform {
    pub fn telegram() -> Platform {
        Platform("telegram".into())
    }
    pub fn whatsapp() -> Platform {
        Platform("whatsapp".into())
    }
    pub fn viber() -> Platform {
        Platform("viber".into())
    }
    pub fn max() -> Platform {
        Platform("max".into())
    }

    /// A messenger's own name (`Messenger::NAME`), already in the stored form.
    pub fn of_messenger(name: &'static str) -> Platform {
        debug_assert!(Platform::parse(name).is_some_and(|p| p.0 == name));
        Platform(name.to_string())
    }

    /// Accepts any case ("WhatsApp") and stores lowercase.
    pub fn parse(s: &str) -> Option<Platform> {
        let s = s.trim();
        if s.is_empty() || s.len() > 32 {
            return None;
        }
        let lower = s.to_ascii_lowercase();
        if lower
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            Some(Platform(lower))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The messenger name the snippet records on clicks (`click.messenger`), when this platform
    /// is one the snippet tags. Used to find click candidates for a probable match.
    pub fn snippet_messenger(&self) -> Option<&'static str> {
        match self.0.as_str() {
            "telegram" => Some("telegram"),
            "whatsapp" => Some("whatsapp"),
            "viber" => Some("viber"),
            "max" => Some("max"),
            _ => None,
        }
    }
}

/// Why a messenger's webhook payload could not be read; one type for all of them, named by
/// what the payload should have been ("Telegram update", "Viber callback"…).
#[derive(Debug)]
pub struct ParseError {
    payload: &'static str,
    detail: String,
}

impl ParseError {
    pub fn new(payload: &'static str, detail: impl Into<String>) -> ParseError {
        ParseError {
            payload,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.payload, self.detail)
    }
}

impl std::error::Error for ParseError {}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The chat partner (the site's visitor) as the messenger identifies them.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ChatUser {
    /// Platform user ID (Telegram `from.id`, Viber `user.id`, MAX `user_id`, WhatsApp `wa_id`).
    pub user_id: Option<String>,
    pub username: Option<String>,
    /// International digits, no `+` (WhatsApp `wa_id` is the phone number).
    pub phone: Option<String>,
    /// Display name (profile name); shown in reports, never exported.
    pub name: Option<String>,
}

impl ChatUser {
    /// The stable key that identifies one chat partner on one platform: the user ID when known,
    /// else the phone, else the username. None when the source gave none of them.
    pub fn key(&self) -> Option<String> {
        self.user_id
            .as_deref()
            .map(|v| format!("id:{v}"))
            .or_else(|| self.phone.as_deref().map(|v| format!("phone:{v}")))
            .or_else(|| {
                self.username
                    .as_deref()
                    .map(|v| format!("user:{}", v.to_ascii_lowercase()))
            })
    }
}

/// One inbound message from the chat partner.
#[derive(Clone, PartialEq, Debug)]
pub struct InboundMessage {
    pub platform: Platform,
    pub user: ChatUser,
    /// Milliseconds since the Unix epoch, from the platform's timestamp.
    pub at_ms: i64,
    /// Telegram `/start <param>`, Viber `context`, MAX `payload`: hidden deeplink data.
    pub start_param: Option<String>,
    /// Text the person typed (or the prefilled draft they sent).
    pub text: Option<String>,
    /// The site's account on the platform when the payload names it (WhatsApp business phone,
    /// configured bot username); narrows click candidates for a probable match.
    pub account: Option<String>,
    /// WhatsApp click-to-WhatsApp ad click ID (`referral.ctwa_clid`), kept for reports.
    pub ad_click_id: Option<String>,
    /// Platform message ID, for dropping webhook retries.
    pub message_id: Option<String>,
}

/// The site's side answered a chat partner (agent reply, bot message delivered).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Answered {
    pub platform: Platform,
    /// Whichever identifiers the payload gives for the person answered (name unused).
    pub partner: ChatUser,
    pub at_ms: i64,
}

/// The person opened the bot (Telegram `/start`, Viber `conversation_started`, MAX
/// `bot_started`) without writing. Not a chat: with a code it is kept as the click that
/// ties the person's next message to the visit.
#[derive(Clone, PartialEq, Debug)]
pub struct BotOpened {
    pub platform: Platform,
    pub user: ChatUser,
    pub at_ms: i64,
    /// The hidden deeplink data (`/start <param>`, `context`, `payload`); None when opened
    /// by name.
    pub start_param: Option<String>,
    pub account: Option<String>,
    /// Platform event ID, for dropping webhook retries.
    pub event_id: Option<String>,
}

/// Why one message of a delivery could not be read. A closed set: it labels a metric.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum UnreadableReason {
    /// Not in the shape the platform documents (a field missing or of another type).
    Shape,
    /// No identifier of the chat partner (no phone, user ID or username).
    NoPartner,
    /// A timestamp that is not a number.
    Timestamp,
}

impl UnreadableReason {
    pub const ALL: [UnreadableReason; 3] = [
        UnreadableReason::Shape,
        UnreadableReason::NoPartner,
        UnreadableReason::Timestamp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnreadableReason::Shape => "shape",
            UnreadableReason::NoPartner => "no-partner",
            UnreadableReason::Timestamp => "timestamp",
        }
    }
}

/// A message the collector could not read: kept raw with the reason, so that one bad item never
/// costs the rest of its delivery and the site owner can see what was not understood.
#[derive(Clone, PartialEq, Debug)]
pub struct Unreadable {
    pub platform: Platform,
    pub reason: UnreadableReason,
    pub detail: String,
    /// The item's JSON as received (capped at [`MAX_RAW_BYTES`]).
    pub raw: String,
}

/// Raw JSON kept for an unreadable item; webhook bodies are at most 256 KiB anyway.
pub const MAX_RAW_BYTES: usize = 16 * 1024;

impl Unreadable {
    pub fn new(
        platform: Platform,
        reason: UnreadableReason,
        detail: impl Into<String>,
        raw: &[u8],
    ) -> Unreadable {
        let raw = String::from_utf8_lossy(raw);
        let mut end = raw.len().min(MAX_RAW_BYTES);
        while !raw.is_char_boundary(end) {
            end -= 1;
        }
        Unreadable {
            platform,
            reason,
            detail: detail.into(),
            raw: raw[..end].to_string(),
        }
    }
}

#[derive(Clone, PartialEq, Debug)]
pub enum Inbound {
    Message(InboundMessage),
    Answered(Answered),
    BotOpened(BotOpened),
    Unreadable(Unreadable),
}

/// Keeps user-supplied strings inside sane bounds before they are stored: control characters
/// dropped, length capped on a character boundary. Used for names and message texts, which are
/// displayed in reports (HTML-escaped there) but never interpreted.
pub fn clean_text(s: &str, max_chars: usize) -> Option<String> {
    let cleaned: String = s
        .chars()
        .filter(|c| (!c.is_control() || *c == '\n' || *c == '\t') && !is_bidi_override(*c))
        .take(max_chars)
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        None
    } else {
        Some(trimmed.to_string())
    }
}

/// Bidirectional overrides/isolates can make a report cell display text in a misleading order.
fn is_bidi_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Phone numbers as international digits only (`+7 (999) 123-45-67` → `79991234567`).
pub fn clean_phone(s: &str) -> Option<String> {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if (5..=15).contains(&digits.len())
        && s.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
    {
        Some(digits)
    } else {
        None
    }
}

/// Usernames: `@` stripped, `[A-Za-z0-9_.]`, ≤ 64.
pub fn clean_username(s: &str) -> Option<String> {
    let s = s.trim().trim_start_matches('@');
    if !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    {
        Some(s.to_string())
    } else {
        None
    }
}

/// Opaque platform IDs (Telegram numbers, Viber base64-ish IDs): printable ASCII, ≤ 128.
pub fn clean_opaque_id(s: &str) -> Option<String> {
    let s = s.trim();
    if !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()) {
        Some(s.to_string())
    } else {
        None
    }
}

pub const MAX_TEXT_CHARS: usize = 4096;
pub const MAX_NAME_CHARS: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names() {
        assert_eq!(Platform::parse("WhatsApp"), Some(Platform::whatsapp()));
        assert_eq!(
            Platform::parse("vk_chat").map(|p| p.as_str().to_string()),
            Some("vk_chat".into())
        );
        assert_eq!(Platform::parse("<script>"), None);
        assert_eq!(Platform::parse(""), None);
        assert_eq!(
            Platform::parse("vk_chat").and_then(|p| p.snippet_messenger()),
            None
        );
    }

    #[test]
    fn user_key_prefers_id_then_phone_then_username() {
        let mut u = ChatUser {
            username: Some("Ann".into()),
            ..Default::default()
        };
        assert_eq!(u.key().as_deref(), Some("user:ann"));
        u.phone = Some("79991234567".into());
        assert_eq!(u.key().as_deref(), Some("phone:79991234567"));
        u.user_id = Some("42".into());
        assert_eq!(u.key().as_deref(), Some("id:42"));
        assert_eq!(ChatUser::default().key(), None);
    }

    #[test]
    fn cleaners() {
        assert_eq!(
            clean_phone("+7 (999) 123-45-67").as_deref(),
            Some("79991234567")
        );
        assert_eq!(clean_phone("call me"), None);
        assert_eq!(clean_username("@shop_bot").as_deref(), Some("shop_bot"));
        assert_eq!(clean_username("a b"), None);
        assert_eq!(
            clean_text("hi\u{0}\u{202e}there", 100).as_deref(),
            Some("hithere")
        );
        assert_eq!(clean_text("   ", 100), None);
        assert_eq!(clean_text("абвгд", 3).as_deref(), Some("абв"));
    }
}
