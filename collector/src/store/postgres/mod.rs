//! The PostgreSQL implementation of [`Storage`](super::Storage), for several collector
//! instances on one database. Each feature's storage trait is implemented in the module of its
//! name, with the SQL of `store/sqlite/` ported statement by statement.
//!
//! Driver: tokio-postgres with a deadpool-postgres pool. Why this one and not sqlx: it needs no
//! database at compile time (sqlx's checked queries do, or an offline cache kept in git), it
//! pipelines statements on one connection (ingest sends one statement per event and waits
//! once per batch), and it is a small tree of well-kept crates (tokio-postgres is the base of
//! sqlx's own competitors and of `postgres`). TLS is rustls through tokio-postgres-rustls, with
//! the ring provider already in the tree for the Metrica client ([`connect`]).
//!
//! * ingest is answered after COMMIT: a batching task ([`ingest`]) puts the requests waiting
//!   at that moment into one transaction; `event_id` is unique and inserted with
//!   `ON CONFLICT DO NOTHING`, so a resend, or the same event at two instances at once, is
//!   stored once. There is no inbox: nothing is acknowledged that is not in the tables;
//! * chat-side writes (webhooks, intake) take one transaction-scoped advisory lock, so
//!   matching sees every earlier delivery whichever instance took it ([`chats`]);
//! * the schema is [`crate::store::migrations`], applied under an advisory lock ([`migrate`]).

mod chats;
pub mod connect;
mod ingest;
mod lease;
mod metrica;
pub mod migrate;
mod privacy;
mod queries;
mod reports;
mod retention;
mod sql;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use chattag_core::event::Event;
use chattag_core::ChatId;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use crate::metrics::StoreMetrics;
use crate::store::model::{ChatRecord, IngestOutcome, MappingPage, MappingQuery};
use crate::store::{EventStore, StoreError};

/// Connections per process: ingest batches, webhooks and reads at once. PostgreSQL's default
/// `max_connections` (100) allows a few instances of this.
const POOL_SIZE: usize = 16;

pub struct PgStore {
    pool: Pool,
    /// The ingest batching task, started on the first ingest (inside the server's runtime).
    ingest: OnceLock<ingest::Batcher>,
    /// The privacy key kept in the database (`privacy_key`), shared by every instance.
    privacy_key: String,
    metrics: Arc<StoreMetrics>,
}

impl PgStore {
    /// Connects, migrates (once across instances) and reads the privacy key. Callable from
    /// inside or outside a runtime: the start-up work runs on a thread of its own.
    pub fn open(url: &str, metrics: Arc<StoreMetrics>) -> Result<PgStore, StoreError> {
        let target = connect::target(url)?;
        let config = target.config.clone();
        let tls = target.tls.clone();
        let privacy_key = std::thread::scope(|scope| {
            scope
                .spawn(|| -> Result<String, StoreError> {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|source| StoreError::Thread {
                            thread: "postgres start-up",
                            source,
                        })?;
                    rt.block_on(start_up(config, tls))
                })
                .join()
                .map_err(|_| StoreError::JobPanicked)?
        })?;
        let manager = Manager::from_config(
            target.config,
            target.tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::PgConfig(e.to_string()))?;
        Ok(PgStore {
            pool,
            ingest: OnceLock::new(),
            privacy_key,
            metrics,
        })
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// The privacy key every instance on this database shares.
    pub fn privacy_key(&self) -> &str {
        &self.privacy_key
    }
}

async fn start_up(
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
) -> Result<String, StoreError> {
    let (mut client, connection) = config.connect(tls).await?;
    let task = tokio::spawn(connection);
    let applied = migrate::apply(&mut client, &crate::store::migrations::all()).await?;
    if applied > 0 {
        tracing::info!(applied, "database migrated");
    }
    let key: String = client
        .query_one("SELECT key FROM privacy_key WHERE id = 1", &[])
        .await?
        .get(0);
    drop(client);
    let _ = task.await;
    Ok(key)
}

#[async_trait]
impl EventStore for PgStore {
    async fn ingest(
        &self,
        site: &str,
        events: Vec<Event>,
        received_at_ms: i64,
    ) -> Result<IngestOutcome, StoreError> {
        let prepared = ingest::prepare(events)?;
        let batcher = self
            .ingest
            .get_or_init(|| ingest::Batcher::start(self.pool.clone(), Arc::clone(&self.metrics)));
        batcher
            .submit(site.to_owned(), prepared, received_at_ms)
            .await
    }

    async fn chat(
        &self,
        site: Option<&str>,
        chat_id: &ChatId,
    ) -> Result<Vec<ChatRecord>, StoreError> {
        let client = self.client().await?;
        queries::chat(&client, site, chat_id.as_str()).await
    }

    async fn mappings(&self, query: MappingQuery) -> Result<MappingPage, StoreError> {
        let client = self.client().await?;
        queries::mappings(&client, &query).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if self.ingest.get().is_some_and(|b| !b.is_running()) {
            return Err(StoreError::WriterGone);
        }
        let client = self.client().await?;
        client
            .query_one("SELECT count(*) FROM schema_migrations", &[])
            .await?;
        Ok(())
    }

    /// Ingest is answered after COMMIT: nothing acknowledged waits.
    fn backlog(&self) -> usize {
        0
    }
}
