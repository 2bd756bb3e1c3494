//! Several collector instances on one PostgreSQL database: ingest spread across two, the same
//! event batch and the same webhook delivery sent to both at the same moment, one instance
//! killed with SIGKILL under load, and scheduled work (retention, `upload metrica --every`)
//! held by one process and moved to the survivor when it is killed.
//!
//! Runs only when `CHATTAG_TEST_POSTGRES` names a cluster (`eval "$(scripts/postgres.sh
//! start)"`); otherwise each test prints a skip line and passes.

use crate::common;
use crate::support::upload_process;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::Duration;

use common::webhooks::{telegram_hello, TG_SECRET};
use common::{new_chat_id, new_event_id, PgDb, Server, ORIGIN, TOKEN, TS};
use serde_json::{json, Value};

/// A fresh database on the test cluster, or `None` after printing why the test is skipped.
fn database(test: &str) -> Option<PgDb> {
    match common::postgres_base() {
        Some(base) => Some(PgDb::create(&base)),
        None => {
            eprintln!("skipped {test}: the multi-instance tests need PostgreSQL; set CHATTAG_TEST_POSTGRES (eval \"$(scripts/postgres.sh start)\")");
            None
        }
    }
}

/// One collector instance on `db`, with the Telegram webhook, a 2 s lease and retention
/// rounds every 200 ms.
fn instance(db: &PgDb) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("chattag.toml");
    std::fs::write(&config, "[privacy.retention]\ninterval = \"200ms\"\n").expect("config");
    let config = config.to_str().expect("UTF-8 path").to_owned();
    Server::start_at(
        dir,
        PathBuf::from(&db.url),
        &[
            "--allowed-origin",
            ORIGIN,
            "--rate-limit",
            "0",
            "--lease-ttl",
            "2s",
            "--config",
            &config,
        ],
        &[
            ("CHATTAG_READ_TOKEN", TOKEN),
            ("CHATTAG_TELEGRAM_SECRET", TG_SECRET),
        ],
    )
}

fn count(db: &PgDb, sql: &str) -> i64 {
    db.client()
        .query_one(&format!("SELECT ({sql})::bigint"), &[])
        .expect("count query")
        .get(0)
}

/// A batch of `n` new events (issues on new chat IDs), with their event IDs.
fn batch(n: usize) -> (Value, Vec<String>) {
    let events: Vec<Value> = (0..n)
        .map(|_| {
            let mut e = common::issue(&new_chat_id());
            e["event_id"] = json!(new_event_id());
            e
        })
        .collect();
    let ids = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    (json!(events), ids)
}

/// POST /v1/events to `addr`; `None` when the instance is gone (refused, reset).
fn post(addr: &str, body: &Value) -> Option<common::Response> {
    common::try_request(
        addr,
        "POST",
        "/v1/events",
        &[
            ("Origin", ORIGIN),
            ("Content-Type", "text/plain;charset=UTF-8"),
        ],
        &serde_json::to_vec(body).expect("json"),
    )
    .ok()
}

/// Runs `f(0)` and `f(1)` on two threads released at the same moment.
fn at_once<T: Send>(f: impl Fn(usize) -> T + Sync) -> (T, T) {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let run = |i| {
            let (barrier, f) = (&barrier, &f);
            s.spawn(move || {
                barrier.wait();
                f(i)
            })
        };
        let (a, b) = (run(0), run(1));
        (a.join().expect("thread 0"), b.join().expect("thread 1"))
    })
}

#[test]
fn ingest_spread_over_two_instances_and_the_same_batch_at_both_at_once_store_each_event_once() {
    let Some(db) = database("ingest_spread") else {
        return;
    };
    let servers = [instance(&db), instance(&db)];
    let mut sent = HashSet::new();
    for i in 0..100 {
        let (body, ids) = batch(5);
        let r = servers[i % 2].post_events(&body);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["accepted"], 5);
        sent.extend(ids);
    }
    for _ in 0..30 {
        let (body, ids) = batch(5);
        let (a, b) = at_once(|i| servers[i].post_events(&body));
        assert_eq!((a.status, b.status), (200, 200));
        let accepted = a.json()["accepted"].as_i64().unwrap_or(-1)
            + b.json()["accepted"].as_i64().unwrap_or(-1);
        let duplicates = a.json()["duplicates"].as_i64().unwrap_or(-1)
            + b.json()["duplicates"].as_i64().unwrap_or(-1);
        assert_eq!(
            (accepted, duplicates),
            (5, 5),
            "each event accepted by one instance, a duplicate at the other: {} / {}",
            a.json(),
            b.json()
        );
        sent.extend(ids);
    }
    assert_eq!(count(&db, "SELECT count(*) FROM events"), sent.len() as i64);
    assert_eq!(
        count(&db, "SELECT count(DISTINCT event_id) FROM events"),
        sent.len() as i64
    );
    // One chat row per chat ID, whichever instance stored its event (or both).
    assert_eq!(count(&db, "SELECT count(*) FROM chats"), sent.len() as i64);
    // Either instance answers the read API with what the other stored.
    let (body, _) = batch(1);
    assert_eq!(servers[0].post_events(&body).status, 200);
    let chat = body[0]["chat_id"].as_str().unwrap_or_default().to_owned();
    let rec = servers[1].get_authed(&format!("/v1/chats/{chat}"));
    assert_eq!(rec.status, 200, "{}", String::from_utf8_lossy(&rec.body));
    assert_eq!(rec.json()["events"], 1, "{}", rec.json());
}

#[test]
fn an_instance_killed_under_load_loses_no_acknowledged_event() {
    let Some(db) = database("sigkill_under_load") else {
        return;
    };
    let mut servers = [instance(&db), instance(&db)];
    let addrs = [servers[0].addr.clone(), servers[1].addr.clone()];
    let acked = Mutex::new(Vec::<String>::new());
    let acked_by = [AtomicUsize::new(0), AtomicUsize::new(0)];
    let stop = AtomicBool::new(false);
    let killed = AtomicBool::new(false);
    let after_kill = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..6 {
            let (acked, acked_by, stop, killed, after_kill, addrs) =
                (&acked, &acked_by, &stop, &killed, &after_kill, &addrs);
            s.spawn(move || {
                let mut n = t;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let target = n % 2;
                    let (body, ids) = batch(10);
                    // Only a 200 acknowledges; a refused or cut connection acknowledges nothing.
                    if let Some(r) = post(&addrs[target], &body) {
                        if r.status == 200 {
                            acked_by[target].fetch_add(1, Ordering::SeqCst);
                            if killed.load(Ordering::SeqCst) {
                                after_kill.fetch_add(1, Ordering::SeqCst);
                            }
                            acked.lock().unwrap().extend(ids);
                        }
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(1500));
        servers[0].kill9();
        killed.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::SeqCst);
    });
    let acked = acked.into_inner().unwrap();
    eprintln!(
        "acknowledged {} events: {} requests at the killed instance, {} after the kill",
        acked.len(),
        acked_by[0].load(Ordering::SeqCst),
        after_kill.load(Ordering::SeqCst)
    );
    assert!(
        acked_by[0].load(Ordering::SeqCst) > 0 && after_kill.load(Ordering::SeqCst) > 0,
        "load reached the killed instance before and the survivor after the kill"
    );
    let mut client = db.client();
    let stored: i64 = client
        .query_one(
            "SELECT count(*) FROM events WHERE event_id = ANY($1)",
            &[&acked],
        )
        .expect("count acknowledged events")
        .get(0);
    assert_eq!(
        stored,
        acked.len() as i64,
        "every acknowledged event is stored ({} acknowledged requests at the killed instance)",
        acked_by[0].load(Ordering::SeqCst)
    );
    let survivor = &servers[1];
    assert_eq!(survivor.request("GET", "/healthz", &[], b"").status, 200);
}

/// A Telegram visit and bot opening, then the person's message: one chat.
fn telegram_updates(user: i64) -> (Value, Vec<u8>, Vec<u8>) {
    let id = new_chat_id();
    let date_s = TS / 1000 + 60;
    let update = user % 1_000_000;
    let start = serde_json::to_vec(
        &json!({"update_id": update, "message": {"message_id": update,
        "from": {"id": user, "is_bot": false, "first_name": "Anna"},
        "chat": {"id": user, "type": "private"}, "date": date_s, "text": format!("/start {id}")}}),
    )
    .expect("json");
    let mut visit = common::issue(&id);
    visit["event_id"] = json!(new_event_id());
    (
        json!([visit]),
        start,
        telegram_hello(user, update + 500, date_s),
    )
}

#[test]
fn the_same_webhook_delivery_at_both_instances_at_once_opens_one_chat() {
    let Some(db) = database("webhook_at_both") else {
        return;
    };
    let servers = [instance(&db), instance(&db)];
    let chats = 20;
    for k in 0..chats {
        let (visit, start, hello) = telegram_updates(381_920_000 + k);
        assert_eq!(servers[0].post_events(&visit).status, 200);
        // Telegram retries a delivery it got no answer for; here each one reaches both.
        let (a, b) = at_once(|i| servers[i].telegram(&start));
        assert_eq!((a.status, b.status), (200, 200));
        let (a, b) = at_once(|i| servers[i].telegram(&hello));
        assert_eq!((a.status, b.status), (200, 200));
        let opened =
            a.json()["opened"].as_i64().unwrap_or(-1) + b.json()["opened"].as_i64().unwrap_or(-1);
        assert_eq!(
            opened,
            1,
            "one of the two opens the chat: {} / {}",
            a.json(),
            b.json()
        );
    }
    assert_eq!(count(&db, "SELECT count(*) FROM conversations"), chats);
    assert_eq!(count(&db, "SELECT count(*) FROM bot_opens"), chats);
    // Every conversation matched to its visit, once.
    assert_eq!(
        count(
            &db,
            "SELECT count(DISTINCT chat_id) FROM conversations WHERE chat_id IS NOT NULL"
        ),
        chats
    );
}

/// Completed retention rounds of one instance (its /metrics).
fn expiry_runs(server: &Server) -> i64 {
    let r = server.request("GET", "/metrics", &[], b"");
    String::from_utf8_lossy(&r.body)
        .lines()
        .find_map(|l| l.strip_prefix("chattag_privacy_expiry_runs_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1)
}

/// The pid in a lease holder (`host:pid:start`).
fn holder_pid(holder: &str) -> Option<u32> {
    holder.split(':').nth(1)?.parse().ok()
}

#[test]
fn the_retention_lease_is_held_by_one_instance_and_moves_when_it_is_killed() {
    let Some(db) = database("retention_lease") else {
        return;
    };
    let mut servers = [instance(&db), instance(&db)];
    let holder = || -> Option<String> {
        db.client()
            .query_opt(
                "SELECT holder FROM leases WHERE name = 'privacy-expiry' AND until_ms > (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
                &[],
            )
            .ok()
            .flatten()
            .map(|r| r.get(0))
    };
    assert!(common::wait_until(Duration::from_secs(10), || holder().is_some()));
    let first = holder().and_then(|h| holder_pid(&h));
    let pids = [servers[0].child.id(), servers[1].child.id()];
    let held = pids
        .iter()
        .position(|p| Some(*p) == first)
        .expect("the lease is held by one of the two instances");
    // It stays with its holder while the holder renews it, and only the holder runs rounds.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(holder().and_then(|h| holder_pid(&h)), first);
    let runs = [expiry_runs(&servers[0]), expiry_runs(&servers[1])];
    assert!(
        runs[held] > 3,
        "the holder runs rounds every 200 ms: {runs:?}"
    );
    assert_eq!(runs[1 - held], 0, "the other instance runs none: {runs:?}");
    servers[held].kill9();
    let other = pids[1 - held];
    let moved = common::wait_until(Duration::from_secs(15), || {
        holder().and_then(|h| holder_pid(&h)) == Some(other)
    });
    assert!(moved, "the survivor took the lease: {:?}", holder());
    let survivor = &servers[1 - held];
    assert!(
        common::wait_until(Duration::from_secs(5), || expiry_runs(survivor) > 0),
        "the survivor runs the rounds now"
    );
}

#[test]
fn scheduled_uploads_run_once_and_move_to_the_survivor() {
    let Some(db) = database("upload_lease") else {
        return;
    };
    let servers = [instance(&db), instance(&db)];
    upload_process::two_uploads_take_turns(&servers[0], &servers[1], &db.url, &|sql| {
        count(&db, sql)
    });
}
