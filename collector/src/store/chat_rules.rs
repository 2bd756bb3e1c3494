//! The rules of recording a chat that are not SQL, shared by both backends' `chats.rs`: which
//! evidence a message carries, where it comes from, and the time bounds of answers and bot
//! openings.

use crate::chats::inbound::InboundMessage;
use crate::chats::matching::{self, IdEvidence, MatchSettings, Method};
use crate::chats::model::{LaterFacts, CONVERSATION_GAP_MS};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A new conversation row, and how it was matched.
    Opened(i64, Method),
    /// An existing conversation got the message (and maybe a better match).
    Continued(i64),
    /// The platform delivered this message before (webhook retry).
    Duplicate,
}

/// What became of an answer.
pub enum Answer {
    /// The person's current conversation is answered.
    Applied,
    /// No conversation yet (the status overtook the message): kept until it opens.
    Pending,
}

/// Where a message comes from and what came with it.
#[derive(Clone, Debug)]
pub struct Provenance<'a> {
    /// `webhook`, `api` (POST /v1/chats) or `csv` (import).
    pub source: &'a str,
    /// The CRM's own ID of the chat: reports with the same one update it.
    pub external_id: Option<&'a str>,
    /// An ID the intake was given explicitly; otherwise it comes from the start parameter or text.
    pub evidence: Option<IdEvidence>,
    pub facts: &'a LaterFacts,
}

impl Provenance<'static> {
    pub fn webhook() -> Provenance<'static> {
        static NONE: LaterFacts = LaterFacts {
            answered: None,
            tag: None,
            revenue: None,
            currency: None,
            page_url: None,
            chat_url: None,
            messages: None,
        };
        Provenance {
            source: "webhook",
            external_id: None,
            evidence: None,
            facts: &NONE,
        }
    }
}

/// An answer can only be claimed within the conversation gap after its message; messengers
/// retry a delivery for up to a week (Meta: 7 days), well inside it.
pub const ANSWER_KEEP_MS: i64 = CONVERSATION_GAP_MS;

/// How far a bot opening may follow the message it belongs to (platform clocks agree; this
/// covers the order of two events in one second).
pub const BOT_OPEN_SKEW_MS: i64 = 60_000;

pub fn method_of(e: &IdEvidence) -> Method {
    match e {
        IdEvidence::Link(_) => Method::ExactLink,
        IdEvidence::Text(_) => Method::ExactText,
        _ => Method::Unmatched,
    }
}

/// The key a conversation is stored under: the person's, else the CRM's own chat ID.
pub fn user_key(msg: &InboundMessage, external_id: Option<&str>) -> Option<String> {
    msg.user
        .key()
        .or_else(|| external_id.map(|e| format!("ext:{e}")))
}

/// The message's evidence and start parameter. The person opened the bot from a tagged link
/// before writing (`opened`: that opening's start parameter): that link is the evidence, unless
/// the message carries an ID of its own (typed later, so more recent).
pub fn evidence(
    msg: &InboundMessage,
    given: Option<IdEvidence>,
    opened: Option<String>,
    settings: &MatchSettings,
) -> (IdEvidence, Option<String>) {
    let own = given.unwrap_or_else(|| {
        matching::id_evidence(
            msg.start_param.as_deref(),
            msg.text.as_deref(),
            &settings.prefixes,
        )
    });
    match (&own, &opened) {
        (IdEvidence::Link(_) | IdEvidence::Text(_), _) | (_, None) => {
            (own, msg.start_param.clone())
        }
        (_, Some(param)) => match matching::id_evidence(Some(param), None, &settings.prefixes) {
            link @ IdEvidence::Link(_) => (link, Some(param.clone())),
            _ => (own, msg.start_param.clone()),
        },
    }
}

/// The chat ID the evidence names, if any.
pub fn evidence_id(evidence: &IdEvidence) -> Option<String> {
    match evidence {
        IdEvidence::Link(id) | IdEvidence::Text(id) => Some(id.as_str().to_string()),
        _ => None,
    }
}

/// The chat ID a bot opening's start parameter names.
pub fn bot_open_chat_id(start_param: Option<&str>, settings: &MatchSettings) -> Option<String> {
    match matching::id_evidence(start_param, None, &settings.prefixes) {
        IdEvidence::Link(id) => Some(id.as_str().to_string()),
        _ => None,
    }
}
