//! The snippet resends until it gets a 2xx: the same event_id is stored once and the resend
//! is answered with success.

use crate::common;

use common::*;
use serde_json::json;

#[test]
fn a_resent_event_is_stored_once_and_answered_with_success() {
    let server = Server::start(&[]);
    let id = new_chat_id();
    let ev = issue(&id);

    let first = server.post_events(&json!([ev]));
    assert_eq!(first.status, 200);
    assert_eq!(first.json(), json!({"accepted": 1, "duplicates": 0}));

    let again = server.post_events(&json!([ev]));
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), json!({"accepted": 0, "duplicates": 1}));

    // A batch mixing a resend and a new event, and the same event twice in one batch.
    let c = click(&id);
    let mixed = server.post_events(&json!([ev, c, c]));
    assert_eq!(mixed.status, 200);
    assert_eq!(mixed.json(), json!({"accepted": 1, "duplicates": 2}));

    assert_eq!(server.db_count("SELECT count(*) FROM events"), 2);
    assert_eq!(server.db_count("SELECT count(*) FROM clicks"), 1);
    let rec = server.get_authed(&format!("/v1/chats/{id}")).json();
    assert_eq!(rec["events"], 2, "{rec}");
    assert_eq!(rec["clicks"].as_array().map(Vec::len), Some(1), "{rec}");
}

#[test]
fn a_resend_with_changed_content_keeps_the_first_version() {
    let server = Server::start(&[]);
    let id = new_chat_id();
    let ev = issue(&id);
    assert_eq!(server.post_events(&ev).status, 200);
    let mut altered = ev.clone();
    altered["yclid"] = json!("999");
    let res = server.post_events(&altered);
    assert_eq!(res.json(), json!({"accepted": 0, "duplicates": 1}));
    let rec = server.get_authed(&format!("/v1/chats/{id}")).json();
    assert_eq!(rec["identifiers"]["yclid"], ev["yclid"], "{rec}");
}
