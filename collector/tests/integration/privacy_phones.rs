//! Phone numbers kept only as a keyed hash (the default) against the real server on SQLite: a
//! person's data stored through every path (snippet events, each messenger's webhook, a
//! WhatsApp answer and an unreadable WhatsApp item, the CRM intake by API and by CSV import, a
//! Metrica upload through the stand-in); the phone in clear must be nowhere in the database
//! files, matching by phone must still work, and deletion by phone must still find everything,
//! answers and unreadable items included. With `CHATTAG_PHONES=clear` the same data shows the
//! phone (so the byte search is known to find it) and is deleted the same way.

use crate::common;
use crate::support::metrica_standin;

use chattag_collector::privacy::phones::token;
use common::webhooks::{whatsapp_text, Messenger, INTAKE_TOKEN};
use common::{new_chat_id, new_event_id, Server, TS};
use metrica_standin::Standin;
use serde_json::{json, Value};

const PRIVACY_TOKEN: &str = "privacy-token-0123456789";
const OAUTH: &str = "y0_AgAAAAAtestOAuthToken0123456789";

struct Person {
    chat_id: String,
    client_id: String,
    /// International digits, unique to the run.
    phone: String,
    tg_user: i64,
    viber_user: String,
    max_user: i64,
}

fn person(seed: u64) -> Person {
    let n = u64::from_le_bytes(common::random_bytes::<8>()) % 10_000_000;
    Person {
        chat_id: new_chat_id(),
        client_id: format!("17{n:09}{seed:08}"),
        phone: format!("7916{:07}", (n + seed * 7919) % 10_000_000),
        tg_user: 800_000_000 + ((n + seed) % 100_000_000) as i64,
        viber_user: format!("Vb{n}x{seed}Q=="),
        max_user: 900_000_000 + ((n + seed + 7) % 100_000_000) as i64,
    }
}

impl Person {
    /// The phone as a person writes it: `+7 (916) 123-45-67`.
    fn formatted(&self) -> String {
        let p = &self.phone;
        format!(
            "+{} ({}) {}-{}-{}",
            &p[..1],
            &p[1..4],
            &p[4..7],
            &p[7..9],
            &p[9..]
        )
    }
}

fn start(env: &[(&str, &str)]) -> Server {
    let mut all = vec![
        ("CHATTAG_INTAKE_TOKEN", INTAKE_TOKEN),
        ("CHATTAG_PRIVACY_TOKEN", PRIVACY_TOKEN),
    ];
    all.extend_from_slice(env);
    Server::start_with_webhooks(
        &[
            Messenger::Telegram,
            Messenger::WhatsApp,
            Messenger::Viber,
            Messenger::Max,
        ],
        &all,
    )
}

fn whatsapp_value(value: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
        "value": value}]}]}))
    .unwrap()
}

/// Stores `p`'s data through every path; `cli_env` is given to the import command.
fn store_everything(server: &Server, p: &Person, seq: i64, cli_env: &[(&str, &str)]) {
    let issue = json!({
        "event_id": new_event_id(), "type": "issue", "chat_id": p.chat_id, "ts": TS,
        "page": "https://shop.example/p/1", "client_id": p.client_id,
    });
    let click = json!({
        "event_id": new_event_id(), "type": "click", "chat_id": p.chat_id, "ts": TS + 5_000,
        "page": "https://shop.example/p/1", "client_id": p.client_id,
        "messenger": "whatsapp", "link_kind": "whatsapp",
        "target": "https://wa.me/15550783881"
    });
    assert_eq!(server.post_events(&json!([issue, click])).status, 200);
    server.caught_up();

    // The business's message was delivered before the person's first message arrived: the
    // answer waits in `answers` under the person's phone.
    let status = whatsapp_value(json!({"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1"},
        "statuses": [{"id": format!("wamid.R{seq}"), "status": "delivered",
            "timestamp": (TS / 1000 + 100).to_string(), "recipient_id": p.phone}]}));
    let r = server.whatsapp(&status);
    assert_eq!(r.json()["answers_pending"], 1, "{:?}", r.json());

    // The first message carries the chat ID and the phone as typed; the second continues the
    // same conversation, which only works if the hashed phone is recognised.
    let first = whatsapp_text(
        &p.phone,
        "Anna",
        &format!("Hello {}, call me at {}", p.chat_id, p.formatted()),
        TS / 1000 + 60,
        &format!("wamid.A{seq}"),
    );
    let r = server.whatsapp(&first).json();
    assert_eq!(r["opened"], 1, "{r}");
    let second = whatsapp_text(
        &p.phone,
        "Anna",
        "Is it in stock?",
        TS / 1000 + 120,
        &format!("wamid.B{seq}"),
    );
    let r = server.whatsapp(&second).json();
    assert_eq!(r["continued"], 1, "{r}");

    // An item the collector cannot read (its timestamp is no number) is kept raw.
    let unreadable = whatsapp_value(json!({"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1"},
        "contacts": [{"profile": {"name": "Anna"}, "wa_id": p.phone}],
        "messages": [{"from": p.phone, "id": format!("wamid.U{seq}"), "timestamp": "soon", "type": "text",
            "text": {"body": "hi"}}]}));
    assert_eq!(server.whatsapp(&unreadable).json()["unreadable"], 1);

    let tg = json!({"update_id": seq, "message": {"message_id": seq,
        "from": {"id": p.tg_user, "is_bot": false, "first_name": "Anna"},
        "chat": {"id": p.tg_user, "type": "private"}, "date": TS / 1000 + 60,
        "text": format!("/start {}", p.chat_id)}});
    assert_eq!(
        server.telegram(&serde_json::to_vec(&tg).unwrap()).status,
        200
    );
    let viber = json!({"event": "conversation_started", "timestamp": TS + 180_000, "message_token": seq,
        "type": "open", "context": p.chat_id, "user": {"id": p.viber_user, "name": "Anna"}, "subscribed": false});
    assert_eq!(
        server.viber(&serde_json::to_vec(&viber).unwrap()).status,
        200
    );
    let max = json!({"update_type": "bot_started", "timestamp": TS + 240_000, "chat_id": seq,
        "user": {"user_id": p.max_user, "name": "Anna", "is_bot": false}, "payload": p.chat_id});
    assert_eq!(server.max(&serde_json::to_vec(&max).unwrap()).status, 200);

    let intake = json!({"platform": "whatsapp", "started_at": TS / 1000 + 300, "phone": p.formatted(),
        "text": format!("From the CRM {} tel {}", p.chat_id, p.phone), "external_id": format!("crm-{seq}")});
    let r = server.intake(&intake);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let csv = server.db.with_file_name(format!("import-{seq}.csv"));
    std::fs::write(
        &csv,
        format!(
            "platform,started_at,phone,text,external_id\r\nviber,{},{},\"Hi {}\",csv-{seq}\r\n",
            TS / 1000 + 400,
            p.formatted(),
            p.chat_id
        ),
    )
    .unwrap();
    let o = server.cli(&["import", "chats", csv.to_str().unwrap()], cli_env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_file(&csv).unwrap();
}

fn upload(server: &Server, standin: &Standin) {
    let o = server.cli(
        &standin.single_upload_args(),
        &[("CHATTAG_METRICA_TOKEN", OAUTH)],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn privacy(server: &Server, action: &str, value: &str) -> Value {
    let auth = format!("Bearer {PRIVACY_TOKEN}");
    let r = server.request(
        "POST",
        &format!("/v1/privacy/{action}"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &serde_json::to_vec(&json!({"kind": "phone", "value": value})).unwrap(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

/// Every file beside the database (main file, WAL, shared memory, the inbox's segments) that
/// holds `needle`, read as bytes.
fn files_holding(server: &Server, needle: &str) -> Vec<String> {
    if server.pg_url().is_some() {
        return server.tables_holding(needle);
    }
    let dir = server.db.parent().unwrap();
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            for e in std::fs::read_dir(&path).unwrap() {
                paths.push(e.unwrap().path());
            }
        } else {
            paths.push(path);
        }
    }
    paths
        .into_iter()
        .filter(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).contains(needle))
        .map(|p| p.display().to_string())
        .collect()
}

/// Rows of the person in `answers` and `webhook_unreadable`, with their phone stored as `stored`.
fn answers_and_unreadable(server: &Server, stored: &str) -> (i64, i64) {
    (
        server.db_count(&format!(
            "SELECT count(*) FROM answers WHERE phone = '{stored}'"
        )),
        server.db_count(&format!(
            "SELECT count(*) FROM webhook_unreadable WHERE raw LIKE '%{stored}%'"
        )),
    )
}

/// The upload's kept file.
fn uploaded_csv(server: &Server) -> String {
    let files: Vec<String> = server
        .rows("SELECT csv FROM metrica_uploads ORDER BY id")
        .iter()
        .map(|r| r.get(0))
        .collect();
    files.join("\n")
}

#[test]
fn hashed_phones_are_nowhere_in_clear_yet_match_export_and_forget() {
    let server = start(&[]);
    let standin = Standin::start(OAUTH);
    let anna = person(1);
    let boris = person(2);
    store_everything(&server, &anna, 1, &[]);
    store_everything(&server, &boris, 100, &[]);
    upload(&server, &standin);
    server.caught_up();

    let key = server.privacy_key();
    let anna_token = token(&key, &anna.phone);
    let boris_token = token(&key, &boris.phone);

    // Nothing of either phone in clear, in any file, in any spelling the data used.
    for p in [&anna, &boris] {
        for needle in [p.phone.clone(), p.phone[1..].to_string(), p.formatted()] {
            let found = files_holding(&server, &needle);
            assert!(found.is_empty(), "{needle} is in {found:?}");
        }
    }
    // Matching by phone still works: the WhatsApp chat was matched by the code in its text and
    // continued by the second message; the answer that overtook it was claimed.
    let r = server.row(&format!(
        "SELECT method, messages, answered FROM conversations WHERE platform = 'whatsapp' AND phone = '{anna_token}' AND source = 'webhook'"
    ));
    let (method, messages, answered): (String, i64, bool) = (r.get(0), r.get(1), r.get(2));
    assert_eq!(
        (method.as_str(), messages, answered),
        ("exact-text", 2, true)
    );
    assert_eq!(answers_and_unreadable(&server, &anna_token), (1, 1));
    // Metrica gets no PhoneNumber: the hash names the chat partner instead.
    let csv = uploaded_csv(&server);
    assert!(
        csv.contains(&anna_token) && !csv.contains("PhoneNumber"),
        "{csv}"
    );

    // Export and deletion by the phone as the person gives it (hashed with the same key).
    let data = privacy(&server, "export", &anna.formatted());
    let rows = |t: &str| data["data"][t].as_array().map_or(0, Vec::len);
    assert!(rows("conversations") >= 3, "{data}");
    assert_eq!(
        (rows("answers"), rows("webhook_unreadable")),
        (1, 1),
        "{data}"
    );
    let done = privacy(&server, "forget", &anna.formatted());
    assert_eq!(done["removed"]["answers"], 1, "{done}");
    assert_eq!(done["removed"]["webhook_unreadable"], 1, "{done}");
    assert!(
        done["removed"]["conversations"].as_u64().unwrap() >= 3,
        "{done}"
    );
    assert!(
        done["removed"]["metrica_uploads"].as_u64().unwrap() >= 1,
        "{done}"
    );
    assert_eq!(done["removed"]["events"], 2, "{done}");
    assert_eq!(answers_and_unreadable(&server, &anna_token), (0, 0));
    for needle in [&anna_token, &anna.client_id, &anna.chat_id] {
        let left = files_holding(&server, needle);
        assert!(left.is_empty(), "{needle} is still in {left:?}");
    }
    // Boris stays, hashed.
    assert_eq!(answers_and_unreadable(&server, &boris_token), (1, 1));
    assert!(!files_holding(&server, &boris_token).is_empty());
}

#[test]
fn phones_in_clear_when_the_owner_opts_in_and_forget_still_removes_answers_and_raw_items() {
    let clear = [("CHATTAG_PHONES", "clear")];
    let server = start(&clear);
    let standin = Standin::start(OAUTH);
    let anna = person(3);
    let boris = person(4);
    store_everything(&server, &anna, 1, &clear);
    store_everything(&server, &boris, 100, &clear);
    upload(&server, &standin);
    server.caught_up();

    // The search finds a phone that is there, and Metrica gets it.
    assert!(!files_holding(&server, &anna.phone).is_empty());
    assert_eq!(answers_and_unreadable(&server, &anna.phone), (1, 1));
    let csv = uploaded_csv(&server);
    assert!(
        csv.contains("PhoneNumber") && csv.contains(&anna.phone),
        "{csv}"
    );

    let done = privacy(&server, "forget", &anna.phone);
    assert_eq!(done["removed"]["answers"], 1, "{done}");
    assert_eq!(done["removed"]["webhook_unreadable"], 1, "{done}");
    assert_eq!(answers_and_unreadable(&server, &anna.phone), (0, 0));
    let left = files_holding(&server, &anna.phone);
    assert!(left.is_empty(), "{} is still in {left:?}", anna.phone);
    assert_eq!(answers_and_unreadable(&server, &boris.phone), (1, 1));
}

/// Clear phones left in `conversations` and `answers` (numbers, or a WhatsApp user ID that is one).
fn clear_phone_rows(server: &Server) -> i64 {
    server.db_count(
        // "Starts with a digit", as both engines read it.
        "SELECT (SELECT count(*) FROM conversations WHERE substr(phone, 1, 1) BETWEEN '0' AND '9'
                   OR substr(user_key, 1, 7) BETWEEN 'phone:0' AND 'phone:9'
                   OR (platform = 'whatsapp' AND substr(chat_user_id, 1, 1) BETWEEN '0' AND '9'))
              + (SELECT count(*) FROM answers WHERE substr(phone, 1, 1) BETWEEN '0' AND '9')",
    )
}

#[test]
fn phones_kept_in_clear_before_are_hashed_by_the_server_and_the_person_goes_on_in_the_same_chat() {
    // A short lease: this server is killed below, and the next one's expiry rounds (which hash
    // the old phones) start only once the killed holder's lease has run out.
    let mut before = start(&[("CHATTAG_PHONES", "clear"), ("CHATTAG_LEASE_TTL", "1s")]);
    let anna = person(5);
    // An answer waits, then Anna writes (it claims the answer); a CRM reports her by the WhatsApp
    // user ID that is her phone.
    let status = whatsapp_value(json!({"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1"},
        "statuses": [{"id": "wamid.S1", "status": "delivered",
            "timestamp": (TS / 1000 + 30).to_string(), "recipient_id": anna.phone}]}));
    assert_eq!(before.whatsapp(&status).json()["answers_pending"], 1);
    let first = whatsapp_text(
        &anna.phone,
        "Anna",
        &format!("Hello {}", anna.chat_id),
        TS / 1000 + 20,
        "wamid.S2",
    );
    assert_eq!(before.whatsapp(&first).json()["opened"], 1);
    let crm = json!({"platform": "whatsapp", "started_at": TS / 1000 + 40, "chat_user_id": anna.phone,
        "external_id": "crm-switch"});
    let r = before.intake(&crm);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(clear_phone_rows(&before), 3);
    before.kill9();

    // The same database, now with phones hashed (the default) and expiry due every 300 ms.
    let conf = before.db.with_file_name("hashed.toml");
    std::fs::write(&conf, "[privacy.retention]\ninterval = \"300ms\"\n").unwrap();
    let mut env = vec![
        ("CHATTAG_INTAKE_TOKEN", INTAKE_TOKEN),
        ("CHATTAG_PRIVACY_TOKEN", PRIVACY_TOKEN),
        ("CHATTAG_READ_TOKEN", common::TOKEN),
    ];
    env.extend([
        ("CHATTAG_WHATSAPP_APP_SECRET", common::webhooks::WA_SECRET),
        ("CHATTAG_WHATSAPP_VERIFY_TOKEN", common::webhooks::WA_VERIFY),
    ]);
    let args = [
        "--allowed-origin",
        common::ORIGIN,
        "--rate-limit",
        "0",
        "--config",
        conf.to_str().unwrap(),
    ];
    let after = match before.pg_url() {
        Some(url) => Server::on_database(url, &args, &env),
        None => Server::start_at(tempfile::tempdir().unwrap(), before.db.clone(), &args, &env),
    };
    let hashed = common::wait_until(std::time::Duration::from_secs(15), || {
        clear_phone_rows(&after) == 0
    });
    assert!(
        hashed,
        "{} rows still hold a phone in clear",
        clear_phone_rows(&after)
    );
    let key = after.privacy_key();
    let anna_token = token(&key, &anna.phone);
    assert_eq!(
        after.db_count(&format!(
            "SELECT count(*) FROM conversations WHERE phone = '{anna_token}' AND user_key = 'phone:{anna_token}'"
        )),
        1
    );
    assert_eq!(answers_and_unreadable(&after, &anna_token).0, 1);

    // Anna writes again: the same conversation goes on, found by the hash.
    let again = whatsapp_text(
        &anna.phone,
        "Anna",
        "Still there?",
        TS / 1000 + 90,
        "wamid.S3",
    );
    let r = after.whatsapp(&again).json();
    assert_eq!(r["continued"], 1, "{r}");
    let done = privacy(&after, "forget", &anna.phone);
    assert_eq!(done["removed"]["conversations"], 2, "{done}");
    assert_eq!(done["removed"]["answers"], 1, "{done}");
}
