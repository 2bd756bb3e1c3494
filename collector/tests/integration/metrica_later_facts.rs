//! What reaches Metrica over several `upload metrica` runs, seen by a local stand-in of its API:
//! a chat goes out once, after it has settled (answered, or the settle time passed); revenue
//! that arrives after its chat row goes out once as an offline conversion on the counter's goal;
//! a column Metrica refuses is dropped and the same rows are sent once more; a code-less chat
//! credited by click timing is not exported unless the site owner asked for it.

use crate::common;
use crate::support::metrica_standin;

use std::process::Output;
use std::time::{SystemTime, UNIX_EPOCH};

use common::webhooks::{whatsapp_text, Messenger, INTAKE_TOKEN};
use common::{new_chat_id, new_event_id, Server};
use metrica_standin::Standin;
use serde_json::json;

const OAUTH: &str = "y0_AgAAAAAtestOAuthToken0123456789";
const CLIENT_ID: &str = "1700000000123456789";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn start() -> Server {
    Server::start_with_webhooks(
        &[Messenger::WhatsApp],
        &[
            ("CHATTAG_INTAKE_TOKEN", INTAKE_TOKEN),
            // Phones in clear (the owner's opt-in): this test reads them back as the messengers sent them.
            ("CHATTAG_PHONES", "clear"),
        ],
    )
}

/// A visit a few minutes ago that was issued `id` (recent, so the 21-day window does not force
/// the chat out before it settles).
fn visit(server: &Server, id: &str, ts: u64) {
    let ev = json!({"event_id": new_event_id(), "type": "issue", "chat_id": id, "ts": ts,
        "page": "https://shop.example/p/1", "client_id": CLIENT_ID});
    let r = server.post_events(&json!([ev]));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// The CRM reports a chat, or a later fact about it (same `external_id`).
fn crm(server: &Server, body: serde_json::Value) {
    let r = server.intake(&body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

fn counters_file(dir: &tempfile::TempDir, body: &str) -> String {
    let path = dir.path().join("counters.toml");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

fn upload(server: &Server, standin: &Standin, counters: &str) -> (Output, String) {
    upload_with(server, standin, counters, &[])
}

fn upload_with(
    server: &Server,
    standin: &Standin,
    counters: &str,
    extra: &[&str],
) -> (Output, String) {
    let mut args = vec![
        "upload",
        "metrica",
        "--counters-file",
        counters,
        "--metrica-api",
        &standin.base,
        "--retry-delay",
        "20ms",
        "--wait",
        "0s",
    ];
    args.extend_from_slice(extra);
    let o = server.cli(&args, &[("CHATTAG_METRICA_TOKEN", OAUTH)]);
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!text.contains(OAUTH), "token printed");
    (o, text)
}

/// The `column` cell of the data row containing `needle` (test data has no quoted commas).
fn cell(csv: &str, needle: &str, column: &str) -> Option<String> {
    let mut lines = csv.lines();
    let i = lines.next()?.split(',').position(|h| h == column)?;
    let row = lines.find(|l| l.contains(needle))?;
    row.split(',').nth(i).map(str::to_owned)
}

/// Data rows of a CSV whose line contains `needle`.
fn rows_with(csv: &str, needle: &str) -> usize {
    csv.lines().skip(1).filter(|l| l.contains(needle)).count()
}

#[test]
fn answered_and_paid_after_the_first_upload_reach_metrica_once() {
    let server = start();
    let standin = Standin::start(OAUTH);
    let dir = tempfile::tempdir().unwrap();
    let counters = counters_file(
        &dir,
        "[[counter]]\nid = 12345\nsettle = \"24h\"\nrevenue_goal = \"chat_paid\"\n",
    );
    let now = now_ms();
    let (a, b) = (new_chat_id(), new_chat_id());
    visit(&server, &a, now - 600_000);
    visit(&server, &b, now - 590_000);
    let started = (now - 300_000) / 1000;
    // A is answered at once; B is not answered yet.
    crm(
        &server,
        json!({"platform": "whatsapp", "external_id": "crm-a", "phone": "+7 999 000-00-01",
        "started_at": started, "text": format!("Hello {a}"), "answered": true}),
    );
    crm(
        &server,
        json!({"platform": "whatsapp", "external_id": "crm-b", "phone": "+7 999 000-00-02",
        "started_at": started + 1, "text": format!("Hi {b}")}),
    );

    // Run 1: only the settled chat (A) goes out, answered.
    let (o, out) = upload(&server, &standin, &counters);
    assert!(o.status.success(), "{out}");
    let chats = standin.chat_uploads();
    assert_eq!(chats.len(), 1, "{out}");
    assert_eq!(
        rows_with(&chats[0].csv, "79990000001"),
        1,
        "{}",
        chats[0].csv
    );
    assert_eq!(
        rows_with(&chats[0].csv, "79990000002"),
        0,
        "{}",
        chats[0].csv
    );
    let header = chats[0].csv.lines().next().unwrap_or("");
    assert!(
        header.starts_with("DateTime,ChatPlatform,PhoneNumber,ClientID")
            && header.contains(",Answered"),
        "{header}"
    );
    assert_eq!(
        cell(&chats[0].csv, "79990000001", "Answered").as_deref(),
        Some("1")
    );
    assert!(out.contains("1 chat(s) not settled yet"), "{out}");
    assert!(standin.conversion_uploads().is_empty());

    // After the first upload: B is answered, A is paid.
    crm(
        &server,
        json!({"platform": "whatsapp", "external_id": "crm-b", "answered": true}),
    );
    crm(
        &server,
        json!({"platform": "whatsapp", "external_id": "crm-a", "revenue": "1250.50", "currency": "RUB"}),
    );

    // Run 2: B's row (answered), and A's revenue as one offline conversion on the goal.
    let (o, out) = upload(&server, &standin, &counters);
    assert!(o.status.success(), "{out}");
    let chats = standin.chat_uploads();
    assert_eq!(chats.len(), 2, "{out}");
    assert_eq!(
        rows_with(&chats[1].csv, "79990000002"),
        1,
        "{}",
        chats[1].csv
    );
    assert_eq!(
        rows_with(&chats[1].csv, "79990000001"),
        0,
        "{}",
        chats[1].csv
    );
    assert_eq!(
        cell(&chats[1].csv, "79990000002", "Answered").as_deref(),
        Some("1")
    );
    let conv = standin.conversion_uploads();
    assert_eq!(conv.len(), 1, "{out}");
    let lines: Vec<&str> = conv[0].csv.lines().collect();
    assert_eq!(lines[0], "Target,DateTime,ClientId,Price,Currency");
    assert_eq!(lines.len(), 2, "{}", conv[0].csv);
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        (cells[0], cells[2], cells[3], cells[4]),
        ("chat_paid", CLIENT_ID, "1250.50", "RUB")
    );
    // DateTime: when the payment was recorded, in the past.
    let dt: u64 = cells[1].parse().unwrap();
    // (a payment recorded in the current second moves one second back: never in the future)
    assert!(dt + 1 >= now / 1000 && dt < now_ms() / 1000, "{dt}");
    assert_eq!((conv[0].source_quantity, conv[0].line_quantity), (1, 1));

    // Run 3: nothing new, no request at all.
    let before = standin.received().len();
    let (o, out) = upload(&server, &standin, &counters);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("nothing new to upload"), "{out}");
    assert_eq!(standin.received().len(), before);

    // Every chat reached Metrica exactly once; no chat row carried money.
    let all: String = standin
        .chat_uploads()
        .iter()
        .map(|u| u.csv.clone())
        .collect();
    assert_eq!(rows_with(&all, "79990000001"), 1);
    assert_eq!(rows_with(&all, "79990000002"), 1);
    assert!(!all.contains("Price") && !all.contains("1250.50"));
}

/// Late revenue is read a page at a time (at most `--rows-per-file` facts, one offline
/// conversion file per page): with more paid chats than one page, every payment still reaches
/// Metrica exactly once.
#[test]
fn late_revenue_of_more_chats_than_one_page_is_sent_once_page_by_page() {
    let server = start();
    let standin = Standin::start(OAUTH);
    let dir = tempfile::tempdir().unwrap();
    let counters = counters_file(
        &dir,
        "[[counter]]\nid = 12345\nsettle = \"24h\"\nrevenue_goal = \"chat_paid\"\n",
    );
    let now = now_ms();
    let started = (now - 300_000) / 1000;
    for i in 0..5u64 {
        let id = new_chat_id();
        let ev = json!({"event_id": new_event_id(), "type": "issue", "chat_id": id,
            "ts": now - 600_000, "page": "https://shop.example/p/1",
            "client_id": format!("17000000001234567{i:02}")});
        assert_eq!(server.post_events(&json!([ev])).status, 200);
        crm(
            &server,
            json!({"platform": "whatsapp", "external_id": format!("crm-{i}"),
                "phone": format!("+7 999 000-00-1{i}"), "started_at": started + i,
                "text": format!("Hello {id}"), "answered": true}),
        );
    }
    let (o, out) = upload(&server, &standin, &counters);
    assert!(o.status.success(), "{out}");
    assert_eq!(standin.chat_uploads().len(), 1, "{out}");
    for i in 0..5u64 {
        crm(
            &server,
            json!({"platform": "whatsapp", "external_id": format!("crm-{i}"),
                "revenue": format!("{}00", i + 1), "currency": "RUB"}),
        );
    }

    let (o, out) = upload_with(&server, &standin, &counters, &["--rows-per-file", "2"]);
    assert!(o.status.success(), "{out}");
    let conv = standin.conversion_uploads();
    assert_eq!(
        conv.iter().map(|u| u.source_quantity).collect::<Vec<_>>(),
        vec![2, 2, 1],
        "{out}"
    );
    let mut paid: Vec<String> = conv
        .iter()
        .flat_map(|u| u.csv.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .map(|l| l.split(',').nth(2).unwrap_or("").to_string())
        .collect();
    paid.sort();
    assert_eq!(
        paid,
        (0..5)
            .map(|i| format!("17000000001234567{i:02}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        server.db_count("SELECT count(*) FROM metrica_facts_sent WHERE counter = 12345"),
        5
    );

    // Nothing left: no request at all.
    let before = standin.received().len();
    let (o, out) = upload_with(&server, &standin, &counters, &["--rows-per-file", "2"]);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("nothing new to upload"), "{out}");
    assert_eq!(standin.received().len(), before);
}

#[test]
fn a_refused_column_is_dropped_and_the_same_rows_sent_once() {
    let server = start();
    let standin = Standin::start(OAUTH);
    standin.refuse_columns(&["Answered"]);
    let dir = tempfile::tempdir().unwrap();
    let counters = counters_file(&dir, "[[counter]]\nid = 12345\n");
    let now = now_ms();
    let a = new_chat_id();
    visit(&server, &a, now - 600_000);
    crm(
        &server,
        json!({"platform": "whatsapp", "external_id": "crm-a", "phone": "+7 999 000-00-01",
        "started_at": (now - 300_000) / 1000, "text": format!("Hello {a}"), "answered": true}),
    );
    let (o, out) = upload(&server, &standin, &counters);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("Metrica refused column(s) Answered"),
        "the refusal is shown: {out}"
    );
    assert!(
        out.contains("columns not confirmed by Metrica's documentation: Answered"),
        "{out}"
    );
    let received = standin.received();
    assert_eq!(
        received.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![400, 200]
    );
    let chats = standin.chat_uploads();
    assert_eq!(chats.len(), 1);
    assert_eq!(
        chats[0].csv.lines().next(),
        Some("DateTime,ChatPlatform,PhoneNumber,ClientID")
    );
    assert_eq!(rows_with(&chats[0].csv, "79990000001"), 1);
    assert_eq!(
        server.db_count("SELECT count(*) FROM metrica_refused_columns WHERE counter = 12345 AND name = 'Answered'"),
        1
    );
    assert_eq!(
        server.db_count("SELECT count(*) FROM metrica_refused_columns WHERE message LIKE '%Unknown column: Answered%'"),
        1
    );

    // The next chat goes out without the refused column at once: no second refusal.
    let b = new_chat_id();
    visit(&server, &b, now - 500_000);
    crm(
        &server,
        json!({"platform": "whatsapp", "external_id": "crm-b", "phone": "+7 999 000-00-02",
        "started_at": (now - 200_000) / 1000, "text": format!("Hi {b}"), "answered": true}),
    );
    let (o, out) = upload(&server, &standin, &counters);
    assert!(o.status.success(), "{out}");
    assert_eq!(standin.received().len(), 3);
    let chats = standin.chat_uploads();
    assert_eq!(chats.len(), 2);
    assert!(!chats[1].csv.contains("Answered"));
    assert_eq!(rows_with(&chats[1].csv, "79990000001"), 0);

    // The report page shows it.
    let page = server.get_authed("/reports/uploads.csv?days=30");
    let csv = String::from_utf8_lossy(&page.body);
    assert_eq!(page.status, 200, "{csv}");
    assert!(csv.contains("columns Metrica refused"), "{csv}");
    assert!(
        csv.lines().nth(1).is_some_and(|l| l.ends_with(",Answered")),
        "{csv}"
    );
}

fn export(server: &Server, counters: &str) -> (Output, String, String) {
    let o = server.cli(&["export", "metrica", "--counters-file", counters], &[]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, out, err)
}

#[test]
fn a_strangers_codeless_chat_after_someone_elses_click_is_not_exported_by_default() {
    let server = start();
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    // A visitor clicks the shop's WhatsApp link…
    let clicker = new_chat_id();
    visit(&server, &clicker, now - 400_000);
    let ev = json!({"event_id": new_event_id(), "type": "click", "chat_id": clicker, "ts": now - 180_000,
        "page": "https://shop.example/p/1", "client_id": CLIENT_ID, "messenger": "whatsapp",
        "link_kind": "whatsapp", "target": "https://wa.me/15550783881?text=Hi"});
    assert_eq!(server.post_events(&json!([ev])).status, 200);
    // …and three minutes later a different phone writes, with no code.
    let wa = whatsapp_text(
        "16505550077",
        "Stranger",
        "Do you deliver on Sundays?",
        now / 1000,
        "wamid.STRANGER",
    );
    let r = server.whatsapp(&wa);
    assert_eq!(r.status, 200);
    let method: String = server
        .row("SELECT method FROM conversations WHERE phone = '16505550077'")
        .get(0);
    assert_eq!(method, "probable-click");

    let plain = counters_file(
        &dir,
        "[[counter]]\nid = 12345\ninclude_unattributed = true\n",
    );
    let (o, out, err) = export(&server, &plain);
    assert!(o.status.success(), "{err}");
    assert!(!out.contains("16505550077"), "exported by default: {out}");
    assert!(
        !out.contains(CLIENT_ID),
        "the clicker's ClientID was exported: {out}"
    );
    assert!(
        err.contains("excluded by the send rule `probable`"),
        "{err}"
    );

    // Asking for probable chats is not enough while the site has no evidence of its own…
    let asked = counters_file(&dir, "[[counter]]\nid = 12345\nsend_probable = true\n");
    let (o, out, err) = export(&server, &asked);
    assert!(o.status.success(), "{err}");
    assert!(!out.contains("16505550077"), "{out}");
    assert!(
        err.contains("only 0 chat(s) with a code in 28 days (needs 30)"),
        "{err}"
    );
    assert!(err.contains("1 probable chat(s) held back"), "{err}");

    // …with 30 coded WhatsApp chats and no stray clicks around them, its estimate clears 0.5,
    // and the row goes out with the clicker's IDs.
    let coded: Vec<serde_json::Value> = (0..30u64)
        .map(|i| {
            json!({"platform": "whatsapp", "phone": format!("+7 999 100-00-{i:02}"),
                "started_at": (now - 86_400_000 - i * 3_600_000) / 1000,
                "text": format!("Order {}", new_chat_id())})
        })
        .collect();
    crm(&server, json!(coded));
    let (o, out, err) = export(&server, &asked);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("probable matches on whatsapp: estimated precision 1.00"),
        "{err}"
    );
    assert!(
        out.contains("16505550077") && out.contains(CLIENT_ID),
        "{out}\n{err}"
    );

    // Marked as probable for a person: the report's chat table and the read API.
    let page = server.get_authed("/reports/chats.csv?days=30");
    let csv = String::from_utf8_lossy(&page.body);
    assert!(
        csv.lines()
            .any(|l| l.contains(",Stranger,") && l.contains("PROBABLE: click timing only")),
        "{csv}"
    );
    let rec = server.get_authed(&format!("/v1/chats/{clicker}")).json();
    assert_eq!(rec["conversations"][0]["method"], "probable-click", "{rec}");
    assert_eq!(rec["conversations"][0]["probable"], true, "{rec}");
}

fn whatsapp_click(server: &Server, id: &str, ts: u64) {
    let ev = json!({"event_id": new_event_id(), "type": "click", "chat_id": id, "ts": ts,
        "page": "https://shop.example/p/1", "client_id": CLIENT_ID, "messenger": "whatsapp",
        "link_kind": "whatsapp", "target": "https://wa.me/15550783881?text=Hi"});
    assert_eq!(server.post_events(&json!([ev])).status, 200);
}

fn method_of(server: &Server, phone: &str) -> (String, Option<String>) {
    let r = server.row(&format!(
        "SELECT method, chat_id FROM conversations WHERE phone = '{phone}'"
    ));
    (r.get(0), r.get(1))
}

#[test]
fn a_visitor_whose_code_already_arrived_is_no_candidate_and_old_clicks_do_not_count() {
    let server = start();
    let now = now_ms();
    let (x, y) = (new_chat_id(), new_chat_id());
    // X clicked and wrote with the code: X is accounted for.
    whatsapp_click(&server, &x, now - 240_000);
    let wa = whatsapp_text(
        "16505550001",
        "X",
        &format!("Hi {x}"),
        (now - 230_000) / 1000,
        "wamid.X",
    );
    assert_eq!(server.whatsapp(&wa).status, 200);
    assert_eq!(method_of(&server, "16505550001").0, "exact-text");
    // Y clicked two minutes before a code-less chat: the only unclaimed candidate.
    whatsapp_click(&server, &y, now - 120_000);
    let wa = whatsapp_text("16505550002", "Z", "Hello", now / 1000, "wamid.Z");
    assert_eq!(server.whatsapp(&wa).status, 200);
    assert_eq!(
        method_of(&server, "16505550002"),
        ("probable-click".to_string(), Some(y.clone()))
    );
    // A click seven minutes before a chat is outside the 5-minute window.
    let w = new_chat_id();
    whatsapp_click(&server, &w, now + 60_000);
    let wa = whatsapp_text(
        "16505550003",
        "V",
        "Hello?",
        (now + 480_000) / 1000,
        "wamid.V",
    );
    assert_eq!(server.whatsapp(&wa).status, 200);
    assert_eq!(method_of(&server, "16505550003").0, "unmatched");
}
