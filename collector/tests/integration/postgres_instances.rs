//! PostgreSQL specifics: selecting it by URL without a password on the command line, and
//! several instances on one database (schema applied once when they start together; the same
//! event or webhook at two instances at once stored once; one person's messages at two
//! instances at once in one conversation). The tests that need a cluster skip without
//! `CHATTAG_TEST_POSTGRES` (`scripts/postgres.sh start`; `npm test` sets it).

use crate::common;

use std::process::Command;

use common::webhooks::Messenger;
use common::{postgres_base, PgDb, Server, ORIGIN, TOKEN};
use serde_json::json;

fn cluster() -> Option<String> {
    let base = postgres_base();
    if base.is_none() {
        eprintln!("skipped: needs a PostgreSQL cluster (CHATTAG_TEST_POSTGRES)");
    }
    base
}

#[test]
fn a_password_in_the_db_flag_is_refused_naming_the_variables_to_use() {
    let out = Command::new(env!("CARGO_BIN_EXE_chattag-collector"))
        .args([
            "migrate",
            "--db",
            "postgres://app:hunter2@127.0.0.1:1/chattag",
        ])
        .env_remove("CHATTAG_DB")
        .env_remove("CHATTAG_DATABASE_URL")
        .output()
        .expect("run chattag-collector");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    for name in ["CHATTAG_DATABASE_URL", "PGPASSWORD", "PGPASSFILE"] {
        assert!(err.contains(name), "{err}");
    }
    assert!(!err.contains("hunter2"), "the password is echoed: {err}");
}

#[test]
fn a_url_with_a_password_is_taken_from_the_environment() {
    let Some(base) = cluster() else { return };
    let db = PgDb::create(&base);
    // The test cluster trusts loopback, so any password is accepted: this checks the path the
    // URL takes, not the authentication.
    let with_password = db.url.replacen("postgres@", "postgres:any-password@", 1);
    let out = Command::new(env!("CARGO_BIN_EXE_chattag-collector"))
        .arg("migrate")
        .env_remove("CHATTAG_DB")
        .env("CHATTAG_DATABASE_URL", &with_password)
        .output()
        .expect("run chattag-collector");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("database ready: postgres://postgres:***@"),
        "{text}"
    );
    let steps: i64 = db
        .client()
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert!(steps > 0);
}

#[test]
fn two_servers_started_at_once_on_an_empty_database_apply_the_schema_once() {
    let Some(base) = cluster() else { return };
    for _ in 0..3 {
        let db = PgDb::create(&base);
        let env = [("CHATTAG_READ_TOKEN", TOKEN)];
        let args = ["--allowed-origin", ORIGIN];
        // Each start reads the server's "listening" line: a server that failed to migrate
        // exits before it, and the start panics.
        let servers: Vec<Server> = std::thread::scope(|s| {
            let starts: Vec<_> = (0..2)
                .map(|_| s.spawn(|| Server::on_database(&db.url, &args, &env)))
                .collect();
            starts.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for server in &servers {
            assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
        }
        let mut client = db.client();
        let row = client
            .query_one(
                "SELECT count(*), count(DISTINCT name) FROM schema_migrations",
                &[],
            )
            .unwrap();
        let (steps, names): (i64, i64) = (row.get(0), row.get(1));
        assert_eq!(steps, names);
        assert!(steps >= 8, "{steps} steps recorded");
        drop(servers);
    }
}

/// Two instances on one database, with the Telegram webhook configured on both.
fn two_instances() -> Option<(Server, Server)> {
    cluster()?;
    let first = Server::start_with_webhooks(&[Messenger::Telegram], &[]);
    let url = first.pg.as_ref().map(|p| p.url.clone())?;
    let env = [
        ("CHATTAG_READ_TOKEN", TOKEN),
        ("CHATTAG_TELEGRAM_SECRET", common::webhooks::TG_SECRET),
    ];
    let second = Server::on_database(
        &url,
        &["--allowed-origin", ORIGIN, "--rate-limit", "0"],
        &env,
    );
    Some((first, second))
}

fn tg_message(user: i64, message_id: i64, text: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"update_id": user * 100 + message_id, "message": {
        "message_id": message_id,
        "from": {"id": user, "is_bot": false, "first_name": "A"},
        "chat": {"id": user, "type": "private"},
        "date": common::now_ms() / 1000, "text": text}}))
    .unwrap()
}

#[test]
fn the_same_event_and_the_same_webhook_at_two_instances_at_once_are_stored_once() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    const N: i64 = 20;
    let events: Vec<serde_json::Value> = (0..N)
        .map(|_| json!([common::issue(&common::new_chat_id())]))
        .collect();
    let accepted: i64 = std::thread::scope(|s| {
        let runs: Vec<_> = [&a, &b]
            .into_iter()
            .map(|server| {
                let events = &events;
                s.spawn(move || {
                    events
                        .iter()
                        .map(|e| {
                            let r = server.post_events(e);
                            assert_eq!(r.status, 200);
                            r.json()["accepted"].as_i64().unwrap()
                        })
                        .sum::<i64>()
                })
            })
            .collect();
        runs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(
        accepted, N,
        "each event accepted once across both instances"
    );
    assert_eq!(a.db_count("SELECT count(*) FROM events"), N);
    assert_eq!(a.db_count("SELECT count(*) FROM chats"), N);

    let updates: Vec<Vec<u8>> = (0..N).map(|u| tg_message(1000 + u, 1, "hello")).collect();
    std::thread::scope(|s| {
        for server in [&a, &b] {
            let updates = &updates;
            s.spawn(move || {
                for u in updates {
                    assert_eq!(server.telegram(u).status, 200);
                }
            });
        }
    });
    assert_eq!(a.db_count("SELECT count(*) FROM conversations"), N);
    assert_eq!(a.db_count("SELECT count(*) FROM inbound_seen"), N);
}

#[test]
fn one_persons_messages_at_two_instances_at_once_make_one_conversation() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    const PEOPLE: i64 = 20;
    std::thread::scope(|s| {
        for (server, message) in [(&a, 1), (&b, 2)] {
            s.spawn(move || {
                for user in 0..PEOPLE {
                    let r = server.telegram(&tg_message(2000 + user, message, "hello"));
                    assert_eq!(r.status, 200);
                }
            });
        }
    });
    assert_eq!(a.db_count("SELECT count(*) FROM conversations"), PEOPLE);
    assert_eq!(
        a.db_count("SELECT count(*) FROM conversations WHERE messages = 2"),
        PEOPLE
    );
}

/// `migrate` on `url` (given in CHATTAG_DATABASE_URL): (succeeded, stderr).
fn migrate(url: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chattag-collector"))
        .arg("migrate")
        .env_remove("CHATTAG_DB")
        .env("CHATTAG_DATABASE_URL", url)
        .output()
        .expect("run chattag-collector");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tls_is_required_and_verified_as_sslmode_says() {
    let Some(base) = cluster() else { return };
    let Some(ca) = std::env::var("CHATTAG_TEST_POSTGRES_CA")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        eprintln!("skipped: the test cluster has no TLS (CHATTAG_TEST_POSTGRES_CA)");
        return;
    };
    let db = PgDb::create(&base);
    let by_name = db.url.replacen("@127.0.0.1:", "@localhost:", 1);
    // Verified against the cluster's own CA, by host name and by address.
    for url in [&by_name, &db.url] {
        let (ok, err) = migrate(&format!("{url}?sslmode=verify-full&sslrootcert={ca}"));
        assert!(ok, "{url}: {err}");
    }
    // The public roots do not know the cluster's CA: verification fails, nothing connects.
    let (ok, err) = migrate(&format!("{by_name}?sslmode=verify-full"));
    assert!(!ok);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // `require` encrypts without checking the certificate (libpq's meaning).
    let (ok, err) = migrate(&format!("{by_name}?sslmode=require"));
    assert!(ok, "{err}");
    let (ok, err) = migrate(&format!("{by_name}?sslmode=bogus"));
    assert!(!ok && err.contains("sslmode"), "{err}");
}

/// PostgreSQL stores a batch in rounds of distinct chats and event IDs: several events of one
/// chat, and a resend inside the same request, still come out as one at a time would (on either
/// engine).
#[test]
fn several_events_of_one_chat_and_a_resend_in_one_request_are_stored_as_one_by_one() {
    let server = Server::start(&[]);
    let chat = common::new_chat_id();
    let issue = common::issue(&chat);
    let click = common::click(&chat);
    let mut later = common::click(&chat);
    later["ts"] = json!(click["ts"].as_i64().unwrap() + 1_000);
    let r = server.post_events(&json!([issue, click, click.clone(), later]));
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"accepted": 3, "duplicates": 1}));
    assert_eq!(server.db_count("SELECT count(*) FROM events"), 3);
    assert_eq!(server.db_count("SELECT count(*) FROM clicks"), 2);
    let row = server.row(&format!(
        "SELECT events, clicks, first_ts, last_ts FROM chats WHERE chat_id = '{chat}'"
    ));
    assert_eq!(row.get::<i64>(0), 3);
    assert_eq!(row.get::<i64>(1), 2);
    assert!(row.get::<i64>(2) < row.get::<i64>(3));
}

/// A resend racing its original: one batch holds a chat's row (from the chat's earlier event)
/// and waits for the resent event's ID, which a concurrent batch holds while it waits for that
/// chat's row. PostgreSQL aborts one of the two for the deadlock; it must be retried, not
/// answered as a failure, and every event still stored once.
#[test]
fn a_resend_racing_its_original_in_concurrent_batches_is_stored_once_without_failures() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    const N: usize = 40;
    let chats: Vec<(serde_json::Value, serde_json::Value)> = (0..N)
        .map(|_| {
            let chat = common::new_chat_id();
            (common::issue(&chat), common::click(&chat))
        })
        .collect();
    let accepted: i64 = std::thread::scope(|s| {
        let runs: Vec<_> = [(&a, true), (&a, false), (&b, true), (&b, false)]
            .into_iter()
            .map(|(server, original)| {
                let chats = &chats;
                s.spawn(move || {
                    chats
                        .iter()
                        .map(|(issue, click)| {
                            let body = if original {
                                json!([issue, click])
                            } else {
                                json!([click])
                            };
                            let r = server.post_events(&body);
                            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                            r.json()["accepted"].as_i64().unwrap()
                        })
                        .sum::<i64>()
                })
            })
            .collect();
        runs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(accepted, 2 * N as i64, "each event accepted once");
    assert_eq!(a.db_count("SELECT count(*) FROM events"), 2 * N as i64);
    assert_eq!(
        a.db_count("SELECT count(*) FROM chats WHERE events = 2 AND clicks = 1"),
        N as i64
    );
}
