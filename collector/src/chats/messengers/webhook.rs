//! What each messenger's module provides: the [`Messenger`] trait and the pieces its
//! implementations share.

use std::path::PathBuf;

use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::chats::inbound::{Inbound, ParseError};
use crate::chats::settings::{ChatsConfigError, Env};
use crate::chats::signature::SignatureError;

/// One messenger's webhook.
pub trait Messenger: Sized + Send + Sync + 'static {
    /// Its name in the webhook path (`/v1/webhooks/<NAME>`), in metrics and in the config
    /// (`[chats.<NAME>]`).
    const NAME: &'static str;
    /// Whether the webhook URL also answers a GET handshake ([`Messenger::handshake`]).
    const HANDSHAKE: bool = false;

    /// Its `[chats.<NAME>]` table.
    type Settings: DeserializeOwned + Default;

    /// Settings plus secrets (the environment wins over files). A secret that is set but
    /// unusable is an error: start-up stops rather than run with the webhook open or off.
    fn configure(settings: Self::Settings, env: Env) -> Result<Self, ChatsConfigError>;

    /// Whether its secret is configured; without it every delivery is refused with 503.
    fn enabled(&self) -> bool;

    /// Checks that the delivery comes from the messenger, before its body is parsed.
    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal>;

    /// The delivery's facts. Kinds of updates the collector does not use give none.
    fn parse(&self, body: &[u8]) -> Result<Vec<Inbound>, ParseError>;

    /// The GET handshake by which the messenger confirms the URL (WhatsApp): the body to
    /// answer with.
    fn handshake(&self, _query: &Handshake) -> Result<String, HandshakeRefusal> {
        Err(HandshakeRefusal::Unsupported)
    }
}

/// Why a delivery was refused before it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The secret it needs is not configured; names the setting.
    NotConfigured(&'static str),
    Signature(SignatureError),
}

impl From<SignatureError> for Refusal {
    fn from(e: SignatureError) -> Refusal {
        Refusal::Signature(e)
    }
}

/// The query of a GET handshake (`hub.*`, as Meta sends it).
#[derive(Debug, Default, Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    pub token: Option<String>,
    #[serde(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeRefusal {
    NotConfigured(&'static str),
    /// A parameter is missing or not in the documented shape.
    BadRequest,
    /// The verify token does not match ours.
    Forbidden,
    /// This messenger has no handshake.
    Unsupported,
}

/// The table of a bot-style messenger (Telegram, Viber, MAX): a secret file and the bot's
/// account. Each messenger's own key names are accepted for both.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotTable {
    #[serde(default, alias = "auth_token_file", alias = "secret_file")]
    pub secret_token_file: Option<PathBuf>,
    #[serde(default, alias = "account")]
    pub bot_username: Option<String>,
}

pub(super) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a [u8]> {
    headers.get(name).map(|v| v.as_bytes())
}
