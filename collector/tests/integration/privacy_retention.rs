//! Retention in the running server: rows aged past their retention are expired by the server's
//! own schedule, recent rows stay, and a chat in an upload Metrica has not settled stays with
//! its visit whatever its age.

use crate::common;
use crate::support::held_upload;

use std::time::Duration;

use common::webhooks::{whatsapp_text, WA_SECRET};
use common::{new_chat_id, Server, ORIGIN, TOKEN, TS};
use serde_json::json;

const DAY: i64 = 86_400_000;

#[test]
fn old_rows_expire_recent_ones_stay_and_unsettled_uploads_keep_their_chats() {
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = conf_dir.path().join("chattag.toml");
    std::fs::write(
        &conf,
        "[privacy.retention]\ninterval = \"300ms\"\nbatch = 2\n",
    )
    .unwrap();
    let server = Server::start_raw(
        &[
            "--allowed-origin",
            ORIGIN,
            "--rate-limit",
            "0",
            "--config",
            conf.to_str().unwrap(),
        ],
        &[
            ("CHATTAG_READ_TOKEN", TOKEN),
            ("CHATTAG_WHATSAPP_APP_SECRET", WA_SECRET),
            ("CHATTAG_WHATSAPP_VERIFY_TOKEN", "wa-verify-token-0123"),
        ],
    );
    let (held, old, recent) = (new_chat_id(), new_chat_id(), new_chat_id());
    for id in [&held, &old, &recent] {
        let r = server.post_events(&json!([common::issue(id), common::click(id)]));
        assert_eq!(r.status, 200);
    }
    server.caught_up();
    // A chat for `held` in an upload that failed: Metrica has not got it yet.
    let _standin = held_upload::hold_in_failed_upload(&server, &held, "79160001122", "wamid.R1");
    assert_eq!(
        server
            .db_count("SELECT count(*) FROM metrica_uploads WHERE state IN ('failed', 'pending')"),
        1
    );
    // A chat for `old`, not in any upload.
    let wa = whatsapp_text(
        "79160003344",
        "B",
        &format!("hi {old}"),
        TS / 1000 + 90,
        "wamid.R2",
    );
    assert_eq!(server.whatsapp(&wa).status, 200);

    assert_eq!(
        server.db_count(&format!(
            "SELECT count(*) FROM conversations WHERE chat_id = '{old}'"
        )),
        1,
        "the WhatsApp chat should be matched to its visit"
    );
    // Age everything but `recent` past every retention (events 90 d, chats 400 d).
    // In one transaction: an expiry round must not see half of it.
    let ago = 500 * DAY;
    let mut ageing = Vec::new();
    for id in [&held, &old] {
        ageing.extend([
            format!("UPDATE events SET received_at = received_at - {ago} WHERE chat_id = '{id}'"),
            format!("UPDATE clicks SET received_at = received_at - {ago} WHERE chat_id = '{id}'"),
            format!("UPDATE chats SET last_seen = last_seen - {ago} WHERE chat_id = '{id}'"),
            format!("UPDATE conversations SET created_at = created_at - {ago}, updated_at = updated_at - {ago} WHERE chat_id = '{id}'"),
        ]);
    }
    server.execute_in_one_transaction(&ageing);

    let expired = common::wait_until(Duration::from_secs(15), || {
        server.db_count(&format!(
            "SELECT count(*) FROM events WHERE chat_id IN ('{held}', '{old}')"
        )) == 0
            && server.db_count(&format!(
                "SELECT count(*) FROM conversations WHERE chat_id = '{old}'"
            )) == 0
            && server.db_count("SELECT count(*) FROM clicks") == 1
            && server.db_count("SELECT count(*) FROM chats") == 2
            && server.db_count("SELECT count(*) FROM conversations WHERE first_text IS NULL") == 1
    });
    assert!(expired, "expiry did not reach the expected state: old events, clicks, visit and conversation gone; the recent visit and the one held by the unsettled upload kept");
    let count = |sql: String| server.db_count(&sql);
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM events WHERE chat_id = '{recent}'"
        )),
        2
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM clicks WHERE chat_id = '{recent}'"
        )),
        1
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM clicks WHERE chat_id IN ('{held}', '{old}')"
        )),
        0
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM chats WHERE chat_id = '{old}'"
        )),
        0
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM chats WHERE chat_id = '{recent}'"
        )),
        1
    );
    // Not settled in Metrica: the conversation and its visit stay; its first text does not.
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM conversations WHERE chat_id = '{held}'"
        )),
        1
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM chats WHERE chat_id = '{held}'"
        )),
        1
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM conversations WHERE chat_id = '{held}' AND first_text IS NULL"
        )),
        1
    );

    let metrics =
        String::from_utf8_lossy(&server.request("GET", "/metrics", &[], b"").body).into_owned();
    let events_line = metrics
        .lines()
        .find(|l| l.starts_with("chattag_privacy_expired_rows_total{kind=\"events\"}"))
        .unwrap_or_default()
        .to_owned();
    let n: f64 = events_line
        .rsplit(' ')
        .next()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0.0);
    assert!(n >= 4.0, "{events_line}");
}
