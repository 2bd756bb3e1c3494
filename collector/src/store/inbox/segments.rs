//! The inbox on disk: append-only segment files `<first seq>.log` in one directory, guarded by
//! an exclusive lock on `LOCK` (one collector process appends; a second one is refused).
//!
//! A group of records is written with one `write` and made durable with one `fdatasync`
//! before any of its requests is answered. Whole segments are deleted once every record in them
//! is applied to the database (and that is committed), so the files hold only the backlog.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::record::{decode, Decoded, Record};
use crate::store::StoreError;

/// A new segment is started once the current one is this large.
pub const SEGMENT_BYTES: u64 = 64 << 20;

pub struct SegmentLog {
    dir: PathBuf,
    /// Held for the life of the log: the OS releases the lock when the process dies.
    _lock: File,
    /// First sequence number of each segment, oldest first; the last one is `file`.
    segments: VecDeque<u64>,
    file: File,
    len: u64,
    segment_bytes: u64,
}

/// Takes the inbox directory's lock; `None` when another process holds it.
pub fn try_lock(dir: &Path) -> Result<Option<File>, StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
        path: dir.display().to_string(),
        source,
    })?;
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_error("open", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(io_error("lock", &path, e)),
    }
}

impl SegmentLog {
    /// Reads every segment, cuts a torn tail off the newest one, and returns the records not
    /// yet applied (`seq > applied_seq`) in order, with the log ready for appending.
    pub fn open(
        dir: &Path,
        lock: File,
        applied_seq: u64,
    ) -> Result<(SegmentLog, Vec<Record>), StoreError> {
        Self::open_with(dir, lock, applied_seq, SEGMENT_BYTES)
    }

    fn open_with(
        dir: &Path,
        lock: File,
        applied_seq: u64,
        segment_bytes: u64,
    ) -> Result<(SegmentLog, Vec<Record>), StoreError> {
        let mut firsts = list_segments(dir)?;
        firsts.sort_unstable();
        let mut pending = Vec::new();
        let mut last_seq = applied_seq;
        let count = firsts.len();
        for (i, first) in firsts.iter().enumerate() {
            let path = segment_path(dir, *first);
            let mut buf = Vec::new();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut buf))
                .map_err(|e| io_error("read", &path, e))?;
            let mut at = 0;
            loop {
                match decode(&buf[at..]) {
                    Decoded::Record(record, used) => {
                        at += used;
                        if record.seq <= last_seq && record.seq > applied_seq {
                            return Err(StoreError::Corrupt(format!(
                                "{}: record {} is out of order",
                                path.display(),
                                record.seq
                            )));
                        }
                        if record.seq > applied_seq {
                            last_seq = record.seq;
                            pending.push(record);
                        }
                    }
                    Decoded::End => break,
                    Decoded::Torn if i + 1 == count => {
                        // The write that was under way when the process died: never answered.
                        tracing::warn!(file = %path.display(), offset = at, cut = buf.len() - at, "inbox: cutting a torn write off the newest segment");
                        let f = OpenOptions::new()
                            .write(true)
                            .open(&path)
                            .map_err(|e| io_error("open", &path, e))?;
                        f.set_len(at as u64)
                            .and_then(|()| f.sync_all())
                            .map_err(|e| io_error("truncate", &path, e))?;
                        break;
                    }
                    Decoded::Torn => {
                        return Err(StoreError::Corrupt(format!(
                            "{}: damaged record at byte {at} in a segment that is not the newest; \
                             move the file aside to start without it",
                            path.display()
                        )));
                    }
                }
            }
        }
        let mut segments: VecDeque<u64> = firsts.into();
        let current = match segments.back() {
            Some(first) => *first,
            None => {
                let first = last_seq + 1;
                create_segment(dir, first)?;
                segments.push_back(first);
                first
            }
        };
        let path = segment_path(dir, current);
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| io_error("open", &path, e))?;
        let len = file
            .metadata()
            .map_err(|e| io_error("stat", &path, e))?
            .len();
        let log = SegmentLog {
            dir: dir.to_owned(),
            _lock: lock,
            segments,
            file,
            len,
            segment_bytes,
        };
        Ok((log, pending))
    }

    /// Writes `bytes` (whole frames) and makes them durable. On failure the segment is cut
    /// back to where it was, so no partial frame stays in front of later appends.
    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let result = self
            .file
            .write_all(bytes)
            .and_then(|()| self.file.sync_data());
        match result {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                // If even this fails, the next append would follow garbage; recovery would then
                // stop at it. Report the original error either way.
                let _ = self
                    .file
                    .set_len(self.len)
                    .and_then(|()| self.file.sync_data());
                Err(e)
            }
        }
    }

    /// Starts a new segment at `next_seq` when the current one is full.
    pub fn rotate_if_full(&mut self, next_seq: u64) -> Result<(), StoreError> {
        if self.len < self.segment_bytes {
            return Ok(());
        }
        let path = create_segment(&self.dir, next_seq)?;
        self.file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| io_error("open", &path, e))?;
        self.len = 0;
        self.segments.push_back(next_seq);
        Ok(())
    }

    /// Deletes the segments whose records are all at or below `applied_seq`.
    pub fn drop_applied(&mut self, applied_seq: u64) {
        while self.segments.len() > 1 && self.segments[1] <= applied_seq + 1 {
            let Some(first) = self.segments.pop_front() else {
                break;
            };
            let path = segment_path(&self.dir, first);
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(file = %path.display(), error = %e, "inbox: cannot delete an applied segment");
            }
        }
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

fn list_segments(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_error("list", dir, e))?;
    let mut firsts = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error("list", dir, e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".log")) else {
            continue;
        };
        if let Ok(first) = stem.parse::<u64>() {
            firsts.push(first);
        }
    }
    Ok(firsts)
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.log"))
}

/// Creates an empty segment and makes its directory entry durable.
fn create_segment(dir: &Path, first: u64) -> Result<PathBuf, StoreError> {
    let path = segment_path(dir, first);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error("create", &path, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("sync", dir, e))?;
    Ok(path)
}

fn io_error(action: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Inbox(format!("cannot {action} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> Record {
        Record {
            seq,
            received_at: seq as i64,
            site: "shop.example".into(),
            bodies: vec![format!("{{\"n\":{seq}}}")],
        }
    }

    fn frames(seqs: impl IntoIterator<Item = u64>) -> Vec<u8> {
        let mut buf = Vec::new();
        for seq in seqs {
            record(seq).encode_into(&mut buf);
        }
        buf
    }

    fn open(dir: &Path, applied: u64, segment_bytes: u64) -> (SegmentLog, Vec<Record>) {
        let lock = try_lock(dir).unwrap().expect("lock is free");
        SegmentLog::open_with(dir, lock, applied, segment_bytes).unwrap()
    }

    fn seqs(records: &[Record]) -> Vec<u64> {
        records.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn appended_records_come_back_after_reopening_minus_the_applied_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, pending) = open(dir.path(), 0, SEGMENT_BYTES);
        assert!(pending.is_empty());
        log.append(&frames(1..=3)).unwrap();
        log.append(&frames(4..=5)).unwrap();
        drop(log);
        let (_, pending) = open(dir.path(), 2, SEGMENT_BYTES);
        assert_eq!(seqs(&pending), vec![3, 4, 5]);
        assert_eq!(pending[1], record(4));
    }

    #[test]
    fn a_second_process_cannot_take_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let held = try_lock(dir.path()).unwrap();
        assert!(held.is_some());
        // File locks are per open file description, so a second open in this process stands
        // in for a second process.
        assert!(try_lock(dir.path()).unwrap().is_none());
        drop(held);
        assert!(try_lock(dir.path()).unwrap().is_some());
    }

    #[test]
    fn a_torn_tail_is_cut_and_appending_continues_after_the_last_whole_record() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = open(dir.path(), 0, SEGMENT_BYTES);
        log.append(&frames(1..=2)).unwrap();
        let torn = frames(3..=3);
        log.append(&torn[..torn.len() - 5]).unwrap();
        drop(log);
        let (mut log, pending) = open(dir.path(), 0, SEGMENT_BYTES);
        assert_eq!(seqs(&pending), vec![1, 2]);
        log.append(&frames(3..=4)).unwrap();
        drop(log);
        let (_, pending) = open(dir.path(), 0, SEGMENT_BYTES);
        assert_eq!(seqs(&pending), vec![1, 2, 3, 4]);
    }

    #[test]
    fn damage_in_an_older_segment_is_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = open(dir.path(), 0, 1);
        log.append(&frames(1..=2)).unwrap();
        log.rotate_if_full(3).unwrap();
        log.append(&frames(3..=3)).unwrap();
        drop(log);
        let old = segment_path(dir.path(), 1);
        let mut bytes = std::fs::read(&old).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&old, bytes).unwrap();
        let lock = try_lock(dir.path()).unwrap().unwrap();
        let err = SegmentLog::open_with(dir.path(), lock, 0, 1)
            .err()
            .expect("refused");
        assert!(
            err.to_string().contains("00000000000000000001.log"),
            "{err}"
        );
    }

    #[test]
    fn full_segments_rotate_and_are_deleted_once_applied() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = open(dir.path(), 0, 1);
        for seq in 1..=4 {
            log.rotate_if_full(seq).unwrap();
            log.append(&frames(seq..=seq)).unwrap();
        }
        assert_eq!(log.segment_count(), 4);
        log.drop_applied(2);
        // Segments 1 and 2 are applied; 3 is not, and 4 is the one being written.
        assert_eq!(log.segment_count(), 2);
        log.drop_applied(4);
        assert_eq!(log.segment_count(), 1, "the current segment stays");
        drop(log);
        let (_, pending) = open(dir.path(), 4, 1);
        assert!(pending.is_empty());
        let (_, pending) = open(dir.path(), 3, 1);
        assert_eq!(seqs(&pending), vec![4]);
    }
}
