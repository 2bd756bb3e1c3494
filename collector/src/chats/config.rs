//! Settings of the chat side: the `[chats]` table of the config file plus secrets from files or
//! the environment (never the command line).
//!
//! ```toml
//! [chats]
//! prefixes = ["CT"]                 # chat ID prefixes the sites use (data-prefix)
//! probable_window_minutes = 10      # how long before a chat a click still counts
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

use std::path::PathBuf;

use chattag_core::Prefix;
use serde::Deserialize;

use super::matching::{MatchSettings, Window};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatsFile {
    #[serde(default)]
    pub prefixes: Vec<String>,
    #[serde(default)]
    pub probable_window_minutes: Option<u32>,
    #[serde(default)]
    pub intake_token_file: Option<PathBuf>,
    #[serde(default)]
    pub telegram: Option<BotFile>,
    #[serde(default)]
    pub whatsapp: Option<WhatsAppFile>,
    #[serde(default)]
    pub viber: Option<BotFile>,
    #[serde(default)]
    pub max: Option<BotFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotFile {
    #[serde(default, alias = "auth_token_file", alias = "secret_file")]
    pub secret_token_file: Option<PathBuf>,
    #[serde(default, alias = "account")]
    pub bot_username: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppFile {
    #[serde(default)]
    pub app_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub verify_token_file: Option<PathBuf>,
}

/// A webhook secret; `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

#[derive(Clone, Debug, Default)]
pub struct ChatsConfig {
    pub matching: MatchSettings,
    pub intake_token: Option<WebhookSecret>,
    pub telegram_secret: Option<WebhookSecret>,
    pub telegram_bot: Option<String>,
    pub whatsapp_app_secret: Option<WebhookSecret>,
    pub whatsapp_verify_token: Option<WebhookSecret>,
    pub viber_token: Option<WebhookSecret>,
    pub viber_account: Option<String>,
    pub max_secret: Option<WebhookSecret>,
    pub max_bot: Option<String>,
}

#[derive(Debug)]
pub struct ChatsConfigError(pub String);

impl std::fmt::Display for ChatsConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[chats] settings: {}", self.0)
    }
}

impl std::error::Error for ChatsConfigError {}

/// Env wins over the file for each secret: it is how containers inject them.
fn secret(
    env_name: &str,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<&PathBuf>,
) -> Result<Option<WebhookSecret>, ChatsConfigError> {
    secret_min(env_name, env, file, 8)
}

/// `min_len`: 8 for webhook secrets (some messengers generate short ones), 16 for the intake
/// bearer token (the same rule as the read token).
fn secret_min(
    env_name: &str,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<&PathBuf>,
    min_len: usize,
) -> Result<Option<WebhookSecret>, ChatsConfigError> {
    let raw = match (env(env_name).filter(|v| !v.trim().is_empty()), file) {
        (Some(v), _) => v,
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| ChatsConfigError(format!("cannot read {}: {e}", path.display())))?
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
        (None, None) => return Ok(None),
    };
    let v = raw.trim();
    if v.len() < min_len || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ChatsConfigError(format!(
            "{env_name}: must be at least {min_len} printable characters without spaces"
        )));
    }
    Ok(Some(WebhookSecret(v.to_string())))
}

impl ChatsConfig {
    pub fn resolve(
        file: Option<ChatsFile>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ChatsConfig, ChatsConfigError> {
        let file = file.unwrap_or_default();
        let prefixes = if file.prefixes.is_empty() {
            vec![Prefix::DEFAULT]
        } else {
            file.prefixes
                .iter()
                .map(|p| {
                    Prefix::new(p).map_err(|e| ChatsConfigError(format!("prefix {p:?}: {e:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut window = Window::default();
        if let Some(m) = file.probable_window_minutes {
            if !(1..=120).contains(&m) {
                return Err(ChatsConfigError(
                    "probable_window_minutes must be 1..=120".into(),
                ));
            }
            window.before_ms = i64::from(m) * 60_000;
        }
        let tg = file.telegram.unwrap_or_default();
        let wa = file.whatsapp.unwrap_or_default();
        let vb = file.viber.unwrap_or_default();
        let mx = file.max.unwrap_or_default();
        Ok(ChatsConfig {
            matching: MatchSettings { prefixes, window },
            intake_token: secret_min(
                "CHATTAG_INTAKE_TOKEN",
                env,
                file.intake_token_file.as_ref(),
                16,
            )?,
            telegram_secret: secret(
                "CHATTAG_TELEGRAM_SECRET",
                env,
                tg.secret_token_file.as_ref(),
            )?,
            telegram_bot: tg
                .bot_username
                .map(|b| b.trim_start_matches('@').to_ascii_lowercase()),
            whatsapp_app_secret: secret(
                "CHATTAG_WHATSAPP_APP_SECRET",
                env,
                wa.app_secret_file.as_ref(),
            )?,
            whatsapp_verify_token: secret(
                "CHATTAG_WHATSAPP_VERIFY_TOKEN",
                env,
                wa.verify_token_file.as_ref(),
            )?,
            viber_token: secret(
                "CHATTAG_VIBER_AUTH_TOKEN",
                env,
                vb.secret_token_file.as_ref(),
            )?,
            viber_account: vb.bot_username.map(|b| b.to_ascii_lowercase()),
            max_secret: secret("CHATTAG_MAX_SECRET", env, mx.secret_token_file.as_ref())?,
            max_bot: mx
                .bot_username
                .map(|b| b.trim_start_matches('@').to_ascii_lowercase()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            c.telegram_secret.as_ref().map(|s| s.expose()),
            Some("tg-secret-123")
        );
        assert_eq!(c.telegram_bot.as_deref(), Some("shop_bot"));
        assert!(c.whatsapp_app_secret.is_none());
        assert!(!format!("{c:?}").contains("tg-secret-123"));
        let short = |_: &str| Some("abc".to_string());
        assert!(ChatsConfig::resolve(None, &short).is_err());
        assert!(toml::from_str::<ChatsFile>("colour = 1").is_err());
    }
}
