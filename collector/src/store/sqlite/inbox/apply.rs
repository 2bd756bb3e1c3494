//! The writer-side job that applies a group of inbox records to the mapping tables.
//!
//! It runs inside the writer's shared transaction like any job, and the writer records the
//! highest applied sequence number in the same transaction (`ingest_state`), so "applied" and
//! "in the tables" can never disagree after a crash. A record that cannot be applied (a bug,
//! never bad input: it was validated before it was acknowledged) is kept whole in
//! `inbox_rejects` with the reason instead of blocking the ones behind it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;

use rusqlite::{params, Connection};

use super::record::Record;
use super::Shared;
use crate::store::sqlite::ingest::{self, Prepared};
use crate::store::sqlite::writer::Job;
use crate::store::StoreError;

/// One acknowledged request: the events that were new when it was appended.
pub struct Entry {
    pub seq: u64,
    pub site: String,
    pub received_at: i64,
    pub events: Vec<Prepared>,
}

pub struct InboxBatch {
    /// Set once the batch's outcome is delivered; until then, dropping it frees its backlog.
    finished: bool,
    entries: Vec<Entry>,
    /// Recovered records whose events no longer parse; they go to `inbox_rejects`.
    unreadable: Vec<(Record, String)>,
    shared: Arc<Shared>,
    done: Option<mpsc::Sender<()>>,
}

impl InboxBatch {
    pub fn new(entries: Vec<Entry>, shared: Arc<Shared>) -> InboxBatch {
        InboxBatch {
            finished: false,
            entries,
            unreadable: Vec::new(),
            shared,
            done: None,
        }
    }

    /// Records read back from the log at start; the receiver fires once they are committed.
    pub fn recovered(
        records: Vec<Record>,
        shared: Arc<Shared>,
    ) -> (InboxBatch, mpsc::Receiver<()>) {
        let mut entries = Vec::with_capacity(records.len());
        let mut unreadable = Vec::new();
        for record in records {
            let parsed: Result<Vec<Prepared>, String> = record
                .bodies
                .iter()
                .map(|b| Prepared::from_body(b.clone()).map_err(|e| e.to_string()))
                .collect();
            match parsed {
                Ok(events) => entries.push(Entry {
                    seq: record.seq,
                    site: record.site,
                    received_at: record.received_at,
                    events,
                }),
                Err(e) => unreadable.push((record, e)),
            }
        }
        let (tx, rx) = mpsc::channel();
        let batch = InboxBatch {
            finished: false,
            entries,
            unreadable,
            shared,
            done: Some(tx),
        };
        (batch, rx)
    }

    pub fn records(&self) -> usize {
        self.entries.len() + self.unreadable.len()
    }

    pub fn events(&self) -> usize {
        self.entries.iter().map(|e| e.events.len()).sum::<usize>()
            + self
                .unreadable
                .iter()
                .map(|(r, _)| r.bodies.len())
                .sum::<usize>()
    }

    pub fn event_ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries
            .iter()
            .flat_map(|e| e.events.iter().map(Prepared::event_id))
    }

    fn last_seq(&self) -> Option<u64> {
        let entries = self.entries.iter().map(|e| e.seq);
        entries
            .chain(self.unreadable.iter().map(|(r, _)| r.seq))
            .max()
    }

    fn reject_unreadable(&self, conn: &Connection) -> Result<(), rusqlite::Error> {
        for (record, reason) in &self.unreadable {
            reject(
                conn,
                record.seq,
                &record.site,
                record.received_at,
                &record.bodies,
                reason,
            )?;
        }
        Ok(())
    }
}

impl Job for InboxBatch {
    fn run(&mut self, conn: &Connection) -> bool {
        for e in &self.entries {
            if apply_guarded(conn, e).is_err() {
                return false;
            }
        }
        self.reject_unreadable(conn).is_ok()
    }

    fn run_isolated(&mut self, conn: &Connection) -> Result<bool, rusqlite::Error> {
        let mut savepoint = conn.prepare_cached("SAVEPOINT record")?;
        let mut release = conn.prepare_cached("RELEASE record")?;
        let mut rollback = conn.prepare_cached("ROLLBACK TO record")?;
        for e in &self.entries {
            savepoint.execute([])?;
            match apply_guarded(conn, e) {
                Ok(()) => {}
                // The database itself failed (disk full, I/O, locks): abandon the transaction
                // so that the whole batch is retried, instead of setting acknowledged events
                // aside.
                Err(StoreError::Sqlite(error)) if !is_about_the_data(&error) => return Err(error),
                Err(error) => {
                    rollback.execute([])?;
                    let bodies: Vec<String> =
                        e.events.iter().map(|p| p.body().to_owned()).collect();
                    tracing::error!(seq = e.seq, site = %e.site, %error, "inbox: a record could not be applied; kept in inbox_rejects");
                    reject(
                        conn,
                        e.seq,
                        &e.site,
                        e.received_at,
                        &bodies,
                        &error.to_string(),
                    )?;
                }
            }
            release.execute([])?;
        }
        self.reject_unreadable(conn)?;
        Ok(true)
    }

    fn rerunnable(&self) -> bool {
        true
    }

    fn weight(&self) -> usize {
        self.events().max(1)
    }

    fn inbox_seq(&self) -> Option<u64> {
        self.last_seq()
    }

    fn retry_on_failed_commit(&self) -> bool {
        true
    }

    fn finish(mut self: Box<Self>, commit: Result<(), StoreError>) {
        // Either way the outcome is settled here: applied, or still in the log for the next
        // start. Drop must not release the backlog a second time.
        self.finished = true;
        if commit.is_err() {
            self.shared.backlog.release(self.events());
            return;
        }
        if let Some(seq) = self.last_seq() {
            let events = self.events();
            self.shared.mark_applied(seq, self.event_ids(), events);
        }
        if let Some(done) = &self.done {
            let _ = done.send(());
        }
    }
}

/// A batch dropped without an outcome (the writer stopped with it queued) is still in the log;
/// freeing its backlog keeps ingest from waiting on events nobody will apply in this run.
impl Drop for InboxBatch {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.backlog.release(self.events());
        }
    }
}

/// `ingest::apply` with a panic turned into an error, so one bad record cannot take the writer
/// thread (and with it every later write) down.
fn apply_guarded(conn: &Connection, e: &Entry) -> Result<(), StoreError> {
    catch_unwind(AssertUnwindSafe(|| {
        ingest::apply(conn, &e.site, &e.events, e.received_at)
    }))
    .unwrap_or(Err(StoreError::JobPanicked))
    .map(|_| ())
}

/// True for SQLite failures caused by the record itself (a constraint, an oversized value);
/// false for the database failing (I/O, full disk, locks), which a retry can fix.
fn is_about_the_data(error: &rusqlite::Error) -> bool {
    match error {
        rusqlite::Error::SqliteFailure(e, _) => matches!(
            e.code,
            rusqlite::ErrorCode::ConstraintViolation
                | rusqlite::ErrorCode::TooBig
                | rusqlite::ErrorCode::TypeMismatch
        ),
        // Conversions and the like: about the values, not the disk.
        _ => true,
    }
}

fn reject(
    conn: &Connection,
    seq: u64,
    site: &str,
    received_at: i64,
    bodies: &[String],
    reason: &str,
) -> Result<(), rusqlite::Error> {
    let bodies = serde_json::to_string(bodies).unwrap_or_else(|_| "[]".into());
    conn.prepare_cached(
        "INSERT INTO inbox_rejects (seq, site, received_at, bodies, error, rejected_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (seq) DO NOTHING",
    )?
    .execute(params![
        i64::try_from(seq).unwrap_or(i64::MAX),
        site,
        received_at,
        bodies,
        reason,
        crate::clock::now_ms()
    ])?;
    Ok(())
}
