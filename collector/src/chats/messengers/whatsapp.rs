//! WhatsApp Business Cloud API webhooks (Meta Graph API, field `messages`).
//!
//! Verification is two-fold, as Meta documents it:
//! * subscription handshake: `GET ?hub.mode=subscribe&hub.verify_token=<ours>&hub.challenge=<n>`
//!   must echo `hub.challenge` when the token matches ([`verify_handshake`]);
//! * every notification: `X-Hub-Signature-256` over the raw body with the app secret
//!   ([`verify_hub_signature_256`]).
//!
//! A notification batches `entry[].changes[].value` objects; each value has `contacts`
//! (`wa_id` + profile name), inbound `messages` (the chat partner wrote), and `statuses`
//! (delivery of messages the *business* sent: the chat was answered).

use std::path::PathBuf;

use axum::http::HeaderMap;
use serde::Deserialize;

use super::webhook::{header, Handshake, HandshakeRefusal, Messenger, Refusal};
use crate::chats::inbound::{
    clean_opaque_id, clean_phone, clean_text, Answered, ChatUser, Inbound, InboundMessage,
    ParseError, Platform, MAX_NAME_CHARS, MAX_TEXT_CHARS,
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

#[derive(Deserialize, Debug)]
pub struct Change {
    pub field: String,
    pub value: Value,
}

#[derive(Deserialize, Debug, Default)]
pub struct Value {
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub messages: Vec<Message>,
    #[serde(default)]
    pub statuses: Vec<Status>,
}

#[derive(Deserialize, Debug)]
pub struct Metadata {
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(default)]
    pub phone_number_id: Option<String>,
}

#[derive(Deserialize, Debug)]
pub struct Contact {
    pub wa_id: String,
    #[serde(default)]
    pub profile: Option<Profile>,
}

#[derive(Deserialize, Debug)]
pub struct Profile {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Deserialize, Debug)]
pub struct Message {
    pub from: String,
    pub id: String,
    /// Unix seconds, as a string.
    pub timestamp: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<Text>,
    #[serde(default)]
    pub referral: Option<Referral>,
}

#[derive(Deserialize, Debug)]
pub struct Text {
    pub body: String,
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
    pub recipient_id: String,
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

pub fn parse(body: &[u8]) -> Result<Vec<Inbound>, ParseError> {
    let n: Notification = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    if n.object != "whatsapp_business_account" {
        return Err(invalid(format!("unexpected object {:?}", n.object)));
    }
    let mut out = Vec::new();
    for change in n.entry.iter().flat_map(|e| e.changes.iter()) {
        if change.field != "messages" {
            continue;
        }
        let v = &change.value;
        let account = v
            .metadata
            .as_ref()
            .and_then(|m| m.display_phone_number.as_deref())
            .and_then(clean_phone);
        for m in &v.messages {
            let at_ms = seconds(&m.timestamp).ok_or_else(|| invalid("bad message timestamp"))?;
            let Some(phone) = clean_phone(&m.from) else {
                return Err(invalid("bad sender wa_id"));
            };
            let name = v
                .contacts
                .iter()
                .find(|c| c.wa_id == m.from)
                .and_then(|c| c.profile.as_ref())
                .and_then(|p| p.name.as_deref())
                .and_then(|n| clean_text(n, MAX_NAME_CHARS));
            // Only text messages can carry a typed ID; other types still start a chat.
            let text = m
                .text
                .as_ref()
                .and_then(|t| clean_text(&t.body, MAX_TEXT_CHARS));
            out.push(Inbound::Message(InboundMessage {
                platform: Platform::whatsapp(),
                user: ChatUser {
                    user_id: None,
                    username: None,
                    phone: Some(phone),
                    name,
                },
                at_ms,
                start_param: None,
                text,
                account: account.clone(),
                ad_click_id: m
                    .referral
                    .as_ref()
                    .and_then(|r| r.ctwa_clid.as_deref())
                    .and_then(clean_opaque_id),
                message_id: clean_opaque_id(&m.id),
            }));
        }
        for s in &v.statuses {
            // `failed` means the reply never reached the person: not answered.
            if !matches!(s.status.as_str(), "sent" | "delivered" | "read") {
                continue;
            }
            let (Some(at_ms), Some(phone)) = (seconds(&s.timestamp), clean_phone(&s.recipient_id))
            else {
                continue;
            };
            out.push(Inbound::Answered(Answered {
                platform: Platform::whatsapp(),
                user_key: format!("phone:{phone}"),
                at_ms,
            }));
        }
    }
    Ok(out)
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
            matches!(&got[0], Inbound::Answered(a) if a.user_key == "phone:16505551234" && a.at_ms == 1_763_700_060_000)
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

    #[test]
    fn wrong_object_refused() {
        assert!(parse(br#"{"object":"page","entry":[]}"#).is_err());
    }
}
