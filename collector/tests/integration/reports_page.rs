//! The report page and its CSV downloads against the real binary: token required (bearer or the
//! sign-in form's session cookie), no scripts, numbers that follow the chats, later facts
//! counted on the day the chat started.

use crate::common;

use chattag_collector::dates::date_of_day;
use common::webhooks::{whatsapp_text, Messenger};
use common::{new_chat_id, new_event_id, Server, TOKEN};
use serde_json::json;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn start() -> Server {
    Server::start_with_webhooks(&[Messenger::Telegram, Messenger::WhatsApp], &[])
}

/// Two chats started at `t`: a Telegram deeplink from a Yandex Direct visit, and a WhatsApp chat
/// with no code and no click.
fn seed(server: &Server, t: i64) -> String {
    let id = new_chat_id();
    let issue = json!({"event_id": new_event_id(), "type": "issue", "chat_id": id, "ts": t - 120_000,
        "page": "https://shop.example/p/1", "client_id": "1700000000123456789", "yclid": "5123456789012345678",
        "utm": {"source": "yandex", "medium": "cpc", "campaign": "sofas"}});
    assert_eq!(server.post_events(&json!([issue])).status, 200);
    let tg = serde_json::to_vec(&json!({"update_id": 1, "message": {"message_id": 1, "from": {"id": 77, "is_bot": false, "first_name": "Анна <b>"},
        "chat": {"id": 77, "type": "private"}, "date": t / 1000, "text": format!("/start {id}")}}))
    .unwrap();
    assert_eq!(server.telegram(&tg).status, 200);
    // Opening the bot is not a chat; the person's first message is, tied by the /start code.
    let hello = serde_json::to_vec(&json!({"update_id": 2, "message": {"message_id": 2, "from": {"id": 77, "is_bot": false, "first_name": "Анна <b>"},
        "chat": {"id": 77, "type": "private"}, "date": t / 1000, "text": "Здравствуйте"}}))
    .unwrap();
    assert_eq!(server.telegram(&hello).json()["opened"], 1);
    let wa = whatsapp_text(
        "16505551234",
        "=HYPERLINK(\"http://evil\")",
        "hi",
        t / 1000,
        "wamid.R",
    );
    assert_eq!(server.whatsapp(&wa).status, 200);
    id
}

fn body(r: &common::Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

#[test]
fn sign_in_page_csv_and_later_facts() {
    let server = start();
    let t = now_ms() - 10 * 60_000;
    seed(&server, t);
    let day = date_of_day(t.div_euclid(86_400_000));

    // No credentials: the sign-in form. A wrong bearer token: refused.
    let r = server.request("GET", "/reports", &[], b"");
    assert_eq!(r.status, 401);
    assert!(body(&r).contains(r#"action="/reports/login""#));
    assert_eq!(
        server
            .request(
                "GET",
                "/reports",
                &[("Authorization", "Bearer wrong-token-0123456789")],
                b""
            )
            .status,
        401
    );
    assert_eq!(
        server.request("GET", "/reports/daily.csv", &[], b"").status,
        401
    );

    // The form: a wrong token shows the form again, the right one sets a session cookie.
    let r = server.request(
        "POST",
        "/reports/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"token=nope",
    );
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none());
    let form = format!("token={TOKEN}");
    let r = server.request(
        "POST",
        "/reports/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    );
    assert_eq!((r.status, r.header("location")), (303, Some("/reports")));
    let set_cookie = r.header("set-cookie").unwrap().to_string();
    assert!(
        set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Strict")
            && !set_cookie.contains(TOKEN)
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    // Flip the last hex digit of the HMAC (appending a fixed "0" is no forgery when the digit
    // already was 0).
    let last = if cookie.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &cookie[..cookie.len() - 1]);
    assert_ne!(forged, cookie);
    assert_eq!(
        server
            .request("GET", "/reports", &[("Cookie", &forged)], b"")
            .status,
        401
    );

    let r = server.request("GET", "/reports?days=7", &[("Cookie", &cookie)], b"");
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-security-policy")
        .is_some_and(|c| c.contains("default-src 'none'")));
    let html = body(&r);
    assert!(
        !html.contains("<script") && !html.contains("<b>"),
        "unescaped content"
    );
    assert!(html.contains("Анна &lt;b&gt;"));
    assert!(html.contains("<svg") && html.contains("Chats per day"));
    assert!(
        html.contains(r#"<div class="v">2</div><div class="l">chats started</div>"#),
        "KPI"
    );
    assert!(html.contains(r#"<div class="v">50%</div><div class="l">attributed to a visit</div>"#));

    let csv = |name: &str| {
        let r = server.request(
            "GET",
            &format!("/reports/{name}.csv?days=7"),
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            b"",
        );
        assert_eq!(r.status, 200, "{name}");
        assert!(r
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/csv")));
        body(&r)
    };
    let messengers = csv("messengers");
    assert!(
        messengers.contains("telegram,1,0,0%,1,100%,—\r\n"),
        "{messengers}"
    );
    assert!(
        messengers.contains("whatsapp,1,0,0%,0,0%,—\r\n"),
        "{messengers}"
    );
    let attribution = csv("attribution");
    assert!(
        attribution.contains("attributed,exact-link (chat ID),1,50%"),
        "{attribution}"
    );
    assert!(attribution.contains("no-id-no-click"), "{attribution}");
    let sources = csv("sources");
    assert!(
        sources.contains("Yandex Direct (yclid),sofas,1"),
        "{sources}"
    );
    let chats = csv("chats");
    // A display name that a spreadsheet would run as a formula is neutralised.
    assert!(
        chats.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""),
        "{chats}"
    );
    assert_eq!(
        server
            .request(
                "GET",
                "/reports/secrets.csv",
                &[("Authorization", &format!("Bearer {TOKEN}"))],
                b""
            )
            .status,
        404
    );

    // Later facts: the WhatsApp chat is answered and brings revenue a day later; both count on
    // the day it started.
    let later = json!({"platform": "whatsapp", "phone": "16505551234", "answered": true, "revenue": "1250.50", "currency": "RUB"});
    let r = server.request(
        "POST",
        "/v1/chats",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        &serde_json::to_vec(&later).unwrap(),
    );
    assert_eq!(r.json()["status"], "updated");
    let daily = csv("daily");
    let row = daily
        .lines()
        .find(|l| l.starts_with(&day))
        .unwrap_or_else(|| panic!("{day} missing: {daily}"));
    assert_eq!(row, format!("{day},2,1,0,1,1,1\u{202f}250.50 RUB"));
    assert_eq!(daily.lines().count(), 1 + 7, "one row per day of the range");
}
