//! `--db`, shared by the server and every command that opens the database (its own module so
//! that feature commands can take it without importing the top-level command list).

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// SQLite database file; created with its directory on first start.
    #[arg(long, env = "CHATTAG_DB", default_value = "./data/chattag.db")]
    pub db: PathBuf,
}
