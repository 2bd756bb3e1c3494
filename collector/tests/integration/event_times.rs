//! Event times against the server's clock: a `ts` more than a minute ahead is recorded at the
//! time the event arrived (core's `received_ts`), so forged future times cannot steer matching
//! or identifier history.

use crate::common;

use common::webhooks::{whatsapp_text, WA_SECRET, WA_VERIFY};
use common::*;
use serde_json::json;

fn click_at(chat_id: &str, ts: u64) -> serde_json::Value {
    json!({"event_id": new_event_id(), "type": "click", "chat_id": chat_id, "ts": ts,
        "page": "https://shop.example/p/1", "messenger": "whatsapp", "link_kind": "whatsapp",
        "target": "https://wa.me/15550783881?text=Hi"})
}

#[test]
fn far_future_events_are_stored_at_arrival() {
    let server = Server::start(&[]);
    let chat = new_chat_id();
    let sent = now_ms();
    let mut ev = issue(&chat);
    ev["ts"] = json!(4_070_908_800_000u64); // 2099-01-01
    let soon = sent + 30_000; // within the tolerance: kept as sent
    let mut near = click(&chat);
    near["ts"] = json!(soon);
    assert_eq!(server.post_events(&json!([ev, near])).status, 200);
    let rows: Vec<(String, i64)> = server
        .rows("SELECT kind, ts FROM events ORDER BY kind")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0], ("click".into(), soon as i64));
    let issued = rows[1].1 as u64;
    assert!(
        (sent..=now_ms()).contains(&issued),
        "a 2099 issue was stored at {issued}, not at arrival ({sent}..)"
    );
}

#[test]
fn an_update_dated_2099_does_not_replace_a_later_client_id() {
    let server = Server::start(&[]);
    let chat = new_chat_id();
    let now = now_ms();
    let mut first = issue(&chat);
    first["ts"] = json!(now - 60_000);
    assert_eq!(server.post_events(&json!([first])).status, 200);
    let forged = json!({"event_id": new_event_id(), "type": "update", "chat_id": chat,
        "ts": 4_070_908_800_000u64, "page": "https://shop.example/p/1",
        "client_id": "1699999999000000666"});
    assert_eq!(server.post_events(&forged).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let real = json!({"event_id": new_event_id(), "type": "update", "chat_id": chat,
        "ts": now_ms(), "page": "https://shop.example/cart", "client_id": "1700000000999999999"});
    assert_eq!(server.post_events(&real).status, 200);
    server.caught_up();
    let rec = server.get_authed(&format!("/v1/chats/{chat}")).json();
    assert_eq!(
        rec["identifiers"]["client_id"], "1700000000999999999",
        "the forged 2099 update still decides the ClientID: {rec}"
    );
}

/// Sixty clicks dated over the next hour, then a real visitor's chat: with a one-minute
/// window, the real chat (starting 90 s from now) is matched to its one real click. Before,
/// the forged clicks sat in the future and made it `ambiguous-clicks`.
#[test]
fn future_dated_clicks_do_not_make_a_later_chat_ambiguous() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chattag.toml");
    std::fs::write(&config, "[chats]\nprobable_window_minutes = 1\n").unwrap();
    let server = Server::start_raw(
        &[
            "--allowed-origin",
            ORIGIN,
            "--rate-limit",
            "0",
            "--config",
            config.to_str().unwrap(),
        ],
        &[
            ("CHATTAG_READ_TOKEN", TOKEN),
            ("CHATTAG_WHATSAPP_APP_SECRET", WA_SECRET),
            ("CHATTAG_WHATSAPP_VERIFY_TOKEN", WA_VERIFY),
        ],
    );
    let s = now_ms();
    let forged: Vec<_> = (0..60)
        .map(|i| click_at(&new_chat_id(), s + 150_000 + i * 60_000))
        .collect();
    assert_eq!(server.post_events(&json!(forged)).status, 200);

    // The real visitor: its click 55 s ahead (inside the tolerance), the chat at +90 s.
    let real = new_chat_id();
    let mut visit = issue(&real);
    visit["ts"] = json!(s);
    assert_eq!(
        server
            .post_events(&json!([visit, click_at(&real, s + 55_000)]))
            .status,
        200
    );
    assert!(
        now_ms() - s < 25_000,
        "the test ran too slowly to be meaningful"
    );
    let body = whatsapp_text(
        "16505550003",
        "Sheena",
        "Hello, is the sofa in stock?",
        (s + 90_000) / 1000,
        "wamid.F1",
    );
    let sig = format!(
        "sha256={}",
        chattag_collector::signing::hmac_sha256_hex(WA_SECRET, &body)
    );
    let r = server.request(
        "POST",
        "/v1/webhooks/whatsapp",
        &[
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", &sig),
        ],
        &body,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = server.row("SELECT method, reason, chat_id FROM conversations");
    let (method, reason, chat): (String, Option<String>, Option<String>) =
        (r.get(0), r.get(1), r.get(2));
    assert_eq!(
        (method.as_str(), reason.as_deref(), chat.as_deref()),
        ("probable-click", None, Some(real.as_str()))
    );
}
