//! `chattag-collector import chats FILE.csv`: the generic intake from a CSV export (a CRM, a chat
//! platform without webhooks). Same columns and rules as `POST /v1/chats`. The whole file is
//! validated first and stored in one transaction: all rows or (with any invalid row) none,
//! unless `--skip-invalid`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};

use super::config::{ChatsConfig, ChatsFile};
use super::intake::csv_records;
use super::model::IntakeSource;
use crate::cli::db::DbArgs;
use crate::cli::error::CommandError;
use crate::clock::now_ms;
use crate::metrics::StoreMetrics;

#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// Import chats from a CSV file (header: platform, started_at, chat_user_id, username, phone,
    /// text, chat_id, answered, tag, revenue, currency, page_url, chat_url, external_id, messages).
    Chats(ImportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// The CSV file (UTF-8, first row = column names).
    pub file: PathBuf,

    /// Config file whose [chats] table names the chat ID prefixes (default CT).
    #[arg(long, env = "CHATTAG_CONFIG")]
    pub config: Option<PathBuf>,

    /// Store the valid rows and report the invalid ones, instead of refusing the file.
    #[arg(long)]
    pub skip_invalid: bool,
}

pub fn import(source: ImportSource) -> Result<(), CommandError> {
    let ImportSource::Chats(args) = source;
    let mut table: Option<toml::Table> = None;
    let file: Option<ChatsFile> = match &args.config {
        Some(path) => {
            let path_text = || path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| CommandError::Read {
                path: path_text(),
                source,
            })?;
            let toml_error = |source| CommandError::Toml {
                path: path_text(),
                source,
            };
            let parsed: toml::Table = toml::from_str(&text).map_err(toml_error)?;
            let chats = match parsed.get("chats") {
                Some(v) => Some(v.clone().try_into().map_err(toml_error)?),
                None => None,
            };
            table = Some(parsed);
            chats
        }
        None => None,
    };
    let settings = ChatsConfig::resolve(file, &|_| None)?.matching;
    let csv_path = || args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file).map_err(|source| CommandError::Read {
        path: csv_path(),
        source,
    })?;
    let records = csv_records(&text).map_err(|source| CommandError::Csv {
        path: csv_path(),
        source,
    })?;
    let now = now_ms();
    let mut valid = Vec::new();
    let mut invalid = 0;
    for (i, rec) in records.into_iter().enumerate() {
        // Line numbers as a spreadsheet shows them: the header is line 1.
        let line = i + 2;
        let problem = match rec {
            Ok(r) => match r.validate(&settings.prefixes, now) {
                Ok(v) => {
                    valid.push(v);
                    continue;
                }
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        invalid += 1;
        eprintln!("{}:{line}: {problem}", csv_path());
    }
    if invalid > 0 && !args.skip_invalid {
        return Err(CommandError::Refused(format!(
            "{invalid} invalid row(s); nothing imported (use --skip-invalid to import the rest)"
        )));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let db = args.db.database()?;
    let store = crate::store::open(&db, false, Arc::new(StoreMetrics::default()))?;
    // Phones hashed as the server would (the same `[privacy]` and the database's key).
    crate::privacy::phones::Phones::for_command(table.as_ref(), &db, store.as_ref())
        .map_err(|e| CommandError::Refused(e.to_string()))?
        .protect_intake(&mut valid);
    let total = valid.len();
    let ids = rt.block_on(store.record_intake(valid, settings, IntakeSource::Csv))?;
    let opened = ids.iter().filter(|w| w.opened.is_some()).count();
    println!(
        "imported {total} row(s): {opened} new chat(s), {} update(s); {invalid} skipped",
        ids.len() - opened
    );
    Ok(())
}
