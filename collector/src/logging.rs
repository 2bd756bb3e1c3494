//! Structured logs on stderr (stdout carries only the "listening on" line).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::serve::LogFormat;

pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in files or the journal.
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests embedding the app) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
