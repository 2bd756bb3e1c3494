//! Storage of the privacy feature: one person's data found, exported and forgotten, and old
//! data expired in small batches ([`crate::privacy`] has the rules and the shell around them).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;
use crate::privacy::key::PrivacyKey;
use crate::privacy::subject::Subject;

/// Rows per table.
pub type Counts = BTreeMap<String, u64>;

/// Everything kept about one person: per table, its rows as JSON objects.
pub type PersonData = BTreeMap<String, Vec<serde_json::Value>>;

/// Whom a request is about: the identifier, and the privacy key phones may be stored hashed
/// with ([`crate::privacy::phones`]). A phone, and any phone-like value found on the way, is
/// searched in clear and hashed: a database may hold both (kept before phones were hashed).
#[derive(Debug, Clone)]
pub struct Whom {
    pub subject: Subject,
    pub key: PrivacyKey,
}

/// A request recorded in `privacy_audit`, without the identifier itself.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub action: &'static str,
    pub subject_kind: &'static str,
    pub subject_hash: String,
    pub via: &'static str,
}

/// What `forget` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Forgotten {
    /// Rows deleted per table (for `metrica_uploads`: CSV rows cut out of kept files).
    pub removed: Counts,
    /// The WAL was checkpointed and truncated afterwards, so deleted pages are gone from it.
    pub wal_truncated: bool,
    /// The ingest inbox's segment that held the person's raw events was closed and deleted
    /// (only the server owns the inbox: `false` from a command while the server runs).
    pub inbox_rotated: bool,
}

/// How long each kind of data is kept, in milliseconds (see `docs/data-inventory.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub events_ms: i64,
    pub chats_ms: i64,
    pub first_text_ms: i64,
    pub metrica_files_ms: i64,
    pub diagnostics_ms: i64,
}

impl Retention {
    /// Kept for diagnosis and de-duplication only: refused inbox records, ClientID conflicts,
    /// delivered message IDs, unreadable webhook items (`diagnostics_ms`); bot openings and
    /// unclaimed answers, which matching uses like events (`events_ms`). One statement each,
    /// deleting at most `limit` rows received before `cutoff`, written with the engine's
    /// placeholders for those two (`?1`/`?2` or `$1`/`$2`); both backends walk this one list.
    pub fn diagnostic_deletes(&self, now: i64, cutoff: &str, limit: &str) -> [(String, i64); 6] {
        let diag = now - self.diagnostics_ms;
        let events = now - self.events_ms;
        // `key`: the key column(s); a key of several columns is compared as a row value.
        let delete = |table: &str, key: &str, also: &str| {
            let row = if key.contains(',') {
                format!("({key})")
            } else {
                key.to_string()
            };
            format!(
                "DELETE FROM {table} WHERE {row} IN (SELECT {key} FROM {table} WHERE {also}received_at < {cutoff} LIMIT {limit})"
            )
        };
        [
            (delete("inbox_rejects", "seq", ""), diag),
            (delete("chat_conflicts", "event_id", ""), diag),
            (delete("inbound_seen", "platform, message_id", ""), diag),
            (delete("webhook_unreadable", "id", ""), diag),
            (delete("bot_opens", "id", ""), events),
            (delete("answers", "id", "conversation IS NULL AND "), events),
        ]
    }
}

/// The default retention and the sites that have their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub default: Retention,
    pub sites: HashMap<String, Retention>,
}

impl RetentionPolicy {
    pub fn for_site(&self, site: Option<&str>) -> &Retention {
        site.and_then(|s| self.sites.get(s))
            .unwrap_or(&self.default)
    }

    /// The shortest of one field over every site: rows newer than `now` minus it stay
    /// whatever their site.
    pub fn shortest(&self, field: impl Fn(&Retention) -> i64) -> i64 {
        self.sites
            .values()
            .map(&field)
            .fold(field(&self.default), i64::min)
    }

    /// The cut-offs of one field at `now`, grouped the way a range of rows is expired: one
    /// group per site with its own retention and one for every other site, so that a range
    /// is deleted with one statement per group instead of one per row.
    pub fn cutoffs(&self, now: i64, field: impl Fn(&Retention) -> i64) -> Cutoffs {
        let mut own: Vec<(String, i64)> = self
            .sites
            .iter()
            .map(|(site, r)| (site.clone(), now - field(r)))
            .collect();
        // A stable order, so that the same statements are prepared (and cached) each step.
        own.sort();
        Cutoffs {
            own,
            default: now - field(&self.default),
        }
    }
}

/// Rows older than these go: [`RetentionPolicy::cutoffs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cutoffs {
    /// Each site with its own retention and its cut-off.
    pub own: Vec<(String, i64)>,
    /// The cut-off of every site not in `own`.
    pub default: i64,
}

impl Cutoffs {
    /// The sites with their own retention (excluded from the default group).
    pub fn own_sites(&self) -> Vec<String> {
        self.own.iter().map(|(site, _)| site.clone()).collect()
    }
}

/// One kind of data expiry walks through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryTarget {
    Events,
    Clicks,
    Chats,
    Conversations,
    FirstText,
    MetricaFiles,
    Diagnostics,
}

impl ExpiryTarget {
    pub const ALL: [ExpiryTarget; 7] = [
        ExpiryTarget::Events,
        ExpiryTarget::Clicks,
        ExpiryTarget::Chats,
        ExpiryTarget::Conversations,
        ExpiryTarget::FirstText,
        ExpiryTarget::MetricaFiles,
        ExpiryTarget::Diagnostics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryTarget::Events => "events",
            ExpiryTarget::Clicks => "clicks",
            ExpiryTarget::Chats => "chats",
            ExpiryTarget::Conversations => "conversations",
            ExpiryTarget::FirstText => "first_text",
            ExpiryTarget::MetricaFiles => "metrica_files",
            ExpiryTarget::Diagnostics => "diagnostics",
        }
    }
}

/// A table that holds phones, for [`PrivacyStore::hash_phones_step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneTable {
    Conversations,
    Answers,
    BotOpens,
}

impl PhoneTable {
    pub const ALL: [PhoneTable; 3] = [
        PhoneTable::Conversations,
        PhoneTable::Answers,
        PhoneTable::BotOpens,
    ];
}

/// One bounded step of expiry: rows changed, and where the next step starts (`None`: this
/// target is done for this round).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryStep {
    pub rows: u64,
    pub next: Option<i64>,
    /// How long the step's own work took: inside the writer's job on SQLite (not the wait for
    /// it), its transaction on PostgreSQL. Expiry sizes the next step by it.
    pub took: Duration,
}

impl ExpiryStep {
    pub fn new(rows: u64, next: Option<i64>) -> ExpiryStep {
        ExpiryStep {
            rows,
            next,
            took: Duration::ZERO,
        }
    }

    /// A step of a walk in row ID order that looked at the rows up to `last`: the walk goes on
    /// after `last` only when the step saw a full window and its last row was not too new to
    /// expire. Rows are created in ID order, so past one too new every later row is too
    /// (without this stop, a walk behind busy ingest would never end).
    pub fn walked(rows: u64, full: bool, last: i64, too_new: bool) -> ExpiryStep {
        ExpiryStep::new(rows, (full && !too_new).then_some(last))
    }
}

/// Uploads not settled yet: what Metrica still needs is kept until it is (SQL shared by both
/// engines).
pub const IN_FLIGHT_UPLOADS: &str =
    "SELECT id FROM metrica_uploads WHERE state IN ('pending', 'failed')
     OR (state = 'sent' AND coalesce(status, '') NOT IN ('PROCESSED', 'LINKAGE_FAILURE'))";

/// The chat-expiry clause that keeps a chat while an upload carrying it is in flight.
pub fn held_chats() -> String {
    format!(
        " AND chat_id NOT IN (SELECT c.chat_id FROM metrica_sent s JOIN conversations c ON c.id = s.conversation
             WHERE c.chat_id IS NOT NULL AND s.upload IN ({IN_FLIGHT_UPLOADS}))"
    )
}

#[async_trait]
pub trait PrivacyStore: Send + Sync {
    /// Everything kept about the person `whom` identifies; recorded in the audit.
    async fn export_person(&self, whom: Whom, audit: AuditEntry) -> Result<PersonData, StoreError>;

    /// Deletes every row about the person (securely: freed content is zeroed) and records the
    /// request with its counts; then truncates the WAL.
    async fn forget(&self, whom: Whom, audit: AuditEntry) -> Result<Forgotten, StoreError>;

    /// One bounded step of expiry of `target`, starting after `after` (a row ID; 0 at first),
    /// examining at most `window` rows, in one short write job.
    async fn expire_step(
        &self,
        target: ExpiryTarget,
        policy: &RetentionPolicy,
        now_ms: i64,
        after: i64,
        window: i64,
    ) -> Result<ExpiryStep, StoreError>;

    /// One bounded step of hashing phones kept in clear from before phones were hashed (the
    /// shell hashes everything new before it is stored): rows of `table` after row ID `after`
    /// with a phone in clear, at most `window` of them, rewritten with
    /// [`crate::privacy::phones::hash_user`] and `hash_user_key` in one short write job. The
    /// search for such rows runs on a read connection, so a table without any costs the writer
    /// nothing.
    async fn hash_phones_step(
        &self,
        key: &PrivacyKey,
        table: PhoneTable,
        after: i64,
        window: i64,
    ) -> Result<ExpiryStep, StoreError>;

    /// The privacy key kept in the database itself, shared by every process on it; `None`:
    /// this backend keeps it in a file beside the database ([`crate::privacy::key`]).
    fn stored_privacy_key(&self) -> Option<&str> {
        None
    }
}

#[cfg(test)]
mod diagnostic_deletes_tests {
    use super::{ExpiryStep, Retention};

    #[test]
    fn a_walk_goes_on_only_after_a_full_window_of_rows_old_enough() {
        assert_eq!(ExpiryStep::walked(3, true, 40, false).next, Some(40));
        assert_eq!(ExpiryStep::walked(3, false, 40, false).next, None);
        assert_eq!(ExpiryStep::walked(3, true, 40, true).next, None);
        assert_eq!(ExpiryStep::walked(3, true, 40, false).rows, 3);
    }

    #[test]
    fn statements_keep_each_table_key_and_condition() {
        let r = Retention {
            events_ms: 10,
            chats_ms: 0,
            first_text_ms: 0,
            metrica_files_ms: 0,
            diagnostics_ms: 20,
        };
        let work = r.diagnostic_deletes(100, "?1", "?2");
        assert_eq!(
            work[2],
            (
                "DELETE FROM inbound_seen WHERE (platform, message_id) IN (SELECT platform, message_id FROM inbound_seen WHERE received_at < ?1 LIMIT ?2)".to_string(),
                80
            )
        );
        assert_eq!(
            work[5],
            (
                "DELETE FROM answers WHERE id IN (SELECT id FROM answers WHERE conversation IS NULL AND received_at < ?1 LIMIT ?2)".to_string(),
                90
            )
        );
        assert_eq!(
            r.diagnostic_deletes(100, "$1", "$2")[0].0,
            "DELETE FROM inbox_rejects WHERE seq IN (SELECT seq FROM inbox_rejects WHERE received_at < $1 LIMIT $2)"
        );
    }
}
