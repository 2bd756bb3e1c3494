//! Group commit: one thread owns the write connection; callers send jobs and await their
//! result. The thread takes every job waiting in the queue (up to `max_jobs`), runs each inside
//! its own SAVEPOINT within one transaction, COMMITs once, and only then answers all callers.
//! A job that fails is rolled back to its savepoint alone; the others still commit.
//!
//! Savepoints are not free: inside one, every page a job touches is first copied to the
//! statement journal (about a fifth of the writer's CPU on ingest). So a batch made only of
//! re-runnable jobs (pure functions of their inputs, such as ingest) first runs without them;
//! if any job fails, the whole transaction is rolled back and the batch is run again with a
//! savepoint per job, so the outcome per job is the same as always using savepoints.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::StoreMetrics;
use crate::store::StoreError;

/// Events applied in one transaction at most. Random chat IDs put each new event on its own
/// page of the `chats` key; the pages of a transaction are written once however many events
/// share them, so larger transactions write fewer pages per event as the database grows
/// (measured at 1M events: 16.2 µs per event at 2,048, 12.0 µs at 8,192). Small enough that
/// other writes (webhooks) wait at most about a tenth of a second behind one.
const MAX_WEIGHT: usize = 8192;
/// How long inbox records may wait for more before they are applied (a full transaction ends
/// the wait early). Acknowledgements never wait for this; a read that has to wait for the
/// tables cuts it short (`hurry`), and so does any other write.
const LINGER: Duration = Duration::from_millis(200);
const LINGER_STEP: Duration = Duration::from_millis(2);
/// Pause before retrying a transaction that failed to commit (e.g. a full disk).
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// A unit of work run inside the shared transaction.
pub(crate) trait Job: Send {
    /// Runs the work; false means it failed and its savepoint must be rolled back.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Runs the work so that a failure undoes only its own changes; false means it failed.
    /// An `Err` is a database failure that dooms the whole transaction.
    fn run_isolated(&mut self, conn: &Connection) -> Result<bool, rusqlite::Error> {
        conn.prepare_cached("SAVEPOINT job")?.execute([])?;
        let ok = self.run(conn);
        if !ok {
            conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
        }
        conn.prepare_cached("RELEASE job")?.execute([])?;
        Ok(ok)
    }
    /// True when `run` may be called again after its changes were rolled back.
    fn rerunnable(&self) -> bool;
    /// How much work this is (events), to bound a transaction's size.
    fn weight(&self) -> usize {
        1
    }
    /// The inbox position this job brings the database to, recorded in the same transaction.
    fn inbox_seq(&self) -> Option<u64> {
        None
    }
    /// True when a failed COMMIT must be retried instead of reported (inbox records: they are
    /// acknowledged already and must reach the tables).
    fn retry_on_failed_commit(&self) -> bool {
        false
    }
    /// Delivers the outcome once the transaction's fate is known.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

struct TypedJob<T, F> {
    work: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result =
            catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or(Err(StoreError::JobPanicked));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn rerunnable(&self) -> bool {
        false
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        deliver(self.reply, commit, self.result);
    }
}

/// A job whose work only reads its captured inputs, so it can run again after a rollback.
struct RerunnableJob<T, F> {
    work: F,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for RerunnableJob<T, F>
where
    T: Send,
    F: Fn(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let result = catch_unwind(AssertUnwindSafe(|| (self.work)(conn)))
            .unwrap_or(Err(StoreError::JobPanicked));
        let ok = result.is_ok();
        // A later run (after a rollback) replaces the earlier result.
        self.result = Some(result);
        ok
    }

    fn rerunnable(&self) -> bool {
        true
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        deliver(self.reply, commit, self.result);
    }
}

fn deliver<T>(
    reply: oneshot::Sender<Result<T, StoreError>>,
    commit: Result<(), StoreError>,
    result: Option<Result<T, StoreError>>,
) {
    let outcome = match (commit, result) {
        (Err(e), _) => Err(e),
        (Ok(()), Some(result)) => result,
        (Ok(()), None) => Err(StoreError::WriterGone),
    };
    // The caller may have gone away (client disconnected); the data is committed anyway.
    let _ = reply.send(outcome);
}

#[derive(Clone)]
pub struct WriterHandle {
    queue: mpsc::Sender<Box<dyn Job>>,
}

pub struct Writer {
    pub handle: WriterHandle,
    pub thread: JoinHandle<()>,
}

impl WriterHandle {
    /// Runs `work` in the next group transaction; resolves after COMMIT.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(TypedJob {
            work: Some(work),
            result: None,
            reply,
        });
        self.submit(job, answer).await
    }

    /// Like [`write`](Self::write), for work that may run more than once in a transaction
    /// that is rolled back in between: it must depend only on its inputs and the database.
    /// Such jobs skip the per-job savepoint while no job of their batch fails.
    pub async fn write_rerunnable<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(RerunnableJob {
            work,
            result: None,
            reply,
        });
        self.submit(job, answer).await
    }

    async fn submit<T>(
        &self,
        job: Box<dyn Job>,
        answer: oneshot::Receiver<Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.queue
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Queues a job from a plain thread without waiting for its outcome (it reports through
    /// its own `finish`).
    pub(crate) fn enqueue_blocking(&self, job: Box<dyn Job>) -> Result<(), StoreError> {
        self.queue
            .blocking_send(job)
            .map_err(|_| StoreError::WriterGone)
    }

    /// Queues a job without waiting, from any context (used at start, when the queue is empty).
    pub(crate) fn try_enqueue(&self, job: Box<dyn Job>) -> Result<(), StoreError> {
        self.queue.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => StoreError::WriterGone,
        })
    }

    pub fn is_running(&self) -> bool {
        !self.queue.is_closed()
    }
}

/// Starts the writer thread. It stops when every handle is dropped, after the last commit.
pub fn start(
    conn: Connection,
    max_jobs: usize,
    queue_len: usize,
    metrics: Arc<StoreMetrics>,
    hurry: Arc<dyn Fn() -> bool + Send + Sync>,
) -> Result<Writer, StoreError> {
    let (queue, jobs) = mpsc::channel(queue_len);
    let thread = std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || {
            yield_to_requests();
            run(conn, jobs, max_jobs.max(1), &metrics, hurry.as_ref())
        })
        .map_err(|source| StoreError::Thread {
            thread: "sqlite-writer",
            source,
        })?;
    Ok(Writer {
        handle: WriterHandle { queue },
        thread,
    })
}

/// Nice 10 for this thread: ingest answers do not wait for it, so on a busy machine the request
/// and inbox threads should win the CPU and this one soak up what is left (its backlog is
/// bounded; past that, ingest waits for it). Without it, its bursts of applying thousands of
/// events at once showed up in the answers' p99 on 2 cores.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on the calling thread; on Linux the nice value is per thread.
        let rc = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10)
        };
        if rc != 0 {
            tracing::debug!("cannot lower the writer thread's priority");
        }
    }
}

fn run(
    conn: Connection,
    mut jobs: mpsc::Receiver<Box<dyn Job>>,
    max_jobs: usize,
    metrics: &StoreMetrics,
    hurry: &(dyn Fn() -> bool + Send + Sync),
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_jobs);
    // Jobs whose transaction failed to commit and that must not be dropped.
    let mut carry: Vec<Box<dyn Job>> = Vec::new();
    let mut failed_in_a_row = 0u32;
    loop {
        if carry.is_empty() {
            match jobs.blocking_recv() {
                Some(first) => batch.push(first),
                None => break,
            }
        } else if jobs.is_closed() && failed_in_a_row >= 3 {
            // Shutting down with a database that keeps failing: the records stay in the inbox
            // and are applied at the next start.
            tracing::error!(
                jobs = carry.len(),
                "writer stopped with inbox records not applied; they are applied at the next start"
            );
            break;
        } else {
            std::thread::sleep(RETRY_PAUSE);
            batch.append(&mut carry);
        }
        let mut weight: usize = batch.iter().map(|j| j.weight()).sum();
        let linger_until = Instant::now() + LINGER;
        loop {
            while batch.len() < max_jobs && weight < MAX_WEIGHT {
                match jobs.try_recv() {
                    Ok(job) => {
                        weight += job.weight();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            // Only inbox records so far: nobody waits on this commit, and a few milliseconds
            // gather many more events per transaction (each random-key page written then
            // carries several events instead of one).
            let only_inbox = batch.iter().all(|j| j.inbox_seq().is_some());
            if !only_inbox || weight >= MAX_WEIGHT || batch.len() >= max_jobs || hurry() {
                break;
            }
            let now = Instant::now();
            if now >= linger_until {
                break;
            }
            std::thread::sleep((linger_until - now).min(LINGER_STEP));
        }
        let started = Instant::now();
        let outcome = commit_batch(&conn, &mut batch);
        failed_in_a_row = if outcome.is_ok() {
            0
        } else {
            failed_in_a_row + 1
        };
        metrics.observe_commit(batch.len(), started.elapsed(), outcome.is_ok());
        if let Err(e) = &outcome {
            tracing::error!(error = %e, jobs = batch.len(), "group commit failed; its requests are answered with an error, inbox records are retried");
        }
        for job in batch.drain(..) {
            match &outcome {
                Ok(()) => job.finish(Ok(())),
                Err(_) if job.retry_on_failed_commit() => carry.push(job),
                Err(e) => job.finish(Err(StoreError::CommitFailed(e.to_string()))),
            }
        }
    }
}

fn commit_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), rusqlite::Error> {
    if batch.iter().all(|job| job.rerunnable()) {
        match run_without_savepoints(conn, batch) {
            Ok(Pass::Committed) => return Ok(()),
            // Rolled back; run again below so that only the failing job is left out.
            Ok(Pass::JobFailed) => {}
            Err(e) => {
                abandon(conn);
                return Err(e);
            }
        }
    }
    let result = run_with_savepoints(conn, batch);
    if result.is_err() {
        abandon(conn);
    }
    result
}

enum Pass {
    Committed,
    JobFailed,
}

fn run_without_savepoints(
    conn: &Connection,
    batch: &mut [Box<dyn Job>],
) -> Result<Pass, rusqlite::Error> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        if !job.run(conn) {
            conn.execute_batch("ROLLBACK")?;
            return Ok(Pass::JobFailed);
        }
    }
    record_inbox_position(conn, batch)?;
    conn.execute_batch("COMMIT")?;
    Ok(Pass::Committed)
}

fn run_with_savepoints(
    conn: &Connection,
    batch: &mut [Box<dyn Job>],
) -> Result<(), rusqlite::Error> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        job.run_isolated(conn)?;
    }
    record_inbox_position(conn, batch)?;
    conn.execute_batch("COMMIT")
}

/// Moves `ingest_state.applied_seq` to the last inbox record applied in this transaction.
fn record_inbox_position(conn: &Connection, batch: &[Box<dyn Job>]) -> Result<(), rusqlite::Error> {
    let Some(seq) = batch.iter().filter_map(|j| j.inbox_seq()).max() else {
        return Ok(());
    };
    conn.prepare_cached("UPDATE ingest_state SET applied_seq = max(applied_seq, ?1) WHERE id = 1")?
        .execute([i64::try_from(seq).unwrap_or(i64::MAX)])?;
    Ok(())
}

/// Leaves no half-done transaction behind for the next batch.
fn abandon(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER NOT NULL)")
            .unwrap();
        conn
    }

    /// A re-runnable job inserting `n` twice, failing in between when `fail` is set, so a
    /// failure leaves a partial write that must not survive.
    fn insert_job(
        n: i64,
        fail: bool,
        runs: Arc<AtomicUsize>,
    ) -> (Box<dyn Job>, oneshot::Receiver<Result<i64, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let work = move |conn: &Connection| {
            runs.fetch_add(1, Ordering::SeqCst);
            conn.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
            if fail {
                return Err(StoreError::UnknownConversation(n as i64));
            }
            conn.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
            Ok(n)
        };
        let job: Box<dyn Job> = Box::new(RerunnableJob {
            work,
            result: None,
            reply,
        });
        (job, answer)
    }

    fn stored(conn: &Connection) -> Vec<i64> {
        let mut stmt = conn.prepare("SELECT n FROM t ORDER BY n").unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn rerunnable_batch_without_failures_runs_each_job_once_and_commits() {
        let conn = db();
        let runs = Arc::new(AtomicUsize::new(0));
        let (mut batch, answers): (Vec<_>, Vec<_>) = (1..=3)
            .map(|n| insert_job(n, false, Arc::clone(&runs)))
            .unzip();
        commit_batch(&conn, &mut batch).unwrap();
        for job in batch {
            job.finish(Ok(()));
        }
        let results: Vec<i64> = answers
            .into_iter()
            .map(|mut a| a.try_recv().unwrap().unwrap())
            .collect();
        assert_eq!(results, vec![1, 2, 3]);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(stored(&conn), vec![1, 1, 2, 2, 3, 3]);
        assert!(conn.is_autocommit(), "the transaction is closed");
    }

    #[test]
    fn a_failing_rerunnable_job_is_rolled_back_alone() {
        let conn = db();
        let runs = Arc::new(AtomicUsize::new(0));
        let (mut batch, answers): (Vec<_>, Vec<_>) = [(1, false), (2, true), (3, false)]
            .into_iter()
            .map(|(n, fail)| insert_job(n, fail, Arc::clone(&runs)))
            .unzip();
        commit_batch(&conn, &mut batch).unwrap();
        for job in batch {
            job.finish(Ok(()));
        }
        let results: Vec<Result<i64, StoreError>> = answers
            .into_iter()
            .map(|mut a| a.try_recv().unwrap())
            .collect();
        assert!(matches!(results[0], Ok(1)));
        assert!(matches!(
            results[1],
            Err(StoreError::UnknownConversation(_))
        ));
        assert!(matches!(results[2], Ok(3)));
        // First pass: jobs 1 and 2 (stops at the failure); second pass with savepoints: all 3.
        assert_eq!(runs.load(Ordering::SeqCst), 5);
        // Job 2's first insert is gone; the others' rows are there exactly once.
        assert_eq!(stored(&conn), vec![1, 1, 3, 3]);
        assert!(conn.is_autocommit(), "the transaction is closed");
    }
}
