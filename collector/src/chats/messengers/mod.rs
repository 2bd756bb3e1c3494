//! The messengers whose webhooks the collector receives. Each module owns its whole webhook:
//! its `[chats.<name>]` settings and secrets, how a delivery proves its sender, and how its
//! payload becomes [`Inbound`] facts. The HTTP side ([`super::routes`]) has one handler for all
//! of them.
//!
//! Adding a messenger: a module implementing [`Messenger`], and its line in [`each`].

pub mod max;
pub mod telegram;
pub mod viber;
pub mod whatsapp;

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::config::ChatsConfigError;
use super::inbound::{Inbound, ParseError};
use super::signature::SignatureError;

/// Reads a `CHATTAG_*` variable (the process environment, or a test's map).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

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

/// Something that does one thing per messenger.
pub trait Visit {
    type Error;
    fn visit<M: Messenger>(&mut self) -> Result<(), Self::Error>;
}

/// Every messenger with a webhook, in route order.
pub fn each<V: Visit>(v: &mut V) -> Result<(), V::Error> {
    v.visit::<telegram::Telegram>()?;
    v.visit::<whatsapp::WhatsApp>()?;
    v.visit::<viber::Viber>()?;
    v.visit::<max::Max>()?;
    Ok(())
}

/// The configured messengers, by type.
#[derive(Clone, Default)]
pub struct Messengers(HashMap<&'static str, Arc<dyn Any + Send + Sync>>);

impl std::fmt::Debug for Messengers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: the values hold secrets.
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Messengers {
    /// Configures every messenger from its `[chats.<name>]` table; a table no messenger owns is
    /// an error (a typo would otherwise leave a webhook silently off).
    pub fn configure(
        mut tables: BTreeMap<String, toml::Table>,
        env: Env,
    ) -> Result<Messengers, ChatsConfigError> {
        struct Configure<'a> {
            tables: &'a mut BTreeMap<String, toml::Table>,
            env: Env<'a>,
            out: Messengers,
        }
        impl Visit for Configure<'_> {
            type Error = ChatsConfigError;
            fn visit<M: Messenger>(&mut self) -> Result<(), ChatsConfigError> {
                let settings =
                    match self.tables.remove(M::NAME) {
                        None => M::Settings::default(),
                        Some(t) => toml::Value::Table(t).try_into().map_err(|e| {
                            ChatsConfigError::Table {
                                table: M::NAME,
                                detail: e.to_string(),
                            }
                        })?,
                    };
                let m = M::configure(settings, self.env)?;
                self.out.0.insert(M::NAME, Arc::new(m));
                Ok(())
            }
        }
        let mut c = Configure {
            tables: &mut tables,
            env,
            out: Messengers::default(),
        };
        each(&mut c)?;
        let out = c.out;
        if let Some(name) = tables.keys().next() {
            return Err(ChatsConfigError::UnknownTable(name.clone()));
        }
        Ok(out)
    }

    /// `M` as configured (every messenger is, with or without its secret).
    pub fn get<M: Messenger>(&self) -> Option<Arc<M>> {
        self.0
            .get(M::NAME)
            .and_then(|m| Arc::clone(m).downcast::<M>().ok())
    }

    /// (name, enabled) of each messenger, for the start-up log.
    pub fn enabled(&self) -> Vec<(&'static str, bool)> {
        struct Enabled<'a>(&'a Messengers, Vec<(&'static str, bool)>);
        impl Visit for Enabled<'_> {
            type Error = std::convert::Infallible;
            fn visit<M: Messenger>(&mut self) -> Result<(), Self::Error> {
                let on = self.0.get::<M>().is_some_and(|m| m.enabled());
                self.1.push((M::NAME, on));
                Ok(())
            }
        }
        let mut v = Enabled(self, Vec::new());
        let Ok(()) = each(&mut v);
        v.1
    }
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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a [u8]> {
    headers.get(name).map(|v| v.as_bytes())
}
