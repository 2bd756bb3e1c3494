//! The generic intake: any chat platform or CRM that can call a URL (`POST /v1/chats`) or export
//! a CSV (`chattag-collector import chats FILE`) reports chats in one shape.
//!
//! ```json
//! {"platform":"whatsapp", "started_at":"2026-11-21T06:00:00Z",
//!  "chat_user_id":"79991234567", "username":"anna_k", "phone":"+7 999 123-45-67",
//!  "text":"first message (may carry the code)", "chat_id":"CT8F2A9KQZ",
//!  "answered":true, "tag":"sale", "revenue":"1250.50", "currency":"RUB",
//!  "page_url":"https://shop.example/p/1", "chat_url":"https://crm.example/chats/77",
//!  "external_id":"crm-77", "messages":4}
//! ```
//!
//! Only `platform` and one of `chat_user_id` / `username` / `phone` / `external_id` are
//! required. Posting again with the same `external_id` (or, without one, the same person within
//! the conversation gap) updates the chat: that is how "answered" and revenue arrive later.
//! CSV: the same names as header columns, RFC 4180 quoting.

use chattag_core::{find_chat_id, ChatId, Prefix};
use serde::Deserialize;

use super::inbound::{
    clean_opaque_id, clean_phone, clean_text, clean_username, ChatUser, InboundMessage, Platform,
    MAX_TEXT_CHARS,
};
use super::matching::IdEvidence;
use super::model::LaterFacts;
use crate::csv_format::{read_rows, CsvError};
use crate::dates::parse_rfc3339_ms;
use crate::metrica::export::MAX_TAG_CHARS;
use crate::money::{is_iso_4217, normalize_revenue};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeChat {
    pub platform: String,
    #[serde(default)]
    pub started_at: Option<TimeValue>,
    #[serde(default)]
    pub chat_user_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub chat_id: Option<String>,
    #[serde(default)]
    pub answered: Option<bool>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub revenue: Option<NumberOrString>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub page_url: Option<String>,
    #[serde(default)]
    pub chat_url: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub messages: Option<u32>,
}

/// Unix seconds, Unix milliseconds (≥ 10^11) or an RFC 3339 UTC string.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum TimeValue {
    Number(i64),
    Text(String),
}

#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum NumberOrString {
    Number(serde_json::Number),
    Text(String),
}

/// What is wrong with an intake record, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeError {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for IntakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn err(field: &'static str, message: impl Into<String>) -> IntakeError {
    IntakeError {
        field,
        message: message.into(),
    }
}

/// A validated intake record, ready for [`crate::store::ChatStore::record_intake`].
#[derive(Debug)]
pub struct ValidIntake {
    pub message: InboundMessage,
    pub evidence: Option<IdEvidence>,
    pub facts: LaterFacts,
    pub external_id: Option<String>,
}

fn time_ms(v: &TimeValue) -> Option<i64> {
    match v {
        // Seconds until year 5138; anything larger is milliseconds.
        TimeValue::Number(n) if *n > 0 && *n < 100_000_000_000 => Some(n * 1000),
        TimeValue::Number(n) if *n > 0 => Some(*n),
        TimeValue::Number(_) => None,
        TimeValue::Text(t) if t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty() => {
            time_ms(&TimeValue::Number(t.parse().ok()?))
        }
        TimeValue::Text(t) => parse_rfc3339_ms(t),
    }
}

fn http_url(field: &'static str, v: &str) -> Result<String, IntakeError> {
    let v = v.trim();
    let lower = v.to_ascii_lowercase();
    if v.len() > 2048
        || !(lower.starts_with("https://") || lower.starts_with("http://"))
        || v.chars().any(char::is_control)
    {
        return Err(err(
            field,
            "must be an http(s) URL of at most 2048 characters",
        ));
    }
    Ok(v.to_string())
}

fn opt(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl IntakeChat {
    pub fn validate(&self, prefixes: &[Prefix], now_ms: i64) -> Result<ValidIntake, IntakeError> {
        let platform = Platform::parse(&self.platform)
            .ok_or_else(|| err("platform", "1-32 characters of a-z 0-9 _"))?;
        let at_ms = match &self.started_at {
            None => now_ms,
            Some(t) => time_ms(t).ok_or_else(|| {
                err(
                    "started_at",
                    "Unix seconds, milliseconds or an RFC 3339 time",
                )
            })?,
        };
        // A start in the future cannot be exported (Metrica needs the past): refuse it early,
        // allowing 5 minutes of clock difference.
        if at_ms > now_ms + 5 * 60_000 {
            return Err(err("started_at", "is in the future"));
        }
        let user = ChatUser {
            user_id: match opt(&self.chat_user_id) {
                Some(v) => Some(
                    clean_opaque_id(v)
                        .ok_or_else(|| err("chat_user_id", "printable ASCII, at most 128"))?,
                ),
                None => None,
            },
            username: match opt(&self.username) {
                Some(v) => Some(
                    clean_username(v)
                        .ok_or_else(|| err("username", "letters, digits, _ and . (at most 64)"))?,
                ),
                None => None,
            },
            phone: match opt(&self.phone) {
                Some(v) => Some(
                    clean_phone(v)
                        .ok_or_else(|| err("phone", "5-15 digits (+, spaces, -, () allowed)"))?,
                ),
                None => None,
            },
            name: opt(&self.name).and_then(|n| clean_text(n, 128)),
        };
        let external_id = match opt(&self.external_id) {
            Some(v) => Some(
                clean_opaque_id(v)
                    .ok_or_else(|| err("external_id", "printable ASCII, at most 128"))?,
            ),
            None => None,
        };
        if user.key().is_none() && external_id.is_none() {
            return Err(err(
                "chat_user_id",
                "one of chat_user_id, username, phone or external_id is required",
            ));
        }
        let text = opt(&self.text).and_then(|t| clean_text(t, MAX_TEXT_CHARS));
        let evidence = match opt(&self.chat_id) {
            // An ID the CRM read from the deeplink: strict first, then tolerant (a CRM may pass
            // what the person typed). A wrong check character is refused, not guessed.
            Some(v) => {
                let id = ChatId::parse(v).ok().or_else(|| find_chat_id(v, prefixes));
                Some(IdEvidence::Link(id.ok_or_else(|| {
                    err("chat_id", "not a valid chat ID (check character)")
                })?))
            }
            None => None,
        };
        let tag = match opt(&self.tag) {
            Some(t) if t.chars().count() > MAX_TAG_CHARS => {
                return Err(err("tag", "at most 100 characters"))
            }
            Some(t) => clean_text(t, MAX_TAG_CHARS),
            None => None,
        };
        let revenue =
            match &self.revenue {
                None => None,
                Some(NumberOrString::Number(n)) => {
                    Some(normalize_revenue(&n.to_string()).ok_or_else(|| {
                        err("revenue", "a non-negative number with at most 2 decimals")
                    })?)
                }
                Some(NumberOrString::Text(t)) if t.trim().is_empty() => None,
                Some(NumberOrString::Text(t)) => Some(normalize_revenue(t).ok_or_else(|| {
                    err("revenue", "a non-negative number with at most 2 decimals")
                })?),
            };
        let currency = match opt(&self.currency) {
            Some(c) => {
                let c = c.to_ascii_uppercase();
                if !is_iso_4217(&c) {
                    return Err(err("currency", "an ISO 4217 code such as RUB, USD, EUR"));
                }
                Some(c)
            }
            None => None,
        };
        if revenue.is_some() && currency.is_none() {
            return Err(err("currency", "required with revenue"));
        }
        Ok(ValidIntake {
            message: InboundMessage {
                platform,
                user,
                at_ms,
                start_param: None,
                text,
                account: None,
                ad_click_id: None,
                message_id: None,
            },
            evidence,
            facts: LaterFacts {
                answered: self.answered,
                tag,
                revenue,
                currency,
                page_url: opt(&self.page_url)
                    .map(|u| http_url("page_url", u))
                    .transpose()?,
                chat_url: opt(&self.chat_url)
                    .map(|u| http_url("chat_url", u))
                    .transpose()?,
                messages: self.messages,
            },
            external_id,
        })
    }
}

/// Why one CSV row is not an intake record.
#[derive(Debug, thiserror::Error)]
pub enum CsvRowError {
    #[error("{fields} fields, header has {header}")]
    FieldCount { fields: usize, header: usize },
    #[error("answered: {0:?} is not 1/0/true/false")]
    Answered(String),
    #[error("messages: not a count")]
    Messages,
    #[error("{0}")]
    Record(#[from] serde_json::Error),
}

/// CSV rows (header first) → intake records, as JSON objects so the one validator applies.
pub fn csv_records(text: &str) -> Result<Vec<Result<IntakeChat, CsvRowError>>, CsvError> {
    let rows = read_rows(text)?;
    let Some((header, body)) = rows.split_first() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    Ok(body
        .iter()
        .map(|row| {
            if row.len() != header.len() {
                return Err(CsvRowError::FieldCount {
                    fields: row.len(),
                    header: header.len(),
                });
            }
            let mut obj = serde_json::Map::new();
            for (k, v) in header.iter().zip(row) {
                if v.trim().is_empty() {
                    continue;
                }
                let value = match k.as_str() {
                    "answered" => match v.trim().to_ascii_lowercase().as_str() {
                        "1" | "true" | "yes" => serde_json::Value::Bool(true),
                        "0" | "false" | "no" => serde_json::Value::Bool(false),
                        other => return Err(CsvRowError::Answered(other.to_owned())),
                    },
                    "messages" => serde_json::Value::from(
                        v.trim().parse::<u32>().map_err(|_| CsvRowError::Messages)?,
                    ),
                    _ => serde_json::Value::String(v.clone()),
                };
                obj.insert(k.clone(), value);
            }
            Ok(serde_json::from_value(serde_json::Value::Object(obj))?)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_763_800_000_000;

    #[test]
    fn times() {
        assert_eq!(
            time_ms(&TimeValue::Number(1_763_700_000)),
            Some(1_763_700_000_000)
        );
        assert_eq!(
            time_ms(&TimeValue::Number(1_763_700_000_123)),
            Some(1_763_700_000_123)
        );
    }

    #[test]
    fn validation_names_the_field() {
        let ok: IntakeChat = serde_json::from_str(
            r#"{"platform":"WhatsApp","started_at":1763700000,"phone":"+7 999 123-45-67","chat_id":"ct8f2a9kq3x",
                "answered":true,"revenue":1250.5,"currency":"rub","external_id":"crm-1"}"#,
        )
        .unwrap();
        let e = ok.validate(&[Prefix::DEFAULT], NOW).unwrap_err();
        assert_eq!(e.field, "chat_id");
        let mut fixed = ok;
        fixed.chat_id = None;
        let v = fixed.validate(&[Prefix::DEFAULT], NOW).unwrap();
        assert_eq!(v.message.user.phone.as_deref(), Some("79991234567"));
        assert_eq!(v.facts.revenue.as_deref(), Some("1250.5"));
        assert_eq!(v.facts.currency.as_deref(), Some("RUB"));
        for (json, field) in [
            (r#"{"platform":"vk"}"#, "chat_user_id"),
            (r#"{"platform":"vk","phone":"x"}"#, "phone"),
            (
                r#"{"platform":"vk","username":"a","revenue":"10"}"#,
                "currency",
            ),
            (
                r#"{"platform":"vk","username":"a","revenue":"1e5","currency":"RUB"}"#,
                "revenue",
            ),
            (
                r#"{"platform":"vk","username":"a","started_at":"2099-01-01T00:00:00Z"}"#,
                "started_at",
            ),
            (
                r#"{"platform":"vk","username":"a","page_url":"javascript:alert(1)"}"#,
                "page_url",
            ),
        ] {
            let c: IntakeChat = serde_json::from_str(json).unwrap();
            assert_eq!(
                c.validate(&[Prefix::DEFAULT], NOW).unwrap_err().field,
                field,
                "{json}"
            );
        }
    }

    #[test]
    fn csv() {
        let text = "platform,phone,text,answered,revenue,currency\r\nwhatsapp,79991234567,\"Hi, \"\"code\"\"\nCT1\",1,\"10,5\",RUB\nviber,,x,maybe,,\n";
        let recs = csv_records(text).unwrap();
        assert_eq!(recs.len(), 2);
        let first = recs[0].as_ref().unwrap();
        assert_eq!(first.text.as_deref(), Some("Hi, \"code\"\nCT1"));
        assert_eq!(first.answered, Some(true));
        assert!(recs[1].is_err());
        assert!(read_rows("a,\"b\n").is_err());
    }
}
