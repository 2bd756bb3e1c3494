//! Telegram Bot API webhook updates (<https://core.telegram.org/bots/api#update>).
//!
//! Handled: `message` in a private chat with the bot (`/start [<param>]` is the person opening
//! the bot, [`Inbound::BotOpened`], not a message; any other message may carry a typed ID, in
//! its text or a media caption, unless it was forwarded: then the words are someone else's and
//! the message counts without its text), and `business_message` (a Telegram Business account
//! connected to the bot: chats with the site's *personal* account arrive this way). In a private
//! chat `chat.id` is the chat partner, so a business message whose `from.id` differs from
//! `chat.id` was written by the business side: that marks the chat answered, unless Telegram
//! sent it by itself (`is_from_offline`: an away or greeting message, or a scheduled one).
//! Everything else (edited messages, channel posts, groups, callbacks) is acknowledged and ignored,
//! so Telegram does not retry it.

use axum::http::HeaderMap;
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::webhook::{BotTable, HeaderSecretBot, Messenger, Refusal};
use crate::chats::inbound::{
    clean_opaque_id, clean_phone, clean_text, clean_username, Answered, BotOpened, ChatUser,
    Inbound, InboundMessage, ParseError, Platform, MAX_NAME_CHARS, MAX_TEXT_CHARS,
};
use crate::chats::settings::{ChatsConfigError, Env, WebhookSecret};

#[derive(Deserialize, Debug)]
pub struct Update {
    pub update_id: i64,
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub business_message: Option<Message>,
}

#[derive(Deserialize, Debug)]
pub struct Message {
    pub message_id: i64,
    #[serde(default)]
    pub from: Option<User>,
    pub chat: Chat,
    /// Unix seconds.
    pub date: i64,
    #[serde(default)]
    pub text: Option<String>,
    /// Media messages carry their text here.
    #[serde(default)]
    pub caption: Option<String>,
    /// Present on a forwarded message (Bot API 7.0+): its text was written by someone else.
    #[serde(default)]
    pub forward_origin: Option<IgnoredAny>,
    /// The same before Bot API 7.0.
    #[serde(default)]
    pub forward_date: Option<IgnoredAny>,
    /// Sent by an implicit action: a Telegram Business away or greeting message, or a scheduled
    /// one. Read loosely (`null` or another type counts as not set).
    #[serde(default, deserialize_with = "loose_bool")]
    pub is_from_offline: bool,
    /// A shared contact card: a bot's "share my phone number" button (`request_contact`) sends
    /// the person's own, with their `user_id`. Read loosely: an odd card must not cost the
    /// message.
    #[serde(default)]
    pub contact: Option<serde_json::Value>,
}

impl Message {
    /// The phone of a contact card the sender shared of themselves (`contact.user_id` is the
    /// sender): someone else's card, or one without a user ID, says nothing about the sender.
    fn own_phone(&self, sender: i64) -> Option<String> {
        let card = self.contact.as_ref()?;
        if card.get("user_id")?.as_i64()? != sender {
            return None;
        }
        clean_phone(card.get("phone_number")?.as_str()?)
    }

    /// Whether the message was forwarded from elsewhere rather than written here.
    fn is_forwarded(&self) -> bool {
        self.forward_origin.is_some() || self.forward_date.is_some()
    }
}

/// `true` only for a JSON `true`: an odd value must not cost the message.
fn loose_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(serde_json::Value::deserialize(d)? == serde_json::Value::Bool(true))
}

#[derive(Deserialize, Debug)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Deserialize, Debug)]
pub struct Chat {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
}

fn invalid(detail: impl Into<String>) -> ParseError {
    ParseError::new("Telegram update", detail)
}

/// `/start CT8F2A9KQZ` → `CT8F2A9KQZ`; `/start@shop_bot x` → `x`. A bare `/start` (no deeplink
/// parameter: the user opened the bot by name) yields an empty string, which matching treats
/// as "started without an ID".
pub fn start_param(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("/start")?;
    let rest = match rest.strip_prefix('@') {
        Some(r) => r.split_once(' ').map_or("", |(_, p)| p),
        None if rest.is_empty() || rest.starts_with(' ') => rest,
        None => return None, // "/startle" is not the command
    };
    Some(rest.trim())
}

/// `bot_account`: the bot's username when configured, recorded as the chat's account so that a
/// probable match only considers clicks on links to that bot.
pub fn parse(body: &[u8], bot_account: Option<&str>) -> Result<Vec<Inbound>, ParseError> {
    let update: Update = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    let mut out = Vec::new();
    let (msg, business) = match (update.message, update.business_message) {
        (Some(m), _) => (m, false),
        (None, Some(m)) => (m, true),
        (None, None) => return Ok(out),
    };
    if msg.chat.kind != "private" {
        return Ok(out);
    }
    let Some(from) = &msg.from else {
        return Ok(out);
    };
    let at_ms = msg.date.saturating_mul(1000);
    if business && from.id != msg.chat.id {
        // An away or greeting message is Telegram answering for a business that is not there:
        // the chat is still missed until someone writes.
        if msg.is_from_offline {
            return Ok(out);
        }
        out.push(Inbound::Answered(Answered {
            platform: Platform::telegram(),
            partner: ChatUser {
                user_id: clean_opaque_id(&msg.chat.id.to_string()),
                ..ChatUser::default()
            },
            at_ms,
        }));
        return Ok(out);
    }
    if from.is_bot {
        return Ok(out);
    }
    // A forwarded message is the person writing, but its words are someone else's: a code in
    // them must not credit this person (nor can it be a `/start` they sent).
    let text = if msg.is_forwarded() {
        ""
    } else {
        msg.text.as_deref().or(msg.caption.as_deref()).unwrap_or("")
    };
    // A deeplink start only reaches bots; in a business chat "/start" is just text.
    let start = if business { None } else { start_param(text) };
    let name = [from.first_name.as_deref(), from.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let user = ChatUser {
        user_id: clean_opaque_id(&from.id.to_string()),
        username: from.username.as_deref().and_then(clean_username),
        // The card's own user ID decides whose phone it is, forwarded or not.
        phone: msg.own_phone(from.id),
        name: clean_text(&name, MAX_NAME_CHARS),
    };
    let account = bot_account.map(|a| a.to_ascii_lowercase());
    let id = format!("{}:{}", msg.chat.id, msg.message_id);
    // `/start` is the person opening the bot, not writing to the shop.
    if let Some(param) = start {
        out.push(Inbound::BotOpened(BotOpened {
            platform: Platform::telegram(),
            user,
            at_ms,
            start_param: Some(param.to_string()).filter(|p| !p.is_empty()),
            account,
            event_id: Some(id),
        }));
        return Ok(out);
    }
    out.push(Inbound::Message(InboundMessage {
        platform: Platform::telegram(),
        user,
        at_ms,
        start_param: None,
        text: clean_text(text, MAX_TEXT_CHARS),
        account,
        ad_click_id: None,
        message_id: Some(id),
    }));
    Ok(out)
}

/// The Telegram bot: `X-Telegram-Bot-Api-Secret-Token` must be the `secret_token` given to
/// `setWebhook`.
#[derive(Debug)]
pub struct Telegram(HeaderSecretBot);

impl Telegram {
    pub fn secret(&self) -> Option<&WebhookSecret> {
        self.0.secret()
    }

    pub fn bot(&self) -> Option<&str> {
        self.0.bot()
    }
}

impl Messenger for Telegram {
    const NAME: &'static str = "telegram";
    type Settings = BotTable;

    fn configure(t: BotTable, env: Env) -> Result<Telegram, ChatsConfigError> {
        Ok(Telegram(HeaderSecretBot::configure(
            t,
            "CHATTAG_TELEGRAM_SECRET",
            env,
        )?))
    }

    fn enabled(&self) -> bool {
        self.0.secret().is_some()
    }

    fn verify(&self, headers: &HeaderMap, _body: &[u8]) -> Result<(), Refusal> {
        self.0.verify(
            headers,
            "x-telegram-bot-api-secret-token",
            "the Telegram webhook (CHATTAG_TELEGRAM_SECRET)",
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
    fn start_command_forms() {
        assert_eq!(start_param("/start CT8F2A9KQ3"), Some("CT8F2A9KQ3"));
        assert_eq!(
            start_param("/start@shop_bot promo_CT8F2A9KQ3"),
            Some("promo_CT8F2A9KQ3")
        );
        assert_eq!(start_param("/start"), Some(""));
        assert_eq!(start_param("/startle"), None);
        assert_eq!(start_param("hello"), None);
    }

    #[test]
    fn deeplink_start_update() {
        let body = br#"{"update_id":734511,"message":{"message_id":17,
            "from":{"id":381920477,"is_bot":false,"first_name":"Anna","last_name":"K","username":"anna_k","language_code":"ru"},
            "chat":{"id":381920477,"first_name":"Anna","last_name":"K","username":"anna_k","type":"private"},
            "date":1763700000,"text":"/start CT8F2A9KQ3",
            "entities":[{"offset":0,"length":6,"type":"bot_command"}]}}"#;
        let got = parse(body, Some("Shop_Bot")).unwrap();
        let [Inbound::BotOpened(m)] = got.as_slice() else {
            panic!("{got:?}")
        };
        assert_eq!(m.start_param.as_deref(), Some("CT8F2A9KQ3"));
        assert_eq!(m.user.user_id.as_deref(), Some("381920477"));
        assert_eq!(m.user.username.as_deref(), Some("anna_k"));
        assert_eq!(m.user.name.as_deref(), Some("Anna K"));
        assert_eq!(m.at_ms, 1_763_700_000_000);
        assert_eq!(m.account.as_deref(), Some("shop_bot"));
    }

    #[test]
    fn business_reply_marks_answered_and_groups_ignored() {
        let reply = br#"{"update_id":2,"business_message":{"message_id":5,"business_connection_id":"bc1",
            "from":{"id":1000,"is_bot":false,"first_name":"Shop"},
            "chat":{"id":381920477,"type":"private","first_name":"Anna"},"date":1763700100,"text":"Hello!"}}"#;
        let got = parse(reply, None).unwrap();
        assert!(
            matches!(got.as_slice(), [Inbound::Answered(a)] if a.partner.user_id.as_deref() == Some("381920477"))
        );

        let group = br#"{"update_id":3,"message":{"message_id":5,"from":{"id":1,"is_bot":false,"first_name":"X"},
            "chat":{"id":-100,"type":"supergroup","title":"G"},"date":1763700100,"text":"CT8F2A9KQ3"}}"#;
        assert!(parse(group, None).unwrap().is_empty());
        assert!(parse(br#"{"update_id":4,"edited_message":{}}"#, None)
            .unwrap()
            .is_empty());
        assert!(parse(b"not json", None).is_err());
    }

    #[test]
    fn an_away_message_answers_nobody_but_a_reply_does() {
        let reply = |offline: &str| {
            format!(
                r#"{{"update_id":7,"business_message":{{"message_id":3,
                "from":{{"id":7000000002,"is_bot":false,"first_name":"Shop"}},
                "chat":{{"id":5120984471,"first_name":"Ivan","type":"private"}},"date":1763700140,
                "business_connection_id":"AbC"{offline},"text":"We are closed until 9:00"}}}}"#
            )
        };
        let answers = |offline: &str| {
            parse(reply(offline).as_bytes(), None)
                .unwrap()
                .iter()
                .filter(|i| matches!(i, Inbound::Answered(_)))
                .count()
        };
        assert_eq!(answers(r#","is_from_offline":true"#), 0);
        assert_eq!(answers(""), 1);
        assert_eq!(answers(r#","is_from_offline":false"#), 1);
        assert_eq!(answers(r#","is_from_offline":null"#), 1);
        assert_eq!(answers(r#","is_from_offline":"yes""#), 1);
    }

    #[test]
    fn forwarded_message_counts_without_its_text() {
        // Someone else's "/start <code>", forwarded: neither a bot opening nor the person's code.
        let body = br#"{"update_id":5,"message":{"message_id":9,
            "from":{"id":381920477,"is_bot":false,"first_name":"Anna"},
            "chat":{"id":381920477,"first_name":"Anna","type":"private"},"date":1763700200,
            "forward_origin":{"type":"hidden_user","date":1763600000,"sender_user_name":"Someone"},
            "text":"/start CT8F2A9KQ3"}}"#;
        let got = parse(body, None).unwrap();
        let [Inbound::Message(m)] = got.as_slice() else {
            panic!("{got:?}")
        };
        assert_eq!(m.text, None);
        assert_eq!(m.start_param, None);
    }
}
