//! `export metrica` and `upload metrica` against a local stand-in of Metrica's upload API:
//! the CSV's columns and distinct DateTimes, a failed upload retried (within a run and on the
//! next run with the same file), a second run uploading nothing new, `--force`, and the OAuth
//! token read from the environment or a file and never printed.

use crate::common;
use crate::support::metrica_standin;

use std::process::{Command, Output};

use common::webhooks::{max_hello, telegram_hello, viber_hello, whatsapp_text, Messenger};
use common::{new_chat_id, Server, TS};
use metrica_standin::Standin;
use serde_json::json;

const OAUTH: &str = "y0_AgAAAAAtestOAuthToken0123456789";
const COUNTER: &str = "12345";

fn start() -> Server {
    Server::start_with_webhooks(
        &[
            Messenger::Telegram,
            Messenger::Viber,
            Messenger::WhatsApp,
            Messenger::Max,
        ],
        // Phones in clear (the owner's opt-in): this test reads them back as the messengers sent them.
        &[("CHATTAG_PHONES", "clear")],
    )
}

fn issue(server: &Server, id: &str) {
    assert_eq!(server.post_events(&json!([common::issue(id)])).status, 200);
}

fn telegram_start(server: &Server, update_id: i64, user: i64, id: &str, date_s: u64) {
    let body = serde_json::to_vec(&json!({"update_id": update_id, "message": {"message_id": update_id,
        "from": {"id": user, "is_bot": false, "first_name": "Anna", "username": format!("user{user}")},
        "chat": {"id": user, "type": "private"}, "date": date_s, "text": format!("/start {id}")}}))
    .unwrap();
    assert_eq!(server.telegram(&body).json()["bot_opens"], 1);
    // Opening the bot is not a chat; the person's first message is, tied by the /start code.
    let r = server.telegram(&telegram_hello(user, update_id + 500, date_s));
    assert_eq!(r.json()["opened"], 1);
}

fn seed(server: &Server) -> (String, String) {
    let a = new_chat_id();
    let b = new_chat_id();
    issue(server, &a);
    issue(server, &b);
    // Same visitor (same ClientID), chats started in the same second on two messengers.
    telegram_start(server, 1, 381920477, &a, TS / 1000 + 60);
    let viber = serde_json::to_vec(&json!({"event": "conversation_started", "timestamp": TS + 60_400, "message_token": 77,
        "type": "open", "context": b, "user": {"id": "01234567890A=", "name": "John"}, "subscribed": false}))
    .unwrap();
    assert_eq!(server.viber(&viber).status, 200);
    assert_eq!(
        server
            .viber(&viber_hello("01234567890A=", TS + 60_400, 78))
            .json()["opened"],
        1
    );
    // A WhatsApp chat without any ID: unattributed.
    let wa = whatsapp_text("16505551234", "S", "hello", TS / 1000 + 900, "wamid.X");
    assert_eq!(server.whatsapp(&wa).status, 200);
    // A MAX chat: not a documented Metrica platform, left out by default.
    let c = new_chat_id();
    issue(server, &c);
    let max = serde_json::to_vec(
        &json!({"update_type": "bot_started", "timestamp": TS + 1_000_000, "chat_id": 1,
        "user": {"user_id": 42, "name": "Ivan", "is_bot": false}, "payload": c}),
    )
    .unwrap();
    assert_eq!(server.max(&max).status, 200);
    assert_eq!(
        server
            .max(&max_hello(42, TS + 1_000_000, "mid.seed1"))
            .json()["opened"],
        1
    );
    (a, b)
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `upload metrica` for the test counter and period, against the stand-in.
fn upload_args(standin: &Standin) -> Vec<&str> {
    vec![
        "upload",
        "metrica",
        "--counter",
        COUNTER,
        "--from",
        "2025-01-01",
        "--metrica-api",
        &standin.base,
    ]
}

fn upload(server: &Server, standin: &Standin, extra: &[&str]) -> Output {
    let mut args = upload_args(standin);
    for (flag, value) in [
        ("--attempts", "3"),
        ("--retry-delay", "20ms"),
        ("--wait", "3s"),
        ("--poll-interval", "50ms"),
    ] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    let o = server.cli(&args, &[("CHATTAG_METRICA_TOKEN", OAUTH)]);
    let (out, err) = text(&o);
    assert!(
        !out.contains(OAUTH) && !err.contains(OAUTH),
        "token printed"
    );
    o
}

fn uploads_table(server: &Server) -> Vec<(String, i64, Option<String>, i64)> {
    server
        .rows("SELECT state, attempts, status, rows FROM metrica_uploads ORDER BY id")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

#[test]
fn export_columns_and_distinct_datetime() {
    let server = start();
    seed(&server);
    let o = server.cli(
        &[
            "export",
            "metrica",
            "--counter",
            COUNTER,
            "--from",
            "2025-01-01",
        ],
        &[],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "DateTime,ChatPlatform,ChatUsername,ChatUserID,ClientID,Yclid,PageURL"
    );
    assert_eq!(lines.len(), 3, "{out}");
    let stamps: Vec<u64> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    // Both chats of one ClientID in the same second: one stays, the other moves a second back.
    let mut sorted = stamps.clone();
    sorted.sort();
    assert_eq!(sorted, vec![TS / 1000 + 59, TS / 1000 + 60]);
    assert!(
        lines[1..].iter().all(
            |l| l.contains(",1700000000123456789,5123456789012345678,https://shop.example/p/1")
        ),
        "{out}"
    );
    assert!(lines
        .iter()
        .any(|l| l.contains(",telegram,user381920477,381920477,")));
    assert!(
        err.contains("no visitor ID") && err.contains("excluded by the send rule `platform`"),
        "{err}"
    );

    let o = server.cli(
        &[
            "export",
            "metrica",
            "--counter",
            COUNTER,
            "--from",
            "2025-01-01",
            "--include-unattributed",
        ],
        &[],
    );
    let (out, _) = text(&o);
    assert_eq!(out.lines().count(), 4);
    assert!(out.lines().next().unwrap().contains("PhoneNumber"));
    assert!(out.contains(",whatsapp,,,16505551234,"), "{out}");
}

#[test]
fn upload_retried_then_nothing_new_then_only_new() {
    let server = start();
    let standin = Standin::start(OAUTH);
    seed(&server);

    // The first request fails (503); the run retries and succeeds.
    standin.fail_next(1);
    let o = upload(&server, &standin, &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    let received = standin.received();
    assert_eq!(
        received.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![503, 200]
    );
    // The owner's comment, then the file's key (upload 1): how a lost answer is found later.
    assert!(received.iter().all(|r| r.authorized
        && r.counter == 12345
        && r.comment
            .as_deref()
            .is_some_and(|c| c.starts_with("chattag file 1 "))));
    let up = standin.uploads();
    assert_eq!(
        (up.len(), up[0].source_quantity, up[0].line_quantity),
        (1, 2, 2)
    );
    assert_eq!(
        uploads_table(&server),
        vec![("sent".to_string(), 2, Some("PROCESSED".to_string()), 2)]
    );

    // Nothing new: no request at all.
    let o = upload(&server, &standin, &[]);
    assert!(o.status.success());
    assert!(text(&o).0.contains("nothing new to upload"));
    assert_eq!(standin.received().len(), 2);

    // One new chat → a file with one row. The stand-in answers this one as {"uploadings":[…]}.
    let c = new_chat_id();
    issue(&server, &c);
    telegram_start(&server, 2, 500, &c, TS / 1000 + 3600);
    let o = upload(&server, &standin, &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let up = standin.uploads();
    assert_eq!((up.len(), up[1].source_quantity), (2, 1));
    assert!(up[1].csv.contains(",telegram,user500,500,"));

    // Metrica down for longer than a run: the run fails and records it…
    let d = new_chat_id();
    issue(&server, &d);
    telegram_start(&server, 3, 600, &d, TS / 1000 + 7200);
    standin.fail_next(10);
    let o = upload(&server, &standin, &["--attempts", "2"]);
    assert!(!o.status.success(), "{:?}", text(&o));
    assert_eq!(
        uploads_table(&server).get(2).map(|u| u.0.as_str()),
        Some("failed"),
        "{:?}",
        text(&o)
    );
    let failed_csv = standin.received().last().unwrap().csv.clone().unwrap();
    // …and the next run sends the same file first, then what arrived meanwhile.
    standin.fail_next(0);
    let e = new_chat_id();
    issue(&server, &e);
    telegram_start(&server, 4, 700, &e, TS / 1000 + 9000);
    let o = upload(&server, &standin, &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let up = standin.uploads();
    assert_eq!(up.len(), 4);
    assert_eq!(up[2].csv, failed_csv);
    assert!(up[2].csv.contains("user600") && !up[2].csv.contains("user700"));
    assert!(up[3].csv.contains("user700") && !up[3].csv.contains("user600"));
    let table = uploads_table(&server);
    assert_eq!(table[2].0, "sent");
    assert_eq!(table.iter().map(|t| t.3).sum::<i64>(), 5);
    assert_eq!(
        server.db_count("SELECT count(*) FROM metrica_sent WHERE counter = 12345"),
        5
    );

    // --force sends everything again.
    let o = upload(&server, &standin, &["--force"]);
    assert!(o.status.success());
    assert_eq!(standin.uploads().last().unwrap().source_quantity, 5);
}

#[test]
fn token_from_file_and_refused_token_never_printed() {
    let server = start();
    let standin = Standin::start(OAUTH);
    seed(&server);
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-token");
    std::fs::write(&wrong, "y0_wrongTokenValue_0123456789\n").unwrap();
    let base = standin.base.clone();
    let args = [
        "upload",
        "metrica",
        "--counter",
        COUNTER,
        "--from",
        "2025-01-01",
        "--metrica-api",
        &base,
        "--retry-delay",
        "10ms",
        "--wait",
        "0s",
    ];
    let mut with_file = args.to_vec();
    with_file.extend(["--metrica-token-file", wrong.to_str().unwrap()]);
    let o = server.cli(&with_file, &[]);
    let (out, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("403"), "{err}");
    assert!(!out.contains("wrongTokenValue") && !err.contains("wrongTokenValue"));
    // 403 is not retried within the run.
    assert_eq!(standin.received().len(), 1);
    assert!(!standin.received()[0].authorized);

    let right = dir.path().join("token");
    std::fs::write(&right, format!("{OAUTH}\n")).unwrap();
    let mut with_file = args.to_vec();
    with_file.extend(["--metrica-token-file", right.to_str().unwrap()]);
    let o = server.cli(&with_file, &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(standin.uploads().len(), 1);

    // No token at all: refused before anything is sent.
    let o = server.cli(&args, &[]);
    assert!(!o.status.success());
    assert!(text(&o).1.contains("CHATTAG_METRICA_TOKEN"));
}

#[test]
fn scheduled_mode_uploads_then_waits_for_the_next_run() {
    let server = start();
    let standin = Standin::start(OAUTH);
    seed(&server);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chattag-collector"));
    cmd.args(upload_args(&standin))
        .args(["--wait", "0s", "--every", "1h"])
        .arg("--db")
        .arg(server.db_arg())
        .env("CHATTAG_METRICA_TOKEN", OAUTH)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn scheduled upload");
    let uploaded = common::wait_until(std::time::Duration::from_secs(10), || {
        standin.uploads().len() == 1
    });
    // Still running after the first run: it sleeps until the next one instead of exiting.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let still_running = child.try_wait().expect("try_wait").is_none();
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(uploaded, "{err}");
    assert!(still_running, "the scheduled mode exited: {err}");
    assert!(err.contains("next upload run in 3600s"), "{err}");
    assert_eq!(uploads_table(&server).len(), 1);
}
