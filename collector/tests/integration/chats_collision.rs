//! A chat ID issued to two visitors (the ingest flags the second `issue` with another ClientID):
//! a chat carrying that ID is never sent to Metrica with either visitor's IDs. Without
//! `--include-unattributed` it is left out with the reason `id-collision`; with it, the row has no
//! visitor IDs. The report counts it as unattributed with the same reason. A clean chat of the
//! same file keeps its IDs.

use crate::common;

use common::webhooks::{telegram_hello, Messenger};
use common::{new_chat_id, new_event_id, Server};
use serde_json::json;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn issue(id: &str, client_id: &str, yclid: &str, ts: u64) -> serde_json::Value {
    json!({"event_id": new_event_id(), "type": "issue", "chat_id": id, "ts": ts,
           "page": format!("https://shop.example/?yclid={yclid}"), "client_id": client_id, "yclid": yclid})
}

fn telegram_start(server: &Server, user: i64, id: &str, date_s: u64) {
    let update = serde_json::to_vec(&json!({"update_id": user, "message": {"message_id": 1,
        "from": {"id": user, "is_bot": false, "first_name": "A"},
        "chat": {"id": user, "type": "private"}, "date": date_s, "text": format!("/start {id}")}}))
    .unwrap();
    let r = server.telegram(&update);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // Opening the bot is not a chat; the person's first message is.
    let r = server.telegram(&telegram_hello(user, 2, date_s));
    assert_eq!(
        r.json()["opened"],
        1,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
}

fn export(server: &Server, extra: &[&str]) -> (String, String) {
    let mut args = vec!["export", "metrica", "--counter", "12345"];
    args.extend_from_slice(extra);
    let o = server.cli(&args, &[]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    (String::from_utf8_lossy(&o.stdout).into_owned(), err)
}

#[test]
fn a_chat_on_a_colliding_id_goes_out_without_visitor_ids() {
    let server = Server::start_with_webhooks(&[Messenger::Telegram], &[]);
    let t = now_ms() - 600_000;
    let (shared, clean) = (new_chat_id(), new_chat_id());
    // Two visitors got the same ID; the second issue is flagged as a collision.
    let batch = json!([
        issue(&shared, "1700000000111111111", "5100000000000000001", t),
        issue(&clean, "1700000000333333333", "5300000000000000003", t),
    ]);
    assert_eq!(server.post_events(&batch).status, 200);
    let second = json!([issue(
        &shared,
        "1700000000222222222",
        "5200000000000000002",
        t + 1_000
    )]);
    assert_eq!(server.post_events(&second).status, 200);
    assert_eq!(
        server.db_count(&format!(
            "SELECT count(*) FROM chats WHERE chat_id = '{shared}' AND collision = 1"
        )),
        1
    );

    telegram_start(&server, 501, &shared, t / 1000 + 60);
    telegram_start(&server, 502, &clean, t / 1000 + 61);

    // Default: only the clean chat, the other explained.
    let (csv, err) = export(&server, &[]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].contains(",502,1700000000333333333,5300000000000000003,"),
        "{csv}"
    );
    assert!(err.contains("id-collision"), "{err}");
    for leaked in [
        "1700000000111111111",
        "1700000000222222222",
        "5100000000000000001",
        "5200000000000000002",
    ] {
        assert!(
            !csv.contains(leaked),
            "{leaked} must not be exported: {csv}"
        );
    }

    // With unattributed rows: the chat is there, without any visitor ID.
    let (csv, _) = export(&server, &["--include-unattributed"]);
    let lines: Vec<&str> = csv.lines().collect();
    // PageURL is there for the clean chat only: the colliding ID's landing page is not used.
    assert_eq!(
        lines[0],
        "DateTime,ChatPlatform,ChatUserID,ClientID,Yclid,PageURL"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    let row = lines
        .iter()
        .find(|l| l.contains(",telegram,501,"))
        .unwrap_or_else(|| panic!("no row for the colliding chat: {csv}"));
    assert!(row.ends_with(",telegram,501,,,"), "{row}");

    // The report agrees: unattributed, reason id-collision.
    let r = server.get_authed("/reports/attribution.csv");
    assert_eq!(r.status, 200);
    let table = String::from_utf8_lossy(&r.body).into_owned();
    assert!(
        table.lines().any(|l| l.starts_with("unattributed,")
            && l.contains("id-collision")
            && l.ends_with(",1,50%")),
        "{table}"
    );
}
