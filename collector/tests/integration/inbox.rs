//! The ingest inbox (`<db>-inbox/`): one server per database, events acknowledged but not yet
//! applied when the server dies are applied by the next tool run or server start, and the
//! backlog is reported on /healthz and /metrics.

use crate::common;

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// Requests (one issue + one click each) posted before the kill in the leftovers scenario.
const LEFTOVER_REQUESTS: usize = 3;
/// Fresh servers tried before giving up on catching the applier behind the acknowledgements.
const LEFTOVER_ATTEMPTS: usize = 5;

/// What a finished child process left.
struct Exited {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs the collector binary with `args` (and only `env` from the `CHATTAG_*` variables),
/// waiting at most `timeout`; a process still running then is killed and the test fails.
fn run_bounded(args: &[&std::ffi::OsStr], env: &[(&str, &str)], timeout: Duration) -> Exited {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chattag-collector"));
    cmd.args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CHATTAG_")) {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn chattag-collector");
    // Drained on threads so that a chatty child cannot block on a full pipe while we wait.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        let stdout = out_reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        panic!(
            "chattag-collector {args:?} still running after {timeout:?}; killed.\n\
             stdout: {stdout}\nstderr: {stderr}"
        );
    };
    Exited {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

fn stored_event_ids(db: &Path) -> HashSet<String> {
    let conn = read_only(db);
    let mut stmt = conn
        .prepare("SELECT event_id FROM events")
        .expect("prepare");
    let ids = stmt
        .query_map([], |r| r.get(0))
        .expect("query events")
        .collect::<Result<_, _>>()
        .expect("read events");
    ids
}

fn applied_seq(db: &Path) -> i64 {
    read_only(db)
        .query_row(
            "SELECT applied_seq FROM ingest_state WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .expect("ingest_state row")
}

fn count(db: &Path, sql: &str) -> i64 {
    read_only(db)
        .query_row(sql, [], |r| r.get(0))
        .expect("count query")
}

fn inbox_dir(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-inbox");
    PathBuf::from(name)
}

/// Bytes in the inbox's segment files (`*.log`).
fn segment_bytes(db: &Path) -> u64 {
    std::fs::read_dir(inbox_dir(db))
        .expect("list the inbox directory")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum()
}

fn event_ids(batch: &Value) -> Vec<String> {
    batch
        .as_array()
        .expect("a batch is an array")
        .iter()
        .map(|e| e["event_id"].as_str().expect("event_id").to_owned())
        .collect()
}

/// A killed server whose inbox holds acknowledged events that are not in the tables yet.
struct Leftovers {
    server: Server,
    batches: Vec<Value>,
    acked: Vec<String>,
    applied_before: i64,
}

/// Posts a few requests and SIGKILLs the server right after the last answer, so that the
/// applier (which lingers up to 50 ms to batch inbox records) has not applied all of them.
/// Retries with a fresh server when it was faster than the kill.
fn leftovers() -> Leftovers {
    let mut seen = Vec::new();
    for attempt in 1..=LEFTOVER_ATTEMPTS {
        let mut server = Server::start(&[]);
        let batches: Vec<Value> = (0..LEFTOVER_REQUESTS)
            .map(|_| {
                let id = new_chat_id();
                json!([issue(&id), click(&id)])
            })
            .collect();
        for batch in &batches {
            let res = server.post_events(batch);
            assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
            assert_eq!(res.json(), json!({"accepted": 2, "duplicates": 0}));
        }
        server.kill9();

        let acked: Vec<String> = batches.iter().flat_map(event_ids).collect();
        let stored = stored_event_ids(&server.db);
        let missing = acked.iter().filter(|id| !stored.contains(*id)).count();
        if missing > 0 {
            // Acknowledged means durable in the inbox: the segment files must hold them.
            assert!(
                segment_bytes(&server.db) > 0,
                "{missing} acknowledged events are neither in the tables nor in {}",
                inbox_dir(&server.db).display()
            );
            let applied_before = applied_seq(&server.db);
            eprintln!(
                "attempt {attempt}: {missing} of {} acknowledged events not applied at the kill \
                 (applied_seq {applied_before})",
                acked.len()
            );
            return Leftovers {
                server,
                batches,
                acked,
                applied_before,
            };
        }
        seen.push(stored.len());
    }
    panic!(
        "precondition never held: in {LEFTOVER_ATTEMPTS} attempts every acknowledged event was \
         already in `events` when the server was killed right after the last answer (the \
         applier is expected to linger ~50 ms before applying); events stored per attempt: {seen:?}"
    );
}

fn assert_all_stored(db: &Path, acked: &[String]) {
    let stored = stored_event_ids(db);
    let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged events not in `events`, e.g. {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(3)]
    );
    // Whole requests: each issue came with its click.
    assert_eq!(
        count(db, "SELECT count(*) FROM clicks"),
        count(db, "SELECT count(*) FROM events WHERE kind = 'issue'"),
        "a request was half-applied"
    );
    assert_eq!(
        count(db, "SELECT count(*) FROM inbox_rejects"),
        0,
        "records were rejected instead of applied"
    );
}

/// `chattag_inbox_backlog_events <n>` from an OpenMetrics exposition.
fn backlog_gauge(metrics: &str) -> Option<i64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix("chattag_inbox_backlog_events ")
            .and_then(|v| v.trim().parse().ok())
    })
}

#[test]
fn a_second_server_on_the_same_database_is_refused_and_the_first_keeps_serving() {
    if common::skip_on_postgres(
        "the inbox lock is SQLite's; several servers on one PostgreSQL database is the point",
    ) {
        return;
    }
    let server = Server::start(&[]);
    // Something in the inbox, so that the first server is demonstrably the one holding it.
    let id = new_chat_id();
    let first = json!([issue(&id), click(&id)]);
    assert_eq!(server.post_events(&first).status, 200);

    let second = run_bounded(
        &[
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--db".as_ref(),
            server.db.as_os_str(),
            "--allowed-origin".as_ref(),
            ORIGIN.as_ref(),
        ],
        &[
            ("CHATTAG_RATE_LIMIT", "0"),
            ("CHATTAG_LOG", "warn"),
            ("CHATTAG_MIN_FREE_MB", "0"),
        ],
        Duration::from_secs(10),
    );
    assert!(
        !second.status.success(),
        "the second server exited successfully: {:?}\nstdout: {}\nstderr: {}",
        second.status,
        second.stdout,
        second.stderr
    );
    assert!(
        !second.stdout.contains("listening"),
        "the second server started listening: {}",
        second.stdout
    );
    let dir = inbox_dir(&server.db);
    assert!(
        second.stderr.contains(&*dir.to_string_lossy()),
        "the error does not name the inbox directory {}: {}",
        dir.display(),
        second.stderr
    );

    // The first one still answers ingest and applies what it accepts.
    let id = new_chat_id();
    let batch = json!([issue(&id), click(&id)]);
    let res = server.post_events(&batch);
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json(), json!({"accepted": 2, "duplicates": 0}));
    let mut acked = event_ids(&first);
    acked.extend(event_ids(&batch));
    server.caught_up();
    assert_all_stored(&server.db, &acked);
}

#[test]
fn migrate_applies_what_a_killed_server_left_in_the_inbox() {
    if common::skip_on_postgres("PostgreSQL has no inbox: ingest is answered after COMMIT") {
        return;
    }
    let Leftovers {
        mut server,
        batches,
        acked,
        applied_before,
    } = leftovers();

    let out = run_bounded(
        &["migrate".as_ref(), "--db".as_ref(), server.db.as_os_str()],
        &[],
        Duration::from_secs(10),
    );
    assert!(
        out.status.success(),
        "migrate failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        out.stdout,
        out.stderr
    );
    assert_all_stored(&server.db, &acked);
    let applied_after = applied_seq(&server.db);
    assert!(
        applied_after > applied_before,
        "ingest_state.applied_seq did not move: {applied_before} -> {applied_after}"
    );

    // The tool let go of the inbox: a server starts on the database, takes the resend as
    // duplicates, and numbers new records after the applied ones (a new record that reused an
    // applied sequence number would be skipped after the next kill).
    server.restart();
    let all: Vec<Value> = batches
        .iter()
        .flat_map(|b| b.as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(
        server.post_events(&Value::Array(all)).json(),
        json!({"accepted": 0, "duplicates": acked.len()})
    );
    let id = new_chat_id();
    let fresh = json!([issue(&id), click(&id)]);
    assert_eq!(
        server.post_events(&fresh).json(),
        json!({"accepted": 2, "duplicates": 0})
    );
    server.kill9();
    server.restart();
    server.caught_up();
    let mut everything = acked.clone();
    everything.extend(event_ids(&fresh));
    assert_all_stored(&server.db, &everything);
}

#[test]
fn a_restarted_server_applies_what_it_left_and_dedupes_resends() {
    if common::skip_on_postgres("PostgreSQL has no inbox: ingest is answered after COMMIT") {
        return;
    }
    let Leftovers {
        mut server,
        batches,
        acked,
        applied_before,
    } = leftovers();

    server.restart();
    // Straight away (the recovered events may still be waiting for the applier) and again
    // once they are in the tables: the same events are duplicates either way.
    let first_resend: Vec<Value> = batches
        .iter()
        .map(|b| server.post_events(b).json())
        .collect();
    server.caught_up();
    assert_all_stored(&server.db, &acked);
    assert!(
        applied_seq(&server.db) > applied_before,
        "ingest_state.applied_seq did not move past {applied_before}"
    );
    for (i, res) in first_resend.iter().enumerate() {
        assert_eq!(
            res,
            &json!({"accepted": 0, "duplicates": 2}),
            "resend of request {i} right after the restart"
        );
    }
    for batch in &batches {
        assert_eq!(
            server.post_events(batch).json(),
            json!({"accepted": 0, "duplicates": 2}),
            "resend after catch-up"
        );
    }
    assert_eq!(
        count(&server.db, "SELECT count(*) FROM events"),
        acked.len() as i64,
        "resends were stored again"
    );
}

#[test]
fn the_backlog_is_reported_and_drains_to_zero() {
    if common::skip_on_postgres("PostgreSQL has no inbox, so no backlog") {
        return;
    }
    const BURST: usize = 20;
    const BURSTS: usize = 5;
    let server = Server::start(&[]);
    let mut acked = Vec::new();
    // The gauge must show a backlog right after a burst (the applier lingers up to 50 ms, so
    // it normally still holds the last requests); a burst that was applied before the scrape
    // is retried, up to BURSTS times.
    let mut seen = Vec::new();
    for _ in 0..BURSTS {
        for _ in 0..BURST {
            let id = new_chat_id();
            let batch = json!([issue(&id), click(&id)]);
            let res = server.post_events(&batch);
            assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
            acked.extend(event_ids(&batch));
        }
        let res = server.request("GET", "/metrics", &[], b"");
        assert_eq!(res.status, 200);
        let text = String::from_utf8_lossy(&res.body).into_owned();
        let backlog = backlog_gauge(&text).unwrap_or_else(|| {
            panic!("no chattag_inbox_backlog_events sample in /metrics:\n{text}")
        });
        assert!(
            (0..=acked.len() as i64).contains(&backlog),
            "backlog {backlog} outside 0..={} right after a burst",
            acked.len()
        );
        seen.push(backlog);
        if backlog > 0 {
            break;
        }
    }
    eprintln!(
        "backlog gauge right after each burst of {} events: {seen:?}",
        2 * BURST
    );
    assert!(
        seen.iter().any(|&b| b > 0),
        "chattag_inbox_backlog_events was 0 right after each of {BURSTS} bursts: {seen:?}"
    );

    server.caught_up();
    let health = server.request("GET", "/healthz", &[], b"");
    assert_eq!(health.status, 200);
    assert_eq!(health.json(), json!({"status": "ok", "inbox_backlog": 0}));
    let res = server.request("GET", "/metrics", &[], b"");
    assert_eq!(
        backlog_gauge(&String::from_utf8_lossy(&res.body)),
        Some(0),
        "/metrics after catch-up"
    );
    assert_all_stored(&server.db, &acked);
    assert_eq!(
        count(&server.db, "SELECT count(*) FROM events"),
        acked.len() as i64
    );
}
