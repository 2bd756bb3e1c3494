//! `upload metrica --every 1h` as a child process whose stderr the test reads while it runs:
//! the lease tests start two on one database and kill one.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct UploadProcess {
    pub child: Child,
    stderr: Arc<Mutex<String>>,
}

impl UploadProcess {
    /// Scheduled uploads of counter 12345 to `metrica_api` from the database named by
    /// `db_args` (e.g. `["--db", path]`), with a lease of `lease_ttl`.
    pub fn start(db_args: &[&str], metrica_api: &str, token: &str, lease_ttl: &str) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chattag-collector"));
        cmd.args([
            "upload",
            "metrica",
            "--counter",
            "12345",
            "--from",
            "2025-01-01",
            "--metrica-api",
            metrica_api,
            "--attempts",
            "1",
            "--wait",
            "0s",
            "--every",
            "1h",
        ])
        .args(db_args);
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CHATTAG_")) {
            cmd.env_remove(k);
        }
        cmd.env("CHATTAG_METRICA_TOKEN", token)
            .env("CHATTAG_LEASE_TTL", lease_ttl)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn upload metrica --every");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        UploadProcess { child, stderr }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr contains `text`.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> bool {
        let end = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < end {
            if self.stderr().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// This process waits for another one's lease (it said so on stderr).
    pub fn is_standby(&self) -> bool {
        self.stderr().contains("is running in")
    }

    /// SIGKILL: no shutdown code runs, the lease is not released.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for UploadProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A visit with a chat ID, then a Telegram chat opened with it: one chat to upload.
pub fn telegram_chat(server: &crate::common::Server, user: i64) {
    use serde_json::json;
    let id = crate::common::new_chat_id();
    assert_eq!(
        server
            .post_events(&json!([crate::common::issue(&id)]))
            .status,
        200
    );
    let date_s = crate::common::TS / 1000 + 60;
    let update = user % 1_000_000;
    let body = serde_json::to_vec(
        &json!({"update_id": update, "message": {"message_id": update,
        "from": {"id": user, "is_bot": false, "first_name": "Anna"},
        "chat": {"id": user, "type": "private"}, "date": date_s, "text": format!("/start {id}")}}),
    )
    .expect("json");
    assert_eq!(server.telegram(&body).json()["bot_opens"], 1);
    let hello = crate::common::webhooks::telegram_hello(user, update + 500, date_s);
    assert_eq!(server.telegram(&hello).json()["opened"], 1);
}

/// Data rows of every accepted chat file, in upload order.
fn uploaded_rows(standin: &crate::support::metrica_standin::Standin) -> Vec<Vec<String>> {
    standin
        .chat_uploads()
        .iter()
        .map(|u| u.csv.lines().skip(1).map(str::to_owned).collect())
        .collect()
}

fn said(procs: &[UploadProcess; 2]) -> String {
    format!("{}\n---\n{}", procs[0].stderr(), procs[1].stderr())
}

/// Two `upload metrica --every 1h` processes on the database `db` (which `first` and `second`
/// serve; they may be one server) started at the same moment: one uploads the first chat and
/// the other waits; the uploading one is SIGKILLed while a second chat arrives, and the
/// survivor takes over and sends only that chat. `count` runs a count query on `db`.
pub fn two_uploads_take_turns(
    first: &crate::common::Server,
    second: &crate::common::Server,
    db: &str,
    count: &dyn Fn(&str) -> i64,
) {
    const OAUTH: &str = "y0_AgAAAAAtestOAuthToken0123456789";
    let standin = crate::support::metrica_standin::Standin::start(OAUTH);
    telegram_chat(first, 381_920_477);
    let db_args = ["--db", db];
    let mut procs = [
        UploadProcess::start(&db_args, &standin.base, OAUTH, "2s"),
        UploadProcess::start(&db_args, &standin.base, OAUTH, "2s"),
    ];
    let one_waits = crate::common::wait_until(Duration::from_secs(20), || {
        procs.iter().any(UploadProcess::is_standby) && !standin.chat_uploads().is_empty()
    });
    assert!(
        one_waits,
        "expected one upload and one process waiting: {}",
        said(&procs)
    );
    let (holder, standby) = if procs[0].is_standby() {
        (1, 0)
    } else {
        (0, 1)
    };
    assert!(!procs[holder].is_standby(), "both wait: {}", said(&procs));
    assert!(
        procs[holder].wait_for("next upload run in 3600s", Duration::from_secs(10)),
        "{}",
        said(&procs)
    );
    let rows = uploaded_rows(&standin);
    assert_eq!(rows.len(), 1, "one file, not one per process: {rows:?}");
    assert_eq!(rows[0].len(), 1, "{rows:?}");

    // A chat arrives while the holder sleeps until its next run; the holder dies.
    telegram_chat(second, 381_920_478);
    procs[holder].kill9();
    let took_over = procs[standby].wait_for("now runs the uploads", Duration::from_secs(20));
    assert!(
        took_over,
        "the survivor did not take over: {}",
        said(&procs)
    );
    let sent_new = crate::common::wait_until(Duration::from_secs(20), || {
        standin.chat_uploads().len() == 2
    });
    assert!(sent_new, "{}", said(&procs));
    let rows = uploaded_rows(&standin);
    assert_eq!(
        rows[1].len(),
        1,
        "the survivor sends only the new chat, not the first one again: {rows:?}"
    );
    assert_ne!(rows[0], rows[1]);
    // The database agrees: two chats, each sent once, in two files.
    let sent = count("SELECT count(*) FROM metrica_sent");
    let files = count("SELECT count(*) FROM metrica_uploads");
    assert_eq!((sent, files), (2, 2));
}
