//! Command line: `chattag-collector [serve] [flags]`; every flag has a `CHATTAG_*` env twin.
//!
//! Extension point: other modules add a subcommand variant to [`Command`] with their own
//! `clap::Args` struct, and (for serve-time settings) `#[command(flatten)]` their args into
//! [`ServeArgs`].

use clap::{Parser, Subcommand};

pub mod db;
pub mod db_copy;
pub mod error;
pub mod serve;
pub use db::DbArgs;
pub use error::CommandError;
pub use serve::{LogFormat, ServeArgs};

/// Every environment variable the collector reads, including those that are no flag's twin
/// (secrets are given only this way or in a file, never on the command line). A test checks
/// that each `CHATTAG_*` name in the source is listed here.
const ENVIRONMENT: &str = "\
Environment (each flag above also has its CHATTAG_* twin, shown with it):
  Server:     CHATTAG_LISTEN, CHATTAG_DB, CHATTAG_CONFIG, CHATTAG_ALLOWED_ORIGINS,
              CHATTAG_RATE_LIMIT, CHATTAG_RATE_BURST, CHATTAG_TRUST_FORWARDED_FOR,
              CHATTAG_LOG, CHATTAG_LOG_FORMAT
  Database:   CHATTAG_DB (a file, or a postgres:// URL without a password),
              CHATTAG_DATABASE_URL (a postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=… URL;
              used when --db and CHATTAG_DB are not given), PGPASSWORD, PGPASSFILE, PGUSER
  Read API and report page:
              CHATTAG_READ_TOKEN (the token itself), CHATTAG_READ_TOKEN_FILE
  Chat webhooks (a messenger without its secret answers 503; see docs/chats-setup.md):
              CHATTAG_TELEGRAM_SECRET      secret_token given to Telegram's setWebhook
              CHATTAG_WHATSAPP_APP_SECRET  Meta app secret (checks X-Hub-Signature-256)
              CHATTAG_WHATSAPP_VERIFY_TOKEN  verify token of the webhook subscription
              CHATTAG_VIBER_AUTH_TOKEN     the Viber bot's auth token (checks the signature)
              CHATTAG_MAX_SECRET           secret given to MAX's POST /subscriptions
              CHATTAG_INTAKE_TOKEN         bearer token of POST /v1/chats (CRM intake)
  Personal data (see docs/data-inventory.md):
              CHATTAG_PRIVACY_TOKEN        bearer token of POST /v1/privacy/{forget,export}
              CHATTAG_PHONES               hashed (default): phone numbers kept only as a keyed
                                           hash, no PhoneNumber sent to Metrica; clear: as given
  Metrica (export / upload metrica):
              CHATTAG_COUNTERS_FILE, CHATTAG_METRICA_TOKEN (OAuth token),
              CHATTAG_METRICA_TOKEN_FILE, CHATTAG_METRICA_API
";

#[derive(Debug, Parser)]
#[command(
    name = "chattag-collector",
    version,
    about = "chattag collector: stores the snippet's chat-ID mappings; matches chats; exports to Yandex Metrica"
)]
#[command(args_conflicts_with_subcommands = true, after_help = ENVIRONMENT)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags for `serve`, which runs when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve(ServeArgs),
    /// Create or migrate the database, then exit.
    Migrate(DbArgs),
    /// Database tools: `db copy` moves a SQLite database into PostgreSQL.
    #[command(subcommand)]
    Db(db_copy::DbCommand),
    /// Export data: `export metrica` writes Metrica's chat-import CSV.
    #[command(subcommand)]
    Export(crate::metrica::cli::ExportTarget),
    /// Upload data: `upload metrica` sends new chats to Metrica's chat import.
    #[command(subcommand)]
    Upload(crate::metrica::cli::UploadTarget),
    /// Import data: `import chats FILE.csv` from a CRM or chat platform.
    #[command(subcommand)]
    Import(crate::chats::cli::ImportSource),
    /// Delete everything kept about one person (by phone, user ID, username, chat ID or ClientID);
    /// over HTTP: POST /v1/privacy/forget with the token in CHATTAG_PRIVACY_TOKEN.
    Forget(crate::privacy::cli::PersonArgs),
    /// Print everything kept about one person as JSON.
    ExportPerson(crate::privacy::cli::PersonArgs),
}
