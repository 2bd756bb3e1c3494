//! The server's flags (`chattag-collector [serve]`); every one has a `CHATTAG_*` env twin.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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

    /// IPv6 clients are limited by this prefix (a /64 is one home or phone network).
    #[arg(long, env = "CHATTAG_RATE_LIMIT_IPV6_PREFIX", default_value_t = 64,
          value_parser = clap::value_parser!(u8).range(1..=128))]
    pub rate_limit_ipv6_prefix: u8,

    /// Take the client address from X-Forwarded-For (only behind your own proxy): the hop
    /// added by the outermost of --trusted-proxies proxies.
    #[arg(long, env = "CHATTAG_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// How many proxies of yours append to X-Forwarded-For (with --trust-forwarded-for).
    #[arg(long, env = "CHATTAG_TRUSTED_PROXIES", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..=16))]
    pub trusted_proxies: u8,

    /// The address browsers use, e.g. https://collect.example. With https the report session
    /// cookie is always `Secure`, whatever Host header a proxy passes on.
    #[arg(long, env = "CHATTAG_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Serve GET /metrics on this address only (not on --listen), e.g. 127.0.0.1:9187.
    #[arg(long, env = "CHATTAG_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// File holding a bearer token that GET /metrics then requires (the token itself may be
    /// given as CHATTAG_METRICS_TOKEN).
    #[arg(long, env = "CHATTAG_METRICS_TOKEN_FILE")]
    pub metrics_token_file: Option<PathBuf>,

    /// Time a client has to send a request's headers.
    #[arg(long, env = "CHATTAG_HEADER_TIMEOUT", default_value = "10s",
          value_parser = crate::durations::parse_duration)]
    pub header_timeout: Duration,

    /// Time a request may take from its headers to the answer (reading the body included).
    #[arg(long, env = "CHATTAG_REQUEST_TIMEOUT", default_value = "30s",
          value_parser = crate::durations::parse_duration)]
    pub request_timeout: Duration,

    /// A connection with no bytes in either direction for this long is closed (idle
    /// keep-alive, stalled bodies).
    #[arg(long, env = "CHATTAG_IDLE_TIMEOUT", default_value = "60s",
          value_parser = crate::durations::parse_duration)]
    pub idle_timeout: Duration,

    /// Open connections at most; more are closed as soon as they are accepted.
    #[arg(long, env = "CHATTAG_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Ingest answers 503 (Retry-After) while the database's volume has less free space.
    #[arg(long, env = "CHATTAG_MIN_FREE_MB", default_value_t = 256)]
    pub min_free_mb: u64,

    /// Most events stored per site per day from the browser (0: no quota).
    #[arg(long, env = "CHATTAG_SITE_DAILY_EVENTS", default_value_t = 1_000_000)]
    pub site_daily_events: u64,

    /// Most events stored per day from the browser, all sites together (0: no quota).
    #[arg(long, env = "CHATTAG_DAILY_EVENTS", default_value_t = 5_000_000)]
    pub daily_events: u64,

    /// With several collectors on one database, scheduled work (retention) moves to another
    /// instance this long after its holder stopped renewing its lease (see docs/postgresql.md).
    #[arg(long, env = "CHATTAG_LEASE_TTL", default_value = "30s",
          value_parser = crate::durations::parse_duration)]
    pub lease_ttl: Duration,

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
