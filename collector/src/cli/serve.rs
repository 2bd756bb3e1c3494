//! The server's flags (`chattag-collector [serve]`); every one has a `CHATTAG_*` env twin.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::db::DbArgs;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CHATTAG_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub db: DbArgs,

    /// Optional TOML file: [[sites]] with their origins, and settings of other modules.
    #[arg(long, env = "CHATTAG_CONFIG")]
    pub config: Option<PathBuf>,

    /// A site origin allowed to send events, e.g. https://shop.example (repeatable; the env
    /// variable takes a comma-separated list). The site ID is the host without "www.".
    #[arg(
        long = "allowed-origin",
        env = "CHATTAG_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// File holding the bearer token of the read API. The token itself may be given only as
    /// the CHATTAG_READ_TOKEN environment variable, never on the command line.
    #[arg(long, env = "CHATTAG_READ_TOKEN_FILE")]
    pub read_token_file: Option<PathBuf>,

    /// Requests per second allowed per client address (0 disables).
    #[arg(long, env = "CHATTAG_RATE_LIMIT", default_value_t = 20)]
    pub rate_limit: u32,

    /// Requests a client address may make in a burst above --rate-limit (default: 3× the rate).
    #[arg(long, env = "CHATTAG_RATE_BURST")]
    pub rate_burst: Option<u32>,

    /// Take the client address from the last X-Forwarded-For hop (only behind your own proxy).
    #[arg(long, env = "CHATTAG_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// Log format.
    #[arg(long, env = "CHATTAG_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter (tracing EnvFilter syntax), e.g. "info" or "chattag_collector=debug".
    #[arg(long, env = "CHATTAG_LOG", default_value = "info")]
    pub log: String,

    /// Benchmark only: adds POST /bench/bare, which reads the body and answers like ingest
    /// without parsing or storing, to measure the HTTP stack alone.
    #[arg(long, hide = true)]
    pub bench_bare: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}
