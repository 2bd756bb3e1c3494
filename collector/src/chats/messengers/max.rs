//! MAX (max.ru) bot API webhook updates (<https://dev.max.ru/docs-api/objects/Update>).
//!
//! Verification: MAX documents a `secret` on `POST /subscriptions`; when set, every webhook call
//! carries it in the header `X-Max-Bot-Api-Secret` (checked in the route with
//! [`crate::chats::signature::verify_shared_secret`]). There is no body signature. The collector refuses
//! MAX webhooks unless a secret is configured.
//!
//! Handled: `bot_started` (the person pressed Start from `https://max.ru/<bot>?start=<payload>`:
//! [`Inbound::BotOpened`], not a message; `payload` carries the chat ID) and `message_created`
//! in a dialog (the person's text may carry a typed ID; the bot's own message answers them). A
//! `message_created` without `message` is kept as [`Inbound::Unreadable`].
//! Timestamps are milliseconds.

use axum::http::HeaderMap;
use serde::Deserialize;

use super::webhook::{BotTable, HeaderSecretBot, Messenger, Refusal};
use crate::chats::inbound::{
    clean_opaque_id, clean_text, clean_username, Answered, BotOpened, ChatUser, Inbound,
    InboundMessage, ParseError, Platform, Unreadable, UnreadableReason, MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
};
use crate::chats::settings::{ChatsConfigError, Env};

#[derive(Deserialize, Debug)]
pub struct Update {
    pub update_type: String,
    pub timestamp: i64,
    #[serde(default)]
    pub chat_id: Option<i64>,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub message: Option<Message>,
}

#[derive(Deserialize, Debug)]
pub struct User {
    pub user_id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub is_bot: bool,
}

impl User {
    fn display_name(&self) -> Option<String> {
        let joined = match (&self.first_name, &self.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(f), None) => Some(f.clone()),
            _ => None,
        };
        self.name
            .clone()
            .or(joined)
            .and_then(|n| clean_text(&n, MAX_NAME_CHARS))
    }

    fn to_chat_user(&self) -> ChatUser {
        ChatUser {
            user_id: clean_opaque_id(&self.user_id.to_string()),
            username: self.username.as_deref().and_then(clean_username),
            phone: None,
            name: self.display_name(),
        }
    }
}

#[derive(Deserialize, Debug)]
pub struct Message {
    #[serde(default)]
    pub sender: Option<User>,
    #[serde(default)]
    pub recipient: Option<Recipient>,
    #[serde(default)]
    pub timestamp: Option<i64>,
    #[serde(default)]
    pub body: Option<Body>,
}

#[derive(Deserialize, Debug)]
pub struct Recipient {
    #[serde(default)]
    pub chat_id: Option<i64>,
    #[serde(default)]
    pub chat_type: Option<String>,
    /// In a dialog: the person the message went to.
    #[serde(default)]
    pub user_id: Option<i64>,
}

#[derive(Deserialize, Debug)]
pub struct Body {
    #[serde(default)]
    pub mid: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

fn invalid(detail: impl Into<String>) -> ParseError {
    ParseError::new("MAX update", detail)
}

pub fn parse(body: &[u8], account: Option<&str>) -> Result<Vec<Inbound>, ParseError> {
    let u: Update = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    let account = account.map(|a| a.to_ascii_lowercase());
    let out = match u.update_type.as_str() {
        "bot_started" => {
            let user = u
                .user
                .as_ref()
                .ok_or_else(|| invalid("bot_started without user"))?;
            vec![Inbound::BotOpened(BotOpened {
                platform: Platform::max(),
                user: user.to_chat_user(),
                at_ms: u.timestamp,
                start_param: u.payload.clone().filter(|p| !p.is_empty()),
                account,
                event_id: u.chat_id.map(|c| format!("start:{c}:{}", u.timestamp)),
            })]
        }
        "message_created" => {
            let Some(msg) = u.message.as_ref() else {
                return Ok(vec![Inbound::Unreadable(Unreadable::new(
                    Platform::max(),
                    UnreadableReason::Shape,
                    "message_created without message",
                    body,
                ))]);
            };
            let is_dialog =
                msg.recipient.as_ref().and_then(|r| r.chat_type.as_deref()) == Some("dialog");
            match msg.sender.as_ref() {
                Some(sender) if is_dialog && !sender.is_bot => {
                    vec![Inbound::Message(InboundMessage {
                        platform: Platform::max(),
                        user: sender.to_chat_user(),
                        at_ms: msg.timestamp.unwrap_or(u.timestamp),
                        start_param: None,
                        text: msg
                            .body
                            .as_ref()
                            .and_then(|b| b.text.as_deref())
                            .and_then(|t| clean_text(t, MAX_TEXT_CHARS)),
                        account,
                        ad_click_id: None,
                        message_id: msg
                            .body
                            .as_ref()
                            .and_then(|b| b.mid.as_deref())
                            .and_then(clean_opaque_id),
                    })]
                }
                // The bot's own message in a dialog: the chat is answered.
                Some(sender) if is_dialog && sender.is_bot => {
                    match msg.recipient.as_ref().and_then(|r| r.user_id) {
                        Some(user_id) => vec![Inbound::Answered(Answered {
                            platform: Platform::max(),
                            partner: ChatUser {
                                user_id: clean_opaque_id(&user_id.to_string()),
                                ..ChatUser::default()
                            },
                            at_ms: msg.timestamp.unwrap_or(u.timestamp),
                        })],
                        None => Vec::new(),
                    }
                }
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    Ok(out)
}

/// The MAX bot: `X-Max-Bot-Api-Secret` must be the `secret` of its subscription.
#[derive(Debug)]
pub struct Max(HeaderSecretBot);

impl Messenger for Max {
    const NAME: &'static str = "max";
    type Settings = BotTable;

    fn configure(t: BotTable, env: Env) -> Result<Max, ChatsConfigError> {
        Ok(Max(HeaderSecretBot::configure(
            t,
            "CHATTAG_MAX_SECRET",
            env,
        )?))
    }

    fn enabled(&self) -> bool {
        self.0.secret().is_some()
    }

    fn verify(&self, headers: &HeaderMap, _body: &[u8]) -> Result<(), Refusal> {
        self.0.verify(
            headers,
            "x-max-bot-api-secret",
            "the MAX webhook secret (CHATTAG_MAX_SECRET)",
        )
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<Inbound>, ParseError> {
        parse(body, self.0.bot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_started_with_payload() {
        let body = br#"{"update_type":"bot_started","timestamp":1763700000456,"chat_id":90210,
            "user":{"user_id":5551234,"first_name":"Ivan","last_name":"P","name":"Ivan P","username":null,"is_bot":false,"last_activity_time":1763700000000},
            "payload":"CT8F2A9KQ3","user_locale":"ru"}"#;
        let got = parse(body, Some("shop_bot")).unwrap();
        let [Inbound::BotOpened(m)] = got.as_slice() else {
            panic!("{got:?}")
        };
        assert_eq!(m.start_param.as_deref(), Some("CT8F2A9KQ3"));
        assert_eq!(m.user.user_id.as_deref(), Some("5551234"));
        assert_eq!(m.user.name.as_deref(), Some("Ivan P"));
        assert_eq!(m.at_ms, 1_763_700_000_456);
    }

    #[test]
    fn dialog_message_and_ignored_kinds() {
        let body = r#"{"update_type":"message_created","timestamp":1763700001000,
            "message":{"sender":{"user_id":5551234,"name":"Ivan P","is_bot":false},
              "recipient":{"chat_id":90210,"chat_type":"dialog","user_id":777},
              "timestamp":1763700000999,"body":{"mid":"mid.000000000001","seq":1,"text":"Заявка СТ8F2A9KQ3"}},
            "user_locale":"ru"}"#;
        let got = parse(body.as_bytes(), None).unwrap();
        assert!(
            matches!(got.as_slice(), [Inbound::Message(m)] if m.text.as_deref() == Some("Заявка СТ8F2A9KQ3") && m.at_ms == 1_763_700_000_999)
        );
        let chat = br#"{"update_type":"message_created","timestamp":1,"message":{"sender":{"user_id":1,"is_bot":false},
            "recipient":{"chat_id":2,"chat_type":"chat"},"body":{"mid":"m","text":"hi"}}}"#;
        assert!(parse(chat, None).unwrap().is_empty());
        assert!(
            parse(br#"{"update_type":"bot_stopped","timestamp":1}"#, None)
                .unwrap()
                .is_empty()
        );
    }
}
