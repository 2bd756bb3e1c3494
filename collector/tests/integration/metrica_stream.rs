//! Large uploads, streamed: a set of chats larger than `--rows-per-file` goes out as several
//! files, each recorded with its chats before it is sent, every chat in exactly one of them and
//! every `DateTime` of one visitor distinct across files and runs; an upload killed while a file
//! is on the wire resumes with that same file and sends nothing twice. Seen by a local stand-in
//! of Metrica's API.

use crate::common;
use crate::support::metrica_standin;

use std::collections::{BTreeSet, HashMap};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::webhooks::{Messenger, INTAKE_TOKEN};
use common::{new_chat_id, new_event_id, Server};
use metrica_standin::Standin;
use serde_json::json;

const OAUTH: &str = "y0_AgAAAAAtestOAuthToken0123456789";
const CLIENT_ID: &str = "1700000000123456789";

fn start() -> Server {
    Server::start_with_webhooks(
        &[Messenger::WhatsApp],
        &[
            ("CHATTAG_INTAKE_TOKEN", INTAKE_TOKEN),
            // Phones in clear (the owner's opt-in): the rows are told apart by their phones.
            ("CHATTAG_PHONES", "clear"),
        ],
    )
}

/// The phone of chat `i`, as the CRM sends it and as the CSV carries it.
fn phone(i: usize) -> (String, String) {
    (
        format!("+7 999 200-{:02}-{:02}", i / 100, i % 100),
        format!("7999200{:02}{:02}", i / 100, i % 100),
    )
}

/// Chats `range`, each from its own visit with the same ClientID, answered (so settled at once),
/// two of them starting in each second from `base_s`.
fn seed(server: &Server, range: std::ops::Range<usize>, base_s: u64) {
    let ids: Vec<String> = range.clone().map(|_| new_chat_id()).collect();
    let visits: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            json!({"event_id": new_event_id(), "type": "issue", "chat_id": id,
                "ts": (base_s - 600) * 1000, "page": "https://shop.example/p/1", "client_id": CLIENT_ID})
        })
        .collect();
    assert_eq!(server.post_events(&json!(visits)).status, 200);
    let chats: Vec<serde_json::Value> = range
        .zip(&ids)
        .map(|(i, id)| {
            json!({"platform": "whatsapp", "external_id": format!("crm-{i}"), "phone": phone(i).0,
                "started_at": base_s + (i as u64) / 2, "text": format!("Hello {id}"), "answered": true})
        })
        .collect();
    let r = server.intake(&serde_json::Value::Array(chats));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

fn upload_args<'a>(standin: &'a Standin, rows_per_file: &'a str) -> Vec<&'a str> {
    vec![
        "upload",
        "metrica",
        "--counter",
        "12345",
        "--from",
        "2025-01-01",
        "--metrica-api",
        &standin.base,
        "--attempts",
        "1",
        "--wait",
        "0s",
        "--rows-per-file",
        rows_per_file,
    ]
}

fn upload(server: &Server, standin: &Standin, rows_per_file: &str) -> (Output, String) {
    let o = server.cli(
        &upload_args(standin, rows_per_file),
        &[("CHATTAG_METRICA_TOKEN", OAUTH)],
    );
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o, text)
}

/// Data rows of every accepted chat file: (file index, phone, DateTime).
fn rows(standin: &Standin) -> Vec<(usize, String, u64)> {
    let mut out = Vec::new();
    for (f, u) in standin.chat_uploads().iter().enumerate() {
        let mut lines = u.csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (p, dt) = (col("PhoneNumber"), col("DateTime"));
        for line in lines.filter(|l| !l.is_empty()) {
            let cells: Vec<&str> = line.split(',').collect();
            out.push((f, cells[p].to_string(), cells[dt].parse().unwrap()));
        }
    }
    out
}

/// How many times each phone reached the stand-in, over all accepted files.
fn times_sent(rows: &[(usize, String, u64)]) -> HashMap<String, usize> {
    let mut n = HashMap::new();
    for (_, p, _) in rows {
        *n.entry(p.clone()).or_default() += 1;
    }
    n
}

fn ledger(server: &Server) -> Vec<(String, i64)> {
    server
        .rows("SELECT state, rows FROM metrica_uploads ORDER BY id")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn base_s() -> u64 {
    common::now_ms() / 1000 - 3 * 86_400
}

#[test]
fn a_large_upload_goes_out_as_several_files_with_every_chat_once() {
    let server = start();
    let standin = Standin::start(OAUTH);
    let base = base_s();
    seed(&server, 0..12, base);

    let (o, out) = upload(&server, &standin, "5");
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("12 chats in 3 files of at most 5 rows"),
        "{out}"
    );
    let files = standin.chat_uploads();
    assert_eq!(
        files.iter().map(|u| u.source_quantity).collect::<Vec<_>>(),
        vec![5, 5, 2]
    );
    assert!(files.iter().all(|u| u.line_quantity == u.source_quantity));
    let sent = rows(&standin);
    let times = times_sent(&sent);
    assert_eq!(times.len(), 12, "{times:?}");
    assert!(times.values().all(|&n| n == 1), "{times:?}");
    // One visitor: every DateTime distinct, across the files too (two chats start in each
    // second, and a file boundary falls inside such a pair).
    let seconds: BTreeSet<u64> = sent.iter().map(|r| r.2).collect();
    assert_eq!(seconds.len(), 12, "{sent:?}");
    // Each file was recorded with its own chats before it was sent.
    assert_eq!(
        ledger(&server),
        vec![
            ("sent".to_string(), 5),
            ("sent".to_string(), 5),
            ("sent".to_string(), 2)
        ]
    );
    assert_eq!(
        server.db_count("SELECT count(DISTINCT upload) FROM metrica_sent WHERE counter = 12345"),
        3
    );
    assert_eq!(
        server.db_count("SELECT count(*) FROM metrica_sent WHERE counter = 12345"),
        12
    );

    // Nothing new: no request at all.
    let before = standin.received().len();
    let (o, out) = upload(&server, &standin, "5");
    assert!(o.status.success(), "{out}");
    assert!(out.contains("nothing new to upload"), "{out}");
    assert_eq!(standin.received().len(), before);

    // A later chat of the same visitor in the same second as the first one: its DateTime
    // avoids every second already sent for that ClientID (read from the ledger, not memory).
    seed(&server, 12..13, base - 6);
    let (o, out) = upload(&server, &standin, "5");
    assert!(o.status.success(), "{out}");
    let sent = rows(&standin);
    let new: Vec<_> = sent.iter().filter(|r| r.0 == 3).collect();
    assert_eq!(new.len(), 1, "{sent:?}");
    let earlier: BTreeSet<u64> = sent.iter().filter(|r| r.0 < 3).map(|r| r.2).collect();
    assert!(!earlier.contains(&new[0].2), "{sent:?}");
    assert!(new[0].2 <= base, "{sent:?}");
}

#[test]
fn an_upload_killed_mid_file_resumes_with_that_file_and_sends_nothing_twice() {
    let server = start();
    let standin = Standin::start(OAUTH);
    seed(&server, 0..12, base_s());

    // The first file is accepted; the second is on the wire when the process is killed.
    standin.hold_after(1);
    let mut child = Command::new(env!("CARGO_BIN_EXE_chattag-collector"))
        .args(upload_args(&standin, "5"))
        // A short lease, so that the killed holder's lease has run out when the next run starts.
        .args(["--lease-ttl", "1s"])
        .arg("--db")
        .arg(server.db_arg())
        .env("CHATTAG_METRICA_TOKEN", OAUTH)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn upload");
    let held = common::wait_until(Duration::from_secs(20), || standin.held().len() == 1);
    child.kill().expect("kill the upload");
    let killed = child.wait_with_output().expect("wait");
    assert!(held, "{}", String::from_utf8_lossy(&killed.stderr));
    standin.release();
    assert_eq!(standin.chat_uploads().len(), 1);
    // The second file and its chats were reserved before it was sent; the rest were not.
    assert_eq!(
        ledger(&server),
        vec![("sent".to_string(), 5), ("pending".to_string(), 5)]
    );
    assert_eq!(
        server.db_count("SELECT count(*) FROM metrica_sent WHERE counter = 12345"),
        10
    );

    // The killed process cannot release its upload lease: the next run may start once it has
    // run out (a run before that refuses, naming the holder: tests/scheduled_lease.rs).
    std::thread::sleep(Duration::from_millis(1500));
    // The next run sends the interrupted file first, unchanged, then the chats never reserved.
    let (o, out) = upload(&server, &standin, "5");
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("retrying upload #2 (5 chats, attempt 1)"),
        "{out}"
    );
    let files = standin.chat_uploads();
    assert_eq!(files.len(), 3, "{out}");
    assert_eq!(files[1].csv, standin.held()[0]);
    assert_eq!(files[2].source_quantity, 2);
    let sent = rows(&standin);
    let times = times_sent(&sent);
    assert_eq!(times.len(), 12, "{times:?}");
    assert!(times.values().all(|&n| n == 1), "{times:?}");
    assert_eq!(
        ledger(&server),
        vec![
            ("sent".to_string(), 5),
            ("sent".to_string(), 5),
            ("sent".to_string(), 2)
        ]
    );
}

/// Metrica accepted a file but its answer was lost (the connection closed after the upload):
/// the file is found in Metrica's list of uploads by the key in its comment and recorded as
/// sent, never sent again: at once within the run, or by the next run when the list could not
/// be read in the first.
#[test]
fn a_file_whose_answer_was_lost_is_found_by_its_comment_and_not_sent_twice() {
    let server = start();
    let standin = Standin::start(OAUTH);
    let base = base_s();
    seed(&server, 0..12, base);

    // The second file is stored by Metrica; its answer never comes back.
    standin.drop_answers_after(1, 1);
    let (first, out) = upload(&server, &standin, "5");
    // Whatever the first run made of it, a second one has nothing left to send.
    let (_, again) = upload(&server, &standin, "5");
    let times = times_sent(&rows(&standin));
    assert_eq!(times.len(), 12, "{times:?}");
    assert!(
        times.values().all(|&n| n == 1),
        "chats sent twice: {times:?}\n{out}\n{again}"
    );
    assert_eq!(standin.chat_uploads().len(), 3, "{out}");
    assert!(first.status.success(), "{out}");
    assert!(out.contains("upload #2 had reached Metrica"), "{out}");
    assert!(again.contains("nothing new to upload"), "{again}");
    let files = standin.chat_uploads();
    assert!(files[1].comment.starts_with("chattag file 2 "), "{files:?}");
    assert_eq!(
        server
            .rows("SELECT state, metrica_id FROM metrica_uploads ORDER BY id")
            .iter()
            .map(|r| (r.get::<String>(0), r.get::<i64>(1)))
            .collect::<Vec<_>>(),
        vec![
            ("sent".to_string(), 1000),
            ("sent".to_string(), 1001),
            ("sent".to_string(), 1002)
        ]
    );

    // Again, and the list cannot be read either: the run stops without sending or counting
    // anything more; the next run finds the file and sends nothing.
    seed(&server, 12..15, base);
    standin.drop_answers_after(3, 1);
    standin.fail_lists(1);
    let (o, out) = upload(&server, &standin, "5");
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("upload #4: cannot check whether Metrica already has it"),
        "{out}"
    );
    assert_eq!(standin.chat_uploads().len(), 4);
    let before = standin.received().len();
    let (o, out) = upload(&server, &standin, "5");
    assert!(o.status.success(), "{out}");
    assert!(out.contains("retrying upload #4 (3 chats"), "{out}");
    assert!(out.contains("upload #4 had reached Metrica"), "{out}");
    assert_eq!(standin.received().len(), before, "{out}");
    let times = times_sent(&rows(&standin));
    assert_eq!(times.len(), 15, "{times:?}");
    assert!(times.values().all(|&n| n == 1), "{times:?}");
    assert_eq!(ledger(&server).last(), Some(&("sent".to_string(), 3)));
}

#[test]
fn export_writes_one_complete_file_of_every_chat() {
    let server = start();
    seed(&server, 0..12, base_s());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chats.csv");
    let o = export_to(&server, &path);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("12 row(s) written"), "{err}");
    let csv = std::fs::read_to_string(&path).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("DateTime,ChatPlatform,PhoneNumber,ClientID,Answered,PageURL")
    );
    let phones: BTreeSet<String> = lines
        .map(|l| l.split(',').nth(2).unwrap().to_string())
        .collect();
    assert_eq!(phones, (0..12).map(|i| phone(i).1).collect());
    // The temporary file next to it was renamed into place: nothing else is left.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // An export records nothing.
    assert_eq!(server.db_count("SELECT count(*) FROM metrica_sent"), 0);
}

/// `export metrica` of counter 12345 from 2025-01-01 written to `out` (`-o`).
fn export_to(server: &Server, out: &std::path::Path) -> Output {
    let out = out.to_str().expect("UTF-8 path");
    let args = [
        "export",
        "metrica",
        "--counter",
        "12345",
        "--from",
        "2025-01-01",
        "-o",
        out,
    ];
    server.cli(&args, &[])
}

/// `-o` into a folder that does not exist: the command fails naming the path it could not
/// write, and nothing is created.
#[test]
fn export_to_an_unwritable_path_fails_naming_it() {
    let server = start();
    seed(&server, 0..2, base_s());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("chats.csv");
    let o = export_to(&server, &path);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains(&format!("cannot write {}", path.display())),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// `-o` naming a pipe or device (`/dev/stdout`, `/dev/null`, a FIFO) writes into it: replacing
/// it with a file by rename, as a regular target is, would (as root) turn /dev/null into a file.
#[test]
fn export_into_a_pipe_writes_through_it_and_leaves_it_a_pipe() {
    use std::os::unix::fs::FileTypeExt;
    let server = start();
    seed(&server, 0..3, base_s());
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("rows.pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    // The reader: opening a FIFO blocks until a writer opens it.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo))
    };
    let o = export_to(&server, &fifo);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the pipe was replaced: {kind:?}");
    let csv = reader.join().unwrap().unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
}
