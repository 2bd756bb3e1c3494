//! Storage behind one interface.
//!
//! Every feature reaches storage through the traits below ([`EventStore`], [`ChatStore`],
//! [`MetricaStore`], [`ReportStore`]), gathered in [`Storage`]; the server holds an
//! `Arc<dyn Storage>` and the commands get one from [`open`]. A second backend (PostgreSQL, for
//! several collector instances) is an implementation of these traits and a line in [`open`],
//! nothing else. There are two: [`sqlite::SqliteStore`], the embedded default, and
//! [`postgres::PgStore`] for several instances on one database ([`database::Database`] says
//! which; [`migrations`] is the schema of both). SQLite:
//!
//! * ingest is answered once its events are fsynced to the inbox, an append-only log
//!   ([`sqlite::inbox`]), and applied to the tables from there in bulk; start-up re-applies what
//!   a killed process left, so an acknowledged event survives `kill -9`;
//! * one writer thread owns the only write connection and commits many jobs in one transaction
//!   (group commit, [`sqlite::writer`]); other writes are answered after COMMIT
//!   (`synchronous=FULL`);
//! * a small pool of read-only connections serves lookups concurrently (WAL readers never
//!   block the writer);
//! * the schema is the numbered `.sql` files of [`migrations`].
//!
//! This module names what is stored and asked, in the features' own types; it has no SQL.

pub mod chat_rules;
pub mod chat_sql;
pub mod columns;
pub mod copy;
pub mod database;
pub mod dialect;
pub mod history;
pub mod lease;
pub mod migrations;
pub mod model;
pub mod person;
pub mod postgres;
pub mod privacy;
pub mod read_sql;
pub mod report_sql;
pub mod sqlite;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chattag_core::event::Event;
use chattag_core::ChatId;

use crate::chats::inbound::Inbound;
use crate::chats::intake::ValidIntake;
use crate::chats::matching::MatchSettings;
use crate::chats::model::{Delivery, IntakeSource, Written};
use crate::metrica::conversions::{ConversionRow, LateRevenue};
use crate::metrica::export::WrittenRow;
use crate::metrica::rules::{Candidate, CandidateKey, CandidateQuery};
use crate::metrica::upload::Uploading;
use crate::metrica::uploads::{CounterSummary, PendingUpload, UploadState, UploadTotals};
use crate::metrics::StoreMetrics;
use crate::reports::data::{ChatRow, UnreadableRow};

pub use model::{
    ChatRecord, IngestOutcome, MappingCursor, MappingPage, MappingQuery, MappingSummary,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("migration {name} failed: {source}")]
    Migration {
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error("migration name {0} is listed twice")]
    DuplicateMigration(&'static str),
    #[error("cannot switch the database to WAL (got {0})")]
    NotWal(String),
    #[error("cannot start the {thread} thread: {source}")]
    Thread {
        thread: &'static str,
        source: std::io::Error,
    },
    #[error("commit failed: {0}")]
    CommitFailed(String),
    #[error("the writer's queue is full")]
    QueueFull,
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("a write job panicked; its changes were rolled back")]
    JobPanicked,
    #[error("the read pool is closed")]
    ReadPoolClosed,
    #[error("{0} is poisoned (a thread panicked while holding it)")]
    Poisoned(&'static str),
    #[error("inbox: {0}")]
    IngestRefused(IngestRefused),
    #[error("this process does not answer ingest (only the server does)")]
    NotServing,
    #[error("inbox: {} is held by another chattag-collector process; run one server per database", dir.display())]
    InboxHeld { dir: PathBuf },
    #[error("inbox: events left by the last server could not be applied")]
    LeftoversNotApplied,
    #[error("inbox: cannot {action} {}: {source}", path.display())]
    InboxIo {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("stored data is unreadable: {}: record {seq} is out of order", path.display())]
    OutOfOrder { path: PathBuf, seq: u64 },
    #[error("stored data is unreadable: {}: damaged record at byte {at} in a segment that is not the newest; move the file aside to start without it", path.display())]
    Damaged { path: PathBuf, at: usize },
    #[error("stored data is unreadable: event body: {0}")]
    StoredEvent(serde_json::Error),
    #[error("cannot serialise for storage: {0}")]
    Serialize(serde_json::Error),
    #[error("exported row for unknown conversation {0}")]
    UnknownConversation(i64),
    #[error("a chat without any chat-partner ID or external ID")]
    NoChatPartner,
    #[error(transparent)]
    Database(#[from] database::DatabaseError),
    #[error("postgres: {}", pg_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("postgres: {0}")]
    PgPool(#[from] deadpool_postgres::PoolError),
    #[error("postgres settings: {0}")]
    PgConfig(String),
    #[error("migration {name} failed: {}", pg_message(.source))]
    PgMigration {
        name: &'static str,
        source: tokio_postgres::Error,
    },
    #[error("{0} is not available on PostgreSQL yet")]
    NotYetOnPostgres(&'static str),
    #[error("counter {counter}: {chats} of the file's chats were reserved by another upload meanwhile; nothing was recorded, export again")]
    AlreadyReserved { counter: u64, chats: usize },
}

/// The server's own message when there is one (tokio-postgres' `Display` says only "db error").
fn pg_message(e: &tokio_postgres::Error) -> String {
    match (e.as_db_error(), std::error::Error::source(e)) {
        (Some(db), _) => format!("{} ({})", db.message(), db.code().code()),
        (None, Some(source)) => format!("{e}: {source}"),
        (None, None) => e.to_string(),
    }
}

/// Why the inbox refused a group of ingest requests; each request of the group gets a copy
/// (the underlying I/O and SQLite errors cannot be cloned, so their text is kept).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestRefused {
    #[error("the database writer has stopped; restart the server")]
    WriterStopped,
    #[error("the database is not keeping up; retry later")]
    Backlogged,
    #[error("cannot append: {0}")]
    AppendFailed(String),
    #[error("cannot check for duplicates: {0}")]
    DedupeFailed(String),
}

/// The event side of the collector: ingest the snippet's events, answer the read API.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores the events of one request for `site` atomically: all of them, or (on error) none.
    /// Returns once they are durable (in the inbox; the tables follow, and reads wait for
    /// them). Events whose `event_id` is already stored count as duplicates and change nothing.
    async fn ingest(
        &self,
        site: &str,
        events: Vec<Event>,
        received_at_ms: i64,
    ) -> Result<IngestOutcome, StoreError>;

    /// Everything known about one chat ID: one record per site that has it (or only `site`'s).
    async fn chat(
        &self,
        site: Option<&str>,
        chat_id: &ChatId,
    ) -> Result<Vec<ChatRecord>, StoreError>;

    /// Most recently seen chat IDs first, one page of them.
    async fn mappings(&self, query: MappingQuery) -> Result<MappingPage, StoreError>;

    /// Fails when the store cannot serve reads or the writer has stopped.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Events acknowledged but not yet applied to the tables (0 for a backend that applies
    /// them before answering).
    fn backlog(&self) -> usize;
}

/// The chat side: messenger deliveries and CRM reports, matched to visits as they are stored.
#[async_trait]
pub trait ChatStore: Send + Sync {
    /// Stores one webhook delivery's facts in one transaction; a conversation opened by it is
    /// matched in that same transaction (two deliveries cannot both open one).
    async fn record_delivery(
        &self,
        items: Vec<Inbound>,
        settings: MatchSettings,
    ) -> Result<Delivery, StoreError>;

    /// Stores validated intake records (`POST /v1/chats`, CSV import) in one transaction: each
    /// conversation's ID and, when it was new, how it was matched. Known messages are skipped.
    async fn record_intake(
        &self,
        valid: Vec<ValidIntake>,
        settings: MatchSettings,
        source: IntakeSource,
    ) -> Result<Vec<Written>, StoreError>;
}

/// The Metrica side: what to export, and what was sent to which counter.
///
/// Exports are streamed: candidates come a page at a time (keyset on `(started_at, id)`), and a
/// large export becomes several files of bounded size, each recorded by [`Self::create_upload`]
/// with the chats it reserves. Nothing here holds a whole export in memory.
#[async_trait]
pub trait MetricaStore: Send + Sync {
    /// One page of conversations started in `[from_ms, to_ms)`, ordered by `(started_at, id)`,
    /// after `query.after`, at most `query.limit` of them, with the visitor IDs of their chat ID.
    /// Without `include_sent`, chats already sent to `counter` are left out, and each candidate
    /// carries in [`Candidate::taken`] the `DateTime` seconds its visitor IDs already occupy on
    /// the counter in the nudge window (see [`CandidateQuery`]).
    async fn export_candidates(&self, query: CandidateQuery) -> Result<Vec<Candidate>, StoreError>;

    /// The key of the `query.limit`-th conversation after `query.after` in `[from_ms, to_ms)`,
    /// in export order, whether sent or not (an index range, no rows read): the end of the
    /// next segment of candidates, so the export reads segments in parallel. `None`: fewer
    /// remain.
    async fn candidate_bound(
        &self,
        query: CandidateQuery,
    ) -> Result<Option<CandidateKey>, StoreError>;

    /// The latest `DateTime` second in `counter`'s ledger, if any (an index lookup).
    async fn latest_sent_second(&self, counter: u64) -> Result<Option<i64>, StoreError>;

    /// A failed (or interrupted) upload of this counter to try again before anything new.
    async fn retry_candidate(&self, counter: u64) -> Result<Option<PendingUpload>, StoreError>;

    /// Records a new file (one part of an export, bounded in size) and reserves its chats for
    /// this counter, in one transaction: each row's chat with the `DateTime` and visitor IDs it
    /// was written with. `created_ms` is the file's creation time: with its ID it names the file
    /// in the comment it is sent with ([`crate::metrica::upload::file_key`]).
    async fn create_upload(
        &self,
        counter: u64,
        csv: String,
        rows: Vec<WrittenRow>,
        forced: bool,
        created_ms: i64,
    ) -> Result<i64, StoreError>;

    async fn mark_sent(&self, upload: i64, answer: Uploading) -> Result<(), StoreError>;

    async fn mark_status(&self, upload: i64, answer: Uploading) -> Result<(), StoreError>;

    /// Counts a failed attempt: the upload is `Failed` (retried) or, after
    /// [`crate::metrica::uploads::MAX_ATTEMPTS`], `Abandoned` (its chats released).
    async fn mark_failed(&self, upload: i64, error: String) -> Result<UploadState, StoreError>;

    /// Sent uploads whose Metrica status is not final yet: (upload, counter, Metrica's ID).
    async fn unfinished(&self, counter: u64) -> Result<Vec<(i64, u64, u64)>, StoreError>;

    /// Per counter: chats sent, uploads, last status (the report page).
    async fn upload_summaries(&self) -> Result<Vec<CounterSummary>, StoreError>;

    /// Upload totals for `/metrics`.
    async fn upload_totals(&self) -> Result<UploadTotals, StoreError>;

    /// Chats whose row reached `counter` and whose revenue has not been sent as an offline
    /// conversion yet, with the visitor IDs of that row: one page of at most `limit`, by
    /// conversation, after the conversation `after` (keyset), so many late facts are never
    /// held at once.
    async fn late_revenue(
        &self,
        counter: u64,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LateRevenue>, StoreError>;

    /// Records a file of offline conversions on `target` and its rows in the fact ledger, in one
    /// transaction.
    async fn create_conversion_upload(
        &self,
        counter: u64,
        target: String,
        csv: String,
        rows: Vec<ConversionRow>,
        created_ms: i64,
    ) -> Result<i64, StoreError>;

    /// Metrica refused `names` in `upload`: records the refusal for the counter and replaces the
    /// upload's file by `csv` (the same rows without those columns), in one transaction.
    async fn refuse_columns(
        &self,
        upload: i64,
        names: Vec<String>,
        message: String,
        csv: String,
    ) -> Result<(), StoreError>;

    /// Per messenger, over chats started in `[from_ms, to_ms)`: the counts behind the site's own
    /// precision estimate of probable matching ([`crate::metrica::probable`]), replaying the
    /// rule with `window_ms`.
    async fn probable_evidence(
        &self,
        from_ms: i64,
        to_ms: i64,
        window_ms: i64,
    ) -> Result<Vec<crate::metrica::probable::Evidence>, StoreError>;

    /// Columns Metrica refused for `counter`.
    async fn refused_columns(&self, counter: u64) -> Result<Vec<String>, StoreError>;
}

/// The report page's rows.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// One row per conversation started in `[from_ms, to_ms)`, newest first, joined with the
    /// visit its chat ID belongs to.
    async fn report_rows(&self, from_ms: i64, to_ms: i64) -> Result<Vec<ChatRow>, StoreError>;

    /// How many webhook items received in `[from_ms, to_ms)` were kept unread, and the latest
    /// `limit` of them.
    async fn unreadable(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> Result<(i64, Vec<UnreadableRow>), StoreError>;
}

/// Everything the app needs from storage.
pub trait Storage:
    EventStore + ChatStore + MetricaStore + ReportStore + privacy::PrivacyStore + lease::LeaseStore
{
}
impl<
        T: EventStore
            + ChatStore
            + MetricaStore
            + ReportStore
            + privacy::PrivacyStore
            + lease::LeaseStore,
    > Storage for T
{
}

/// Opens the storage `db` names (creating and migrating it). `serving`: this process answers
/// ingest (the server); commands pass `false`.
pub fn open(
    db: &database::Database,
    serving: bool,
    metrics: Arc<StoreMetrics>,
) -> Result<Arc<dyn Storage>, StoreError> {
    match db {
        database::Database::Sqlite(path) => {
            let options = if serving {
                sqlite::SqliteOptions::serving(path)
            } else {
                sqlite::SqliteOptions::new(path)
            };
            Ok(Arc::new(sqlite::SqliteStore::open(&options, metrics)?))
        }
        database::Database::Postgres(url) => Ok(Arc::new(postgres::PgStore::open(url, metrics)?)),
    }
}
