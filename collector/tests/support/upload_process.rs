//! `upload metrica --every 1h` as a child process whose stderr the test reads while it runs:
//! the lease tests start two on one database and kill one.
#![allow(dead_code)]

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
