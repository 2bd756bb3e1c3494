//! The SQLite implementation of [`Storage`](super::Storage): WAL, `synchronous=FULL`, one
//! group-committing writer thread, a small pool of read-only connections, and (in the server)
//! the inbox that ingest answers from ([`inbox`]). Each feature's storage trait is implemented
//! in the module of its name.

/// Conversations `c` joined with the visit `m` (the `chats` row) of their chat ID: on the
/// conversation's site, else on the site most recently active with that ID. One definition, so
/// that the report and the Metrica export tie each chat to the same visit. (Declared before
/// the modules that use it: `macro_rules!` are in scope textually.)
macro_rules! conversations_with_visit {
    () => {
        " FROM conversations c
         LEFT JOIN chats m ON m.chat_id = c.chat_id AND m.site = coalesce(c.site,
              (SELECT x.site FROM chats x WHERE x.chat_id = c.chat_id ORDER BY x.last_seen DESC LIMIT 1))
         "
    };
}

mod chats;
pub mod inbox;
pub mod ingest;
mod lease;
mod metrica;
pub mod migrations;
mod privacy;
pub mod queries;
mod reports;
mod retention;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chattag_core::event::Event;
use chattag_core::ChatId;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::metrics::StoreMetrics;
use crate::store::model::{ChatRecord, IngestOutcome, MappingPage, MappingQuery};
use crate::store::{EventStore, StoreError};
use inbox::Inbox;
use writer::WriterHandle;

/// Readers wait this long for a lock (only schema changes and checkpoints take one in WAL).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct SqliteOptions {
    pub path: PathBuf,
    /// Most requests committed in one transaction.
    pub max_jobs_per_commit: usize,
    /// Requests waiting for the writer before new ones wait to be queued (backpressure).
    pub queue_len: usize,
    pub readers: usize,
    /// This process answers ingest and so owns the inbox (the server). Tools (export, upload,
    /// import, migrate) do not: they apply what a stopped server left in it and let go.
    pub owns_inbox: bool,
    /// Events acknowledged but not yet applied before ingest waits for the database.
    pub max_backlog: usize,
}

impl SqliteOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            path: path.into(),
            max_jobs_per_commit: 512,
            queue_len: 4096,
            readers: 4,
            owns_inbox: false,
            max_backlog: 65_536,
        }
    }

    /// Options for the server process, which answers ingest.
    pub fn serving(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            owns_inbox: true,
            ..SqliteOptions::new(path)
        }
    }
}

/// How long a tool waits for the previous server's leftover events to be applied.
const DRAIN_WAIT: Duration = Duration::from_secs(120);

pub struct SqliteStore {
    writer: WriterHandle,
    inbox: Option<Inbox>,
    readers: Arc<ReadPool>,
    path: PathBuf,
}

impl SqliteStore {
    /// Creates the database file (and its directory) if missing, migrates it, starts the writer.
    pub fn open(
        options: &SqliteOptions,
        metrics: Arc<StoreMetrics>,
    ) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = options.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        // Taken before anything touches the database, so that a refused second server changes
        // nothing, not even the schema. Builds from before the inbox take no lock: stop such a
        // server before starting this one on its database.
        let inbox_dir = inbox::dir_for(&options.path);
        let inbox_lock = if options.owns_inbox || inbox_dir.exists() {
            inbox::lock(&inbox_dir)?
        } else {
            None
        };
        if options.owns_inbox && inbox_lock.is_none() {
            return Err(StoreError::InboxHeld { dir: inbox_dir });
        }
        let mut conn = Connection::open(&options.path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // 16 KB pages for a new database (an existing one keeps its own): measured on the
        // ingest cost test with random chat IDs, 17.5 µs per applied event against 24.4 µs with
        // 4 KB pages — fewer, shallower pages to find and write per random-key insert.
        conn.execute_batch("PRAGMA page_size = 16384;")?;
        // journal_mode answers with a row; the others are plain settings.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NotWal(mode));
        }
        // FULL: the WAL is fsynced at every COMMIT, so an acknowledged event survives power loss,
        // not only a killed process.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        // The writer touches random B-tree pages (keys are random IDs); keep them in memory
        // instead of re-reading them from the OS at every transaction.
        conn.execute_batch("PRAGMA cache_size = -65536;")?;
        // Each request runs in a SAVEPOINT; its sub-journal (pages to restore on rollback)
        // would otherwise be a temp file written on every request.
        conn.execute_batch("PRAGMA temp_store = MEMORY;")?;
        // Checkpoint every ~40 MB of WAL (2,500 pages of 16 KB) instead of 4 MB: random-key
        // pages dirtied again and again between checkpoints are copied into the database once
        // per checkpoint. The WAL file is cut back to 64 MB after a checkpoint.
        conn.execute_batch(
            "PRAGMA wal_autocheckpoint = 2500; PRAGMA journal_size_limit = 67108864;",
        )?;
        conn.set_prepared_statement_cache_capacity(64);
        let applied = migrations::apply(&mut conn, &migrations::all())?;
        if applied > 0 {
            tracing::info!(applied, "database migrated");
        }
        let applied = inbox::applied_seq(&conn)?;
        let shared = Arc::new(inbox::Shared::new(applied, options.max_backlog));
        let writer = writer::start(
            conn,
            options.max_jobs_per_commit,
            options.queue_len,
            metrics,
            {
                let shared = Arc::clone(&shared);
                Arc::new(move || shared.in_a_hurry())
            },
        )?;
        let inbox = open_inbox(
            options,
            &inbox_dir,
            inbox_lock,
            applied,
            shared,
            &writer.handle,
        )?;
        Ok(SqliteStore {
            writer: writer.handle,
            inbox,
            readers: Arc::new(ReadPool::new(options.path.clone(), options.readers)),
            path: options.path.clone(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` inside the next group-commit transaction and resolves after COMMIT. If
    /// `work` returns an error, only its own changes are rolled back.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.write(work).await
    }

    /// Runs `work` on a read-only connection on the blocking thread pool.
    pub async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if let Some(inbox) = &self.inbox {
            inbox.caught_up().await;
        }
        self.readers.run(work).await
    }

    /// Closes the inbox's current segment and deletes it once applied (`false` outside the
    /// server, which owns the inbox).
    pub async fn rotate_inbox(&self) -> Result<bool, StoreError> {
        match &self.inbox {
            Some(inbox) => inbox.rotate().await.map(|()| true),
            None => Ok(false),
        }
    }

    /// Events acknowledged but not yet in the tables (0 outside the server).
    pub fn inbox_backlog(&self) -> usize {
        self.inbox
            .as_ref()
            .map_or(0, |i| i.shared().backlog_events())
    }
}

/// Serves ingest from the inbox (server), or applies a stopped server's leftovers (tools).
/// `lock` is `None` for a tool while a server runs: that server applies its own inbox.
fn open_inbox(
    options: &SqliteOptions,
    dir: &Path,
    lock: Option<std::fs::File>,
    applied: u64,
    shared: Arc<inbox::Shared>,
    writer: &WriterHandle,
) -> Result<Option<Inbox>, StoreError> {
    let Some(lock) = lock else {
        return Ok(None);
    };
    if !options.owns_inbox && !inbox::segments::SegmentLog::exists_in(dir) {
        return Ok(None);
    }
    let mut opened = inbox::open_log(dir, lock, applied, options.owns_inbox)?;
    let recovered = std::mem::take(&mut opened.recovered);
    let done = inbox::replay(recovered, &shared, writer)?;
    if options.owns_inbox {
        return Inbox::start(
            opened,
            &options.path,
            shared,
            writer.clone(),
            options.queue_len,
        )
        .map(Some);
    }
    if let Some(done) = done {
        done.recv_timeout(DRAIN_WAIT)
            .map_err(|_| StoreError::LeftoversNotApplied)?;
    }
    opened.log.drop_applied(shared.applied_seq());
    Ok(None)
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn ingest(
        &self,
        site: &str,
        events: Vec<Event>,
        received_at_ms: i64,
    ) -> Result<IngestOutcome, StoreError> {
        let Some(inbox) = &self.inbox else {
            return Err(StoreError::NotServing);
        };
        // Serialised here, on the request's thread: the inbox and writer threads are shared.
        let prepared = ingest::prepare(events)?;
        inbox
            .submit(site.to_owned(), prepared, received_at_ms)
            .await
    }

    async fn chat(
        &self,
        site: Option<&str>,
        chat_id: &ChatId,
    ) -> Result<Vec<ChatRecord>, StoreError> {
        let site = site.map(str::to_owned);
        let id = chat_id.as_str().to_owned();
        self.read(move |conn| queries::chat(conn, site.as_deref(), &id))
            .await
    }

    async fn mappings(&self, query: MappingQuery) -> Result<MappingPage, StoreError> {
        self.read(move |conn| queries::mappings(conn, &query)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if !self.writer.is_running() || self.inbox.as_ref().is_some_and(|i| !i.is_running()) {
            return Err(StoreError::WriterGone);
        }
        // Straight to a connection: health must not wait for the inbox to be applied.
        self.readers
            .run(|conn| {
                Ok(
                    conn.query_row("SELECT count(*) FROM schema_migrations", [], |r| {
                        r.get::<_, i64>(0)
                    })?,
                )
            })
            .await
            .map(|_| ())
    }

    fn backlog(&self) -> usize {
        self.inbox_backlog()
    }
}

/// Read-only connections, opened on demand and reused; at most `size` in use at once.
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl ReadPool {
    fn new(path: PathBuf, size: usize) -> ReadPool {
        ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
        }
    }

    async fn run<T, F>(self: &Arc<Self>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::ReadPoolClosed)?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = work(&conn);
            pool.give_back(conn);
            result
        })
        .await
        .map_err(|_| StoreError::JobPanicked)?
    }

    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }
}
