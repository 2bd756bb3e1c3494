//! End to end through the collector: the snippet's events for two visitors (as the demo page
//! sends them: issue on landing, a late ClientID update, a click on a messenger button), then a
//! simulated Telegram `/start` and a WhatsApp first message carrying the typed code, then
//! `export metrica`: each chat is a row with its visitor's ClientID and yclid. Also the CSV
//! import CLI for a CRM's chats.

use crate::common;

use common::webhooks::{telegram_hello, whatsapp_text, Messenger};
use common::{new_chat_id, new_event_id, Server, TS};
use serde_json::json;

fn start() -> Server {
    // Phones in clear (the owner's opt-in): this test reads them back as the messengers sent them.
    Server::start_with_webhooks(
        &[Messenger::Telegram, Messenger::WhatsApp],
        &[("CHATTAG_PHONES", "clear")],
    )
}

/// The snippet's three events for one visitor: landing from an ad (yclid, no ClientID yet — the
/// Metrica tag had not run), the ClientID arriving later, the click on a messenger button.
/// `link`: (messenger, link kind, tagged target).
fn visit(
    server: &Server,
    id: &str,
    client_id: &str,
    yclid: &str,
    link: (&str, &str, &str),
    t: u64,
) {
    let (messenger, kind, target) = link;
    let batch = json!([
        {"event_id": new_event_id(), "type": "issue", "chat_id": id, "ts": t,
         "page": format!("https://shop.example/?yclid={yclid}"), "referrer": "https://yandex.ru/", "yclid": yclid,
         "utm": {"source": "yandex", "medium": "cpc", "campaign": "demo"}},
        {"event_id": new_event_id(), "type": "update", "chat_id": id, "ts": t + 1_500, "client_id": client_id, "yclid": yclid},
        {"event_id": new_event_id(), "type": "click", "chat_id": id, "ts": t + 30_000, "page": "https://shop.example/",
         "client_id": client_id, "yclid": yclid, "messenger": messenger, "link_kind": kind, "target": target}
    ]);
    let r = server.post_events(&batch);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["accepted"], 3);
}

fn cli(server: &Server, args: &[&str]) -> (bool, String, String) {
    let o = server.cli(args, &[("CHATTAG_PHONES", "clear")]);
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn demo_visits_to_metrica_rows() {
    let server = start();
    let (tg_id, wa_id) = (new_chat_id(), new_chat_id());
    visit(
        &server,
        &tg_id,
        "1700000000111111111",
        "5100000000000000001",
        (
            "telegram",
            "telegram_bot",
            &format!("https://t.me/shop_bot?start={tg_id}"),
        ),
        TS,
    );
    let wa_text = format!("Hello!%0A%0ARequest%20number%3A%20{wa_id}");
    visit(
        &server,
        &wa_id,
        "1700000000222222222",
        "5200000000000000002",
        (
            "whatsapp",
            "whatsapp",
            &format!("https://wa.me/15550783881?text={wa_text}"),
        ),
        TS + 1_000,
    );

    // Telegram: the bot receives /start with the ID from the deeplink.
    let tg = serde_json::to_vec(&json!({"update_id": 5, "message": {"message_id": 5,
        "from": {"id": 381920477, "is_bot": false, "first_name": "Anna", "username": "anna_k"},
        "chat": {"id": 381920477, "type": "private"}, "date": TS / 1000 + 40, "text": format!("/start {tg_id}")}}))
    .unwrap();
    assert_eq!(server.telegram(&tg).status, 200);
    // Opening the bot is not a chat; the person's first message is, tied by the /start code.
    assert_eq!(
        server
            .telegram(&telegram_hello(381920477, 6, TS / 1000 + 40))
            .json()["opened"],
        1
    );

    // WhatsApp: the person sends the prefilled draft (lowercased by a phone keyboard).
    let body = format!("Hello!\n\nrequest number: {}", wa_id.to_lowercase());
    let wa = whatsapp_text("16505551234", "Sheena", &body, TS / 1000 + 45, "wamid.E2E");
    assert_eq!(server.whatsapp(&wa).status, 200);

    let (ok, csv, err) = cli(
        &server,
        &[
            "export",
            "metrica",
            "--counter",
            "12345",
            "--from",
            "2025-01-01",
        ],
    );
    assert!(ok, "{err}");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no {name} in {header:?}"))
    };
    let row_of = |platform: &str| {
        rows.iter()
            .find(|r| r[col("ChatPlatform")] == platform)
            .unwrap_or_else(|| panic!("no {platform} row: {csv}"))
    };
    let tg_row = row_of("telegram");
    assert_eq!(tg_row[col("ClientID")], "1700000000111111111");
    assert_eq!(tg_row[col("Yclid")], "5100000000000000001");
    assert_eq!(tg_row[col("ChatUserID")], "381920477");
    assert_eq!(tg_row[col("DateTime")], (TS / 1000 + 40).to_string());
    let wa_row = row_of("whatsapp");
    assert_eq!(wa_row[col("ClientID")], "1700000000222222222");
    assert_eq!(wa_row[col("Yclid")], "5200000000000000002");
    assert_eq!(wa_row[col("PhoneNumber")], "16505551234");
}

#[test]
fn csv_import_all_or_nothing() {
    let server = start();
    let id = new_chat_id();
    visit(
        &server,
        &id,
        "1700000000333333333",
        "5300000000000000003",
        ("whatsapp", "whatsapp", "https://wa.me/15550783881?text=x"),
        TS,
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!("platform,started_at,phone,text,answered,revenue,currency,external_id\r\nwhatsapp,{},+1 650 555 0100,\"Hi, code {id}\",1,\"990,00\",RUB,crm-1\r\nviber,,,,,,,\r\n", TS / 1000 + 50),
    )
    .unwrap();
    let (ok, _, err) = cli(&server, &["import", "chats", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("bad.csv:3:"), "{err}");
    assert_eq!(server.db_count("SELECT count(*) FROM conversations"), 0);

    let (ok, out, err) = cli(
        &server,
        &["import", "chats", bad.to_str().unwrap(), "--skip-invalid"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("1 new chat(s)"), "{out}");
    assert_eq!(
        server.db_count(&format!(
            "SELECT count(*) FROM conversations WHERE source = 'csv' AND method = 'exact-text' AND chat_id = '{id}' AND answered = 1 AND revenue = '990.00' AND phone = '16505550100'"
        )),
        1
    );
    // Importing the same file again updates (same external_id), never duplicates.
    let (ok, out, _) = cli(
        &server,
        &["import", "chats", bad.to_str().unwrap(), "--skip-invalid"],
    );
    assert!(ok && out.contains("0 new chat(s), 1 update(s)"), "{out}");
    assert_eq!(server.db_count("SELECT count(*) FROM conversations"), 1);
}
