//! Personal data handled on request and on a schedule: export and deletion of one person's
//! data (`chattag-collector forget|export-person`, `POST /v1/privacy/{forget,export}`), and
//! expiry of old data in small batches inside the server. What is kept, why and for how long:
//! `docs/data-inventory.md`.
//!
//! ```toml
//! [privacy]
//! token_file = "/etc/chattag/privacy-token"   # or CHATTAG_PRIVACY_TOKEN; without: API off
//! phones = "hashed"          # or "clear" (or CHATTAG_PHONES): see `phones`
//!
//! [privacy.retention]        # the defaults
//! events_days = 90           # snippet events, clicks, bot openings: yclid lives 90 days
//! chats_days = 400           # visits and conversations: a year of reports plus a month
//! first_text_days = 7        # first message text: matching reads it on arrival only
//! metrica_files_days = 30    # copy of a settled upload file
//! diagnostics_days = 30      # refused records, unreadable webhook items, seen message IDs
//! interval = "1h"            # how often expiry runs (first run one interval after start)
//! batch = 1000               # rows of a walk's first step (later: sized by writer time)
//!
//! [privacy.sites."shop.example"]   # a site's own (any of the *_days above)
//! events_days = 30
//! ```

pub mod cli;
pub mod expiry;
pub mod key;
pub mod phones;
pub mod routes;
pub mod subject;

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use crate::config::Config;
use crate::durations::{parse_duration, DurationError};
use crate::secret::{Secret, SecretError};
use crate::store::privacy::{Retention, RetentionPolicy, Whom};

pub use expiry::ExpiryMetrics;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error("config section [privacy]: {0}")]
    Section(#[from] crate::config::ConfigError),
    #[error("[privacy] token: {0}")]
    Token(#[from] SecretError),
    #[error("[privacy.retention] interval: {0}")]
    Interval(#[from] DurationError),
    #[error("[privacy] {0} must be at least 1 day")]
    Days(String),
    #[error("[privacy.retention] batch must be 1 to 100000")]
    Batch,
    #[error(transparent)]
    Key(#[from] key::KeyError),
    #[error("{0}: phones must be \"hashed\" or \"clear\", not {1:?}")]
    Phones(&'static str, String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivacyFile {
    token_file: Option<std::path::PathBuf>,
    phones: Option<String>,
    #[serde(default)]
    retention: RetentionFile,
    #[serde(default)]
    sites: HashMap<String, DaysFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionFile {
    #[serde(flatten)]
    days: DaysFile,
    interval: Option<String>,
    batch: Option<i64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DaysFile {
    events_days: Option<i64>,
    chats_days: Option<i64>,
    first_text_days: Option<i64>,
    metrica_files_days: Option<i64>,
    diagnostics_days: Option<i64>,
}

impl Retention {
    /// The documented defaults (`docs/data-inventory.md` says why each is what it is).
    pub const DEFAULT: Retention = Retention {
        events_ms: 90 * DAY_MS,
        chats_ms: 400 * DAY_MS,
        // Matching reads the text once, on arrival; nothing reads it later. A week lets the
        // owner see why a chat went unmatched (a damaged code) before it is gone.
        first_text_ms: 7 * DAY_MS,
        metrica_files_ms: 30 * DAY_MS,
        diagnostics_ms: 30 * DAY_MS,
    };
}

fn days(value: Option<i64>, name: &str, base: i64) -> Result<i64, PrivacyError> {
    match value {
        None => Ok(base),
        Some(d) if (1..=36_500).contains(&d) => Ok(d * DAY_MS),
        Some(_) => Err(PrivacyError::Days(name.to_owned())),
    }
}

fn apply(f: &DaysFile, base: &Retention) -> Result<Retention, PrivacyError> {
    Ok(Retention {
        events_ms: days(f.events_days, "events_days", base.events_ms)?,
        chats_ms: days(f.chats_days, "chats_days", base.chats_ms)?,
        first_text_ms: days(f.first_text_days, "first_text_days", base.first_text_ms)?,
        metrica_files_ms: days(
            f.metrica_files_days,
            "metrica_files_days",
            base.metrica_files_ms,
        )?,
        diagnostics_ms: days(f.diagnostics_days, "diagnostics_days", base.diagnostics_ms)?,
    })
}

/// `[privacy]` resolved.
#[derive(Debug, Clone)]
pub struct PrivacySettings {
    pub token: Option<Secret>,
    pub policy: RetentionPolicy,
    pub interval: Duration,
    pub batch: i64,
    /// How phone numbers are kept (`[privacy] phones`, `CHATTAG_PHONES` wins).
    pub phones: phones::PhoneMode,
}

impl PrivacySettings {
    /// `env_token`: `CHATTAG_PRIVACY_TOKEN`, which wins over `token_file`.
    pub fn resolve(config: &Config, env: &Env) -> Result<Self, PrivacyError> {
        Self::from_table(&config.file, env)
    }

    /// From the whole TOML file (the commands read it without a server's [`Config`]).
    pub fn from_table(file: &toml::Table, env: &Env) -> Result<Self, PrivacyError> {
        let section: PrivacyFile = match file.get("privacy") {
            None => PrivacyFile::default(),
            Some(v) => {
                v.clone()
                    .try_into()
                    .map_err(|source| crate::config::ConfigError::Section {
                        section: "privacy".to_owned(),
                        source,
                    })?
            }
        };
        Self::from_file(section, env)
    }

    fn from_file(file: PrivacyFile, env: &Env) -> Result<Self, PrivacyError> {
        let env_token = env.token.clone();
        let token = match (env_token.filter(|t| !t.trim().is_empty()), &file.token_file) {
            (Some(t), _) => Some(Secret::new(&t)?),
            (None, Some(path)) => Some(Secret::from_file(path)?),
            (None, None) => None,
        };
        let default = apply(&file.retention.days, &Retention::DEFAULT)?;
        let sites = file
            .sites
            .iter()
            .map(|(site, d)| Ok((site.clone(), apply(d, &default)?)))
            .collect::<Result<_, PrivacyError>>()?;
        let interval = match &file.retention.interval {
            Some(s) => parse_duration(s)?,
            None => Duration::from_secs(3600),
        };
        let batch = file.retention.batch.unwrap_or(1000);
        if !(1..=100_000).contains(&batch) {
            return Err(PrivacyError::Batch);
        }
        let phones = match (&env.phones, &file.phones) {
            (Some(v), _) => phones::PhoneMode::parse(v)
                .ok_or_else(|| PrivacyError::Phones(phones::ENV, v.clone()))?,
            (None, Some(v)) => phones::PhoneMode::parse(v)
                .ok_or_else(|| PrivacyError::Phones("[privacy]", v.clone()))?,
            (None, None) => phones::PhoneMode::default(),
        };
        Ok(PrivacySettings {
            token,
            policy: RetentionPolicy { default, sites },
            interval: interval.max(Duration::from_millis(50)),
            batch,
            phones,
        })
    }

    pub fn from_env(config: &Config) -> Result<Self, PrivacyError> {
        Self::resolve(config, &Env::read())
    }
}

/// The environment variables of `[privacy]`, passed in so tests need not change the process's.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `CHATTAG_PRIVACY_TOKEN`: wins over `token_file`.
    pub token: Option<String>,
    /// `CHATTAG_PHONES`: wins over `phones`.
    pub phones: Option<String>,
}

impl Env {
    pub fn read() -> Env {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Env {
            token: var("CHATTAG_PRIVACY_TOKEN"),
            phones: var(phones::ENV),
        }
    }
}

impl phones::Phones {
    /// The phone handling the settings ask for, with the privacy key of `db` when hashed (next
    /// to a SQLite file, in a PostgreSQL database: [`key::PrivacyKey::for_store`]).
    pub fn load(
        settings: &PrivacySettings,
        db: &crate::store::database::Database,
        store: &dyn crate::store::Storage,
    ) -> Result<Self, PrivacyError> {
        Ok(match settings.phones {
            phones::PhoneMode::Clear => phones::Phones::Clear,
            phones::PhoneMode::Hashed => {
                phones::Phones::Hashed(key::PrivacyKey::for_store(db, store)?)
            }
        })
    }

    /// For a command: `[privacy]` of the TOML file at `config` (if any) and the environment.
    pub fn for_command(
        config: Option<&toml::Table>,
        db: &crate::store::database::Database,
        store: &dyn crate::store::Storage,
    ) -> Result<Self, PrivacyError> {
        let empty = toml::Table::new();
        let settings = PrivacySettings::from_table(config.unwrap_or(&empty), &Env::read())?;
        Self::load(&settings, db, store)
    }
}

/// Server start-up: checks `[privacy]` and the key, and starts expiry.
pub fn start(state: &crate::app::AppState) -> Result<(), PrivacyError> {
    let settings = PrivacySettings::from_env(&state.config)?;
    key::PrivacyKey::for_store(&state.config.db, state.store.as_ref())?;
    if settings.token.is_none() {
        tracing::info!("no privacy token: POST /v1/privacy/* is disabled (CHATTAG_PRIVACY_TOKEN or [privacy] token_file); the forget and export-person commands work");
    }
    expiry::spawn(state.clone(), settings);
    Ok(())
}

/// Why a request about one person could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Key(#[from] key::KeyError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn audit_entry(
    store: &dyn crate::store::Storage,
    db: &crate::store::database::Database,
    subject: subject::Subject,
    action: &'static str,
    via: &'static str,
) -> Result<(Whom, crate::store::privacy::AuditEntry), RequestError> {
    let key = key::PrivacyKey::for_store(db, store)?;
    let entry = crate::store::privacy::AuditEntry {
        at_ms: crate::clock::now_ms(),
        action,
        subject_kind: subject.kind(),
        subject_hash: key.hash(subject.kind(), subject.value()),
        via,
    };
    Ok((Whom { subject, key }, entry))
}

/// Deletes everything kept about the person; the audit keeps counts and a keyed hash.
pub async fn forget(
    store: &dyn crate::store::Storage,
    db: &crate::store::database::Database,
    subject: subject::Subject,
    via: &'static str,
) -> Result<crate::store::privacy::Forgotten, RequestError> {
    let (whom, entry) = audit_entry(store, db, subject, "forget", via)?;
    let done = store.forget(whom, entry).await?;
    tracing::info!(target: "privacy", removed = ?done.removed, via, "forgot a person's data");
    Ok(done)
}

/// Everything kept about the person, per table.
pub async fn export(
    store: &dyn crate::store::Storage,
    db: &crate::store::database::Database,
    subject: subject::Subject,
    via: &'static str,
) -> Result<crate::store::privacy::PersonData, RequestError> {
    let (whom, entry) = audit_entry(store, db, subject, "export", via)?;
    Ok(store.export_person(whom, entry).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PrivacySettings, PrivacyError> {
        let table: toml::Table = toml::from_str(text).unwrap();
        let file: PrivacyFile = toml::Value::Table(table)
            .get("privacy")
            .cloned()
            .map(|v| v.try_into().unwrap())
            .unwrap_or_default();
        PrivacySettings::from_file(file, &Env::default())
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = parse("").unwrap();
        assert_eq!(s.policy.default, Retention::DEFAULT);
        assert_eq!(s.policy.default.events_ms, 90 * DAY_MS);
        assert_eq!(s.policy.default.chats_ms, 400 * DAY_MS);
        assert_eq!(s.policy.default.first_text_ms, 7 * DAY_MS);
        assert_eq!(s.interval, Duration::from_secs(3600));
        assert!(s.token.is_none());
        assert_eq!(s.phones, phones::PhoneMode::Hashed);
    }

    #[test]
    fn phones_come_from_the_file_and_the_environment_wins() {
        let s = parse("[privacy]\nphones = \"clear\"\n").unwrap();
        assert_eq!(s.phones, phones::PhoneMode::Clear);
        let file = PrivacyFile {
            phones: Some("clear".into()),
            ..Default::default()
        };
        let env = Env {
            phones: Some("hashed".into()),
            ..Default::default()
        };
        let s = PrivacySettings::from_file(file, &env).unwrap();
        assert_eq!(s.phones, phones::PhoneMode::Hashed);
        assert!(matches!(
            parse("[privacy]\nphones = \"md5\"\n"),
            Err(PrivacyError::Phones(_, _))
        ));
    }

    #[test]
    fn a_site_overrides_some_days_and_inherits_the_rest_from_the_default() {
        let s = parse(
            "[privacy.retention]\nchats_days = 200\n[privacy.sites.\"shop.example\"]\nevents_days = 30\n",
        )
        .unwrap();
        let shop = s.policy.for_site(Some("shop.example"));
        assert_eq!(shop.events_ms, 30 * DAY_MS);
        assert_eq!(shop.chats_ms, 200 * DAY_MS);
        let other = s.policy.for_site(Some("other.example"));
        assert_eq!(other.events_ms, 90 * DAY_MS);
        assert_eq!(s.policy.shortest(|r| r.events_ms), 30 * DAY_MS);
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(matches!(
            parse("[privacy.retention]\nevents_days = 0\n"),
            Err(PrivacyError::Days(_))
        ));
        assert!(matches!(
            parse("[privacy.retention]\nbatch = 0\n"),
            Err(PrivacyError::Batch)
        ));
        assert!(matches!(
            parse("[privacy.retention]\ninterval = \"soon\"\n"),
            Err(PrivacyError::Interval(_))
        ));
    }
}
