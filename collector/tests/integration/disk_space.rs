//! Disk space as a managed resource, on a real small volume (a tmpfs the test mounts; it needs
//! root, and says so and skips otherwise): the collector starts on it, refuses writes with 503
//! and Retry-After below its free-space floor, and resumes by itself when space returns — with
//! every acknowledged event stored. Without a floor, a volume filled to the last byte makes
//! ingest fail, and it also resumes by itself once space is freed.

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::json;

/// A tmpfs mounted on a temporary directory, unmounted on drop.
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().to_owned();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!(
                "SKIPPED: cannot mount a tmpfs here (needs root); the disk-space tests did not run"
            );
            return None;
        }
        Some(Tmpfs { _dir: dir, path })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn free_bytes(path: &Path) -> u64 {
    chattag_collector::disk::free_bytes(path).unwrap()
}

/// Writes a file until the volume has `leave` bytes free (0: until it is full).
fn fill(path: &Path, leave: u64) -> PathBuf {
    let file = path.join(format!("filler-{}", random_bytes::<4>()[0]));
    let mut f = std::fs::File::create(&file).unwrap();
    let chunk = vec![7u8; 64 << 10];
    loop {
        let free = free_bytes(path);
        if free <= leave {
            break;
        }
        let n = (free - leave).min(chunk.len() as u64) as usize;
        if f.write_all(&chunk[..n]).is_err() {
            break;
        }
    }
    let _ = f.sync_all();
    file
}

fn batch() -> serde_json::Value {
    json!((0..20).map(|_| issue(&new_chat_id())).collect::<Vec<_>>())
}

#[test]
fn a_small_volume_hits_the_floor_and_ingest_resumes_when_space_returns() {
    if common::skip_on_postgres("the free-space floor watches the SQLite file's volume") {
        return;
    }
    let Some(vol) = Tmpfs::mount("24m") else {
        return;
    };
    let db = vol.path.join("chattag.db");
    let server = Server::start_at(
        tempfile::tempdir().unwrap(),
        db,
        &["--allowed-origin", ORIGIN, "--min-free-mb", "4"],
        &[("CHATTAG_READ_TOKEN", TOKEN), ("CHATTAG_RATE_LIMIT", "0")],
    );
    // It started on a volume smaller than one default segment, and what the inbox holds
    // leaves the volume usable.
    let inbox: u64 = std::fs::read_dir(vol.path.join("chattag.db-inbox"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(inbox <= 3 << 20, "the inbox takes {inbox} bytes of 24 MB");
    let mut acked = 0;
    for _ in 0..10 {
        let r = server.post_events(&batch());
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        acked += r.json()["accepted"].as_i64().unwrap();
    }
    // Leave 2 MB: under the 4 MB floor.
    let filler = fill(&vol.path, 2 << 20);
    let refused = wait_until(Duration::from_secs(5), || {
        let r = server.post_events(&batch());
        if r.status == 200 {
            acked += r.json()["accepted"].as_i64().unwrap();
            return false;
        }
        assert_eq!(r.status, 503);
        assert_eq!(r.error().0, "disk_space_low");
        assert_eq!(r.header("retry-after"), Some("60"));
        true
    });
    assert!(refused, "ingest went on below the floor");
    std::fs::remove_file(&filler).unwrap();
    let resumed = wait_until(Duration::from_secs(5), || {
        let r = server.post_events(&batch());
        if r.status == 200 {
            acked += r.json()["accepted"].as_i64().unwrap();
        }
        r.status == 200
    });
    assert!(resumed, "ingest did not resume after space returned");
    assert_eq!(server.db_count("SELECT count(*) FROM events"), acked);
}

#[test]
fn a_full_volume_refuses_ingest_and_recovers_without_a_restart() {
    if common::skip_on_postgres("the free-space floor watches the SQLite file's volume") {
        return;
    }
    let Some(vol) = Tmpfs::mount("16m") else {
        return;
    };
    let db = vol.path.join("chattag.db");
    let server = Server::start_at(
        tempfile::tempdir().unwrap(),
        db,
        &["--allowed-origin", ORIGIN, "--min-free-mb", "0"],
        &[("CHATTAG_READ_TOKEN", TOKEN), ("CHATTAG_RATE_LIMIT", "0")],
    );
    let mut acked = 0;
    let filler = fill(&vol.path, 0);
    // Acknowledged while the inbox segment has room; refused once it has none.
    let mut refusals = 0;
    for _ in 0..400 {
        let r = server.post_events(&batch());
        match r.status {
            200 => acked += r.json()["accepted"].as_i64().unwrap(),
            503 => {
                refusals += 1;
                if refusals >= 3 {
                    break;
                }
            }
            s => panic!("unexpected {s}: {}", String::from_utf8_lossy(&r.body)),
        }
    }
    assert!(refusals >= 3, "a full volume never refused ingest");
    std::fs::remove_file(&filler).unwrap();
    let resumed = wait_until(Duration::from_secs(10), || {
        let r = server.post_events(&batch());
        if r.status == 200 {
            acked += r.json()["accepted"].as_i64().unwrap();
        }
        r.status == 200
    });
    assert!(resumed, "ingest stayed refused after space returned");
    assert_eq!(server.db_count("SELECT count(*) FROM events"), acked);
}
