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

mod webhook;

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::settings::{ChatsConfigError, Env};
pub use webhook::{BotTable, Handshake, HandshakeRefusal, Messenger, Refusal};

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
