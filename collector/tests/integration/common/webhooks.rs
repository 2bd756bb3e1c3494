//! Messenger webhooks in tests: the secrets a test collector is started with, and senders that
//! authenticate each delivery the way that messenger does (shared-secret header or HMAC of the
//! body), so a test states only the payload.

use std::process::{Command, Output};

use chattag_collector::signing::hmac_sha256_hex;

use super::{Response, Server, ORIGIN, TOKEN};

pub const TG_SECRET: &str = "tg-secret-0123456789";
pub const WA_SECRET: &str = "wa-app-secret-0123456789";
pub const WA_VERIFY: &str = "wa-verify-token-0123";
pub const VIBER_TOKEN: &str = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9";
pub const MAX_SECRET: &str = "max-secret-0123456789";
pub const INTAKE_TOKEN: &str = "intake-token-0123456789";

/// A messenger whose webhook a test collector accepts; the others answer 503.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Messenger {
    Telegram,
    WhatsApp,
    Viber,
    Max,
}

impl Messenger {
    fn env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Messenger::Telegram => &[("CHATTAG_TELEGRAM_SECRET", TG_SECRET)],
            Messenger::WhatsApp => &[
                ("CHATTAG_WHATSAPP_APP_SECRET", WA_SECRET),
                ("CHATTAG_WHATSAPP_VERIFY_TOKEN", WA_VERIFY),
            ],
            Messenger::Viber => &[("CHATTAG_VIBER_AUTH_TOKEN", VIBER_TOKEN)],
            Messenger::Max => &[("CHATTAG_MAX_SECRET", MAX_SECRET)],
        }
    }
}

impl Server {
    /// `ORIGIN` allowed, rate limiting off, `TOKEN` as read token, the webhook secrets of
    /// `messengers`, and `extra_env` (e.g. an intake token).
    pub fn start_with_webhooks(messengers: &[Messenger], extra_env: &[(&str, &str)]) -> Server {
        let mut env: Vec<(&str, &str)> = vec![("CHATTAG_READ_TOKEN", TOKEN)];
        env.extend(messengers.iter().flat_map(|m| m.env().iter().copied()));
        env.extend_from_slice(extra_env);
        Server::start_raw(&["--allowed-origin", ORIGIN, "--rate-limit", "0"], &env)
    }

    /// A Telegram update with the secret-token header Telegram sends.
    pub fn telegram(&self, update: &[u8]) -> Response {
        self.request(
            "POST",
            "/v1/webhooks/telegram",
            &[("X-Telegram-Bot-Api-Secret-Token", TG_SECRET)],
            update,
        )
    }

    /// A WhatsApp notification signed as Meta signs it (`sha256=` + HMAC of the body).
    pub fn whatsapp(&self, notification: &[u8]) -> Response {
        let sig = format!("sha256={}", hmac_sha256_hex(WA_SECRET, notification));
        self.request(
            "POST",
            "/v1/webhooks/whatsapp",
            &[("X-Hub-Signature-256", &sig)],
            notification,
        )
    }

    /// A Viber callback signed as Viber signs it (hex HMAC of the body with the auth token).
    pub fn viber(&self, callback: &[u8]) -> Response {
        let sig = hmac_sha256_hex(VIBER_TOKEN, callback);
        self.request(
            "POST",
            "/v1/webhooks/viber",
            &[("X-Viber-Content-Signature", &sig)],
            callback,
        )
    }

    /// A MAX update with the secret header MAX sends.
    pub fn max(&self, update: &[u8]) -> Response {
        self.request(
            "POST",
            "/v1/webhooks/max",
            &[("X-Max-Bot-Api-Secret", MAX_SECRET)],
            update,
        )
    }

    /// `POST /v1/chats` with the CRM intake token: a chat, a later fact, or a batch of them.
    pub fn intake(&self, body: &serde_json::Value) -> Response {
        let auth = format!("Bearer {INTAKE_TOKEN}");
        self.request(
            "POST",
            "/v1/chats",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            &serde_json::to_vec(body).expect("a JSON body"),
        )
    }

    /// Runs a `chattag-collector` subcommand on this server's database with only `env` from the
    /// `CHATTAG_*` variables (the test runner's own must not leak into the command).
    pub fn cli(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chattag-collector"));
        cmd.args(args).arg("--db").arg(self.db_arg());
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CHATTAG_")) {
            cmd.env_remove(k);
        }
        cmd.envs(env.iter().copied());
        cmd.output().expect("run chattag-collector")
    }
}

/// A WhatsApp Cloud API notification carrying one text message from `wa_id` (profile `name`),
/// sent at `ts_s` (Unix seconds; WhatsApp sends them as a string).
pub fn whatsapp_text(
    wa_id: &str,
    name: &str,
    text: &str,
    ts_s: impl std::fmt::Display,
    wamid: &str,
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": ts_s.to_string(), "type": "text", "text": {"body": text}}]},
        "field": "messages"}]}]}))
    .expect("json")
}

/// The person's first message after opening a Telegram bot with `/start`: opening the bot is not
/// a chat by itself; this message opens it, tied to the visit by the `/start` code.
pub fn telegram_hello(user: i64, message_id: i64, date_s: u64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"update_id": 1_000_000 + message_id, "message": {"message_id": message_id,
        "from": {"id": user, "is_bot": false, "first_name": "A"},
        "chat": {"id": user, "type": "private"}, "date": date_s, "text": "Здравствуйте!"}}))
    .expect("json")
}

/// The same after a Viber `conversation_started`.
pub fn viber_hello(user_id: &str, ts_ms: u64, token: u64) -> Vec<u8> {
    serde_json::to_vec(
        &serde_json::json!({"event": "message", "timestamp": ts_ms, "chat_hostname": "SN-CHAT-03_",
        "message_token": token, "sender": {"id": user_id, "name": "John", "api_version": 8},
        "message": {"type": "text", "text": "Hello"}, "silent": false}),
    )
    .expect("json")
}

/// The same after a MAX `bot_started`.
pub fn max_hello(user_id: i64, ts_ms: u64, mid: &str) -> Vec<u8> {
    serde_json::to_vec(
        &serde_json::json!({"update_type": "message_created", "timestamp": ts_ms,
        "message": {"sender": {"user_id": user_id, "name": "Ivan", "is_bot": false},
            "recipient": {"chat_id": 90210, "chat_type": "dialog", "user_id": 777},
            "timestamp": ts_ms, "body": {"mid": mid, "seq": 1, "text": "Здравствуйте"}}}),
    )
    .expect("json")
}
