//! Every way a request to POST /v1/events can be refused: the status, the error code, which
//! event and which field — and that nothing of a refused request is stored.

use crate::common;

use common::*;
use serde_json::{json, Value};

fn with(mut event: Value, key: &str, value: Value) -> Value {
    event[key] = value;
    event
}

fn without(mut event: Value, key: &str) -> Value {
    event.as_object_mut().map(|o| o.remove(key));
    event
}

/// A valid chat ID with its check character changed: a one-character typo.
fn mistyped_chat_id() -> String {
    let id = new_chat_id();
    let (head, last) = id.split_at(id.len() - 1);
    let replacement = if last == "0" { "1" } else { "0" };
    format!("{head}{replacement}")
}

/// (case, body, status, code, index, field)
type Case = (
    &'static str,
    Vec<u8>,
    u16,
    &'static str,
    Option<u64>,
    Option<&'static str>,
);

#[test]
fn every_invalid_request_is_refused_with_a_named_problem_and_nothing_stored() {
    let server = Server::start(&[]);
    let id = new_chat_id();
    let good = issue(&id);

    let cases: Vec<Case> = vec![
        (
            "not JSON",
            b"{\"event_id\":".to_vec(),
            400,
            "malformed_json",
            None,
            None,
        ),
        (
            "a JSON string",
            b"\"hello\"".to_vec(),
            400,
            "malformed_json",
            None,
            None,
        ),
        ("empty body", b"".to_vec(), 400, "empty_body", None, None),
        (
            "not UTF-8",
            vec![b'[', 0xff, 0xfe, b']'],
            400,
            "malformed_body",
            None,
            None,
        ),
        (
            "empty batch",
            b"[]".to_vec(),
            400,
            "empty_batch",
            None,
            None,
        ),
        (
            "array of non-objects",
            b"[1,2]".to_vec(),
            422,
            "invalid_event",
            Some(0),
            None,
        ),
        (
            "101 events",
            serde_json::to_vec(&Value::Array((0..101).map(|_| issue(&id)).collect())).unwrap(),
            413,
            "too_many_events",
            None,
            None,
        ),
        (
            "body over 64 KB",
            {
                let mut ev = issue(&id);
                ev["padding"] = Value::String("x".repeat(70 * 1024));
                serde_json::to_vec(&ev).unwrap()
            },
            413,
            "body_too_large",
            None,
            None,
        ),
        (
            "unknown type",
            serde_json::to_vec(&with(good.clone(), "type", json!("purchase"))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("type"),
        ),
        (
            "missing chat_id",
            serde_json::to_vec(&without(good.clone(), "chat_id")).unwrap(),
            422,
            "invalid_event",
            Some(0),
            None,
        ),
        (
            "ts as string",
            serde_json::to_vec(&with(good.clone(), "ts", json!("yesterday"))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("ts"),
        ),
        (
            "ts in 1999",
            serde_json::to_vec(&with(good.clone(), "ts", json!(915_148_800_000u64))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("ts"),
        ),
        (
            "short event_id",
            serde_json::to_vec(&with(good.clone(), "event_id", json!("ABC"))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("event_id"),
        ),
        (
            "mistyped chat ID",
            serde_json::to_vec(&with(good.clone(), "chat_id", json!(mistyped_chat_id()))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("chat_id"),
        ),
        (
            "lowercase chat ID",
            serde_json::to_vec(&with(good.clone(), "chat_id", json!(id.to_lowercase()))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("chat_id"),
        ),
        (
            "javascript: page",
            serde_json::to_vec(&with(good.clone(), "page", json!("javascript:alert(1)"))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("page"),
        ),
        (
            "referrer with fragment",
            serde_json::to_vec(&with(
                good.clone(),
                "referrer",
                json!("https://a.example/#x"),
            ))
            .unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("referrer"),
        ),
        (
            "markup in yclid",
            serde_json::to_vec(&with(good.clone(), "yclid", json!("\"><script>"))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("yclid"),
        ),
        (
            "letters in client_id",
            serde_json::to_vec(&with(good.clone(), "client_id", json!("17000abc"))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("client_id"),
        ),
        (
            "control char in user_id",
            serde_json::to_vec(&with(good.clone(), "user_id", json!("bob\u{0007}"))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("user_id"),
        ),
        (
            "utm with markup",
            serde_json::to_vec(&with(good.clone(), "utm", json!({"source": "<b>x</b>"}))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("utm"),
        ),
        (
            "prev_chat_id invalid",
            serde_json::to_vec(&with(good.clone(), "prev_chat_id", json!("CT123"))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("prev_chat_id"),
        ),
        (
            "click without messenger",
            serde_json::to_vec(&without(click(&id), "messenger")).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("messenger"),
        ),
        (
            "click with unknown link_kind",
            serde_json::to_vec(&with(click(&id), "link_kind", json!("telegram_channel"))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("link_kind"),
        ),
        (
            "click with javascript: target",
            serde_json::to_vec(&with(click(&id), "target", json!("javascript:void(0)"))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("target"),
        ),
        (
            "issue carrying click fields",
            serde_json::to_vec(&with(good.clone(), "messenger", json!("telegram"))).unwrap(),
            422,
            "invalid_event",
            Some(0),
            Some("messenger"),
        ),
        (
            "third event of a batch bad",
            serde_json::to_vec(&json!([
                issue(&id),
                click(&id),
                with(click(&id), "ts", json!(-1))
            ]))
            .unwrap(),
            422,
            "invalid_event",
            Some(2),
            Some("ts"),
        ),
    ];

    for (name, body, status, code, index, field) in cases {
        let res = server.post_raw(&body);
        assert_eq!(
            res.status,
            status,
            "{name}: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(
            res.header("content-type"),
            Some("application/json"),
            "{name}"
        );
        let (got_code, got_index, got_field) = res.error();
        assert_eq!(got_code, code, "{name}");
        assert_eq!(got_index, index, "{name}");
        if let Some(field) = field {
            assert_eq!(
                got_field.as_deref(),
                Some(field),
                "{name}: {}",
                String::from_utf8_lossy(&res.body)
            );
        }
        // The browser must be able to read the refusal: CORS headers on errors too.
        assert_eq!(
            res.header("access-control-allow-origin"),
            Some(ORIGIN),
            "{name}"
        );
    }

    let stored = server.db_count(
        "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM chats) + (SELECT count(*) FROM clicks)",
    );
    assert_eq!(stored, 0, "a refused request stored something");

    // The same server accepts the valid event afterwards: the refusals were about the input.
    let res = server.post_events(&good);
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json(), json!({"accepted": 1, "duplicates": 0}));
}

#[test]
fn content_type_and_declared_length_are_checked_before_the_body_is_read() {
    let server = Server::start(&[]);
    let body = serde_json::to_vec(&issue(&new_chat_id())).unwrap();
    for ct in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ] {
        let mut headers = vec![("Origin", ORIGIN)];
        if !ct.is_empty() {
            headers.push(("Content-Type", ct));
        }
        let res = server.request("POST", "/v1/events", &headers, &body);
        assert_eq!(res.status, 415, "content type {ct:?}");
        assert_eq!(res.error().0, "unsupported_media_type");
    }
    let res = server.request(
        "POST",
        "/v1/events",
        &[
            ("Origin", ORIGIN),
            ("Content-Type", "application/json; charset=utf-8"),
        ],
        &body,
    );
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(server.db_count("SELECT count(*) FROM events"), 1);
}
