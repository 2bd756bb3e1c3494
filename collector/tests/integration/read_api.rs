//! The owner's read API: bearer token required; one chat ID with everything known about it
//! (identifiers over time, pages, clicks, older IDs, collisions); recent mappings.

use crate::common;

use common::*;
use serde_json::json;

#[test]
fn token_is_required() {
    let server = Server::start(&[]);
    let id = new_chat_id();
    assert_eq!(server.post_events(&issue(&id)).status, 200);
    let path = format!("/v1/chats/{id}");
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789"),
        Some(&*format!("Basic {TOKEN}")),
        Some("Bearer "),
    ] {
        let headers: Vec<(&str, &str)> =
            auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
        for p in [path.as_str(), "/v1/mappings"] {
            let res = server.request("GET", p, &headers, b"");
            assert_eq!(res.status, 401, "{p} with {auth:?}");
            assert_eq!(res.error().0, "unauthorized");
            assert!(
                !String::from_utf8_lossy(&res.body).contains(&id),
                "leaked data without a token"
            );
        }
    }
    assert_eq!(server.get_authed(&path).status, 200);
}

#[test]
fn without_a_configured_token_the_read_api_is_disabled() {
    let server = Server::start_raw(&["--allowed-origin", ORIGIN], &[]);
    let res = server.request(
        "GET",
        "/v1/mappings",
        &[("Authorization", "Bearer anything-at-all-123")],
        b"",
    );
    assert_eq!(res.status, 503);
    assert_eq!(res.error().0, "read_api_disabled");
}

#[test]
fn token_from_file_works_and_a_short_token_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let server = Server::start_raw(
        &[
            "--allowed-origin",
            ORIGIN,
            "--read-token-file",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(server.get_authed("/v1/mappings").status, 200);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chattag-collector"))
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("x.db"))
        .env("CHATTAG_READ_TOKEN", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("shorter than 16"));
}

#[test]
fn a_chat_record_has_everything_known_and_old_ids_stay_resolvable() {
    let server = Server::start(&[]);
    let old = new_chat_id();
    let new = new_chat_id();

    // Visit 1: issue without ClientID (Metrica not loaded yet), then it appears, then a click.
    let mut first = issue(&old);
    first.as_object_mut().unwrap().remove("client_id");
    let mut update = json!({"event_id": new_event_id(), "type": "update", "chat_id": old, "ts": TS + 2_000,
        "page": "https://shop.example/p/1", "client_id": "1700000000123456789"});
    assert_eq!(server.post_events(&json!([first, update])).status, 200);
    assert_eq!(server.post_events(&click(&old)).status, 200);
    // A later Metrica reset: a different ClientID via update is a change, not a collision.
    update["event_id"] = json!(new_event_id());
    update["ts"] = json!(TS + 10_000);
    update["client_id"] = json!("1700000000999999999");
    update["page"] = json!("https://shop.example/cart");
    assert_eq!(server.post_events(&update).status, 200);

    // Visit 2: a new ad click renews the ID.
    let mut renewed = issue(&new);
    renewed["ts"] = json!(TS + 86_400_000);
    renewed["yclid"] = json!("7777777777");
    renewed["client_id"] = json!("1700000000999999999");
    renewed["prev_chat_id"] = json!(old);
    assert_eq!(server.post_events(&renewed).status, 200);

    let rec = server.get_authed(&format!("/v1/chats/{old}")).json();
    assert_eq!(rec["site"], "shop.example");
    assert_eq!(rec["chat_id"], old);
    assert_eq!(rec["events"], 4);
    assert_eq!(
        rec["identifiers"]["client_id"], "1700000000999999999",
        "latest value wins: {rec}"
    );
    assert_eq!(rec["identifiers"]["yclid"], "5123456789012345678");
    assert_eq!(rec["identifiers"]["utm"]["source"], "yandex");
    let history: Vec<(String, String)> = rec["identifier_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["field"] == "client_id")
        .map(|h| {
            (
                h["value"].as_str().unwrap().to_owned(),
                h["first_ts"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        history,
        vec![
            ("1700000000123456789".to_owned(), (TS + 2_000).to_string()),
            ("1700000000999999999".to_owned(), (TS + 10_000).to_string())
        ],
        "{rec}"
    );
    assert_eq!(
        rec["landing_page"],
        "https://shop.example/p/1?utm_source=yandex"
    );
    assert_eq!(rec["referrer"], "https://yandex.ru/");
    let pages: Vec<&str> = rec["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        pages,
        [
            "https://shop.example/p/1?utm_source=yandex",
            "https://shop.example/p/1",
            "https://shop.example/cart"
        ]
    );
    let clicks = rec["clicks"].as_array().unwrap();
    assert_eq!(clicks.len(), 1);
    assert_eq!(clicks[0]["messenger"], "telegram");
    assert_eq!(clicks[0]["link_kind"], "telegram_bot");
    assert_eq!(
        clicks[0]["target"],
        format!("https://t.me/shop_bot?start={old}")
    );
    assert_eq!(rec["collision"], false);
    assert_eq!(rec["next_chat_ids"], json!([new]));

    let rec_new = server.get_authed(&format!("/v1/chats/{new}")).json();
    assert_eq!(rec_new["prev_chat_id"], old);
    assert_eq!(rec_new["previous_chat_ids"], json!([old]));
    assert_eq!(rec_new["identifiers"]["yclid"], "7777777777");

    // Mappings: newest first.
    let list = server.get_authed("/v1/mappings?limit=10").json();
    let ids: Vec<&str> = list["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["chat_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [new.as_str(), old.as_str()]);
    let one = server.get_authed("/v1/mappings?limit=1").json();
    assert_eq!(one["mappings"].as_array().unwrap().len(), 1);
    assert!(one["next_before"].is_i64());
    for bad in [
        "/v1/mappings?limit=0",
        "/v1/mappings?limit=abc",
        "/v1/mappings?limit=5000",
    ] {
        let res = server.get_authed(bad);
        assert_eq!(res.status, 400, "{bad}");
        assert_eq!(res.error().0, "invalid_limit");
    }
}

#[test]
fn an_issue_for_a_known_id_with_another_client_id_is_flagged_as_a_collision() {
    let server = Server::start(&[]);
    let id = new_chat_id();
    assert_eq!(server.post_events(&issue(&id)).status, 200);
    let mut other = issue(&id);
    other["client_id"] = json!("1699999999000000001");
    assert_eq!(server.post_events(&other).status, 200);
    let rec = server.get_authed(&format!("/v1/chats/{id}")).json();
    assert_eq!(rec["collision"], true, "{rec}");
    assert_eq!(
        rec["conflicts"][0]["known_client_id"],
        "1700000000123456789"
    );
    assert_eq!(rec["conflicts"][0]["new_client_id"], "1699999999000000001");
    let list = server.get_authed("/v1/mappings").json();
    assert_eq!(list["mappings"][0]["collision"], true);
}

#[test]
fn unknown_and_malformed_ids() {
    let server = Server::start(&[]);
    let res = server.get_authed(&format!("/v1/chats/{}", new_chat_id()));
    assert_eq!(res.status, 404);
    assert_eq!(res.error().0, "not_found");
    let res = server.get_authed("/v1/chats/NOT-AN-ID");
    assert_eq!(res.status, 400);
    assert_eq!(res.error().0, "invalid_chat_id");
}

/// One batch stores all its chats with the same `last_seen` millisecond; paging through them one
/// at a time must return each exactly once (paging by `before=<ms>` alone skipped the rest of
/// the tie).
#[test]
fn mappings_cursor_pages_through_chats_of_the_same_millisecond() {
    let server = Server::start(&[]);
    let older = new_chat_id();
    assert_eq!(server.post_events(&issue(&older)).status, 200);
    // The server clock must move on so the older chat has a smaller last_seen.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let tied: Vec<String> = (0..5).map(|_| new_chat_id()).collect();
    let batch: Vec<serde_json::Value> = tied.iter().map(|id| issue(id)).collect();
    assert_eq!(server.post_events(&json!(batch)).status, 200);

    let mut seen: Vec<String> = Vec::new();
    let mut path = "/v1/mappings?limit=2".to_owned();
    for _ in 0..10 {
        let page = server.get_authed(&path).json();
        for m in page["mappings"].as_array().unwrap() {
            seen.push(m["chat_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert!(page["next_before"].is_i64(), "{page}");
                path = format!("/v1/mappings?limit=2&cursor={cursor}");
            }
            None => break,
        }
    }
    let mut expected = tied.clone();
    expected.sort();
    let mut first_five = seen[..seen.len().min(5)].to_vec();
    first_five.sort();
    assert_eq!(
        first_five, expected,
        "the tied batch first, each once: {seen:?}"
    );
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(seen[5], older);

    // The documented `before=<ms>` keeps its meaning: chats last seen strictly before it.
    let tie_ms = server.get_authed("/v1/mappings?limit=1").json()["mappings"][0]["last_seen"]
        .as_i64()
        .unwrap();
    let before = server
        .get_authed(&format!("/v1/mappings?before={tie_ms}"))
        .json();
    assert_eq!(before["mappings"].as_array().unwrap().len(), 1, "{before}");
    assert_eq!(before["mappings"][0]["chat_id"], older);

    for (bad, code) in [
        ("/v1/mappings?cursor=nonsense", "invalid_cursor"),
        ("/v1/mappings?cursor=1.2&before=3", "invalid_cursor"),
        ("/v1/mappings?before=yesterday", "invalid_before"),
    ] {
        let res = server.get_authed(bad);
        assert_eq!(res.status, 400, "{bad}");
        assert_eq!(res.error().0, code, "{bad}");
    }
}
