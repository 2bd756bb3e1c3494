//! What every part of the chat side's settings shares: secrets read from the environment or
//! files, and the one error type of `[chats]`.

use std::path::PathBuf;

use chattag_core::PrefixError;

/// Reads a `CHATTAG_*` variable (the process environment, or a test's map).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

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

#[derive(Debug, thiserror::Error)]
pub enum ChatsConfigError {
    #[error("[chats] settings: cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "[chats] settings: {env}: must be at least {min_len} printable characters without spaces"
    )]
    Secret { env: &'static str, min_len: usize },
    #[error("[chats] settings: prefix {prefix:?}: {error:?}")]
    Prefix { prefix: String, error: PrefixError },
    #[error("[chats] settings: probable_window_minutes must be 1..=120")]
    Window,
    #[error("[chats.{table}]: {detail}")]
    Table { table: &'static str, detail: String },
    #[error("[chats]: unknown key or table {0:?} (messengers: telegram, whatsapp, viber, max)")]
    UnknownTable(String),
}

/// A webhook secret (at least 8 characters: some messengers generate short ones) from the
/// environment, else from its file; env wins, as containers inject secrets that way.
pub fn secret(
    env_name: &'static str,
    env: Env,
    file: Option<&PathBuf>,
) -> Result<Option<WebhookSecret>, ChatsConfigError> {
    secret_min(env_name, env, file, 8)
}

/// `min_len`: 8 for webhook secrets, 16 for the intake bearer token (the same rule as the read
/// token).
pub(super) fn secret_min(
    env_name: &'static str,
    env: Env,
    file: Option<&PathBuf>,
    min_len: usize,
) -> Result<Option<WebhookSecret>, ChatsConfigError> {
    let raw = match (env(env_name).filter(|v| !v.trim().is_empty()), file) {
        (Some(v), _) => v,
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|source| ChatsConfigError::Read {
                path: path.display().to_string(),
                source,
            })?
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
        (None, None) => return Ok(None),
    };
    let v = raw.trim();
    if v.len() < min_len || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ChatsConfigError::Secret {
            env: env_name,
            min_len,
        });
    }
    Ok(Some(WebhookSecret(v.to_string())))
}
