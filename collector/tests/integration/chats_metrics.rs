//! Chat metrics on `/metrics` against the real binary: webhook deliveries by messenger and
//! outcome (accepted, duplicate, refused, invalid, disabled), new conversations by match method,
//! and Metrica uploads by state/status with the chats sent — the latter recorded by a separate
//! `upload metrica` process and read from the database by the server.

use crate::common;
use crate::support::metrica_standin;

use common::webhooks::{telegram_hello, whatsapp_text, Messenger, TG_SECRET};
use common::{new_chat_id, Server, TS};
use metrica_standin::Standin;
use serde_json::json;

const OAUTH: &str = "y0_AgAAAAAtestOAuthToken0123456789";

/// The value of one sample line, e.g. `chattag_chat_matches_total{method="unmatched"}`; 0 when the
/// series is absent (a counter never incremented is not exposed).
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("bad value for {series}: {v}"))
        })
        .unwrap_or(0.0)
}

fn metrics(server: &Server) -> String {
    let r = server.request("GET", "/metrics", &[], b"");
    assert_eq!(r.status, 200);
    String::from_utf8_lossy(&r.body).into_owned()
}

/// A Telegram update with `secret` in the secret-token header (forged ones included).
fn telegram(server: &Server, secret: &str, body: &[u8]) -> u16 {
    server
        .request(
            "POST",
            "/v1/webhooks/telegram",
            &[("X-Telegram-Bot-Api-Secret-Token", secret)],
            body,
        )
        .status
}

fn upload(server: &Server, standin: &Standin) -> bool {
    server
        .cli(
            &standin.single_upload_args(),
            &[("CHATTAG_METRICA_TOKEN", OAUTH)],
        )
        .status
        .success()
}

#[test]
fn webhook_match_and_upload_metrics() {
    // Viber stays unconfigured: its webhook is counted as disabled.
    let server = Server::start_with_webhooks(&[Messenger::Telegram, Messenger::WhatsApp], &[]);
    let before = metrics(&server);
    assert_eq!(
        sample(
            &before,
            r#"chattag_chat_webhooks_total{messenger="telegram",outcome="accepted"}"#
        ),
        0.0
    );

    let id = new_chat_id();
    assert_eq!(server.post_events(&json!([common::issue(&id)])).status, 200);
    let update = serde_json::to_vec(&json!({"update_id": 9, "message": {"message_id": 9,
        "from": {"id": 381920477, "is_bot": false, "first_name": "Anna"},
        "chat": {"id": 381920477, "type": "private"}, "date": TS / 1000 + 60, "text": format!("/start {id}")}}))
    .unwrap();
    assert_eq!(telegram(&server, TG_SECRET, &update), 200);
    // Opening the bot is not a chat; the person's first message is, tied by the /start code.
    assert_eq!(
        telegram(
            &server,
            TG_SECRET,
            &telegram_hello(381920477, 10, TS / 1000 + 61)
        ),
        200
    );
    // Telegram retries a delivery it did not see acknowledged: the same message again.
    assert_eq!(telegram(&server, TG_SECRET, &update), 200);
    assert_eq!(telegram(&server, "forged-secret-000", &update), 401);
    assert_eq!(telegram(&server, TG_SECRET, b"{not json"), 400);
    // Viber has no auth token on this collector.
    let viber = server.request(
        "POST",
        "/v1/webhooks/viber",
        &[("X-Viber-Content-Signature", "00")],
        b"{}",
    );
    assert_eq!(viber.status, 503);
    // A WhatsApp chat with neither an ID nor a click: unmatched.
    let wa = whatsapp_text("16505551234", "S", "hello", TS / 1000 + 900, "wamid.M");
    let r = server.whatsapp(&wa);
    assert_eq!(r.status, 200);

    let m = metrics(&server);
    let webhooks = |messenger: &str, outcome: &str| {
        sample(
            &m,
            &format!(
                r#"chattag_chat_webhooks_total{{messenger="{messenger}",outcome="{outcome}"}}"#
            ),
        )
    };
    // The /start and the first message.
    assert_eq!(webhooks("telegram", "accepted"), 2.0, "{m}");
    assert_eq!(webhooks("telegram", "duplicate"), 1.0);
    assert_eq!(webhooks("telegram", "refused"), 1.0);
    assert_eq!(webhooks("telegram", "invalid"), 1.0);
    assert_eq!(webhooks("viber", "disabled"), 1.0);
    assert_eq!(webhooks("whatsapp", "accepted"), 1.0);
    assert_eq!(
        sample(&m, r#"chattag_chat_matches_total{method="exact-link"}"#),
        1.0
    );
    assert_eq!(
        sample(&m, r#"chattag_chat_matches_total{method="unmatched"}"#),
        1.0
    );
    assert!(
        !m.contains("chattag_metrica_uploads{"),
        "no uploads yet: {m}"
    );

    // Uploads run in their own process; the server reports them from the database.
    let standin = Standin::start(OAUTH);
    standin.fail_next(1);
    assert!(!upload(&server, &standin), "the first upload fails (503)");
    let m = metrics(&server);
    assert_eq!(
        sample(
            &m,
            r#"chattag_metrica_uploads{counter="12345",state="failed",status=""}"#
        ),
        1.0,
        "{m}"
    );
    assert!(upload(&server, &standin), "the retry succeeds");
    let m = metrics(&server);
    assert_eq!(
        sample(
            &m,
            r#"chattag_metrica_uploads{counter="12345",state="sent",status="PROCESSED"}"#
        ),
        1.0,
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            r#"chattag_metrica_uploads{counter="12345",state="failed",status=""}"#
        ),
        0.0
    );
    // The Telegram chat has visitor IDs; the WhatsApp one is unattributed and not sent.
    assert_eq!(
        sample(&m, r#"chattag_metrica_chats_sent{counter="12345"}"#),
        1.0
    );
}
