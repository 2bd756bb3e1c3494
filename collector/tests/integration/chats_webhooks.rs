//! Messenger webhooks against the real binary: each in its real payload format, with valid and
//! forged sender verification (forged → refused, nothing stored), and each matching mode.

use crate::common;

use chattag_collector::signing::hmac_sha256_hex;
use common::webhooks::{
    max_hello, viber_hello, whatsapp_text, Messenger, INTAKE_TOKEN, MAX_SECRET, TG_SECRET,
    VIBER_TOKEN, WA_SECRET, WA_VERIFY,
};
use common::{new_chat_id, new_event_id, Server, TS};
use serde_json::json;

fn start() -> Server {
    Server::start_with_webhooks(
        &[
            Messenger::Telegram,
            Messenger::WhatsApp,
            Messenger::Viber,
            Messenger::Max,
        ],
        &[("CHATTAG_INTAKE_TOKEN", INTAKE_TOKEN)],
    )
}

/// The snippet's `issue` event for a visitor with a ClientID and a yclid.
fn issue(server: &Server, chat_id: &str) {
    let r = server.post_events(&json!([common::issue(chat_id)]));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

fn click(server: &Server, chat_id: &str, messenger: &str, kind: &str, target: &str, ts: u64) {
    let ev = json!({"event_id": new_event_id(), "type": "click", "chat_id": chat_id, "ts": ts,
        "page": "https://shop.example/p/1", "messenger": messenger, "link_kind": kind, "target": target});
    let r = server.post_events(&json!([ev]));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[derive(Debug, PartialEq)]
struct Conv {
    platform: String,
    method: String,
    chat_id: Option<String>,
    reason: Option<String>,
    site: Option<String>,
    answered: bool,
    messages: i64,
}

fn conversations(server: &Server) -> Vec<Conv> {
    server
        .rows("SELECT platform, method, chat_id, reason, site, answered, messages FROM conversations ORDER BY id")
        .iter()
        .map(|r| Conv {
            platform: r.get(0),
            method: r.get(1),
            chat_id: r.get(2),
            reason: r.get(3),
            site: r.get(4),
            answered: r.get::<i64>(5) == 1,
            messages: r.get(6),
        })
        .collect()
}

fn tg_update(update_id: i64, user: i64, text: &str, date_s: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({"update_id": update_id, "message": {"message_id": update_id, 
        "from": {"id": user, "is_bot": false, "first_name": "Anna", "username": "anna_k", "language_code": "ru"},
        "chat": {"id": user, "first_name": "Anna", "username": "anna_k", "type": "private"},
        "date": date_s, "text": text,
        "entities": [{"offset": 0, "length": 6, "type": "bot_command"}]}}))
    .unwrap()
}

fn wa_message(from: &str, text: &str, ts_s: u64, wamid: &str) -> Vec<u8> {
    whatsapp_text(from, "Sheena Nelson", text, ts_s, wamid)
}

fn wa_post(server: &Server, body: &[u8], secret: &str) -> common::Response {
    let sig = format!("sha256={}", hmac_sha256_hex(secret, body));
    server.request(
        "POST",
        "/v1/webhooks/whatsapp",
        &[
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", &sig),
        ],
        body,
    )
}

/// A retyped ID: lowercase, first '0' or '1' written as the confusable 'o' / 'l', a Cyrillic 'с'.
fn retyped(id: &str) -> String {
    let mut s = id.to_lowercase();
    if let Some(i) = s.find('0') {
        s.replace_range(i..i + 1, "o");
    } else if let Some(i) = s.find('1') {
        s.replace_range(i..i + 1, "l");
    }
    s.replacen('c', "с", 1)
}

fn with_wrong_check(id: &str) -> String {
    let mut s = id.to_string();
    let last = s.pop().unwrap();
    s.push(if last == '7' { '8' } else { '7' });
    assert!(chattag_core::ChatId::parse(&s).is_err());
    s
}

#[test]
fn telegram_start_verified_stored_once() {
    let server = start();
    let id = new_chat_id();
    issue(&server, &id);
    let body = tg_update(9001, 381920477, &format!("/start {id}"), TS / 1000 + 60);

    for (headers, want) in [
        (vec![], 401),
        (
            vec![("X-Telegram-Bot-Api-Secret-Token", "tg-secret-wrong-guess")],
            401,
        ),
    ] {
        let mut h = vec![("Content-Type", "application/json")];
        h.extend(headers);
        let r = server.request("POST", "/v1/webhooks/telegram", &h, &body);
        assert_eq!(r.status, want);
        assert_eq!(r.error().0, "bad_signature");
    }
    assert!(
        conversations(&server).is_empty(),
        "a forged update stored something"
    );

    let h = [
        ("Content-Type", "application/json"),
        ("X-Telegram-Bot-Api-Secret-Token", TG_SECRET),
    ];
    let r = server.request("POST", "/v1/webhooks/telegram", &h, &body);
    assert_eq!(r.status, 200);
    // Opening the bot is not a chat: it is kept as the click of the visit.
    assert_eq!(
        (r.json()["opened"].clone(), r.json()["bot_opens"].clone()),
        (json!(0), json!(1))
    );
    assert!(conversations(&server).is_empty());
    // Telegram retries a delivery it thinks failed: the same update is stored once.
    let r = server.request("POST", "/v1/webhooks/telegram", &h, &body);
    assert_eq!(r.json()["duplicates"], 1);
    // The person's first message opens the chat, tied to the visit by the /start code.
    let r = server.request(
        "POST",
        "/v1/webhooks/telegram",
        &h,
        &tg_update(9002, 381920477, "Do you deliver?", TS / 1000 + 90),
    );
    assert_eq!(r.json()["opened"], 1);
    // A later message in the same chat continues the conversation.
    let r = server.request(
        "POST",
        "/v1/webhooks/telegram",
        &h,
        &tg_update(9003, 381920477, "To Kazan?", TS / 1000 + 95),
    );
    assert_eq!(r.json()["continued"], 1);

    let convs = conversations(&server);
    assert_eq!(convs.len(), 1);
    let c = &convs[0];
    assert_eq!(
        (c.platform.as_str(), c.method.as_str()),
        ("telegram", "exact-link")
    );
    assert_eq!(c.chat_id.as_deref(), Some(id.as_str()));
    assert_eq!(c.site.as_deref(), Some("shop.example"));
    assert_eq!(c.messages, 2);
}

#[test]
fn whatsapp_handshake_signature_text_probable_and_answered() {
    let server = start();
    // Handshake.
    let ok = server.request("GET", &format!("/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={WA_VERIFY}&hub.challenge=1158201444"), &[], b"");
    assert_eq!(
        (ok.status, ok.body.as_slice()),
        (200, b"1158201444".as_slice())
    );
    let bad = server.request(
        "GET",
        "/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444",
        &[],
        b"",
    );
    assert_eq!(bad.status, 403);

    // Exact from text: the ID retyped with a confusable and a Cyrillic letter.
    // An ID with a 0 or 1 in its body, so the retyped form carries a Crockford confusable.
    let a = loop {
        let id = new_chat_id();
        if id[2..].contains(['0', '1']) {
            break id;
        }
    };
    issue(&server, &a);
    let body = wa_message(
        "16505551234",
        &format!("Здравствуйте! Номер обращения: {}", retyped(&a)),
        TS / 1000 + 100,
        "wamid.A1",
    );
    let forged = wa_post(&server, &body, "some-other-app-secret");
    assert_eq!(
        (forged.status, forged.error().0.as_str()),
        (401, "bad_signature")
    );
    let unsigned = server.request(
        "POST",
        "/v1/webhooks/whatsapp",
        &[("Content-Type", "application/json")],
        &body,
    );
    assert_eq!(unsigned.status, 401);
    assert!(conversations(&server).is_empty());
    assert_eq!(wa_post(&server, &body, WA_SECRET).status, 200);

    // Wrong check character: never exact; no click on WhatsApp around that time → damaged-id.
    let b = new_chat_id();
    let body = wa_message(
        "16505550002",
        &format!("code {}", with_wrong_check(&b)),
        TS / 1000 + 5000,
        "wamid.B1",
    );
    assert_eq!(wa_post(&server, &body, WA_SECRET).status, 200);

    // No ID, but exactly one visitor clicked a link to this business number a minute before.
    let c = new_chat_id();
    issue(&server, &c);
    let t = TS + 20_000_000;
    click(
        &server,
        &c,
        "whatsapp",
        "whatsapp",
        "https://wa.me/15550783881?text=Hi",
        t,
    );
    // Another visitor clicked a link to a different number: not a candidate.
    let other = new_chat_id();
    click(
        &server,
        &other,
        "whatsapp",
        "whatsapp",
        "https://wa.me/79990000000?text=Hi",
        t,
    );
    let body = wa_message(
        "16505550003",
        "Hello, is the sofa in stock?",
        t / 1000 + 60,
        "wamid.C1",
    );
    assert_eq!(wa_post(&server, &body, WA_SECRET).status, 200);

    // The business replied to the first person: a delivered status marks the chat answered.
    let status = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1"},
            "statuses": [{"id": "wamid.R1", "status": "delivered", "timestamp": (TS / 1000 + 200).to_string(), "recipient_id": "16505551234"}]}}]}]}))
    .unwrap();
    assert_eq!(wa_post(&server, &status, WA_SECRET).json()["answered"], 1);

    let convs = conversations(&server);
    assert_eq!(convs.len(), 3, "{convs:?}");
    assert_eq!(
        (
            convs[0].method.as_str(),
            convs[0].chat_id.as_deref(),
            convs[0].answered
        ),
        ("exact-text", Some(a.as_str()), true)
    );
    assert_eq!(
        (
            convs[1].method.as_str(),
            convs[1].reason.as_deref(),
            convs[1].chat_id.as_deref()
        ),
        ("unmatched", Some("damaged-id"), None)
    );
    assert_eq!(
        (convs[2].method.as_str(), convs[2].chat_id.as_deref()),
        ("probable-click", Some(c.as_str()))
    );
    assert!(!convs[2].answered);
}

#[test]
fn viber_and_max_verified() {
    let server = start();
    let id = new_chat_id();
    issue(&server, &id);
    let started = json!({"event": "conversation_started", "timestamp": TS + 30_000, "chat_hostname": "SN-CHAT-03_",
        "message_token": 5487373282716262912u64, "type": "open", "context": format!("promo_{id}"),
        "user": {"id": "01234567890A=", "name": "John McClane", "avatar": "https://avatar.example.com", "country": "UK", "language": "en", "api_version": 8},
        "subscribed": false});
    let body = serde_json::to_vec(&started).unwrap();
    let forged_sig = hmac_sha256_hex("not-the-auth-token", &body);
    let r = server.request(
        "POST",
        "/v1/webhooks/viber",
        &[("X-Viber-Content-Signature", &forged_sig)],
        &body,
    );
    assert_eq!(r.status, 401);
    assert!(conversations(&server).is_empty());
    let sig = hmac_sha256_hex(VIBER_TOKEN, &body);
    assert_eq!(
        server
            .request(
                "POST",
                "/v1/webhooks/viber",
                &[("X-Viber-Content-Signature", &sig)],
                &body
            )
            .status,
        200
    );
    // Opening the bot is not a chat; the person's first message is, tied by the context code.
    assert!(conversations(&server).is_empty());
    let hello = viber_hello("01234567890A=", TS + 31_000, 5487373282716262913);
    let sig = hmac_sha256_hex(VIBER_TOKEN, &hello);
    assert_eq!(
        server
            .request(
                "POST",
                "/v1/webhooks/viber",
                &[("X-Viber-Content-Signature", &sig)],
                &hello
            )
            .json()["opened"],
        1
    );
    // Viber's own "webhook" callback (sent when the URL is set) is acknowledged, stores nothing.
    let hook = br#"{"event":"webhook","timestamp":1763700000000,"chat_hostname":"SN-CHAT-03_","message_token":1}"#;
    let sig = hmac_sha256_hex(VIBER_TOKEN, hook);
    assert_eq!(
        server
            .request(
                "POST",
                "/v1/webhooks/viber",
                &[("X-Viber-Content-Signature", &sig)],
                hook
            )
            .status,
        200
    );

    let id2 = new_chat_id();
    issue(&server, &id2);
    let max = serde_json::to_vec(&json!({"update_type": "bot_started", "timestamp": TS + 40_000, "chat_id": 90210,
        "user": {"user_id": 5551234, "first_name": "Ivan", "name": "Ivan P", "is_bot": false, "last_activity_time": TS},
        "payload": id2, "user_locale": "ru"}))
    .unwrap();
    assert_eq!(
        server.request("POST", "/v1/webhooks/max", &[], &max).status,
        401
    );
    assert_eq!(
        server
            .request(
                "POST",
                "/v1/webhooks/max",
                &[("X-Max-Bot-Api-Secret", "max-secret-wrong")],
                &max
            )
            .status,
        401
    );
    assert_eq!(conversations(&server).len(), 1);
    assert_eq!(
        server
            .request(
                "POST",
                "/v1/webhooks/max",
                &[("X-Max-Bot-Api-Secret", MAX_SECRET)],
                &max
            )
            .status,
        200
    );
    assert_eq!(
        server
            .max(&max_hello(5551234, TS + 41_000, "mid.hello"))
            .json()["opened"],
        1
    );

    let convs = conversations(&server);
    assert_eq!(convs.len(), 2);
    assert_eq!(
        (
            convs[0].platform.as_str(),
            convs[0].method.as_str(),
            convs[0].chat_id.as_deref()
        ),
        ("viber", "exact-link", Some(id.as_str()))
    );
    assert_eq!(
        (
            convs[1].platform.as_str(),
            convs[1].method.as_str(),
            convs[1].chat_id.as_deref()
        ),
        ("max", "exact-link", Some(id2.as_str()))
    );
}

#[test]
fn unconfigured_webhook_is_refused() {
    let server = Server::start(&[]);
    let body = tg_update(1, 1, "/start x", TS / 1000);
    let r = server.request(
        "POST",
        "/v1/webhooks/telegram",
        &[("X-Telegram-Bot-Api-Secret-Token", "anything-at-all")],
        &body,
    );
    assert_eq!((r.status, r.error().0.as_str()), (503, "webhook_disabled"));
}

#[test]
fn generic_intake_and_later_facts() {
    let server = start();
    let id = new_chat_id();
    issue(&server, &id);
    let chat = json!({"platform": "whatsapp", "started_at": TS / 1000 + 10, "phone": "+1 650 555-0999",
        "text": format!("Hi! {id}"), "external_id": "crm-77", "chat_url": "https://crm.example/chats/77"});
    let body = serde_json::to_vec(&chat).unwrap();
    let r = server.request(
        "POST",
        "/v1/chats",
        &[("Authorization", "Bearer wrong-token-0123456789")],
        &body,
    );
    assert_eq!(r.status, 401);
    assert!(conversations(&server).is_empty());
    let auth = format!("Bearer {INTAKE_TOKEN}");
    let r = server.request(
        "POST",
        "/v1/chats",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &body,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["status"], "opened");

    // A bad record in a batch: 422 naming index and field, nothing of the batch stored.
    let batch = json!([{"platform": "vk", "username": "ok_user"}, {"platform": "vk", "username": "x", "currency": "RUR", "revenue": 5}]);
    let r = server.request(
        "POST",
        "/v1/chats",
        &[("Authorization", &auth)],
        &serde_json::to_vec(&batch).unwrap(),
    );
    assert_eq!(r.status, 422);
    assert_eq!(
        r.error(),
        (
            "invalid_chat".to_string(),
            Some(1),
            Some("currency".to_string())
        )
    );
    assert_eq!(conversations(&server).len(), 1);

    // Later facts: answered, revenue.
    let later = json!({"platform": "whatsapp", "external_id": "crm-77", "answered": true, "revenue": "1250,50", "currency": "RUB", "tag": "sofa"});
    let r = server.request(
        "POST",
        "/v1/chats",
        &[("Authorization", &auth)],
        &serde_json::to_vec(&later).unwrap(),
    );
    assert_eq!(r.json()["status"], "updated");
    let convs = conversations(&server);
    assert_eq!(convs.len(), 1);
    assert_eq!(
        (
            convs[0].method.as_str(),
            convs[0].chat_id.as_deref(),
            convs[0].answered
        ),
        ("exact-text", Some(id.as_str()), true)
    );
    let revenue = server.db_count("SELECT count(*) FROM conversations WHERE revenue = '1250.50' AND currency = 'RUB' AND tag = 'sofa'");
    assert_eq!(revenue, 1);
}
