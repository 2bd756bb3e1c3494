//! Chats in: messenger webhooks (Telegram, WhatsApp Cloud API, Viber, MAX), the generic intake
//! for other platforms and CRMs, and matching each chat to the visit that produced it.
//!
//! Flow: a webhook route verifies the sender ([`signature`]), its platform module parses the
//! payload into [`inbound::Inbound`] facts, [`matching`] decides how the chat ties to a chat ID,
//! and the store records the conversation.

pub mod inbound;
pub mod matching;
pub mod max;
pub mod signature;
pub mod telegram;
pub mod viber;
pub mod whatsapp;
