//! What a command (`migrate`, `export`, `upload`, `import`, and starting the server) reports
//! when it stops: `main` prints it after `chattag-collector:` and exits with status 1.

use crate::app::ServeError;
use crate::chats::settings::ChatsConfigError;
use crate::config::ConfigError;
use crate::csv_format::CsvError;
use crate::durations::DurationError;
use crate::metrica::rules::RulesError;
use crate::metrica::upload::TokenError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Chats(#[from] ChatsConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Database(#[from] crate::store::database::DatabaseError),
    #[error(transparent)]
    Duration(#[from] DurationError),
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Toml {
        path: String,
        source: toml::de::Error,
    },
    #[error("{path}: {source}")]
    Csv { path: String, source: CsvError },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// An argument, or an outcome, explained in words.
    #[error("{0}")]
    Refused(String),
}
