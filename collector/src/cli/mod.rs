//! Command line: `chattag-collector [serve] [flags]`; every flag has a `CHATTAG_*` env twin.
//!
//! Extension point: other modules add a subcommand variant to [`Command`] with their own
//! `clap::Args` struct, and (for serve-time settings) `#[command(flatten)]` their args into
//! [`ServeArgs`].

use clap::{Parser, Subcommand};

pub mod db;
pub mod error;
pub mod serve;
pub use db::DbArgs;
pub use error::CommandError;
pub use serve::{LogFormat, ServeArgs};

#[derive(Debug, Parser)]
#[command(
    name = "chattag-collector",
    version,
    about = "chattag collector: stores the snippet's chat-ID mappings; matches chats; exports to Yandex Metrica"
)]
#[command(args_conflicts_with_subcommands = true)]
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
