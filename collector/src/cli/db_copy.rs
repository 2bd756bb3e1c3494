//! `chattag-collector db copy --from ./data/chattag.db --to postgres://user@host/db`: moving
//! a SQLite database into PostgreSQL ([`crate::store::copy`]; the steps in
//! docs/postgresql.md). The password never goes on the command line: `PGPASSWORD`,
//! `PGPASSFILE`, or the whole URL in `CHATTAG_DATABASE_URL` (then `--to` may be left out).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::error::CommandError;
use crate::store::copy::{copy, CopyOptions};
use crate::store::database::{Database, DATABASE_URL_ENV};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy a SQLite database (events still in its inbox included) into an empty PostgreSQL
    /// database, then compare counts and a sample of rows. Stop the SQLite server first.
    Copy(CopyArgs),
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The SQLite database file to copy (its server stopped).
    #[arg(long)]
    pub from: PathBuf,

    /// The PostgreSQL database, postgres://USER@HOST:PORT/DBNAME?sslmode=…, without a password
    /// (PGPASSWORD, PGPASSFILE); default: CHATTAG_DATABASE_URL.
    #[arg(long)]
    pub to: Option<String>,

    /// Rows between two progress lines.
    #[arg(long, default_value_t = 100_000)]
    pub batch: u64,

    /// Rows per table compared column by column after the copy.
    #[arg(long, default_value_t = 200)]
    pub sample: usize,
}

pub fn run(command: DbCommand) -> Result<(), CommandError> {
    let DbCommand::Copy(args) = command;
    if Database::parse(&args.from.to_string_lossy()).is_postgres() {
        return Err(CommandError::Refused(
            "--from is the SQLite file to copy; the PostgreSQL URL goes in --to".into(),
        ));
    }
    let env_url = std::env::var(DATABASE_URL_ENV).ok();
    let to = match Database::select(args.to.as_deref(), env_url.as_deref(), "")
        .map_err(crate::store::StoreError::from)?
    {
        Database::Postgres(url) => url,
        Database::Sqlite(_) => {
            return Err(CommandError::Refused(format!(
                "--to (or {DATABASE_URL_ENV}) must be a postgres:// URL"
            )))
        }
    };
    let options = CopyOptions {
        batch: args.batch,
        sample: args.sample,
    };
    copy(&args.from, &to, &options, &mut std::io::stdout().lock())
        .map_err(|e| CommandError::Refused(format!("db copy: {e}")))?;
    Ok(())
}
