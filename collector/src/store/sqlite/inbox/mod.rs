//! The inbox: where an ingest request is made durable before it is answered.
//!
//! Ingest does not wait for the mapping tables. One thread appends each group of requests to an
//! append-only log (`segments`) and fsyncs it once — that is the commit a success answer
//! stands on — then hands the group to the database writer, which applies it to the mapping
//! tables in large transactions (`apply`). The log is cut once the database has committed what
//! it holds; after `kill -9`, the records not yet applied are read back and applied at start.
//!
//! Why: every event touches random-key B-trees (event ID, chat ID); committing each small
//! group of requests to them costs several times the CPU of applying thousands at once, and the
//! database's checkpoints stalled the answers. Reads stay consistent: a read first waits until
//! everything acknowledged before it has been applied ([`Inbox::caught_up`]).
//!
//! Dedupe answers stay exact: an event ID is a duplicate if it is in the log but not yet
//! applied (`pending`) or in the database. The applier removes IDs from `pending` only after
//! its COMMIT, and this thread checks `pending` before the database, so no ID slips between.

mod apply;
pub mod record;
pub mod segments;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use tokio::sync::{mpsc, oneshot, watch};

pub use apply::InboxBatch;
use record::Record;
use segments::SegmentLog;

use super::ingest::Prepared;
use super::writer::WriterHandle;
use crate::store::model::IngestOutcome;
use crate::store::{IngestRefused, StoreError};

/// Requests taken into one append (one fsync).
const MAX_GROUP: usize = 1024;
/// A read waits at most this long for acknowledged events to be applied, then reads anyway.
const CATCH_UP_WAIT: Duration = Duration::from_secs(5);
/// Ingest waits at most this long for room in the backlog, then answers 503 (the snippet
/// retries later) instead of holding requests while the database is stuck.
const BACKLOG_WAIT: Duration = Duration::from_secs(20);
/// With a backlog and no progress for this long, health reports the store as unavailable.
const STALL: Duration = Duration::from_secs(60);

/// The inbox directory that belongs to a database file: `<db>-inbox`, beside it.
pub fn dir_for(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-inbox");
    PathBuf::from(name)
}

/// State shared by the inbox thread, the database writer and readers.
pub struct Shared {
    /// Event IDs in the log and not yet applied (with the database, the dedupe set).
    pending: Mutex<HashSet<String>>,
    backlog: Backlog,
    /// Highest sequence number acknowledged (or recovered): what reads wait for.
    acked: AtomicU64,
    applied: watch::Sender<u64>,
    broken: AtomicBool,
    /// The position a waiting read needs applied: until the writer gets there, it stops
    /// gathering records and commits what it has ([`Shared::in_a_hurry`]).
    hurry_until: AtomicU64,
    /// When the applied position last moved (or the backlog was last empty), ms since epoch.
    progress_ms: AtomicU64,
}

impl Shared {
    pub fn new(applied_seq: u64, max_backlog: usize) -> Shared {
        Shared {
            pending: Mutex::new(HashSet::new()),
            backlog: Backlog::new(max_backlog),
            acked: AtomicU64::new(applied_seq),
            applied: watch::Sender::new(applied_seq),
            broken: AtomicBool::new(false),
            hurry_until: AtomicU64::new(0),
            progress_ms: AtomicU64::new(now_ms()),
        }
    }

    /// False when events wait to be applied and nothing has been applied for [`STALL`]: the
    /// writer is stuck (e.g. a full disk), and health checks should say so.
    pub fn is_progressing(&self) -> bool {
        if self.backlog.current() == 0 {
            self.progress_ms.store(now_ms(), Ordering::Relaxed);
            return true;
        }
        now_ms().saturating_sub(self.progress_ms.load(Ordering::Relaxed)) < STALL.as_millis() as u64
    }

    /// True while a read waits for a position not yet applied; checked by the writer while
    /// it gathers inbox records.
    pub fn in_a_hurry(&self) -> bool {
        self.hurry_until.load(Ordering::SeqCst) > self.applied_seq()
    }

    pub fn applied_seq(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Called by the writer after the COMMIT holding records up to `seq`.
    pub(crate) fn mark_applied<'a>(
        &self,
        seq: u64,
        ids: impl Iterator<Item = &'a str>,
        events: usize,
    ) {
        if let Ok(mut pending) = self.pending.lock() {
            for id in ids {
                pending.remove(id);
            }
        }
        self.backlog.release(events);
        self.progress_ms.store(now_ms(), Ordering::Relaxed);
        self.applied.send_if_modified(|applied| {
            let moved = seq > *applied;
            *applied = (*applied).max(seq);
            moved
        });
    }

    pub fn backlog_events(&self) -> usize {
        self.backlog.current()
    }
}

/// Events acknowledged and not yet applied. Ingest waits while it is full, so a database that
/// falls behind slows acknowledgements down instead of growing memory and disk without bound.
struct Backlog {
    count: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

impl Backlog {
    fn new(max: usize) -> Backlog {
        Backlog {
            count: Mutex::new(0),
            freed: Condvar::new(),
            max: max.max(1),
        }
    }

    /// False when there was no room within `wait`.
    fn acquire(&self, n: usize, wait: Duration) -> bool {
        let Ok(mut count) = self.count.lock() else {
            return false;
        };
        let deadline = std::time::Instant::now() + wait;
        // A group larger than the whole budget still goes through once the backlog is empty.
        while *count > 0 && *count + n > self.max {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            count = match self.freed.wait_timeout(count, left) {
                Ok((c, _)) => c,
                Err(_) => return false,
            };
        }
        *count += n;
        true
    }

    /// Counts recovered events without waiting (they are already on disk).
    fn add(&self, n: usize) {
        if let Ok(mut count) = self.count.lock() {
            *count += n;
        }
    }

    fn release(&self, n: usize) {
        if let Ok(mut count) = self.count.lock() {
            *count = count.saturating_sub(n);
        }
        self.freed.notify_all();
    }

    fn current(&self) -> usize {
        self.count.lock().map(|c| *c).unwrap_or(0)
    }
}

struct Submission {
    site: String,
    events: Vec<Prepared>,
    received_at: i64,
    reply: oneshot::Sender<Result<IngestOutcome, StoreError>>,
}

impl Submission {
    /// No site and no events: a request to close the current segment ([`Inbox::rotate`]).
    fn is_rotation(&self) -> bool {
        self.site.is_empty() && self.events.is_empty()
    }
}

/// The handle request handlers use; the thread stops when every handle is dropped.
#[derive(Clone)]
pub struct Inbox {
    queue: mpsc::Sender<Submission>,
    shared: Arc<Shared>,
}

/// What opening the inbox found: the records to apply, and where numbering continues.
pub struct Opened {
    pub log: SegmentLog,
    pub recovered: Vec<Record>,
    pub next_seq: u64,
}

/// Takes the inbox directory's lock (creating the directory); `None` when another process
/// holds it.
pub fn lock(dir: &Path) -> Result<Option<std::fs::File>, StoreError> {
    segments::try_lock(dir)
}

/// Reads the log back (see [`SegmentLog::open`]) under the lock from [`lock`].
pub fn open_log(
    dir: &Path,
    lock: std::fs::File,
    applied_seq: u64,
    serving: bool,
) -> Result<Opened, StoreError> {
    let (log, recovered) = SegmentLog::open(dir, lock, applied_seq, serving)?;
    let last = recovered.last().map_or(applied_seq, |r| r.seq);
    Ok(Opened {
        log,
        recovered,
        next_seq: last.max(applied_seq) + 1,
    })
}

/// The database's record of how far the log has been applied.
pub fn applied_seq(conn: &Connection) -> Result<u64, StoreError> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT applied_seq FROM ingest_state WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}

/// Hands recovered records to the writer; returns the batch's completion signal.
pub fn replay(
    recovered: Vec<Record>,
    shared: &Arc<Shared>,
    writer: &WriterHandle,
) -> Result<Option<std::sync::mpsc::Receiver<()>>, StoreError> {
    let Some(last) = recovered.last().map(|r| r.seq) else {
        return Ok(None);
    };
    let (batch, done) = InboxBatch::recovered(recovered, Arc::clone(shared));
    tracing::info!(
        records = batch.records(),
        events = batch.events(),
        "inbox: applying acknowledged events left from the last run"
    );
    shared.backlog.add(batch.events());
    if let Ok(mut pending) = shared.pending.lock() {
        pending.extend(batch.event_ids().map(str::to_owned));
    }
    shared.acked.fetch_max(last, Ordering::SeqCst);
    writer.try_enqueue(Box::new(batch))?;
    Ok(Some(done))
}

impl Inbox {
    /// Starts the inbox thread. `db` is the database file, read for dedupe.
    pub fn start(
        opened: Opened,
        db: &Path,
        shared: Arc<Shared>,
        writer: WriterHandle,
        queue_len: usize,
    ) -> Result<Inbox, StoreError> {
        let conn = Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (queue, submissions) = mpsc::channel(queue_len);
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("inbox".into())
            .spawn(move || {
                Appender {
                    log: opened.log,
                    next_seq: opened.next_seq,
                    db: conn,
                    writer,
                    shared: thread_shared,
                }
                .run(submissions)
            })
            .map_err(|source| StoreError::Thread {
                thread: "inbox",
                source,
            })?;
        Ok(Inbox { queue, shared })
    }

    /// Makes the events durable and answers with what was new and what was a resend.
    pub async fn submit(
        &self,
        site: String,
        events: Vec<Prepared>,
        received_at: i64,
    ) -> Result<IngestOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Submission {
                site,
                events,
                received_at,
                reply,
            })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Closes the current segment (it is deleted once its records are applied, at once when
    /// they already are), so that rows deleted from the database do not stay in the log.
    pub async fn rotate(&self) -> Result<(), StoreError> {
        self.submit(String::new(), Vec::new(), 0).await.map(|_| ())
    }

    /// Waits (bounded) until everything acknowledged so far is in the database.
    pub async fn caught_up(&self) {
        let target = self.shared.acked.load(Ordering::SeqCst);
        let mut applied = self.shared.applied.subscribe();
        if *applied.borrow() >= target {
            return;
        }
        self.shared.hurry_until.fetch_max(target, Ordering::SeqCst);
        if tokio::time::timeout(CATCH_UP_WAIT, applied.wait_for(|s| *s >= target))
            .await
            .is_err()
        {
            tracing::warn!(
                target,
                applied = self.shared.applied_seq(),
                backlog = self.shared.backlog_events(),
                "read served before the database caught up with acknowledged events"
            );
        }
    }

    pub fn is_running(&self) -> bool {
        !self.queue.is_closed()
            && !self.shared.broken.load(Ordering::SeqCst)
            && self.shared.is_progressing()
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// The inbox thread's state.
struct Appender {
    log: SegmentLog,
    next_seq: u64,
    /// Read-only connection to the database, for event IDs applied earlier.
    db: Connection,
    writer: WriterHandle,
    shared: Arc<Shared>,
}

impl Appender {
    fn run(mut self, mut submissions: mpsc::Receiver<Submission>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while let Some(first) = submissions.blocking_recv() {
            group.push(first);
            while group.len() < MAX_GROUP {
                match submissions.try_recv() {
                    Ok(s) => group.push(s),
                    Err(_) => break,
                }
            }
            let rotate = group.iter().any(Submission::is_rotation);
            self.append_group(&mut group);
            if rotate {
                if let Err(e) = self.log.rotate_now(self.next_seq) {
                    tracing::error!(error = %e, "inbox: cannot start a new segment on request");
                }
                self.log.drop_applied(self.shared.applied_seq());
            }
        }
    }

    fn append_group(&mut self, group: &mut Vec<Submission>) {
        if self.shared.broken.load(Ordering::SeqCst) {
            return answer_all(group, IngestRefused::WriterStopped);
        }
        let fresh = match self.split_new(group) {
            Ok(fresh) => fresh,
            Err(e) => return answer_all(group, IngestRefused::DedupeFailed(e.to_string())),
        };
        let new_events: usize = fresh.iter().map(Vec::len).sum();
        if new_events == 0 {
            let outcomes = group.iter().map(|s| outcome(s.events.len(), 0));
            return answer_each(group, outcomes.collect());
        }
        // Waits here while the database is too far behind (backpressure).
        if !self.shared.backlog.acquire(new_events, BACKLOG_WAIT) {
            tracing::error!(
                backlog = self.shared.backlog_events(),
                "inbox: the database is not applying events; answering 503"
            );
            return answer_all(group, IngestRefused::Backlogged);
        }

        let mut bytes = Vec::with_capacity(new_events * 512);
        let mut entries = Vec::with_capacity(group.len());
        let mut outcomes = Vec::with_capacity(group.len());
        let mut seq = self.next_seq;
        for (sub, keep) in group.iter_mut().zip(&fresh) {
            outcomes.push(outcome(sub.events.len(), keep.len()));
            if keep.is_empty() {
                continue;
            }
            // `keep` is ascending.
            let events: Vec<Prepared> = std::mem::take(&mut sub.events)
                .into_iter()
                .enumerate()
                .filter(|(i, _)| keep.binary_search(i).is_ok())
                .map(|(_, p)| p)
                .collect();
            let bodies = events.iter().map(Prepared::body);
            record::encode(
                &mut bytes,
                seq,
                sub.received_at,
                &sub.site,
                events.len(),
                bodies,
            );
            entries.push(apply::Entry {
                seq,
                site: std::mem::take(&mut sub.site),
                received_at: sub.received_at,
                events,
            });
            seq += 1;
        }

        if let Err(e) = self.log.append(&bytes) {
            self.shared.backlog.release(new_events);
            if crate::disk::is_out_of_space(&e) {
                // The write was cut back cleanly (`append`), so the log is as it was: this group
                // is refused (503, the snippet resends) and the next one tries again, so ingest
                // resumes by itself once space returns.
                tracing::error!(error = %e, requests = group.len(), "inbox: the volume is full; refusing this group");
                return answer_all(group, IngestRefused::AppendFailed(e.to_string()));
            }
            // A disk that fails a write is not trusted with the next one: ingest answers 503
            // until a restart (health says so), and nothing acknowledged is at risk.
            self.shared.broken.store(true, Ordering::SeqCst);
            tracing::error!(error = %e, requests = group.len(), "inbox: append failed; this group and all later ingest are refused until restart");
            return answer_all(group, IngestRefused::AppendFailed(e.to_string()));
        }
        self.next_seq = seq;
        let last = seq - 1;
        let batch = InboxBatch::new(entries, Arc::clone(&self.shared));
        if let Ok(mut pending) = self.shared.pending.lock() {
            pending.extend(batch.event_ids().map(str::to_owned));
        }
        self.shared.acked.store(last, Ordering::SeqCst);
        // Queued before the answers go out, so that any write a client makes after its answer
        // (e.g. a webhook matched against this visit) is applied after these events.
        if let Err(e) = self.writer.enqueue_blocking(Box::new(batch)) {
            // Durable in the log and applied at the next start, so these answers stand; later
            // requests are refused (see above) instead of waiting on a backlog nobody drains.
            tracing::error!(error = %e, "inbox: the database writer has stopped");
            self.shared.backlog.release(new_events);
            self.shared.broken.store(true, Ordering::SeqCst);
        }
        answer_each(group, outcomes);

        if let Err(e) = self.log.rotate_if_full(self.next_seq) {
            tracing::error!(error = %e, "inbox: cannot start a new segment; appending to the current one");
        }
        self.log.drop_applied(self.shared.applied_seq());
    }

    /// For each submission, the indexes of its events not stored before (in the log, in the
    /// database, or earlier in this group).
    fn split_new(&self, group: &[Submission]) -> Result<Vec<Vec<usize>>, StoreError> {
        let mut candidates: Vec<Vec<usize>> = {
            let pending = self
                .shared
                .pending
                .lock()
                .map_err(|_| StoreError::Poisoned("the dedupe set"))?;
            group
                .iter()
                .map(|s| {
                    (0..s.events.len())
                        .filter(|&i| !pending.contains(s.events[i].event_id()))
                        .collect()
                })
                .collect()
        };
        let mut seen: HashSet<&str> = HashSet::new();
        // One read transaction for the whole group (it starts at the first SELECT, after the
        // `pending` check above): one snapshot and one lock round-trip instead of one per event.
        self.db.execute_batch("BEGIN")?;
        let checked = (|| -> Result<(), StoreError> {
            let mut stored = self
                .db
                .prepare_cached("SELECT 1 FROM events WHERE event_id = ?1")?;
            for (sub, keep) in group.iter().zip(candidates.iter_mut()) {
                let mut kept = Vec::with_capacity(keep.len());
                for &i in keep.iter() {
                    let id = sub.events[i].event_id();
                    if seen.insert(id) && !stored.exists([id])? {
                        kept.push(i);
                    }
                }
                *keep = kept;
            }
            Ok(())
        })();
        if let Err(e) = self.db.execute_batch("COMMIT") {
            // Never leave this connection inside a transaction: every later BEGIN would fail.
            let _ = self.db.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        checked?;
        Ok(candidates)
    }
}

fn now_ms() -> u64 {
    u64::try_from(crate::clock::now_ms()).unwrap_or(0)
}

fn outcome(total: usize, new: usize) -> IngestOutcome {
    IngestOutcome {
        accepted: new,
        duplicates: total - new,
    }
}

fn answer_each(group: &mut Vec<Submission>, outcomes: Vec<IngestOutcome>) {
    for (sub, outcome) in group.drain(..).zip(outcomes) {
        // The client may have gone away; what it sent is stored either way.
        let _ = sub.reply.send(Ok(outcome));
    }
}

fn answer_all(group: &mut Vec<Submission>, refused: IngestRefused) {
    for sub in group.drain(..) {
        let _ = sub
            .reply
            .send(Err(StoreError::IngestRefused(refused.clone())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_backlog_refuses_after_the_wait_and_takes_work_once_freed() {
        let backlog = Backlog::new(10);
        assert!(backlog.acquire(10, Duration::ZERO));
        let started = std::time::Instant::now();
        assert!(
            !backlog.acquire(1, Duration::from_millis(50)),
            "full: refused"
        );
        assert!(started.elapsed() >= Duration::from_millis(50));
        backlog.release(4);
        assert!(backlog.acquire(4, Duration::ZERO));
        assert_eq!(backlog.current(), 10);
        // Larger than the whole budget: admitted only once the backlog is empty.
        backlog.release(10);
        assert!(backlog.acquire(25, Duration::ZERO));
    }

    #[tokio::test]
    async fn a_waiting_read_hurries_the_writer_until_its_position_is_applied() {
        let shared = Arc::new(Shared::new(3, 100));
        assert!(!shared.in_a_hurry());
        shared.acked.store(7, Ordering::SeqCst);
        let inbox = Inbox {
            queue: mpsc::channel(1).0,
            shared: Arc::clone(&shared),
        };
        let read = tokio::spawn(async move { inbox.caught_up().await });
        assert!(
            wait_for(|| shared.in_a_hurry()).await,
            "a read waiting for 7 hurries the writer"
        );
        shared.mark_applied(5, std::iter::empty(), 0);
        assert!(shared.in_a_hurry(), "5 is not 7 yet");
        shared.mark_applied(7, std::iter::empty(), 0);
        assert!(!shared.in_a_hurry());
        read.await.unwrap();
    }

    async fn wait_for(f: impl Fn() -> bool) -> bool {
        for _ in 0..200 {
            if f() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    }

    #[test]
    fn health_reports_a_backlog_that_stopped_moving() {
        let shared = Shared::new(0, 100);
        assert!(shared.is_progressing(), "nothing waiting");
        assert!(shared.backlog.acquire(5, Duration::ZERO));
        assert!(shared.is_progressing(), "just started waiting");
        shared
            .progress_ms
            .store(now_ms() - STALL.as_millis() as u64 - 1, Ordering::Relaxed);
        assert!(
            !shared.is_progressing(),
            "no progress for longer than STALL"
        );
        shared.mark_applied(1, std::iter::empty(), 5);
        assert!(shared.is_progressing());
    }
}
