//! Settings of the chat side: the `[chats]` table of the config file plus secrets from files or
//! the environment (never the command line).
//!
//! ```toml
//! [chats]
//! prefixes = ["CT"]                 # chat ID prefixes the sites use (data-prefix)
//! probable_window_minutes = 5       # how long before a chat a click still counts (default 5)
//! intake_token_file = "/etc/chattag/intake-token"      # or env CHATTAG_INTAKE_TOKEN
//!
//! [chats.telegram]
//! secret_token_file = "/etc/chattag/telegram-secret"   # or env CHATTAG_TELEGRAM_SECRET
//! bot_username = "shop_bot"         # optional: narrows probable matches to links to this bot
//!
//! [chats.whatsapp]
//! app_secret_file = "…"             # or env CHATTAG_WHATSAPP_APP_SECRET
//! verify_token_file = "…"           # or env CHATTAG_WHATSAPP_VERIFY_TOKEN
//!
//! [chats.viber]
//! auth_token_file = "…"             # or env CHATTAG_VIBER_AUTH_TOKEN
//! account = "shoppa"                # optional: the bot's chatURI
//!
//! [chats.max]
//! secret_file = "…"                 # or env CHATTAG_MAX_SECRET
//! bot_username = "shop_bot"
//! ```
//!
//! A messenger whose secret is not configured has its webhook refused (503), never open.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chattag_core::Prefix;
use serde::Deserialize;

use super::matching::{MatchSettings, Window};
use super::messengers::Messengers;
pub use super::settings::WebhookSecret;
use super::settings::{secret_min, ChatsConfigError, Env};
use crate::secret::Secret;

#[derive(Debug, Default, Deserialize)]
pub struct ChatsFile {
    #[serde(default)]
    pub prefixes: Vec<String>,
    #[serde(default)]
    pub probable_window_minutes: Option<u32>,
    #[serde(default)]
    pub intake_token_file: Option<PathBuf>,
    /// `[chats.<messenger>]` tables, each read by its messenger (any other key is an error).
    #[serde(flatten)]
    pub messengers: BTreeMap<String, toml::Table>,
}

#[derive(Clone, Debug, Default)]
pub struct ChatsConfig {
    pub matching: MatchSettings,
    /// The bearer token of `POST /v1/chats`; without one, the read token's.
    pub intake_token: Option<Secret>,
    pub messengers: Messengers,
}

impl ChatsConfig {
    pub fn resolve(file: Option<ChatsFile>, env: Env) -> Result<ChatsConfig, ChatsConfigError> {
        let file = file.unwrap_or_default();
        let prefixes = if file.prefixes.is_empty() {
            vec![Prefix::DEFAULT]
        } else {
            file.prefixes
                .iter()
                .map(|p| {
                    Prefix::new(p).map_err(|error| ChatsConfigError::Prefix {
                        prefix: p.clone(),
                        error,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut window = Window::default();
        if let Some(m) = file.probable_window_minutes {
            if !(1..=120).contains(&m) {
                return Err(ChatsConfigError::Window);
            }
            window.before_ms = i64::from(m) * 60_000;
        }
        Ok(ChatsConfig {
            matching: MatchSettings { prefixes, window },
            intake_token: secret_min(
                "CHATTAG_INTAKE_TOKEN",
                env,
                file.intake_token_file.as_ref(),
                16,
            )?
            .map(|t| Secret::new(t.expose()))
            .transpose()
            .map_err(|_| ChatsConfigError::Secret {
                env: "CHATTAG_INTAKE_TOKEN",
                min_len: 16,
            })?,
            messengers: Messengers::configure(file.messengers, env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chats::messengers::telegram::Telegram;
    use crate::chats::messengers::whatsapp::WhatsApp;
    use crate::chats::messengers::Messenger;

    #[test]
    fn env_and_file_sections() {
        let file: ChatsFile = toml::from_str(
            r#"prefixes = ["CT", "AB"]
               probable_window_minutes = 5
               [telegram]
               bot_username = "@Shop_Bot""#,
        )
        .unwrap();
        let env = |k: &str| (k == "CHATTAG_TELEGRAM_SECRET").then(|| "tg-secret-123".to_string());
        let c = ChatsConfig::resolve(Some(file), &env).unwrap();
        assert_eq!(c.matching.prefixes.len(), 2);
        assert_eq!(c.matching.window.before_ms, 300_000);
        let tg = c.messengers.get::<Telegram>().unwrap();
        assert_eq!(tg.secret().map(|s| s.expose()), Some("tg-secret-123"));
        assert_eq!(tg.bot(), Some("shop_bot"));
        assert!(!c.messengers.get::<WhatsApp>().unwrap().enabled());
        assert!(!format!("{c:?}").contains("tg-secret-123"));
        let short = |_: &str| Some("abc".to_string());
        assert!(ChatsConfig::resolve(None, &short).is_err());
        assert!(toml::from_str::<ChatsFile>("colour = 1").is_err());
    }
}
