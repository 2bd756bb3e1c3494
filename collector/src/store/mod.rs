//! Storage behind one interface.
//!
//! Handlers talk to [`Storage`] (an `Arc<dyn Storage>` in the app state), never to SQLite
//! directly, so that a PostgreSQL implementation can serve deployments with several collector
//! instances. Today there is one implementation, [`sqlite::SqliteStore`]:
//!
//! * ingest is answered once its events are fsynced to the inbox, an append-only log
//!   ([`inbox`]), and applied to the tables from there in bulk; start-up re-applies what a
//!   killed process left, so an acknowledged event survives `kill -9`;
//! * one writer thread owns the only write connection and commits many jobs in one transaction
//!   (group commit, [`writer`]); other writes are answered after COMMIT (`synchronous=FULL`);
//! * a small pool of read-only connections serves lookups concurrently (WAL readers never
//!   block the writer).
//!
//! Other modules add their own storage trait (e.g. `chats::ChatStore`), implement it for
//! `SqliteStore` with [`sqlite::SqliteStore::write`] / [`sqlite::SqliteStore::read`], add it to
//! the supertraits of [`Storage`] below, and append their tables to [`migrations::all`].

pub mod inbox;
pub mod ingest;
pub mod migrations;
pub mod model;
pub mod queries;
pub mod sqlite;
pub mod writer;

use async_trait::async_trait;
use chattag_core::event::Event;
use chattag_core::ChatId;

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
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("a write job panicked; its changes were rolled back")]
    JobPanicked,
    #[error("the read pool is closed")]
    ReadPoolClosed,
    #[error("inbox: {0}")]
    Inbox(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
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
}

/// Everything the app needs from storage. Extension point: add `+ chats::ChatStore` etc. to
/// both the supertraits and the blanket impl.
pub trait Storage: EventStore {}
impl<T: EventStore> Storage for T {}
