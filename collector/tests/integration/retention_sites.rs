//! Retention of two sites with different policies whose rows are interleaved in arrival order:
//! expiry deletes a window of rows at a time, and inside each window every row must still get
//! its own site's retention, and a visit whose chat waits in an unsettled Metrica upload must
//! stay whatever its site's retention says.

use crate::common;
use crate::support::held_upload;

use std::time::Duration;

use common::webhooks::WA_SECRET;
use common::{new_chat_id, Server, TOKEN};
use serde_json::json;

const DAY: i64 = 86_400_000;
const LONG: &str = "https://shop.example";
const SHORT: &str = "https://short.example";

fn post(server: &Server, origin: &str, chat_id: &str) {
    let body = json!([common::issue(chat_id), common::click(chat_id)]);
    let r = server.request(
        "POST",
        "/v1/events",
        &[
            ("Origin", origin),
            ("Content-Type", "text/plain;charset=UTF-8"),
        ],
        &serde_json::to_vec(&body).expect("json"),
    );
    assert_eq!(r.status, 200, "{origin}");
}

#[test]
fn each_row_of_a_window_gets_its_own_sites_retention_and_held_visits_stay() {
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = conf_dir.path().join("chattag.toml");
    // The default keeps events 90 days and visits 400; short.example 30 and 60. Windows of 3
    // rows to begin with, so that windows cut across both sites and across the held visit.
    std::fs::write(
        &conf,
        "[privacy.retention]\ninterval = \"300ms\"\nbatch = 3\n\n\
         [privacy.sites.\"short.example\"]\nevents_days = 30\nchats_days = 60\n",
    )
    .unwrap();
    let server = Server::start_raw(
        &[
            "--allowed-origin",
            LONG,
            "--allowed-origin",
            SHORT,
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
    let long: Vec<String> = (0..5).map(|_| new_chat_id()).collect();
    let short: Vec<String> = (0..5).map(|_| new_chat_id()).collect();
    let held = new_chat_id();
    // Interleaved: every window of rows holds both sites; the held visit sits in the middle.
    for i in 0..5 {
        post(&server, LONG, &long[i]);
        post(&server, SHORT, &short[i]);
        if i == 2 {
            post(&server, SHORT, &held);
        }
    }
    server.caught_up();
    // A chat for `held` in an upload that failed: Metrica has not got it yet.
    let _standin = held_upload::hold_in_failed_upload(&server, &held, "79160001122", "wamid.S1");

    // Events 45 days old: past short.example's 30, within the default's 90. Visits 100 days
    // old: past short.example's 60, within the default's 400. In one transaction: an expiry
    // round must not see half of it.
    server.execute_in_one_transaction(&[
        format!("UPDATE events SET received_at = received_at - {}", 45 * DAY),
        format!("UPDATE clicks SET received_at = received_at - {}", 45 * DAY),
        format!(
            "UPDATE chats SET first_seen = first_seen - {d}, last_seen = last_seen - {d}",
            d = 100 * DAY
        ),
    ]);

    let site_count = |table: &str, site: &str| {
        server.db_count(&format!(
            "SELECT count(*) FROM {table} WHERE site = '{site}'"
        ))
    };
    let done = common::wait_until(Duration::from_secs(20), || {
        site_count("events", "short.example") == 0
            && site_count("clicks", "short.example") == 0
            && site_count("chats", "short.example") == 1
    });
    // Each site's rows as they are, for the message.
    let state = format!(
        "events long/short {}/{}, clicks {}/{}, visits {}/{}",
        site_count("events", "shop.example"),
        site_count("events", "short.example"),
        site_count("clicks", "shop.example"),
        site_count("clicks", "short.example"),
        site_count("chats", "shop.example"),
        site_count("chats", "short.example"),
    );
    assert!(
        done,
        "short.example's events, clicks and visits (but the held one) should expire: {state}"
    );
    // The default's rows are all kept, though they share every window with expired ones.
    assert_eq!(site_count("events", "shop.example"), 10, "{state}");
    assert_eq!(site_count("clicks", "shop.example"), 5, "{state}");
    assert_eq!(site_count("chats", "shop.example"), 5, "{state}");
    for id in &long {
        assert_eq!(
            server.db_count(&format!(
                "SELECT count(*) FROM chats WHERE chat_id = '{id}'"
            )),
            1
        );
    }
    // Held by the unsettled upload, past its site's 60 days.
    assert_eq!(
        server.db_count(&format!(
            "SELECT count(*) FROM chats WHERE chat_id = '{held}'"
        )),
        1,
        "{state}"
    );
    // Another round changes nothing more.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(site_count("events", "shop.example"), 10);
    assert_eq!(site_count("chats", "short.example"), 1);
}
