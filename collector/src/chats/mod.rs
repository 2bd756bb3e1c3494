//! Chats in: messenger webhooks (Telegram, WhatsApp Cloud API, Viber, MAX), the generic intake
//! for other platforms and CRMs, and matching each chat to the visit that produced it.
//!
//! Flow: the webhook route ([`routes`]) has the messenger's module ([`messengers`]) verify the
//! sender and parse the payload into [`inbound::Inbound`] facts, and storage ([`crate::store::ChatStore`]) records
//! the conversation, deciding in the same transaction how it ties to a chat ID ([`matching`]).

pub mod cli;
pub mod config;
pub mod inbound;
pub mod intake;
pub mod matching;
pub mod messengers;
pub mod model;
pub mod routes;
pub mod settings;
pub mod signature;

pub use routes::routes;
