//! Ingest on PostgreSQL: requests waiting at the same moment share one transaction (group
//! commit, as the SQLite writer), stored set-wise (a batch is one or two statements, see
//! `apply_batch`), so a batch costs a few round trips and one COMMIT. Up to `IN_FLIGHT`
//! batches are committed at once, each on its own pooled connection, so the next batch is
//! applied while the last one waits for its COMMIT. Concurrent batches (of this instance or
//! another) lock chat rows in (site, chat ID) order; a deadlock or serialization failure that
//! still happens is retried, never answered as a failed request.
//!
//! One statement per round of events does what `store/sqlite/ingest.rs` does in several per
//! event: insert the event (`ON CONFLICT (event_id) DO NOTHING`: a resend, or the same event in another batch or at
//! another instance at the same moment, is stored once), and only when it was new: merge it into its chat's row
//! (same rules: first/last by min/max, identifiers only forward in visitor time), record a
//! ClientID conflict for an `issue`, and keep a click. Each request is answered after COMMIT.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chattag_core::event::{Event, EventType};
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_postgres::error::SqlState;

use crate::metrics::StoreMetrics;
use crate::store::history::kind_name;
use crate::store::model::IngestOutcome;
use crate::store::StoreError;

/// Events in one transaction at most: large enough that a COMMIT (an fsync) is shared by many
/// requests, small enough that one batch's statements stay a moment's work.
const MAX_EVENTS: usize = 4096;
/// Batches being committed at once, each on its own pooled connection: while one waits for
/// its COMMIT (an fsync) the next is already being applied, so more than one backend works.
/// Small beside the pool (`POOL_SIZE`), which reads and webhooks share.
const IN_FLIGHT: usize = 3;
/// Tries of one batch when PostgreSQL aborts it for a deadlock or serialization failure.
const ATTEMPTS: u32 = 5;
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
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut carried: Option<Request> = None;
    loop {
        let first = match carried.take() {
            Some(r) => r,
            None => match rx.recv().await {
                Some(r) => r,
                None => return,
            },
        };
        // Wait for a free slot before forming the batch: requests arriving meanwhile join it.
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            return;
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
        let pool = pool.clone();
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            commit_and_answer(&pool, batch, &metrics).await;
            drop(permit);
        });
    }
}

/// Commits one batch and answers each of its requests with its outcome (or its error).
async fn commit_and_answer(pool: &Pool, batch: Vec<Request>, metrics: &StoreMetrics) {
    let started = Instant::now();
    let jobs = batch.len();
    match apply_with_retry(pool, &batch).await {
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
                let result = apply_with_retry(pool, std::slice::from_ref(&request))
                    .await
                    .map(|mut o| o.remove(0))
                    .map_err(|e| StoreError::CommitFailed(e.to_string()));
                let _ = request.reply.send(result);
            }
        }
    }
}

/// `apply_batch`, again when PostgreSQL aborted it for a deadlock or a serialization failure.
/// Statements keep a (site, chat ID) order, but a resend carried by two batches at once can
/// still make two transactions wait on each other (one holds the chat row, the other the
/// event ID); the aborted one has written nothing, so running it again is safe.
async fn apply_with_retry(
    pool: &Pool,
    batch: &[Request],
) -> Result<Vec<IngestOutcome>, StoreError> {
    let mut attempt = 1;
    loop {
        match apply_batch(pool, batch).await {
            Err(StoreError::Postgres(error)) if attempt < ATTEMPTS && is_transient(&error) => {
                tracing::info!(%error, attempt, "ingest transaction aborted by PostgreSQL; retrying");
                tokio::time::sleep(Duration::from_millis(5 * (1 << attempt))).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn is_transient(error: &tokio_postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

/// One transaction for the whole batch; the outcome of each request, after COMMIT.
///
/// The batch's events go in *rounds*, one statement each (arrays bound as parameters): a round
/// holds at most one event per chat (an upsert may touch a row once per statement) and per
/// event ID; the k-th event of a chat goes in round k, so a chat's events are applied in the
/// order they came. Real traffic has one or two events per chat in a batch: a batch is one or
/// two statements, whatever its size.
async fn apply_batch(pool: &Pool, batch: &[Request]) -> Result<Vec<IngestOutcome>, StoreError> {
    let mut client = pool.get().await?;
    let statement = client.prepare_cached(STORE_EVENTS).await?;
    let tx = client.transaction().await?;
    let mut rounds: Vec<Vec<(usize, &Prepared)>> = Vec::new();
    let mut seen: std::collections::HashMap<(&str, &str), usize> = std::collections::HashMap::new();
    let mut ids: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, request) in batch.iter().enumerate() {
        for p in &request.events {
            let by_chat = seen
                .entry((request.site.as_str(), p.event.chat_id.as_str()))
                .or_insert(0);
            let by_id = ids.entry(p.event.event_id.as_str()).or_insert(0);
            let round = (*by_chat).max(*by_id);
            *by_chat = round + 1;
            *by_id = round + 1;
            if rounds.len() <= round {
                rounds.resize_with(round + 1, Vec::new);
            }
            rounds[round].push((i, p));
        }
    }
    let mut outcomes = vec![IngestOutcome::default(); batch.len()];
    for mut round in rounds {
        // In (site, chat ID) order: two instances' transactions then lock shared chat rows in
        // the same order, and cannot deadlock on them.
        round.sort_by(|(a, pa), (b, pb)| {
            (&batch[*a].site, &pa.event.chat_id).cmp(&(&batch[*b].site, &pb.event.chat_id))
        });
        let stored = store_round(&tx, &statement, batch, &round).await?;
        for ((i, _), new) in round.iter().zip(stored) {
            if new {
                outcomes[*i].accepted += 1;
            } else {
                outcomes[*i].duplicates += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Stores one round; for each of its events, true when it was new.
async fn store_round(
    tx: &deadpool_postgres::Transaction<'_>,
    statement: &tokio_postgres::Statement,
    batch: &[Request],
    round: &[(usize, &Prepared)],
) -> Result<Vec<bool>, StoreError> {
    let n = round.len();
    let mut event_id = Vec::with_capacity(n);
    let mut site = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut chat_id = Vec::with_capacity(n);
    let mut ts = Vec::with_capacity(n);
    let mut received_at = Vec::with_capacity(n);
    let mut body = Vec::with_capacity(n);
    let mut client_id = Vec::with_capacity(n);
    let mut yclid = Vec::with_capacity(n);
    let mut user_id = Vec::with_capacity(n);
    let mut purchase_id = Vec::with_capacity(n);
    let mut gclid = Vec::with_capacity(n);
    let mut fbclid = Vec::with_capacity(n);
    let mut ga_client_id = Vec::with_capacity(n);
    let mut utm = Vec::with_capacity(n);
    let mut page = Vec::with_capacity(n);
    let mut referrer = Vec::with_capacity(n);
    let mut prev_chat_id = Vec::with_capacity(n);
    let mut messenger = Vec::with_capacity(n);
    let mut link_kind = Vec::with_capacity(n);
    let mut target = Vec::with_capacity(n);
    let mut is_click = Vec::with_capacity(n);
    for (i, p) in round {
        let ev = &p.event;
        let ids = &ev.ids;
        event_id.push(ev.event_id.as_str());
        site.push(batch[*i].site.as_str());
        kind.push(kind_name(ev.kind));
        chat_id.push(ev.chat_id.as_str());
        // Event::validate bounds `ts` far below i64::MAX; saturate rather than wrap regardless.
        ts.push(i64::try_from(ev.ts).unwrap_or(i64::MAX));
        received_at.push(batch[*i].received_at);
        body.push(p.body.as_str());
        client_id.push(ids.client_id.as_deref());
        yclid.push(ids.yclid.as_deref());
        user_id.push(ids.user_id.as_deref());
        purchase_id.push(ids.purchase_id.as_deref());
        gclid.push(ids.gclid.as_deref());
        fbclid.push(ids.fbclid.as_deref());
        ga_client_id.push(ids.ga_client_id.as_deref());
        utm.push(p.utm.as_deref());
        page.push(ev.page.as_deref());
        referrer.push(ev.referrer.as_deref());
        prev_chat_id.push(ev.prev_chat_id.as_deref());
        messenger.push(ev.messenger.as_deref().unwrap_or_default());
        link_kind.push(ev.link_kind.as_deref().unwrap_or_default());
        target.push(ev.target.as_deref().unwrap_or_default());
        is_click.push(i64::from(ev.kind == EventType::Click));
    }
    let rows = tx
        .query(
            statement,
            &[
                &event_id,
                &site,
                &kind,
                &chat_id,
                &ts,
                &received_at,
                &body,
                &client_id,
                &yclid,
                &user_id,
                &purchase_id,
                &gclid,
                &fbclid,
                &ga_client_id,
                &utm,
                &page,
                &referrer,
                &prev_chat_id,
                &messenger,
                &link_kind,
                &target,
                &is_click,
            ],
        )
        .await?;
    let mut new = std::collections::HashSet::with_capacity(rows.len());
    for row in &rows {
        let id: &str = row.get(0);
        if row.get::<_, bool>(1) {
            if let Some((i, p)) = round.iter().find(|(_, p)| p.event.event_id == id) {
                tracing::warn!(site = %batch[*i].site, chat_id = %p.event.chat_id, "chat ID reissued with a different ClientID; flagged as a collision");
            }
        }
        new.insert(id.to_owned());
    }
    Ok(round
        .iter()
        .map(|(_, p)| new.contains(&p.event.event_id))
        .collect())
}

/// The arrays of one round (`$1` event_id, `$2` site, `$3` kind, `$4` chat_id, `$5` ts,
/// `$6` received_at, `$7` body, `$8`..`$14` client_id, yclid, user_id, purchase_id, gclid,
/// fbclid, ga_client_id, `$15` utm, `$16` page, `$17` referrer, `$18` prev_chat_id,
/// `$19` messenger, `$20` link_kind, `$21` target, `$22` 1 for a click). Returns the new
/// events' IDs, each with whether its `issue` met a different ClientID.
///
/// What `store/sqlite/ingest.rs` does per event, for a set: insert the events
/// (`ON CONFLICT (event_id) DO NOTHING`), and only for the new ones merge each into its chat's
/// row (same rules: first/last by min/max, identifiers only forward in visitor time; a present
/// identifier replaces the current one only if this event is not older than the one that set
/// the current values, an absent value never erases a known one), record a ClientID conflict
/// for an `issue`, and keep a click. The data-modifying CTEs all see the chats rows as they
/// were before the statement, which is what the collision check compares with.
const STORE_EVENTS: &str = "
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                         $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[],
                         $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
                         $16::text[], $17::text[], $18::text[], $19::text[], $20::text[],
                         $21::text[], $22::bigint[])
        AS t(event_id, site, kind, chat_id, ts, received_at, body, client_id, yclid, user_id,
             purchase_id, gclid, fbclid, ga_client_id, utm, page, referrer, prev_chat_id,
             messenger, link_kind, target, is_click)
), ev AS (
    INSERT INTO events (event_id, site, kind, chat_id, ts, received_at, body)
    SELECT event_id, site, kind, chat_id, ts, received_at, body FROM input
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
), new AS (
    SELECT i.* FROM input i JOIN ev USING (event_id)
), clash AS (
    SELECT n.event_id, c.client_id AS known FROM new n
    JOIN chats c ON c.site = n.site AND c.chat_id = n.chat_id
    WHERE n.kind = 'issue' AND c.client_id IS NOT NULL AND n.client_id IS NOT NULL
      AND c.client_id <> n.client_id
), conflict AS (
    INSERT INTO chat_conflicts (event_id, site, chat_id, known_client_id, new_client_id, received_at)
    SELECT n.event_id, n.site, n.chat_id, k.known, n.client_id, n.received_at
    FROM new n JOIN clash k USING (event_id)
    ON CONFLICT DO NOTHING
), click AS (
    INSERT INTO clicks (event_id, site, chat_id, messenger, link_kind, target, page, ts, received_at)
    SELECT event_id, site, chat_id, messenger, link_kind, target, page, ts, received_at
    FROM new WHERE is_click = 1
), chat AS (
    INSERT INTO chats (site, chat_id, first_seen, last_seen, first_ts, last_ts, ids_ts,
                       client_id, yclid, user_id, purchase_id, gclid, fbclid, ga_client_id, utm,
                       landing_page, referrer, prev_chat_id, events, clicks, collision)
    SELECT n.site, n.chat_id, n.received_at, n.received_at, n.ts, n.ts, n.ts, n.client_id,
           n.yclid, n.user_id, n.purchase_id, n.gclid, n.fbclid, n.ga_client_id, n.utm, n.page,
           n.referrer, n.prev_chat_id, 1, n.is_click,
           (SELECT count(*) FROM clash k WHERE k.event_id = n.event_id)
    FROM new n
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
SELECT e.event_id, EXISTS (SELECT 1 FROM clash k WHERE k.event_id = e.event_id) FROM ev e";
