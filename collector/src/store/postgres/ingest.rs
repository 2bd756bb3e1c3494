//! Ingest on PostgreSQL: requests waiting at the same moment share one transaction (group
//! commit, as the SQLite writer), and each event is one statement, all of a transaction's
//! statements pipelined on one connection, so a batch costs one round trip and one COMMIT.
//!
//! One statement per event does what `store/sqlite/ingest.rs` does in several: insert the
//! event (`ON CONFLICT (event_id) DO NOTHING`: a resend, or the same event at another instance
//! at the same moment, is stored once), and only when it was new: merge it into its chat's row
//! (same rules: first/last by min/max, identifiers only forward in visitor time), record a
//! ClientID conflict for an `issue`, and keep a click. Each request is answered after COMMIT.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chattag_core::event::{Event, EventType};
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::StoreMetrics;
use crate::store::model::IngestOutcome;
use crate::store::sqlite::ingest::kind_name;
use crate::store::StoreError;

/// Events in one transaction at most: large enough that a COMMIT (an fsync) is shared by many
/// requests, small enough that one batch's statements stay a moment's work.
const MAX_EVENTS: usize = 4096;
/// Requests waiting for the batching task before `ingest` waits to queue (backpressure).
const QUEUE: usize = 4096;

pub struct Prepared {
    event: Event,
    body: String,
    utm: Option<String>,
}

pub fn prepare(events: Vec<Event>) -> Result<Vec<Prepared>, StoreError> {
    events
        .into_iter()
        .map(|event| {
            let body = serde_json::to_string(&event).map_err(StoreError::Serialize)?;
            let utm = match &event.ids.utm {
                Some(utm) => Some(serde_json::to_string(utm).map_err(StoreError::Serialize)?),
                None => None,
            };
            Ok(Prepared { event, body, utm })
        })
        .collect()
}

struct Request {
    site: String,
    events: Vec<Prepared>,
    received_at: i64,
    reply: oneshot::Sender<Result<IngestOutcome, StoreError>>,
}

pub struct Batcher {
    queue: mpsc::Sender<Request>,
    running: Arc<AtomicBool>,
}

impl Batcher {
    /// Starts the batching task on the current runtime.
    pub fn start(pool: Pool, metrics: Arc<StoreMetrics>) -> Batcher {
        let (queue, rx) = mpsc::channel(QUEUE);
        let running = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&running);
        tokio::spawn(async move {
            run(pool, rx, metrics).await;
            flag.store(false, Ordering::SeqCst);
        });
        Batcher { queue, running }
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    pub async fn submit(
        &self,
        site: String,
        events: Vec<Prepared>,
        received_at: i64,
    ) -> Result<IngestOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request {
                site,
                events,
                received_at,
                reply,
            })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

async fn run(pool: Pool, mut rx: mpsc::Receiver<Request>, metrics: Arc<StoreMetrics>) {
    let mut carried: Option<Request> = None;
    loop {
        let first = match carried.take() {
            Some(r) => r,
            None => match rx.recv().await {
                Some(r) => r,
                None => return,
            },
        };
        let mut weight = first.events.len();
        let mut batch = vec![first];
        while weight < MAX_EVENTS {
            match rx.try_recv() {
                Ok(r) if weight + r.events.len() > MAX_EVENTS => {
                    carried = Some(r);
                    break;
                }
                Ok(r) => {
                    weight += r.events.len();
                    batch.push(r);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let jobs = batch.len();
        match apply_batch(&pool, &batch).await {
            Ok(outcomes) => {
                metrics.observe_commit(jobs, started.elapsed(), true);
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = request.reply.send(Ok(outcome));
                }
            }
            Err(error) if jobs == 1 => {
                metrics.observe_commit(jobs, started.elapsed(), false);
                tracing::error!(%error, "ingest transaction failed");
                for request in batch {
                    let _ = request
                        .reply
                        .send(Err(StoreError::CommitFailed(error.to_string())));
                }
            }
            // One request's failure must not cost the others: each is tried on its own.
            Err(error) => {
                metrics.observe_commit(jobs, started.elapsed(), false);
                tracing::warn!(%error, jobs, "ingest batch failed; applying its requests one by one");
                for request in batch {
                    let result = apply_batch(&pool, std::slice::from_ref(&request))
                        .await
                        .map(|mut o| o.remove(0))
                        .map_err(|e| StoreError::CommitFailed(e.to_string()));
                    let _ = request.reply.send(result);
                }
            }
        }
    }
}

/// One transaction for the whole batch; the outcome of each request, after COMMIT.
async fn apply_batch(pool: &Pool, batch: &[Request]) -> Result<Vec<IngestOutcome>, StoreError> {
    let mut client = pool.get().await?;
    let statement = client.prepare_cached(STORE_EVENT).await?;
    let tx = client.transaction().await?;
    let mut pending = Vec::new();
    for request in batch {
        for p in &request.events {
            pending.push(store_event(
                &tx,
                &statement,
                &request.site,
                p,
                request.received_at,
            ));
        }
    }
    let stored = futures_util::future::try_join_all(pending).await?;
    tx.commit().await?;
    let mut stored = stored.into_iter();
    Ok(batch
        .iter()
        .map(|request| {
            let mut outcome = IngestOutcome::default();
            for new in stored.by_ref().take(request.events.len()) {
                if new {
                    outcome.accepted += 1;
                } else {
                    outcome.duplicates += 1;
                }
            }
            outcome
        })
        .collect())
}

/// True when the event was new.
async fn store_event(
    tx: &deadpool_postgres::Transaction<'_>,
    statement: &tokio_postgres::Statement,
    site: &str,
    p: &Prepared,
    received_at: i64,
) -> Result<bool, StoreError> {
    let ev = &p.event;
    let ids = &ev.ids;
    // Event::validate bounds `ts` far below i64::MAX; saturate rather than wrap regardless.
    let ts = i64::try_from(ev.ts).unwrap_or(i64::MAX);
    let kind = kind_name(ev.kind);
    let is_click = i64::from(ev.kind == EventType::Click);
    let row = tx
        .query_one(
            statement,
            &[
                &ev.event_id,
                &site,
                &kind,
                &ev.chat_id,
                &ts,
                &received_at,
                &p.body,
                &ids.client_id,
                &ids.yclid,
                &ids.user_id,
                &ids.purchase_id,
                &ids.gclid,
                &ids.fbclid,
                &ids.ga_client_id,
                &p.utm,
                &ev.page,
                &ev.referrer,
                &ev.prev_chat_id,
                &ev.messenger.as_deref().unwrap_or_default(),
                &ev.link_kind.as_deref().unwrap_or_default(),
                &ev.target.as_deref().unwrap_or_default(),
                &is_click,
            ],
        )
        .await?;
    let new: i64 = row.get(0);
    if new == 1 && row.get::<_, i64>(1) == 1 {
        tracing::warn!(site, chat_id = %ev.chat_id, "chat ID reissued with a different ClientID; flagged as a collision");
    }
    Ok(new == 1)
}

/// `$1` event_id, `$2` site, `$3` kind, `$4` chat_id, `$5` ts, `$6` received_at, `$7` body,
/// `$8`..`$14` client_id, yclid, user_id, purchase_id, gclid, fbclid, ga_client_id, `$15` utm,
/// `$16` page, `$17` referrer, `$18` prev_chat_id, `$19` messenger, `$20` link_kind,
/// `$21` target, `$22` 1 for a click. Returns (1 if stored, 1 if a ClientID collision).
///
/// The data-modifying CTEs all see the chats row as it was before this statement (`known`),
/// which is what the collision check compares with. A present identifier replaces the current
/// one only if this event is not older than the one that set the current values; an absent
/// value never erases a known one.
const STORE_EVENT: &str = "
WITH ev AS (
    INSERT INTO events (event_id, site, kind, chat_id, ts, received_at, body)
    VALUES ($1::text, $2::text, $3::text, $4::text, $5::bigint, $6::bigint, $7::text)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING id
), clash AS (
    SELECT c.client_id AS known FROM chats c, ev
    WHERE c.site = $2 AND c.chat_id = $4 AND $3 = 'issue'
      AND c.client_id IS NOT NULL AND $8::text IS NOT NULL AND c.client_id <> $8
), conflict AS (
    INSERT INTO chat_conflicts (event_id, site, chat_id, known_client_id, new_client_id, received_at)
    SELECT $1, $2, $4, known, $8, $6 FROM clash
    ON CONFLICT DO NOTHING
), click AS (
    INSERT INTO clicks (event_id, site, chat_id, messenger, link_kind, target, page, ts, received_at)
    SELECT $1, $2, $4, $19::text, $20::text, $21::text, $16::text, $5, $6 FROM ev WHERE $22::bigint = 1
), chat AS (
    INSERT INTO chats (site, chat_id, first_seen, last_seen, first_ts, last_ts, ids_ts,
                       client_id, yclid, user_id, purchase_id, gclid, fbclid, ga_client_id, utm,
                       landing_page, referrer, prev_chat_id, events, clicks, collision)
    SELECT $2, $4, $6, $6, $5, $5, $5, $8, $9::text, $10::text, $11::text, $12::text, $13::text,
           $14::text, $15::text, $16, $17::text, $18::text, 1, $22, (SELECT count(*) FROM clash)
    FROM ev
    ON CONFLICT (chat_id, site) DO UPDATE SET
       last_seen = greatest(chats.last_seen, excluded.last_seen),
       first_ts = least(chats.first_ts, excluded.first_ts),
       last_ts = greatest(chats.last_ts, excluded.last_ts),
       ids_ts = greatest(chats.ids_ts, excluded.ids_ts),
       client_id = CASE WHEN excluded.client_id IS NOT NULL AND (chats.client_id IS NULL OR excluded.ids_ts >= chats.ids_ts) THEN excluded.client_id ELSE chats.client_id END,
       yclid = CASE WHEN excluded.yclid IS NOT NULL AND (chats.yclid IS NULL OR excluded.ids_ts >= chats.ids_ts) THEN excluded.yclid ELSE chats.yclid END,
       user_id = CASE WHEN excluded.user_id IS NOT NULL AND (chats.user_id IS NULL OR excluded.ids_ts >= chats.ids_ts) THEN excluded.user_id ELSE chats.user_id END,
       purchase_id = CASE WHEN excluded.purchase_id IS NOT NULL AND (chats.purchase_id IS NULL OR excluded.ids_ts >= chats.ids_ts) THEN excluded.purchase_id ELSE chats.purchase_id END,
       gclid = CASE WHEN excluded.gclid IS NOT NULL AND (chats.gclid IS NULL OR excluded.ids_ts >= chats.ids_ts) THEN excluded.gclid ELSE chats.gclid END,
       fbclid = CASE WHEN excluded.fbclid IS NOT NULL AND (chats.fbclid IS NULL OR excluded.ids_ts >= chats.ids_ts) THEN excluded.fbclid ELSE chats.fbclid END,
       ga_client_id = CASE WHEN excluded.ga_client_id IS NOT NULL AND (chats.ga_client_id IS NULL OR excluded.ids_ts >= chats.ids_ts) THEN excluded.ga_client_id ELSE chats.ga_client_id END,
       utm = CASE WHEN excluded.utm IS NOT NULL AND (chats.utm IS NULL OR excluded.ids_ts >= chats.ids_ts) THEN excluded.utm ELSE chats.utm END,
       landing_page = CASE WHEN excluded.first_ts < chats.first_ts THEN coalesce(excluded.landing_page, chats.landing_page) ELSE coalesce(chats.landing_page, excluded.landing_page) END,
       referrer = CASE WHEN excluded.first_ts < chats.first_ts THEN coalesce(excluded.referrer, chats.referrer) ELSE coalesce(chats.referrer, excluded.referrer) END,
       prev_chat_id = coalesce(chats.prev_chat_id, excluded.prev_chat_id),
       events = chats.events + 1,
       clicks = chats.clicks + excluded.clicks,
       collision = greatest(chats.collision, excluded.collision)
)
SELECT (SELECT count(*) FROM ev), (SELECT count(*) FROM clash)";
