//! Group commit: one thread owns the write connection; callers send jobs and await their
//! result. The thread takes every job waiting in the queue (up to `max_jobs`), runs each inside
//! its own SAVEPOINT within one transaction, COMMITs once, and only then answers all callers.
//! A job that fails is rolled back to its savepoint alone; the others still commit.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;
use crate::metrics::StoreMetrics;

/// A unit of work run inside the shared transaction.
trait Job: Send {
    /// Runs the work; false means it failed and its savepoint must be rolled back.
    fn run(&mut self, conn: &Connection) -> bool;
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

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let outcome = match (commit, self.result) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::WriterGone),
        };
        // The caller may have gone away (client disconnected); the data is committed anyway.
        let _ = self.reply.send(outcome);
    }
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
        self.queue
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
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
) -> Result<Writer, StoreError> {
    let (queue, jobs) = mpsc::channel(queue_len);
    let thread = std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || run(conn, jobs, max_jobs.max(1), &metrics))
        .map_err(|e| StoreError::Commit(format!("cannot start the writer thread: {e}")))?;
    Ok(Writer {
        handle: WriterHandle { queue },
        thread,
    })
}

fn run(
    conn: Connection,
    mut jobs: mpsc::Receiver<Box<dyn Job>>,
    max_jobs: usize,
    metrics: &StoreMetrics,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_jobs);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < max_jobs {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let outcome = commit_batch(&conn, &mut batch);
        metrics.observe_commit(batch.len(), started.elapsed(), outcome.is_ok());
        if let Err(e) = &outcome {
            tracing::error!(error = %e, jobs = batch.len(), "group commit failed; every request in it is answered with an error");
        }
        for job in batch.drain(..) {
            job.finish(match &outcome {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Commit(e.to_string())),
            });
        }
    }
}

fn commit_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), rusqlite::Error> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        // Cached: these run once per request, and parsing them each time shows in profiles.
        let mut savepoint = conn.prepare_cached("SAVEPOINT job")?;
        let mut release = conn.prepare_cached("RELEASE job")?;
        let mut rollback = conn.prepare_cached("ROLLBACK TO job")?;
        for job in batch.iter_mut() {
            savepoint.execute([])?;
            if !job.run(conn) {
                rollback.execute([])?;
            }
            release.execute([])?;
        }
        conn.execute_batch("COMMIT")
    })();
    if result.is_err() && !conn.is_autocommit() {
        // Leave no half-done transaction behind for the next batch.
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}
