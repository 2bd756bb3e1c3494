//! Phone numbers kept only as a keyed hash (`[privacy] phones = "hashed"`, the default; or
//! `CHATTAG_PHONES=hashed|clear`).
//!
//! What the collector does with a phone is recognise the person again (their next message, an
//! answer, a bot opening, a CRM report) and find them when they ask to be forgotten. Both need
//! only equality, so a phone is replaced by `ph:` + HMAC-SHA256 (truncated to 128 bits) of its
//! digits with the server's privacy key ([`PrivacyKey`]) *before* it reaches the store: every
//! table, and every storage backend, only ever sees the hash. A plain hash would not do: phone
//! numbers are few enough to hash them all and look the result up.
//!
//! In the same mode, the other places a phone hides in are covered too: a first message's text
//! and a raw item kept for diagnosis have phone-like digit runs replaced by the same hash (so
//! deletion by phone still finds them), and delivered message IDs (WhatsApp's `wamid.…` is the
//! phone in base64) are kept as keyed hashes, as they are only ever compared.
//!
//! Why hashed is the default, and what `clear` buys (Metrica's `PhoneNumber` column):
//! `docs/data-inventory.md`.

use serde::Deserialize;

use super::key::PrivacyKey;
use crate::chats::inbound::{ChatUser, Inbound, Platform};
use crate::chats::intake::ValidIntake;

/// The environment variable that overrides `[privacy] phones`.
pub const ENV: &str = "CHATTAG_PHONES";

/// What a stored phone number looks like when hashed. Never a phone: phones are digits.
pub const TOKEN_PREFIX: &str = "ph:";

/// A message ID kept as a keyed hash.
const HIDDEN_PREFIX: &str = "h:";

/// Hex digits of the HMAC kept: 128 bits, far from any collision among a site's chat partners.
const TOKEN_HEX: usize = 32;

/// How phone numbers are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneMode {
    /// Only as a keyed hash; Metrica's `PhoneNumber` column stays empty.
    #[default]
    Hashed,
    /// As the messenger or CRM gave them (digits), and sent to Metrica as `PhoneNumber`.
    Clear,
}

impl PhoneMode {
    pub fn parse(s: &str) -> Option<PhoneMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hashed" | "hash" => Some(PhoneMode::Hashed),
            "clear" => Some(PhoneMode::Clear),
            _ => None,
        }
    }
}

/// What the chat side does to a phone (and what may carry one) before it is stored.
#[derive(Clone, Debug)]
pub enum Phones {
    Clear,
    Hashed(PrivacyKey),
}

/// The stored form of a phone's digits under `key`.
pub fn token(key: &PrivacyKey, digits: &str) -> String {
    let mac = key.hash("stored-phone", digits);
    format!("{TOKEN_PREFIX}{}", &mac[..TOKEN_HEX.min(mac.len())])
}

/// A stored phone that is a hash, not a number.
pub fn is_token(stored: &str) -> bool {
    stored.starts_with(TOKEN_PREFIX)
}

/// What a stored phone gives Metrica's chat import: (`PhoneNumber`, a stand-in chat partner ID).
/// A hashed phone is never a `PhoneNumber`; it names the chat partner as `ChatUserID` when the
/// row has no user ID, since each row needs one of the partner columns and, for WhatsApp, the
/// phone is often the only one.
pub fn for_metrica(stored: Option<&str>) -> (Option<String>, Option<String>) {
    match stored {
        Some(s) if is_token(s) => (None, Some(s.to_owned())),
        Some(s) => (Some(s.to_owned()), None),
        None => (None, None),
    }
}

impl Phones {
    pub fn mode(&self) -> PhoneMode {
        match self {
            Phones::Clear => PhoneMode::Clear,
            Phones::Hashed(_) => PhoneMode::Hashed,
        }
    }

    /// Makes webhook items safe to store: phones hashed, phone-like digits in texts and raw
    /// items hashed, message IDs hashed. Nothing changes with phones in clear.
    pub fn protect(&self, items: &mut [Inbound]) {
        let Phones::Hashed(key) = self else {
            return;
        };
        for item in items {
            match item {
                Inbound::Message(m) => {
                    hash_user(key, &m.platform, &mut m.user);
                    m.text = m.text.as_deref().map(|t| redact(key, t));
                    m.message_id = m.message_id.as_deref().map(|id| hidden_id(key, id));
                }
                Inbound::Answered(a) => hash_user(key, &a.platform, &mut a.partner),
                Inbound::BotOpened(b) => {
                    hash_user(key, &b.platform, &mut b.user);
                    b.event_id = b.event_id.as_deref().map(|id| hidden_id(key, id));
                }
                Inbound::Unreadable(u) => {
                    u.raw = redact(key, &u.raw);
                    u.detail = redact(key, &u.detail);
                }
            }
        }
    }

    /// [`Phones::protect`] for CRM records (`POST /v1/chats`, `import chats`).
    pub fn protect_intake(&self, records: &mut [ValidIntake]) {
        let Phones::Hashed(key) = self else {
            return;
        };
        for r in records {
            let m = &mut r.message;
            hash_user(key, &m.platform, &mut m.user);
            m.text = m.text.as_deref().map(|t| redact(key, t));
        }
    }
}

/// Hashes the phone (and a WhatsApp user ID that is the phone) of one person, unless hashed.
pub fn hash_user(key: &PrivacyKey, platform: &Platform, user: &mut ChatUser) {
    if let Some(p) = user.phone.as_deref().filter(|p| !is_token(p)) {
        user.phone = Some(token(key, p));
    }
    // A WhatsApp user ID made of digits is the phone (`wa_id`): CRMs report it that way.
    if *platform == Platform::whatsapp() {
        if let Some(id) = user.user_id.as_deref() {
            if (7..=15).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit()) {
                user.user_id = Some(token(key, id));
            }
        }
    }
}

/// A stored person key (`phone:<digits>`, see [`ChatUser::key`]) with its phone hashed.
pub fn hash_user_key(key: &PrivacyKey, user_key: &str) -> String {
    match user_key.strip_prefix("phone:") {
        Some(p) if !is_token(p) => format!("phone:{}", token(key, p)),
        _ => user_key.to_owned(),
    }
}

/// An ID only ever compared (message IDs, platform event IDs), as a keyed hash.
fn hidden_id(key: &PrivacyKey, id: &str) -> String {
    if id.starts_with(HIDDEN_PREFIX) {
        return id.to_owned();
    }
    let mac = key.hash("message-id", id);
    format!("{HIDDEN_PREFIX}{}", &mac[..TOKEN_HEX.min(mac.len())])
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Replaces what may be a phone number in free text by its [`token`]: a run of 7 to 15 digits,
/// maybe after a `+` and with spaces, dashes or parentheses between them, that is not part of a
/// word (a chat ID such as `CT12345678` stays). WhatsApp message IDs (`wamid.` + the phone in
/// base64) become keyed hashes.
pub fn redact(key: &PrivacyKey, text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_word = i == 0 || !is_word(chars[i - 1]);
        // Hashes already made stay as they are (redaction may run twice).
        if let Some(prefix) = [TOKEN_PREFIX, HIDDEN_PREFIX]
            .into_iter()
            .find(|p| starts_word && text_at(&chars, i, p))
        {
            let mut end = i + prefix.len();
            while end < chars.len() && chars[end].is_ascii_hexdigit() {
                end += 1;
            }
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        if starts_word && text_at(&chars, i, "wamid.") {
            let mut end = i + "wamid.".len();
            while end < chars.len()
                && (chars[end].is_ascii_alphanumeric() || "+/=_-".contains(chars[end]))
            {
                end += 1;
            }
            let id: String = chars[i..end].iter().collect();
            out.push_str(&hidden_id(key, &id));
            i = end;
            continue;
        }
        if starts_word
            && (c.is_ascii_digit()
                || (c == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
        {
            // The candidate: digits and separators, ending at its last digit.
            let mut end = i;
            let mut last_digit = None;
            while end < chars.len() && (chars[end].is_ascii_digit() || " -()+".contains(chars[end]))
            {
                if chars[end].is_ascii_digit() {
                    last_digit = Some(end);
                }
                end += 1;
            }
            let stop = last_digit.map_or(i + 1, |d| d + 1);
            let digits: String = chars[i..stop]
                .iter()
                .filter(|c| c.is_ascii_digit())
                .collect();
            let whole = chars.get(stop).is_none_or(|c| !is_word(*c));
            if whole && (7..=15).contains(&digits.len()) && !chat_id_body(&chars, i, stop) {
                out.push_str(&token(key, &digits));
            } else {
                out.extend(&chars[i..stop]);
            }
            i = stop;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// `chars[start..stop]` may be the body of a chat ID typed with a space or dash after its
/// prefix (`CT 23456789`, which matching accepts): 8 digits right after letters and one gap.
fn chat_id_body(chars: &[char], start: usize, stop: usize) -> bool {
    let body = chattag_core::chat_id::BODY_LEN + 1;
    stop - start == body
        && chars[start..stop].iter().all(char::is_ascii_digit)
        && start >= 2
        && matches!(chars[start - 1], ' ' | '-')
        && chars[start - 2].is_alphabetic()
}

fn text_at(chars: &[char], i: usize, word: &str) -> bool {
    let n = word.chars().count();
    i + n <= chars.len() && chars[i..i + n].iter().copied().eq(word.chars())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chats::inbound::{InboundMessage, Unreadable, UnreadableReason};

    fn key() -> (tempfile::TempDir, PrivacyKey) {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivacyKey::load_or_create(&dir.path().join("chattag.db")).unwrap();
        (dir, key)
    }

    #[test]
    fn a_phone_hashes_to_the_same_keyed_token_and_never_shows() {
        let (_d, k) = key();
        let t = token(&k, "79161234567");
        assert_eq!(t, token(&k, "79161234567"));
        assert!(is_token(&t) && !t.contains("79161234567"));
        assert_eq!(t.len(), TOKEN_PREFIX.len() + TOKEN_HEX);
        let (_d2, other) = key();
        assert_ne!(t, token(&other, "79161234567"), "another key, another hash");
        assert_eq!(
            for_metrica(Some(&t)),
            (None, Some(t.clone())),
            "a hash is never a PhoneNumber"
        );
        assert_eq!(
            for_metrica(Some("79161234567")),
            (Some("79161234567".into()), None)
        );
    }

    #[test]
    fn redaction_hashes_phones_in_text_but_keeps_chat_ids_and_short_numbers() {
        let (_d, k) = key();
        let text = "Hi CT12345678, call +7 (916) 123-45-67 or 79161234567; 3 items, 1500 rub";
        let r = redact(&k, text);
        assert!(r.contains("CT12345678"), "{r}");
        assert!(!r.contains("916") && !r.contains("79161234567"), "{r}");
        assert_eq!(r.matches(&token(&k, "79161234567")).count(), 2, "{r}");
        assert!(r.contains("3 items, 1500 rub"), "{r}");
        // A chat ID retyped with a gap after its prefix stays for matching; a phone after a
        // word does not.
        let r = redact(&k, "code CT 23456789, tel 89161234567");
        assert!(
            r.contains("CT 23456789") && !r.contains("89161234567"),
            "{r}"
        );
        let raw = r#"{"from":"16505551234","id":"wamid.HBgLMTY1MDU1NTEyMzQVAgA=","x":12}"#;
        let r = redact(&k, raw);
        assert!(!r.contains("16505551234") && !r.contains("HBgL"), "{r}");
        assert!(
            r.contains(&token(&k, "16505551234")) && r.contains(r#""x":12"#),
            "{r}"
        );
    }

    #[test]
    fn protect_hashes_every_phone_an_item_carries_and_clear_leaves_them() {
        let (_d, k) = key();
        let msg = Inbound::Message(InboundMessage {
            platform: Platform::whatsapp(),
            user: ChatUser {
                phone: Some("16505551234".into()),
                user_id: Some("16505551234".into()),
                ..Default::default()
            },
            at_ms: 1,
            start_param: None,
            text: Some("my number is 16505551234".into()),
            account: None,
            ad_click_id: None,
            message_id: Some("wamid.X".into()),
        });
        let raw = Inbound::Unreadable(Unreadable::new(
            Platform::whatsapp(),
            UnreadableReason::Shape,
            "bad 16505551234",
            br#"{"wa_id":"16505551234"}"#,
        ));
        let mut items = vec![msg.clone(), raw];
        Phones::Clear.protect(&mut items);
        assert_eq!(items[0], msg);
        Phones::Hashed(k.clone()).protect(&mut items);
        let text = format!("{items:?}");
        assert!(
            !text.contains("16505551234") && !text.contains("wamid.X"),
            "{text}"
        );
        let Inbound::Message(m) = &items[0] else {
            panic!()
        };
        assert_eq!(
            m.user.phone.as_deref(),
            Some(token(&k, "16505551234").as_str())
        );
        // Hashing twice changes nothing (a token is not a phone).
        let before = format!("{items:?}");
        Phones::Hashed(k).protect(&mut items);
        assert_eq!(before, format!("{items:?}"));
    }

    #[test]
    fn modes_parse() {
        assert_eq!(PhoneMode::parse(" Hashed "), Some(PhoneMode::Hashed));
        assert_eq!(PhoneMode::parse("clear"), Some(PhoneMode::Clear));
        assert_eq!(PhoneMode::parse("plain"), None);
    }
}
