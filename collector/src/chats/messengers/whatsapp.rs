//! WhatsApp Business Cloud API webhooks (Meta Graph API, field `messages`).
//!
//! Verification is two-fold, as Meta documents it:
//! * subscription handshake: `GET ?hub.mode=subscribe&hub.verify_token=<ours>&hub.challenge=<n>`
//!   must echo `hub.challenge` when the token matches ([`verify_handshake`]);
//! * every notification: `X-Hub-Signature-256` over the raw body with the app secret
//!   ([`verify_hub_signature_256`]).
//!
//! A notification batches `entry[].changes[].value` objects; each value has `contacts`
//! (`wa_id` = phone and/or business-scoped `user_id`, profile name and username), inbound
//! `messages` (the chat partner wrote; a forwarded one counts without its text, whose words are
//! someone else's; one in a group, with `group_id`, is no chat), and `statuses` (delivery of
//! messages the *business* sent: the chat was answered; a group's status answers nobody).
//! Field `smb_message_echoes` carries what the business typed in the WhatsApp Business app
//! (also an answer). Each item is read on its own; one that cannot be read is kept as
//! [`Inbound::Unreadable`] and costs nothing else.

use std::path::PathBuf;

use axum::http::HeaderMap;
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::webhook::{header, Handshake, HandshakeRefusal, Messenger, Refusal};
use crate::chats::inbound::{
    clean_opaque_id, clean_phone, clean_text, clean_username, Answered, ChatUser, Inbound,
    InboundMessage, ParseError, Platform, Unreadable, UnreadableReason, MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
};
use crate::chats::settings::{secret, ChatsConfigError, Env, WebhookSecret};
use crate::chats::signature::SignatureError;

#[derive(Deserialize, Debug)]
pub struct Notification {
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Entry>,
}

#[derive(Deserialize, Debug)]
pub struct Entry {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// One change; its value is read item by item so that one item in an unexpected shape costs
/// only itself.
#[derive(Deserialize, Debug)]
pub struct Change {
    pub field: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

#[derive(Deserialize, Debug, Default)]
pub struct Value {
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub contacts: Vec<serde_json::Value>,
    #[serde(default)]
    pub messages: Vec<serde_json::Value>,
    #[serde(default)]
    pub statuses: Vec<serde_json::Value>,
    /// `smb_message_echoes`: what the business wrote from the WhatsApp Business app.
    #[serde(default)]
    pub message_echoes: Vec<serde_json::Value>,
}

#[derive(Deserialize, Debug)]
pub struct Metadata {
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(default)]
    pub phone_number_id: Option<String>,
}

/// `wa_id` is the phone; users with usernames may come with a business-scoped `user_id` only.
#[derive(Deserialize, Debug)]
pub struct Contact {
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub profile: Option<Profile>,
}

#[derive(Deserialize, Debug)]
pub struct Profile {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Deserialize, Debug)]
pub struct Message {
    /// The sender's phone; absent for users known by business-scoped user ID only.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub from_user_id: Option<String>,
    pub id: String,
    /// Unix seconds, as a string.
    pub timestamp: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<Text>,
    #[serde(default)]
    pub image: Option<Media>,
    #[serde(default)]
    pub video: Option<Media>,
    #[serde(default)]
    pub document: Option<Media>,
    #[serde(default)]
    pub button: Option<Button>,
    #[serde(default)]
    pub referral: Option<Referral>,
    #[serde(default)]
    pub order: Option<Order>,
    /// A reply's quoted message, or the forwarding flags. Read loosely: an odd `context` must
    /// not cost the message.
    #[serde(default)]
    pub context: Option<serde_json::Value>,
    /// Set when the message was written in a group (Groups API), not in a 1:1 chat.
    #[serde(default)]
    pub group_id: Option<IgnoredAny>,
}

#[derive(Deserialize, Debug)]
pub struct Text {
    pub body: String,
}

#[derive(Deserialize, Debug)]
pub struct Media {
    #[serde(default)]
    pub caption: Option<String>,
}

#[derive(Deserialize, Debug)]
pub struct Button {
    #[serde(default)]
    pub text: Option<String>,
}

/// A cart order placed from the business's catalog.
#[derive(Deserialize, Debug)]
pub struct Order {
    /// What the person wrote with the order.
    #[serde(default)]
    pub text: Option<String>,
}

/// Present when the chat started from a click-to-WhatsApp ad.
#[derive(Deserialize, Debug)]
pub struct Referral {
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub ctwa_clid: Option<String>,
}

#[derive(Deserialize, Debug)]
pub struct Status {
    pub id: String,
    pub status: String,
    pub timestamp: String,
    #[serde(default)]
    pub recipient_id: Option<String>,
    #[serde(default)]
    pub recipient_user_id: Option<String>,
    /// `group` when the business wrote to a group (then `recipient_id` is the group).
    #[serde(default)]
    pub recipient_type: Option<serde_json::Value>,
}

/// A message the business sent from the WhatsApp Business app (coexistence).
#[derive(Deserialize, Debug)]
pub struct Echo {
    pub timestamp: String,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub to_user_id: Option<String>,
}

/// Message types the person sends as a message. Reactions, `revoke` (deleted), `edit`,
/// `system` notices (number or user ID changed), `unsupported` and `errors` are not messages.
fn is_chat_message(kind: &str) -> bool {
    matches!(
        kind,
        "text"
            | "image"
            | "video"
            | "document"
            | "audio"
            | "voice"
            | "sticker"
            | "location"
            | "contacts"
            | "button"
            | "interactive"
            | "order"
    )
}

fn invalid(detail: impl Into<String>) -> ParseError {
    ParseError::new("WhatsApp notification", detail)
}

#[derive(Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// `hub.mode` is not `subscribe` or a parameter is missing.
    BadRequest,
    /// The verify token does not match ours.
    Forbidden,
}

/// The GET subscription handshake. Returns the challenge to echo as the response body.
pub fn verify_handshake<'a>(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&'a str>,
    our_token: &str,
) -> Result<&'a str, HandshakeError> {
    let (Some(mode), Some(token), Some(challenge)) = (mode, token, challenge) else {
        return Err(HandshakeError::BadRequest);
    };
    if mode != "subscribe" {
        return Err(HandshakeError::BadRequest);
    }
    // Meta sends an integer; refusing anything else keeps the echo from becoming a reflection
    // channel for arbitrary content.
    if challenge.is_empty()
        || challenge.len() > 64
        || !challenge.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(HandshakeError::BadRequest);
    }
    if !crate::signing::same_secret(token.as_bytes(), our_token) {
        return Err(HandshakeError::Forbidden);
    }
    Ok(challenge)
}

fn seconds(ts: &str) -> Option<i64> {
    ts.parse::<i64>().ok().map(|s| s.saturating_mul(1000))
}

fn unreadable(
    reason: UnreadableReason,
    detail: impl Into<String>,
    item: &serde_json::Value,
) -> Inbound {
    let raw = serde_json::to_vec(item).unwrap_or_default();
    Inbound::Unreadable(Unreadable::new(Platform::whatsapp(), reason, detail, &raw))
}

/// The identifiers of a person: phone and/or business-scoped user ID, completed from the
/// `contacts` entry that names either.
fn partner(phone: Option<&str>, user_id: Option<&str>, contacts: &[Contact]) -> ChatUser {
    let phone = phone.and_then(clean_phone);
    let mut user_id = user_id.and_then(clean_opaque_id);
    let contact = contacts.iter().find(|c| {
        (phone.is_some() && c.wa_id.as_deref().and_then(clean_phone) == phone)
            || (user_id.is_some() && c.user_id.as_deref().and_then(clean_opaque_id) == user_id)
    });
    let profile = contact.and_then(|c| c.profile.as_ref());
    if user_id.is_none() {
        user_id = contact
            .and_then(|c| c.user_id.as_deref())
            .and_then(clean_opaque_id);
    }
    ChatUser {
        user_id,
        username: profile
            .and_then(|p| p.username.as_deref())
            .and_then(clean_username),
        phone,
        name: profile
            .and_then(|p| p.name.as_deref())
            .and_then(|n| clean_text(n, MAX_NAME_CHARS)),
    }
}

/// Reads a notification item by item: an item the collector cannot read becomes
/// [`Inbound::Unreadable`] next to the others. Only a body that is not a WhatsApp notification
/// at all is an error.
pub fn parse(body: &[u8]) -> Result<Vec<Inbound>, ParseError> {
    let n: Notification = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    if n.object != "whatsapp_business_account" {
        return Err(invalid(format!("unexpected object {:?}", n.object)));
    }
    let mut out = Vec::new();
    for change in n.entry.iter().flat_map(|e| e.changes.iter()) {
        if !matches!(change.field.as_str(), "messages" | "smb_message_echoes") {
            continue;
        }
        let v: Value = match serde_json::from_value(change.value.clone()) {
            Ok(v) => v,
            Err(e) => {
                out.push(unreadable(
                    UnreadableReason::Shape,
                    e.to_string(),
                    &change.value,
                ));
                continue;
            }
        };
        let account = v
            .metadata
            .as_ref()
            .and_then(|m| m.display_phone_number.as_deref())
            .and_then(clean_phone);
        // A contact in another shape only loses its profile name, never the message.
        let contacts: Vec<Contact> = v
            .contacts
            .iter()
            .filter_map(|c| serde_json::from_value(c.clone()).ok())
            .collect();
        for item in &v.messages {
            out.extend(message(item, &contacts, account.as_ref()));
        }
        for item in &v.statuses {
            out.extend(status(item));
        }
        for item in &v.message_echoes {
            out.extend(echo(item));
        }
    }
    Ok(out)
}

fn message(
    item: &serde_json::Value,
    contacts: &[Contact],
    account: Option<&String>,
) -> Option<Inbound> {
    let m: Message = match serde_json::from_value(item.clone()) {
        Ok(m) => m,
        Err(e) => return Some(unreadable(UnreadableReason::Shape, e.to_string(), item)),
    };
    // A group message is not a chat with the business, whatever it says.
    if !is_chat_message(&m.kind) || m.group_id.is_some() {
        return None;
    }
    let Some(at_ms) = seconds(&m.timestamp) else {
        return Some(unreadable(
            UnreadableReason::Timestamp,
            "message timestamp is not a number",
            item,
        ));
    };
    let user = partner(m.from.as_deref(), m.from_user_id.as_deref(), contacts);
    if user.key().is_none() {
        return Some(unreadable(
            UnreadableReason::NoPartner,
            "no usable from / from_user_id",
            item,
        ));
    }
    // A forwarded message counts, but its words are someone else's: no text, so a code in it
    // credits nobody.
    // `context.forwarded`: forwarded up to five times; `frequently_forwarded`: more.
    let forwarded = m.context.as_ref().is_some_and(|c| {
        ["forwarded", "frequently_forwarded"]
            .iter()
            .any(|k| c.get(k).and_then(serde_json::Value::as_bool) == Some(true))
    });
    // Media carry the person's text in the caption, an order in its text; a quick-reply button,
    // in its label.
    let text = m
        .text
        .as_ref()
        .map(|t| t.body.as_str())
        .or_else(|| {
            [&m.image, &m.video, &m.document]
                .into_iter()
                .flatten()
                .find_map(|media| media.caption.as_deref())
        })
        .or_else(|| m.order.as_ref().and_then(|o| o.text.as_deref()))
        .or_else(|| m.button.as_ref().and_then(|b| b.text.as_deref()))
        .filter(|_| !forwarded)
        .and_then(|t| clean_text(t, MAX_TEXT_CHARS));
    Some(Inbound::Message(InboundMessage {
        platform: Platform::whatsapp(),
        user,
        at_ms,
        start_param: None,
        text,
        account: account.cloned(),
        ad_click_id: m
            .referral
            .as_ref()
            .and_then(|r| r.ctwa_clid.as_deref())
            .and_then(clean_opaque_id),
        message_id: clean_opaque_id(&m.id),
    }))
}

fn status(item: &serde_json::Value) -> Option<Inbound> {
    let s: Status = match serde_json::from_value(item.clone()) {
        Ok(s) => s,
        Err(e) => return Some(unreadable(UnreadableReason::Shape, e.to_string(), item)),
    };
    // `failed` means the reply never reached the person: not answered. A message to a group
    // answers nobody's 1:1 chat (its `recipient_id` is the group).
    if !matches!(s.status.as_str(), "sent" | "delivered" | "read")
        || s.recipient_type.as_ref().and_then(|t| t.as_str()) == Some("group")
    {
        return None;
    }
    let Some(at_ms) = seconds(&s.timestamp) else {
        return Some(unreadable(
            UnreadableReason::Timestamp,
            "status timestamp is not a number",
            item,
        ));
    };
    answered(
        s.recipient_id.as_deref(),
        s.recipient_user_id.as_deref(),
        at_ms,
        item,
    )
}

fn echo(item: &serde_json::Value) -> Option<Inbound> {
    let e: Echo = match serde_json::from_value(item.clone()) {
        Ok(e) => e,
        Err(e) => return Some(unreadable(UnreadableReason::Shape, e.to_string(), item)),
    };
    let Some(at_ms) = seconds(&e.timestamp) else {
        return Some(unreadable(
            UnreadableReason::Timestamp,
            "echo timestamp is not a number",
            item,
        ));
    };
    answered(e.to.as_deref(), e.to_user_id.as_deref(), at_ms, item)
}

fn answered(
    phone: Option<&str>,
    user_id: Option<&str>,
    at_ms: i64,
    item: &serde_json::Value,
) -> Option<Inbound> {
    let partner = ChatUser {
        phone: phone.and_then(clean_phone),
        user_id: user_id.and_then(clean_opaque_id),
        ..ChatUser::default()
    };
    if partner.key().is_none() {
        return Some(unreadable(
            UnreadableReason::NoPartner,
            "no usable recipient",
            item,
        ));
    }
    Some(Inbound::Answered(Answered {
        platform: Platform::whatsapp(),
        partner,
        at_ms,
    }))
}

/// `[chats.whatsapp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppTable {
    #[serde(default)]
    pub app_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub verify_token_file: Option<PathBuf>,
}

/// The WhatsApp Cloud API app: the verify token answers the GET handshake, the app secret
/// signs every notification.
#[derive(Debug)]
pub struct WhatsApp {
    app_secret: Option<WebhookSecret>,
    verify_token: Option<WebhookSecret>,
}

impl Messenger for WhatsApp {
    const NAME: &'static str = "whatsapp";
    const HANDSHAKE: bool = true;
    type Settings = WhatsAppTable;

    fn configure(t: WhatsAppTable, env: Env) -> Result<WhatsApp, ChatsConfigError> {
        Ok(WhatsApp {
            app_secret: secret(
                "CHATTAG_WHATSAPP_APP_SECRET",
                env,
                t.app_secret_file.as_ref(),
            )?,
            verify_token: secret(
                "CHATTAG_WHATSAPP_VERIFY_TOKEN",
                env,
                t.verify_token_file.as_ref(),
            )?,
        })
    }

    fn enabled(&self) -> bool {
        self.app_secret.is_some() && self.verify_token.is_some()
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
        let secret = self.app_secret.as_ref().ok_or(Refusal::NotConfigured(
            "the WhatsApp app secret (CHATTAG_WHATSAPP_APP_SECRET)",
        ))?;
        Ok(verify_hub_signature_256(
            header(headers, "x-hub-signature-256"),
            body,
            secret.expose(),
        )?)
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<Inbound>, ParseError> {
        parse(body)
    }

    fn handshake(&self, q: &Handshake) -> Result<String, HandshakeRefusal> {
        let ours = self
            .verify_token
            .as_ref()
            .ok_or(HandshakeRefusal::NotConfigured(
                "the WhatsApp verify token (CHATTAG_WHATSAPP_VERIFY_TOKEN)",
            ))?;
        verify_handshake(
            q.mode.as_deref(),
            q.token.as_deref(),
            q.challenge.as_deref(),
            ours.expose(),
        )
        .map(str::to_owned)
        .map_err(|e| match e {
            HandshakeError::BadRequest => HandshakeRefusal::BadRequest,
            HandshakeError::Forbidden => HandshakeRefusal::Forbidden,
        })
    }
}

/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, key = app secret>`.
pub fn verify_hub_signature_256(
    header: Option<&[u8]>,
    body: &[u8],
    app_secret: &str,
) -> Result<(), SignatureError> {
    let got = header.ok_or(SignatureError::Missing)?;
    let hex_part = got
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed)?;
    Ok(crate::signing::verify_hex_hmac(hex_part, body, app_secret)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::hmac_sha256_hex;

    #[test]
    fn hub_signature_valid_and_forged() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let sig = format!("sha256={}", hmac_sha256_hex("app-secret", body));
        assert_eq!(
            verify_hub_signature_256(Some(sig.as_bytes()), body, "app-secret"),
            Ok(())
        );
        // Same signature, body changed by one byte.
        let forged = br#"{"object":"whatsapp_business_accounT"}"#;
        assert_eq!(
            verify_hub_signature_256(Some(sig.as_bytes()), forged, "app-secret"),
            Err(SignatureError::Mismatch)
        );
        // Signed with another secret.
        assert_eq!(
            verify_hub_signature_256(Some(sig.as_bytes()), body, "other"),
            Err(SignatureError::Mismatch)
        );
        // Without the documented prefix.
        let bare = hmac_sha256_hex("app-secret", body);
        assert_eq!(
            verify_hub_signature_256(Some(bare.as_bytes()), body, "app-secret"),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_hub_signature_256(None, body, "app-secret"),
            Err(SignatureError::Missing)
        );
        // Truncated signature.
        assert_eq!(
            verify_hub_signature_256(Some(&sig.as_bytes()[..21]), body, "app-secret"),
            Err(SignatureError::Mismatch)
        );
    }

    pub const INBOUND: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{
        "messaging_product":"whatsapp",
        "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
        "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
        "messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
          "timestamp":"1763700000","type":"text","text":{"body":"Hello! Номер обращения: CT8F2A9KQ3"},
          "referral":{"source_url":"https://fb.me/x","source_id":"120","source_type":"ad","ctwa_clid":"ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMv-_zfUQ2a"}}]},
        "field":"messages"}]}]}"#;

    #[test]
    fn inbound_text_with_referral() {
        let got = parse(INBOUND.as_bytes()).unwrap();
        let [Inbound::Message(m)] = got.as_slice() else {
            panic!("{got:?}")
        };
        assert_eq!(m.user.phone.as_deref(), Some("16505551234"));
        assert_eq!(m.user.name.as_deref(), Some("Sheena Nelson"));
        assert_eq!(
            m.text.as_deref(),
            Some("Hello! Номер обращения: CT8F2A9KQ3")
        );
        assert_eq!(m.at_ms, 1_763_700_000_000);
        assert_eq!(m.account.as_deref(), Some("15550783881"));
        assert!(m
            .ad_click_id
            .as_deref()
            .is_some_and(|c| c.starts_with("ARAk")));
    }

    #[test]
    fn statuses_mark_answered_except_failed() {
        let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
            "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"1"},
            "statuses":[{"id":"wamid.A","status":"delivered","timestamp":"1763700060","recipient_id":"16505551234"},
                        {"id":"wamid.B","status":"failed","timestamp":"1763700061","recipient_id":"16505550000"}]}}]}]}"#;
        let got = parse(body.as_bytes()).unwrap();
        assert_eq!(got.len(), 1);
        assert!(
            matches!(&got[0], Inbound::Answered(a) if a.partner.phone.as_deref() == Some("16505551234") && a.at_ms == 1_763_700_060_000)
        );
    }

    #[test]
    fn handshake() {
        assert_eq!(
            verify_handshake(Some("subscribe"), Some("tok"), Some("1158201444"), "tok"),
            Ok("1158201444")
        );
        assert_eq!(
            verify_handshake(Some("subscribe"), Some("bad"), Some("1158201444"), "tok"),
            Err(HandshakeError::Forbidden)
        );
        assert_eq!(
            verify_handshake(Some("subscribe"), Some("tok"), Some("<script>"), "tok"),
            Err(HandshakeError::BadRequest)
        );
        assert_eq!(
            verify_handshake(None, Some("tok"), Some("1"), "tok"),
            Err(HandshakeError::BadRequest)
        );
    }

    fn corpus(name: &str) -> Vec<Inbound> {
        let path = format!(
            "{}/tests/corpus/webhooks/whatsapp/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        parse(&std::fs::read(&path).expect("corpus file")).expect("a WhatsApp notification")
    }

    #[test]
    fn business_app_echo_is_an_answer() {
        let got = corpus("smb_message_echo.json");
        assert!(
            matches!(got.as_slice(), [Inbound::Answered(a)]
                if a.partner.phone.as_deref() == Some("16505551234")
                && a.partner.user_id.as_deref() == Some("US.13491208655302741918")),
            "{got:?}"
        );
    }

    #[test]
    fn one_unreadable_message_costs_only_itself() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
            "contacts":[{"wa_id":"16505551234","user_id":"US.1","profile":{"name":"S","username":"@s.user"}}],
            "messages":[{"from":"16505551234","id":"wamid.1","timestamp":"1763700000","type":"text","text":{"body":"hi"}},
                        {"from":"16505551234","id":"wamid.2","timestamp":"soon","type":"text","text":{"body":"x"}},
                        {"id":"wamid.3","timestamp":"1763700001","type":"text","text":{"body":"no sender"}},
                        {"from":"16505551234","id":"wamid.4","timestamp":"1763700002","type":"image","image":{"caption":"CT750FMSZX"}}]}}]}]}"#;
        let got = parse(body).unwrap();
        let reasons: Vec<_> = got
            .iter()
            .filter_map(|i| match i {
                Inbound::Unreadable(u) => Some(u.reason),
                _ => None,
            })
            .collect();
        assert_eq!(
            reasons,
            [UnreadableReason::Timestamp, UnreadableReason::NoPartner]
        );
        let Inbound::Message(first) = &got[0] else {
            panic!("{got:?}")
        };
        // The contact completes the phone with the business-scoped ID and username.
        assert_eq!(first.user.user_id.as_deref(), Some("US.1"));
        assert_eq!(first.user.username.as_deref(), Some("s.user"));
        assert!(matches!(&got[3], Inbound::Message(m) if m.text.as_deref() == Some("CT750FMSZX")));
    }

    #[test]
    fn forwarded_counts_without_its_text_and_an_odd_context_costs_nothing() {
        let body = |context: &str| {
            format!(
                r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{
                "messages":[{{"from":"79991234567","id":"wamid.F","timestamp":"1763700000","type":"text",
                "context":{context},"text":{{"body":"код CT8F2A9KQ3"}}}}]}}}}]}}]}}"#
            )
        };
        let text = |context: &str| match parse(body(context).as_bytes()).unwrap().as_slice() {
            [Inbound::Message(m)] => m.text.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(text(r#"{"forwarded":true}"#), None);
        assert_eq!(text(r#"{"frequently_forwarded":true}"#), None);
        let own = Some("код CT8F2A9KQ3".to_string());
        assert_eq!(text(r#"{"from":"15550783881","id":"wamid.Q"}"#), own);
        assert_eq!(text(r#""unexpected""#), own);
        assert_eq!(text(r#"{"forwarded":"yes"}"#), own);
    }

    #[test]
    fn group_messages_and_group_statuses_are_nobodys_chat() {
        let got = corpus("group_text_with_code.json");
        assert!(got.is_empty(), "{got:?}");
        let got = corpus("status_group_sent.json");
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn wrong_object_refused() {
        assert!(parse(br#"{"object":"page","entry":[]}"#).is_err());
    }
}
