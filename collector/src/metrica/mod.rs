//! Chats out: the Metrica chat-import CSV ([`columns`], [`export`]), the upload client
//! ([`upload`]), the per-counter send rules and schedule ([`rules`]), what was sent ([`store`]),
//! and the `export metrica` / `upload metrica` commands ([`cli`]).

pub mod cli;
pub mod columns;
pub mod export;
pub mod rules;
pub mod store;
pub mod upload;
