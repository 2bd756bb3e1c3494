//! Scheduled uploads run once across processes: two `upload metrica --every` processes on one
//! database (here the server's SQLite file; on PostgreSQL in multi_instance.rs) take turns
//! through a lease. Started at the same moment, one uploads and the other waits; when the one
//! uploading is killed with SIGKILL, the other takes over and sends only what is new.

mod common;
#[path = "support/metrica_standin.rs"]
mod metrica_standin;
#[path = "support/upload_process.rs"]
mod upload_process;

use std::time::Duration;

use common::webhooks::{telegram_hello, Messenger};
use common::{new_chat_id, Server, TS};
use metrica_standin::Standin;
use serde_json::json;
use upload_process::UploadProcess;

const OAUTH: &str = "y0_AgAAAAAtestOAuthToken0123456789";

/// A visit with a chat ID, then a Telegram chat opened with it: one chat to upload.
fn telegram_chat(server: &Server, user: i64) -> String {
    let id = new_chat_id();
    assert_eq!(server.post_events(&json!([common::issue(&id)])).status, 200);
    let date_s = TS / 1000 + 60;
    let update = user % 1_000_000;
    let body = serde_json::to_vec(
        &json!({"update_id": update, "message": {"message_id": update,
        "from": {"id": user, "is_bot": false, "first_name": "Anna"},
        "chat": {"id": user, "type": "private"}, "date": date_s, "text": format!("/start {id}")}}),
    )
    .unwrap();
    assert_eq!(server.telegram(&body).json()["bot_opens"], 1);
    let r = server.telegram(&telegram_hello(user, update + 500, date_s));
    assert_eq!(r.json()["opened"], 1);
    id
}

/// Data rows of every accepted chat file, in upload order.
fn uploaded_rows(standin: &Standin) -> Vec<Vec<String>> {
    standin
        .chat_uploads()
        .iter()
        .map(|u| u.csv.lines().skip(1).map(str::to_owned).collect())
        .collect()
}

fn said(procs: &[UploadProcess; 2]) -> String {
    format!("{}\n---\n{}", procs[0].stderr(), procs[1].stderr())
}

#[test]
fn two_scheduled_uploads_send_once_and_the_survivor_takes_over_after_sigkill() {
    let server = Server::start_with_webhooks(&[Messenger::Telegram], &[]);
    let standin = Standin::start(OAUTH);
    telegram_chat(&server, 381_920_477);
    let db = server.db.to_str().unwrap().to_owned();
    let db_args = ["--db", db.as_str()];

    let mut procs = [
        UploadProcess::start(&db_args, &standin.base, OAUTH, "2s"),
        UploadProcess::start(&db_args, &standin.base, OAUTH, "2s"),
    ];
    let one_waits = common::wait_until(Duration::from_secs(20), || {
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
    telegram_chat(&server, 381_920_478);
    procs[holder].kill9();
    let took_over = procs[standby].wait_for("now runs the uploads", Duration::from_secs(20));
    assert!(
        took_over,
        "the survivor did not take over: {}",
        said(&procs)
    );
    let sent_new = common::wait_until(Duration::from_secs(20), || {
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
    let sent = server.db_count("SELECT count(*) FROM metrica_sent");
    let files = server.db_count("SELECT count(*) FROM metrica_uploads");
    assert_eq!((sent, files), (2, 2));
}
