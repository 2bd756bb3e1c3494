//! What the chat side stores and gets back, independent of the storage behind it.

use super::matching::Method;

/// Same as the snippet's default ID lifetime: a person who writes again after three weeks of
/// silence starts a new conversation.
pub const CONVERSATION_GAP_MS: i64 = 21 * 24 * 3600 * 1000;

/// Facts a CRM (generic intake, CSV import) may add or change after the chat started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LaterFacts {
    pub answered: Option<bool>,
    pub tag: Option<String>,
    pub revenue: Option<String>,
    pub currency: Option<String>,
    pub page_url: Option<String>,
    pub chat_url: Option<String>,
    /// The CRM's own message count, when it knows better than we do.
    pub messages: Option<u32>,
}

/// What one webhook delivery stored.
#[derive(Debug, Default)]
pub struct Delivery {
    pub opened: u32,
    pub continued: u32,
    pub duplicates: u32,
    pub answered: u32,
    /// Answers kept until their conversation opens (the status overtook the message).
    pub pending_answers: u32,
    /// The person opened the bot without writing (not a chat).
    pub bot_opens: u32,
    /// Items kept raw because the collector could not read them.
    pub unreadable: u32,
    /// How each opened conversation was matched.
    pub methods: Vec<Method>,
}

/// Where an intake record came from (stored as the conversation's `source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntakeSource {
    /// `POST /v1/chats`.
    Api,
    /// `chattag-collector import chats FILE.csv`.
    Csv,
}

impl IntakeSource {
    pub fn as_str(self) -> &'static str {
        match self {
            IntakeSource::Api => "api",
            IntakeSource::Csv => "csv",
        }
    }
}

/// One stored intake record: its conversation and, when it opened one, how it was matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    pub conversation: i64,
    pub opened: Option<Method>,
}
