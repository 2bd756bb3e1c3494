//! Chats out: the Metrica chat-import CSV ([`columns`], [`export`]), the upload client
//! ([`upload`]) and the per-counter send rules and schedule ([`rules`]).

pub mod columns;
pub mod export;
pub mod rules;
pub mod upload;
