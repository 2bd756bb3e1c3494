//! Durability: a 200 is sent only after COMMIT, so every acknowledged event survives SIGKILL
//! of the collector under load; a restart keeps everything.

use crate::common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const CLIENTS: usize = 4;
const BATCH: usize = 10;

#[test]
fn every_acknowledged_event_survives_kill_9_under_load() {
    let mut server = Server::start(&[]);
    let addr = server.addr.clone();
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(20);

    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (addr, acked, stop) = (addr.clone(), Arc::clone(&acked), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut failed_in_flight = 0usize;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let batch: Vec<Value> = (0..BATCH / 2)
                        .flat_map(|_| {
                            let id = new_chat_id();
                            [issue(&id), click(&id)]
                        })
                        .collect();
                    let ids: Vec<String> = batch
                        .iter()
                        .map(|e| e["event_id"].as_str().unwrap_or_default().to_owned())
                        .collect();
                    let body = serde_json::to_vec(&batch).unwrap_or_default();
                    match try_request(
                        &addr,
                        "POST",
                        "/v1/events",
                        &[("Origin", ORIGIN), ("Content-Type", "text/plain")],
                        &body,
                    ) {
                        Ok(res) if res.status == 200 => {
                            acked.lock().unwrap_or_else(|p| p.into_inner()).extend(ids)
                        }
                        Ok(res) => panic!(
                            "unexpected status {} before the kill: {}",
                            res.status,
                            String::from_utf8_lossy(&res.body)
                        ),
                        // The server is gone: this request was in flight or refused at connect.
                        Err(_) => {
                            failed_in_flight += 1;
                            break;
                        }
                    }
                }
                failed_in_flight
            })
        })
        .collect();

    // Let load build up, then kill while the clients are still sending.
    assert!(
        wait_until(Duration::from_secs(15), || acked
            .lock()
            .map(|a| a.len() >= 3_000)
            .unwrap_or(false)),
        "the load did not reach 3000 acknowledged events"
    );
    server.kill9();
    let kill_time = Instant::now();
    let failures: usize = clients
        .into_iter()
        .map(|c| c.join().expect("client thread"))
        .sum();
    stop.store(true, Ordering::Relaxed);
    assert_eq!(
        failures, CLIENTS,
        "every client must have been cut off by the kill (load was running)"
    );
    assert!(
        kill_time < deadline,
        "kill happened after the clients stopped"
    );

    let acked = acked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    server.restart();
    assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
    // Acknowledged events still in the inbox at the kill are applied after the restart.
    server.caught_up();

    let stored: HashSet<String> = server
        .rows("SELECT event_id FROM events")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    eprintln!(
        "acknowledged {} events before SIGKILL; {} stored after restart; {} missing",
        acked.len(),
        stored.len(),
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // Whole requests are atomic: clicks and chats match the stored events exactly.
    let clicks = server.db_count("SELECT count(*) FROM clicks");
    let issues = server.db_count("SELECT count(*) FROM events WHERE kind = 'issue'");
    assert_eq!(clicks, issues, "a request was half-stored");

    // The restarted server accepts more.
    assert_eq!(server.post_events(&issue(&new_chat_id())).status, 200);
}

#[test]
fn restart_keeps_everything() {
    let mut server = Server::start(&[]);
    let id = new_chat_id();
    let events = json!([issue(&id), click(&id)]);
    assert_eq!(server.post_events(&events).status, 200);
    let before = server.get_authed(&format!("/v1/chats/{id}")).json();
    let list_before = server.get_authed("/v1/mappings").json();

    server.restart();
    let after = server.get_authed(&format!("/v1/chats/{id}")).json();
    assert_eq!(before, after);
    assert_eq!(list_before, server.get_authed("/v1/mappings").json());
    // Dedupe survives restarts too: the snippet may resend after the collector came back.
    assert_eq!(
        server.post_events(&events).json(),
        json!({"accepted": 0, "duplicates": 2})
    );
}
