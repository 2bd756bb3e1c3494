//! Moving up: `db copy` copies a SQLite database filled through the real server (events, chats
//! through webhooks, a Metrica upload record, and events still in its inbox after SIGKILL) into
//! PostgreSQL; a collector started on PostgreSQL then answers the read API and the report
//! exactly as one on the SQLite file does. A running SQLite server and a non-empty target are
//! refused.
//!
//! Runs only when `CHATTAG_TEST_POSTGRES` names a cluster (`eval "$(scripts/postgres.sh
//! start)"`); otherwise it prints a skip line and passes.

use crate::common;
use crate::support::metrica_standin;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::webhooks::{telegram_hello, TG_SECRET};
use common::{new_chat_id, new_event_id, PgDb, Server, ORIGIN, TOKEN};
use metrica_standin::Standin;
use serde_json::{json, Value};

const OAUTH: &str = "y0_AgAAAAAtestOAuthToken0123456789";

/// A SQLite server with the Telegram webhook, whatever backend the suite runs on.
fn sqlite_server(dir: tempfile::TempDir, db: PathBuf) -> Server {
    Server::start_at(
        dir,
        db,
        &["--allowed-origin", ORIGIN, "--rate-limit", "0"],
        &[
            ("CHATTAG_READ_TOKEN", TOKEN),
            ("CHATTAG_TELEGRAM_SECRET", TG_SECRET),
        ],
    )
}

fn collector(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chattag-collector"));
    cmd.args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CHATTAG_")) {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run chattag-collector")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A visit, the Telegram bot opened with its chat ID, and the person's message, `ago_s`
/// seconds ago.
fn telegram_chat(server: &Server, user: i64, ago_s: u64) -> String {
    let id = new_chat_id();
    let mut visit = common::issue(&id);
    visit["ts"] = json!(common::now_ms() - (ago_s + 60) * 1000);
    assert_eq!(server.post_events(&json!([visit])).status, 200);
    let date_s = common::now_ms() / 1000 - ago_s;
    let update = user % 1_000_000;
    let start = serde_json::to_vec(&json!({"update_id": update, "message": {"message_id": update,
        "from": {"id": user, "is_bot": false, "first_name": "Anna", "username": format!("user{user}")},
        "chat": {"id": user, "type": "private"}, "date": date_s, "text": format!("/start {id}")}}))
    .expect("json");
    assert_eq!(server.telegram(&start).json()["bot_opens"], 1);
    let r = server.telegram(&telegram_hello(user, update + 500, date_s));
    assert_eq!(r.json()["opened"], 1);
    id
}

fn sqlite_event_ids(db: &Path) -> HashSet<String> {
    let conn = common::read_only(db);
    let mut st = conn
        .prepare("SELECT event_id FROM events")
        .expect("prepare");
    let ids = st
        .query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    ids
}

/// Posts batches and SIGKILLs the server right after the last answer, until some acknowledged
/// events are still only in the inbox (the applier lingers to batch); returns every event ID
/// acknowledged and how many of them were left in the inbox.
fn kill_with_inbox_leftovers(server: &mut Server) -> (Vec<String>, usize) {
    let mut acked = Vec::new();
    for _ in 0..5 {
        let mut batch_ids = Vec::new();
        for _ in 0..3 {
            let id = new_chat_id();
            let batch = json!([common::issue(&id), common::click(&id)]);
            assert_eq!(server.post_events(&batch).status, 200);
            batch_ids.extend(
                batch
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["event_id"].as_str().map(str::to_owned)),
            );
        }
        server.kill9();
        acked.extend(batch_ids);
        let stored = sqlite_event_ids(&server.db);
        let left = acked.iter().filter(|id| !stored.contains(*id)).count();
        if left > 0 {
            return (acked, left);
        }
        server.restart();
    }
    panic!("the applier was always faster than the kill: no events left in the inbox");
}

/// Everything the read API and the report answer, for comparing two collectors.
fn answers(server: &Server, chat_ids: &[String]) -> Vec<(String, String)> {
    let mut paths: Vec<String> = chat_ids
        .iter()
        .map(|id| format!("/v1/chats/{id}"))
        .collect();
    paths.push("/v1/mappings?limit=1000".into());
    for csv in [
        "daily",
        "messengers",
        "attribution",
        "sources",
        "uploads",
        "chats",
    ] {
        paths.push(format!("/reports/{csv}.csv?days=7"));
    }
    paths
        .into_iter()
        .map(|p| {
            let r = server.get_authed(&p);
            assert_eq!(r.status, 200, "{p}: {}", String::from_utf8_lossy(&r.body));
            (p, String::from_utf8_lossy(&r.body).into_owned())
        })
        .collect()
}

#[test]
fn a_sqlite_database_with_inbox_leftovers_is_copied_and_answers_the_same_on_postgresql() {
    let Some(base) = common::postgres_base() else {
        eprintln!("skipped db copy: it needs PostgreSQL; set CHATTAG_TEST_POSTGRES (eval \"$(scripts/postgres.sh start)\")");
        return;
    };
    let target = PgDb::create(&base);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("chattag.db");
    let mut server = sqlite_server(dir, db.clone());
    let db_s = db.to_str().expect("UTF-8 path").to_owned();

    // Chats through webhooks, events, and an upload record.
    // Two chats from two days ago (settled: uploaded), one from a minute ago (not yet).
    let chats: Vec<String> = [2 * 86_400, 2 * 86_400 + 600, 60]
        .iter()
        .enumerate()
        .map(|(k, ago)| telegram_chat(&server, 381_920_400 + k as i64, *ago))
        .collect();
    let mut visit = common::issue(&new_chat_id());
    visit["event_id"] = json!(new_event_id());
    assert_eq!(server.post_events(&json!([visit])).status, 200);
    let standin = Standin::start(OAUTH);
    let up = server.cli(
        &standin.single_upload_args(),
        &[("CHATTAG_METRICA_TOKEN", OAUTH)],
    );
    assert!(up.status.success(), "{}", text(&up));
    assert_eq!(standin.chat_uploads().len(), 1, "{}", text(&up));

    // While the SQLite server runs, the copy refuses to start and writes nothing.
    let refused = collector(&["db", "copy", "--from", &db_s, "--to", &target.url], &[]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("stop it first"),
        "{}",
        text(&refused)
    );

    let (acked, left) = kill_with_inbox_leftovers(&mut server);
    eprintln!(
        "{left} of {} acknowledged events only in the inbox at the copy",
        acked.len()
    );

    // The password would go in PGPASSWORD; the test cluster trusts loopback.
    let copied = collector(
        &[
            "db",
            "copy",
            "--from",
            &db_s,
            "--to",
            &target.url,
            "--sample",
            "50",
        ],
        &[],
    );
    let report = text(&copied);
    assert!(copied.status.success(), "{report}");
    eprintln!("{report}");
    for table in [
        "events",
        "chats",
        "conversations",
        "metrica_uploads",
        "metrica_sent",
    ] {
        assert!(
            report.lines().any(|l| l.starts_with(&format!("{table}: "))),
            "no line for {table}: {report}"
        );
    }
    assert!(report.contains("counts and samples match"), "{report}");

    // Every acknowledged event, the inbox's included, is in PostgreSQL.
    let stored: i64 = target
        .client()
        .query_one(
            "SELECT count(*) FROM events WHERE event_id = ANY($1)",
            &[&acked],
        )
        .expect("count")
        .get(0);
    assert_eq!(stored, acked.len() as i64);

    // Run again: refused, the target untouched.
    let again = collector(&["db", "copy", "--from", &db_s, "--to", &target.url], &[]);
    assert!(!again.status.success());
    assert!(text(&again).contains("not empty"), "{}", text(&again));

    // The same answers from a collector on each.
    server.restart();
    let pg_server = Server::start_at(
        tempfile::tempdir().expect("temp dir"),
        PathBuf::from(&target.url),
        &["--allowed-origin", ORIGIN, "--rate-limit", "0"],
        &[("CHATTAG_READ_TOKEN", TOKEN)],
    );
    let mut ids = chats.clone();
    ids.push(visit["chat_id"].as_str().unwrap_or_default().to_owned());
    let sqlite_answers = answers(&server, &ids);
    let pg_answers = answers(&pg_server, &ids);
    for ((path, a), (_, b)) in sqlite_answers.iter().zip(&pg_answers) {
        assert_eq!(a, b, "{path} differs between SQLite and PostgreSQL");
    }
    let mappings: Value = serde_json::from_str(&pg_answers[ids.len()].1).expect("json");
    assert!(mappings.to_string().contains(&chats[0]), "{mappings}");
    // New IDs continue after the copied ones: a new chat on PostgreSQL gets stored.
    let mut more = common::issue(&new_chat_id());
    more["event_id"] = json!(new_event_id());
    assert_eq!(pg_server.post_events(&json!([more])).status, 200);
}
