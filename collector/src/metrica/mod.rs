//! Chats out: the Metrica chat-import CSV ([`columns`], [`export`]), the upload client
//! ([`upload`]), the per-counter send rules and schedule ([`rules`]), what was sent ([`uploads`], stored through [`crate::store::MetricaStore`]),
//! the `export metrica` / `upload metrica` commands ([`cli`]), and their totals on `/metrics`
//! ([`upload_metrics`]).

pub mod cli;
pub mod columns;
pub mod conversions;
pub mod export;
pub mod probable;
pub mod refusal;
pub mod rules;
pub mod stream;
pub mod upload;
pub mod upload_metrics;
pub mod uploads;
