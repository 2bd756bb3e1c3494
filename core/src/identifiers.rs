//! Visitor identifiers: where each comes from, what a valid value looks like, and the caps that
//! keep hostile values (markup, control characters, 10 KB strings) out of links and reports.
//! Every value that enters the system goes through one of the `clean_*` functions here — in the
//! snippet before it is stored or sent, and again in the collector before it is written.

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Utm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// The identifiers the snippet knows about a visitor. Absent = unknown.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Identifiers {
    /// Metrica ClientID (`_ym_uid`): digits, kept as a string (it exceeds 2^53).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yclid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gclid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbclid: Option<String>,
    /// GA client id from `_ga` (`GA1.1.123.456` → `123.456`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ga_client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm: Option<Utm>,
}
