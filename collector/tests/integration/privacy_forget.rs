//! Deletion and export on request against the real server on SQLite: one person's data stored
//! through every path (snippet events, each messenger's webhook, the CRM intake, a Metrica
//! upload through the stand-in), exported, then forgotten; the database files are searched
//! byte by byte afterwards. A second person's data must stay.

use crate::common;
use crate::support::metrica_standin;

use common::webhooks::{whatsapp_text, Messenger, INTAKE_TOKEN};
use common::{new_chat_id, new_event_id, Server, TS};
use metrica_standin::Standin;
use serde_json::{json, Value};

const PRIVACY_TOKEN: &str = "privacy-token-0123456789";
const OAUTH: &str = "y0_AgAAAAAtestOAuthToken0123456789";

/// One person's identifiers, unique to the test run.
struct Person {
    chat_id: String,
    client_id: String,
    yclid: String,
    phone: String,
    tg_user: String,
    tg_username: String,
    viber_user: String,
    max_user: String,
}

fn person(seed: u64) -> Person {
    let n = u64::from_le_bytes(common::random_bytes::<8>()) % 1_000_000_000;
    Person {
        chat_id: new_chat_id(),
        client_id: format!("17{:09}{:08}", n, seed),
        yclid: format!("51{:09}{:08}", n, seed),
        phone: format!("7916{:07}", (n + seed) % 10_000_000),
        tg_user: format!("8{:09}", (n + seed) % 1_000_000_000),
        tg_username: format!("privperson{n}x{seed}"),
        viber_user: format!("Vb{n}x{seed}Q=="),
        max_user: format!("9{:09}", (n + seed + 7) % 1_000_000_000),
    }
}

fn start() -> Server {
    Server::start_with_webhooks(
        &[
            Messenger::Telegram,
            Messenger::WhatsApp,
            Messenger::Viber,
            Messenger::Max,
        ],
        &[
            ("CHATTAG_INTAKE_TOKEN", INTAKE_TOKEN),
            ("CHATTAG_PRIVACY_TOKEN", PRIVACY_TOKEN),
        ],
    )
}

/// Stores `p`'s data through every path the collector has.
fn store_everything(server: &Server, p: &Person, seq: i64) {
    let issue = json!({
        "event_id": new_event_id(), "type": "issue", "chat_id": p.chat_id, "ts": TS,
        "page": "https://shop.example/p/1", "referrer": "https://yandex.ru/",
        "client_id": p.client_id, "yclid": p.yclid,
    });
    let click = json!({
        "event_id": new_event_id(), "type": "click", "chat_id": p.chat_id, "ts": TS + 5_000,
        "page": "https://shop.example/p/1", "client_id": p.client_id,
        "messenger": "telegram", "link_kind": "telegram_bot",
        "target": format!("https://t.me/shop_bot?start={}", p.chat_id)
    });
    let r = server.post_events(&json!([issue, click]));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    server.caught_up();

    let tg = json!({"update_id": seq, "message": {"message_id": seq,
        "from": {"id": p.tg_user.parse::<i64>().unwrap(), "is_bot": false, "first_name": "Anna", "username": p.tg_username},
        "chat": {"id": p.tg_user.parse::<i64>().unwrap(), "type": "private"}, "date": TS / 1000 + 60,
        "text": format!("/start {}", p.chat_id)}});
    let r = server.telegram(&serde_json::to_vec(&tg).unwrap());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let wa = whatsapp_text(
        &p.phone,
        "Anna",
        &format!("Hello {}", p.chat_id),
        TS / 1000 + 120,
        &format!("wamid.test{seq}"),
    );
    assert_eq!(server.whatsapp(&wa).status, 200);

    let viber = json!({"event": "conversation_started", "timestamp": TS + 180_000, "message_token": seq,
        "type": "open", "context": p.chat_id, "user": {"id": p.viber_user, "name": "Anna"}, "subscribed": false});
    assert_eq!(
        server.viber(&serde_json::to_vec(&viber).unwrap()).status,
        200
    );

    let max = json!({"update_type": "bot_started", "timestamp": TS + 240_000, "chat_id": seq,
        "user": {"user_id": p.max_user.parse::<i64>().unwrap(), "name": "Anna", "is_bot": false}, "payload": p.chat_id});
    assert_eq!(server.max(&serde_json::to_vec(&max).unwrap()).status, 200);

    let intake = json!({"platform": "whatsapp", "started_at": TS / 1000 + 300, "phone": format!("+{}", p.phone),
        "text": format!("From the CRM {}", p.chat_id), "external_id": format!("crm-{seq}")});
    let r = server.intake(&intake);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

fn upload(server: &Server, standin: &Standin) {
    let o = server.cli(
        &standin.single_upload_args(),
        &[("CHATTAG_METRICA_TOKEN", OAUTH)],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn privacy(server: &Server, action: &str, kind: &str, value: &str) -> common::Response {
    let auth = format!("Bearer {PRIVACY_TOKEN}");
    server.request(
        "POST",
        &format!("/v1/privacy/{action}"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &serde_json::to_vec(&json!({"kind": kind, "value": value})).unwrap(),
    )
}

/// Where `needle` is still kept: the database files (and the inbox's) on SQLite, the tables
/// with a row holding it on PostgreSQL.
fn holding(server: &Server, needle: &str, with_inbox: bool) -> Vec<String> {
    if server.pg.is_none() {
        return files_holding(server, needle, with_inbox);
    }
    server.tables_holding(needle)
}

/// Every database file (and the inbox's) that holds `needle`.
fn files_holding(server: &Server, needle: &str, with_inbox: bool) -> Vec<String> {
    let dir = server.db.parent().unwrap();
    let mut found = Vec::new();
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if with_inbox {
                for e in std::fs::read_dir(&path).unwrap() {
                    paths.push(e.unwrap().path());
                }
            }
        } else {
            paths.push(path);
        }
    }
    for path in paths {
        let bytes = std::fs::read(&path).unwrap_or_default();
        // std's substring search (optimised even in a debug build) over the bytes as text.
        if String::from_utf8_lossy(&bytes).contains(needle) {
            found.push(path.display().to_string());
        }
    }
    found
}

/// Chats forgotten: conversations, plus bot openings where the chat side keeps them apart.
fn chats_removed(done: &Value) -> u64 {
    done["removed"]["conversations"].as_u64().unwrap_or(0)
        + done["removed"]["bot_opens"].as_u64().unwrap_or(0)
}

fn needles(p: &Person) -> Vec<&str> {
    vec![
        &p.chat_id,
        &p.client_id,
        &p.yclid,
        &p.phone,
        &p.tg_user,
        &p.tg_username,
        &p.viber_user,
        &p.max_user,
    ]
}

#[test]
fn a_person_stored_through_every_path_is_exported_then_forgotten_without_a_trace() {
    let mut server = start();
    let standin = Standin::start(OAUTH);
    let anna = person(1);
    let boris = person(2);
    store_everything(&server, &anna, 1);
    store_everything(&server, &boris, 100);
    upload(&server, &standin);
    let sent = server.db_count("SELECT count(*) FROM metrica_uploads WHERE csv LIKE '%' || (SELECT client_id FROM chats LIMIT 1) || '%'");
    assert!(sent >= 1, "the upload's file should hold a ClientID");

    // Client addresses are never stored: every request came from 127.0.0.1.
    server.caught_up();
    let ip = holding(&server, "127.0.0.1", true);
    assert!(ip.is_empty(), "the client address is in {ip:?}");

    // The API refuses without the privacy token, and with the read token.
    let r = server.request(
        "POST",
        "/v1/privacy/forget",
        &[],
        br#"{"kind":"phone","value":"1"}"#,
    );
    assert_eq!(r.status, 401);
    let read = format!("Bearer {}", common::TOKEN);
    let r = server.request(
        "POST",
        "/v1/privacy/export",
        &[("Authorization", &read)],
        br#"{"kind":"phone","value":"79160000000"}"#,
    );
    assert_eq!(r.status, 401);
    let r = privacy(&server, "forget", "email", "a@b.example");
    assert_eq!(r.status, 400);
    assert_eq!(r.error().0, "invalid_subject");

    // Export by phone reaches the whole person: events, clicks, visit, every conversation.
    let r = privacy(&server, "export", "phone", &format!("+{}", anna.phone));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let data = &r.json()["data"];
    let rows = |t: &str| data[t].as_array().map_or(0, Vec::len);
    assert_eq!(rows("events"), 2, "{data}");
    assert_eq!(rows("clicks"), 1);
    assert_eq!(rows("chats"), 1);
    // Opening a bot without writing is a conversation, or (where the chat side keeps them
    // apart) a bot opening: five chats either way.
    assert!(rows("conversations") + rows("bot_opens") >= 5, "{data}");
    assert!(rows("metrica_uploads") >= 1, "{data}");
    let text = data.to_string();
    assert!(text.contains(&anna.client_id) && text.contains(&anna.tg_username));
    assert!(!text.contains(&boris.client_id) && !text.contains(&boris.phone));

    // Forget by phone: everything of Anna, nothing of Boris.
    let r = privacy(&server, "forget", "phone", &anna.phone);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let done = r.json();
    assert_eq!(done["removed"]["events"], 2, "{done}");
    assert_eq!(done["removed"]["clicks"], 1);
    assert_eq!(done["removed"]["chats"], 1);
    assert!(chats_removed(&done) >= 5, "{done}");
    assert!(done["removed"]["metrica_uploads"].as_u64().unwrap() >= 1);
    if server.pg.is_none() {
        assert_eq!(done["wal_truncated"], true);
        assert_eq!(done["inbox_rotated"], true);
    }

    // Nothing of Anna in the database files (main file, WAL, shared memory) nor in the inbox;
    // on PostgreSQL (no files of ours) in no row of any table.
    for needle in needles(&anna) {
        let left = holding(&server, needle, true);
        assert!(left.is_empty(), "{needle} is still in {left:?}");
    }
    // Boris is untouched (his phone kept hashed, the default).
    let key = server.privacy_key();
    let boris_phone = chattag_collector::privacy::phones::token(&key, &boris.phone);
    for needle in [&boris.client_id, &boris_phone, &boris.tg_username] {
        assert!(
            !holding(&server, needle, false).is_empty(),
            "{needle} was lost"
        );
    }
    let again = privacy(&server, "export", "client_id", &boris.client_id).json();
    assert_eq!(again["data"]["events"].as_array().map(Vec::len), Some(2));

    // The audit keeps the request without the phone.
    let r = server.row(
        "SELECT subject_kind, subject_hash, counts FROM privacy_audit WHERE action = 'forget'",
    );
    let (kind, hash, counts): (String, String, String) = (r.get(0), r.get(1), r.get(2));
    assert_eq!(kind, "phone");
    assert_eq!(hash.len(), 64);
    assert!(!hash.contains(&anna.phone) && !counts.contains(&anna.phone));
    let counts: Value = serde_json::from_str(&counts).unwrap();
    assert_eq!(counts["events"], 2);

    // Ingest goes on in the new segment, and the log opens again after a kill with nothing
    // acknowledged lost.
    let later = new_chat_id();
    assert_eq!(
        server.post_events(&json!([common::issue(&later)])).status,
        200
    );
    let last = new_chat_id();
    assert_eq!(
        server.post_events(&json!([common::issue(&last)])).status,
        200
    );
    server.restart();
    server.caught_up();
    assert_eq!(
        server.db_count(&format!(
            "SELECT count(*) FROM events WHERE chat_id IN ('{later}', '{last}')"
        )),
        2
    );
}

#[test]
fn the_commands_export_and_forget_by_client_id_and_username() {
    let server = start();
    let anna = person(3);
    store_everything(&server, &anna, 7);
    let o = server.cli(
        &[
            "export-person",
            "--username",
            &format!("@{}", anna.tg_username),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        out["data"]["chats"][0]["client_id"],
        anna.client_id.as_str()
    );

    let o = server.cli(&["forget", "--client-id", &anna.client_id], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(out["removed"]["events"], 2, "{out}");
    // The running server owns the inbox: a command cannot close its segment.
    assert_eq!(out["inbox_rotated"], false, "{out}");
    assert!(chats_removed(&out) >= 5, "{out}");
    for needle in needles(&anna) {
        let left = holding(&server, needle, false);
        assert!(left.is_empty(), "{needle} is still in {left:?}");
    }
    let o = server.cli(&["forget", "--phone", "12"], &[]);
    assert!(!o.status.success());
    assert_eq!(
        server.db_count("SELECT count(*) FROM privacy_audit WHERE via = 'cli'"),
        2
    );
}
