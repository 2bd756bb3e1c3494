//! `--db`, shared by the server and every command that opens the database (its own module so
//! that feature commands can take it without importing the top-level command list).

use clap::Args;

use crate::store::database::{Database, DatabaseError, DATABASE_URL_ENV};

/// Where the database is when neither `--db` nor `CHATTAG_DATABASE_URL` says.
pub const DEFAULT_DB: &str = "./data/chattag.db";

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// SQLite database file (created with its directory on first start), or a PostgreSQL URL
    /// postgres://USER@HOST:PORT/DBNAME?sslmode=disable|prefer|require|verify-full (no
    /// password here: CHATTAG_DATABASE_URL, PGPASSWORD or PGPASSFILE) [default:
    /// ./data/chattag.db, or CHATTAG_DATABASE_URL when set]
    #[arg(long = "db", env = "CHATTAG_DB", value_name = "PATH|URL")]
    pub db: Option<String>,
}

impl DbArgs {
    /// The database these arguments and the environment select.
    pub fn database(&self) -> Result<Database, DatabaseError> {
        Database::select(
            self.db.as_deref(),
            std::env::var(DATABASE_URL_ENV).ok().as_deref(),
            DEFAULT_DB,
        )
    }
}
