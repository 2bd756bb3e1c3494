//! The collector's integration tests, in one test binary: each module starts the real
//! `chattag-collector` on loopback (SQLite, or PostgreSQL when `CHATTAG_TEST_POSTGRES` is set)
//! and talks to it over HTTP and its command line. One binary, not one per file, because each
//! test binary links the whole collector: as 33 binaries they took 1.25 GB more of target/ and
//! a minute more of `npm test` on a clean clone. One module's tests:
//! `cargo test -p chattag-collector --test integration -- db_copy::`.

mod common;
mod support;

mod chats_collision;
mod chats_continuity;
mod chats_e2e;
mod chats_metrics;
mod chats_webhooks;
mod config_errors;
mod cors;
mod db_copy;
mod disk_space;
mod docs_examples;
mod event_times;
mod help_environment;
mod http_edge;
mod inbox;
mod ingest_dedupe;
mod ingest_durability;
mod ingest_validation;
mod matching_rules;
mod metrica_later_facts;
mod metrica_stream;
mod metrica_upload;
mod multi_instance;
mod postgres_instances;
mod privacy_forget;
mod privacy_phones;
mod privacy_retention;
mod rate_limit;
mod read_api;
mod readme;
mod reports_page;
mod retention_sites;
mod scheduled_lease;
mod webhook_corpus;
