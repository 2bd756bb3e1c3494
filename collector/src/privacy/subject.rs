//! Whose data a request is about: one identifier a person can be found by.

use chattag_core::ChatId;
use serde::{Deserialize, Serialize};

/// One identifier of a person, normalised the way the collector stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Subject {
    /// International digits, without `+`, spaces or dashes (as WhatsApp and the intake store them).
    Phone(String),
    /// A messenger's user ID (Telegram user ID, WhatsApp ID, Viber ID, MAX user ID).
    UserId(String),
    /// A messenger username, without `@`; compared without case.
    Username(String),
    /// A chattag chat ID.
    ChatId(String),
    /// A Yandex Metrica ClientID.
    ClientId(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("unknown identifier kind {0:?} (phone, user_id, username, chat_id, client_id)")]
    UnknownKind(String),
    #[error("empty {0}")]
    Empty(&'static str),
    #[error("a phone number needs 7 to 15 digits")]
    Phone,
    #[error("{0}")]
    ChatId(String),
    #[error("a ClientID is digits only")]
    ClientId,
    #[error("too long (over 256 characters)")]
    TooLong,
}

impl Subject {
    pub const KINDS: &'static [&'static str] =
        &["phone", "user_id", "username", "chat_id", "client_id"];

    /// `kind` is one of [`Subject::KINDS`]; `value` as a person or a CRM would write it.
    pub fn parse(kind: &str, value: &str) -> Result<Subject, SubjectError> {
        let value = value.trim();
        if value.chars().count() > 256 {
            return Err(SubjectError::TooLong);
        }
        match kind {
            "phone" => {
                let digits: String = value.chars().filter(char::is_ascii_digit).collect();
                let only_phone_chars = value
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c));
                if !only_phone_chars || !(7..=15).contains(&digits.len()) {
                    return Err(SubjectError::Phone);
                }
                Ok(Subject::Phone(digits))
            }
            "user_id" => non_empty(value, "user ID").map(Subject::UserId),
            "username" => {
                non_empty(value.trim_start_matches('@'), "username").map(Subject::Username)
            }
            "chat_id" => ChatId::parse(value)
                .map(|id| Subject::ChatId(id.into_string()))
                .map_err(|e| SubjectError::ChatId(e.to_string())),
            "client_id" => {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(SubjectError::ClientId);
                }
                Ok(Subject::ClientId(value.to_owned()))
            }
            other => Err(SubjectError::UnknownKind(other.to_owned())),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Phone(_) => "phone",
            Subject::UserId(_) => "user_id",
            Subject::Username(_) => "username",
            Subject::ChatId(_) => "chat_id",
            Subject::ClientId(_) => "client_id",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Subject::Phone(v)
            | Subject::UserId(v)
            | Subject::Username(v)
            | Subject::ChatId(v)
            | Subject::ClientId(v) => v,
        }
    }
}

fn non_empty(value: &str, what: &'static str) -> Result<String, SubjectError> {
    if value.is_empty() {
        Err(SubjectError::Empty(what))
    } else {
        Ok(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_kept_as_digits() {
        assert_eq!(
            Subject::parse("phone", "+7 (916) 123-45-67"),
            Ok(Subject::Phone("79161234567".into()))
        );
        assert_eq!(Subject::parse("phone", "12"), Err(SubjectError::Phone));
        assert_eq!(
            Subject::parse("phone", "7916abc4567"),
            Err(SubjectError::Phone)
        );
    }

    #[test]
    fn usernames_lose_the_at_sign_and_kinds_are_checked() {
        assert_eq!(
            Subject::parse("username", "@anna"),
            Ok(Subject::Username("anna".into()))
        );
        assert_eq!(
            Subject::parse("username", "@"),
            Err(SubjectError::Empty("username"))
        );
        assert!(matches!(
            Subject::parse("email", "a@b"),
            Err(SubjectError::UnknownKind(_))
        ));
        assert_eq!(
            Subject::parse("client_id", "17x"),
            Err(SubjectError::ClientId)
        );
        assert!(matches!(
            Subject::parse("chat_id", "nope"),
            Err(SubjectError::ChatId(_))
        ));
    }
}
