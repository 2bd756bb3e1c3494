//! Viber REST bot API callbacks (<https://developers.viber.com/docs/api/rest-bot-api/#callbacks>).
//!
//! Every callback is signed: `X-Viber-Content-Signature` = hex HMAC-SHA256 of the raw body with
//! the bot's auth token. Handled events:
//! * `conversation_started` — the person opened the bot from a `viber://pa?…&context=<ctx>` link
//!   ([`Inbound::BotOpened`], not a message); `context` carries the chat ID (hidden);
//! * `message` — the person wrote; its text (a picture's or video's description too) may carry
//!   a typed ID;
//! * `delivered` / `seen` — a message the *bot side* sent reached the person: answered.
//!
//! `webhook` (sent when the URL is set), `subscribed`, `unsubscribed`, `failed` are acknowledged
//! and ignored. Viber timestamps are milliseconds.

use axum::http::HeaderMap;
use serde::Deserialize;

use super::webhook::{header, BotTable, Messenger, Refusal};
use crate::chats::inbound::{
    clean_opaque_id, clean_text, Answered, BotOpened, ChatUser, Inbound, InboundMessage,
    ParseError, Platform, MAX_NAME_CHARS, MAX_TEXT_CHARS,
};
use crate::chats::settings::{secret, ChatsConfigError, Env, WebhookSecret};
use crate::chats::signature::SignatureError;

#[derive(Deserialize, Debug)]
pub struct Callback {
    pub event: String,
    pub timestamp: i64,
    /// A number in Viber's documentation, a string in its Python SDK's fixtures: both read.
    #[serde(default)]
    pub message_token: Option<serde_json::Value>,
    /// `conversation_started`.
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub context: Option<String>,
    /// `message`.
    #[serde(default)]
    pub sender: Option<User>,
    #[serde(default)]
    pub message: Option<Message>,
    /// `delivered` / `seen`.
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Deserialize, Debug)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Deserialize, Debug)]
pub struct Message {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

fn invalid(detail: impl Into<String>) -> ParseError {
    ParseError::new("Viber callback", detail)
}

fn user_of(u: &User) -> Result<ChatUser, ParseError> {
    Ok(ChatUser {
        user_id: Some(clean_opaque_id(&u.id).ok_or_else(|| invalid("bad user id"))?),
        username: None,
        phone: None,
        name: u
            .name
            .as_deref()
            .and_then(|n| clean_text(n, MAX_NAME_CHARS)),
    })
}

pub fn parse(body: &[u8], account: Option<&str>) -> Result<Vec<Inbound>, ParseError> {
    let cb: Callback = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    let token = match &cb.message_token {
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(serde_json::Value::String(s)) => clean_opaque_id(s),
        _ => None,
    };
    let message = |user: ChatUser, start_param: Option<String>, text: Option<String>| {
        Inbound::Message(InboundMessage {
            platform: Platform::viber(),
            user,
            at_ms: cb.timestamp,
            start_param,
            text,
            account: account.map(|a| a.to_ascii_lowercase()),
            ad_click_id: None,
            message_id: token.clone(),
        })
    };
    let out = match cb.event.as_str() {
        "conversation_started" => {
            let user = cb
                .user
                .as_ref()
                .ok_or_else(|| invalid("conversation_started without user"))?;
            // Viber sends "" or omits context when the bot was opened without a deeplink.
            vec![Inbound::BotOpened(BotOpened {
                platform: Platform::viber(),
                user: user_of(user)?,
                at_ms: cb.timestamp,
                start_param: cb.context.clone().filter(|c| !c.is_empty()),
                account: account.map(|a| a.to_ascii_lowercase()),
                event_id: token.clone(),
            })]
        }
        "message" => {
            let sender = cb
                .sender
                .as_ref()
                .ok_or_else(|| invalid("message without sender"))?;
            // A picture's or video's description is in `text` too.
            let text = cb
                .message
                .as_ref()
                .and_then(|m| m.text.as_deref())
                .and_then(|t| clean_text(t, MAX_TEXT_CHARS));
            vec![message(user_of(sender)?, None, text)]
        }
        "delivered" | "seen" => match cb.user_id.as_deref().and_then(clean_opaque_id) {
            Some(id) => vec![Inbound::Answered(Answered {
                platform: Platform::viber(),
                partner: ChatUser {
                    user_id: Some(id),
                    ..ChatUser::default()
                },
                at_ms: cb.timestamp,
            })],
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    Ok(out)
}

/// The Viber bot: `X-Viber-Content-Signature` is the hex HMAC-SHA256 of the raw body with the
/// bot's auth token.
#[derive(Debug)]
pub struct Viber {
    token: Option<WebhookSecret>,
    /// The bot's chatURI, lowercase.
    account: Option<String>,
}

impl Messenger for Viber {
    const NAME: &'static str = "viber";
    type Settings = BotTable;

    fn configure(t: BotTable, env: Env) -> Result<Viber, ChatsConfigError> {
        Ok(Viber {
            token: secret(
                "CHATTAG_VIBER_AUTH_TOKEN",
                env,
                t.secret_token_file.as_ref(),
            )?,
            account: t.bot_username.map(|b| b.to_ascii_lowercase()),
        })
    }

    fn enabled(&self) -> bool {
        self.token.is_some()
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
        let token = self.token.as_ref().ok_or(Refusal::NotConfigured(
            "the Viber auth token (CHATTAG_VIBER_AUTH_TOKEN)",
        ))?;
        Ok(verify_signature(
            header(headers, "x-viber-content-signature"),
            body,
            token.expose(),
        )?)
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<Inbound>, ParseError> {
        parse(body, self.account.as_deref())
    }
}

/// `X-Viber-Content-Signature: <hex>` (no prefix).
pub fn verify_signature(
    header: Option<&[u8]>,
    body: &[u8],
    auth_token: &str,
) -> Result<(), SignatureError> {
    let got = header.ok_or(SignatureError::Missing)?;
    Ok(crate::signing::verify_hex_hmac(got, body, auth_token)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::hmac_sha256_hex;

    #[test]
    fn viber_signature_valid_and_forged() {
        let body = br#"{"event":"webhook"}"#;
        let sig = hmac_sha256_hex("viber-token", body);
        assert_eq!(
            verify_signature(Some(sig.as_bytes()), body, "viber-token"),
            Ok(())
        );
        assert_eq!(
            verify_signature(
                Some(sig.as_bytes()),
                b"{\"event\":\"webhooK\"}",
                "viber-token"
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(Some(b"zz"), body, "viber-token"),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn conversation_started_with_context() {
        let body = br#"{"event":"conversation_started","timestamp":1763700000123,"chat_hostname":"SN-CHAT-03_",
            "message_token":5487373282716262912,"type":"open","context":"promo_CT8F2A9KQ3",
            "user":{"id":"01234567890A=","name":"John McClane","avatar":"https://avatar.example.com","country":"UK","language":"en","api_version":8},
            "subscribed":false}"#;
        let got = parse(body, None).unwrap();
        let [Inbound::BotOpened(m)] = got.as_slice() else {
            panic!("{got:?}")
        };
        assert_eq!(m.start_param.as_deref(), Some("promo_CT8F2A9KQ3"));
        assert_eq!(m.user.user_id.as_deref(), Some("01234567890A="));
        assert_eq!(m.at_ms, 1_763_700_000_123);
        assert_eq!(m.event_id.as_deref(), Some("5487373282716262912"));
    }

    #[test]
    fn message_and_seen() {
        let msg = br#"{"event":"message","timestamp":1763700000500,"chat_hostname":"SN-CHAT-03_","message_token":4912661846655238145,
            "sender":{"id":"01234567890A=","name":"John McClane","avatar":"https://a","country":"UK","language":"en","api_version":8},
            "message":{"type":"text","text":"my code ct8f2a9kq3","tracking_data":"x"},"silent":false}"#;
        let got = parse(msg, None).unwrap();
        assert!(
            matches!(got.as_slice(), [Inbound::Message(m)] if m.text.as_deref() == Some("my code ct8f2a9kq3"))
        );
        let seen = br#"{"event":"seen","timestamp":1763700009000,"chat_hostname":"x","message_token":1,"user_id":"01234567890A="}"#;
        let got = parse(seen, None).unwrap();
        assert!(
            matches!(got.as_slice(), [Inbound::Answered(a)] if a.partner.user_id.as_deref() == Some("01234567890A="))
        );
        let hook = br#"{"event":"webhook","timestamp":1763700000000,"chat_hostname":"x","message_token":2}"#;
        assert!(parse(hook, None).unwrap().is_empty());
    }
}
