//! chattag collector: receives the snippet's events (chat ID ↔ visitor IDs), stores them in
//! SQLite, serves them to the site owner. See README.md for the extension points.

pub mod app;
pub mod auth;
pub mod chats;
pub mod cli;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod cors;
pub mod csv_format;
pub mod dates;
pub mod disk;
pub mod durations;
pub mod error;
pub mod http_server;
pub mod ingest;
pub mod logging;
pub mod metrica;
pub mod metrics;
pub mod money;
pub mod privacy;
pub mod ratelimit;
pub mod read_api;
pub mod reports;
pub mod scheduled;
pub mod secret;
pub mod signing;
pub mod store;
